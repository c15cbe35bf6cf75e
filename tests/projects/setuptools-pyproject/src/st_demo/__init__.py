"""setuptools reads __version__ from here."""

from st_demo._version import __version__

__all__ = ["__version__"]
