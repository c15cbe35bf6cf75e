"""The nox sessions as users run them: `nox ...` in a real git copy of examples/oxi."""

from __future__ import annotations

import os
import re
import socket
import sys
from pathlib import Path

import releasekit.nox
from tests.cli import nox
from tests.conftest import git, repo_state


def dist_files(repo: Path) -> dict[str, list[str]]:
    dist = repo / "dist"
    if not dist.is_dir():
        return {}
    return {folder.name: sorted(p.name for p in folder.iterdir()) for folder in dist.iterdir()}


def test_nox_l_lists_the_sessions_with_their_descriptions(oxi_repo: Path) -> None:
    listed = nox(oxi_repo, "-l")
    assert listed.returncode == 0, listed.stdout
    found = dict(re.findall(r"^[*-] ([\w-]+) -> (.+)$", listed.stdout, re.M))
    assert list(found) == [
        "lint", "build", "sign", "testpypi", "publish", "verify", "release", "github-release"
    ]  # fmt: skip
    for name, body in releasekit.nox.SESSIONS.items():
        assert body.__doc__ is not None
        assert found[name] == body.__doc__.strip().splitlines()[0]


def test_build_one_package_by_name_then_by_path_then_all(oxi_repo: Path) -> None:
    repo = oxi_repo
    before = repo_state(repo)
    core = ["oxi_core-0.1.0a1-py3-none-any.whl", "oxi_core-0.1.0a1.tar.gz"]
    adapter = [
        "oxi_adapter_reference-0.1.0a1-py3-none-any.whl",
        "oxi_adapter_reference-0.1.0a1.tar.gz",
    ]

    by_name = nox(repo, "-s", "build", "--", "oxi-core")
    assert by_name.returncode == 0, by_name.stdout
    assert dist_files(repo) == {"oxi-core": core}
    assert re.search(
        r"^smoke\s+oxi-core\s+ok\s.*oxi --version -> oxi 0\.1\.0a1$", by_name.stdout, re.M
    )
    assert "this release is unsigned" not in by_name.stdout  # a build is not a release
    assert "── publish" not in by_name.stdout

    by_path = nox(repo, "-s", "build", "--", "adapters/_reference")
    assert by_path.returncode == 0, by_path.stdout
    assert dist_files(repo) == {"oxi-core": core, "oxi-adapter-reference": adapter}
    found = re.search(
        r"^smoke\s+oxi-adapter-reference\s+ok\s[^\n]*\n.*?^3 step", by_path.stdout, re.M | re.S
    )
    assert found is not None, by_path.stdout
    assert "oxi_adapter_reference.__version__ == 0.1.0a1" in found[0]  # the detail, wrapped or not
    # the adapter's pin on oxi-core was met by the fresh build beside it, not by an index
    assert "installed oxi-adapter-reference==0.1.0a1, oxi-core==0.1.0a1 (from the given " \
        "find-links only)" in by_path.stdout  # fmt: skip

    everything = nox(repo, "-s", "build", "--", "--all")
    assert everything.returncode == 0, everything.stdout
    assert dist_files(repo) == {"oxi-core": core, "oxi-adapter-reference": adapter}
    rows = re.findall(r"^(build|check|smoke)\s+(oxi-[\w-]+)\s+ok\s", everything.stdout, re.M)
    assert rows == [
        (step, name)
        for step in ("build", "check", "smoke")
        for name in ("oxi-core", "oxi-adapter-reference")
    ]
    assert repo_state(repo) == before  # dist/ is git-ignored; nothing else changed


def test_bad_input_is_one_error_and_a_hint_and_changes_nothing(oxi_repo: Path) -> None:
    repo = oxi_repo
    before = repo_state(repo)
    cases = [
        (("-s", "build", "--", "oxi-nope"), "no package 'oxi-nope' in this workspace"),
        (("-s", "release", "--", "--all", "--rehearse", "--frobnicate"), "--frobnicate"),
        (("-s", "release", "--", "--all", "0.1.0a2"), "a bare version (0.1.0a2) is ambiguous"),
        (("-s", "release", "--", "oxi-core==0.1.0a9", "--plan"), "not 0.1.0a9"),
    ]
    for args, message in cases:
        result = nox(repo, *args)
        out = result.stdout
        assert result.returncode != 0, out
        (aborted,) = [line for line in out.splitlines() if "Session" in line and "aborted" in line]
        assert "aborted: see the error above" in aborted, out  # not run into our hint
        (error,) = [line for line in out.splitlines() if line.startswith("error: ")]
        assert message in error
        following = out.splitlines()[out.splitlines().index(error) + 1]
        assert following.startswith("hint: "), out
        assert "Traceback" not in out
    assert repo_state(repo) == before
    assert not (repo / "dist").exists()


def test_a_lint_failure_stops_and_shows_the_linters_output(oxi_repo: Path) -> None:
    repo = oxi_repo
    # lint reads no package index: with every proxy pointing at a dead port, it still passes
    with socket.socket() as sock:  # a port where nothing listens once it is closed
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    offline = nox(repo, "-s", "lint", "--", "--all", env={"HTTP_PROXY": dead, "HTTPS_PROXY": dead})
    assert offline.returncode == 0, offline.stdout
    assert re.findall(r"^lint\s+(oxi-[\w-]+)\s+ok\s", offline.stdout, re.M) == [
        "oxi-core",
        "oxi-adapter-reference",
    ]

    cli = repo / "src" / "oxi_core" / "cli.py"
    cli.write_text("import os\n" + cli.read_text())
    git(repo, "commit", "-qam", "an unused import")

    result = nox(repo, "-s", "lint", "--", "--all")
    out = result.stdout
    assert result.returncode != 0, out
    assert "F401" in out and "`os` imported but unused" in out  # ruff's own words
    assert "FAILED at step 'lint' (oxi-core)" in out
    assert "why: lint command 'ruff check" in out
    assert "then run: nox -s lint -- --all" in out
    assert "── lint · oxi-adapter-reference" not in out  # the first failure stops


def test_install_with_python_gives_each_session_a_uv_venv_with_its_tools(oxi_repo: Path) -> None:
    repo = oxi_repo
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    noxfile = (
        f'import releasekit.nox\n\nreleasekit.nox.install(sessions=["lint"], python="{python}")\n'
    )
    (repo / "noxfile.py").write_text(noxfile)  # as ruff would format it: the lint must pass
    git(repo, "commit", "-qam", "lint in its own venv")

    listed = nox(repo, "-l")
    assert re.findall(r"^[*-] (\S+)", listed.stdout, re.M) == ["lint"]
    result = nox(repo, "-s", "lint", "--", "--all")
    out = result.stdout
    assert result.returncode == 0, out
    assert "Creating virtual environment (uv)" in out
    assert "uv pip install ruff" in out  # the tool the lint commands name, by name
    venv_bin = repo / ".nox" / "lint" / ("Scripts" if os.name == "nt" else "bin")
    assert (venv_bin / "ruff").exists() or (venv_bin / "ruff.exe").exists()
    assert re.search(r"^nox > ruff check ", out, re.M)  # run by nox, in that venv
    # releasekit runs in the nox process; it is never installed into a session venv
    assert not list(venv_bin.parent.glob("lib/python*/site-packages/releasekit*"))
