"""The version names under their documented old home (``releasekit.versioning``).

The code lives in :mod:`releasekit.versions` (the PEP 440 bump rules),
:mod:`releasekit.version_source` (where the version lives, reading and
writing it), :mod:`releasekit.pins` (sibling pins) and
:mod:`releasekit.literals` (hardcoded ``__version__`` literals); import from
there.
"""

from __future__ import annotations

from releasekit.literals import (
    LITERAL_FIX_HINT,
    VersionLiteral,
    find_version_literals,
    literal_fix_hint,
)
from releasekit.pins import plan_pin_edits
from releasekit.version_source import (
    VersionFile,
    VersionSource,
    find_version_source,
    package_version_files,
    plan_version_edit,
    plan_version_files_edits,
    read_version,
    read_version_files,
    tagged_versions,
)
from releasekit.versions import PHASES, BumpRequest, parse_version, plan_bump
from releasekit.workspace import name_spellings, tag_pattern

__all__ = [
    "LITERAL_FIX_HINT",
    "PHASES",
    "BumpRequest",
    "VersionFile",
    "VersionLiteral",
    "VersionSource",
    "find_version_literals",
    "find_version_source",
    "literal_fix_hint",
    "name_spellings",
    "package_version_files",
    "parse_version",
    "plan_bump",
    "plan_pin_edits",
    "plan_version_edit",
    "plan_version_files_edits",
    "read_version",
    "read_version_files",
    "tag_pattern",
    "tagged_versions",
]
