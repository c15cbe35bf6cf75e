"""What a dist file's name says: the one reading of wheel and sdist file names.

A wheel's name carries its distribution, version, build tag and compatibility
tags (``oxi_core-0.1.0a2-py3-none-any.whl``); an sdist's its distribution and
version (``oxi_core-0.1.0a2.tar.gz``).  Both are read with
:mod:`packaging.utils`, so every spelling of one name compares equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from packaging.tags import Tag
from packaging.utils import (
    BuildTag,
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

__all__ = ["DistFilename", "dist_filename_or_none", "parse_dist_filename"]


@dataclass(frozen=True)
class DistFilename:
    """A parsed dist file name; a wheel never equals the sdist of the same version."""

    name: NormalizedName
    version: Version
    kind: Literal["sdist", "wheel"]
    build: BuildTag = ()
    tags: frozenset[Tag] = frozenset()


def parse_dist_filename(filename: str) -> DistFilename:
    """The wheel (``.whl``) or sdist (any other suffix) that ``filename`` names.

    Raises packaging's ``InvalidWheelFilename`` or ``InvalidSdistFilename``
    (both ``ValueError``) with its reason when the name is not a valid one.
    """
    if filename.endswith(".whl"):
        name, version, build, tags = parse_wheel_filename(filename)
        return DistFilename(name, version, "wheel", build, tags)
    name, version = parse_sdist_filename(filename)
    return DistFilename(name, version, "sdist")


def dist_filename_or_none(filename: str) -> DistFilename | None:
    """:func:`parse_dist_filename`, or None for any other file (or an invalid name)."""
    try:
        return parse_dist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
