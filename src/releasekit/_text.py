"""Small text helpers every message uses: paths as users see them, the tail of a command's output.

Kept in one place so that every error shows a path and quotes a failing command the same way.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["TAIL_LINES", "last_line", "output_tail", "shown_path"]

TAIL_LINES = 20


def shown_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` in posix form when it lies inside it, else as given."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        pass
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def output_tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a command's output, as error messages quote them."""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def last_line(text: str) -> str:
    """The last non-blank line of ``text``, stripped; empty when there is none."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
