"""HTTP with deadlines: every request releasekit makes has a connect and a read timeout.

:func:`http_session` gives a :class:`requests.Session` whose every request
gets ``(connect, read)`` timeouts unless the caller passes shorter ones.  A
read timeout bounds one silence, not a whole answer: an index that drips a
byte a second never trips it.  So when a total deadline is active
(:func:`releasekit.deadline.deadline_scope`), the session also keeps the
sockets it opens and shuts them down when that deadline passes; the request
then fails at once, and the caller raises the deadline's error.

:func:`watch_session` fits the same into a session made elsewhere (twine's).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from releasekit.config import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT
from releasekit.deadline import Deadline, active_deadline

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "TimeoutAdapter",
    "describe_failure",
    "http_session",
    "is_refused",
    "is_timeout",
    "watch_session",
]


class _SocketWatch:
    """The sockets of one session, shut down when a deadline passes."""

    def __init__(self, deadline: Deadline | None) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._fired = False
        self._timer: threading.Timer | None = None
        if deadline is not None:
            self._timer = threading.Timer(deadline.remaining(), self.fire)
            self._timer.daemon = True
            self._timer.name = "releasekit-deadline"
            self._timer.start()

    def add(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            fired = self._fired
        if fired:
            _shut(sock)

    def fire(self) -> None:
        with self._lock:
            self._fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # closed already, or detached by TLS wrapping
        sock.shutdown(socket.SHUT_RDWR)


def _watched_pools(manager: Any, watch: _SocketWatch) -> None:
    """Make ``manager`` (a urllib3 PoolManager) open connections that ``watch`` keeps."""
    classes = {}
    for scheme, pool_cls in manager.pool_classes_by_scheme.items():
        base = pool_cls.ConnectionCls

        def connect(self: Any, _base: Any = base) -> None:
            _base.connect(self)
            watch.add(getattr(self, "sock", None))

        def new_conn(self: Any, _base: Any = base) -> socket.socket:
            sock: socket.socket = _base._new_conn(self)
            watch.add(sock)  # before TLS: a handshake that drips is cut off too
            return sock

        connection_cls = type(
            f"Watched{base.__name__}", (base,), {"connect": connect, "_new_conn": new_conn}
        )
        classes[scheme] = type(
            f"Watched{pool_cls.__name__}", (pool_cls,), {"ConnectionCls": connection_cls}
        )
    manager.pool_classes_by_scheme = classes  # the instance's own copy, not urllib3's


def _shorter(given: Any, connect: float, read: float) -> tuple[float, float]:
    """The caller's timeouts, but never longer than the configured ones."""
    if isinstance(given, tuple) and len(given) == 2:
        given_connect, given_read = given
    else:
        given_connect = given_read = given
    if isinstance(given_connect, (int, float)):
        connect = min(connect, float(given_connect))
    if isinstance(given_read, (int, float)):
        read = min(read, float(given_read))
    return connect, read


class TimeoutAdapter(HTTPAdapter):
    """An adapter that times every request out and obeys the active deadline."""

    def __init__(
        self,
        *,
        connect: float,
        read: float,
        watch: _SocketWatch | None = None,
        max_retries: Any = 0,
    ) -> None:
        self._connect = connect
        self._read = read
        self._watch = watch  # set before super().__init__, which builds the pool manager
        super().__init__(max_retries=max_retries)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        if self._watch is not None:
            _watched_pools(self.poolmanager, self._watch)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if self._watch is not None:
            _watched_pools(manager, self._watch)
        return manager

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
        **kwargs: Any,
    ) -> requests.Response:  # fmt: skip
        connect, read = _shorter(timeout, self._connect, self._read)
        deadline = active_deadline()
        if deadline is not None:
            left = deadline.remaining()
            if left <= 0:
                raise requests.Timeout(f"the {deadline.seconds:g} s deadline has passed")
            connect, read = min(connect, left), min(read, left)
        return super().send(request, stream=stream, timeout=(connect, read), **kwargs)


def watch_session(
    session: requests.Session, *, connect: float, read: float
) -> contextlib.AbstractContextManager[requests.Session]:
    """Fit timeouts (and the active deadline) into ``session``; undo the watch on exit.

    The session's own retry settings for its adapters are kept.
    """

    @contextlib.contextmanager
    def watched() -> Iterator[requests.Session]:
        watch = _SocketWatch(active_deadline())
        try:
            for prefix in ("http://", "https://"):
                retries = getattr(session.get_adapter(prefix), "max_retries", 0)
                session.mount(
                    prefix,
                    TimeoutAdapter(connect=connect, read=read, watch=watch, max_retries=retries),
                )
            yield session
        finally:
            watch.cancel()

    return watched()


@contextlib.contextmanager
def http_session(
    *, connect: float = DEFAULT_CONNECT_TIMEOUT, read: float = DEFAULT_READ_TIMEOUT
) -> Iterator[requests.Session]:
    """A fresh session with connect/read timeouts on every request, closed on exit."""
    session = requests.Session()
    try:
        with watch_session(session, connect=connect, read=read):
            yield session
    finally:
        session.close()


# --- what went wrong ---------------------------------------------------------------------


def is_refused(exc: BaseException) -> bool:
    """Connection refused or a name that does not resolve: retrying will not help."""
    text = repr(exc)
    return any(
        marker in text
        for marker in ("ConnectionRefused", "Connection refused", "NameResolution", "Errno -2")
    )


def is_timeout(exc: BaseException) -> bool:
    """A connect or read timeout (also one raised while reading a streamed body)."""
    return isinstance(exc, requests.Timeout) or "ReadTimeoutError" in repr(exc)


def describe_failure(exc: BaseException, *, connect: float, read: float) -> str:
    """A short reason for a failed request, naming the timeout that ran out."""
    if isinstance(exc, requests.ConnectTimeout):
        return f"no connection within {connect:g} s (connect-timeout)"
    if is_timeout(exc):
        return f"no answer within {read:g} s (read-timeout)"
    if is_refused(exc):
        return "connection refused"
    return f"connection reset or cut off ({exc.__class__.__name__})"
