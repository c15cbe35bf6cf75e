"""Plain-text rendering shared by the adapters: tables, durations, log handler."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TextIO

__all__ = ["format_duration", "format_pairs", "format_table", "show_progress"]


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A left-aligned text table with a rule under the headers."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_pairs(rows: Sequence[tuple[str, str]]) -> str:
    """``label  value`` lines with the values aligned."""
    width = max((len(label) for label, _ in rows), default=0)
    return "\n".join(f"{label.ljust(width)}  {value}".rstrip() for label, value in rows)


def format_duration(seconds: float) -> str:
    """``0.4 s``, ``12.0 s``, ``2 min 05 s``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes releasekit's progress lines; marks this handler so it is added once."""

    releasekit_progress = True


def show_progress(stream: TextIO | None = None, *, debug: bool = False) -> None:
    """Send the ``releasekit`` logger's INFO lines to ``stream`` (stderr by default)."""
    logger = logging.getLogger("releasekit")
    logger.setLevel(logging.DEBUG if debug else logging.INFO)
    for handler in list(logger.handlers):
        if getattr(handler, "releasekit_progress", False):
            logger.removeHandler(handler)
    handler = _Handler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    # HTTP libraries' connection chatter is not progress (nox shows DEBUG records otherwise)
    for name in ("urllib3", "requests", "keyring", "sigstore", "tuf", "securesystemslib"):
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)
