"""Real builds of copies of examples/oxi: build, check, leak-lint and the local smoke test.

The clean workspace is built once for the module (both packages); each broken
variant (hardcoded ``__version__``, a leaked token, bad RST, a wheel without
its package, an incomplete sdist) is its own fresh copy and build.
"""

from __future__ import annotations

import dataclasses
import http.server
import logging
import secrets
import threading
from functools import partial
from pathlib import Path

import pytest

from releasekit.dist_checks import check_dists
from releasekit.dists import Dists, build_dists, find_dists
from releasekit.errors import BuildFailed, DistCheckFailed, LeakFound, SmokeFailed
from releasekit.leaks import Leak, require_no_leaks
from releasekit.smoke import smoke_test
from releasekit.workspace import Package, Workspace, load_workspace
from tests.conftest import EXAMPLE, make_repo

VERSION = "0.1.0a1"


@dataclasses.dataclass(frozen=True)
class Built:
    repo: Path
    workspace: Workspace
    core: Package
    adapter: Package
    core_dists: Dists
    adapter_dists: Dists


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """examples/oxi copied and built once: oxi-core, then the adapter that pins it.

    Before the build, dist/oxi-core/ holds a stale dist and a note, and
    dist/other/ a file of another package: the build must remove only the first.
    """
    repo = make_repo(EXAMPLE, tmp_path_factory.mktemp("built") / "oxi", remote=False)
    workspace = load_workspace(repo)
    core, adapter = workspace.get("oxi-core"), workspace.get("oxi-adapter-reference")
    core.dist_dir.mkdir(parents=True)
    (core.dist_dir / "oxi_core-0.0.9.tar.gz").write_bytes(b"stale")
    (core.dist_dir / "NOTES.txt").write_text("kept\n")
    (repo / "dist" / "other").mkdir()
    (repo / "dist" / "other" / "other-1.0.tar.gz").write_bytes(b"not ours")
    core_dists = build_dists(core, VERSION)
    adapter_dists = build_dists(adapter, VERSION)
    return Built(repo, workspace, core, adapter, core_dists, adapter_dists)


def variant(repo: Path) -> Package:
    return load_workspace(repo).get("oxi-core")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


# --- the clean build ---------------------------------------------------------------


def test_clean_build_passes_every_check(built: Built) -> None:
    dists = built.core_dists
    assert dists.sdist == built.core.dist_dir / "oxi_core-0.1.0a1.tar.gz"
    assert dists.wheels == (built.core.dist_dir / "oxi_core-0.1.0a1-py3-none-any.whl",)
    assert dists.files == (dists.sdist, *dists.wheels)
    passed = check_dists(built.core, VERSION, dists)
    assert "twine check --strict: PASSED" in passed
    assert "oxi_core-0.1.0a1-py3-none-any.whl contains oxi_core" in passed
    assert "metadata: Name oxi-core, Version 0.1.0a1 in every file" in passed
    require_no_leaks(dists.files, allow=built.core.settings.leak_allow)
    proof = smoke_test(built.core, VERSION, dists)
    assert proof.lines == (
        "oxi_core-0.1.0a1-py3-none-any.whl installed in a fresh venv",
        "installed oxi-core 0.1.0a1",
        "oxi_core.__version__ == 0.1.0a1",
        "oxi --version -> oxi 0.1.0a1",
    )


def test_adapter_smoke_takes_its_pinned_sibling_from_the_fresh_build(built: Built) -> None:
    check_dists(built.adapter, VERSION, built.adapter_dists)
    require_no_leaks(built.adapter_dists.files)
    proof = smoke_test(built.adapter, VERSION, built.adapter_dists)
    assert "installed oxi-adapter-reference 0.1.0a1" in proof.lines
    assert "oxi_adapter_reference.__version__ == 0.1.0a1" in proof.lines


def test_adapter_smoke_without_its_sibling_says_what_to_build(built: Built, tmp_path: Path) -> None:
    # Elsewhere, with no dist/oxi-core/ beside it: the pin must come from an index;
    # this loopback index is empty, so the install fails and the error says why.
    empty = tmp_path / "empty-index"
    (empty / "simple").mkdir(parents=True)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(http.server.SimpleHTTPRequestHandler, directory=str(empty))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    elsewhere = dataclasses.replace(built.adapter, workspace_root=tmp_path / "elsewhere")
    try:
        with pytest.raises(SmokeFailed) as caught:
            smoke_test(
                elsewhere,
                VERSION,
                built.adapter_dists,
                index_url=f"http://127.0.0.1:{server.server_address[1]}/simple/",
            )
    finally:
        server.shutdown()
        server.server_close()
    assert "oxi_adapter_reference-0.1.0a1-py3-none-any.whl" in str(caught.value)
    assert "does not install in a fresh venv" in str(caught.value)
    assert "oxi-core==0.1.0a1" in caught.value.hint


def test_build_replaces_only_its_own_old_files(built: Built) -> None:
    names = sorted(path.name for path in built.core.dist_dir.iterdir())
    assert names == ["NOTES.txt", "oxi_core-0.1.0a1-py3-none-any.whl", "oxi_core-0.1.0a1.tar.gz"]
    assert (built.repo / "dist" / "other" / "other-1.0.tar.gz").read_bytes() == b"not ours"


def test_find_dists(built: Built) -> None:
    assert find_dists(built.core, VERSION) == built.core_dists
    with pytest.raises(DistCheckFailed) as caught:
        find_dists(built.core, "0.1.0a2")
    assert "no sdist and wheel of oxi-core 0.1.0a2" in str(caught.value)
    assert caught.value.hint == "build them first: nox -s build -- oxi-core"


def test_check_refuses_another_version_and_a_missing_wheel(built: Built) -> None:
    with pytest.raises(DistCheckFailed) as caught:
        check_dists(built.core, "0.1.0a2", built.core_dists)
    message = str(caught.value)
    assert "'oxi_core-0.1.0a1.tar.gz' is oxi-core 0.1.0a1, not oxi-core 0.1.0a2" in message
    assert "metadata says Version '0.1.0a1', not '0.1.0a2'" in message
    with pytest.raises(DistCheckFailed, match=r"no wheel beside 'oxi_core-0\.1\.0a1\.tar\.gz'"):
        check_dists(built.core, VERSION, Dists(built.core_dists.sdist, ()))


def test_build_refuses_a_version_the_source_does_not_have(built: Built, tmp_path: Path) -> None:
    with pytest.raises(BuildFailed) as caught:
        build_dists(built.core, "0.1.0a2", out_dir=tmp_path / "out")
    assert "the sdist of 'oxi-core' is version '0.1.0a1', not '0.1.0a2'" in str(caught.value)


# --- broken variants, each a fresh copy --------------------------------------------


def test_hardcoded_version_fails_the_smoke_test(oxi_repo: Path) -> None:
    (oxi_repo / "src" / "oxi_core" / "__init__.py").write_text(
        '"""oxi core."""\n\n__version__ = "0.0.0"\n'
    )
    package = variant(oxi_repo)
    dists = build_dists(package, VERSION)
    check_dists(package, VERSION, dists)  # the index-side checks cannot see this bug
    with pytest.raises(SmokeFailed) as caught:
        smoke_test(package, VERSION, dists)
    message = str(caught.value)
    assert "oxi_core.__version__ is '0.0.0', not '0.1.0a1'" in message
    assert "'oxi --version' printed 'oxi 0.0.0'" in message
    assert "importlib.metadata.version('oxi-core')" in caught.value.hint


def test_env_file_with_a_token_is_a_leak_and_the_token_never_shows(
    oxi_repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token = "pypi-" + "AgEIcHlwaS5vcmc" + secrets.token_urlsafe(120)
    (oxi_repo / "src" / "oxi_core" / ".env").write_text(f"TWINE_PASSWORD={token}\n")
    package = variant(oxi_repo)
    caplog.set_level(logging.DEBUG)
    dists = build_dists(package, VERSION)
    with pytest.raises(LeakFound) as caught:
        require_no_leaks(dists.files, allow=package.settings.leak_allow)
    err = caught.value
    leaks = [leak for leak in err.findings if isinstance(leak, Leak)]
    found = {(leak.dist, leak.member, leak.rule) for leak in leaks}
    assert ("oxi_core-0.1.0a1.tar.gz", "oxi_core-0.1.0a1/src/oxi_core/.env", ".env file") in found
    assert ("oxi_core-0.1.0a1.tar.gz", "oxi_core-0.1.0a1/src/oxi_core/.env", "pypi-token") in found
    assert ("oxi_core-0.1.0a1-py3-none-any.whl", "oxi_core/.env", "pypi-token") in found
    assert "oxi_core-0.1.0a1/src/oxi_core/.env (.env file)" in str(err)
    for shown in (str(err), err.render(), repr(err.findings), caplog.text):
        assert token not in shown
        assert token[:16] not in shown


def test_readme_that_pypi_cannot_render_fails_the_check(oxi_repo: Path) -> None:
    (oxi_repo / "README.rst").write_text(
        "oxi\n=\n\nA title underline that is too short, and `a broken link <http://\n"
    )
    edit(
        oxi_repo / "pyproject.toml",
        'readme = "README.md"',
        'readme = {file = "README.rst", content-type = "text/x-rst"}',
    )
    edit(oxi_repo / "pyproject.toml", '"README.md"]', '"README.rst"]')
    package = variant(oxi_repo)
    dists = build_dists(package, VERSION)
    with pytest.raises(DistCheckFailed) as caught:
        check_dists(package, VERSION, dists)
    message = str(caught.value)
    assert message.startswith("twine check --strict failed: oxi_core-0.1.0a1.tar.gz: FAILED")
    assert "line 4: Warning: Inline interpreted text" in message  # where, in the README
    assert "oxi_core-0.1.0a1-py3-none-any.whl: FAILED" in message
    assert "readme" in caught.value.hint


def test_wheel_without_its_package_is_a_broken_build_config(oxi_repo: Path) -> None:
    edit(oxi_repo / "pyproject.toml", 'packages = ["src/oxi_core"]', 'packages = ["src/oxi_cor"]')
    package = variant(oxi_repo)
    dists = build_dists(package, VERSION)
    with pytest.raises(DistCheckFailed) as caught:
        check_dists(package, VERSION, dists)
    message = str(caught.value)
    assert "wheel 'oxi_core-0.1.0a1-py3-none-any.whl' contains no import package" in message
    assert "broken build config" in message
    assert "[tool.hatch.build.targets.wheel]" in caught.value.hint


def test_wheel_is_built_from_the_sdist_so_what_the_sdist_forgot_is_caught(oxi_repo: Path) -> None:
    # The sdist leaves out cli.py: a wheel built straight from the tree would have
    # it; built from the sdist, the wheel lacks the module its console script runs.
    edit(
        oxi_repo / "pyproject.toml",
        'include = ["src/", "tests/", "README.md"]',
        'include = ["src/oxi_core/__init__.py", "tests/", "README.md"]',
    )
    package = variant(oxi_repo)
    dists = build_dists(package, VERSION)
    with pytest.raises(DistCheckFailed) as caught:
        check_dists(package, VERSION, dists)
    assert str(caught.value) == (
        "console script 'oxi' runs 'oxi_core.cli', "
        "which wheel 'oxi_core-0.1.0a1-py3-none-any.whl' does not contain"
    )


def test_backend_error_is_a_build_failed_in_the_backends_words(oxi_repo: Path) -> None:
    edit(oxi_repo / "pyproject.toml", 'license = "Apache-2.0"', 'license = "Bogus-License"')
    package = variant(oxi_repo)
    with pytest.raises(BuildFailed) as caught:
        build_dists(package, VERSION)
    first_line = str(caught.value).splitlines()[0]
    assert first_line.startswith("building the sdist of 'oxi-core' failed: ")
    assert "Unknown license: 'bogus-license'" in first_line
    assert "nox -s build -- oxi-core" in caught.value.hint
    assert not package.dist_dir.exists() or not any(package.dist_dir.iterdir())


def test_smoke_work_dir_must_be_outside_the_repository(built: Built) -> None:
    inside = built.repo / "smoke"
    with pytest.raises(SmokeFailed, match="is inside the repository"):
        smoke_test(built.core, VERSION, built.core_dists, work_dir=inside)
    assert not inside.exists()
