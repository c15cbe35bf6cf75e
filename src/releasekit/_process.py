"""The one place releasekit starts processes.

Every command is logged (``releasekit`` logger, DEBUG: shown with --debug) before it runs; a
non-zero exit raises :class:`~releasekit.errors.CommandFailed` carrying the
command, the exit code and the tail of its output.

Every process started here runs code releasekit does not own (lint and test
commands, build backends, installers, smoke commands, uv, git, the embedded
index), so none of them gets the upload and signing credentials: the
environment is always passed through :func:`releasekit._secrets.scrubbed_env`,
whether the caller gives one or not.  Known credentials and the secrets passed
through ``redact`` never appear in the log, the output or the error, neither in
clear nor encoded (see :func:`releasekit._secrets.redact`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import subprocess
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from releasekit import _secrets
from releasekit._text import output_tail
from releasekit.deadline import SLACK, active_deadline, time_left
from releasekit.errors import CommandFailed

__all__ = ["environ_set", "find_uv", "redact_text", "run", "spawn", "spawn_piped", "stop"]

log = logging.getLogger("releasekit")
commands = logging.getLogger("releasekit.command")  # every command run: shown with -v

_ENVIRON_LOCK = threading.Lock()


@dataclass
class _Blocks:
    """The blocks of :func:`environ_set` inside for one name, and the value before them."""

    inside: int
    before: str | None  # None: the name was not set


_ENVIRON_BLOCKS: dict[str, _Blocks] = {}


@contextlib.contextmanager
def environ_set(name: str, value: str, *, unless_set: bool = False) -> Iterator[None]:
    """``name=value`` in this process's environment (every process started inherits it).

    With ``unless_set`` a value the environment had before is kept.  Threads
    may be inside such blocks for the same name at once (the builds of a
    release run concurrently): the value before the first block comes back when
    the last one ends, never while another still needs it.
    """
    with _ENVIRON_LOCK:
        blocks = _ENVIRON_BLOCKS.get(name)
        if blocks is None:
            blocks = _ENVIRON_BLOCKS[name] = _Blocks(0, os.environ.get(name))
            if blocks.before is None or not unless_set:
                os.environ[name] = value
        elif not unless_set:
            os.environ[name] = value
        blocks.inside += 1
    try:
        yield
    finally:
        with _ENVIRON_LOCK:
            blocks.inside -= 1
            if not blocks.inside:
                del _ENVIRON_BLOCKS[name]
                if blocks.before is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = blocks.before


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace every secret in ``text`` by ``***``: those given, and every known credential.

    Encoded forms are replaced too (URL-encoded, base64, base64 of
    ``user:secret`` as an HTTP ``Basic`` header carries it); empty secrets are ignored.
    """
    return _secrets.redact(text, secrets)


def run(
    command: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    capture: bool = True,
    check: bool = True,
    redact: Iterable[str] = (),
    what: str = "",
    hint: str = "",
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` and return the completed process.

    With ``capture`` (the default) stdout and stderr are joined and returned
    in ``.stdout``; without it the child writes to the terminal, so long
    tools (pytest, ruff) show their own output as they go.
    ``env`` *replaces* the environment when given; build one from
    ``os.environ`` to extend it.  Either way the child gets it without
    credentials (:func:`releasekit._secrets.scrubbed_env`).  ``what`` names the
    step in the error.
    Inside a :func:`releasekit.deadline.deadline_scope` the command gets no
    more than the time left (``timeout`` or not); running out of it raises
    :class:`~releasekit.errors.DeadlineExceeded`.
    """
    args = [os.fspath(part) for part in command]
    secrets = [s for s in redact if s]
    shown = redact_text(shlex.join(args), secrets)
    deadline = active_deadline()
    limit = time_left(timeout)
    if deadline is not None and deadline.expired():
        raise deadline.exceeded(f"about to run {what or shown}")
    commands.debug("$ %s%s", shown, f"  (in {cwd})" if cwd else "")
    try:
        proc = subprocess.run(
            args,
            cwd=cwd,
            env=_secrets.scrubbed_env(env),
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.STDOUT if capture else None,
            text=True,
            check=False,
            timeout=limit,
        )
    except FileNotFoundError as exc:
        raise CommandFailed(
            f"{what or 'command'} could not start: {args[0]!r} was not found",
            hint or f"install {args[0]!r} or put it on PATH",
            command=args,
            returncode=127,
        ) from exc
    except subprocess.TimeoutExpired as exc:
        if deadline is not None and deadline.expired(SLACK):
            raise deadline.exceeded(f"running {what or shown}") from None
        raise CommandFailed(
            f"{what or 'command'} timed out after {timeout:g} s: {shown}",
            hint or "run it by hand to see where it stops",
            command=args,
            returncode=124,
        ) from exc
    if check and proc.returncode != 0:
        output = redact_text(proc.stdout or "", secrets) if capture else None
        raise command_failed(what, shown, args, proc.returncode, output, hint=hint)
    if proc.stdout is not None:
        proc.stdout = redact_text(proc.stdout, secrets)
    return proc


def command_failed(
    what: str,
    shown: str,
    args: Sequence[str],
    returncode: int,
    output: str | None,
    *,
    hint: str = "",
) -> CommandFailed:
    """The error of a command that exited ``returncode``; ``output`` None: not captured."""
    tail = output_tail(output or "")
    message = f"{what or 'command'} failed (exit {returncode}): {shown}"
    if tail:
        message += "\n" + tail
    return CommandFailed(
        message,
        hint
        or (
            "read the output above, fix the cause, and run the same command again"
            if tail or output is None
            else "it printed nothing: run it by hand to see why, then run again"
        ),
        command=list(args),
        returncode=returncode,
        output=output or "",
    )


def spawn(
    command: Sequence[str | os.PathLike[str]], *, log_file: Path, lifeline: bool = False
) -> subprocess.Popen[bytes]:
    """Start a long-running process (a server) with its output appended to ``log_file``.

    The one kind of process releasekit does not run to completion: the caller
    owns it and must :func:`stop` it by this handle (its process id).  With
    ``lifeline`` the child's stdin is a pipe whose other end only this process
    holds: the child reads end-of-file the moment this process dies, however
    it dies (even by SIGKILL), and can exit with it.  Like :func:`run`, it
    gets an environment without credentials.
    """
    args = [os.fspath(part) for part in command]
    commands.debug("$ %s  (background, output in %s)", shlex.join(args), log_file)
    stdin = subprocess.PIPE if lifeline else subprocess.DEVNULL
    with log_file.open("ab") as output:
        return subprocess.Popen(
            args,
            stdin=stdin,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=_secrets.scrubbed_env(),
        )


def spawn_piped(
    command: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None,
    env: Mapping[str, str],
    log_file: Path,
) -> subprocess.Popen[bytes]:
    """Start a long-running helper that takes requests on its stdin and answers on its stdout.

    Its stderr is appended to ``log_file``.  Its stdin is a pipe whose other end
    only this process holds, so it is also the helper's lifeline (see :func:`spawn`):
    closing it, or this process dying, tells the helper to exit.  The caller owns
    the process and must :func:`stop` it.  ``env`` replaces the environment and
    is passed without credentials, as everywhere here.
    """
    args = [os.fspath(part) for part in command]
    commands.debug("$ %s%s  (background)", shlex.join(args), f"  (in {cwd})" if cwd else "")
    with log_file.open("ab") as errors:
        return subprocess.Popen(
            args,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=_secrets.scrubbed_env(env),
        )


def stop(proc: subprocess.Popen[bytes], *, grace: float = 5.0) -> None:
    """Stop a process started by :func:`spawn`: terminate, then kill after ``grace`` s."""
    try:
        if proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    finally:
        if proc.stdin is not None:  # the lifeline: closed only once the process is gone
            proc.stdin.close()


def find_uv() -> str | None:
    """The uv executable when present (the ``uv`` package's binary, else PATH), or None.

    ``RELEASEKIT_NO_UV=1`` turns uv off, so the plain-pip paths stay testable.
    """
    if os.environ.get("RELEASEKIT_NO_UV"):
        return None
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        import shutil

        return shutil.which("uv")
