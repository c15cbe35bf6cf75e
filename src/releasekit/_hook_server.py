"""Run PEP 517 hooks in forked children of one process that imported the backend once.

``python _hook_server.py IN_PROCESS_PY [IMPORTS_JSON]`` — run by the build environment's
interpreter, in the source tree, with the environment of the first hook
(``_PYPROJECT_HOOKS_BUILD_BACKEND``, ``_PYPROJECT_HOOKS_BACKEND_PATH_JSON``);
``IN_PROCESS_PY`` is pyproject-hooks' ``_in_process.py``, the script a
frontend normally runs once per hook; ``IMPORTS_JSON`` lists modules to import
ahead (see ``_warm_up``).  This program is stdlib-only: it runs
inside the build environment, where releasekit is not installed.

It loads ``_in_process.py`` and imports the backend (``_build_backend()``)
once, then answers requests read from stdin, one JSON line each::

    {"hook": NAME, "control_dir": DIR, "cwd": DIR, "env": {...}, "output": FILE}

For each it forks a child that chdirs to ``cwd``, replaces ``os.environ`` by
``env``, reads /dev/null, writes stdout and stderr to ``output``, and runs
``_in_process.main()`` as ``python _in_process.py NAME DIR`` would.  It
writes ``{"pid": N}`` when the child starts and ``{"exit": CODE}`` when it
ends (``CODE`` as :mod:`subprocess` gives it: negative for a signal).

PEP 517 asks frontends to call each hook in a fresh process, so that a backend
may change process-global state (the working directory, the environment,
``sys.path``, module globals) without the next hook seeing it.  A forked child
per hook keeps that: each hook starts from the state right after the backend's
import, and nothing a hook does reaches the server or the next hook.  Only
the import is shared.

The server's first line says whether it is usable: ``{"ready": true}``, or
``{"ready": false, "why": ...}`` when the backend cannot be imported here or its
import started threads (forking a process with threads is unsafe); the caller
then runs each hook in its own process as usual.  It exits at end-of-file on
stdin - a pipe whose other end only releasekit holds, closed however releasekit
ends, even by SIGKILL - killing a hook still running.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import select
import signal
import sys
import sysconfig
import tempfile
import threading
import traceback
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

# Where the build environment's own modules live: only those are imported ahead (below).
_LIBRARIES = tuple(
    str(Path(sysconfig.get_paths()[name]).resolve())
    for name in ("purelib", "platlib", "stdlib", "platstdlib")
)


def _answer(fd: int, **fields: Any) -> None:
    os.write(fd, (json.dumps(fields) + "\n").encode())


def _load(in_process: str) -> ModuleType:
    """``_in_process.py`` as a module, with sys.path as running it as a script gives."""
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.path.insert(0, str(Path(in_process).parent))  # as running it as a script does
    spec = importlib.util.spec_from_file_location("_in_process", in_process)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {in_process}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    del sys.path[0]  # and gone before the backend's import, as main() removes it there
    return module


# Coverage does not follow the forked children: the tests check what these do, not the lines.
def _run_child(  # pragma: no cover
    module: ModuleType, request: dict[str, Any], early: bytes, warned: list[Any]
) -> int:
    """In the forked child: run one hook as ``python _in_process.py HOOK DIR`` would."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    before = set(sys.modules)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.write(1, early)  # what the backend's import printed: each hook's output had it
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = [module.__file__ or "_in_process.py", request["hook"], request["control_dir"]]
    importlib.invalidate_caches()  # requirements installed since the server started
    hook_name = request["hook"]
    hook = getattr(module, hook_name, None)
    if warned and callable(hook):

        def replayed(*args: Any, **kwargs: Any) -> Any:
            for w in warned:  # the import's warnings, inside main()'s catch_warnings
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            return hook(*args, **kwargs)

        setattr(module, hook_name, replayed)
    try:
        module.main()
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException as exc:  # as the interpreter shows it, without this module's frame
        traceback.print_exception(
            type(exc), exc, exc.__traceback__.tb_next if exc.__traceback__ else None
        )
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    with contextlib.suppress(OSError):
        Path(request["output"] + ".imports").write_text(json.dumps(_library_imports(before)))
    return code


def _library_imports(before: set[str]) -> list[str]:  # pragma: no cover - in the child
    """The modules of the build environment's libraries imported since ``before``, in order.

    Never a module of the source tree or of an in-tree backend: those must come from
    the tree each hook builds.
    """
    found = []
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None)
        if name in before or not where or name.startswith(("__main__", "_in_process")):
            continue
        with contextlib.suppress(OSError, ValueError):
            if str(Path(where).resolve()).startswith(_LIBRARIES):
                found.append(name)
    return found


def _warm_up(imports: Path) -> str | None:
    """Import what the last hook imported from the libraries, so the next child has it.

    A hook imports most of its backend lazily (hatchling: about a hundred modules on
    the first hook): importing them once here spares every later child that work.
    Returns why forking must stop (the imports started threads), or None.
    """
    try:
        names = json.loads(imports.read_text())
    except (OSError, ValueError):
        return None
    with warnings.catch_warnings(record=True):
        for name in names:
            if name not in sys.modules:
                with contextlib.suppress(Exception):
                    importlib.import_module(name)
    if threading.active_count() > 1:
        return "a module the backend imports started threads"
    return None


def _serve_one(
    answers: int, module: ModuleType, request: dict[str, Any], early: bytes, warned: list[Any]
) -> bool:
    """Fork a child for ``request``, wait for it; False when stdin closed meanwhile."""
    if _STOPPED:
        _answer(answers, pid=None, why=_STOPPED[0])
        return False
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    done_r, done_w = os.pipe()  # closed (readable) when the child is gone
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; it reports through its exit code
        os.close(done_r)
        os.close(answers)
        code = 255
        try:
            code = _run_child(module, request, early, warned)
        finally:
            os._exit(code)
    os.close(done_w)
    _answer(answers, pid=pid)
    alive = True
    while alive:
        readable, _, _ = select.select([done_r, 0], [], [])
        if done_r in readable:
            break
        # a line while the hook runs asks to kill it (out of time); end-of-file: releasekit
        # is gone or stops us, and so does the hook
        alive = bool(os.read(0, 4096))
        os.kill(pid, signal.SIGKILL)  # not reaped yet: the pid is still the child's
    os.close(done_r)
    _, status = os.waitpid(pid, 0)
    if alive:
        _answer(answers, exit=os.waitstatus_to_exitcode(status))
        why = _warm_up(Path(request["output"] + ".imports"))  # while releasekit goes on
        if why:
            _STOPPED.append(why)
    return alive


_STOPPED: list[str] = []  # why this server forks no more children


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # releasekit stops us; the hook gets Ctrl-C
    answers = os.dup(1)  # stdout, kept for the answers: fd 1 and 2 catch what the import prints
    early_file = tempfile.TemporaryFile()  # noqa: SIM115 - open for the life of the process
    os.dup2(early_file.fileno(), 1)  # what the import prints goes to every hook's output
    os.dup2(early_file.fileno(), 2)
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("default")
        try:
            module = _load(argv[0])
            module._build_backend()
        except BaseException as exc:  # each hook then reports it its own way
            _answer(answers, ready=False, why=f"importing the backend failed: {exc!r}")
            return
    if len(argv) > 1:  # what the hooks of this backend imported in an earlier server
        _warm_up(Path(argv[1]))
    if threading.active_count() > 1:
        _answer(answers, ready=False, why="the backend's import started threads")
        return
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    early_file.seek(0)
    early = early_file.read()
    kept = [w for w in warned if issubclass(w.category, UserWarning)]
    _answer(answers, ready=True)
    pending = b""
    while True:
        while b"\n" not in pending:
            chunk = os.read(0, 65536)
            if not chunk:
                return
            pending += chunk
        line, pending = pending.split(b"\n", 1)
        if not _serve_one(answers, module, json.loads(line), early, kept):
            return


if __name__ == "__main__":
    main(sys.argv[1:])
