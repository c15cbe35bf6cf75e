"""The reference oxi adapter."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("oxi-adapter-reference")
except PackageNotFoundError:
    __version__ = "0.0.0+unknown"


def describe() -> str:
    import oxi_core

    return f"reference adapter {__version__} on oxi-core {oxi_core.__version__}"
