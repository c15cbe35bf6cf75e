"""A pdm-backend project."""

__version__ = "0.9.0"
