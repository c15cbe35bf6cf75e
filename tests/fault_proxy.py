"""A fault-injecting HTTP proxy on 127.0.0.1, in front of a real index (pypiserver).

Each :class:`Fault` names what it does to the requests it matches (by method,
path pattern, and how many times):

- ``hang``: accept the request, read it whole, never answer (the connection is
  held until the proxy stops or ``hold_limit`` passes);
- ``drip``: get the real answer, then send it a byte at a time, one every
  ``drip_interval`` seconds (each read is quick, the whole answer takes ages);
- ``reset``: read the request, then reset the connection (TCP RST);
- ``swap``: serve other bytes for the files named in ``swap`` and list them on
  the simple page with *their* sha256, so the index looks consistent.

Requests no fault matches (or after a fault's ``times`` ran out) are passed
to the target unchanged.  The proxy runs in a thread of the test process and
is stopped by its handle (:meth:`FaultProxy.stop`, also on leaving the
``with`` block or the fixture); every held or dripping connection ends then,
and none lives longer than ``hold_limit`` seconds in any case.

Use it through the ``fault_proxy`` fixture of ``tests.pypiserver_fixtures``
(in front of the test's ``pypiserver``), or directly::

    with FaultProxy(server.index.upload_url, [Fault("hang", method="POST")]) as proxy:
        publish(proxy.index(read_timeout=2), ...)
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import http.client
import re
import socket
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import unquote, urlsplit

from releasekit.config import IndexConfig
from tests.standin import StandInHandler, serving

__all__ = ["Fault", "FaultProxy"]

Mode = Literal["hang", "drip", "reset", "swap"]
_Answer = tuple[int, str, list[tuple[str, str]], bytes]  # status, reason, headers, body
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}


@dataclass
class Fault:
    """What the proxy does to the requests it matches.

    ``method`` (``"GET"``, ``"POST"``; None: any) and ``path`` (an fnmatch
    pattern of the request path, e.g. ``"/simple/*"``) select requests;
    ``times`` limits the fault to the first n of them (None: all).
    ``applied`` counts the requests it was applied to.
    """

    mode: Mode
    method: str | None = None
    path: str = "*"
    times: int | None = None
    drip_interval: float = 0.5
    swap: Mapping[str, bytes] = field(default_factory=dict)
    applied: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and method != self.method:
            return False
        if not fnmatch.fnmatchcase(path, self.path):
            return False
        if self.mode == "swap":
            return True  # every GET may need a page rewritten or a file swapped
        return self.times is None or self.applied < self.times


@dataclass
class FaultProxy:
    """A loopback HTTP proxy to ``target`` (a base URL) applying ``faults`` in order."""

    target: str
    faults: list[Fault] = field(default_factory=list)
    hold_limit: float = 120.0
    requests_seen: list[tuple[str, str]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _serving: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not running: call start()")
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def index(
        self, name: str = "faulty", *, connect_timeout: float = 10.0, read_timeout: float = 60.0
    ) -> IndexConfig:
        """The proxy as an index (upload at /, simple API at /simple/)."""
        return IndexConfig(
            name,
            upload_url=self.url,
            simple_url=self.url + "simple/",
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )

    def _fault_for(self, method: str, path: str) -> Fault | None:
        with self._lock:
            self.requests_seen.append((method, path))
            for fault in self.faults:
                if fault.matches(method, path):
                    return fault
        return None

    def _count(self, fault: Fault) -> None:
        with self._lock:
            fault.applied += 1

    def start(self) -> FaultProxy:
        proxy = self
        upstream = urlsplit(self.target)

        class Handler(StandInHandler):
            protocol_version = "HTTP/1.0"  # one request per connection: simple to fault

            def _body(self) -> bytes | None:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else None

            def _upstream(
                self, body: bytes | None
            ) -> tuple[int, str, list[tuple[str, str]], bytes]:
                conn = http.client.HTTPConnection(
                    upstream.hostname or "127.0.0.1", upstream.port, timeout=30
                )
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    payload = response.read()
                    return response.status, response.reason, response.getheaders(), payload
                finally:
                    conn.close()

            def _raw(
                self, status: int, reason: str, headers: list[tuple[str, str]], payload: bytes
            ) -> bytes:
                lines = [f"HTTP/1.0 {status} {reason}"]
                lines += [f"{k}: {v}" for k, v in headers if k.lower() not in _HOP_BY_HOP]
                lines += [f"Content-Length: {len(payload)}", "Connection: close"]
                return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload

            def _handle(self) -> None:
                path = urlsplit(self.path).path
                fault = proxy._fault_for(self.command, path)
                body = self._body()
                if fault is None:
                    self.wfile.write(self._raw(*self._upstream(body)))
                elif fault.mode == "hang":
                    proxy._count(fault)
                    proxy._stopping.wait(proxy.hold_limit)
                    self.close_connection = True
                elif fault.mode == "reset":
                    proxy._count(fault)
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()  # with linger 0: an RST, not a FIN
                elif fault.mode == "drip":
                    proxy._count(fault)
                    raw = self._raw(*self._upstream(body))
                    ends = time.monotonic() + proxy.hold_limit
                    for position in range(len(raw)):
                        if proxy._stopping.wait(fault.drip_interval) or time.monotonic() > ends:
                            break
                        try:
                            self.wfile.write(raw[position : position + 1])
                        except OSError:
                            break  # the client gave up: the fault did its work
                else:
                    self._swap(fault, path, body)

            def _swap(self, fault: Fault, path: str, body: bytes | None) -> None:
                name = unquote(PurePosixPath(path).name)
                if self.command == "GET" and name in fault.swap:
                    proxy._count(fault)
                    payload = fault.swap[name]
                    headers = [("Content-Type", "application/octet-stream")]
                    self.wfile.write(self._raw(200, "OK", headers, payload))
                    return
                status, reason, headers, payload = self._upstream(body)
                if self.command == "GET" and path.startswith("/simple/"):
                    text = payload.decode("utf-8", errors="surrogateescape")
                    for filename, data in fault.swap.items():
                        digest = hashlib.sha256(data).hexdigest()
                        text = re.sub(
                            rf"({re.escape(filename)}#sha256=)[0-9a-f]{{64}}",
                            rf"\g<1>{digest}",
                            text,
                        )
                    payload = text.encode("utf-8", errors="surrogateescape")
                self.wfile.write(self._raw(status, reason, headers, payload))

            do_GET = _handle
            do_POST = _handle

        self._server = self._serving.enter_context(serving(Handler, "fault-proxy"))
        return self

    def stop(self) -> None:
        """Stop serving, end every held or dripping connection, close the port."""
        self._stopping.set()
        self._serving.close()

    def __enter__(self) -> FaultProxy:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
