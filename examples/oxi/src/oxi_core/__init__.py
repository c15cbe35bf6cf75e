"""oxi core."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("oxi-core")
except PackageNotFoundError:
    __version__ = "0.0.0+unknown"
