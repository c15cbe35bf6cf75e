"""The smoke test's venv and install are made while the check step runs.

A rehearsal of the example shows the smoke lines in the smoke step's block and makes
one venv; a failed check leaves no venv behind; an install made for another wheel is
not taken; a failed install made ahead is made again by the smoke test itself.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import pytest

from releasekit import smoke_ahead
from releasekit.dists import Dists
from releasekit.smoke import smoke_test, start_smoke_ahead
from releasekit.venvs import Venv
from releasekit.workspace import Package, load_workspace
from tests.cli import nox
from tests.conftest import git, make_wheel

TOKEN = "pypi-AgEIcHlwaS5vcmc" + "A" * 60


def _lines(output: str) -> list[str]:
    return output.splitlines()


def test_a_rehearsal_makes_the_smoke_venv_during_check_and_shows_it_under_smoke(
    oxi_repo: Path, tmp_path: Path
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = nox(oxi_repo, "-s", "release", "--", "oxi-core", "--rehearse", "--debug",
               env={"TMPDIR": str(scratch)})  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:]
    lines = _lines(proc.stdout)
    made = [i for i, line in enumerate(lines) if "made while the checks run" in line]
    check = next(i for i, line in enumerate(lines) if "── check · oxi-core" in line)
    smoke = next(i for i, line in enumerate(lines) if "── smoke · oxi-core" in line)
    passed = next(i for i, line in enumerate(lines) if "smoke ok in" in line)
    venvs = [
        i
        for i, line in enumerate(lines)
        if "creating a fresh venv at" in line and "releasekit-smoke-" in line
    ]
    assert made and check < made[0] < smoke, "started by the check step"
    assert len(venvs) == 1, "one smoke venv, not two"
    assert smoke < venvs[0] < passed, "its lines are shown in the smoke step's block"
    assert not list(scratch.glob("releasekit-smoke-*")), "removed at the end"


def test_a_failed_check_leaves_no_smoke_venv_behind(oxi_repo: Path, tmp_path: Path) -> None:
    leak = oxi_repo / "src" / "oxi_core" / "settings.ini"  # shipped in the sdist and wheel
    assert leak.parent.is_dir()
    leak.write_text(f"[upload]\ntoken = {TOKEN}\n")
    git(oxi_repo, "add", "-A")
    git(oxi_repo, "commit", "-q", "-m", "settings")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = nox(oxi_repo, "-s", "release", "--", "oxi-core", "--rehearse", "--debug",
               env={"TMPDIR": str(scratch)})  # fmt: skip
    assert proc.returncode != 0
    assert "FAILED at step 'check'" in proc.stdout, proc.stdout[-3000:]
    assert "made while the checks run" in proc.stdout, "the venv was made ahead"
    assert "releasekit-smoke-" not in proc.stdout.split("made while the checks run")[1], (
        "its lines are never shown: the smoke step did not run"
    )
    assert not list(scratch.glob("releasekit-smoke-*"))
    assert TOKEN not in proc.stdout


@pytest.fixture
def scratch_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _package(tmp_path: Path) -> tuple[Dists, Package]:
    root = tmp_path / "proj"
    (root / "src" / "rk_demo").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "rk-demo"\nversion = "1.2.0"\n\n[project.scripts]\n'
        'rk-demo = "rk_demo:main"\n'
    )
    wheel = make_wheel(tmp_path / "dist", "rk-demo", "1.2.0", console_script=True)
    sdist = tmp_path / "dist" / "rk_demo-1.2.0.tar.gz"
    sdist.write_bytes(b"")
    return Dists(sdist=sdist, wheels=(wheel,)), load_workspace(root).packages[0]


def test_an_install_made_for_another_wheel_is_not_taken(
    tmp_path: Path, scratch_tmp: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dists, package = _package(tmp_path)
    caplog.set_level(logging.DEBUG, logger="releasekit")
    with smoke_ahead.smoke_ahead():
        start_smoke_ahead(package, dists)
        assert smoke_ahead.pending() == 1
        wheel = dists.wheels[0]
        os.utime(wheel, ns=(wheel.stat().st_atime_ns, wheel.stat().st_mtime_ns + 10**9))
        proof = smoke_test(package, "1.2.0", dists)
        assert "rk-demo --version -> rk-demo 1.2.0" in proof.lines
        assert smoke_ahead.pending() == 1, "the wheel changed: made again, not taken"
        assert len(list(scratch_tmp.glob("releasekit-smoke-*"))) == 1
    assert not list(scratch_tmp.glob("releasekit-smoke-*")), "removed with the scope"

    with smoke_ahead.smoke_ahead():
        start_smoke_ahead(package, dists)
        proof = smoke_test(package, "1.2.0", dists)
        assert smoke_ahead.pending() == 0, "the same wheel: taken"
        assert "rk-demo --version -> rk-demo 1.2.0" in proof.lines
    assert not list(scratch_tmp.glob("releasekit-smoke-*"))


def test_an_install_that_failed_ahead_is_made_again_and_its_lines_are_not_shown(
    scratch_tmp: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="releasekit")
    log = logging.getLogger("releasekit")

    def broken(work: Path) -> Venv:
        log.info("a line of the install made ahead")
        raise RuntimeError("uv crashed")

    with smoke_ahead.smoke_ahead():
        smoke_ahead.start(("k",), broken, "rk-demo")
        assert smoke_ahead.take(("k",), "rk-demo") is None
        assert smoke_ahead.take(("k",), "rk-demo") is None, "taken once"
    messages = [r.getMessage() for r in caplog.records]
    assert "a line of the install made ahead" not in messages
    assert any("made ahead for rk-demo failed: making it again" in m for m in messages)
    assert not list(scratch_tmp.glob("releasekit-smoke-*")), "its folder went with it"


def test_outside_a_run_nothing_is_made_ahead(tmp_path: Path, scratch_tmp: Path) -> None:
    dists, package = _package(tmp_path)
    start_smoke_ahead(package, dists)
    assert smoke_ahead.pending() == 0
    assert not list(scratch_tmp.glob("releasekit-smoke-*"))
