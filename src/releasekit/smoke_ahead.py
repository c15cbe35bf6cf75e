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
import contextvars
import logging
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from releasekit.concurrency import Outcome, held_logs, run_held, worker_count

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


@dataclass
class _Scope:
    pool: ThreadPoolExecutor
    running: dict[Key, Future[Outcome[Key, Prepared]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Current:
    """The scope of the run in progress (one at a time; a run inside a run shares it)."""

    scope: _Scope | None = None


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
    if _Current.scope is not None:
        yield
        return
    pool = ThreadPoolExecutor(max_workers=worker_count(64), thread_name_prefix="releasekit-ahead")
    scope = _Current.scope = _Scope(pool)
    try:
        with held_logs():
            yield
    finally:
        _Current.scope = None
        pool.shutdown(wait=True)
        for future in scope.running.values():
            _discard(future)


def start(key: Key | None, prepare: Callable[[Path], Venv], what: str) -> None:
    """Run ``prepare(work)`` (make the venv, install the wheel) in the background."""
    scope = _Current.scope
    if scope is None or key is None:
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

    with scope.lock:
        if key in scope.running:
            return
        scope.running[key] = scope.pool.submit(contextvars.copy_context().run, run_held, key, run)
    log.debug("the smoke test's venv for %s: made while the checks run", what)


def take(key: Key | None, what: str) -> Prepared | None:
    """The venv :func:`start` made for exactly ``key``, its log lines shown now; else None."""
    scope = _Current.scope
    if scope is None or key is None:
        return None
    with scope.lock:
        future = scope.running.pop(key, None)
    if future is None:
        return None
    outcome = future.result()
    if outcome.error is not None or outcome.value is None:
        log.debug("the smoke test's venv made ahead for %s failed: making it again", what)
        return None
    outcome.replay()
    return outcome.value


def pending() -> int:
    """How many venvs were made ahead and not taken yet."""
    scope = _Current.scope
    return 0 if scope is None else len(scope.running)


def _discard(future: Future[Outcome[Key, Prepared]]) -> None:
    with contextlib.suppress(BaseException):
        outcome = future.result()
        if outcome.value is not None:
            outcome.value.stack.close()
