"""Planned file changes, applied all or nothing.

Every command that edits the repository (bump, notes, errata) first *plans*
its changes as :class:`FileEdit` values: the file, its text now, its text
after, and one line telling the user why.  A plan can be shown (``--dry``)
without touching anything; :func:`apply_edits` then writes it atomically
across files: either every file gets its new text, or every file keeps its
old bytes (also when Ctrl-C arrives halfway).

Texts are read and written as UTF-8 without newline translation, so a file
keeps its ``\\n`` or ``\\r\\n`` line endings.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
import secrets
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from releasekit.errors import EditFailed

__all__ = ["FileEdit", "apply_edits", "merge_edits", "planned_text", "read_text"]

log = logging.getLogger("releasekit")


@dataclass(frozen=True)
class FileEdit:
    """One planned change of one file.

    ``before`` is the text the plan was made from (``None``: the file is
    created); ``after`` the text to write; ``reason`` one line for the user,
    such as ``"oxi-core version 0.1.0a1 -> 0.1.0a2"``.  With ``removes`` the
    file is deleted instead (``after`` is then ``""``).
    """

    path: Path
    before: str | None
    after: str
    reason: str
    removes: bool = False

    def __post_init__(self) -> None:
        if not self.path.is_absolute():
            raise ValueError(f"FileEdit.path must be absolute, not {str(self.path)!r}")

    @property
    def creates(self) -> bool:
        """True when the edit creates a file that does not exist yet."""
        return self.before is None

    def diff(self, root: Path | None = None) -> str:
        """A unified diff of the edit, paths shown relative to ``root`` when given."""
        shown = self.path.as_posix()
        if root is not None:
            with contextlib.suppress(ValueError):
                shown = self.path.relative_to(root).as_posix()
        before_lines = (self.before or "").splitlines(keepends=True)
        after_lines = self.after.splitlines(keepends=True)
        return "".join(
            difflib.unified_diff(
                before_lines,
                after_lines,
                fromfile="/dev/null" if self.before is None else f"a/{shown}",
                tofile="/dev/null" if self.removes else f"b/{shown}",
            )
        )


def read_text(path: Path) -> str | None:
    """The text of ``path`` exactly as stored (UTF-8, newlines untouched), or None if missing."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EditFailed(
            f"cannot read {str(path)!r}: {exc.strerror or exc}",
            "make it a readable file (or move what is in the way) and run the command again",
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EditFailed(
            f"{str(path)!r} is not UTF-8 text (byte {exc.start})",
            "save the file as UTF-8 and run the command again",
        ) from None


def planned_text(path: Path, pending: Sequence[FileEdit] = ()) -> str | None:
    """The text ``path`` will have once ``pending`` is applied (else its text on disk).

    Planners take ``pending`` so that a second plan of the same file builds
    on the first; :func:`merge_edits` then folds the two into one edit.
    """
    for edit in reversed(pending):
        if _same_file(edit.path, path):
            return None if edit.removes else edit.after
    return read_text(path)


def _same_file(a: Path, b: Path) -> bool:
    return a == b or a.resolve() == b.resolve()


def merge_edits(edits: Sequence[FileEdit]) -> list[FileEdit]:
    """Fold several edits of one file into one, keeping the order of first appearance.

    A later edit of a file must have been planned on top of the earlier one
    (its ``before`` is the earlier ``after``, see :func:`planned_text`);
    otherwise applying both would silently lose a change, so it is refused.
    """
    merged: dict[Path, FileEdit] = {}
    for edit in edits:
        key = edit.path.resolve()
        first = merged.get(key)
        if first is None:
            merged[key] = edit
            continue
        if edit.before != (None if first.removes else first.after):
            raise ValueError(
                f"two planned edits of {str(edit.path)!r} do not build on each other "
                f"({first.reason!r}, {edit.reason!r}); plan the second with pending=[first]"
            )
        merged[key] = FileEdit(
            first.path,
            first.before,
            edit.after,
            f"{first.reason}; {edit.reason}",
            removes=edit.removes,
        )
    return list(merged.values())


@dataclass
class _Step:
    """Book-keeping of one edit while it is applied."""

    edit: FileEdit
    original: bytes | None  # None: the file did not exist
    mode: int
    temp: Path | None = None
    attempted: bool = False  # its replace was started
    backup: Path | None = None  # a removed file, moved aside until every edit is done

    @property
    def replaced(self) -> bool:
        """True once the new text is in place: the atomic rename consumed the temporary."""
        if self.edit.removes:
            return self.backup is not None and self.backup.exists()
        return self.attempted and (self.temp is None or not self.temp.exists())


def _check(edit: FileEdit) -> _Step:
    """Refuse an edit whose ``before`` no longer matches the file on disk."""
    path = edit.path
    if path.is_dir():
        raise EditFailed(
            f"{str(path)!r} is a directory, not the file the plan expects",
            "move the directory out of the way and run the command again",
        )
    now = read_text(path)
    if now != edit.before:
        if edit.before is None:
            what = "now exists"
        elif now is None:
            what = "was deleted"
        else:
            what = "was changed"
        raise EditFailed(
            f"{str(path)!r} {what} since the edit was planned ({edit.reason})",
            "nothing was written; run the command again to plan from the current files",
        )
    if now is None:
        return _Step(edit, None, 0o666)
    return _Step(edit, path.read_bytes(), stat.S_IMODE(path.stat().st_mode))


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` (which must not exist) holding ``data``, flushed to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.releasekit-{secrets.token_hex(4)}.tmp")


def _make_parents(path: Path, created: list[Path]) -> None:
    missing = [p for p in reversed(path.parents) if not p.exists()]
    for directory in missing:
        directory.mkdir()
        created.append(directory)


def _restore(steps: Sequence[_Step], created_dirs: Sequence[Path]) -> list[str]:
    """Put every replaced file back and clear temporaries; returns what could not be undone."""
    problems: list[str] = []
    for step in reversed(steps):
        path = step.edit.path
        if not step.replaced:
            if step.temp is not None:
                with contextlib.suppress(OSError):
                    step.temp.unlink()
            continue
        try:
            if step.backup is not None:
                step.backup.replace(path)
            elif step.original is None:
                path.unlink()
            else:
                back = _temp_beside(path)
                _write_new(back, step.original, step.mode)
                try:
                    back.replace(path)
                except OSError:
                    back.unlink()
                    path.write_bytes(step.original)
        except OSError as exc:
            problems.append(f"{path}: {exc}")
    for directory in reversed(created_dirs):
        with contextlib.suppress(OSError):
            directory.rmdir()
    return problems


def apply_edits(edits: Sequence[FileEdit]) -> None:
    """Write every edit, or none.

    First every ``before`` is compared with the file on disk (a file changed
    since planning is an :class:`~releasekit.errors.EditFailed` and nothing is
    written).  Then each new text goes to a temporary file in the same
    directory, and the temporaries replace their files one by one; a file to
    remove is moved aside, and deleted only once every edit is in place.  If
    anything fails, or a KeyboardInterrupt arrives, the files already replaced
    get their old bytes back, created files and directories are removed, and
    the error is raised again (an ``OSError`` as ``EditFailed``).
    """
    steps = [_check(edit) for edit in merge_edits(edits)]
    steps = [s for s in steps if s.edit.before != (None if s.edit.removes else s.edit.after)]
    created_dirs: list[Path] = []
    try:
        for step in steps:
            path = step.edit.path
            if step.edit.removes:
                continue  # removed in the second pass
            _make_parents(path, created_dirs)
            temp = step.temp = _temp_beside(path)
            _write_new(temp, step.edit.after.encode("utf-8"), step.mode)
            if step.original is not None:
                temp.chmod(step.mode)  # exactly the old mode, whatever the umask
        for step in steps:
            step.attempted = True
            if step.edit.removes:
                step.backup = _temp_beside(step.edit.path)
                step.edit.path.replace(step.backup)
                log.debug("removed %s (%s)", step.edit.path, step.edit.reason)
                continue
            if step.temp is not None:
                step.temp.replace(step.edit.path)
            log.debug("wrote %s (%s)", step.edit.path, step.edit.reason)
    except BaseException as exc:
        problems = _restore(steps, created_dirs)
        if problems:
            log.error("could not restore every file: %s", "; ".join(problems))
            if isinstance(exc, OSError):
                raise EditFailed(
                    f"could not write {str(exc.filename)!r}: {exc.strerror or exc}; "
                    f"and could not restore: {'; '.join(problems)}",
                    "compare the files named with `git diff` and restore them by hand",
                ) from exc
        elif isinstance(exc, OSError):
            raise EditFailed(
                f"could not write {str(exc.filename)!r}: {exc.strerror or exc}; "
                "no file was changed",
                "fix the cause (permissions, disk space, a path in the way) and run again",
            ) from exc
        raise
    for step in steps:
        if step.backup is not None:
            with contextlib.suppress(OSError):
                step.backup.unlink()
