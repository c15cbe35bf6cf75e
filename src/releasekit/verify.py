"""Prove that a published version installs from its index and says it is that version.

:func:`verify_published` waits until the index lists the version (indexes and
their CDNs are eventually consistent), then, for the wheel and for the sdist
separately (side by side, once every download is checked): makes a fresh venv
in a temporary directory outside the repository, installs ``name==version``
from that index only (the user's pip and uv configuration, find-links and
caches are ignored), and runs the proof
of :func:`releasekit.venvs.prove_installed` from a working directory outside
the repository: installed metadata version, ``__version__``, console scripts
or the configured smoke commands printing the version.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from packaging.tags import sys_tags
from packaging.utils import parse_wheel_filename

from releasekit.config import IndexConfig
from releasekit.deadline import deadline_scope
from releasekit.dists import build_wheel_from_sdist
from releasekit.errors import (
    CommandFailed,
    ConfigError,
    DeadlineExceeded,
    SmokeFailed,
    VerifyFailed,
    VersionNotOnIndex,
)
from releasekit.index import IndexFile, download_from_index, files_on_index
from releasekit.venvs import create_venv, install, prove_installed

__all__ = ["DistKind", "VerifyReport", "verify_published", "wait_for_version"]

log = logging.getLogger("releasekit")

DistKind = Literal["wheel", "sdist"]
KINDS: tuple[DistKind, ...] = ("wheel", "sdist")
_OUTPUT_TAIL = 12


@dataclass(frozen=True)
class VerifyReport:
    """What verify proved: for which kinds of file, from which index, line by line."""

    name: str
    version: str
    index: str
    checked: tuple[str, ...]  # "wheel", "sdist"
    lines: tuple[str, ...]

    def __str__(self) -> str:
        return "\n".join(self.lines)


def wait_for_version(
    index: IndexConfig,
    name: str,
    version: str,
    *,
    timeout: float = 180,
    interval: float = 2.0,
    kinds: Sequence[str] = (),
) -> list[IndexFile]:
    """Poll ``index`` until it lists ``name`` ``version`` (a file of each of ``kinds``).

    Logs the elapsed time at each poll; raises :class:`VersionNotOnIndex`
    after ``timeout`` seconds.  Returns the version's files.
    """
    start = time.monotonic()
    polled = False
    files: list[IndexFile] = []
    missing = list(kinds)
    while True:
        try:
            files = files_on_index(index, name, version)
        except DeadlineExceeded:
            if not polled:
                raise  # not one answer: the index is what is slow
            break  # it answered, without the version, until the time ran out
        polled = True
        missing = [k for k in kinds if not any(f.kind == k for f in files)]
        if files and not missing:
            for file in files:
                if file.yanked is not None:
                    log.warning("%s is yanked on %s (%r)", file.filename, index.name, file.yanked)
            return files
        elapsed = time.monotonic() - start
        if elapsed >= timeout:
            break
        log.info(
            "waiting for %s %s on %s: %d s of %g s", name, version, index.name, elapsed, timeout
        )
        time.sleep(max(0.0, min(interval, timeout - elapsed)))
    if files:
        there = ", ".join(f.filename for f in files)
        what = f"has no {' or '.join(missing)} of {name} {version} (only {there})"
    else:
        what = f"does not list {name} {version}"
    raise VersionNotOnIndex(
        f"{index.name!r} ({index.simple_url}) {what} after {timeout:g} s",
        "check that the upload succeeded (`nox -s publish` is safe to re-run); if the index is "
        "slow to show new files, raise verify-timeout in [tool.releasekit] or pass --timeout",
    )


def _pick(files: Sequence[IndexFile], kind: str) -> IndexFile:
    """The file of ``kind`` pip would choose here: for wheels, the best-tagged one."""
    candidates = [f for f in files if f.kind == kind]
    if kind == "wheel" and len(candidates) > 1:
        ranking = {tag: rank for rank, tag in enumerate(sys_tags())}

        def rank(file: IndexFile) -> int:
            tags = parse_wheel_filename(file.filename)[3]
            return min((ranking.get(tag, len(ranking)) for tag in tags), default=len(ranking))

        candidates.sort(key=rank)
    return candidates[0]


def _install_failed(
    exc: CommandFailed, index: IndexConfig, name: str, version: str, kind: str
) -> VerifyFailed:
    tail = "\n".join(exc.output.rstrip().splitlines()[-_OUTPUT_TAIL:])
    return VerifyFailed(
        f"{name}=={version} ({kind}) did not install from {index.name!r} ({index.simple_url})"
        + (f"\n{tail}" if tail else ""),
        f"the {kind} and its dependencies must be on {index.name!r} (for TestPyPI, dependencies "
        "may come from PyPI: give a dependency index); read the installer output above",
    )


def _fetch(
    index: IndexConfig,
    kind: DistKind,
    files: Sequence[IndexFile],
    root: Path,
    before_install: Callable[[Path, IndexFile], None] | None,
) -> tuple[IndexFile, Path | None]:
    """The file of ``kind`` to verify, downloaded and checked when it must be (else None)."""
    chosen = _pick(files, kind)
    if before_install is None and kind == "wheel":
        return chosen, None  # the installer takes it from the index by name
    downloaded = download_from_index(index, chosen, root / "downloads")
    if chosen.sha256 is None:
        log.warning("%s lists no sha256 for %s", index.name, chosen.filename)
    if before_install is not None:
        before_install(downloaded, chosen)
    return chosen, downloaded


def _install_and_prove(
    index: IndexConfig,
    name: str,
    version: str,
    *,
    kind: DistKind,
    fetched: tuple[IndexFile, Path | None],
    root: Path,
    console_scripts: Sequence[str],
    smoke: Sequence[str],
    dependency_index: IndexConfig | None,
) -> list[str]:
    chosen, downloaded = fetched
    simple_url = index.simple_url or ""
    if dependency_index is not None and dependency_index.simple_url:
        # uv ranks --index above --default-index: this index first, dependencies after
        index_url, extra = dependency_index.simple_url, [simple_url]
    else:
        index_url, extra = simple_url, []
    work = root / "work"  # the cwd: outside the repository, nothing to shadow the install
    work.mkdir()
    venv = create_venv(root / "venv")
    if kind == "sdist" and downloaded is not None:
        # Build the wheel from the very sdist the index serves; its build backend
        # comes the way the build step gets it, while the package and its
        # dependencies still come from this index only.
        requirement = str(build_wheel_from_sdist(downloaded, root / "built"))
    elif downloaded is not None:
        requirement = str(downloaded)
    else:
        requirement = f"{name}=={version}"
    try:
        install(
            venv,
            [requirement],
            cwd=work,
            index_url=index_url,
            extra_index_urls=extra,
            only_binary=kind == "wheel",
            no_cache=True,
        )
    except CommandFailed as exc:
        raise _install_failed(exc, index, name, version, kind) from None
    try:
        proof = prove_installed(
            venv, name, version, cwd=work, console_scripts=console_scripts, smoke=smoke
        )
    except SmokeFailed as exc:
        raise SmokeFailed(f"{exc.message} (the {kind} from {index.name!r})", exc.hint) from None
    lines = [f"{kind}: {chosen.filename} from {index.name} ({simple_url})"]
    lines += [f"  {line}" for line in proof.lines]
    return lines


def verify_published(
    index: IndexConfig,
    name: str,
    version: str,
    *,
    console_scripts: Sequence[str] = (),
    smoke: Sequence[str] = (),
    kinds: Sequence[DistKind] = KINDS,
    timeout: float = 180,
    dependency_index: IndexConfig | None = None,
    before_install: Callable[[Path, IndexFile], None] | None = None,
) -> VerifyReport:
    """Install ``name`` ``version`` from ``index`` into fresh venvs and prove it.

    ``kinds`` picks the wheel, the sdist, or both (each in its own venv).
    Dependencies come from the same index, or also from ``dependency_index``
    (TestPyPI releases whose dependencies live on PyPI); with uv the package
    itself is always taken from ``index``.  ``before_install(file, index_file)``
    is called with the file downloaded from the index (its sha256 checked
    against the listing) before that very file is installed - the place to
    check a signature against the bytes the index serves.

    ``timeout`` is a total deadline for all of it: waiting for the index,
    every listing and download (an index that sends slowly is cut off when
    the time is up), and every venv, build, install and smoke command (each
    gets no more than the time left).  Running out raises
    :class:`~releasekit.errors.DeadlineExceeded`, or
    :class:`~releasekit.errors.VersionNotOnIndex` while the version is not
    listed yet.
    """
    unknown = [k for k in kinds if k not in KINDS]
    if not kinds or unknown:
        raise ConfigError(
            f"verify kinds must be 'wheel' and/or 'sdist', not {list(kinds)!r}",
            "use --wheel, --sdist, or neither for both",
        )
    chosen_kinds = tuple(k for k in KINDS if k in kinds)
    what = f"verify of {name} {version} on {index.name!r} (--timeout / verify-timeout)"
    with deadline_scope(timeout, what):
        return _verify(
            index,
            name,
            version,
            console_scripts=console_scripts,
            smoke=smoke,
            kinds=chosen_kinds,
            timeout=timeout,
            dependency_index=dependency_index,
            before_install=before_install,
        )


def _verify(
    index: IndexConfig,
    name: str,
    version: str,
    *,
    console_scripts: Sequence[str],
    smoke: Sequence[str],
    kinds: tuple[DistKind, ...],
    timeout: float,
    dependency_index: IndexConfig | None,
    before_install: Callable[[Path, IndexFile], None] | None,
) -> VerifyReport:
    chosen_kinds = kinds
    files = wait_for_version(index, name, version, timeout=timeout, kinds=chosen_kinds)
    with contextlib.ExitStack() as stack:
        roots: dict[DistKind, Path] = {}
        for kind in chosen_kinds:
            scratch = tempfile.TemporaryDirectory(prefix=f"releasekit-verify-{kind}-")
            roots[kind] = Path(stack.enter_context(scratch))
        # Every download and every check of the downloaded bytes first, in order;
        # then the kinds install and prove themselves side by side, each in its
        # own venv and folder (they share nothing but the read-only index).
        fetched = {
            kind: _fetch(index, kind, files, roots[kind], before_install) for kind in chosen_kinds
        }

        def verify_kind(kind: DistKind) -> list[str]:
            log.info("verifying the %s of %s %s from %s", kind, name, version, index.name)
            return _install_and_prove(
                index,
                name,
                version,
                kind=kind,
                fetched=fetched[kind],
                root=roots[kind],
                console_scripts=console_scripts,
                smoke=smoke,
                dependency_index=dependency_index,
            )

        with ThreadPoolExecutor(
            max_workers=len(chosen_kinds), thread_name_prefix="releasekit-verify"
        ) as pool:
            # each thread runs in a copy of this context: the deadline goes with it
            running = [
                pool.submit(contextvars.copy_context().run, verify_kind, kind)
                for kind in chosen_kinds
            ]
        lines: list[str] = []
        for future in running:  # the first kind's failure is the one raised
            lines += future.result()
    return VerifyReport(name, version, index.name, chosen_kinds, tuple(lines))
