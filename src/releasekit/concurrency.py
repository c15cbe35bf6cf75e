"""One step for several packages at once, each package's output kept in one block.

:func:`run_concurrently` runs ``action(item)`` for every item in a thread pool
bounded by the cores.  What each item's thread logs (and the threads it starts
in a copy of its context, as verify does) is held back; the outcomes come back
in the items' order, each with its held log records, which
:meth:`Outcome.replay` hands to the log's handlers.  A caller that says what
starts, replays, then says how it ended, item after item, prints what a run
one after another would print: one block per item, never interleaved lines.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["Ahead", "Outcome", "held_logs", "run_concurrently", "run_held", "worker_count"]

Item = TypeVar("Item")
Value = TypeVar("Value")
Key = TypeVar("Key", bound=Hashable)

Held = list[tuple[logging.Handler, logging.LogRecord]]

# The held records of the item whose action runs in this context (None: emit at once).
_HELD: contextvars.ContextVar[Held | None] = contextvars.ContextVar("releasekit_held", default=None)


@dataclass
class Outcome(Generic[Item, Value]):
    """How one item's action ended: its value or its exception, its time, its output."""

    item: Item
    value: Value | None = None
    error: BaseException | None = None
    seconds: float = 0.0
    held: Held = field(default_factory=list, repr=False)

    def replay(self) -> None:
        """Hand the held log records to their handlers, in the order they were logged."""
        held, self.held = self.held, []
        for handler, record in held:
            handler.handle(record)


class _Hold(logging.Filter):
    """On one handler: a record logged for an item running concurrently waits for replay."""

    def __init__(self, handler: logging.Handler) -> None:
        super().__init__()
        self.handler = handler

    def filter(self, record: logging.LogRecord) -> bool:
        held = _HELD.get()
        if held is None:
            return True
        held.append((self.handler, record))
        return False


def _handlers() -> list[logging.Handler]:
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    return list(dict.fromkeys(handler for logger in loggers for handler in logger.handlers))


@contextlib.contextmanager
def held_logs() -> Iterator[None]:
    """Inside the block, records logged under :func:`run_held` wait for their replay."""
    holds = [_Hold(handler) for handler in _handlers()]
    for hold in holds:
        hold.handler.addFilter(hold)
    try:
        yield
    finally:
        for hold in holds:
            hold.handler.removeFilter(hold)


def worker_count(items: int) -> int:
    """Threads for ``items`` items: one each, at most one per core."""
    return max(1, min(items, os.cpu_count() or 1))


def run_held(item: Item, action: Callable[[Item], Value]) -> Outcome[Item, Value]:
    """``action(item)`` with its log records held in the outcome (run it in its own context:
    ``contextvars.copy_context().run(run_held, item, action)``); never raises."""
    outcome: Outcome[Item, Value] = Outcome(item)
    _HELD.set(outcome.held)  # this thread runs in its own copy of the caller's context
    started = time.monotonic()
    try:
        outcome.value = action(item)
    except BaseException as exc:  # handed to the caller, in the items' order
        outcome.error = exc
    outcome.seconds = time.monotonic() - started
    return outcome


def run_concurrently(
    items: Sequence[Item], action: Callable[[Item], Value]
) -> Iterator[Outcome[Item, Value]]:
    """``action(item)`` for every item, at most one thread per core; outcomes in order.

    Every item runs to its end (a failure of one does not cancel the others);
    each outcome is yielded once it and every item before it have ended, with
    its log records held until the caller calls :meth:`Outcome.replay`.  Each
    thread runs in a copy of the caller's context (deadlines go with it).
    """
    from concurrent.futures import ThreadPoolExecutor  # deferred: a noxfile imports us

    with (
        held_logs(),
        ThreadPoolExecutor(
            max_workers=worker_count(len(items)), thread_name_prefix="releasekit-step"
        ) as pool,
    ):
        running = [
            pool.submit(contextvars.copy_context().run, run_held, item, action) for item in items
        ]
        for future in running:
            yield future.result()


class Ahead(Generic[Key, Value]):
    """Work started before it is needed, in background threads; each result taken once.

    :meth:`start` runs ``action(key)`` in a pool of ``workers`` threads (in order,
    each in a copy of the caller's context: a deadline goes along); :meth:`take`
    waits for it and returns its value (or raises what it raised), or None when
    nothing was started under that key or it was taken already.  Inside the
    ``with`` block, what an action logs under :func:`run_held` is held.  Leaving
    the block cancels what has not started, waits for the rest, and hands every
    value nobody took to ``discard`` (a temporary folder to remove, a server to
    stop).  The smoke venvs made during check, the build environments prepared
    during preflight and verify's venvs are such work.
    """

    def __init__(
        self,
        workers: int,
        *,
        discard: Callable[[Key, Value], None] | None = None,
        name: str = "releasekit-ahead",
    ) -> None:
        from concurrent.futures import ThreadPoolExecutor  # deferred: a noxfile imports us

        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name)
        self._futures: dict[Key, Future[Value]] = {}
        self._lock = threading.Lock()
        self._discard = discard
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Ahead[Key, Value]:
        self._stack.enter_context(held_logs())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.close()
        finally:
            self._stack.close()

    def start(self, key: Key, action: Callable[[Key], Value]) -> bool:
        """Start ``action(key)``; False when work under ``key`` is already there."""
        with self._lock:
            if key in self._futures:
                return False
            run = contextvars.copy_context().run
            self._futures[key] = self._pool.submit(run, action, key)
        return True

    def take(self, key: Key) -> Value | None:
        """The value of the work under ``key`` (waited for), once; None if there is none."""
        with self._lock:
            future = self._futures.pop(key, None)
        return None if future is None else future.result()

    def pending(self) -> int:
        """How many results were started and not taken."""
        with self._lock:
            return len(self._futures)

    def close(self) -> None:
        """Cancel what has not started, wait for the rest, discard what nobody took."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            left, self._futures = list(self._futures.items()), {}
        for key, future in left:
            if future.cancelled() or future.exception() is not None:
                continue
            if self._discard is not None:
                with contextlib.suppress(Exception):
                    self._discard(key, future.result())
