"""The adapters' terminal: colour, widths, the log handler and live progress, through rich.

On a terminal, errors, hints and results are coloured and transfers get a
live bar; in a pipe or a CI log the text is plain, one line at each end of a
transfer, and laid out within :func:`~releasekit.report.output_width`.
``NO_COLOR`` (any value) turns every escape code off; ``FORCE_COLOR`` (or
``TTY_COMPATIBLE=1``) renders as on a terminal, bars included.

Only the adapters (nox.py, invoke.py) use this module; core modules log, and
report progress through :mod:`releasekit.progress`.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.highlighter import RegexHighlighter
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Column
from rich.text import Text
from rich.theme import Theme

from releasekit.progress import Transfer, Waiting, current_group
from releasekit.report import format_duration, format_size, output_width

if TYPE_CHECKING:
    from releasekit.model import ReleaseReport

__all__ = [
    "QUIET",
    "VERBOSE",
    "make_console",
    "say",
    "show_progress",
    "show_summary",
    "unless_quiet",
    "verbosity",
]

QUIET, NORMAL, VERBOSE = -1, 0, 1

_THEME = Theme(
    {
        "rk.error": "bold red",
        "rk.hint": "cyan",
        "rk.next": "bold cyan",
        "rk.ok": "green",
        "rk.skipped": "yellow",
        "rk.command": "dim",
    }
)


class _Marks(RegexHighlighter):
    """What stands out in releasekit's text: failures, hints, the next command, results."""

    base_style = "rk."
    highlights = [  # noqa: RUF012 - rich's documented way to declare a highlighter
        r"(?m)^(?P<error>error:|FAILED at step|why:)",
        r"(?m)^(?P<hint>hint:)",
        r"(?m)^(?P<next>then run:|next:)",
        r"(?m)^(?P<command>\$ .*)$",
        r"(?<!\S)(?P<error>FAILED|ERROR)(?!\S)",
        r"(?<=  )(?P<ok>ok)(?=  |$)",
        r"(?m)^[\w-]+ (?P<ok>ok):",
        r"(?<=  )(?P<skipped>skipped|warning)(?=  |$)",
    ]


_MARKS = _Marks()
_LABEL = Column(ratio=1, no_wrap=True, overflow="ellipsis")  # a live line: the label gives way
_STILL_WAITING = 30.0  # seconds between "still waiting" lines in a log
_LEVEL_STYLES = {logging.WARNING: "yellow", logging.ERROR: "bold red", logging.CRITICAL: "bold red"}


def make_console(stream: TextIO | None = None) -> Console:
    """A rich Console on ``stream`` (stdout by default) that follows the rules above."""
    no_color = os.environ.get("NO_COLOR", "") != ""
    console = Console(
        file=stream or sys.stdout,
        color_system=None if no_color else "auto",
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=True,  # a long log line is the terminal's to wrap, never cut or broken
        theme=_THEME,
        legacy_windows=False,
    )
    if not console.is_terminal or "COLUMNS" in os.environ:
        console.width = output_width()
    return console


def verbosity(args: Sequence[str]) -> int:
    """:data:`QUIET` for ``-q``/``--quiet`` among ``args``, :data:`VERBOSE` for ``-v``, else 0."""
    if {"-q", "--quiet"} & set(args):
        return QUIET
    return VERBOSE if {"-v", "--verbose"} & set(args) else NORMAL


def unless_quiet(write: Callable[[str], object], args: Sequence[str]) -> Callable[[str], None]:
    """``write`` (a session's log), or nothing with ``-q`` among ``args``."""

    def maybe(line: str) -> None:
        if verbosity(args) != QUIET:
            write(line)

    return maybe


def show_summary(report: ReleaseReport, level: int, result: str) -> None:
    """A pipeline's end: the table and any failure block; with -q the block or one line."""
    if level != QUIET:
        say(report.summary())
    elif not report.ok:
        say(report.failure())
    else:
        total = format_duration(sum(r.seconds for r in report.records))
        say(f"{result}, {len(report.records)} step(s) in {total}")


def say(text: str, stream: TextIO | None = None) -> None:
    """Print ``text`` (a line or a block) with releasekit's colours; ends with a newline."""
    make_console(stream).print(_MARKS(Text(text)))


class _OnlyFor(ProgressColumn):
    """A column shown for one kind of task (transfers have bytes, waits do not)."""

    def __init__(self, kind: str, column: ProgressColumn) -> None:
        super().__init__()
        self.kind = kind
        self.column = column

    def render(self, task: Task) -> object:  # type: ignore[override]
        return self.column.render(task) if task.fields.get("kind") == self.kind else Text("")


class _ConsoleHandler(logging.Handler):
    """Writes releasekit's log records and draws its progress events on a rich Console."""

    releasekit_progress = True  # marks this handler so that it is added once

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console
        self.live = console.is_terminal and not console.is_dumb_terminal
        self.progress: Progress | None = None
        self.tasks: dict[object, TaskID] = {}
        self.groups: dict[str, list[Text]] = {}
        self.marks: dict[int, float] = {}  # without a terminal: when to say "still waiting"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event = getattr(record, "releasekit_event", None)
            if isinstance(event, Transfer):
                self._transfer(event)
            elif isinstance(event, Waiting):
                self._waiting(event)
            elif isinstance(event, tuple):
                self._end_group(str(event[0]))
            else:
                self._line(record)
        except Exception:  # a broken terminal must not break a release
            self.handleError(record)

    def _line(self, record: logging.LogRecord) -> None:
        text = _MARKS(Text(self.format(record), style=_LEVEL_STYLES.get(record.levelno, "")))
        group = current_group()
        if group is None:
            self.console.print(text)
            return
        self.groups.setdefault(group, []).append(text)
        if self.live:  # the group's latest line, live, until its block is shown
            label = f"{group.split('#')[0]}: {text.plain}"
            self._task(group, label, kind="group", total=None)

    def _end_group(self, group: str) -> None:
        self._done(group)
        for text in self.groups.pop(group, []):
            self.console.print(text)

    def _transfer(self, event: Transfer) -> None:
        label = f"{event.verb} {event.name} {event.where}"
        if self.live:
            task = self._task(event.key, label, kind="transfer", total=event.total)
            assert self.progress is not None  # noqa: S101 - _task started it
            self.progress.update(task, completed=event.done)
            self.progress.refresh()  # drawn at each event, not only on the timer
        elif not event.finished and event.done == 0:
            size = format_size(event.total)
            self.console.print(f"{event.verb}ing {event.name} {event.where} ({size})")
        if event.finished:
            self._done(event.key)
            rate = format_size(event.total / max(event.seconds, 1e-3))
            self.console.print(
                f"{event.verb}ed {event.name} {event.where}: {format_size(event.total)} "
                f"in {format_duration(event.seconds)} ({rate}/s)"
            )

    def _waiting(self, event: Waiting) -> None:
        if event.finished:
            self._done(event.key)
            self.marks.pop(event.key, None)
        elif self.live:
            self._task(event.key, f"waiting for {event.what}", kind="wait", total=None)
        elif event.key not in self.marks:
            self.marks[event.key] = _STILL_WAITING
            self.console.print(f"waiting for {event.what}")
        elif event.seconds >= self.marks[event.key]:  # a log gets a line every 30 s
            self.marks[event.key] += _STILL_WAITING
            self.console.print(f"still waiting for {event.what}: {event.seconds:.0f} s")

    def _task(self, key: object, label: str, *, kind: str, total: int | None) -> TaskID:
        if self.progress is None:
            self.progress = Progress(
                _OnlyFor("wait", SpinnerColumn()),
                _OnlyFor("group", SpinnerColumn()),
                TextColumn("{task.description}", table_column=_LABEL),
                _OnlyFor("transfer", BarColumn(bar_width=20)),
                _OnlyFor("transfer", DownloadColumn(table_column=Column(no_wrap=True))),
                _OnlyFor("transfer", TransferSpeedColumn(table_column=Column(no_wrap=True))),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
                refresh_per_second=4,
            )
            self.progress.start()
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(label, total=total, kind=kind)
            self.progress.refresh()
        else:
            self.progress.update(self.tasks[key], description=label)
        return self.tasks[key]

    def _done(self, key: object) -> None:
        task = self.tasks.pop(key, None)
        if task is None or self.progress is None:
            return
        self.progress.remove_task(task)
        if not self.tasks:
            self.progress.stop()
            self.progress = None

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        super().close()


def show_progress(
    stream: TextIO | None = None, *, debug: bool = False, verbosity: int = NORMAL
) -> None:
    """Show the ``releasekit`` logger's lines and progress on ``stream`` (stderr by default).

    ``verbosity``: :data:`QUIET` shows errors only, :data:`VERBOSE` adds every
    command run (``$ ...``); ``debug`` shows everything.
    """
    logger = logging.getLogger("releasekit")
    quiet = verbosity <= QUIET and not debug
    logger.setLevel(logging.DEBUG if debug else logging.ERROR if quiet else logging.INFO)
    commands = debug or (verbosity >= VERBOSE and not quiet)
    logging.getLogger("releasekit.command").setLevel(logging.DEBUG if commands else logging.INFO)
    logging.getLogger("releasekit.progress").setLevel(logging.WARNING if quiet else logging.DEBUG)
    for handler in list(logger.handlers):
        if getattr(handler, "releasekit_progress", False):
            logger.removeHandler(handler)
            handler.close()
    handler = _ConsoleHandler(make_console(stream or sys.stderr))
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    # HTTP libraries' connection chatter is not progress (nox shows DEBUG records otherwise)
    for name in ("urllib3", "requests", "keyring", "sigstore", "tuf", "securesystemslib"):
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("build").setLevel(logging.WARNING if quiet else logging.NOTSET)
    _route_backend_warnings()


class _BackendWarnings:
    """What the build backend warned about in this session, and Python's own warning printer."""

    original: Callable[..., object] | None = None
    seen: set[str] = set()  # noqa: RUF012 - one set for the process, reset per session


def _backend_warning_lines(message: str) -> list[str]:
    """The text of a backend's warning without the banners setuptools frames it with."""
    lines = (line.strip() for line in str(message).splitlines())
    return [line for line in lines if line and not set(line) <= set("*!")]


def _route_backend_warnings() -> None:
    """A warning the build backend raised becomes one line of releasekit's output, once.

    pyproject-hooks raises a backend's warnings again in this process, after every
    hook (``BuildBackendWarning``), where Python prints each with its banners and
    the backend's temporary path, ignoring ``-q``.  Here each distinct one is a
    single warning line (its first line; the rest with ``--debug``), shown in the
    package's block and hidden by ``-q``.  Other warnings print as before.
    """
    _BackendWarnings.seen = set()
    if _BackendWarnings.original is not None:
        return
    original = warnings.showwarning
    _BackendWarnings.original = original

    def show(  # noqa: PLR0917 - warnings.showwarning's own signature
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if category.__name__ != "BuildBackendWarning":
            original(message, category, filename, lineno, file, line)
            return
        text = str(message).strip()
        if text in _BackendWarnings.seen:
            return
        _BackendWarnings.seen.add(text)
        lines = _backend_warning_lines(text) or [text]
        log = logging.getLogger("releasekit")
        log.warning("the build backend warns: %s", lines[0])
        if len(lines) > 1:
            log.debug("%s", "\n".join(lines[1:]))

    warnings.showwarning = show
