"""install() in real noxfiles: clashes with the project's own sessions, prefixes in hints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from releasekit.session_names import read_session_names
from tests.cli import nox
from tests.conftest import PROJECT, git

OWN_SESSIONS = """import nox

import releasekit.nox


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    session.log("the project's own lint")


@nox.session(venv_backend="none")
def release(session: nox.Session) -> None:
    session.log("the project's own release")


{install}
"""


def _noxfile(repo: Path, install: str) -> None:
    (repo / "noxfile.py").write_text(OWN_SESSIONS.format(install=install))
    git(repo, "commit", "-qam", f"noxfile: {install}")


def test_install_refuses_to_replace_the_projects_own_sessions(oxi_repo: Path) -> None:
    _noxfile(oxi_repo, "releasekit.nox.install()")
    listed = nox(oxi_repo, "-l")
    out = listed.stdout
    assert listed.returncode != 0, out
    assert (
        "releasekit.nox.install() would replace the session(s) 'lint', 'release' "
        "that this noxfile already defines"
    ) in out
    assert 'hint: keep yours and give releasekit\'s another name with install(prefix="rk-")' in out
    assert (
        "install(sessions=['build', 'sign', 'testpypi', 'publish', 'verify', 'github-release'])"
    ) in out
    assert "Traceback" not in out
    assert "FutureWarning" not in out


def test_an_unknown_session_name_is_one_error_with_the_nearest_name(oxi_repo: Path) -> None:
    _noxfile(oxi_repo, 'releasekit.nox.install(sessions=["biuld", "verify"])')
    listed = nox(oxi_repo, "-l")
    out = listed.stdout
    assert listed.returncode != 0, out
    assert "releasekit.nox.install() has no session(s) 'biuld' (did you mean 'build'?)" in out, out
    assert "hint: releasekit's sessions are lint, build, sign, testpypi, publish, verify" in out
    assert "Traceback" not in out and "ValueError" not in out


def test_sessions_leaves_the_projects_own_alone(oxi_repo: Path) -> None:
    _noxfile(oxi_repo, 'releasekit.nox.install(sessions=["build", "verify"])')
    mine = nox(oxi_repo, "-s", "lint")
    assert mine.returncode == 0, mine.stdout
    assert "the project's own lint" in mine.stdout
    listed = nox(oxi_repo, "-l")
    assert re.findall(r"^[*-] (\S+)", listed.stdout, re.M) == ["lint", "release", "build", "verify"]


def test_with_a_prefix_every_hint_names_the_prefixed_sessions(oxi_repo: Path) -> None:
    _noxfile(oxi_repo, 'releasekit.nox.install(prefix="rk-")')
    listed = nox(oxi_repo, "-l")
    names = re.findall(r"^[*-] (\S+)", listed.stdout, re.M)
    assert names[:2] == ["lint", "release"]
    assert "rk-release" in names and "rk-lint" in names

    mine = nox(oxi_repo, "-s", "release")
    assert "the project's own release" in mine.stdout

    cli = oxi_repo / "src" / "oxi_core" / "cli.py"
    cli.write_text("import os\n" + cli.read_text())
    git(oxi_repo, "commit", "-qam", "an unused import")
    failed = nox(oxi_repo, "-s", "rk-lint", "--", "--all")
    assert failed.returncode != 0, failed.stdout
    assert "then run: nox -s rk-lint -- --all" in failed.stdout

    # the invoke tasks read the names from the noxfile: bump's "next:" says rk-release
    bumped = subprocess.run(
        [sys.executable, "-m", "invoke", "bump", "--pre", "--package", "oxi-core"],
        cwd=oxi_repo,
        capture_output=True,
        text=True,
    )
    assert bumped.returncode == 0, bumped.stderr
    assert "`nox -s rk-release -- oxi-core`" in bumped.stdout
    assert "nox -s release" not in bumped.stdout


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import releasekit.nox\nreleasekit.nox.install()\n", {"release": "release"}),
        (
            "import releasekit.nox\nreleasekit.nox.install(prefix='rk-')\n",
            {"release": "rk-release", "verify": "rk-verify"},
        ),
        (
            "from releasekit.nox import install as rk\nrk(['verify'], prefix='x-')\n",
            {"verify": "x-verify"},
        ),
        (
            "from releasekit import nox as rkn\nimport nox\n"
            "@nox.session\ndef s(session):\n    session.install('ruff')\n"
            "rkn.install(sessions=('release',), prefix='ci-')\n",
            {"release": "ci-release"},
        ),
        ("this is not python (\n", {}),
    ],
)
def test_session_names_are_read_from_the_noxfile_without_running_it(
    tmp_path: Path, source: str, expected: dict[str, str]
) -> None:
    noxfile = tmp_path / "noxfile.py"
    noxfile.write_text(source)
    found = read_session_names(noxfile)
    for key, value in expected.items():
        assert found[key] == value
    if "sessions=" in source or "rk([" in source:
        assert set(found) == set(expected)


def _readme_snippets() -> dict[str, str]:
    """The README's Python blocks, by the file name their first line gives (``# noxfile.py``)."""
    text = (PROJECT / "README.md").read_text(encoding="utf-8")
    snippets = {}
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        first = block.splitlines()[0]
        match = re.fullmatch(r"# (\w+\.py)", first.strip())
        if match:
            snippets[match[1]] = block
    return snippets


def test_the_readme_snippets_pass_ruff_with_pyflakes_and_isort(tmp_path: Path) -> None:
    snippets = _readme_snippets()
    assert set(snippets) == {"noxfile.py", "tasks.py"}
    for name, body in snippets.items():
        (tmp_path / name).write_text(body)
    ruff = [sys.executable, "-m", "ruff"]
    for command in (
        [*ruff, "check", "--isolated", "--select", "F,I", "--no-cache", "."],
        [*ruff, "format", "--isolated", "--check", "--no-cache", "."],
    ):
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
