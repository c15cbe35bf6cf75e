"""Shared fixtures: real git repositories holding copies of examples/oxi."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
EXAMPLE = PROJECT / "examples" / "oxi"
SHARED = PROJECT.parent / "shared"

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "releasekit tests",
    "GIT_AUTHOR_EMAIL": "tests@releasekit.invalid",
    "GIT_COMMITTER_NAME": "releasekit tests",
    "GIT_COMMITTER_EMAIL": "tests@releasekit.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.fixture(autouse=True)
def _hermetic_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Every test: a known git identity, no CI prompts skipped by accident, no user tokens."""
    for key, value in _GIT_ENV.items():
        monkeypatch.setenv(key, value)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    for key in (
        "TWINE_USERNAME",
        "TWINE_PASSWORD",
        "TWINE_REPOSITORY_URL",
        "SIGSTORE_IDENTITY_TOKEN",
    ):
        monkeypatch.delenv(key, raising=False)


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` and return its stdout (stripped)."""
    proc = subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **_GIT_ENV},
    )
    return proc.stdout.strip()


def make_repo(source: Path, dest: Path, *, remote: bool = True) -> Path:
    """Copy ``source`` to ``dest``, make it a git repo on ``main`` with one commit.

    With ``remote``, a bare repository beside it is its ``origin`` (pushed).
    """
    shutil.copytree(
        source, dest, ignore=shutil.ignore_patterns("dist", ".nox", "__pycache__", "*.egg-info")
    )
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "oxi: initial import")
    if remote:
        bare = dest.parent / (dest.name + "-origin.git")
        subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
        git(dest, "remote", "add", "origin", str(bare))
        git(dest, "push", "-q", "origin", "main")
    return dest


@pytest.fixture
def oxi_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh git copy of examples/oxi (with a bare ``origin``); the cwd is its root."""
    repo = make_repo(EXAMPLE, tmp_path / "oxi")
    monkeypatch.chdir(repo)
    yield repo


def repo_state(repo: Path) -> dict[str, str]:
    """What a user would compare before and after: status, tags, HEAD, file hashes."""
    return {
        "status": git(repo, "status", "--porcelain", "--untracked-files=all"),
        "tags": git(repo, "tag", "-l"),
        "head": git(repo, "rev-parse", "HEAD"),
        "files": git(repo, "ls-files", "-s"),
        "diff": git(repo, "diff"),
    }
