"""What the terminal shows: colour or none, tables within the width, -q and -v, said once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from releasekit import pipeline
from releasekit.errors import UploadRejected, VersionBurnt
from releasekit.report import format_table
from tests.conftest import git
from tests.test_gate import make_run

if TYPE_CHECKING:
    from tests.pypiserver_fixtures import PypiServer

pytest_plugins = ["tests.pypiserver_fixtures"]

ESCAPE = "\x1b["
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m ARGS`` in ``repo`` without a terminal, with ``env`` on top of ours."""
    base = {k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "FORCE_COLOR", "CI"}}
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=repo,
        env={**base, "COLUMNS": "80", **env},
        capture_output=True,
        text=True,
        timeout=240,
    )


def table_lines(out: str) -> list[str]:
    """The summary table: from its header to the 'N step(s) in' line."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("step "))
    end = next(i for i, line in enumerate(lines) if re.match(r"\d+ step\(s\) in", line))
    return lines[start:end]


def test_no_color_rehearsal_is_plain_and_its_tables_fit_80_columns(oxi_repo: Path) -> None:
    result = run(oxi_repo, "nox", "-s", "release", "--", "oxi-core", "--rehearse", NO_COLOR="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ESCAPE not in result.stdout + result.stderr
    table = table_lines(result.stdout)
    assert len(table) >= 12  # a row per step, long details wrapped under themselves
    assert all(len(line) <= 80 for line in table), "\n".join(table)
    assert not any("…" in line or "..." in line for line in table)
    # the details that are too long are there whole, on continuation lines
    assert "oxi_core-0.1.0a1-py3-none-any.whl" in "\n".join(table)
    assert re.search(r"^ {20,}\S", "\n".join(table), re.M)  # a wrapped detail's second line
    assert "this release is unsigned" in result.stdout


def test_force_color_and_quiet_rehearsal_shows_the_final_line_in_colour(oxi_repo: Path) -> None:
    args = ("nox", "-s", "release", "--", "oxi-core", "--rehearse", "-q")
    result = run(oxi_repo, *args, FORCE_COLOR="1")
    assert result.returncode == 0, result.stdout + result.stderr
    (final,) = result.stdout.splitlines()
    assert ESCAPE in final  # coloured although stdout is a pipe
    assert re.fullmatch(
        r"release ok: oxi-core 0\.1\.0a1 \(index: local \(rehearsal\)\), 12 step\(s\) in [\d.]+ s",
        ANSI.sub("", final),
    )
    others = [ANSI.sub("", line) for line in result.stderr.splitlines()]
    assert all(line.startswith("nox > ") for line in others), result.stderr  # only nox's own


def test_quiet_failure_is_the_error_block_only(oxi_repo: Path) -> None:
    (oxi_repo / "src/oxi_core/__init__.py").write_text('__version__ = "0.0.0"\n')
    git(oxi_repo, "commit", "-qam", "oops")
    result = run(oxi_repo, "nox", "-s", "release", "--", "oxi-core", "--rehearse", "-q")
    assert result.returncode != 0
    lines = result.stdout.splitlines()
    assert lines[0] == "FAILED at step 'preflight' (oxi-core)"
    assert lines[-1] == "then run: nox -s release -- oxi-core --rehearse -q"
    assert any(line.startswith("hint: fix every problem listed") for line in lines)
    assert not any(line.startswith(("step ", "preflight ")) for line in lines)  # no table
    assert all(line.startswith("nox > ") for line in result.stderr.splitlines()), result.stderr


def test_verbose_shows_every_command_and_normal_does_not(oxi_repo: Path) -> None:
    verbose = run(oxi_repo, "nox", "-s", "release", "--", "oxi-core", "--plan", "-v")
    assert verbose.returncode == 0, verbose.stderr
    assert re.search(r"^\$ git ", verbose.stderr, re.M), verbose.stderr
    normal = run(oxi_repo, "nox", "-s", "release", "--", "oxi-core", "--plan")
    assert not re.search(r"^\$ ", normal.stderr, re.M)
    task = run(oxi_repo, "invoke", "tag", "--dry", "-v")
    assert task.returncode == 0, task.stderr
    assert re.search(r"^\$ git ", task.stderr, re.M), task.stderr
    assert task.stdout.startswith("dry run: would tag 'oxi-core-v0.1.0a1'")


def test_bump_says_each_file_once_and_quiet_says_the_next_step(oxi_repo: Path) -> None:
    result = run(oxi_repo, "invoke", "bump", "--pre", "--package", "oxi-core")
    assert result.returncode == 0, result.stderr
    said = result.stdout + result.stderr
    assert "wrote" not in said
    assert said.count("adapters/_reference/pyproject.toml") == 1
    assert said.count("docs/release-notes/v0.1.0a2.md") == 1
    git(oxi_repo, "checkout", "-q", "--", ".")
    git(oxi_repo, "clean", "-qfd")
    quiet = run(oxi_repo, "invoke", "bump", "--pre", "--package", "oxi-core", "-q")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.splitlines() == [
        "next: review, commit (3 files), then `nox -s release -- oxi-core`"
    ]
    assert quiet.stderr == ""


def test_a_task_error_is_two_lines_on_stderr_even_when_quiet(oxi_repo: Path) -> None:
    result = run(oxi_repo, "invoke", "bump", "--to", "banana", "-q")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: invalid version 'banana': not a PEP 440 version",
        "hint: write it like '1.2.0', '1.2.0rc1', '1.2.0.post1' or '1.2.0.dev1'",
    ]


def test_a_table_wraps_long_cells_within_the_width_and_cuts_nothing() -> None:
    detail = "uploaded " + ", ".join(f"pkg-{n}-0.1.0-py3-none-any.whl" for n in range(8))
    text = format_table(("step", "result", "detail"), [("publish", "ok", detail)], width=80)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert lines[2].startswith("publish  ok      uploaded")
    assert " ".join(" ".join(line[16:].split()) for line in lines[2:]) == detail  # all of it
    assert "…" not in text


def test_a_burnt_version_says_bump_and_never_then_run_the_same(
    oxi_repo: Path, pypiserver: PypiServer
) -> None:
    def burnt(run: pipeline.ReleaseRun, target: pipeline.Target) -> str:
        raise VersionBurnt(
            "'staging' already has different content for 'oxi_core-0.1.0a1.tar.gz'",
            "bump the version (e.g. `invoke bump --pre`) and release that",
        )

    def refused(run: pipeline.ReleaseRun, target: pipeline.Target) -> str:
        raise UploadRejected("'staging' rejected 'oxi_core-0.1.0a1.tar.gz': HTTP 400", "fix it")

    gate = pipeline.Step("gate", lambda run, target: "ok")  # this test is about the block
    for action, repeat in ((burnt, False), (refused, True)):
        steps = [gate, pipeline.Step("publish", action, remote=True)]
        report = pipeline.run_release(make_run(oxi_repo, pypiserver, steps), steps)
        block = report.failure()
        assert "hint: " in block
        assert ("then run: " in block) is repeat, block


def test_a_build_backend_warning_is_one_line_once_and_quiet_hides_it(tmp_path: Path) -> None:
    """setuptools warns about a license table at every hook; pyproject-hooks raises each
    warning again in releasekit, with banners and a temporary path: one line each, here."""
    from tests.cli import nox
    from tests.conftest import make_repo

    source = Path(__file__).parent / "projects" / "setuptools-pyproject"
    repo = make_repo(source, tmp_path / "st", remote=False)
    pyproject = repo / "pyproject.toml"
    text = pyproject.read_text().replace(
        'requires-python = ">=3.10"', 'requires-python = ">=3.10"\nlicense = {text = "MIT"}'
    )
    pyproject.write_text(text)
    (repo / "noxfile.py").write_text("import releasekit.nox\n\nreleasekit.nox.install()\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "license table")
    proc = nox(repo, "-s", "build")
    assert proc.returncode == 0, proc.stdout[-3000:]
    warned = [
        line
        for line in proc.stdout.splitlines()
        if "the build backend warns: `project.license` as a TOML table is deprecated" in line
    ]
    assert len(warned) == 1, proc.stdout
    assert "BuildBackendWarning" not in proc.stdout
    assert "*****" not in proc.stdout and "\n!!" not in proc.stdout
    building = proc.stdout.index("── build · st-demo")
    assert building < proc.stdout.index(warned[0]) < proc.stdout.index("build ok in")

    quiet = nox(repo, "-s", "build", "--", "-q")
    assert quiet.returncode == 0, quiet.stdout[-3000:]
    assert "build backend warns" not in quiet.stdout
    assert "BuildBackendWarning" not in quiet.stdout
