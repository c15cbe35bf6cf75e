"""Progress events: byte counts of transfers, waits, and blocks of lines that belong together.

Core modules never draw anything: they report progress here, as records on
the ``releasekit.progress`` logger (DEBUG, so a plain logging setup never
shows them), and an adapter's handler (:mod:`releasekit.console`) draws a
bar on a terminal or one line at each end in a CI log.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = [
    "MIN_BYTES",
    "Transfer",
    "Wait",
    "Waiting",
    "byte_meter",
    "current_group",
    "grouped",
    "transfer_meter",
]

log = logging.getLogger("releasekit.progress")

MIN_BYTES = 3_000_000  # smaller files take no time worth a bar
_STEPS = 100  # at most this many progress records per transfer

_ids = itertools.count(1)
_group: contextvars.ContextVar[str | None] = contextvars.ContextVar("rk_group", default=None)


@dataclass(frozen=True)
class Transfer:
    """A moment of one file's transfer: ``done`` of ``total`` bytes."""

    key: int
    verb: str  # "upload" or "download"
    name: str  # the file name
    where: str  # "to local", "from pypi"
    done: int
    total: int
    seconds: float  # since the start
    finished: bool = False


@dataclass(frozen=True)
class Waiting:
    """A wait that may be long (an index listing a new version); ``finished`` at its end."""

    key: int
    what: str  # "local to list oxi-core 0.1.0a2 (up to 180 s)"
    seconds: float  # waited so far
    finished: bool = False


def _emit(event: Transfer | Waiting | tuple[str, bool], message: str) -> None:
    log.debug(message, extra={"releasekit_event": event})


def transfer_meter(
    verb: str, name: str, where: str, total: int, *, min_bytes: int = MIN_BYTES
) -> Callable[[int], None] | None:
    """A callback taking bytes done so far, or None for a file under ``min_bytes``.

    It reports the start, every hundredth of the way, and the end (``done == total``).
    """
    if total < min_bytes:
        return None
    key = next(_ids)
    start = time.monotonic()
    step = max(total // _STEPS, 1)
    last = -step

    def report(done: int) -> None:
        nonlocal last
        finished = done >= total
        if done - last < step and not finished and done:
            return
        if finished and last >= total:
            return  # the end is reported once
        last = done
        event = Transfer(key, verb, name, where, done, total, time.monotonic() - start, finished)
        _emit(event, f"{verb} {name} {where}: {done} of {total} bytes")

    report(0)
    return report


def byte_meter(verb: str, name: str, where: str) -> Callable[[int, int], None]:
    """A ``(done, total)`` callback for a transfer whose size is known once it starts."""
    meter: Callable[[int], None] | None = None
    started = False

    def report(done: int, total: int) -> None:
        nonlocal meter, started
        if not started:
            started, meter = True, transfer_meter(verb, name, where, total)
        if meter is not None:
            meter(done)

    return report


class Wait:
    """A wait that may be long: :meth:`tick` at each look (the first starts it); :meth:`close`."""

    def __init__(self, what: str) -> None:
        self.key = next(_ids)
        self.what = what
        self.seconds = 0.0
        self.started = False

    def tick(self, seconds: float) -> None:
        self.started, self.seconds = True, seconds
        _emit(Waiting(self.key, self.what, seconds), f"waiting for {self.what}: {seconds:.0f} s")

    def close(self) -> None:
        if self.started:
            self.started = False
            _emit(Waiting(self.key, self.what, self.seconds, finished=True), "done waiting")


@contextlib.contextmanager
def grouped(name: str) -> Iterator[None]:
    """Lines logged inside (in this thread or context) are shown together, at the end.

    Work run side by side (verify's wheel and sdist) then reads as one block
    each instead of interleaved lines.
    """
    key = f"{name}#{next(_ids)}"
    token = _group.set(key)
    try:
        yield
    finally:
        _group.reset(token)
        _emit((key, True), f"end of {name}")


def current_group() -> str | None:
    """The group the calling context's log lines belong to, if any."""
    return _group.get()
