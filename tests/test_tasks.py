"""The invoke tasks, run as a user runs them: `invoke ...` in a real git copy of examples/oxi."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import invoke, status_table
from tests.conftest import git, repo_state


def test_bump_pre_moves_version_pin_and_notes(oxi_repo: Path) -> None:
    result = invoke(oxi_repo, "bump", "--pre", "--package", "oxi-core")
    assert result.returncode == 0, result.stderr
    assert "oxi-core: 0.1.0a1 -> 0.1.0a2" in result.stdout
    root = (oxi_repo / "pyproject.toml").read_text()
    assert (
        'version = "0.1.0a2"  # the single source of the version: releasekit bumps it here' in root
    )
    assert "# oxi: a small monorepo released with releasekit." in root  # comments kept
    adapter = (oxi_repo / "adapters/_reference/pyproject.toml").read_text()
    assert '"oxi-core==0.1.0a2",  # moves in step with oxi-core' in adapter
    assert 'version = "0.1.0a1"' in adapter  # the adapter's own version is its own business
    notes = oxi_repo / "docs/release-notes/v0.1.0a2.md"
    assert notes.is_file() and "0.1.0a2" in notes.read_text()
    changed = git(oxi_repo, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert sorted(tuple(line.split()) for line in changed) == [
        ("??", "docs/release-notes/v0.1.0a2.md"),
        ("M", "adapters/_reference/pyproject.toml"),
        ("M", "pyproject.toml"),
    ]


def test_bump_dry_writes_nothing(oxi_repo: Path) -> None:
    before = repo_state(oxi_repo)
    result = invoke(oxi_repo, "bump", "--minor", "--dry")
    assert result.returncode == 0, result.stderr
    assert "0.1.0a1 -> 0.1.0" in result.stdout  # --minor finalizes a X.Y.0 pre-release
    assert repo_state(oxi_repo) == before


def test_bump_then_status_and_tag(oxi_repo: Path) -> None:
    assert invoke(oxi_repo, "bump", "--pre", "b").returncode == 0
    status = invoke(oxi_repo, "status")
    assert status.returncode == 0, status.stderr
    table = status_table(status.stdout)
    assert table["oxi-core"]["version at source"] == "0.1.0b1"
    assert table["oxi-core"]["release notes"] == "stub"  # the new notes are untouched
    assert table["oxi-core"]["tag"] == "oxi-core-v0.1.0b1 (missing)"
    assert table["oxi-adapter-reference"]["sibling pins"] == "ok"  # its pin moved along
    git(oxi_repo, "commit", "-qam", "bump")
    git(oxi_repo, "add", "-A")
    git(oxi_repo, "commit", "-qm", "notes")
    tagged = invoke(oxi_repo, "tag", "--push")
    assert tagged.returncode == 0, tagged.stderr
    assert "created tag oxi-core-v0.1.0b1" in tagged.stdout
    assert git(oxi_repo, "ls-remote", "--tags", "origin").endswith("refs/tags/oxi-core-v0.1.0b1^{}")


def test_untag_refuses_final_and_deletes_prerelease(oxi_repo: Path) -> None:
    assert invoke(oxi_repo, "tag", "--push").returncode == 0
    result = invoke(oxi_repo, "untag")
    assert result.returncode == 0, result.stderr
    assert git(oxi_repo, "tag", "-l") == ""
    git(oxi_repo, "tag", "-a", "-m", "final", "oxi-core-v1.0.0")
    refused = invoke(oxi_repo, "untag", "--version", "1.0.0")
    assert refused.returncode != 0
    assert "final tags are never deleted" in refused.stderr
    assert git(oxi_repo, "tag", "-l") == "oxi-core-v1.0.0"


def test_notes_check(oxi_repo: Path) -> None:
    assert invoke(oxi_repo, "notes", "--check").returncode == 0
    assert invoke(oxi_repo, "notes", "--version", "0.2.0").returncode == 0
    failed = invoke(oxi_repo, "notes", "--check", "--version", "0.2.0")
    assert failed.returncode != 0 and "stub" in failed.stderr


BAD_INPUT = [
    (["bump", "--pre", "--package", "oxi-cor"], "no package 'oxi-cor'"),
    (["bump", "--to", "banana"], "'banana'"),
    (["bump", "--to", "0.0.9"], "0.0.9"),
    (["bump", "--to", "0.1.0a1"], "0.1.0a1"),
    (["bump", "--to", "0.1.0a2+local"], "local"),
    (["bump", "--pre", "a", "--to", "0.2.0"], "--to"),
]


@pytest.mark.parametrize(("args", "needle"), BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_one_clean_error(oxi_repo: Path, args: list[str], needle: str) -> None:
    before = repo_state(oxi_repo)
    result = invoke(oxi_repo, *args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.startswith("error: ")
    assert needle in result.stderr
    assert "hint: " in result.stderr
    assert repo_state(oxi_repo) == before


def test_phase_backwards_refused(oxi_repo: Path) -> None:
    assert invoke(oxi_repo, "bump", "--pre", "b").returncode == 0
    git(oxi_repo, "add", "-A")
    git(oxi_repo, "commit", "-qm", "beta")
    before = repo_state(oxi_repo)
    result = invoke(oxi_repo, "bump", "--pre", "a")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "hint: " in result.stderr
    assert repo_state(oxi_repo) == before


@pytest.mark.parametrize(
    ("mangle", "needle"),
    [
        (lambda text: text.replace("branch = ", "brnach = "), "did you mean 'branch'"),
        (lambda text: text.replace("[project]", "[project"), "is not valid TOML"),
    ],
    ids=["bad config key", "not TOML"],
)
def test_broken_pyproject(oxi_repo: Path, mangle, needle: str) -> None:  # type: ignore[no-untyped-def]
    pyproject = oxi_repo / "pyproject.toml"
    pyproject.write_text(mangle(pyproject.read_text()))
    git(oxi_repo, "commit", "-qam", "break it")
    before = repo_state(oxi_repo)
    result = invoke(oxi_repo, "bump", "--pre")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and needle in result.stderr
    assert repo_state(oxi_repo) == before


def test_missing_pyproject(tmp_path: Path) -> None:
    (tmp_path / "tasks.py").write_text("from releasekit.invoke import ns\n")
    result = invoke(tmp_path, "bump", "--pre")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "no pyproject.toml" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tasks.py"]


def test_help_text() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "--search-root", "examples/oxi", "--help", "bump"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[1],
    )
    assert result.returncode == 0
    assert "--pre" in result.stdout and "--dry" in result.stdout and "--package" in result.stdout


def test_rollback_task_republishes_and_status_marks_the_bad_version(oxi_repo: Path) -> None:
    git(oxi_repo, "tag", "-a", "-m", "released", "oxi-core-v0.1.0a1")
    result = invoke(
        oxi_repo,
        "rollback",
        "oxi-core",
        "0.1.0a1",
        "--user-visible",
        "--reason",
        "oxi --version prints 0.0.0",
    )
    assert result.returncode == 0, result.stderr
    assert "republish" in result.stdout
    assert "nox -s release -- oxi-core" in result.stdout
    assert 'version = "0.1.0a2"' in (oxi_repo / "pyproject.toml").read_text()
    new_notes = (oxi_repo / "docs/release-notes/v0.1.0a2.md").read_text()
    assert "not yanked" in new_notes and "oxi --version prints 0.0.0" in new_notes
    status = invoke(oxi_repo, "status", "--package", "oxi-core")
    assert status.returncode == 0, status.stderr
    assert "0.1.0a1 bad" in status.stdout


def test_rollback_task_refuses_an_unreleased_version(oxi_repo: Path) -> None:
    before = repo_state(oxi_repo)
    result = invoke(oxi_repo, "rollback", "oxi-core", "0.1.0a1", "--user-visible")
    assert result.returncode != 0
    assert result.stderr.startswith("error: ") and "hint: " in result.stderr
    assert "Traceback" not in result.stderr
    assert repo_state(oxi_repo) == before


def test_rollback_task_escalates_without_changes(oxi_repo: Path) -> None:
    git(oxi_repo, "tag", "-a", "-m", "released", "oxi-core-v0.1.0a1")
    before = repo_state(oxi_repo)
    result = invoke(oxi_repo, "rollback", "oxi-core", "0.1.0a1")  # no flags, no terminal
    assert result.returncode == 0, result.stderr
    assert "escalate" in result.stdout.lower()
    assert repo_state(oxi_repo) == before
