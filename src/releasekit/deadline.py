"""Total deadlines: a budget of seconds that every wait inside a block draws from.

``verify --timeout 10`` means ten seconds for the whole verification: the
waits for the index, every listing and download, and every install, build
and smoke command run as a subprocess.  A timeout per read is not enough (an
index that sends one byte a second never trips it), so :func:`deadline_scope`
makes a :class:`Deadline` the *active* one for the block, and the parts that
wait consult it: :func:`releasekit._process.run` gives a subprocess no more
than the time left, and :func:`releasekit.network.http_session` cuts a
connection off when the time is up, however slowly it is still sending.

The active deadline is a context variable: it follows the code into nested
calls; a thread started inside the block sees it when it runs in a copy of
the context (``contextvars.copy_context().run``).
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from releasekit.errors import DeadlineExceeded

__all__ = ["SLACK", "Deadline", "active_deadline", "deadline_scope", "time_left"]

# A wait shortened to a deadline's rest may wake a hair before it: a failure this
# close to the deadline is the deadline's doing.
SLACK = 0.25


@dataclass(frozen=True)
class Deadline:
    """``seconds`` from ``start`` (a :func:`time.monotonic` reading) for ``what``."""

    seconds: float
    what: str  # what the budget is for, as a user would name it: "verify --timeout"
    start: float = field(default_factory=time.monotonic)

    @property
    def at(self) -> float:
        return self.start + self.seconds

    def remaining(self) -> float:
        """Seconds left (0 once passed)."""
        return max(0.0, self.at - time.monotonic())

    def expired(self, slack: float = 0.0) -> bool:
        """Whether the deadline has passed (or is within ``slack`` seconds of passing)."""
        return time.monotonic() + slack >= self.at

    def exceeded(self, doing: str, hint: str = "") -> DeadlineExceeded:
        """The error to raise when the deadline ran out while ``doing`` something."""
        return DeadlineExceeded(
            f"{self.what}: the {self.seconds:g} s deadline ran out while {doing}",
            hint or "the index or the network is too slow: re-run later, or give more time",
        )


_ACTIVE: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "releasekit_deadline", default=None
)


def active_deadline() -> Deadline | None:
    """The deadline of the innermost :func:`deadline_scope`, or None."""
    return _ACTIVE.get()


def time_left(cap: float | None = None) -> float | None:
    """The seconds a wait may take now: ``cap``, shortened to the active deadline's rest."""
    deadline = _ACTIVE.get()
    if deadline is None:
        return cap
    left = deadline.remaining()
    return left if cap is None else min(cap, left)


@contextlib.contextmanager
def deadline_scope(seconds: float, what: str) -> Iterator[Deadline]:
    """Make a deadline of ``seconds`` (for ``what``) the active one inside the block.

    An enclosing deadline that ends sooner stays in force: a scope can only
    shorten the time left, never extend it.
    """
    mine = Deadline(seconds, what)
    outer = _ACTIVE.get()
    chosen = outer if outer is not None and outer.at <= mine.at else mine
    token = _ACTIVE.set(chosen)
    try:
        yield chosen
    finally:
        _ACTIVE.reset(token)
