"""Build environments prepared while preflight, lint and test run.

Creating a package's isolated build environment, installing its static
``[build-system].requires`` and importing its build backend depend on neither
the source tree's state nor the steps before the build: :func:`prepare_build_envs`
(entered by :func:`releasekit.pipeline.release_run` when the run has the build
step) starts this for every package the run will build, in build order, at
most as many at once as the build step runs concurrently (one per core), in
threads that carry the run's context.  :func:`take_prepared` hands a package's
environment to :func:`releasekit.dists.build_dists`, waiting for it if it is
still being prepared.

No hook ever runs early: hooks run project code, which may write into the tree
while preflight checks it is clean.  The hook server (:mod:`releasekit._hook_runner`)
only imports the backend, and not even that for an in-tree backend
(``backend-path``), which is imported from the tree when its build runs.

A preparation that fails is not reported: the build makes its own environment
as without preparation and reports its own error.  What the preparation logged
is held and shown in the build's block when the environment is used.  An
environment not used by the end of the run (the run failed before the build,
it was interrupted, the build reused the files of an interrupted run) is
removed and its hook server stopped.  ``RELEASEKIT_NO_PREPARED_BUILD_ENV=1``
turns preparation off.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import sysconfig
import threading
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from releasekit.concurrency import Ahead, Held, run_held, worker_count

if TYPE_CHECKING:
    from releasekit.dists import _BuildEnv
    from releasekit.model import ReleaseOptions, Step, Target
    from releasekit.workspace import Package, Workspace

__all__ = ["PreparedEnv", "prepare_build_envs", "requirements_match", "take_prepared"]

log = logging.getLogger("releasekit")

_ENV_OFF = "RELEASEKIT_NO_PREPARED_BUILD_ENV"
_BACKEND_PATH = "_PYPROJECT_HOOKS_BACKEND_PATH_JSON"


@dataclass
class PreparedEnv:
    """One package's prepared environment: its requirements installed, maybe its backend."""

    env: _BuildEnv
    requires: frozenset[str]
    close: contextlib.ExitStack
    held: Held = field(default_factory=list)
    backend_imported: bool = False


class _Captured(Exception):
    """Raised by the capturing runner: the hook command pyproject-hooks would run."""

    def __init__(self, cmd: Sequence[str], cwd: str | None, extra: dict[str, str]) -> None:
        super().__init__("captured")
        self.cmd, self.cwd, self.extra = list(cmd), cwd, extra


def _capture(cmd: Sequence[str], cwd: str | None = None, extra_environ: object = None) -> None:
    raise _Captured(cmd, cwd, dict(extra_environ or {}))  # type: ignore[call-overload]


def requirements_match(prepared: Collection[str], wanted: Collection[str]) -> bool:
    """Whether an environment prepared for ``prepared`` serves a build that wants ``wanted``."""
    return frozenset(prepared) == frozenset(wanted)


def _hook_command(env: _BuildEnv, root: Path) -> _Captured | None:
    """The first hook's command (get_requires_for_build_sdist) as the build will run it,
    captured by a runner that runs nothing."""
    import build

    builder = build.ProjectBuilder.from_isolated_env(env, root, runner=_capture)

    # held and dropped: build's "Getting build dependencies" line, though no hook ran
    def ask(_: None) -> set[str]:
        return builder.get_requires_for_build("sdist")

    asked = contextvars.copy_context().run(run_held, None, ask)
    exc = asked.error
    if isinstance(exc, build.BuildBackendException) and isinstance(exc.exception, _Captured):
        return exc.exception
    if exc is not None:
        raise exc
    return None  # pragma: no cover - the runner always raises


def _prepare(package: Package, epoch: str) -> PreparedEnv:
    """Create the environment, install the static requirements, import the backend."""
    import build

    from releasekit.dists import _isolated_env

    with contextlib.ExitStack() as stack:
        env = stack.enter_context(_isolated_env())
        requires = frozenset(
            build.ProjectBuilder.from_isolated_env(env, package.root).build_system_requires
        )
        env.install(requires)
        prepared = PreparedEnv(env, requires, stack.pop_all())
    try:
        hook = _hook_command(env, package.root)
        if hook is None or _BACKEND_PATH in hook.extra:
            log.debug("%s: an in-tree backend, imported when its build runs", package.name)
            return prepared
        # the environment the build's hooks run with: SOURCE_DATE_EPOCH is set by then
        extra = {**hook.extra, "SOURCE_DATE_EPOCH": epoch}
        prepared.backend_imported = env.runner.start_ahead(hook.cmd, env.path, extra)
    except BaseException:
        prepared.close.close()
        raise
    return prepared


class _Preparations:
    """The preparations of one run, in build order, a bounded number at once."""

    def __init__(self, packages: Sequence[Package], epoch: str) -> None:
        # sysconfig fills its variables on first use, racily before Python 3.12 (uv's
        # find_uv_bin then reads EXE as None): once here, before any thread asks
        sysconfig.get_config_vars()
        self._limit = worker_count(len(packages))
        self._running = 0
        self._lock = threading.Lock()
        self._epoch = epoch
        self._packages = {_key(package): package for package in packages}
        self.ahead: Ahead[str, PreparedEnv] = Ahead(
            self._limit, discard=self._discard, name="releasekit-prepare"
        )

    def start(self) -> None:
        """Start every preparation (inside ``self.ahead``'s block: their lines are held)."""
        for key in self._packages:  # in build order: the pool starts them in this order
            self.ahead.start(key, self._one)

    def _one(self, key: str) -> PreparedEnv:
        package = self._packages[key]
        name = package.name
        with self._lock:
            self._running += 1
            now = self._running
        log.debug(
            "preparing the build environment of %s (%d in preparation, at most %d)",
            name,
            now,
            self._limit,
        )
        try:  # what the preparation logs is held, shown in the build's block if it is used
            done = contextvars.copy_context().run(
                run_held, package, lambda package: _prepare(package, self._epoch)
            )
        finally:
            with self._lock:
                self._running -= 1
        if done.error is not None or done.value is None:
            log.debug("the build environment of %s was not prepared: %s", name, done.error)
            raise done.error or RuntimeError("no environment")
        done.value.held = done.held
        log.debug("the build environment of %s is prepared", name)
        return done.value

    def _discard(self, key: str, prepared: PreparedEnv) -> None:
        log.debug("removing the unused build environment of %s", self._packages[key].name)
        prepared.close.close()

    def take(self, package: Package) -> PreparedEnv | None:
        try:
            return self.ahead.take(_key(package))
        except Exception as exc:  # the build makes its own environment and reports its error
            log.debug("no prepared build environment for %s (%s): a fresh one", package.name, exc)
            return None


def _key(package: Package) -> str:
    return str(package.root.resolve())


_ACTIVE: list[_Preparations] = []  # the run's preparations, while its block runs
_ACTIVE_LOCK = threading.Lock()


def _will_build(target: Target, options: ReleaseOptions, publishing: bool) -> bool:
    """False when the build step may reuse the files of an interrupted run (it asks the
    index then; they are on disk already)."""
    from releasekit.dists import find_dists
    from releasekit.errors import ReleaseError

    if options.rehearse or not publishing:
        return True
    try:
        find_dists(target.package, str(target.version), out_dir=target.dist_dir)
    except ReleaseError:
        return True
    return False


@contextlib.contextmanager
def prepare_build_envs(
    workspace: Workspace, targets: Sequence[Target], steps: Sequence[Step], options: ReleaseOptions
) -> Iterator[None]:
    """Prepare the build environments of ``targets`` in the background while the block runs.

    Nothing happens unless ``steps`` has the stock build step; a target whose
    dists an interrupted run left is left out.  Leaving the block stops the
    preparations not started, waits for those under way, and removes every
    environment :func:`take_prepared` did not hand out.
    """
    from releasekit.steps import step_build

    if not any(step.action is step_build for step in steps):
        yield
        return
    if os.environ.get(_ENV_OFF):
        log.debug("build environments made when each build starts: %s is set", _ENV_OFF)
        yield
        return
    publishing = any(step.remote for step in steps)
    packages = []
    for target in targets:
        if _will_build(target, options, publishing):
            packages.append(target.package)
        else:
            log.debug(
                "no build environment prepared for %s: the build may reuse the files in %s",
                target.package.name,
                target.dist_dir,
            )
    if not packages:
        yield
        return
    from releasekit import git

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is None:
        epoch = str(git.commit_time(workspace.root, "HEAD"))
    preparations = _Preparations(packages, epoch)
    with preparations.ahead:
        preparations.start()
        with _ACTIVE_LOCK:
            _ACTIVE.append(preparations)
        try:
            yield
        finally:
            with _ACTIVE_LOCK:
                _ACTIVE.remove(preparations)


@contextlib.contextmanager
def _handed_over(prepared: PreparedEnv) -> Iterator[_BuildEnv]:
    with prepared.close:
        yield prepared.env


def take_prepared(
    package: Package, requires: Collection[str]
) -> contextlib.AbstractContextManager[_BuildEnv] | None:
    """The environment prepared for ``package`` (waited for), when it was prepared for
    ``requires``; None otherwise (the caller makes a fresh one).  The caller owns it."""
    with _ACTIVE_LOCK:
        preparations = _ACTIVE[-1] if _ACTIVE else None
    prepared = preparations.take(package) if preparations is not None else None
    if prepared is None:
        return None
    if not requirements_match(prepared.requires, requires):
        log.debug(
            "the build environment of %s was prepared for %s, the build wants %s: a fresh one",
            package.name,
            sorted(prepared.requires),
            sorted(requires),
        )
        prepared.close.close()
        return None
    what = ", ".join(sorted(prepared.requires)) or "no requirements"
    log.info("build environment prepared during preflight/lint/test: %s", what)
    held, prepared.held = prepared.held, []
    for handler, record in held:  # what the preparation logged, in this build's block
        handler.handle(record)
    if not prepared.backend_imported:
        log.debug("its build backend is imported when the first hook runs")
    return _handed_over(prepared)
