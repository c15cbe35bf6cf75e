"""Where a package keeps its version, and reading and writing it there.

:func:`find_version_source` says where the version lives (every kind of
source the build backends know is described in :mod:`releasekit.sources`:
a static pyproject value, a file hatch, setuptools, flit or pdm read it
from, poetry's table, or git tags for setuptools-scm, hatch-vcs and the
like).  :func:`read_version` reads it, :func:`plan_version_edit` plans the
edit that moves it, and the ``version-files`` entries follow
(:func:`read_version_files`, :func:`plan_version_files_edits`).  Nothing
here writes a file: planners return :class:`~releasekit.edits.FileEdit`
values for :func:`~releasekit.edits.apply_edits`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import packaging.version
import tomlkit
import tomlkit.items
from packaging.version import Version

from releasekit import git, sources
from releasekit._text import shown_path
from releasekit.config import parse_toml
from releasekit.edits import FileEdit, planned_text
from releasekit.errors import ConfigError, TagError, VersionError
from releasekit.sources import VersionFile, VersionSource
from releasekit.versions import parse_version
from releasekit.workspace import Package, name_spellings, tag_pattern

__all__ = [
    "VersionFile",
    "VersionSource",
    "find_version_source",
    "package_version_files",
    "plan_version_edit",
    "plan_version_files_edits",
    "read_version",
    "read_version_files",
    "same_kind_string",
    "tagged_versions",
    "version_to_release",
]


def find_version_source(package: Package) -> VersionSource:
    """Where ``package`` keeps its version (read from its pyproject and setup.cfg on disk).

    See :mod:`releasekit.sources` for every source understood.
    """
    return sources.find_version_source(
        package.root, name=package.name, shown_from=package.workspace_root
    )


def _shown(package: Package, path: Path) -> str:
    return shown_path(path, package.workspace_root)


def _tag_pattern(package: Package) -> re.Pattern[str]:
    return tag_pattern(package.tag_format, name_spellings(package.name))


def _all_tags(package: Package) -> list[str]:
    return git.tags(
        package.root,
        hint="a version taken from git tags needs the git repository; run releasekit inside it",
    )


def tagged_versions(package: Package) -> list[Version]:
    """Versions of ``package`` among the git tags of its repository, per its tag-format."""
    pattern = _tag_pattern(package)
    versions = []
    for tag in _all_tags(package):
        match = pattern.fullmatch(tag)
        if match:
            with contextlib.suppress(packaging.version.InvalidVersion):
                versions.append(Version(match["version"]))
    return sorted(versions)


def _toml_version_item(
    package: Package, path: Path, text: str, keys: Sequence[str]
) -> tuple[Any, Any, Any]:
    """The parsed document, the table holding the version and the version item."""
    doc = parse_toml(text, _shown(package, path))
    table: Any = doc
    for key in keys[:-1]:
        table = table.get(key) if hasattr(table, "get") else None
        if table is None:
            break
    where = "[" + ".".join(keys[:-1]) + "] " + keys[-1]
    if table is None or keys[-1] not in table:
        raise ConfigError(
            f"{package.name}: {_shown(package, path)} has no {where}",
            f'add {keys[-1]} = "0.1.0" to [{".".join(keys[:-1])}]',
        )
    return doc, table, table[keys[-1]]


def _parse_at(value: object, where: str) -> Version:
    return parse_version(value, where=where)


def _source_file(source: VersionSource) -> Path:
    if source.path is None:  # pragma: no cover - only tag and backend sources have no path
        raise ConfigError(f"{source.detail}: no file holds the version", "bump with a git tag")
    return source.path


def _pattern_match(
    package: Package, path: Path, pattern: str, text: str, what: str
) -> re.Match[str]:
    try:
        match = re.search(pattern, text, flags=re.MULTILINE)
    except re.error as exc:
        raise ConfigError(
            f"{package.name}: the version pattern for {_shown(package, path)!r} is not a valid "
            f"regular expression: {exc}",
            "fix the pattern (it needs a group named 'version', e.g. "
            '\'__version__ = "(?P<version>[^"]+)"\')',
        ) from None
    if match is None or "version" not in match.groupdict() or match["version"] is None:
        raise ConfigError(
            f"{package.name}: no version in {_shown(package, path)!r} (looked for {what})",
            'write the version there (e.g. __version__ = "0.1.0"), or fix the pattern',
        )
    return match


def _hatch_match(source: VersionSource, text: str, package: Package) -> re.Match[str]:
    path = _source_file(source)
    what = source.detail if source.pattern != sources.HATCH_PATTERN else '__version__ = "..."'
    return _pattern_match(package, path, source.pattern, text, what)


def _read_source_text(package: Package, path: Path, pending: Sequence[FileEdit]) -> str:
    text = planned_text(path, pending)
    if text is None:
        raise ConfigError(
            f"{package.name}: the version file {_shown(package, path)!r} does not exist",
            "create it, or fix the configuration that names it",
        )
    return text


def _no_tags_error(package: Package) -> TagError:
    tags = _all_tags(package)
    if not tags:
        return TagError(
            f"{package.name}: the version comes from git tags and this repository has none, "
            "so there is no version to bump from",
            f"tag the current release first, e.g. `git tag -a {package.tag('0.1.0')} -m "
            f"'{package.name} 0.1.0'`",
        )
    shown = ", ".join(tags[-6:]) + (f" (+{len(tags) - 6} more)" if len(tags) > 6 else "")
    return TagError(
        f"{package.name}: no git tag matches tag-format {package.tag_format!r}; "
        f"the tags here are: {shown}",
        "set tag-format in [tool.releasekit] to the form your tags take, e.g. "
        'tag-format = "{version}", "v{version}", "{name}-v{version}" or "{name}@{version}"',
    )


def read_version(package: Package) -> Version:
    """The version of ``package`` as its source holds it now (read from disk).

    Tag-driven packages: the highest version among the tags matching the
    package's tag-format.  A source releasekit does not know: the version the
    build backend puts in the wheel's metadata.
    """
    source = find_version_source(package)
    if source.kind == "static":
        path = _source_file(source)
        text = _read_source_text(package, path, ())
        _doc, _table, item = _toml_version_item(package, path, text, source.keys)
        return _parse_at(item, f"{_shown(package, path)} [{'.'.join(source.keys[:-1])}] version")
    if source.kind == "file":
        path = _source_file(source)
        text = _read_source_text(package, path, ())
        match = _hatch_match(source, text, package)
        return _parse_at(match["version"], _shown(package, path))
    if source.kind == "backend":
        from releasekit.dists import backend_version

        return backend_version(package, source.detail)
    versions = tagged_versions(package)
    if not versions:
        raise _no_tags_error(package)
    return versions[-1]


def version_to_release(package: Package, wanted: Version | None = None) -> Version:
    """The version at source, to release, tag or check; it must be ``wanted`` when that is given.

    A ``wanted`` version that is not the one at source is a
    :class:`~releasekit.errors.VersionError` (``nox -s release -- PKG V`` and
    ``invoke tag --version V`` share this rule).
    """
    version = read_version(package)
    if wanted is not None and wanted != version:
        raise VersionError(
            f"{package.name} is at {version} in its source, not {wanted}",
            f"bump first (invoke bump --package {package.name} --to {wanted}) "
            "or leave the version out",
        )
    return version


def same_kind_string(old: Any, value: str) -> tomlkit.items.String:
    """A TOML string holding ``value``, quoted the way ``old`` was."""
    kind = getattr(old, "type", tomlkit.items.StringType.SLB)
    literal = kind in (tomlkit.items.StringType.SLL, tomlkit.items.StringType.MLL)
    multiline = kind in (tomlkit.items.StringType.MLB, tomlkit.items.StringType.MLL)
    if literal and "'" in value:
        literal = False
    return tomlkit.string(value, literal=literal, multiline=multiline)


def _regex_edit(
    package: Package,
    path: Path,
    pattern: str,
    new: Version,
    *,
    what: str,
    pending: Sequence[FileEdit],
) -> tuple[FileEdit, Version]:
    before = _read_source_text(package, path, pending)
    match = _pattern_match(package, path, pattern, before, what)
    old = _parse_at(match["version"], _shown(package, path))
    after = before[: match.start("version")] + str(new) + before[match.end("version") :]
    return FileEdit(path, before, after, f"{package.name} version {old} -> {new}"), old


def plan_version_edit(
    package: Package, new: Version, *, pending: Sequence[FileEdit] = ()
) -> list[FileEdit]:
    """The edit writing ``new`` at the package's version source ([] for tag-driven versions).

    The pyproject is rewritten with tomlkit, so comments and formatting stay
    byte for byte except the version value.  ``pending``: edits planned
    before, which this one builds on.  A source releasekit can only read
    (``backend``) is an error unless ``version-files`` says where to write.
    """
    source = find_version_source(package)
    if source.kind == "tag":
        return []
    if source.kind == "backend":
        if package.settings.version_files:
            return []  # version-files are the files to write (plan_version_files_edits)
        raise ConfigError(
            f"{package.name}: releasekit can read the version but cannot write it: it comes "
            f"from {source.detail}",
            'name the file that holds it: version-files = [{path = "src/PKG/_version.py", '
            'pattern = \'__version__ = "(?P<version>[^"]+)"\'}] in [tool.releasekit], '
            "or use a static [project] version",
        )
    if source.kind == "static":
        path = _source_file(source)
        before = _read_source_text(package, path, pending)
        doc, table, item = _toml_version_item(package, path, before, source.keys)
        old = _parse_at(item, f"{_shown(package, path)} [{'.'.join(source.keys[:-1])}] version")
        table[source.keys[-1]] = same_kind_string(item, str(new))
        after = doc.as_string()
        return [FileEdit(path, before, after, f"{package.name} version {old} -> {new}")]
    path = _source_file(source)
    edit, _old = _regex_edit(
        package, path, source.pattern, new, what=source.detail, pending=pending
    )
    return [edit]


def package_version_files(package: Package) -> list[VersionFile]:
    """The package's ``version-files`` (more files holding the version), resolved."""
    return sources.version_files(
        package.root, package.settings.version_files, shown_from=package.workspace_root
    )


def read_version_files(package: Package) -> list[tuple[VersionFile, Version]]:
    """The version each ``version-files`` entry holds now; a missing file or match is an error."""
    found = []
    for entry in package_version_files(package):
        text = _read_source_text(package, entry.path, ())
        match = _pattern_match(
            package, entry.path, entry.pattern, text, "the version-files pattern"
        )
        found.append((entry, _parse_at(match["version"], entry.shown)))
    return found


def plan_version_files_edits(
    package: Package, new: Version, *, pending: Sequence[FileEdit] = ()
) -> list[FileEdit]:
    """Edits writing ``new`` into every ``version-files`` entry, on top of ``pending``."""
    edits: list[FileEdit] = []
    for entry in package_version_files(package):
        edit, _old = _regex_edit(
            package,
            entry.path,
            entry.pattern,
            new,
            what="the version-files pattern",
            pending=[*pending, *edits],
        )
        edits.append(edit)
    return edits
