"""Configured in setup.cfg."""

__version__ = "1.0.0"
