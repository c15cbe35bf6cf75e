"""Build environments prepared while preflight, lint and test run (releasekit.build_envs).

Real runs of the oxi example (``nox`` as a user runs it, real uv, real builds): the
build step takes the environment prepared for it, the dists are the files a build
without preparation makes, no hook runs before the build step (an in-tree backend
that writes a marker when imported or asked proves it), a preparation that fails
leaves the build's own error as it was, and an environment not used is removed
and its hook server stopped.  The speed is measured in bench/, never here.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

from releasekit import pipeline
from releasekit.build_envs import _prepare, prepare_build_envs, requirements_match, take_prepared
from releasekit.model import ReleaseOptions
from releasekit.workspace import load_workspace
from tests.cli import nox
from tests.conftest import git
from tests.test_hook_server import wait_gone
from tests.test_interrupt import Running

CORE, ADAPTER = "oxi-core", "oxi-adapter-reference"
OFF = "RELEASEKIT_NO_PREPARED_BUILD_ENV"
USED = "build environment prepared during preflight/lint/test: hatchling"
PREPARING = re.compile(
    r"preparing the build environment of (\S+) \((\d+) in preparation, at most (\d+)\)"
)

# An in-tree backend (backend-path) wrapping hatchling: importing it, or asking it for
# its requirements, writes a marker into the tree.
MARKER_BACKEND = """
from pathlib import Path
from hatchling.build import *  # noqa
import hatchling.build as _real

MARK = Path(__file__).resolve().parent.parent / "backend-ran.marker"
MARK.write_text("imported\\n")


def get_requires_for_build_sdist(config_settings=None):
    MARK.write_text("get_requires_for_build_sdist\\n")
    return _real.get_requires_for_build_sdist(config_settings)
"""


def set_build_system(repo: Path, requires: str, backend: str) -> None:
    pyproject = repo / "pyproject.toml"
    text = pyproject.read_text()
    text = text.replace('requires = ["hatchling"]', requires, 1)
    text = text.replace('build-backend = "hatchling.build"', backend, 1)
    pyproject.write_text(text)


def use_marker_backend(repo: Path) -> Path:
    (repo / "_backend").mkdir()
    (repo / "_backend" / "marker_backend.py").write_text(MARKER_BACKEND)
    set_build_system(
        repo,
        'requires = ["hatchling"]',
        'build-backend = "marker_backend"\nbackend-path = ["_backend"]',
    )
    return repo / "backend-ran.marker"


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def leftovers(tmp: Path) -> list[str]:
    return sorted(
        p.name for p in tmp.iterdir() if p.name.startswith(("build-env-", "releasekit-hooks-"))
    )


def server_pids(output: str) -> list[int]:
    return [int(pid) for pid in re.findall(r"hook server (\d+)", output)]


def hook_servers_in(tmp: Path) -> list[int]:
    """The hook servers running with an interpreter under ``tmp`` (a build environment's),
    read from /proc."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args[0].startswith(str(tmp).encode()) and any(b"_hook_server.py" in a for a in args):
            found.append(int(entry.name))
    return found


def lint_with(repo: Path, command: str) -> None:
    pyproject = repo / "pyproject.toml"
    lint = f"lint = [{json.dumps(command)}]"
    pyproject.write_text(
        pyproject.read_text().replace("[tool.releasekit]\n", f"[tool.releasekit]\n{lint}\n")
    )


def test_a_rehearsal_builds_in_the_prepared_environment(oxi_repo: Path) -> None:
    result = nox(oxi_repo, "-s", "release", "--", CORE, "--rehearse")
    assert result.returncode == 0, result.stdout
    build_block = result.stdout.split("── build ·", 1)[1].split("── check ·", 1)[0]
    assert USED in build_block
    assert "installing the build requirements hatchling (uv)" in build_block


def test_the_dists_are_the_files_a_build_without_preparation_makes(oxi_repo: Path) -> None:
    dist = oxi_repo / "dist" / CORE
    built: dict[str, dict[str, bytes]] = {}
    for side, env in (("off", {OFF: "1"}), ("on", {})):
        result = nox(oxi_repo, "-s", "build", "--", CORE, env=env)
        assert result.returncode == 0, result.stdout
        assert (USED in result.stdout) == (side == "on"), result.stdout
        built[side] = {p.name: p.read_bytes() for p in sorted(dist.iterdir())}
    assert len(built["on"]) == 2
    assert built["on"] == built["off"]


def test_no_hook_runs_before_the_build_step(oxi_repo: Path, tmp_path: Path) -> None:
    marker = use_marker_backend(oxi_repo)
    lint_with(oxi_repo, "python -c 'raise SystemExit(3)'")
    commit(oxi_repo, "an in-tree backend; a lint that fails")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    result = nox(
        oxi_repo, "-s", "release", "--", CORE, "--rehearse", "--debug", env={"TMPDIR": str(tmp)}
    )
    out = result.stdout
    assert result.returncode != 0, out
    assert "FAILED at step 'lint'" in out, out
    assert "preparing the build environment of oxi-core" in out
    assert not marker.exists(), "the backend was imported or a hook ran before the build"
    assert not leftovers(tmp)
    assert wait_gone(server_pids(out)) == []


def test_an_in_tree_backend_is_installed_for_but_not_imported(
    oxi_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = use_marker_backend(oxi_repo)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    package = load_workspace(oxi_repo).get(CORE)
    prepared = _prepare(package, "1700000000")
    try:
        assert prepared.requires == frozenset({"hatchling"})
        assert not prepared.backend_imported
        assert (Path(prepared.env.path)).is_dir()
        assert not marker.exists()
    finally:
        prepared.close.close()
    assert not leftovers(tmp_path)


def test_a_preparation_that_fails_leaves_the_build_error_as_it_was(oxi_repo: Path) -> None:
    set_build_system(
        oxi_repo,
        'requires = ["hatchling", "rk-no-such-backend"]',
        'build-backend = "hatchling.build"',
    )
    commit(oxi_repo, "a build requirement no index has")
    errors = {}
    for side, env in (("off", {OFF: "1"}), ("on", {})):
        result = nox(oxi_repo, "-s", "build", "--", CORE, env=env)
        assert result.returncode != 0, result.stdout
        assert USED not in result.stdout
        start = result.stdout.index("building the sdist of 'oxi-core' failed")
        block = result.stdout[start:].split("nox > Session", 1)[0]
        errors[side] = re.sub(r"[0-9.]+ s\b", "N s", re.sub(r"/\S+", "PATH", block))
    assert "rk-no-such-backend" in errors["on"]
    assert errors["on"] == errors["off"]


def test_a_prepared_environment_is_used_only_for_the_same_requirements(
    oxi_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert requirements_match(["hatchling", "x>=1"], {"x>=1", "hatchling"})
    assert not requirements_match(["hatchling"], ["hatchling", "editables"])
    caplog.set_level(logging.DEBUG, logger="releasekit")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    workspace = load_workspace(oxi_repo)
    packages = [workspace.get(CORE), workspace.get(ADAPTER)]
    options = ReleaseOptions(rehearse=True)
    targets = pipeline.plan_release(workspace, packages, options=options)
    with prepare_build_envs(workspace, targets, pipeline.DEFAULT_STEPS, options):
        assert take_prepared(packages[0], {"hatchling", "editables"}) is None
        assert "was prepared for ['hatchling'], the build wants" in caplog.text
        taken = take_prepared(packages[1], {"hatchling"})
        assert taken is not None
        with taken as env:
            assert Path(env.path).is_dir()
        assert take_prepared(packages[1], {"hatchling"}) is None, "handed out once"
        assert not leftovers(tmp_path)
    assert wait_gone(server_pids(caplog.text)) == []


def test_a_monorepo_prepares_at_most_one_per_core_and_uses_each(oxi_repo: Path) -> None:
    result = nox(oxi_repo, "-s", "release", "--", "--all", "--rehearse", "--debug")
    out = result.stdout
    assert result.returncode == 0, out
    started = PREPARING.findall(out)
    assert sorted(name for name, _, _ in started) == sorted([CORE, ADAPTER])
    limit = min(2, os.cpu_count() or 1)
    for _, running, at_most in started:
        assert int(at_most) == limit
        assert 1 <= int(running) <= limit
    assert out.count(USED) == 2, "each package's build took its prepared environment"
    assert "removing the unused build environment" not in out
    assert wait_gone(server_pids(out)) == []


def test_no_environment_is_prepared_for_files_a_resumed_release_may_reuse(
    oxi_repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="releasekit")
    workspace = load_workspace(oxi_repo)
    core = workspace.get(CORE)
    options = ReleaseOptions(index="staging")  # a real release: the build step may resume
    targets = pipeline.plan_release(workspace, [core], options=options)
    targets[0].dist_dir.mkdir(parents=True)
    for name in ("oxi_core-0.1.0a1.tar.gz", "oxi_core-0.1.0a1-py3-none-any.whl"):
        (targets[0].dist_dir / name).write_bytes(b"left by an interrupted run")
    with prepare_build_envs(workspace, targets, pipeline.DEFAULT_STEPS, options):
        assert take_prepared(core, {"hatchling"}) is None
    assert "no build environment prepared for oxi-core: the build may reuse" in caplog.text
    assert "preparing the build environment" not in caplog.text


@pytest.mark.timeout(400)
def test_sigterm_before_the_build_removes_the_prepared_environment(
    oxi_repo: Path, tmp_path: Path
) -> None:
    lint_with(oxi_repo, "python -c 'import time; time.sleep(120)'")
    commit(oxi_repo, "a lint that takes its time")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    running = Running.start(oxi_repo, tmp, "-s", "release", "--", CORE, "--rehearse", "--debug")
    try:
        running.wait_for("── lint · oxi-core")
        running.wait_for("the build environment of oxi-core is prepared")
        servers = hook_servers_in(tmp)
        assert len(servers) == 1, running.output  # hatchling imported, no hook run
        os.kill(running.proc.pid, signal.SIGTERM)
        code = running.finish()
    finally:
        if running.proc.poll() is None:
            running.kill_group()
    out = running.output
    assert code != 0, out
    assert "removing the unused build environment of oxi-core" in out
    assert wait_gone(servers) == [], out
    assert not leftovers(tmp), out
    assert "hook get_requires_for_build_sdist" not in out


def test_more_packages_than_cores_are_prepared_a_core_at_a_time_and_each_used_once(
    oxi_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="releasekit")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    names = [CORE, ADAPTER]
    for n in range(os.cpu_count() or 1):  # one package more than cores
        extra = oxi_repo / "adapters" / f"_extra{n}"
        shutil.copytree(oxi_repo / "adapters" / "_reference", extra)
        pyproject = extra / "pyproject.toml"
        pyproject.write_text(pyproject.read_text().replace(ADAPTER, f"oxi-adapter-extra{n}"))
        names.append(f"oxi-adapter-extra{n}")
    workspace = load_workspace(oxi_repo)
    packages = [workspace.get(name) for name in names]
    options = ReleaseOptions(rehearse=True)
    targets = pipeline.plan_release(workspace, packages, options=options)
    with prepare_build_envs(workspace, targets, pipeline.DEFAULT_STEPS, options):
        for target in targets:  # as the build step takes them: in build order
            taken = take_prepared(target.package, {"hatchling"})
            assert taken is not None, target.package.name
            with taken as env:
                assert Path(env.path).is_dir()
    started = PREPARING.findall(caplog.text)
    assert sorted(name for name, _, _ in started) == sorted(names)
    limit = min(len(names), os.cpu_count() or 1)
    assert limit < len(names)
    assert all(int(at_most) == limit and 1 <= int(n) <= limit for _, n, at_most in started)
    assert caplog.text.count(USED) == len(names)
    assert "removing the unused" not in caplog.text
    assert not leftovers(tmp_path)
    assert wait_gone(server_pids(caplog.text)) == []
