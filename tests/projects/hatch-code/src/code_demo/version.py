"""The version, computed (hatchling runs this file)."""

RELEASE = "0.7.0"
__version__ = RELEASE.strip()
