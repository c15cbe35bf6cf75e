"""Interruption leaves nothing behind: SIGTERM and SIGHUP unwind like Ctrl-C does.

Python turns SIGINT into :class:`KeyboardInterrupt`, raised wherever the
program is, so every ``with`` block on the way out runs its cleanup: the
embedded index is stopped by its process id, temporary folders are removed.
SIGTERM (``kill``, a CI runner cancelling a job) and SIGHUP (a closed
terminal or SSH session) would end the process on the spot instead, leaving
all of that behind.  Inside :func:`unwind_on_signals` they raise
:class:`~releasekit.errors.Interrupted` (a ``KeyboardInterrupt``) the same
way.

SIGKILL cannot be caught: for it, the embedded index watches its parent and
exits on its own (see :mod:`releasekit._embedded_pypiserver`).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

from releasekit.errors import Interrupted

__all__ = ["CAUGHT_SIGNALS", "unwind_on_signals"]

log = logging.getLogger("releasekit")

CAUGHT_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextlib.contextmanager
def unwind_on_signals() -> Iterator[None]:
    """Inside the block, SIGTERM and SIGHUP raise :class:`Interrupted` in the main thread.

    The first signal raises; one arriving while the program unwinds is
    logged and ignored, so the cleanup it started is not cut short.  The
    previous handlers are restored on exit.  Outside the main thread (where
    Python cannot set handlers) the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if received:
            log.warning("%s received while stopping: still cleaning up", name)
            return
        received.append(signum)
        log.warning("%s received: stopping, cleaning up", name)
        raise Interrupted(signum, name)

    previous: dict[signal.Signals, Any] = {}
    try:
        for sig in CAUGHT_SIGNALS:
            previous[sig] = signal.signal(sig, handler)
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
