"""Projects of every common shape, driven as their users would: status, bump, build, rehearse.

Each project in ``tests/projects/`` is copied into a fresh git repository and
released with the real ``invoke`` and ``nox`` command lines; the build
backends (flit_core, setuptools, setuptools-scm, hatch-vcs, poetry-core,
pdm-backend, hatchling) come from the offline test wheelhouse.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli import run_cli
from tests.conftest import git, repo_state

PROJECTS = Path(__file__).parent / "projects"


def shape_repo(dest: Path, shape: str, *, tags: tuple[str, ...] = (), ignore: str = "") -> Path:
    """``tests/projects/<shape>`` as a git repository with tasks.py and noxfile.py, committed."""
    repo = dest / shape
    shutil.copytree(PROJECTS / shape, repo, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "tasks.py").write_text("from releasekit.invoke import ns\n\n__all__ = ['ns']\n")
    (repo / "noxfile.py").write_text("import releasekit.nox\n\nreleasekit.nox.install()\n")
    (repo / ".gitignore").write_text(
        "dist/\n.nox/\nbuild/\n*.egg-info/\n__pycache__/\n.venv/\n" + ignore
    )
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial import")
    for tag in tags:
        git(repo, "tag", "-a", tag, "-m", f"release {tag}")
    return repo


def fill_notes(repo: Path, version: str) -> None:
    notes = repo / "docs" / "release-notes" / f"v{version}.md"
    assert notes.is_file(), sorted(str(p) for p in repo.rglob("*.md"))
    notes.write_text(f"# {version}\n\nWhat changed, written by a person.\n")


@dataclass(frozen=True)
class Shape:
    dir: str
    name: str
    old: str
    new: str
    source: str  # what `invoke status` says the version source is
    tags: tuple[str, ...] = ()
    ignore: str = ""

    @property
    def tag_driven(self) -> bool:
        return bool(self.tags)


SHAPES = [
    Shape("flit", "flit-demo", "0.3.0", "0.3.1", "flit_demo/__init__.py (flit's module)"),
    Shape(
        "setuptools-pyproject",
        "st-demo",
        "2.4.1",
        "2.4.2",
        "st_demo.__version__' -> __version__ in src/st_demo/_version.py",
    ),
    Shape(
        "setuptools-setupcfg",
        "cfg-demo",
        "1.0.0",
        "1.0.1",
        "setup.cfg [metadata] version = attr: cfg_demo.__version__",
    ),
    Shape("poetry", "poetry-demo", "0.2.0", "0.2.1", "[tool.poetry] version in pyproject.toml"),
    Shape("pdm", "pdm-demo", "0.9.0", "0.9.1", "[tool.pdm.version] path"),
    Shape("hatch-vcs", "vcs-demo", "1.6.0", "1.6.1", "git tags (hatch-vcs", tags=("1.6.0",)),
    Shape("hatch-code", "code-demo", "0.7.0", "0.7.1", "[tool.hatch.version] source = 'code'"),
    Shape(
        "setuptools-scm",
        "scm-demo",
        "0.4.0",
        "0.4.1",
        "git tags (setuptools-scm",
        tags=("v0.4.0",),
        ignore="src/scm_demo/_version.py\n",
    ),
]


@pytest.mark.parametrize("shape", SHAPES, ids=[s.dir for s in SHAPES])
def test_a_project_of_each_shape_is_bumped_built_and_rehearsed(
    tmp_path: Path, shape: Shape
) -> None:
    repo = shape_repo(tmp_path, shape.dir, tags=shape.tags, ignore=shape.ignore)

    status = run_cli(repo, "invoke", "status")
    assert status.returncode == 0, status.stdout
    assert re.search(rf"version at source\s+{re.escape(shape.old)}\b", status.stdout), status.stdout
    assert shape.source in status.stdout

    bump = run_cli(repo, "invoke", "bump", "--patch")
    assert bump.returncode == 0, bump.stdout
    assert f"{shape.name}: {shape.old} -> {shape.new}" in bump.stdout
    fill_notes(repo, shape.new)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"release {shape.new}")
    if shape.tag_driven:
        # the bump names the one command that makes the tag; it works as printed
        command = re.search(r"then make the tag '[^']+': (invoke tag .+)$", bump.stdout, re.M)
        assert command is not None, bump.stdout
        tagged = run_cli(repo, *command[1].split())
        assert tagged.returncode == 0, tagged.stdout
        assert shape.new in git(repo, "tag", "--points-at", "HEAD")
    else:
        assert "Traceback" not in bump.stdout

    status = run_cli(repo, "invoke", "status")
    assert re.search(rf"version at source\s+{re.escape(shape.new)}\b", status.stdout), status.stdout
    assert re.search(r"version literals\s+none", status.stdout), status.stdout

    build = run_cli(repo, "nox", "-s", "build")
    assert build.returncode == 0, build.stdout
    dist = sorted(p.name for p in (repo / "dist" / shape.name).iterdir())
    stem = shape.name.replace("-", "_")
    assert dist == [f"{stem}-{shape.new}-py3-none-any.whl", f"{stem}-{shape.new}.tar.gz"], dist

    shutil.rmtree(repo / "dist")
    rehearsal = run_cli(repo, "nox", "-s", "release", "--", "--rehearse")
    assert rehearsal.returncode == 0, rehearsal.stdout
    assert "Traceback" not in rehearsal.stdout
    assert git(repo, "status", "--porcelain") == ""


def uv(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    from releasekit._process import find_uv

    uv_bin = find_uv()
    assert uv_bin is not None
    return subprocess.run(
        [uv_bin, *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "UV_OFFLINE": "1"},
    )


def fill_all_notes(repo: Path, roots: list[str], version: str) -> None:
    for root in roots:
        fill_notes(repo / root, version)


def test_a_uv_workspace_bumps_with_its_dependents_and_its_lock_then_releases(
    tmp_path: Path,
) -> None:
    repo = shape_repo(tmp_path, "uv-workspace")
    locked = uv(repo, "lock")
    assert locked.returncode == 0, locked.stderr
    git(repo, "add", "uv.lock")
    git(repo, "commit", "-q", "-m", "lock")

    status = run_cli(repo, "invoke", "status")
    assert status.returncode == 0, status.stdout
    shown = re.findall(r"^([\w-]+) \(([\w/.-]+)\)$", status.stdout, re.M)
    assert shown == [
        ("uv-core", "packages/uv-core"),
        ("uv-plugin", "packages/uv-plugin"),
        ("uv-app", "."),
    ]  # the uv members, in dependency order; packages/scratch is excluded

    bump = run_cli(repo, "invoke", "bump", "--package", "uv-core", "--with-dependents", "--patch")
    assert bump.returncode == 0, bump.stdout
    for name in ("uv-core", "uv-plugin", "uv-app"):
        assert f"{name}: 0.1.0 -> 0.1.1" in bump.stdout
    assert "refreshed uv.lock (uv lock)" in bump.stdout
    assert '"uv-core==0.1.1"' in (repo / "packages/uv-plugin/pyproject.toml").read_text()
    assert '"uv-plugin==0.1.1"' in (repo / "pyproject.toml").read_text()
    check = uv(repo, "lock", "--check")
    assert check.returncode == 0, check.stderr  # the lock is not stale
    fill_all_notes(repo, [".", "packages/uv-core", "packages/uv-plugin"], "0.1.1")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "release 0.1.1")

    build = run_cli(repo, "nox", "-s", "build", "--", "--all")
    assert build.returncode == 0, build.stdout
    assert sorted(p.name for p in (repo / "dist").iterdir()) == ["uv-app", "uv-core", "uv-plugin"]
    shutil.rmtree(repo / "dist")
    rehearsal = run_cli(repo, "nox", "-s", "release", "--", "--all", "--rehearse")
    assert rehearsal.returncode == 0, rehearsal.stdout
    assert git(repo, "status", "--porcelain") == ""


def test_a_failed_uv_lock_restores_every_file(tmp_path: Path) -> None:
    repo = shape_repo(tmp_path, "uv-workspace")
    assert uv(repo, "lock").returncode == 0
    core = repo / "packages/uv-core/pyproject.toml"
    core.write_text(
        core.read_text().replace(
            "requires-python", 'dependencies = ["no-such-dist-xyz"]\nrequires-python'
        )
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a dependency no index has (the lock will fail)")
    before = repo_state(repo)
    bump = run_cli(repo, "invoke", "bump", "--all", "--minor")
    assert bump.returncode != 0
    assert "uv lock failed after the bump, so every file was restored" in bump.stdout
    assert "Traceback" not in bump.stdout
    assert repo_state(repo) == before


def test_a_monorepo_with_an_extras_loop_is_bumped_in_lockstep_and_released(
    tmp_path: Path,
) -> None:
    repo = shape_repo(tmp_path, "extras-loop")
    status = run_cli(repo, "invoke", "status")
    assert status.returncode == 0, status.stdout
    assert "loop-sdk -> loop-configuration -> loop-sdk" in status.stdout
    assert "dependency cycle" not in status.stdout

    bump = run_cli(repo, "invoke", "bump", "--all", "--minor")
    assert bump.returncode == 0, bump.stdout
    assert "loop-sdk: 1.0.0 -> 1.1.0" in bump.stdout
    assert "loop-configuration: 1.0.0 -> 1.1.0" in bump.stdout
    sdk = (repo / "sdk/pyproject.toml").read_text()
    assert '"loop-configuration==1.1.0"' in sdk and 'version = "1.1.0"' in sdk
    assert '"loop-sdk==1.1.0"' in (repo / "configuration/pyproject.toml").read_text()
    fill_all_notes(repo, ["sdk", "configuration"], "1.1.0")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "release 1.1.0")

    rehearsal = run_cli(repo, "nox", "-s", "release", "--", "--all", "--rehearse")
    assert rehearsal.returncode == 0, rehearsal.stdout
    order = re.findall(r"── build · (loop-[\w]+) ", rehearsal.stdout)
    assert order == ["loop-sdk", "loop-configuration"]  # runtime requirements order them


def test_a_tag_driven_bump_with_nothing_to_write_makes_the_tag_itself(tmp_path: Path) -> None:
    from releasekit.checks import preflight
    from releasekit.version_source import read_version
    from releasekit.workspace import load_workspace

    repo = shape_repo(tmp_path, "hatch-vcs", tags=("1.6.0",))
    (repo / "README.md").write_text("# hatch-vcs\n\nA change after 1.6.0.\n")
    git(repo, "commit", "-qam", "work after the release")
    workspace = load_workspace(repo)
    package = workspace.get("vcs-demo")
    [tag] = [f for f in preflight(workspace, package, read_version(package)) if f.check == "tag"]
    assert tag.failed and "HEAD is past 1.6.0" in tag.hint
    assert "invoke bump --package vcs-demo --patch" in tag.hint  # not "bump the version"

    notes = repo / "docs" / "release-notes" / "v1.6.1.md"  # written before the bump
    notes.parent.mkdir(parents=True)
    notes.write_text("# 1.6.1\n\nWhat changed, written by a person.\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "notes for 1.6.1")
    bump = run_cli(repo, "invoke", "bump", "--patch")
    assert bump.returncode == 0, bump.stdout
    assert "created tag 1.6.1 at HEAD" in bump.stdout
    assert git(repo, "tag", "--points-at", "HEAD") == "1.6.1"
    refused = run_cli(repo, "invoke", "tag", "--version", "1.5.9")
    assert refused.returncode != 0 and "below its latest tag (1.6.1)" in refused.stdout
