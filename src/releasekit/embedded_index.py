"""The embedded local index: a real pypiserver on 127.0.0.1, tied to releasekit's life.

:func:`local_index` starts it and waits until it answers; :func:`start_local_index`
starts it and leaves the waiting to :meth:`LocalIndex.wait`, so that work done in
between (a rehearsal's build) overlaps the server's start.  Either way it is
stopped by its own process id on the way out, and exits by itself, removing its
folders, when releasekit dies without stopping it (see
:mod:`releasekit._embedded_pypiserver`).  Both are re-exported by
:mod:`releasekit.index`.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from releasekit._process import spawn, stop
from releasekit.config import IndexConfig
from releasekit.errors import IndexUnreachable
from releasekit.interrupt import unwind_on_signals

__all__ = ["LocalIndex", "local_index", "start_local_index"]

log = logging.getLogger("releasekit")

_READY_TIMEOUT = 30.0  # seconds for pypiserver to answer /health
_STOP_GRACE = 5.0  # seconds between terminate and kill
_START_ATTEMPTS = 3  # a free port can be taken between choosing and binding it
# the wrapper run from its file: ``-m releasekit._embedded_pypiserver`` would import the
# releasekit package first, a fifth of the server's start, and the wrapper needs none of it
_WRAPPER = (
    "-c",
    "import runpy, sys; runpy.run_path(sys.argv.pop(1), run_name='__main__')",
    str(Path(__file__).with_name("_embedded_pypiserver.py")),
)


def _free_port() -> int:
    """A port free right now; another program may take it before the server binds it.

    The one seam for tests: one that replaces this function (pytest's monkeypatch)
    with one handing out a port it holds makes that race happen, every time.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _read_tail(log_file: Path, lines: int = 20) -> str:
    try:
        text = log_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _healthy(port: int) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    try:
        with opener.open(f"http://127.0.0.1:{port}/health", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    stop(proc, grace=_STOP_GRACE)


def _start_pypiserver(
    directory: Path,
    port: int,
    htpasswd: Path | None,
    log_file: Path,
    remove: Sequence[Path],
    *,
    private: bool = False,
) -> subprocess.Popen[bytes]:
    if htpasswd is None:
        auth = ["-a", ".", "-P", "."]
    else:
        auth = ["-a", "download,list,update" if private else "update", "-P", str(htpasswd)]
    # pypiserver, run by a wrapper that ends it (and removes ``remove``) when this
    # process dies without stopping it: killed by SIGKILL, say
    lifeline = [str(os.getpid())] + [arg for path in remove for arg in ("--remove", str(path))]
    command = [
        sys.executable, *_WRAPPER, *lifeline,
        "--", "pypiserver", "run",
        "--host", "127.0.0.1", "--port", str(port),
        "--disable-fallback", "--backend", "simple-dir", "--hash-algo", "sha256",
        *auth, str(directory),
    ]  # fmt: skip
    return spawn(command, log_file=log_file, lifeline=True)


def _wait_ready(proc: subprocess.Popen[bytes], port: int) -> str | None:
    """None when the server answers /health; otherwise why it did not."""
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"exited with code {proc.returncode}"
        if _healthy(port):
            return None
        time.sleep(0.05)
    return f"did not answer /health within {_READY_TIMEOUT:g} s"


class LocalIndex:
    """The embedded pypiserver of :func:`start_local_index`: started, maybe not answering yet.

    :attr:`config` carries the URLs of the port it was started on; :meth:`wait`
    returns them once the server answers, which may be on another port (one
    taken between choosing it and the server binding it means a new start).
    """

    def __init__(
        self, serve_dir: Path, scratch: Path, *, htpasswd: Path | None, port: int | None,
        remove_on_orphan: Sequence[Path], private: bool,
    ) -> None:  # fmt: skip
        self.serve_dir = serve_dir
        self._log_file = scratch / "pypiserver.log"
        self._remove = [scratch, *remove_on_orphan]
        self._htpasswd, self._fixed_port, self._private = htpasswd, port, private
        # the server dies with the thread that starts it (PR_SET_PDEATHSIG): only that
        # thread may start it again
        self._owner = threading.current_thread()
        self._lock = threading.Lock()
        self._attempt = 0
        self._ready = False
        self._failed: IndexUnreachable | None = None
        self._start()

    def _start(self) -> None:
        self._attempt += 1
        self.port = self._fixed_port if self._fixed_port is not None else _free_port()
        self._proc = _start_pypiserver(
            self.serve_dir, self.port, self._htpasswd, self._log_file, self._remove,
            private=self._private,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        """The server's process id (of the latest start)."""
        return self._proc.pid

    @property
    def config(self) -> IndexConfig:
        """The index ``local`` at this server's URLs (ready or not: see :meth:`wait`)."""
        return IndexConfig(
            "local",
            upload_url=f"http://127.0.0.1:{self.port}/",
            simple_url=f"http://127.0.0.1:{self.port}/simple/",
        )

    def wait(self) -> IndexConfig:
        """Wait until the server answers /health; its config (on the port it got).

        Idempotent: once it answered, returns at once; once it failed, raises
        the same :class:`~releasekit.errors.IndexUnreachable` (with the tail of
        the server's output).  A server that exits (its port was taken in the
        meantime) is started again on another free port, up to 3 starts in all;
        only by the thread that started it (the server dies with that thread),
        so from another thread such a server is an error.
        """
        with self._lock:
            if self._failed is not None:
                raise self._failed
            if not self._ready:
                self._wait_started()
                self._ready = True
                log.info(
                    "local index at http://127.0.0.1:%d/ serving %s", self.port, self.serve_dir
                )
                log.info("local index process: pid %d (it ends when releasekit does)", self.pid)
            return self.config

    def _wait_started(self) -> None:
        attempts = 1 if self._fixed_port is not None else _START_ATTEMPTS
        while True:
            try:
                problem = _wait_ready(self._proc, self.port)
            except BaseException:
                _stop(self._proc)
                raise
            if problem is None:
                return
            _stop(self._proc)
            if self._attempt >= attempts or threading.current_thread() is not self._owner:
                tail = _read_tail(self._log_file)
                self._failed = IndexUnreachable(
                    f"the local index (pypiserver on 127.0.0.1:{self.port}) {problem}"
                    + (f"\n{tail}" if tail else ""),
                    "read the server output above; is pypiserver installed beside releasekit?",
                )
                raise self._failed
            log.info("local index on port %d %s; trying another port", self.port, problem)
            self._start()

    def stop(self) -> None:
        """Stop the server by its process id (nothing when it is stopped already)."""
        if self._proc.poll() is not None:
            _stop(self._proc)  # closes the lifeline
            return
        _stop(self._proc)
        log.info("local index on port %d stopped (pid %d)", self.port, self.pid)


@contextmanager
def start_local_index(
    directory: Path | None = None,
    *,
    htpasswd: Path | None = None,
    port: int | None = None,
    remove_on_orphan: Sequence[Path] = (),
    private: bool = False,
) -> Iterator[LocalIndex]:
    """Start a pypiserver on 127.0.0.1 for the ``with`` block; do not wait for it.

    The server starts at once; :meth:`LocalIndex.wait` waits until it answers,
    so whatever runs in between (a build) overlaps its start.  The arguments and
    the guarantees are those of :func:`local_index`: stopped by its process id
    when the block ends however it ends, waited for or not; gone with its
    folders when this process dies without stopping it.  Start and wait from
    the same thread (the server is tied to the thread that started it).
    """
    with (
        unwind_on_signals(),
        tempfile.TemporaryDirectory(prefix="releasekit-index-") as scratch,
    ):
        serve_dir = directory if directory is not None else Path(scratch) / "packages"
        serve_dir.mkdir(parents=True, exist_ok=True)
        index = LocalIndex(
            serve_dir, Path(scratch), htpasswd=htpasswd, port=port,
            remove_on_orphan=remove_on_orphan, private=private,
        )  # fmt: skip
        try:
            yield index
        finally:
            index.stop()


@contextmanager
def local_index(
    directory: Path | None = None,
    *,
    htpasswd: Path | None = None,
    port: int | None = None,
    remove_on_orphan: Sequence[Path] = (),
    private: bool = False,
) -> Iterator[IndexConfig]:
    """Run a pypiserver on 127.0.0.1 for the duration of the ``with`` block.

    Files are served from ``directory`` (default: a temporary directory removed
    on exit).  Without ``htpasswd`` anyone may upload and read; with it uploads
    need a user from that file and reading stays open, as on PyPI (with
    ``private``, reading needs a user from that file too).  The server
    never falls back to PyPI.  It answers when the block starts, and is stopped
    by its process id on exit, also
    when the block raises or is interrupted (Ctrl-C, SIGTERM, SIGHUP: see
    :func:`releasekit.interrupt.unwind_on_signals`).  If this process dies
    without stopping it (SIGKILL), the server exits on its own and removes its
    temporary directory and the folders in ``remove_on_orphan``.
    :func:`start_local_index` starts it without waiting.
    """
    with start_local_index(
        directory, htpasswd=htpasswd, port=port, remove_on_orphan=remove_on_orphan, private=private
    ) as index:
        yield index.wait()
