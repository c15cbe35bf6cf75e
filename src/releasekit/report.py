"""Plain-text rendering shared by core and adapters: tables, pairs, durations, sizes.

Tables are laid out by rich and returned as plain text, so a core module can
put one in a message: long cells wrap within :func:`output_width` columns
(``COLUMNS``, else the terminal's, else 100 in a pipe or CI log) instead of
being cut.
"""

from __future__ import annotations

import io
import os
import sys
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.box import Box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from releasekit.status import PackageStatus
    from releasekit.workspace import Package

__all__ = [
    "format_duration",
    "format_pairs",
    "format_size",
    "format_status",
    "format_table",
    "output_width",
    "show_progress",
]

PIPE_WIDTH = 100  # a CI log or a pipe: no terminal to ask
_MIN_WIDTH = 40
_INDENT = 2  # a table inside a failure block is indented this much: it still fits

# a rule of dashes under the header row, nothing else
_HEADER_RULE = Box("    \n    \n -  \n    \n    \n    \n    \n    \n", ascii=True)


def output_width() -> int:
    """Columns to lay text out in: ``COLUMNS``, else the terminal's, else 100."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return max(int(columns), _MIN_WIDTH)
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream.isatty():
                return max(os.get_terminal_size(stream.fileno()).columns, _MIN_WIDTH)
        except (AttributeError, ValueError, OSError):  # closed, or not a real file
            continue
    return PIPE_WIDTH


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], *, width: int | None = None
) -> str:
    """A left-aligned text table with a rule under the headers.

    Cells too long for ``width`` (default: :func:`output_width` less room for an
    indent) wrap within their column; nothing is cut off.
    """
    table = Table(
        box=_HEADER_RULE, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), header_style=None
    )
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    room = width or output_width() - _INDENT
    widths = _column_widths(cells, room)
    for n, header in enumerate(cells[0]):
        table.add_column(header, overflow="fold", width=widths[n] if widths else None)
    for row in cells[1:]:
        table.add_row(*row)
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=room,
        color_system=None,
        force_terminal=False,
        legacy_windows=False,
        highlight=False,
        markup=False,
        emoji=False,
    )
    console.print(table)
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    if len(lines) > 1:  # the rule stops where each header's column does, two spaces apart
        lines[1] = lines[1].replace("- ", "  ")
    return "\n".join(lines)


def _column_widths(cells: Sequence[Sequence[str]], room: int) -> list[int] | None:
    """Column widths within ``room`` that break no word, widest columns giving way first.

    None when the table fits as it is, or when even its longest words do not
    fit (then rich folds them).
    """
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    least = [
        max(len(word) for row in cells for word in row[i].split() or [""])
        for i in range(len(widths))
    ]
    gaps = 2 * (len(widths) - 1)
    if sum(widths) + gaps <= room or sum(least) + gaps > room:
        return None
    while sum(widths) + gaps > room:
        widest = max(
            (i for i in range(len(widths)) if widths[i] > least[i]), key=widths.__getitem__
        )
        widths[widest] -= 1
    return widths


def format_pairs(rows: Sequence[tuple[str, str]], *, width: int | None = None) -> str:
    """``label  value`` lines with the values aligned; a long value wraps under itself."""
    labels = max((len(label) for label, _ in rows), default=0)
    room = max((width or output_width()) - labels - 2, 20)
    lines = []
    for label, value in rows:
        wrapped = textwrap.wrap(value, room, break_on_hyphens=False) or [""]
        lines.append(f"{label.ljust(labels)}  {wrapped[0]}".rstrip())
        lines += [" " * (labels + 2) + more for more in wrapped[1:]]
    return "\n".join(lines)


def format_status(states: Sequence[PackageStatus], loops: Sequence[Sequence[Package]]) -> str:
    """``invoke status``: a block of pairs per package, then the sibling loops."""
    blocks = []
    for state in states:
        rows: list[tuple[str, str]] = [
            ("version at source", state.version),
            ("version source", state.source),
            ("version literals", "; ".join(state.literals) or "none"),
            ("tag", f"{state.tag} ({state.tag_state})"),
            ("release notes", state.notes),
            *((f"latest on {k}", v) for k, v in state.indexes.items()),
            ("sibling pins", state.pins),
            ("marked by rollback", ", ".join(state.marked) or "none"),
            ("next action", state.next_action),
        ]
        blocks.append(f"{state.package.name} ({state.package.rel})\n{format_pairs(rows)}\n")
    if loops:
        blocks.append(
            "sibling loops through extras or dependency groups "
            "(allowed; releases follow runtime requirements):\n"
            + "\n".join("  " + " -> ".join(p.name for p in loop) for loop in loops)
        )
    return "\n".join(blocks)


def format_duration(seconds: float) -> str:
    """``0.4 s``, ``12.0 s``, ``2 min 05 s``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def format_size(size: float) -> str:
    """``512 B``, ``3.4 kB``, ``52.4 MB`` (decimal units, as rich's progress columns)."""
    for unit in ("B", "kB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def show_progress(*args: object, **kwargs: object) -> None:
    """Moved to :func:`releasekit.console.show_progress` (kept for old imports)."""
    from releasekit.console import show_progress as show

    show(*args, **kwargs)  # type: ignore[arg-type]
