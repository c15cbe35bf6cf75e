"""A project whose version only its build backend can compute."""

from importlib.metadata import version

__version__ = version("code-demo")
