"""A poetry-core project."""

from importlib.metadata import version

__version__ = version("poetry-demo")
