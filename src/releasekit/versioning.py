"""PEP 440 versions: the bump rules, the version's single source, sibling pins, literals.

:func:`plan_bump` is pure version arithmetic (the rules of DESIGN §5, every
rule listed in ``docs/reference/bump-rules.md``).  The rest reads and plans
writes of the repository: where a package's version lives
(:func:`find_version_source`), what it is (:func:`read_version`), the edits
that move it (:func:`plan_version_edit`) and the sibling ``==`` pins that
follow it (:func:`plan_pin_edits`), and hardcoded ``__version__`` literals
that would go stale (:func:`find_version_literals`).  Nothing here writes a
file: planners return :class:`~releasekit.edits.FileEdit` values for
:func:`~releasekit.edits.apply_edits`.
"""

from __future__ import annotations

import ast
import contextlib
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import packaging.version
import tomlkit
import tomlkit.items
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from releasekit import sources
from releasekit.config import parse_toml
from releasekit.edits import FileEdit, planned_text
from releasekit.errors import ConfigError, InvalidVersion, TagError, VersionError
from releasekit.sources import VersionFile, VersionSource
from releasekit.workspace import Package, Workspace, name_spellings, tag_pattern

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

log = logging.getLogger("releasekit")

PHASES = ("a", "b", "rc")
"""Pre-release phases in the order a release moves through them."""

_PHASE_SPELLINGS = {
    "a": "a",
    "alpha": "a",
    "b": "b",
    "beta": "b",
    "rc": "rc",
    "c": "rc",
    "pre": "rc",
    "preview": "rc",
}
_LEVELS = ("major", "minor", "patch")

LITERAL_FIX_HINT = (
    "read the version from the installed metadata instead: "
    '`from importlib.metadata import version; __version__ = version("DIST-NAME")`'
)
"""The fix for a hardcoded ``__version__`` literal; :func:`literal_fix_hint` names the package."""


def literal_fix_hint(name: str) -> str:
    """:data:`LITERAL_FIX_HINT` with the package's distribution name filled in."""
    return LITERAL_FIX_HINT.replace("DIST-NAME", name)


_VERSION_EXAMPLES = "write it like '1.2.0', '1.2.0rc1', '1.2.0.post1' or '1.2.0.dev1'"


# --- parsing and the bump rules --------------------------------------------------------


def parse_version(text: str) -> Version:
    """``text`` as a normalized PEP 440 version (``1.0.0-rc1`` -> ``1.0.0rc1``)."""
    try:
        return Version(text.strip())
    except packaging.version.InvalidVersion:
        raise InvalidVersion(
            f"invalid version {text!r}: not a PEP 440 version", _VERSION_EXAMPLES
        ) from None


@dataclass(frozen=True)
class BumpRequest:
    """What the user asked ``invoke bump`` for; contradictory flags are refused on creation.

    ``pre``: ``None`` when ``--pre`` was not given, ``""`` for ``--pre`` with
    no phase, else ``"a"``, ``"b"`` or ``"rc"`` (``alpha``, ``beta``, ``c``
    are accepted and normalized).  ``--dev`` combines with a level, ``--pre``
    or ``--post`` (the first dev release towards that version); ``--pre``
    combines with a level; ``--final`` and ``--to`` stand alone.
    """

    major: bool = False
    minor: bool = False
    patch: bool = False
    pre: str | None = None
    post: bool = False
    dev: bool = False
    final: bool = False
    to: str | None = None

    def __post_init__(self) -> None:
        if self.pre is not None:
            phase = self.pre.strip().lower()
            if phase and phase not in _PHASE_SPELLINGS:
                raise VersionError(
                    f"--pre {self.pre!r} is not a pre-release phase",
                    "use --pre a, --pre b or --pre rc, or --pre alone for the next number",
                )
            object.__setattr__(self, "pre", _PHASE_SPELLINGS.get(phase, ""))
        flags = self.flags
        levels = [f for f in flags if f.lstrip("-") in _LEVELS]
        if not flags:
            raise VersionError(
                "nothing to bump: no --major, --minor, --patch, --pre, --post, --dev, "
                "--final or --to was given",
                "pass one, e.g. `invoke bump --pre` or `invoke bump --to 1.2.0`",
            )
        if self.to is not None and len(flags) > 1:
            others = " ".join(f for f in flags if not f.startswith("--to"))
            raise VersionError(
                f"--to {self.to!r} sets the version explicitly; "
                f"it cannot be combined with {others}",
                "pass either --to V alone, or the bump flags without --to",
            )
        if self.final and len(flags) > 1:
            others = " ".join(f for f in flags if f != "--final")
            raise VersionError(
                f"--final drops the pre/post/dev part; it cannot be combined with {others}",
                "run `invoke bump --final` alone, then bump again if you need more",
            )
        if len(levels) > 1:
            raise VersionError(
                f"{' and '.join(levels)} together: a bump moves one level",
                "pass only one of --major, --minor, --patch",
            )
        if self.post and (self.pre is not None or levels):
            others = " ".join(f for f in flags if f not in {"--post", "--dev"})
            raise VersionError(
                f"--post with {others}: a post-release re-releases the current version, "
                "it cannot also start a new one",
                "use --post alone to fix the current release, or drop --post",
            )

    @property
    def flags(self) -> tuple[str, ...]:
        """The request as command-line flags, e.g. ``("--minor", "--pre")``."""
        flags = [f"--{level}" for level in _LEVELS if getattr(self, level)]
        if self.pre is not None:
            flags.append(f"--pre {self.pre}" if self.pre else "--pre")
        flags.extend(f"--{name}" for name in ("post", "dev", "final") if getattr(self, name))
        if self.to is not None:
            flags.append(f"--to {self.to}")
        return tuple(flags)

    @property
    def level(self) -> int | None:
        """0, 1 or 2 for --major, --minor, --patch; None when no level was asked."""
        for index, name in enumerate(_LEVELS):
            if getattr(self, name):
                return index
        return None

    def __str__(self) -> str:
        return " ".join(self.flags)


def _make(
    base: Version,
    release: Sequence[int] | None = None,
    pre: tuple[str, int] | None = None,
    post: int | None = None,
    dev: int | None = None,
) -> Version:
    """A version in ``base``'s epoch with the given parts (``release`` defaults to base's)."""
    parts = base.release if release is None else release
    text = f"{base.epoch}!" if base.epoch else ""
    text += ".".join(str(p) for p in parts)
    if pre is not None:
        text += f"{pre[0]}{pre[1]}"
    if post is not None:
        text += f".post{post}"
    if dev is not None:
        text += f".dev{dev}"
    return Version(text)


def _is_preview(version: Version) -> bool:
    """A pre-release or dev release of a release not yet out (not a post-release's dev)."""
    return (version.pre is not None or version.dev is not None) and version.post is None


def _release_level(version: Version) -> int | None:
    """The level a release number belongs to: 2.0.0 major (0), 1.2.0 minor (1), 1.2.3 patch (2)."""
    nonzero = [i for i, part in enumerate(version.release) if part]
    return nonzero[-1] if nonzero else None


def _increment(version: Version, level: int) -> tuple[int, ...]:
    """The release number with part ``level`` incremented and the lower parts zeroed."""
    parts = list(version.release) + [0] * max(0, level + 1 - len(version.release))
    parts[level] += 1
    parts[level + 1 :] = [0] * (len(parts) - level - 1)
    return tuple(parts)


def _next_level(current: Version, level: int) -> Version:
    if _is_preview(current) and _release_level(current) == level:
        return _make(current)  # 1.2.3rc1 --patch -> 1.2.3: finalize
    return _make(current, _increment(current, level))


def _next_pre(current: Version, phase: str, level: int | None) -> Version:
    if level is not None:
        if _is_preview(current) and _release_level(current) == level:
            return _next_pre(current, phase, None)  # 0.2.0a1 --minor --pre -> 0.2.0a2
        return _make(current, _increment(current, level), (phase or "a", 1))
    if current.pre is not None:
        now, number = current.pre
        if not phase or phase == now:
            if current.dev is not None and current.post is None:
                return _make(current, pre=(now, number))  # 0.1.0a2.dev1 -> 0.1.0a2
            return _make(current, pre=(now, number + 1))
        if PHASES.index(phase) > PHASES.index(now):
            return _make(current, pre=(phase, 1))
        raise VersionError(
            f"--pre {phase}: {current} is already at phase {now!r}; "
            f"a phase cannot go backwards ({now} -> {phase})",
            f"use --pre alone for {_make(current, pre=(now, number + 1))}, or a later phase",
        )
    if current.dev is not None and current.post is None:
        return _make(current, pre=(phase or "a", 1))  # 1.0.1.dev1 -> 1.0.1a1
    return _make(current, _increment(current, 2), (phase or "a", 1))  # 0.1.0 -> 0.1.1a1


def _next_post(current: Version) -> Version:
    if _is_preview(current):
        final = _make(current)
        raise VersionError(
            f"--post: {current} is not a final release; post-releases fix a final release",
            f"use --pre (or --dev) for the next preview, or --final for {final}",
        )
    if current.post is None:
        return _make(current, post=1)
    if current.dev is not None:
        return _make(current, post=current.post)  # 1.0.0.post1.dev1 -> 1.0.0.post1
    return _make(current, post=current.post + 1)


def _next_dev(current: Version, target: Version | None) -> Version:
    if target is None:
        if current.dev is not None:
            return _make(current, pre=current.pre, post=current.post, dev=current.dev + 1)
        if current.pre is not None:
            target = _next_pre(current, "", None)  # 1.0.0a1 -> 1.0.0a2.dev1
        else:
            target = _make(current, _increment(current, 2))  # 1.0.0 -> 1.0.1.dev1
    elif current.dev is not None:
        same = _make(current, pre=current.pre, post=current.post)
        if same == target:  # still working towards the same version: next dev number
            return _make(current, pre=current.pre, post=current.post, dev=current.dev + 1)
    return _make(target, pre=target.pre, post=target.post, dev=1)


def plan_bump(current: str | Version, request: BumpRequest) -> Version:
    """The version after ``current`` per ``request`` (pure; see docs/reference/bump-rules.md).

    The result is always above ``current`` and never a local version; a
    local label on ``current`` is ignored (the bump starts from its public
    part).  The epoch is kept.
    """
    given = current if isinstance(current, Version) else parse_version(current)
    base = Version(given.public)
    if request.to is not None:
        new = parse_version(request.to)
    elif request.final:
        if not (base.is_prerelease or base.is_postrelease):
            raise VersionError(
                f"--final: {base} is already a final release",
                "use --patch, --minor or --major to start the next one",
            )
        new = _make(base)
    else:
        target: Version | None = None
        if request.pre is not None:
            target = _next_pre(base, request.pre, request.level)
        elif request.level is not None:
            target = _next_level(base, request.level)
        elif request.post:
            target = _next_post(base)
        if request.dev:
            new = _next_dev(base, target)
        elif target is not None:
            new = target
        else:  # pragma: no cover - BumpRequest refuses an empty request
            raise VersionError(f"nothing to bump from {given}", "pass a bump flag")
    if new.local is not None:
        raise VersionError(
            f"{given} -> {new}: {new} is a local version (+{new.local}), which no index accepts",
            f"drop the '+{new.local}' part, e.g. --to {new.public}",
        )
    if new == base:
        raise VersionError(
            f"{given} -> {new}: the new version equals the current one",
            "pick a version above the current one",
        )
    if new < base:
        raise VersionError(
            f"{given} -> {new} goes backwards: {new} sorts before {given}",
            "versions only move forward; pick one above the current version",
        )
    return new


# --- where the version lives ---------------------------------------------------------------


def find_version_source(package: Package) -> VersionSource:
    """Where ``package`` keeps its version (read from its pyproject and setup.cfg on disk).

    See :mod:`releasekit.sources` for every source understood.
    """
    return sources.find_version_source(
        package.root, name=package.name, shown_from=package.workspace_root
    )


def _shown(package: Package, path: Path) -> str:
    try:
        return path.relative_to(package.workspace_root).as_posix()
    except ValueError:
        return str(path)


def _tag_pattern(package: Package) -> re.Pattern[str]:
    return tag_pattern(package.tag_format, name_spellings(package.name))


def _all_tags(package: Package) -> list[str]:
    from releasekit import git

    out = git.run_git(
        package.root,
        "tag",
        "--list",
        what="git tag --list",
        hint="a version taken from git tags needs the git repository; run releasekit inside it",
    )
    return out.split()


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


def _static_version_item(package: Package, text: str) -> tuple[Any, Any]:
    """The parsed document and its ``[project] version`` item."""
    doc, _table, item = _toml_version_item(package, package.pyproject, text, ("project", "version"))
    return doc, item


def _parse_at(value: object, where: str) -> Version:
    try:
        return Version(str(value).strip())
    except packaging.version.InvalidVersion:
        raise InvalidVersion(
            f"{where}: {value!r} is not a PEP 440 version", _VERSION_EXAMPLES
        ) from None


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


def _same_kind_string(old: Any, value: str) -> tomlkit.items.String:
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
        table[source.keys[-1]] = _same_kind_string(item, str(new))
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


# --- sibling pins ----------------------------------------------------------------------------

_PIN = re.compile(r"(?<![=<>!~])==(?!=)(?P<space>\s*)(?P<version>[^\s,;()\[\]]+)")


def _repin(text: str, old: Version, new: Version) -> str:
    """``text`` with every ``==old`` clause of its specifier turned into ``==new``."""
    head, sep, marker = text.partition(";")

    def swap(match: re.Match[str]) -> str:
        written = match["version"]
        if written.endswith(".*"):
            return match[0]
        try:
            same = Version(written) == old
        except packaging.version.InvalidVersion:
            return match[0]
        return f"=={match['space']}{new}" if same else match[0]

    return _PIN.sub(swap, head) + sep + marker


def _requirement_arrays(doc: Any) -> Iterator[tuple[str, Any]]:
    """(table name, tomlkit array) of every requirement list of a pyproject document."""
    project = doc.get("project", {})
    if isinstance(project.get("dependencies"), list):
        yield "project.dependencies", project["dependencies"]
    optional = project.get("optional-dependencies", {})
    for extra in optional if isinstance(optional, dict) else {}:
        if isinstance(optional[extra], list):
            yield f"project.optional-dependencies.{extra}", optional[extra]
    groups = doc.get("dependency-groups", {})
    for group in groups if isinstance(groups, dict) else {}:
        if isinstance(groups[group], list):
            yield f"dependency-groups.{group}", groups[group]


def plan_pin_edits(
    workspace: Workspace,
    package: Package,
    old: Version,
    new: Version,
    *,
    pending: Sequence[FileEdit] = (),
) -> tuple[list[FileEdit], list[str]]:
    """Move every sibling ``==old`` pin on ``package`` to ``==new``; report what excludes ``new``.

    Every other workspace package's pyproject (and the workspace root's when
    it is no package) is searched in ``dependencies``,
    ``optional-dependencies`` and ``dependency-groups``.  Extras, markers,
    comments and formatting are kept.  Returns one edit per changed file and
    one warning line per requirement on ``package`` that would exclude
    ``new`` (naming the file, the table and the requirement).
    """
    owners = {p.pyproject: p.name for p in workspace.packages if p is not package}
    root_pyproject = workspace.root / "pyproject.toml"
    if all(root_pyproject != p.pyproject for p in workspace.packages):
        owners[root_pyproject] = "workspace root"
    edits: list[FileEdit] = []
    warnings: list[str] = []
    for path, owner in owners.items():
        before = planned_text(path, pending)
        if before is None:
            continue
        shown = _shown(package, path)
        doc: Any = parse_toml(before, shown)
        reasons: list[str] = []
        for table, array in _requirement_arrays(doc):
            for index, item in enumerate(list(array)):
                if not isinstance(item, str):
                    continue  # {include-group = "..."} in dependency-groups
                try:
                    requirement = Requirement(str(item))
                except InvalidRequirement as exc:
                    raise ConfigError(
                        f"{shown!r}: {table} has an invalid requirement {str(item)!r}: {exc}",
                        "fix the requirement string (PEP 508)",
                    ) from None
                if canonicalize_name(requirement.name) != package.canonical_name:
                    continue
                text = str(item)
                if requirement.url is None:
                    repinned = _repin(text, old, new)
                    if repinned != text:
                        array[index] = _same_kind_string(item, repinned)
                        where = "" if table == "project.dependencies" else f" ({table})"
                        reasons.append(f"{text} -> {repinned}{where}")
                        text = repinned
                specifier = Requirement(text).specifier
                if str(specifier) and not specifier.contains(new, prereleases=True):
                    warnings.append(
                        f"{shown}: [{table}] {text!r} excludes {package.name} {new}; "
                        "widen it by hand if it should allow the new version"
                    )
        if reasons:
            reason = f"{owner}: " + "; ".join(reasons)
            edits.append(FileEdit(path, before, doc.as_string(), reason))
    return edits, warnings


# --- hardcoded __version__ literals --------------------------------------------------------

_SKIP_DIRS = frozenset(
    {"tests", "test", "testing", "build", "dist", "docs", "venv", "node_modules", "__pycache__"}
)
_ROOT_SCRIPTS = frozenset(
    {"setup.py", "noxfile.py", "tasks.py", "conftest.py", "fabfile.py", "manage.py"}
)


@dataclass(frozen=True)
class VersionLiteral:
    """A hardcoded ``__version__ = "..."`` at ``path`` (absolute) line ``line``."""

    path: Path
    line: int
    value: str


def _python_files(package: Package) -> Iterator[Path]:
    """The package's own modules: under src/, top-level packages, top-level modules."""
    root = package.root
    starts: list[Path] = []
    if (root / "src").is_dir():
        starts.append(root / "src")
    for child in sorted(root.iterdir()):
        if child.name.startswith(".") or child.name in _SKIP_DIRS:
            continue
        if child.is_dir() and child.name != "src" and (child / "__init__.py").is_file():
            starts.append(child)
        elif child.is_file() and child.suffix == ".py" and child.name not in _ROOT_SCRIPTS:
            yield child
    for start in starts:
        for directory, subdirs, files in os.walk(start):
            here = Path(directory)
            subdirs[:] = sorted(
                d
                for d in subdirs
                if not d.startswith(".")
                and d not in _SKIP_DIRS
                and not d.endswith(".egg-info")
                and not (here / d / "pyproject.toml").exists()  # another package's root
            )
            for name in sorted(files):
                if name.endswith(".py"):
                    yield here / name


def _is_version_name(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "__version__"


def _text_of(node: ast.expr | None) -> Iterator[tuple[int, str]]:
    """(line, text) when ``node`` is a string constant; nothing for calls and names."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.lineno, node.value


def _literal_assignments(body: Sequence[ast.stmt]) -> Iterator[tuple[int, str]]:
    """Module-level ``__version__`` string assignments, not those in ``except`` handlers."""
    for node in body:
        if isinstance(node, ast.Assign):
            if any(_is_version_name(t) for t in node.targets):
                yield from _text_of(node.value)
        elif isinstance(node, ast.AnnAssign):
            if _is_version_name(node.target):
                yield from _text_of(node.value)
        elif isinstance(node, ast.If):
            yield from _literal_assignments(node.body)
            yield from _literal_assignments(node.orelse)
        elif isinstance(node, ast.Try):
            # the handlers' fallback (`except PackageNotFoundError: __version__ = "0+unknown"`)
            # is not a literal that goes stale: the metadata lookup in the body is the source
            yield from _literal_assignments(node.body)
            yield from _literal_assignments(node.orelse)
            yield from _literal_assignments(node.finalbody)
        elif isinstance(node, ast.With):
            yield from _literal_assignments(node.body)


def find_version_literals(package: Package) -> list[VersionLiteral]:
    """Hardcoded ``__version__`` strings in the package's modules (tests, venvs, builds skipped).

    Left out: the file that *is* the version's configured source (hatch
    ``path``, flit's module, setuptools ``attr``, pdm ``file``), files the
    build backend generates (a setuptools-scm ``version_file``) and the
    ``version-files`` (bump writes them, preflight checks them).  Report
    each literal found with :data:`LITERAL_FIX_HINT`.
    """
    exclude: set[Path] = set()
    with contextlib.suppress(ConfigError):
        source = find_version_source(package)
        if source.kind == "file" and source.path is not None:
            exclude.add(source.path.resolve())
        exclude.update(p.resolve() for p in source.generated)
    with contextlib.suppress(ConfigError):
        exclude.update(entry.path.resolve() for entry in package_version_files(package))
    found: list[VersionLiteral] = []
    for path in _python_files(package):
        if path.resolve() in exclude:
            continue
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError, OSError) as exc:
            log.debug("skipping %s while looking for __version__ literals: %s", path, exc)
            continue
        found.extend(
            VersionLiteral(path, line, value) for line, value in _literal_assignments(tree.body)
        )
    return found
