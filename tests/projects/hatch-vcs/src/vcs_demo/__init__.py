"""Versioned by git tags."""

from importlib.metadata import version

__version__ = version("vcs-demo")
