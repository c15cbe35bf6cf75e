"""Fresh virtual environments and installs that ignore the user's installer configuration.

The local smoke test (:func:`releasekit.smoke.smoke_test`) and the verify step
use the same three moves: make a fresh venv outside the repository
(:func:`create_venv`), install into it while ignoring the user's pip and uv
configuration (:func:`install_into`), then ask the venv itself what got installed
(:func:`releasekit.smoke.prove_installed`).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from packaging.utils import canonicalize_name

from releasekit._process import find_uv, run
from releasekit.errors import (
    CommandFailed,
    DependencyConfusion,
    InstallFailed,
)

__all__ = [
    "InstallOptions",
    "Venv",
    "create_venv",
    "install_into",
    "isolated_env",
    "missing_requirement",
]

if TYPE_CHECKING:
    from releasekit.concurrency import Outcome

log = logging.getLogger("releasekit")

Key = TypeVar("Key", bound=Hashable)

_WINDOWS = os.name == "nt"
_DROPPED_PREFIXES = ("PIP_", "UV_", "PYTHON")
_DROPPED_NAMES = frozenset({"VIRTUAL_ENV", "CONDA_PREFIX", "__PYVENV_LAUNCHER__"})
_INSTALL_TIMEOUT = 600.0
_OUTPUT_TAIL = 12


@dataclass(frozen=True)
class Venv:
    """A virtual environment made by releasekit: its root, interpreter and scripts folder."""

    path: Path
    python: Path
    bin_dir: Path

    def script(self, name: str) -> Path:
        """Where the console script ``name`` lives once installed in this venv."""
        return self.bin_dir / (f"{name}.exe" if _WINDOWS else name)


def _venv_at(path: Path) -> Venv:
    bin_dir = path / ("Scripts" if _WINDOWS else "bin")
    return Venv(
        path=path, python=bin_dir / ("python.exe" if _WINDOWS else "python"), bin_dir=bin_dir
    )


def isolated_env(**extra: str) -> dict[str, str]:
    """The environment for installs that must not read the user's pip or uv configuration.

    ``os.environ`` minus every ``PIP_*``, ``UV_*`` and ``PYTHON*`` variable (and an
    active ``VIRTUAL_ENV``), plus settings that turn config files and prompts off,
    plus ``extra``.  ``PATH``, ``HOME`` and ``SSL_CERT_*`` are kept.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_DROPPED_PREFIXES) and key not in _DROPPED_NAMES
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INPUT="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        UV_NO_CONFIG="1",
    )
    env.update(extra)
    return env


def create_venv(path: Path) -> Venv:
    """Create a fresh venv at ``path`` with the running interpreter, and return it.

    With uv (see :func:`releasekit._process.find_uv`) this is ``uv venv`` without
    pip (installs go through ``uv pip``); otherwise ``python -m venv`` with pip.
    ``path`` should lie outside the repository, so nothing there shadows the install.
    """
    path = Path(path).absolute()
    uv = find_uv()
    log.info("creating a fresh venv at %s", path)
    if uv:
        command = [uv, "venv", "--no-config", "--quiet", "--clear"]
        command += ["--python", sys.executable, str(path)]
    else:
        command = [sys.executable, "-m", "venv", "--clear", str(path)]
    run(
        command,
        env=isolated_env(),
        what="creating a venv",
        hint="check that the directory is writable and the interpreter can make venvs",
    )
    venv = _venv_at(path)
    if not venv.python.exists():
        raise CommandFailed(
            f"creating a venv at {str(path)!r} left no interpreter at {str(venv.python)!r}",
            "remove the directory and try again",
            command=command,
        )
    return venv


def venvs_in_background(
    stack: contextlib.ExitStack[bool | None], where: Mapping[Key, Path]
) -> dict[Key, Callable[[], Venv]]:
    """A fresh venv at each ``where[key]``, made in the background from now on.

    For a caller with other work before it needs them (verify reads the index
    and checks the files it downloads meanwhile).  Calling ``result[key]()``
    waits for that venv and shows the lines its making logged, then, in the
    caller's block; it raises what making it raised.  ``stack`` owns the threads.
    """
    from releasekit.concurrency import Ahead, run_held

    ahead: Ahead[Key, Outcome[Key, Venv]] = stack.enter_context(
        Ahead(len(where), name="releasekit-venv")
    )
    for key in where:
        ahead.start(key, lambda key: run_held(key, lambda key: create_venv(where[key])))

    def taker(key: Key) -> Callable[[], Venv]:
        def take() -> Venv:
            outcome = ahead.take(key)
            if outcome is None:
                raise RuntimeError(f"the venv for {key!r} was taken already")
            outcome.replay()
            if outcome.error is not None or outcome.value is None:
                raise outcome.error or RuntimeError("no venv was made")
            return outcome.value

        return take

    return {key: taker(key) for key in where}


def _plain(url: str) -> str:
    """``url`` without a login and trailing slash, for comparing and showing."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def _with_login(url: str, logins: Mapping[str, tuple[str, str]]) -> str:
    login = logins.get(url)
    if login is None:
        return url
    parts = urlsplit(url)
    userinfo = f"{quote(login[0], safe='')}:{quote(login[1], safe='')}"
    return urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, "", ""))


_MISSING = (
    # uv: "Because extdep was not found in the package registry and ..."
    re.compile(r"Because (\S+?) was not found in the (?:package registry|provided package loc)"),
    re.compile(r"\b(\S+?) was not found in the (?:package registry|provided package locations)"),
    # uv: "Because there are no versions of extdep>=2 and ..."
    re.compile(r"there (?:are|is) no versions? of (\S+?)(?:,| and |\s*$)", re.MULTILINE),
    # uv: "Because only extdep==1.0 is available and rk-plugin==1.0 depends on extdep>=2.0, ..."
    re.compile(r"only \S+ is available and \S+ depends on (\S+?)(?:,|\s|$)"),
    # pip
    re.compile(r"No matching distribution found for (\S+)"),
    re.compile(r"Could not find a version that satisfies the requirement (\S+)"),
)


def missing_requirement(output: str) -> str | None:
    """The requirement an installer could not find, from its resolver output (uv or pip)."""
    for pattern in _MISSING:
        match = pattern.search(output)
        if match:
            return match[1].rstrip(",.")
    return None


def _own_sources(
    venv: Venv,
    requirements: Sequence[str],
    *,
    uv: str | None,
    options: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    redact: Sequence[str],
) -> dict[str, str]:
    """``{canonical name: the index URL it resolves from}``, resolving without installing."""
    found: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="releasekit-resolve-", dir=cwd) as scratch:
        if uv:
            wanted = Path(scratch) / "requirements.in"
            wanted.write_text("\n".join(requirements) + "\n", encoding="utf-8")
            command = [uv, "pip", "compile", "--no-config", "--no-header"]
            command += ["--emit-index-annotation", "--python", str(venv.python)]
            command += [o for o in options if o != "--no-cache"] + [
                "--no-cache",
                str(wanted),
            ]
            proc = run(command, cwd=cwd, env=env, redact=redact, what="resolving requirements")
            current = None
            for line in (proc.stdout or "").splitlines():
                name = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==|@)", line)
                if name:
                    current = canonicalize_name(name[1])
                    continue
                origin = re.match(r"^\s+# from (\S+)", line)
                if origin and current:
                    found[current] = origin[1]
            return found
        report = Path(scratch) / "report.json"
        command = [str(venv.python), "-m", "pip", "--isolated", "install", "--dry-run"]
        command += [
            "--quiet",
            "--no-input",
            "--report",
            str(report),
            *options,
            *requirements,
        ]
        run(command, cwd=cwd, env=env, redact=redact, what="resolving requirements")
        data = json.loads(report.read_text(encoding="utf-8"))
        for item in data.get("install", []):
            url = str(item.get("download_info", {}).get("url", ""))
            found[canonicalize_name(str(item["metadata"]["name"]))] = url
    return found


def _same_origin(a: str, b: str) -> bool:
    first, second = urlsplit(a), urlsplit(b)
    return (first.scheme, first.netloc.rsplit("@", 1)[-1]) == (
        second.scheme,
        second.netloc.rsplit("@", 1)[-1],
    )


@dataclass(frozen=True)
class InstallOptions:
    """Where :func:`install_into` may take requirements from, and how it installs them.

    With ``index_url`` (and not ``no_index``) only that index and
    ``extra_index_urls`` are consulted; with ``no_index`` only ``find_links``.
    ``index_strategy_first`` (uv) takes each name from the first index that has
    it, which keeps a public name from shadowing a private one; pip has no such
    option and ignores it.

    ``dependency_index_url`` is asked after the others, for third-party
    dependencies; ``own_names`` (canonical names: the workspace's packages)
    must then never come from it.  ``logins`` maps an index URL to the (user,
    password) to read it with; neither is ever shown.  ``constraints``
    (``name==version`` lines) bind what is resolved, such as a sibling built
    in this run to its fresh version.
    """

    index_url: str | None = None
    extra_index_urls: Sequence[str] = ()
    dependency_index_url: str | None = None
    own_names: Collection[str] = ()
    logins: Mapping[str, tuple[str, str]] = field(default_factory=dict, repr=False)
    find_links: Sequence[Path] = ()
    no_index: bool = False
    only_binary: bool = False
    no_binary: Sequence[str] = ()
    no_cache: bool = True
    index_strategy_first: bool = True
    constraints: Sequence[str] = ()

    def index_order(self, uv: str | None) -> list[str]:
        """The index URLs in the order the installer asks them (the last is uv's default)."""
        if self.dependency_index_url and not self.no_index:
            asked = [u for u in (self.index_url, *self.extra_index_urls) if u]
            return [*asked, self.dependency_index_url]
        if uv:  # uv asks the --index URLs first, in order, then the default index
            return [*self.extra_index_urls, *([self.index_url] if self.index_url else [])]
        return [*([self.index_url] if self.index_url else []), *self.extra_index_urls]

    def looked_in(self, ordered: Sequence[str]) -> str:
        """Where the install looks, as the user is told (never with a login)."""
        if self.no_index:
            return "the given find-links only"
        where = " then ".join(_plain(u) + "/" for u in ordered) or "the default index"
        return where + (" (and the given find-links)" if self.find_links else "")

    def secrets(self) -> list[str]:
        """The passwords of ``logins``, plain and URL-encoded: hidden from all output."""
        passwords = [password for _user, password in self.logins.values()]
        return [form for p in passwords for form in (p, quote(p, safe=""))]


def install_into(
    venv: Venv, requirements: Sequence[str], *, cwd: Path, options: InstallOptions
) -> None:
    """Install ``requirements`` (names, specifiers or paths to dists) into ``venv``.

    Never reads the user's pip or uv configuration or their environment
    variables; takes requirements only where ``options`` says.  With a
    dependency index and ``own_names``, the requirements are also resolved, and
    a name of ours that would come from the dependency index is refused
    (:class:`~releasekit.errors.DependencyConfusion`): before the install when
    it may build an sdist (a build runs the package's code), beside it with
    ``only_binary`` (a wheel's install runs none); either way the refusal
    comes before this function returns, so before anything installed runs.  A failed install raises
    :class:`~releasekit.errors.InstallFailed` naming the requirement that could
    not be found and where it was looked for.
    """
    if not requirements:
        return
    uv = find_uv()
    ordered = options.index_order(uv)
    where = options.looked_in(ordered)
    env = isolated_env()
    with tempfile.TemporaryDirectory(prefix="releasekit-constraints-") as scratch:
        command, installer_options = _installer_command(venv, uv, options, ordered)
        if options.constraints:
            constraint_file = Path(scratch) / "constraints.txt"
            constraint_file.write_text("\n".join(options.constraints) + "\n", encoding="utf-8")
            installer_options += ["-c", str(constraint_file)]
        checks = bool(options.dependency_index_url and options.own_names and not options.no_index)

        def refuse_confusion() -> None:
            _refuse_dependency_confusion(
                venv, requirements, uv=uv, options=options, installer_options=installer_options,
                cwd=cwd, env=env, where=where,
            )  # fmt: skip

        if checks and not options.only_binary:
            refuse_confusion()  # an sdist builds, running its code: resolve before anything
            checks = False
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="releasekit-resolve") as pool:
            # Wheels only: installing runs none of their code, so the resolve that may
            # refuse this install runs beside it, and its verdict comes first.
            resolving = None
            if checks:
                resolving = pool.submit(contextvars.copy_context().run, refuse_confusion)
            log.info("installing %s into %s from %s", ", ".join(requirements), venv.path, where)
            failed: InstallFailed | None = None
            try:
                proc = run(
                    [*command, *installer_options, *requirements],
                    cwd=cwd,
                    env=env,
                    redact=options.secrets(),
                    what="installing into a fresh venv",
                    hint="the requirements must be available from the chosen index or find-links "
                    "folders",
                    timeout=_INSTALL_TIMEOUT,
                )
            except CommandFailed as exc:
                failed = _install_failed(exc, where)
            if resolving is not None:
                resolving.result()  # DependencyConfusion before the install's own error
            if failed is not None:
                raise failed from None
    installed = _installed_by(proc.stdout or "")
    if installed:
        log.info("installed %s (from %s)", ", ".join(installed), where)


def _installer_command(  # noqa: PLR0912  uv and pip spell each option differently
    venv: Venv, uv: str | None, options: InstallOptions, ordered: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The installer's command for ``venv``, and its options from ``options``."""
    logins = options.logins
    flags: list[str] = []
    if uv:
        command = [uv, "pip", "install", "--no-config", "--python", str(venv.python)]
        if options.no_cache:
            flags.append("--no-cache")
        if not options.no_index and ordered:
            for url in ordered[:-1]:
                flags += ["--index", _with_login(url, logins)]
            flags += ["--default-index", _with_login(ordered[-1], logins)]
        if not options.no_index:
            strategy = "first-index" if options.index_strategy_first else "unsafe-best-match"
            flags += ["--index-strategy", strategy]
    else:
        command = [str(venv.python), "-m", "pip", "--isolated", "install", "--no-input"]
        if options.no_cache:
            flags.append("--no-cache-dir")
        if not options.no_index and ordered:
            flags += ["--index-url", _with_login(ordered[0], logins)]
            for url in ordered[1:]:
                flags += ["--extra-index-url", _with_login(url, logins)]
    if options.no_index:
        flags.append("--no-index")
    for folder in options.find_links:
        flags += ["--find-links", str(Path(folder).absolute())]
    if options.only_binary:
        flags += ["--only-binary", ":all:"]
    for name in options.no_binary:
        flags += ["--no-binary", name]
    return command, flags


def _refuse_dependency_confusion(
    venv: Venv,
    requirements: Sequence[str],
    *,
    uv: str | None,
    options: InstallOptions,
    installer_options: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    where: str,
) -> None:
    """Resolve without installing; refuse a name of ours that the dependency index would give."""
    dependency_index_url = options.dependency_index_url or ""
    index_url = options.index_url
    ours = {canonicalize_name(n) for n in options.own_names}
    try:
        sources = _own_sources(
            venv,
            requirements,
            uv=uv,
            options=installer_options,
            cwd=cwd,
            env=env,
            redact=options.secrets(),
        )
    except CommandFailed as exc:
        raise _install_failed(exc, where) from None
    for name, origin in sorted(sources.items()):
        if name not in ours or not origin:
            continue
        from_dependency = (
            _plain(origin) == _plain(dependency_index_url)
            if uv
            else _same_origin(origin, dependency_index_url)
            and not (index_url and _same_origin(origin, index_url))
        )
        if from_dependency:
            raise DependencyConfusion(
                f"{name!r} is a package of this workspace, but it would be installed from "
                f"the dependency index {_plain(dependency_index_url)}/, "
                f"not from {_plain(index_url or '')}/",
                f"the workspace's own packages come only from the index they are released "
                f"to: publish {name} there first, or release it together with this one",
            )


def _install_failed(exc: CommandFailed, where: str) -> InstallFailed:
    missing = missing_requirement(exc.output)
    message = exc.message
    if missing:
        message = f"installing into a fresh venv failed: {missing!r} was not found on {where}"
        message += "\n" + "\n".join(exc.output.rstrip().splitlines()[-_OUTPUT_TAIL:])
    return InstallFailed(
        message,
        exc.hint,
        command=exc.command,
        returncode=exc.returncode,
        output=exc.output,
        missing=missing,
        looked_in=where,
    )


def _installed_by(output: str) -> list[str]:
    """``name==version`` of what an installer says it installed (uv or pip output)."""
    found = [
        line.strip()[2:].split(" (from ")[0]
        for line in output.splitlines()
        if line.startswith(" + ")
    ]
    for line in output.splitlines():
        if line.startswith("Successfully installed "):
            found += ["==".join(item.rsplit("-", 1)) for item in line.split()[2:] if "-" in item]
    return found
