"""Defaults for projects as they are: lint/test tools, where tests live, which notes file."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
from packaging.version import Version

from releasekit import pipeline
from releasekit._process import run as run_process
from releasekit.edits import apply_edits
from releasekit.errors import NotesError, ToolNotFound
from releasekit.notes import notes_location, notes_style, plan_notes, require_notes
from releasekit.workspace import load_workspace
from tests.cli import nox
from tests.conftest import git


def _steps(*names: str) -> list[pipeline.Step]:
    by_name = {step.name: step for step in pipeline.DEFAULT_STEPS}
    return [by_name[name] for name in names]


def _run(root: Path, step: str, runner: pipeline.CommandRunner) -> pipeline.ReleaseReport:
    workspace = load_workspace(root)
    chosen = _steps(step)
    options = pipeline.ReleaseOptions(index="local", push=False)
    targets = pipeline.plan_release(
        workspace, list(workspace.packages), options=options, steps=chosen
    )
    from releasekit.config import BUILTIN_INDEXES

    run = pipeline.ReleaseRun(
        workspace=workspace,
        targets=targets,
        options=options,
        index=BUILTIN_INDEXES["local"],
        command_runner=runner,
    )
    return pipeline.run_release(run, chosen)


def test_default_lint_without_ruff_is_one_error_naming_the_tool_and_both_fixes(
    oxi_repo: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()

    def without_tools(command: Sequence[str], cwd: Path) -> None:
        # a real process start on a PATH where no linter is installed
        run_process(command, cwd=cwd, env={"PATH": str(empty)}, capture=False)

    report = _run(oxi_repo, "lint", without_tools)
    assert not report.ok
    assert isinstance(report.error, ToolNotFound)
    message, hint = report.error.message, report.error.hint
    assert "(the default lint) needs 'ruff', which is not installed here" in message
    assert "install 'ruff'" in hint
    assert "set lint = [...] in [tool.releasekit]" in hint
    assert "read its output above" not in report.failure()


def test_a_configured_tool_that_is_missing_is_named_by_nox(oxi_repo: Path) -> None:
    pyproject = oxi_repo / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.releasekit]\n", '[tool.releasekit]\nlint = ["rk-no-such-linter {path}"]\n', 1
        )
    )
    git(oxi_repo, "commit", "-qam", "a linter nobody installed")
    result = nox(oxi_repo, "-s", "lint", "--", "oxi-core")
    out = result.stdout
    assert result.returncode != 0, out
    assert "(your lint) needs 'rk-no-such-linter', which is not installed here" in out
    assert "hint: install 'rk-no-such-linter' beside releasekit" in out
    assert "read its output above" not in out
    assert "Traceback" not in out


def _project(root: Path, pyproject_extra: str = "", files: Sequence[str] = ()) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "1.0.0"\n' + textwrap.dedent(pyproject_extra)
    )
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    return root


@pytest.mark.parametrize(
    ("extra", "files", "expected"),
    [
        ("", ["tests/test_a.py"], ("pytest {path}/tests",)),
        ("", ["testing/test_a.py"], ("pytest {path}/testing",)),
        ("", ["tests/test_a.py", "testing/test_b.py"], ("pytest {path}/tests",)),
        ("", [], ()),
        (
            '[tool.pytest.ini_options]\ntestpaths = ["checks"]\n',
            ["checks/test_a.py", "tests/old.py"],
            ("pytest",),
        ),
        (  # testpaths naming nothing that exists: the folders are looked for
            '[tool.pytest.ini_options]\ntestpaths = ["gone"]\n',
            ["testing/test_a.py"],
            ("pytest {path}/testing",),
        ),
    ],
)
def test_default_test_command_follows_testpaths_then_tests_then_testing(
    tmp_path: Path, extra: str, files: list[str], expected: tuple[str, ...]
) -> None:
    root = _project(tmp_path / "demo", extra, files)
    assert pipeline.default_test_commands(root) == expected


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("pytest.ini", "[pytest]\ntestpaths = checks\n"),
        ("tox.ini", "[pytest]\ntestpaths = checks\n"),
        ("setup.cfg", "[tool:pytest]\ntestpaths =\n    checks\n"),
    ],
)
def test_testpaths_in_other_pytest_config_files(tmp_path: Path, name: str, body: str) -> None:
    root = _project(tmp_path / "demo", files=["checks/test_a.py"])
    (root / name).write_text(body)
    assert pipeline.default_test_commands(root) == ("pytest",)


def test_tests_in_testing_are_run_not_skipped(tmp_path: Path) -> None:
    root = _project(tmp_path / "demo", files=[])
    (root / "testing").mkdir()
    (root / "testing" / "test_fails.py").write_text("def test_fails():\n    assert 1 == 2\n")

    def in_this_python(command: Sequence[str], cwd: Path) -> None:
        args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *command[1:]]
        run_process(args, cwd=cwd)

    report = _run(root, "test", in_this_python)
    assert not report.ok, report.summary()
    assert report.failed_step == "test"
    assert "pytest" in report.error.message if report.error else False
    (root / "testing" / "test_fails.py").write_text("def test_passes():\n    assert 1 == 1\n")
    passed = _run(root, "test", in_this_python)
    assert passed.ok, passed.summary()
    assert [r.result for r in passed.records] == ["ok"]

    (root / "testing" / "test_fails.py").unlink()
    (root / "testing").rmdir()
    skipped = _run(root, "test", in_this_python)
    assert [r.result for r in skipped.records] == ["skipped"]
    assert "no tests found (pytest testpaths, tests/, testing/)" in skipped.records[0].detail


@pytest.mark.parametrize(
    ("files", "style", "where"),
    [
        (["CHANGELOG.md"], "changelog", "CHANGELOG.md"),
        (["CHANGES.rst"], "changelog", "CHANGES.rst"),
        (["HISTORY.md"], "changelog", "HISTORY.md"),
        (["NEWS.md"], "changelog", "NEWS.md"),
        (["History.rst"], "changelog", "History.rst"),
        (["HISTORY.md", "CHANGELOG.md"], "changelog", "CHANGELOG.md"),
        (["CHANGELOG.rst", "CHANGELOG.md"], "changelog", "CHANGELOG.md"),
        ([], "notes", "docs/release-notes/v1.0.0.md"),
        (  # a project already using the notes directory keeps it
            ["CHANGELOG.md", "docs/release-notes/v0.9.0.md"],
            "notes",
            "docs/release-notes/v1.0.0.md",
        ),
    ],
)
def test_an_existing_changelog_is_used_when_no_notes_key_is_set(
    tmp_path: Path, files: list[str], style: str, where: str
) -> None:
    root = _project(tmp_path / "demo", files=files)
    package = load_workspace(root).packages[0]
    assert notes_style(package)[0] == style
    assert notes_location(package, "1.0.0") == root / where


def test_the_found_changelog_is_where_notes_are_asked_for_and_written(tmp_path: Path) -> None:
    root = _project(tmp_path / "demo")
    (root / "CHANGELOG.md").write_text(
        "# Changelog\n\n## [Unreleased]\n\n- Fixed the frobnicator.\n"
    )
    package = load_workspace(root).packages[0]
    with pytest.raises(NotesError, match=r"'CHANGELOG\.md' has no \[1\.0\.0\] section"):
        require_notes(package, Version("1.0.0"))
    apply_edits(plan_notes(package, Version("1.0.0"), today=date(2026, 4, 30)))
    assert (root / "CHANGELOG.md").read_text() == (
        "# Changelog\n\n## [Unreleased]\n\n## [1.0.0] - 2026-04-30\n\n- Fixed the frobnicator.\n"
    )
    require_notes(package, Version("1.0.0"))
    assert not (root / "docs").exists()
