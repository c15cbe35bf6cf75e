"""A flit project whose version lives in its module."""

__version__ = "0.3.0"
