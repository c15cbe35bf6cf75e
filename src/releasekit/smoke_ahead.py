"""The smoke test's venv and install, made while the check step runs.

The check step (file names, ``twine check``, metadata, leak-lint) works inside
this process; the smoke step that follows spends most of its time waiting on
processes: ``uv venv`` and the install of the fresh wheel.  The check step
starts that venv and install in the background (:func:`start`), and the
smoke test takes them (:func:`take`) when everything it would install with
is still the same: the same wheel (path, size, modification time), the same
folders, indexes and names.  Otherwise, or when that install failed, the
smoke test makes its own venv as it always did, and reports a failure in its
own words.

Installing a wheel runs none of its code, and the venv is a fresh temporary
folder nobody else uses: when the check step fails, nothing of the package
ran, and the venv is removed when the run ends (:func:`smoke_ahead`), taken
or not.  What the background install logs is held, and shown in the smoke
step's output, where it belongs.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from releasekit.concurrency import Ahead, Outcome, run_held, worker_count

if TYPE_CHECKING:
    from releasekit.venvs import Venv

__all__ = ["Prepared", "pending", "smoke_ahead", "start", "take"]

log = logging.getLogger("releasekit")

Key = tuple[object, ...]


@dataclass
class Prepared:
    """A venv with the wheel installed, in ``work``; ``stack`` removes the folder."""

    work: Path
    venv: Venv
    stack: contextlib.ExitStack[bool | None] = field(repr=False)


def _discard(_: Key, outcome: Outcome[Key, Prepared]) -> None:
    if outcome.value is not None:
        outcome.value.stack.close()


class _Current:
    """The work of the run in progress (one at a time; a run inside a run shares it)."""

    ahead: Ahead[Key, Outcome[Key, Prepared]] | None = None


def wheel_key(wheel: Path, *where: object) -> Key | None:
    """What an install of ``wheel`` depends on (None when the wheel is not there)."""
    try:
        stat = wheel.stat()
    except OSError:
        return None
    return (str(wheel.absolute()), stat.st_size, stat.st_mtime_ns, *map(repr, where))


@contextlib.contextmanager
def smoke_ahead() -> Iterator[None]:
    """Allow :func:`start` inside the block; on leaving, every venv not taken is removed."""
    if _Current.ahead is not None:
        yield
        return
    with Ahead(worker_count(64), discard=_discard, name="releasekit-ahead") as ahead:
        _Current.ahead = ahead
        try:
            yield
        finally:
            _Current.ahead = None


def start(key: Key | None, prepare: Callable[[Path], Venv], what: str) -> None:
    """Run ``prepare(work)`` (make the venv, install the wheel) in the background."""
    ahead = _Current.ahead
    if ahead is None or key is None:
        return

    def run(_: Key) -> Prepared:
        stack = contextlib.ExitStack()
        try:
            folder = tempfile.TemporaryDirectory(prefix="releasekit-smoke-")
            work = Path(stack.enter_context(folder))
            return Prepared(work, prepare(work), stack)
        except BaseException:
            stack.close()
            raise

    if ahead.start(key, lambda key: run_held(key, run)):
        log.debug("the smoke test's venv for %s: made while the checks run", what)


def take(key: Key | None, what: str) -> Prepared | None:
    """The venv :func:`start` made for exactly ``key``, its log lines shown now; else None."""
    ahead = _Current.ahead
    outcome = ahead.take(key) if ahead is not None and key is not None else None
    if outcome is None:
        return None
    if outcome.error is not None or outcome.value is None:
        log.debug("the smoke test's venv made ahead for %s failed: making it again", what)
        return None
    outcome.replay()
    return outcome.value


def pending() -> int:
    """How many venvs were made ahead and not taken yet."""
    return 0 if _Current.ahead is None else _Current.ahead.pending()
