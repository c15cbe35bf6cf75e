"""Run the PEP 517 hooks of a build environment in forked children of one hook server.

pypa/build calls each hook through pyproject-hooks, which runs
``python _in_process.py HOOK CONTROL_DIR`` once per hook: a new interpreter
that imports the backend (hatchling, setuptools: 0.15 s and more) to do a few
hundredths of a second of work, four times per package.  :class:`HookRunner`
is the ``runner`` releasekit gives pyproject-hooks instead: it starts
:mod:`releasekit._hook_server` once per build environment and backend, which
imports the backend once and forks a child per hook.  Each hook still runs in a
process of its own, so a backend that changes its working directory, its
environment or its module globals in one hook does not change the next
(PEP 517 asks for that); only the import is shared.  After each hook the
server also imports the library modules that hook imported (most backends
import their builders lazily), and this module remembers them per backend so
that servers started later in the process import them up front.

Everything else is as with :func:`releasekit._process.run`: the command is
logged (``-v``), the environment has no credentials, the hook's output is
captured and a non-zero exit raises the same :class:`CommandFailed`, a
deadline stops the hook (its process is killed) with the same
:class:`DeadlineExceeded`.

Each hook runs as a plain process instead (:func:`releasekit._process.run`)
when forking is not available (Windows), when ``RELEASEKIT_NO_HOOK_SERVER=1``
is set, when the backend cannot be imported up front or its import starts
threads (forking it would be unsafe), or when the server does not start.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import select
import shlex
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from releasekit import _secrets
from releasekit._process import command_failed, commands, redact_text, run, spawn_piped
from releasekit._text import output_tail
from releasekit.deadline import SLACK, active_deadline, time_left
from releasekit.errors import CommandFailed

__all__ = ["SERVER_SCRIPT", "HookRunner"]

log = logging.getLogger("releasekit")

SERVER_SCRIPT = Path(__file__).with_name("_hook_server.py")
_BACKEND = "_PYPROJECT_HOOKS_BUILD_BACKEND"
_BACKEND_PATH = "_PYPROJECT_HOOKS_BACKEND_PATH_JSON"
_WHAT = "the build backend"
_GRACE = 5.0  # seconds a server has to exit once its stdin is closed
_SAFETY = 60.0  # an answer that needs no work (a fork, a kill) comes well within this


def _cache_file() -> Path | None:
    """``$RELEASEKIT_CACHE_DIR/hook-imports.json`` (default: ``$XDG_CACHE_HOME/releasekit``,
    else ``~/.cache/releasekit``); None when the hook server is off."""
    if forking_off() is not None:
        return None
    folder = os.environ.get("RELEASEKIT_CACHE_DIR")
    if folder:
        return Path(folder) / "hook-imports.json"
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "releasekit" / "hook-imports.json"


_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_MAX_BACKENDS = 32
_MAX_NAMES = 5000


def _names(value: object) -> list[str]:
    """Module names from a learned list; anything else in it is dropped."""
    if not isinstance(value, list):
        return []
    return [n for n in value[:_MAX_NAMES] if isinstance(n, str) and _MODULE.fullmatch(n)]


def _read_cache(path: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        if path.exists():
            log.debug("ignoring the hook import cache %s: %s", path, exc)
        return {}
    if not isinstance(data, dict):
        return {}
    backends = [(str(b), n) for b, n in data.items() if _MODULE.fullmatch(str(b))]
    return {backend: _names(names) for backend, names in backends[-_MAX_BACKENDS:]}


class _Learned:
    """The library modules the hooks of each backend imported, in order.

    A server started later imports them up front, so none of its children has to.
    What one process learns is kept for the next in the user's cache folder
    (:func:`_cache_file`): a release's first build then starts as fast as its
    later ones.  Only module names are kept; the server imports them from the
    build environment's libraries, and a name it cannot import is skipped.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.names: dict[str, dict[str, None]] = {}
        self.loaded = False  # the cache file was read
        self.changed = False  # names the cache file lacks

    def _load(self) -> None:  # the caller holds the lock
        if not self.loaded:
            self.loaded = True
            path = _cache_file()
            for backend, names in (_read_cache(path) if path else {}).items():
                self.names.setdefault(backend, {}).update(dict.fromkeys(names))

    def add(self, backend: str, imports: Path) -> None:
        try:
            names = _names(json.loads(imports.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return
        with self.lock:
            self._load()
            known = self.names.setdefault(backend, {})
            new = [n for n in names if n not in known]
            known.update(dict.fromkeys(new))
            self.changed = self.changed or bool(new)

    def get(self, backend: str) -> list[str]:
        with self.lock:
            self._load()
            return list(self.names.get(backend, {}))

    def save(self) -> None:
        """Write what this process learned to the cache file, merged with what it holds.

        Written whole to a temporary file, then renamed over it: a reader never
        sees half a file.  A failure (a read-only home, a full disk) costs the
        next run its head start, nothing else.
        """
        path = _cache_file()
        with self.lock:
            if path is None or not self.changed:
                return
            merged = _read_cache(path)
            for backend, names in self.names.items():
                merged[backend] = list(dict.fromkeys([*merged.get(backend, []), *names]))
            kept = {b: n[:_MAX_NAMES] for b, n in list(merged.items())[-_MAX_BACKENDS:]}
            partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                partial.write_text(json.dumps(kept), encoding="utf-8")
                partial.replace(path)
            except OSError as exc:
                log.debug("could not write the hook import cache %s: %s", path, exc)
                with contextlib.suppress(OSError):
                    partial.unlink()
                return
            self.changed = False


_LEARNED = _Learned()


class _ServerGone(Exception):
    """The hook server closed its stdout: it exited."""


class _Refused(Exception):
    """The hook server forks no more (a module imported ahead started threads)."""


def forking_off() -> str | None:
    """Why hooks run as plain processes here, or None when they may run forked."""
    if os.environ.get("RELEASEKIT_NO_HOOK_SERVER"):
        return "RELEASEKIT_NO_HOOK_SERVER is set"
    if not hasattr(os, "fork") or os.name != "posix":
        return "this platform cannot fork"
    return None


class _Server:
    """One running hook server: a backend imported once in one interpreter."""

    def __init__(self, proc: subprocess.Popen[bytes], log_file: Path) -> None:
        self.proc = proc
        self.log_file = log_file
        self._pending = b""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def read(self, timeout: float | None) -> dict[str, Any] | None:
        """The next answer, or None when ``timeout`` seconds pass first."""
        if self.proc.stdout is None:
            raise _ServerGone
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._pending:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise _ServerGone
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        answer: dict[str, Any] = json.loads(line)
        return answer

    def send(self, request: Mapping[str, Any]) -> None:
        if self.proc.stdin is None:
            raise _ServerGone
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()

    def stop(self) -> None:
        """Close its stdin (it exits, killing a hook still running); kill it after a grace."""
        try:
            if self.proc.stdin is not None:
                with contextlib.suppress(OSError):  # it is gone already
                    self.proc.stdin.close()
            try:
                self.proc.wait(timeout=_GRACE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()
        log.debug("hook server %d stopped", self.pid)

    def log_tail(self) -> str:
        try:
            return output_tail(self.log_file.read_text(encoding="utf-8", errors="replace"), 5)
        except OSError:
            return ""


_Key = tuple[str, str, str, str, frozenset[tuple[str, str]]]


class HookRunner:
    """pyproject-hooks ``runner`` for one build environment; a context manager.

    It keeps one server per interpreter, backend, ``backend-path`` and
    environment, plus the source tree when ``backend-path`` is set (an
    in-tree backend is imported from the tree being built).  Leaving the
    ``with`` block stops every server it started (so does :meth:`forget`).
    """

    def __init__(self) -> None:
        self._servers: dict[_Key, _Server | None] = {}  # None: plain processes for that key
        self._scratch: Path | None = None
        self._count = 0
        self._said: set[str] = set()

    def __enter__(self) -> HookRunner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def forget(self) -> None:
        """Stop the servers: the environment changed (requirements were installed)."""
        servers = [server for server in self._servers.values() if server is not None]
        self._servers.clear()
        for server in servers:
            server.stop()

    def close(self) -> None:
        try:
            self.forget()
            _LEARNED.save()
        finally:
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None

    def __call__(
        self,
        cmd: Sequence[str],
        cwd: str | None = None,
        extra_environ: Mapping[str, str] | None = None,
    ) -> None:
        env = _secrets.scrubbed_env({**os.environ, **(extra_environ or {})})
        server = self._server_for(cmd, cwd, env)
        if server is not None:
            try:
                self._call(server, cmd, cwd or str(Path.cwd()), env)
                return
            except _Refused as exc:
                log.debug("build backend hooks in plain processes from now: %s", exc)
                self._drop(server, plain=True)
        run(cmd, cwd=Path(cwd) if cwd else None, env=env, what=_WHAT)

    # -- servers -----------------------------------------------------------------------

    def _dir(self) -> Path:
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="releasekit-hooks-"))
        return self._scratch

    def _server_for(
        self, cmd: Sequence[str], cwd: str | None, env: Mapping[str, str]
    ) -> _Server | None:
        why = forking_off()
        if why is None and (len(cmd) != 4 or Path(cmd[1]).name != "_in_process.py"):
            why = "pyproject-hooks calls its hooks another way"
        if why is not None:
            if why not in self._said:
                self._said.add(why)
                log.debug("build backend hooks in plain processes: %s", why)
            return None
        in_tree = env.get(_BACKEND_PATH, "")
        key = (
            cmd[0],
            env.get(_BACKEND, ""),
            in_tree,
            str(Path(cwd or ".").resolve()) if in_tree else "",
            frozenset(env.items()),
        )
        if key not in self._servers:
            self._servers[key] = self._start(cmd, cwd, env)
        return self._servers[key]

    def _start(self, cmd: Sequence[str], cwd: str | None, env: Mapping[str, str]) -> _Server | None:
        self._count += 1
        log_file = self._dir() / f"server-{self._count}.log"
        command = [cmd[0], str(SERVER_SCRIPT), cmd[1]]
        known = _LEARNED.get(env.get(_BACKEND, ""))
        if known:
            ahead = self._dir() / f"server-{self._count}.imports"
            ahead.write_text(json.dumps(known), encoding="utf-8")
            command.append(str(ahead))
        try:
            proc = spawn_piped(
                command,
                cwd=Path(cwd) if cwd else None,
                env=env,
                log_file=log_file,
            )
        except OSError as exc:
            log.debug("build backend hooks in plain processes: no hook server (%s)", exc)
            return None
        server = _Server(proc, log_file)
        try:
            answer = server.read(time_left(None))
        except _ServerGone:
            answer = {"ready": False, "why": f"it exited: {server.log_tail() or 'no output'}"}
        except BaseException:
            server.stop()
            raise
        if answer is None:  # out of time while the backend imported
            server.stop()
            self._deadline_check("importing the build backend")
            return None
        if not answer.get("ready"):
            server.stop()
            log.debug("build backend hooks in plain processes: %s", answer.get("why"))
            return None
        log.debug(
            "hook server %d: the backend %s imported once, with %d module(s) its hooks "
            "imported before (learned earlier)",
            server.pid, env.get(_BACKEND), len(known),
        )  # fmt: skip
        return server

    @staticmethod
    def _deadline_check(doing: str) -> None:
        deadline = active_deadline()
        if deadline is not None and deadline.expired(SLACK):
            raise deadline.exceeded(doing) from None

    # -- one hook ----------------------------------------------------------------------

    def _call(self, server: _Server, cmd: Sequence[str], cwd: str, env: Mapping[str, str]) -> None:
        args = list(cmd)
        shown = redact_text(shlex.join(args))
        deadline = active_deadline()
        if deadline is not None and deadline.expired():
            raise deadline.exceeded(f"about to run {_WHAT}")
        commands.debug("$ %s  (in %s)", shown, cwd)
        self._count += 1
        output_file = self._dir() / f"hook-{self._count}.out"
        request = {
            "hook": args[2],
            "control_dir": args[3],
            "cwd": cwd,
            "env": dict(env),
            "output": str(output_file),
        }
        try:
            code = self._wait(server, request)
        except _Refused:
            raise  # the caller runs the hook the plain way
        except BaseException:
            self._drop(server)
            raise
        if code is None:  # out of time: the hook was killed
            self._drop(server)
            self._deadline_check(f"running {_WHAT}")
            raise CommandFailed(
                f"{_WHAT} was stopped: {shown}",
                "run it by hand to see where it stops",
                command=args,
                returncode=124,
            )
        _LEARNED.add(env.get(_BACKEND, ""), Path(f"{output_file}.imports"))
        if code != 0:
            output = redact_text(output_file.read_text(encoding="utf-8", errors="replace"))
            raise command_failed(_WHAT, shown, args, code, output)

    def _wait(self, server: _Server, request: Mapping[str, Any]) -> int | None:
        """Run ``request``; its exit code, or None when the deadline ran out (hook killed)."""
        try:
            server.send(request)
            started = server.read(_SAFETY)
        except (_ServerGone, OSError) as exc:
            raise CommandFailed(
                f"{_WHAT} could not start: the hook server {server.pid} ended "
                f"({server.log_tail() or exc or 'no output'})",
                "run again with RELEASEKIT_NO_HOOK_SERVER=1, and report it",
                command=[],
                returncode=1,
            ) from None
        if started is None:
            raise CommandFailed(
                f"{_WHAT} could not start: the hook server {server.pid} did not answer",
                "run again with RELEASEKIT_NO_HOOK_SERVER=1, and report it",
            )
        child = started["pid"]
        if child is None:
            raise _Refused(started.get("why", ""))
        hook = request["hook"]
        log.debug("hook %s in forked child %d of hook server %d", hook, child, server.pid)
        try:
            while True:
                done = server.read(time_left(None))
                if done is not None:
                    code: int = done["exit"]
                    return code
                deadline = active_deadline()
                if deadline is None or deadline.expired():
                    break
            server.send({"kill": True})  # the server kills the child, then says it ended
            server.read(_SAFETY)
        except _ServerGone:
            raise CommandFailed(
                f"{_WHAT} failed: the hook server {server.pid} ended while it ran "
                f"({server.log_tail() or 'no output'})",
                "run again with RELEASEKIT_NO_HOOK_SERVER=1, and report it",
            ) from None
        return None

    def _drop(self, server: _Server, *, plain: bool = False) -> None:
        """Stop ``server``; later hooks start a new one, or run as plain processes."""
        for key, known in list(self._servers.items()):
            if known is server:
                if plain:
                    self._servers[key] = None
                else:
                    del self._servers[key]
        server.stop()

    def start_ahead(
        self, cmd: Sequence[str], cwd: str, extra_environ: Mapping[str, str] | None = None
    ) -> bool:
        """Start the server the hook ``cmd`` will use (its backend imported), running no hook.

        ``cmd`` and ``extra_environ`` are those the hook will be called with; the
        server runs in ``cwd``.  Never for an in-tree backend (``backend-path``):
        it is imported from the tree only when its build runs.  True when a
        server runs (False: hooks will run as plain processes, or it could not start).
        """
        env = _secrets.scrubbed_env({**os.environ, **(extra_environ or {})})
        if env.get(_BACKEND_PATH):
            return False
        return self._server_for(cmd, cwd, env) is not None
