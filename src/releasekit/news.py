"""News fragments and conventional commits: release notes collected as changes are made.

A *news fragment* is one small Markdown file per change, written in the
pull request that makes the change, in the package's news folder
(``news-dir``, default ``changes/`` in the package root).  Names follow
towncrier: ``<issue>.<type>.md`` (``123.fixed.md``), ``<issue>.<type>.<n>.md``
for a second fragment of the same issue and type, or ``+<slug>.<type>.md``
for a change without an issue.  ``<type>`` is one of :data:`NEWS_TYPES`.

- :func:`plan_fragment` plans the file of a new fragment;
- :func:`plan_collect_news` plans what ``invoke bump`` does with them: their
  text goes into the new version's notes entry under one heading per type
  (Keep a Changelog names), and the fragment files are removed, in the same
  all-or-nothing :func:`~releasekit.edits.apply_edits`;
- :func:`check_news` is ``invoke news --check``: a package whose source
  changed since its last tag (or a base ref) needs a new fragment;
- :func:`draft_from_commits` groups conventional-commit subjects since the
  last tag the same way (``invoke notes --from-commits``).

Nothing here writes a file or prints; formats are described in
``docs/reference/release-notes.md``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path, PurePosixPath

from packaging.version import InvalidVersion as _InvalidVersion
from packaging.version import Version

from releasekit import git
from releasekit._text import shown_path
from releasekit.changelog import version_section
from releasekit.edits import FileEdit, planned_text, read_text
from releasekit.errors import NewsError, NotesError
from releasekit.notes import (
    STUB_MARKER,
    notes_location,
    notes_state,
    notes_style,
    plan_notes,
)
from releasekit.workspace import Package, Workspace

__all__ = [
    "COMMIT_TYPES",
    "NEWS_TYPES",
    "CommitDraft",
    "Fragment",
    "NewsCheck",
    "check_news",
    "draft_from_commits",
    "news_dir",
    "plan_collect_news",
    "plan_entry_groups",
    "plan_fragment",
    "read_fragments",
    "render_groups",
]

NEWS_TYPES: Mapping[str, str] = {
    "added": "Added",
    "changed": "Changed",
    "deprecated": "Deprecated",
    "removed": "Removed",
    "fixed": "Fixed",
    "security": "Security",
}
"""Fragment type -> its heading in the notes (Keep a Changelog's names, in its order)."""

COMMIT_TYPES: Mapping[str, str] = {
    "feat": "added",
    "fix": "fixed",
    "perf": "changed",
    "refactor": "changed",
    "revert": "changed",
    "deprecate": "deprecated",
    "remove": "removed",
    "security": "security",
    "sec": "security",
}
"""Conventional-commit type -> news type; other types (docs, chore, test, ci...) are left out."""

_TYPE_LIST = ", ".join(NEWS_TYPES)
_NAME_HINT = f"name fragments ISSUE.TYPE.md or +SLUG.TYPE.md, TYPE one of {_TYPE_LIST}"
_FRAGMENT_NAME = re.compile(
    r"^(?P<issue>[^.]+)\.(?P<kind>[A-Za-z]+)(?:\.(?P<counter>\d+))?"
    r"(?:\.(?P<ext>md|markdown|txt|rst))?$"
)
_NOT_FRAGMENTS = re.compile(r"^(readme|template)(\.\w+)?$", re.IGNORECASE)
_CONVENTIONAL = re.compile(
    r"^(?P<kind>[A-Za-z]+)(?:\((?P<scope>[^)]*)\))?(?P<bang>!)?:[ \t]+(?P<text>\S.*)$"
)
_BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE:", re.MULTILINE)
_NOT_SOURCE = ("tests", "docs")  # top-level folders of a package root that are not its source


@dataclass(frozen=True)
class Fragment:
    """One news fragment file: its type, its issue (None: no issue) and its text."""

    path: Path
    kind: str
    issue: str | None
    text: str

    @property
    def item(self) -> str:
        """The fragment as a Markdown list item (continuation lines indented)."""
        lines = [line.rstrip() for line in self.text.strip().splitlines()]
        lines[0] = re.sub(r"^[-*][ \t]+", "", lines[0])
        if self.issue is not None:
            lines[-1] += f" (#{self.issue})" if self.issue.isdigit() else f" ({self.issue})"
        rest = [f"  {line}" if line else "" for line in lines[1:]]
        return "\n".join([f"- {lines[0]}", *rest])


def news_dir(package: Package) -> Path:
    """The package's news folder (``news-dir``, relative to the package root)."""
    return package.root / package.template(package.settings.news_dir)


def _nearest(word: str) -> str:
    matches = difflib.get_close_matches(word.lower(), list(NEWS_TYPES), n=1, cutoff=0.5)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def _check_kind(kind: str) -> str:
    if kind.lower() not in NEWS_TYPES:
        raise NewsError(
            f"{kind!r} is not a news type{_nearest(kind)}",
            f"use --type with one of: {_TYPE_LIST}",
        )
    return kind.lower()


# --- writing and reading fragments --------------------------------------------------------------


def _slug(text: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return words[:40].rstrip("-") or "change"


def plan_fragment(package: Package, text: str, kind: str, *, issue: int | None = None) -> FileEdit:
    """The new fragment file for ``text`` (``invoke news``); never overwrites one."""
    kind = _check_kind(kind)
    body = text.strip()
    if not body:
        raise NewsError(
            "the news text is empty", 'say what changed for users: invoke news "..." --type fixed'
        )
    if issue is not None and issue <= 0:
        raise NewsError(
            f"--issue must be a positive issue number, not {issue!r}",
            "leave --issue out for a change without an issue",
        )
    folder = news_dir(package)
    if issue is not None:
        names = [f"{issue}.{kind}.md", *(f"{issue}.{kind}.{n}.md" for n in range(1, 1000))]
    else:
        slug = _slug(body)
        names = [f"+{slug}.{kind}.md", *(f"+{slug}-{n}.{kind}.md" for n in range(2, 1000))]
    path = next(folder / name for name in names if not (folder / name).exists())
    what = f"issue {issue}" if issue is not None else "no issue"
    return FileEdit(path, None, body + "\n", f"news fragment for {package.name} ({kind}, {what})")


def _parse_name(package: Package, path: Path) -> tuple[str, str | None]:
    match = _FRAGMENT_NAME.match(path.name)
    shown = shown_path(path, package.workspace_root)
    if match is None:
        raise NewsError(f"{shown!r} is not named like a news fragment", _NAME_HINT)
    kind = match["kind"].lower()
    if kind not in NEWS_TYPES:
        raise NewsError(
            f"{shown!r}: {match['kind']!r} is not a news type{_nearest(kind)}", _NAME_HINT
        )
    issue = match["issue"]
    return kind, None if issue.startswith("+") else issue


def _issue_key(fragment: Fragment) -> tuple[int, int, str]:
    if fragment.issue is None:
        return (1, 0, fragment.path.name)
    if fragment.issue.isdigit():
        return (0, int(fragment.issue), fragment.path.name)
    return (0, 0, fragment.path.name)


def read_fragments(package: Package) -> list[Fragment]:
    """The package's fragments, by type (Keep a Changelog order), then issue number.

    A file in the news folder whose name or type is not a fragment's, or
    that is empty, is a :class:`~releasekit.errors.NewsError` (README and
    template files, dot files and sub-folders are left alone).
    """
    folder = news_dir(package)
    if not folder.is_dir():
        return []
    found: list[Fragment] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file() or _NOT_FRAGMENTS.match(path.name):
            continue
        kind, issue = _parse_name(package, path)
        text = read_text(path) or ""
        if not text.strip():
            raise NewsError(
                f"the news fragment {shown_path(path, package.workspace_root)!r} is empty",
                "write one line saying what changed for users, or delete the file",
            )
        found.append(Fragment(path, kind, issue, text))
    order = list(NEWS_TYPES)
    return sorted(found, key=lambda f: (order.index(f.kind), *_issue_key(f)))


# --- the grouped block in a notes entry -------------------------------------------------------


def render_groups(groups: Mapping[str, Sequence[str]], *, level: int = 3) -> str:
    """Markdown: a heading per type (in Keep a Changelog order) and its list items."""
    blocks = []
    for kind, title in NEWS_TYPES.items():
        items = groups.get(kind, ())
        if items:
            blocks.append("\n".join([f"{'#' * level} {title}", "", *items]))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def _heading_level(line: str) -> int:
    return len(line) - len(line.lstrip("#"))


def _is_text(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not re.match(r"^\[[^\]]+\]:\s*\S", stripped)


def _item_lines(item: str, nl: str) -> list[str]:
    return [line + nl for line in item.split("\n")]


def plan_entry_groups(  # noqa: PLR0912  one branch per notes layout (file or changelog section, new or filled)
    package: Package,
    version: Version,
    groups: Mapping[str, Sequence[str]],
    *,
    reason: str,
    today: date | None = None,
    pending: Sequence[FileEdit] = (),
) -> list[FileEdit]:
    """Put ``groups`` (type -> list items) into the notes entry of ``version``.

    The entry is created when missing (:func:`~releasekit.notes.plan_notes`).
    Items go under the type's heading (``## Fixed`` in a notes file, ``###
    Fixed`` in a changelog section); a heading the entry already has gets
    the items at its end; new headings replace the stub's placeholder line,
    or follow what the entry already says.
    """
    if not any(groups.values()):
        return []
    path = notes_location(package, version)
    before = planned_text(path, pending)
    stub = plan_notes(package, version, today=today, pending=pending)
    text = planned_text(path, [*pending, *stub])
    if text is None:  # pragma: no cover - plan_notes always plans a file
        return []
    nl = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += nl
    style, _template = notes_style(package)
    if style == "changelog":
        section = version_section(lines, version)
        if section is None:  # pragma: no cover - plan_notes made it
            return []
        start, end = section.body, section.end
        marks = section.heading.style  # "##" for "## [1.0.0]"; setext/rst: a sub-heading of 3
        level = len(marks) + 1 if set(marks) == {"#"} else 3
    else:
        first = next((i for i, line in enumerate(lines) if line.startswith("#")), None)
        start, end = (0, len(lines)) if first is None else (first + 1, len(lines))
        level = 2 if first is None else _heading_level(lines[first]) + 1
    new_blocks: list[str] = []
    for kind, title in NEWS_TYPES.items():
        items = list(groups.get(kind, ()))
        if not items:
            continue
        pattern = re.compile(rf"^#{{{level}}}[ \t]+{title}[ \t]*$", re.IGNORECASE)
        heading = next((i for i in range(start, end) if pattern.match(lines[i].rstrip())), None)
        if heading is None:
            new_blocks += [nl, f"{'#' * level} {title}{nl}", nl]
            for item in items:
                new_blocks += _item_lines(item, nl)
            continue
        stop = next((i for i in range(heading + 1, end) if lines[i].startswith("#")), end)
        last = max((i for i in range(heading + 1, stop) if _is_text(lines[i])), default=heading)
        added = [nl] if last == heading else []
        for item in items:
            added += _item_lines(item, nl)
        lines[last + 1 : last + 1] = added
        end += len(added)
    if new_blocks:
        marker = next((i for i in range(start, end) if lines[i].strip() == STUB_MARKER), None)
        if marker is not None:
            lines[marker : marker + 1] = new_blocks[1:]  # the marker's own blank line before
        else:
            last = max((i for i in range(start, end) if _is_text(lines[i])), default=start - 1)
            at = last + 1
            if at < len(lines) and lines[at].strip():
                new_blocks.append(nl)  # keep a blank line before what follows
            lines[at:at] = new_blocks
    return [
        FileEdit(
            path, before, "".join(lines), f"{reason} in {shown_path(path, package.workspace_root)}"
        )
    ]


def plan_collect_news(
    package: Package,
    version: Version,
    *,
    today: date | None = None,
    pending: Sequence[FileEdit] = (),
) -> list[FileEdit]:
    """The edits that move the package's fragments into the notes of ``version``.

    One edit writes the grouped items into the entry (see
    :func:`plan_entry_groups`); one edit per fragment removes its file.
    No fragments: no edits.
    """
    fragments = read_fragments(package)
    if not fragments:
        return []
    groups: dict[str, list[str]] = {}
    for fragment in fragments:
        groups.setdefault(fragment.kind, []).append(fragment.item)
    count = f"{len(fragments)} news fragment{'s' if len(fragments) != 1 else ''}"
    edits = plan_entry_groups(
        package, version, groups, reason=f"{count} collected", today=today, pending=pending
    )
    folder = shown_path(news_dir(package), package.workspace_root)
    for fragment in fragments:
        edits.append(
            FileEdit(
                fragment.path,
                fragment.text,
                "",
                f"collected into the notes of {version} (from {folder}/)",
                removes=True,
            )
        )
    return edits


# --- the CI check --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewsCheck:
    """What ``invoke news --check`` found for one package."""

    package: Package
    base: str | None  # the tag or ref compared against; None: nothing to compare with
    changed: tuple[str, ...] = ()  # source paths changed since base (workspace-relative)
    fragments: tuple[str, ...] = ()  # fragment files added since base
    notes: tuple[str, ...] = ()  # release-notes files edited since base (a bump, by hand)

    @property
    def ok(self) -> bool:
        return self.base is None or not self.changed or bool(self.fragments or self.notes)

    def describe(self) -> str:
        """One line for the user."""
        name = self.package.name
        if self.base is None:
            return f"{name}: no release tag yet, nothing to compare with (use --base REF)"
        if not self.changed:
            return f"{name}: no source changes since {self.base}"
        if self.fragments:
            return f"{name}: {len(self.fragments)} news fragment(s) since {self.base}: " + (
                ", ".join(self.fragments)
            )
        if self.notes:
            return f"{name}: release notes edited since {self.base}: {', '.join(self.notes)}"
        return f"{name}: {len(self.changed)} source file(s) changed since {self.base}, no fragment"


def _under(path: str, folder: str) -> bool:
    return folder in {"", "."} or path == folder or path.startswith(folder.rstrip("/") + "/")


def _not_source(workspace: Workspace, package: Package) -> list[str]:
    """Workspace-relative folders and files under a package root that are not its source."""
    rel = "" if package.rel == "." else package.rel
    excluded = [
        p.rel
        for p in workspace.packages
        if p is not package and p.rel != "." and _under(p.rel, rel) and p.rel != package.rel
    ]
    excluded.append(shown_path(news_dir(package), package.workspace_root))
    excluded += [str(PurePosixPath(rel) / folder) if rel else folder for folder in _NOT_SOURCE]
    excluded.append(_notes_place(package))
    return [folder for folder in excluded if folder not in {"", "."}]


def _notes_place(package: Package) -> str:
    """The notes folder (one file per version) or the changelog, workspace-relative."""
    style, template = notes_style(package)
    notes_path = PurePosixPath(shown_path(package.root / template, package.workspace_root))
    return str(notes_path.parent) if style == "notes" else str(notes_path)


def _package_source(workspace: Workspace, package: Package, paths: Sequence[str]) -> list[str]:
    rel = "" if package.rel == "." else package.rel
    excluded = _not_source(workspace, package)
    return [
        path
        for path in paths
        if _under(path, rel)
        and not any(_under(path, folder) for folder in excluded)
        and not path[len(rel) :].lstrip("/").startswith(".")  # .github/, .gitignore...
    ]


def last_release_tag(workspace: Workspace, package: Package) -> str | None:
    """The nearest tag of ``package`` (per its tag-format) reachable from HEAD, or None."""
    pattern = package.tag("*")
    tag = git.last_tag(workspace.root, pattern)
    if tag is None:
        return None
    prefix, _star, suffix = pattern.partition("*")
    try:
        Version(tag[len(prefix) : len(tag) - len(suffix) or None])
    except _InvalidVersion:
        return None
    return tag


def check_news(
    workspace: Workspace, packages: Sequence[Package], *, base: str | None = None
) -> list[NewsCheck]:
    """Compare each package's source against its last tag (or ``base``); need a fragment.

    Returns one :class:`NewsCheck` per package when every package that
    changed also gained a news fragment (or had its release notes edited,
    as a bump does); otherwise raises one
    :class:`~releasekit.errors.NewsError` naming every package that did not.
    Fragment files are validated on the way (a misnamed one is an error).
    """
    results: list[NewsCheck] = []
    cache: dict[str, list[str]] = {}
    for package in packages:
        read_fragments(package)  # a misnamed or empty fragment fails the check too
        ref = base or last_release_tag(workspace, package)
        if ref is None:
            results.append(NewsCheck(package, None))
            continue
        if ref not in cache:
            cache[ref] = git.changed_paths(workspace.root, ref)
        paths = cache[ref]
        folder = shown_path(news_dir(package), package.workspace_root)
        added = tuple(
            path
            for path in paths
            if _under(path, folder)
            and (workspace.root / path).is_file()
            and _FRAGMENT_NAME.match(PurePosixPath(path).name)
            and not PurePosixPath(path).name.startswith(".")
            and not _NOT_FRAGMENTS.match(PurePosixPath(path).name)
        )
        changed = tuple(_package_source(workspace, package, paths))
        place = _notes_place(package)
        notes = tuple(path for path in paths if place not in {"", "."} and _under(path, place))
        results.append(NewsCheck(package, ref, changed, added, notes))
    missing = [r for r in results if not r.ok]
    if missing:
        first = missing[0]
        parts = [
            f"{r.package.name} ({len(r.changed)} file(s) since {r.base}, e.g. {r.changed[0]!r})"
            for r in missing
        ]
        raise NewsError(
            f"no news fragment for {'; '.join(parts)}",
            f'add one in the same change: invoke news "what changed, for users" --type fixed '
            f"--package {first.package.name} [--issue N]",
        )
    return results


# --- conventional commits ------------------------------------------------------------------------


@dataclass(frozen=True)
class CommitDraft:
    """Commit subjects since ``since``, grouped by news type (list items)."""

    since: str | None
    groups: dict[str, list[str]] = field(default_factory=dict)
    commits: int = 0  # commits read
    left_out: int = 0  # commits that are not conventional, or of a type left out


def _pathspecs(workspace: Workspace, package: Package) -> list[str]:
    rel = "" if package.rel == "." else package.rel
    specs = [rel or "."]
    specs += [
        f":(exclude){p.rel}"
        for p in workspace.packages
        if p is not package and p.rel != "." and _under(p.rel, rel) and p.rel != package.rel
    ]
    return specs


def draft_from_commits(
    workspace: Workspace, package: Package, *, since: str | None = None
) -> CommitDraft:
    """Group the conventional-commit subjects touching ``package`` since its last tag.

    ``feat`` -> Added, ``fix`` -> Fixed, ``perf``/``refactor``/``revert`` ->
    Changed, ``deprecate`` -> Deprecated, ``remove`` -> Removed,
    ``security`` -> Security (:data:`COMMIT_TYPES`); a breaking change
    (``feat!:`` or a ``BREAKING CHANGE:`` footer) is flagged **Breaking**.
    """
    ref = since or last_release_tag(workspace, package)
    messages = git.commit_messages(workspace.root, ref, _pathspecs(workspace, package))
    groups: dict[str, list[str]] = {}
    left_out = 0
    for subject, body in reversed(messages):  # oldest first, as the notes read
        match = _CONVENTIONAL.match(subject)
        kind = COMMIT_TYPES.get(match["kind"].lower()) if match else None
        if match is None or kind is None:
            left_out += 1
            continue
        text = match["text"].strip()
        if match["scope"]:
            text = f"{match['scope']}: {text}"
        if match["bang"] or _BREAKING_FOOTER.search(body):
            text = f"**Breaking:** {text}"
        groups.setdefault(kind, []).append(f"- {text}")
    return CommitDraft(ref, groups, len(messages), left_out)


def plan_notes_from_commits(
    workspace: Workspace,
    package: Package,
    version: Version,
    *,
    since: str | None = None,
    today: date | None = None,
) -> tuple[CommitDraft, list[FileEdit]]:
    """The draft, and the edit writing it into the notes entry of ``version``.

    An entry that is already written is left alone (a :class:`NotesError`
    says so); a missing or stub entry gets the grouped subjects.
    """
    draft = draft_from_commits(workspace, package, since=since)
    where = f"since {draft.since}" if draft.since else "in the history (no release tag yet)"
    if not draft.groups:
        raise NotesError(
            f"no conventional commit touching {package.name} {where} "
            f"({draft.commits} commit(s) read)",
            "write the notes by hand (invoke notes), or use subjects like 'fix: ...', 'feat: ...'",
        )
    if notes_state(package, version) == "filled":
        shown = shown_path(notes_location(package, version), package.workspace_root)
        raise NotesError(
            f"the release notes of {package.name} {version} are already written in {shown!r}",
            "see the draft with `invoke notes --from-commits --dry` and merge it by hand",
        )
    edits = plan_entry_groups(
        package,
        version,
        draft.groups,
        reason=f"drafted from {draft.commits - draft.left_out} commit(s) {where}",
        today=today,
    )
    return draft, edits
