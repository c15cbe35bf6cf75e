"""Versioned by git tags; setuptools-scm writes _version.py."""

from scm_demo._version import __version__

__all__ = ["__version__"]
