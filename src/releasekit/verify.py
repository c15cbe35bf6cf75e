"""Prove that a published version installs from its index and says it is that version.

:func:`verify_published` waits until the index lists the version (indexes and
their CDNs are eventually consistent), then, for the wheel and for the sdist
separately (side by side, once every download is checked): makes a fresh venv
in a temporary directory outside the repository, installs ``name==version``
from that index only (the user's pip and uv configuration, find-links and
caches are ignored), and runs the proof
of :func:`releasekit.smoke.prove_installed` from a working directory outside
the repository: installed metadata version, ``__version__``, console scripts
or the configured smoke commands printing the version.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import tempfile
import time
import zipfile
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from packaging.tags import sys_tags
from packaging.utils import canonicalize_name

from releasekit._dist_names import parse_dist_filename
from releasekit._process import environ_set
from releasekit.config import IndexConfig
from releasekit.deadline import deadline_scope
from releasekit.dists import build_wheel_from_sdist
from releasekit.errors import (
    CommandFailed,
    ConfigError,
    DeadlineExceeded,
    DigestMismatch,
    InstallFailed,
    NotReproducible,
    SmokeFailed,
    VerifyFailed,
    VersionNotOnIndex,
)
from releasekit.index import (
    IndexFile,
    download_from_index,
    file_sha256,
    files_on_index,
    read_login,
)
from releasekit.progress import Wait, byte_meter, grouped
from releasekit.smoke import prove_installed
from releasekit.venvs import InstallOptions, Venv, install_into, venvs_in_background

__all__ = [
    "DistKind",
    "VerifyReport",
    "WheelDiff",
    "compare_wheels",
    "verify_published",
    "wait_for_version",
]

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
    reproducible: str | None = None  # the line comparing the rebuilt wheel with the published

    def __str__(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class WheelDiff:
    """How a wheel rebuilt from the sdist compares with the published wheel."""

    identical: bool  # byte for byte
    differing: tuple[str, ...] = ()  # members in both, with other contents
    only_published: tuple[str, ...] = ()
    only_rebuilt: tuple[str, ...] = ()

    def describe(self, filename: str, epoch: int | None) -> str:
        """One line for the summary: reproducible, or which members differ."""
        when = f"SOURCE_DATE_EPOCH={epoch}" if epoch is not None else "no SOURCE_DATE_EPOCH known"
        if self.identical:
            return (
                f"reproducible: {filename} rebuilt from the published sdist is byte-identical "
                f"to the published wheel ({when})"
            )
        parts = []
        if self.differing:
            parts.append(f"members differ: {', '.join(self.differing)}")
        if self.only_published:
            parts.append(f"only in the published wheel: {', '.join(self.only_published)}")
        if self.only_rebuilt:
            parts.append(f"only in the rebuilt wheel: {', '.join(self.only_rebuilt)}")
        if not parts:
            parts.append("same members and contents; the archives differ in timestamps, order "
                         "or permissions")  # fmt: skip
        return (
            f"not reproducible: {filename} rebuilt from the published sdist differs from the "
            f"published wheel ({when}): {'; '.join(parts)}"
        )


def compare_wheels(published: Path, rebuilt: Path) -> WheelDiff:
    """Compare two wheels byte for byte, then member by member."""
    if published.read_bytes() == rebuilt.read_bytes():
        return WheelDiff(identical=True)
    with zipfile.ZipFile(published) as left, zipfile.ZipFile(rebuilt) as right:
        a = {info.filename: left.read(info) for info in left.infolist() if not info.is_dir()}
        b = {info.filename: right.read(info) for info in right.infolist() if not info.is_dir()}
    return WheelDiff(
        identical=False,
        differing=tuple(sorted(name for name in a.keys() & b.keys() if a[name] != b[name])),
        only_published=tuple(sorted(a.keys() - b.keys())),
        only_rebuilt=tuple(sorted(b.keys() - a.keys())),
    )


@contextlib.contextmanager
def _build_epoch(epoch: int | None) -> Iterator[None]:
    """SOURCE_DATE_EPOCH set to ``epoch`` while the sdist is rebuilt (None: left alone)."""
    if epoch is None:
        yield
        return
    with environ_set("SOURCE_DATE_EPOCH", str(epoch)):
        yield


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

    Reports the wait (:class:`releasekit.progress.Wait`) once the first look
    misses; raises :class:`VersionNotOnIndex` after ``timeout`` seconds.
    Returns the version's files.
    """
    with contextlib.closing(
        Wait(f"{index.name} to list {name} {version} (up to {timeout:g} s)")
    ) as wait:
        return _wait_for_version(index, name, version, timeout, interval, kinds, wait)


def _wait_for_version(  # noqa: PLR0917 - wait_for_version's own arguments, passed on
    index: IndexConfig,
    name: str,
    version: str,
    timeout: float,
    interval: float,
    kinds: Sequence[str],
    wait: Wait,
) -> list[IndexFile]:
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
        wait.tick(elapsed)
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
            tags = parse_dist_filename(file.filename).tags
            return min((ranking.get(tag, len(ranking)) for tag in tags), default=len(ranking))

        candidates.sort(key=rank)
    return candidates[0]


def _install_failed(  # noqa: PLR0917 - the facts of one failed install, all needed
    exc: CommandFailed,
    index: IndexConfig,
    name: str,
    version: str,
    kind: str,
    dependency_index: str | None,
    own_names: Collection[str],
) -> VerifyFailed:
    tail = "\n".join(exc.output.rstrip().splitlines()[-_OUTPUT_TAIL:])
    missing = exc.missing if isinstance(exc, InstallFailed) else None
    if missing is None:
        return VerifyFailed(
            f"{name}=={version} ({kind}) did not install from {index.name!r} ({index.simple_url})"
            + (f"\n{tail}" if tail else ""),
            f"the {kind} and its dependencies must be on {index.name!r}"
            + ("" if dependency_index else " (or set dependency-index for third-party ones)")
            + "; read the installer output above",
        )
    looked_in = exc.looked_in if isinstance(exc, InstallFailed) else str(index.simple_url)
    missing_name = canonicalize_name(re.split(r"[\s<>=!~;\[(@]", missing, maxsplit=1)[0])
    if missing_name in {canonicalize_name(n) for n in own_names}:
        hint = f"{missing_name} is a package of this workspace: release it to {index.name!r} first"
    elif dependency_index:
        hint = (
            f"{missing!r} is a third-party requirement: it must be on the dependency index "
            f"{dependency_index} (or on {index.name!r})"
        )
    else:
        hint = (
            f"{index.name!r} does not have {missing!r}: set dependency-index = "
            '"https://pypi.org/simple/" (or your mirror) in '
            f"[tool.releasekit.indexes.{index.name}] for third-party requirements, "
            "or upload it there"
        )
    return VerifyFailed(
        f"{name}=={version} ({kind}) did not install from {index.name!r}: the requirement "
        f"{missing!r} was not found (looked in {looked_in})" + (f"\n{tail}" if tail else ""),
        hint,
    )


def _fetch(
    index: IndexConfig,
    kind: DistKind,
    files: Sequence[IndexFile],
    root: Path,
    before_install: Callable[[Path, IndexFile], None] | None,
    *,
    expected: Mapping[str, str] | None = None,
    download: bool = False,
) -> tuple[IndexFile, Path | None]:
    """The file of ``kind`` to verify, downloaded and checked when it must be (else None).

    With ``expected`` (file name -> sha256 of what was built) the downloaded
    bytes must be exactly those; a file that was not built is refused.
    """
    chosen = _pick(files, kind)
    if before_install is None and expected is None and kind == "wheel" and not download:
        return chosen, None  # the installer takes it from the index by name
    meter = byte_meter("download", chosen.filename, f"from {index.name}")
    downloaded = download_from_index(index, chosen, root / "downloads", on_bytes=meter)
    if chosen.sha256 is None:
        log.warning("%s lists no sha256 for %s", index.name, chosen.filename)
    if expected is not None:
        wanted = expected.get(chosen.filename)
        served = file_sha256(downloaded)
        if wanted is None:
            raise DigestMismatch(
                f"{index.name!r} would install {chosen.filename!r}, which this release did not "
                f"build (built: {', '.join(sorted(expected))})",
                "find out who uploaded it; do not trust this index for this version",
            )
        if served != wanted:
            raise DigestMismatch(
                f"{chosen.filename!r} from {index.name!r} has sha256 {served}, "
                f"the release built {wanted}",
                "do not trust this index for this version: find out who changed the file",
            )
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
    made: Callable[[], Venv],
    console_scripts: Sequence[str],
    smoke: Sequence[str],
    dependency_index: IndexConfig | None,
    own_names: Collection[str],
) -> list[str]:
    chosen, downloaded = fetched
    simple_url = index.simple_url or ""
    dependency_url = dependency_index.simple_url if dependency_index is not None else None
    logins: dict[str, tuple[str, str]] = {}
    for source, url in ((index, simple_url), (dependency_index, dependency_url)):
        login = read_login(source, url) if source is not None and url else None
        if login is not None and url:
            logins[url] = (login.username, login.password)
    work = root / "work"  # the cwd: outside the repository, nothing to shadow the install
    work.mkdir()
    venv = made()
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
        install_into(
            venv,
            [requirement],
            cwd=work,
            options=InstallOptions(
                index_url=simple_url,
                dependency_index_url=dependency_url,
                own_names={name, *own_names},
                logins=logins,
                only_binary=kind == "wheel",
                no_cache=True,
            ),
        )
    except CommandFailed as exc:
        raise _install_failed(
            exc, index, name, version, kind, dependency_url, {name, *own_names}
        ) from None
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
    own_names: Collection[str] = (),
    before_install: Callable[[Path, IndexFile], None] | None = None,
    expected: Mapping[str, str] | None = None,
    expected_source: str = "the release record",
    source_date_epoch: int | None = None,
    require_reproducible: bool = False,
    wheel_built_from_sdist: bool = False,
) -> VerifyReport:
    """Install ``name`` ``version`` from ``index`` into fresh venvs and prove it.

    ``kinds`` picks the wheel, the sdist, or both (each in its own venv).
    Dependencies come from the same index, or also from ``dependency_index``
    (``dependency-index`` of the index; for TestPyPI, PyPI); the package itself
    and ``own_names`` (the workspace's other packages) are only ever taken from
    ``index``: one that would come from the dependency index is refused.
    An index that needs a login to read gets it from :func:`releasekit.index.read_login`.
    ``before_install(file, index_file)``
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

    ``expected`` (file name -> sha256, from this run's build or the release
    record; ``expected_source`` says which) must be what the index lists and
    serves: any other hash is a :class:`DigestMismatch` naming both.  With both
    kinds, the wheel built from the published sdist (``SOURCE_DATE_EPOCH`` =
    ``source_date_epoch``) is compared with the published wheel: the report's
    ``reproducible`` line says byte-identical or which members differ, and
    ``require_reproducible`` makes a difference a :class:`NotReproducible`.

    ``wheel_built_from_sdist`` says that ``expected``'s wheel was built from
    ``expected``'s sdist (the release's own build step does that).  Then, with
    both kinds and unless ``require_reproducible``, the sdist is not built a
    second time: the index must serve exactly the sdist bytes the wheel was
    built from (checked like every file against ``expected``), so the proof of
    the wheel - built from those bytes, installed and run - is the sdist's.
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
            own_names=own_names,
            before_install=before_install,
            expected=expected,
            expected_source=expected_source,
            source_date_epoch=source_date_epoch,
            require_reproducible=require_reproducible,
            wheel_built_from_sdist=wheel_built_from_sdist,
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
    own_names: Collection[str],
    before_install: Callable[[Path, IndexFile], None] | None,
    expected: Mapping[str, str] | None,
    expected_source: str,
    source_date_epoch: int | None,
    require_reproducible: bool,
    wheel_built_from_sdist: bool,
) -> VerifyReport:
    chosen_kinds = kinds
    compare = set(chosen_kinds) == set(KINDS)
    # The wheel this run built from its sdist is verified below (installed and run);
    # when the index serves that very sdist, byte for byte (_fetch refuses anything
    # else), building it again would build the same bytes into the same wheel: the
    # wheel's proof is the sdist's.  A required reproducibility check still rebuilds.
    same_sdist = compare and wheel_built_from_sdist and expected is not None
    same_sdist = same_sdist and not require_reproducible
    installed = ("wheel",) if same_sdist else chosen_kinds
    with contextlib.ExitStack() as stack:
        roots: dict[DistKind, Path] = {}
        for kind in chosen_kinds:
            scratch = tempfile.TemporaryDirectory(prefix=f"releasekit-verify-{kind}-")
            roots[kind] = Path(stack.enter_context(scratch))
        venvs = venvs_in_background(stack, {kind: roots[kind] / "venv" for kind in installed})
        files = wait_for_version(index, name, version, timeout=timeout, kinds=chosen_kinds)
        checked: list[str] = []
        if expected is not None:
            from releasekit.record import check_served

            checked = check_served(expected, files, index=index.name, source=expected_source)
        # Every download and every check of the downloaded bytes first, in order;
        # then the kinds install and prove themselves side by side, each in its
        # own venv and folder (they share nothing but the read-only index).
        fetched = {
            kind: _fetch(
                index, kind, files, roots[kind], before_install, expected=expected, download=compare
            )
            for kind in chosen_kinds
        }

        def verify_kind(kind: DistKind) -> list[str]:
            with grouped(kind):  # the wheel's lines, then the sdist's: not interleaved
                log.info("verifying the %s of %s %s from %s", kind, name, version, index.name)
                return _install_and_prove(
                    index,
                    name,
                    version,
                    kind=kind,
                    fetched=fetched[kind],
                    root=roots[kind],
                    made=venvs[kind],
                    console_scripts=console_scripts,
                    smoke=smoke,
                    dependency_index=dependency_index,
                    own_names=own_names,
                )

        with (
            _build_epoch(source_date_epoch),
            ThreadPoolExecutor(
                max_workers=len(installed), thread_name_prefix="releasekit-verify"
            ) as pool,
        ):
            # each thread runs in a copy of this context: the deadline goes with it
            running = [
                pool.submit(contextvars.copy_context().run, verify_kind, kind) for kind in installed
            ]
        lines: list[str] = []
        for future in running:  # the first kind's failure is the one raised
            lines += future.result()
        reproducible = None
        if same_sdist:
            lines.append(_same_sdist_line(index, fetched))
        elif compare:
            reproducible = _reproducible_line(
                fetched["wheel"][1], roots["sdist"] / "built", source_date_epoch
            )
    if reproducible is not None:
        log.info("%s", reproducible)
        if require_reproducible and not reproducible.startswith("reproducible:"):
            raise NotReproducible(
                f"{name} {version}: {reproducible}",
                "reproducible = true in [tool.releasekit]: make the build reproducible "
                "(the same build backend version, SOURCE_DATE_EPOCH, no build-time data) "
                "or set reproducible = false",
            )
    lines += checked + ([reproducible] if reproducible else [])
    return VerifyReport(name, version, index.name, chosen_kinds, tuple(lines), reproducible)


def _same_sdist_line(
    index: IndexConfig, fetched: Mapping[DistKind, tuple[IndexFile, Path | None]]
) -> str:
    """The sdist's line when it is the very sdist the verified wheel was built from."""
    sdist, wheel = fetched["sdist"][0], fetched["wheel"][0]
    line = (
        f"sdist: {sdist.filename} from {index.name}: the bytes {wheel.filename} was built from "
        "(sha256 checked), so the wheel's proof above is its proof; not built again"
    )
    log.info("%s", line)
    return line


def _reproducible_line(published: Path | None, built_dir: Path, epoch: int | None) -> str | None:
    """Compare the published wheel with the one rebuilt from the published sdist."""
    rebuilt = sorted(built_dir.glob("*.whl")) if built_dir.is_dir() else []
    if published is None or not rebuilt:
        return None
    if rebuilt[0].name != published.name:
        return (
            f"not compared: the published sdist builds {rebuilt[0].name} here, "
            f"the index serves {published.name}"
        )
    return compare_wheels(published, rebuilt[0]).describe(published.name, epoch)
