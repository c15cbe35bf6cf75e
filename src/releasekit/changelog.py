"""The structure of a changelog: its headings, and the section of each version.

Markdown (ATX ``##`` and setext underlines) and reStructuredText headings,
and bare ``1.2.3 (2024-01-01)`` lines, are read the way a reader sees them;
:func:`read_sections` finds the version (and Unreleased) sections, and
:func:`new_heading` writes a new one like the newest one there.  Pure text
functions: :mod:`releasekit.notes` reads and plans the files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import packaging.version
from packaging.version import Version

__all__ = [
    "Heading",
    "Section",
    "heading_lines",
    "is_content",
    "is_heading",
    "is_text_line",
    "is_unreleased",
    "label_version",
    "new_heading",
    "newline",
    "read_headings",
    "read_sections",
    "version_section",
]

_ATX_HEADING = re.compile(r"^(?P<marks>#{1,6})[ \t]+(?P<label>.*?)[ \t#]*$")
_UNDERLINE = re.compile(r"^(?P<char>[=\-~^\"'`*+#:.])(?P=char){2,}[ \t]*$")
_PLAIN_VERSION_LINE = re.compile(r"^v?\d+(?:\.\d+)+\S*[ \t]+\(\d{4}-\d\d-\d\d\)[ \t]*$")
_VERSION_TOKEN = re.compile(
    r"v?(?P<version>\d+(?:\.\d+)+(?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|post|dev)\d*)*)"
)
_DATE = re.compile(r"\d{4}-\d\d-\d\d")
_UNRELEASED_LABELS = ("unreleased", "upcoming", "next release", "in development", "dev", "main")
_LINK_REFERENCE = re.compile(r"^\[[^\]]+\]:\s*\S")


def newline(text: str) -> str:
    """The line ending ``text`` uses (CRLF or LF), for the lines added to it."""
    return "\r\n" if "\r\n" in text else "\n"


def is_heading(line: str) -> bool:
    """A Markdown heading (``#``) or a reStructuredText/setext underline."""
    return line.lstrip().startswith("#") or bool(_UNDERLINE.match(line.strip()))


def is_content(line: str) -> bool:
    """A line that says something: not blank, not a heading, not a link reference."""
    stripped = line.strip()
    return bool(stripped) and not is_heading(stripped) and not _LINK_REFERENCE.match(stripped)


def is_text_line(line: str) -> bool:
    """Not blank and not a link reference: what a new block goes after."""
    stripped = line.strip()
    return bool(stripped) and not _LINK_REFERENCE.match(stripped)


@dataclass(frozen=True)
class Heading:
    """A heading: lines ``[start, body)`` (an over- and underline included), its text, style.

    ``style`` is ``#``, ``##``... for ATX headings, the underline character (with
    ``o`` before it when overlined) for setext and reStructuredText headings, and
    ``plain`` for a bare ``1.2.3 (2024-01-01)`` line.
    """

    start: int
    body: int
    label: str
    style: str


@dataclass(frozen=True)
class Section:
    """A changelog section: its heading, and lines ``[body, end)`` under it."""

    heading: Heading
    end: int

    @property
    def body(self) -> int:
        return self.heading.body


def read_headings(lines: Sequence[str]) -> list[Heading]:
    """Every heading of a Markdown or reStructuredText document, in order."""
    found: list[Heading] = []
    fenced = False
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r\n")
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if fenced:
            i += 1
            continue
        atx = _ATX_HEADING.match(line)
        following = lines[i + 1].rstrip("\r\n") if i + 1 < len(lines) else ""
        under = _UNDERLINE.match(following)
        text = line.strip()
        if atx:
            found.append(Heading(i, i + 1, atx["label"], atx["marks"]))
        elif (
            under
            and text
            and not _UNDERLINE.match(line)
            and not line[0].isspace()
            and not text.startswith(("- ", "* ", "+ "))
        ):
            over = i > 0 and lines[i - 1].strip() == following.strip()
            start = i - 1 if over else i
            if found and found[-1].start == start:  # an overline read as an underline
                found.pop()
            style = ("o" if over else "") + under["char"]
            found.append(Heading(start, i + 2, text, style))
            i += 2
            continue
        elif _PLAIN_VERSION_LINE.match(line):
            found.append(Heading(i, i + 1, text, "plain"))
        i += 1
    return found


def label_version(label: str) -> Version | None:
    """The version a heading names (``[1.2.3] - 2024-01-01``, ``v1.2.3``, ``1.2.3 (...)``)."""
    words = label.replace("[", " ").replace("]", " ").split()
    for word in words[:3]:
        match = _VERSION_TOKEN.fullmatch(word.rstrip(":,"))
        if match:
            try:
                return Version(match["version"])
            except packaging.version.InvalidVersion:
                return None
    return None


def is_unreleased(label: str) -> bool:
    text = label.strip().strip("[]").strip().lower()
    return text.startswith("unreleased") or text in _UNRELEASED_LABELS


def read_sections(lines: Sequence[str]) -> list[tuple[str, Section]]:
    """The version (and Unreleased) sections of a changelog: (label, section), in order.

    The version headings are those in the style of the first heading naming a
    version or Unreleased; a section ends at the next heading of that style or
    of a style met earlier in the document (a higher level).
    """
    headings = read_headings(lines)
    versioned = [h for h in headings if label_version(h.label) or is_unreleased(h.label)]
    marked = [h for h in versioned if h.style != "plain"] or versioned
    if not marked:
        return []
    style = marked[0].style
    rank = {h.style: n for n, h in reversed(list(enumerate(headings)))}
    found = []
    ours = [h for h in headings if h.style == style]
    for heading in ours:
        later = [h for h in headings if h.start > heading.start]
        end = next((h.start for h in later if rank[h.style] <= rank[style]), len(lines))
        found.append((heading.label, Section(heading, end)))
    return found


def version_section(lines: Sequence[str], version: Version) -> Section | None:
    for label, section in read_sections(lines):
        if label_version(label) == version:
            return section
    return None


def heading_lines(style: str, label: str, nl: str) -> list[str]:
    if style == "plain":
        return [label + nl]
    if style.startswith("#"):
        return [f"{style} {label}{nl}"]
    rule = style[-1] * max(len(label), 3)
    return ([rule + nl] if style.startswith("o") else []) + [label + nl, rule + nl]


def new_heading(
    sections: Sequence[tuple[str, Section]], version: Version, day: str
) -> tuple[str, str]:
    """(style, label) of a new version heading, written like the newest one there."""
    previous = next((s.heading for label, s in sections if label_version(label)), None)
    if previous is not None:
        match = next(
            m
            for word in previous.label.replace("[", " ").replace("]", " ").split()
            if (m := _VERSION_TOKEN.fullmatch(word.rstrip(":,")))
        )
        old = match["version"]
        label = previous.label.replace(old, str(version), 1)
        label = _DATE.sub(day, label, count=1)
        return previous.style, label
    if sections:
        style = sections[0][1].heading.style
        if style.startswith("#") and "[" in sections[0][0]:
            return style, f"[{version}] - {day}"
        return style, f"{version} ({day})"
    return "##", f"[{version}] - {day}"
