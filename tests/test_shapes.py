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
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import git

PROJECTS = Path(__file__).parent / "projects"


def run_cli(repo: Path, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m invoke|nox ARGS`` in ``repo``: stdout and stderr together, in order."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CI", "RELEASEKIT_DEBUG"} and not key.startswith("PYTEST_")
    }
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    return subprocess.run(
        [sys.executable, "-m", tool, *args],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )


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
