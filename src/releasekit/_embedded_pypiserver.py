"""Run pypiserver as the embedded index, tied to the life of the process that started it.

``python -m releasekit._embedded_pypiserver PARENT_PID [--remove DIR]... -- pypiserver ARGS``
(:mod:`releasekit.embedded_index` runs this file by its path instead, the same way but
without importing the releasekit package first: it uses the standard library only)

The embedded index must not outlive releasekit, even when releasekit is
killed with SIGKILL and runs no cleanup at all.  So this process:

- on Linux, asks the kernel for SIGTERM when its parent dies
  (``prctl(PR_SET_PDEATHSIG)``);
- everywhere, reads its stdin - a pipe whose other end only the parent
  holds - and takes end-of-file as the parent's death (the kernel closes the
  pipe however the parent ends);
- exits at once if the parent is already gone when it starts.

When it finds itself orphaned it removes the ``--remove`` folders (the
rehearsal's temporary folders, which nobody else is left to remove) and
exits.  Stopped normally (SIGTERM from its parent), it just exits: the parent
removes its own folders.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: SIGTERM to this process when its parent dies (best effort elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _orphaned(parent: int) -> bool:
    """The parent is gone, or dying: a parent with threads (releasekit runs some while
    it works) sends the death signal when the thread that started us ends, which under
    SIGKILL can come while the rest of the parent is still being torn down, its main
    thread already a zombie."""
    if os.getppid() != parent:
        return True
    try:
        stat = Path(f"/proc/{parent}/stat").read_text()
    except OSError:
        return False  # no /proc here: trust getppid
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


def _leave(remove: Sequence[str]) -> None:
    for folder in remove:
        shutil.rmtree(folder, ignore_errors=True)
    os._exit(0)


def main(argv: Sequence[str]) -> None:
    parent = int(argv[0])
    rest = list(argv[1:])
    remove: list[str] = []
    while rest and rest[0] == "--remove":
        remove.append(rest[1])
        rest = rest[2:]
    if rest and rest[0] == "--":
        rest = rest[1:]
    if rest and rest[0] == "pypiserver":  # the program's name, for ps and /proc readers
        rest = rest[1:]

    def on_term(signum: int, frame: FrameType | None) -> None:
        _leave(remove if _orphaned(parent) else [])

    signal.signal(signal.SIGTERM, on_term)
    _die_with_parent()
    if _orphaned(parent):  # the parent died before the kernel was asked to tell us
        _leave(remove)

    def watch_stdin() -> None:
        with contextlib.suppress(OSError, ValueError):
            while sys.stdin.buffer.read(4096):
                pass
        _leave(remove)  # end of file: the only writer, the parent, is gone

    threading.Thread(target=watch_stdin, name="parent-watch", daemon=True).start()

    from pypiserver.__main__ import main as pypiserver_main

    pypiserver_main(rest)


if __name__ == "__main__":
    main(sys.argv[1:])
