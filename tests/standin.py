"""The skeleton every loopback stand-in shares: a quiet handler that speaks JSON, served
on 127.0.0.1 at a free port by a thread, and stopped (and its socket closed) on exit."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StandInHandler(BaseHTTPRequestHandler):
    """A handler that logs nothing and answers with :meth:`send_json` / :meth:`send_bytes`."""

    def log_message(self, format: str, *args: object) -> None:  # quiet: tests read the state
        return

    def send_bytes(
        self, status: int, data: bytes, content_type: str | None = "application/octet-stream"
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status: int, payload: object) -> None:
        self.send_bytes(status, json.dumps(payload).encode(), "application/json")

    def read_body(self) -> bytes:
        """The request's body (``Content-Length`` bytes; none without it)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


def url_of(server: ThreadingHTTPServer) -> str:
    """``http://127.0.0.1:PORT`` of a running ``server`` (no trailing slash)."""
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


@contextlib.contextmanager
def serving(
    handler: type[BaseHTTPRequestHandler], name: str = "stand-in"
) -> Iterator[ThreadingHTTPServer]:
    """``handler`` served on 127.0.0.1 (a free port) until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
