"""Release notes: where a version's notes live, the stub, the check, errata and status marks.

Two styles (``[tool.releasekit]``, paths relative to the package root):

- ``release-notes = "docs/release-notes/v{version}.md"``: one file per
  version (the default when neither key is set);
- ``changelog = "CHANGELOG.md"``: one Keep a Changelog file, a
  ``## [<version>] - <date>`` section per version under ``## [Unreleased]``.

When both are set, the notes directory holds the notes that releasekit
creates and checks.  How a changelog's headings and version sections are
read is :mod:`releasekit.changelog`.  Planners return :class:`~releasekit.edits.FileEdit`
values; nothing here writes a file.  The formats are described in
``docs/reference/release-notes.md``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Literal

from packaging.version import Version

from releasekit._text import shown_path
from releasekit.changelog import (
    heading_lines,
    is_content,
    is_heading,
    is_text_line,
    is_unreleased,
    new_heading,
    newline,
    read_sections,
    version_section,
)
from releasekit.edits import FileEdit, planned_text, read_text
from releasekit.errors import NotesError
from releasekit.workspace import Package

__all__ = [
    "CHANGELOG_NAMES",
    "DEFAULT_RELEASE_NOTES",
    "STATUS_PREFIX",
    "STUB_MARKER",
    "NotesState",
    "ReleaseMark",
    "found_changelog",
    "notes_location",
    "notes_state",
    "notes_style",
    "notes_text",
    "plan_errata",
    "plan_notes",
    "plan_notes_entry",
    "release_marks",
    "require_notes",
]

NotesState = Literal["filled", "stub", "missing"]
ReleaseMark = Literal["bad", "yanked"]

DEFAULT_RELEASE_NOTES = "docs/release-notes/v{version}.md"
CHANGELOG_NAMES = tuple(
    stem + suffix
    for stem in ("CHANGELOG", "CHANGES", "HISTORY", "NEWS")
    for suffix in (".md", ".rst", ".txt", "")
)
"""The changelog files used when no notes key is configured, in order of preference."""
STUB_MARKER = "_Describe the changes in this release._"
"""The placeholder line of a new notes entry; while it is there, the notes are a stub."""

STATUS_PREFIX = "**Status:**"
"""A line starting with this in a version's notes marks the release (see :func:`plan_errata`)."""
_STATUS_LINES: dict[ReleaseMark, str] = {
    "bad": f"{STATUS_PREFIX} bad release. Do not use it; upgrade to a later version.",
    "yanked": f"{STATUS_PREFIX} yanked. Installers skip it unless it is pinned exactly; "
    "upgrade to a later version.",
}
_KEEP_A_CHANGELOG = "https://keepachangelog.com/en/1.1.0/"
_ERRATA_HEADING = re.compile(r"^#{2,6}[ \t]+Errata[ \t]*$", re.IGNORECASE)


def found_changelog(root: Path) -> str | None:
    """The changelog file at ``root`` (``CHANGELOG.md``, ``HISTORY.rst``...), if there is one.

    Names are matched without regard to case; ``CHANGELOG`` comes before
    ``CHANGES``, ``HISTORY`` and ``NEWS``, and ``.md`` before ``.rst``, ``.txt``
    and no suffix.
    """
    try:
        present = {p.name.lower(): p.name for p in root.iterdir() if p.is_file()}
    except OSError:
        return None
    for name in CHANGELOG_NAMES:
        if name.lower() in present:
            return present[name.lower()]
    return None


def notes_style(package: Package) -> tuple[Literal["notes", "changelog"], str]:
    """The package's notes style and its path template (relative to the package root).

    With neither ``release-notes`` nor ``changelog`` configured: the notes
    directory when ``docs/release-notes/`` exists, else the package's changelog
    file when it has one (:func:`found_changelog`), else the notes directory.
    """
    settings = package.settings
    if settings.release_notes:
        return "notes", settings.release_notes
    if settings.changelog:
        return "changelog", settings.changelog
    default_dir = (package.root / DEFAULT_RELEASE_NOTES).parent
    if not default_dir.is_dir():
        found = found_changelog(package.root)
        if found is not None:
            return "changelog", found
    return "notes", DEFAULT_RELEASE_NOTES


def notes_location(package: Package, version: Version | str) -> Path:
    """The file that holds the notes of ``version`` (a notes file, or the changelog)."""
    _style, template = notes_style(package)
    return package.root / package.template(template, str(version))


def _section_text(package: Package, version: Version) -> tuple[Path, str | None]:
    """The notes text of ``version`` (the whole notes file, or its changelog section)."""
    style, _template = notes_style(package)
    path = notes_location(package, version)
    text = read_text(path)
    if text is None or style == "notes":
        return path, text
    lines = text.splitlines(keepends=True)
    section = version_section(lines, version)
    if section is None:
        return path, None
    return path, "".join(lines[section.body : section.end])


# --- the stub --------------------------------------------------------------------------------


def plan_notes(
    package: Package,
    version: Version,
    *,
    today: date | None = None,
    pending: Sequence[FileEdit] = (),
) -> list[FileEdit]:
    """The edit that starts the notes of ``version``, or [] when they already exist.

    Notes directory: a stub file (``# <name> <version>`` and
    :data:`STUB_MARKER`).  Changelog: ``## [Unreleased]`` becomes
    ``## [<version>] - <today>`` under a fresh empty ``## [Unreleased]``;
    without an Unreleased section a new version section (holding the
    marker) goes before the first section; a missing changelog is created.
    Everything else stays byte-identical.
    """
    style, _template = notes_style(package)
    path = notes_location(package, version)
    text = planned_text(path, pending)
    shown = shown_path(path, package.workspace_root)
    if style == "notes":
        if text is not None:
            return []
        stub = f"# {package.name} {version}\n\n{STUB_MARKER}\n"
        return [FileEdit(path, None, stub, f"release notes stub for {package.name} {version}")]
    day = (today or date.today()).isoformat()
    if text is None:
        heading = f"## [{version}] - {day}"
        nl = "\n"
        created = (
            f"# Changelog{nl}{nl}All notable changes to this project are documented in this file; "
            f"the format follows [Keep a Changelog]({_KEEP_A_CHANGELOG}).{nl}{nl}"
            f"## [Unreleased]{nl}{nl}{heading}{nl}{nl}{STUB_MARKER}{nl}"
        )
        return [FileEdit(path, None, created, f"changelog with a section for {version}")]
    nl = newline(text)
    lines = text.splitlines(keepends=True)
    if version_section(lines, version) is not None:
        return []
    sections = read_sections(lines)
    new_style, label = new_heading(sections, version, day)
    new = heading_lines(new_style, label, nl)
    unreleased = [s for label, s in sections if is_unreleased(label)]
    if unreleased:
        # Keep a Changelog: what is under Unreleased becomes the version's notes,
        # and a fresh, empty Unreleased section stays above it
        at = unreleased[0].body - 1
        body = lines[at].rstrip("\r\n")
        ending = lines[at][len(body) :]
        lines[at] = body + (ending or nl)
        new[-1] = new[-1].rstrip("\r\n") + ending  # no newline after, as before
        lines[at + 1 : at + 1] = [nl, *new]
        reason = f"changelog: {unreleased[0].heading.label} -> {label}"
    else:
        block = [*new, nl, STUB_MARKER + nl, nl]
        if sections:
            at = sections[0][1].heading.start
        else:
            at = len(lines)
            if lines and not lines[-1].endswith(("\n", "\r")):
                lines[-1] += nl
            block = [nl, *block[:-1]]
        lines[at:at] = block
        reason = f"changelog: new section {label}"
    return [FileEdit(path, text, "".join(lines), f"{reason} in {shown}")]


# --- state and check ---------------------------------------------------------------------------


def notes_state(package: Package, version: Version) -> NotesState:
    """``missing``: no notes; ``stub``: only the placeholder (or nothing) written; ``filled``."""
    _path, text = _section_text(package, version)
    if text is None:
        return "missing"
    if STUB_MARKER in text:
        return "stub"
    if not any(is_content(line) for line in text.splitlines()):
        return "stub"
    return "filled"


def require_notes(package: Package, version: Version) -> None:
    """Raise :class:`~releasekit.errors.NotesError` unless the notes of ``version`` are written.

    (:func:`releasekit.checks.check_notes` is the preflight's form: it returns findings.)
    """
    style, _template = notes_style(package)
    path, _text = _section_text(package, version)
    shown = shown_path(path, package.workspace_root)
    state = notes_state(package, version)
    if state == "missing":
        if style == "notes" or not path.exists():
            where = f"{shown!r} does not exist"
        else:
            where = f"{shown!r} has no [{version}] section"
        raise NotesError(
            f"no release notes for {package.name} {version}: {where}",
            f"create them with `invoke notes --package {package.name} --version {version}`, "
            "then write what changed",
        )
    if state == "stub":
        raise NotesError(
            f"the release notes of {package.name} {version} are still the untouched stub "
            f"in {shown!r}",
            f"write what changed in {path} (and delete the line {STUB_MARKER!r})",
        )


def notes_text(package: Package, version: Version) -> str:
    """The written release notes of ``version`` (checked first): a GitHub release's body."""
    require_notes(package, version)
    _path, text = _section_text(package, version)
    return (text or "").strip() + "\n"


check_notes = require_notes
"""The old name of :func:`require_notes` (documented before), kept for code that imports it."""


# --- an entry with given paragraphs (rollback) ----------------------------------------------


def _paragraph_lines(paragraphs: Sequence[str], nl: str) -> list[str]:
    lines: list[str] = []
    for n, paragraph in enumerate(paragraphs):
        lines += [*([nl] if n else []), paragraph + nl]
    return lines


def plan_notes_entry(
    package: Package,
    version: Version,
    paragraphs: Sequence[str],
    *,
    reason: str,
    pending: Sequence[FileEdit] = (),
) -> list[FileEdit]:
    """The notes of ``version`` holding ``paragraphs``, started (:func:`plan_notes`) when missing.

    The paragraphs replace the stub's placeholder line, or follow what the
    entry (the notes file, or the version's changelog section) already says;
    the entry then passes ``invoke notes --check``.  [] when the first
    paragraph is there already (an earlier run wrote it).  ``reason``: what
    the edit is for, shown to the user.
    """
    style, _template = notes_style(package)
    path = notes_location(package, version)
    before = planned_text(path, pending)
    stub = plan_notes(package, version, pending=pending)
    text = stub[0].after if stub else before
    if text is None or paragraphs[0] in text:
        return []
    nl = newline(text)
    lines = text.splitlines(keepends=True)
    start, end = 0, len(lines)
    section = version_section(lines, version) if style == "changelog" else None
    if section is not None:
        start, end = section.body, section.end
    block = _paragraph_lines(paragraphs, nl)
    marker = next((i for i in range(start, end) if lines[i].strip() == STUB_MARKER), None)
    if marker is not None:
        lines[marker : marker + 1] = block
    else:
        last = max((i for i in range(start, end) if is_text_line(lines[i])), default=start - 1)
        if last >= 0 and not lines[last].endswith(("\n", "\r")):
            lines[last] += nl
        if last + 1 < len(lines) and lines[last + 1].strip():
            block.append(nl)  # keep a blank line before what follows
        lines[last + 1 : last + 1] = [nl, *block]
    shown = shown_path(path, package.workspace_root)
    return [FileEdit(path, before, "".join(lines), f"{reason} in {shown}")]


# --- errata and status marks -------------------------------------------------------------------


def _errata_entry(text: str, nl: str) -> str:
    first, *rest = text.strip().splitlines() or [""]
    return "".join([f"- {first.strip()}{nl}", *(f"  {line.strip()}{nl}" for line in rest)])


def _add_errata(
    lines: list[str],
    scope: tuple[int, int],
    *,
    level: str,
    entry: str,
    status: str | None,
    nl: str,
) -> None:
    """Add ``entry`` (and the ``status`` line) to the Errata section inside ``lines[scope]``."""
    start, end = scope
    heading = next((i for i in range(start, end) if _ERRATA_HEADING.match(lines[i])), None)
    if heading is None:
        anchor = max((i for i in range(start, end) if is_text_line(lines[i])), default=start - 1)
        if not lines[anchor].endswith(("\n", "\r")):
            lines[anchor] += nl
        block = [nl, f"{level} Errata{nl}", nl]
        if status:
            block += [status + nl, nl]
        block += [entry] if entry else []
        if block[-1] == nl:
            block.pop()
        lines[anchor + 1 : anchor + 1] = block
        return
    stop = next((i for i in range(heading + 1, end) if is_heading(lines[i])), end)
    if status:
        current = next(
            (i for i in range(heading + 1, stop) if lines[i].startswith(STATUS_PREFIX)), None
        )
        if current is not None:
            ending = lines[current][len(lines[current].rstrip("\r\n")) :]
            lines[current] = status + (ending or nl)
        else:
            lines[heading + 1 : heading + 1] = [nl, status + nl]
            stop += 2
    if entry:
        last = max((i for i in range(heading + 1, stop) if is_content(lines[i])), default=heading)
        if not lines[last].endswith(("\n", "\r")):
            lines[last] += nl
        spacer = [nl] if last == heading or lines[last].startswith(STATUS_PREFIX) else []
        lines[last + 1 : last + 1] = [*spacer, entry]


def plan_errata(
    package: Package,
    version: Version,
    text: str,
    *,
    status: ReleaseMark | None = None,
    pending: Sequence[FileEdit] = (),
) -> FileEdit:
    """Add ``text`` as an errata line to the notes of ``version``; with ``status``, mark it.

    Notes directory: a ``## Errata`` section at the end of the version's file
    (the file is created when it does not exist).  Changelog: a ``### Errata``
    sub-section in the version's section.  ``status`` writes (or replaces)
    the line ``**Status:** bad release...`` / ``**Status:** yanked...`` at
    the top of the Errata section, which :func:`release_marks` reads.
    """
    if not text.strip() and status is None:
        raise NotesError(
            f"no errata text for {package.name} {version}",
            "say in one line what is wrong with this release",
        )
    style, _template = notes_style(package)
    path = notes_location(package, version)
    shown = shown_path(path, package.workspace_root)
    before = planned_text(path, pending)
    status_line = _STATUS_LINES[status] if status else None
    what = f"errata for {package.name} {version}" + (f" (marked {status})" if status else "")
    if before is None and style == "changelog":
        raise NotesError(
            f"no changelog at {shown!r} to add errata for {package.name} {version} to",
            f"create it with a ## [{version}] section, then run this again",
        )
    nl = newline(before or "")
    lines = (before or f"# {package.name} {version}{nl}").splitlines(keepends=True)
    entry = _errata_entry(text, nl) if text.strip() else ""
    if style == "notes":
        _add_errata(lines, (0, len(lines)), level="##", entry=entry, status=status_line, nl=nl)
    else:
        section = version_section(lines, version)
        if section is None:
            raise NotesError(
                f"{shown!r} has no [{version}] section for the errata of {package.name} {version}",
                f"add a ## [{version}] section to {shown}, then run this again",
            )
        scope = (section.body, section.end)
        marks = section.heading.style
        level = marks + "#" if marks.startswith("#") and len(marks) < 6 else "###"
        _add_errata(lines, scope, level=level, entry=entry, status=status_line, nl=nl)
    return FileEdit(path, before, "".join(lines), f"{what} in {shown}")


def release_marks(package: Package, version: Version) -> ReleaseMark | None:
    """``"yanked"`` or ``"bad"`` when the notes of ``version`` carry a status line, else None."""
    _path, text = _section_text(package, version)
    if text is None:
        return None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(STATUS_PREFIX):
            word = stripped[len(STATUS_PREFIX) :].strip().lower()
            if word.startswith("yanked"):
                return "yanked"
            if word.startswith("bad"):
                return "bad"
    return None
