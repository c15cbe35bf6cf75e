"""verify.py: install from a real pypiserver into fresh venvs and prove the version."""

from __future__ import annotations

import hashlib
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from releasekit._process import find_uv
from releasekit.errors import SignatureInvalid, SmokeFailed, VerifyFailed, VersionNotOnIndex
from releasekit.index import IndexFile, local_index
from releasekit.publish import publish
from releasekit.verify import verify_published, wait_for_version
from tests.conftest import repo_state

if TYPE_CHECKING:
    from tests.pypiserver_fixtures import Dists, PypiServer

pytest_plugins = ["tests.pypiserver_fixtures"]

NAME, VERSION = "oxi-core", "0.1.0a1"
BANNER = "oxi --version -> oxi 0.1.0a1"


def _hardcoded_version_wheel(wheel: Path, dest: Path) -> Path:
    """The oxi-core wheel with the runbook's bug: ``__version__ = "0.0.0"`` hardcoded."""
    dest.mkdir(parents=True)
    out = dest / wheel.name
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "oxi_core/__init__.py":
                data = b'__version__ = "0.0.0"\n'
            dst.writestr(item, data)
    return out


@pytest.fixture
def with_backend(pypiserver: PypiServer, build_backend_wheels: tuple[Path, ...]) -> PypiServer:
    """The index also holds the build backend, so an sdist builds from it alone."""
    for wheel in build_backend_wheels:
        pypiserver.put(wheel)
    return pypiserver


def test_verify_proves_the_published_wheel_and_sdist(
    with_backend: PypiServer,
    oxi_dists: Dists,
    oxi_repo: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWINE_USERNAME", with_backend.username)
    monkeypatch.setenv("TWINE_PASSWORD", with_backend.password)
    publish(with_backend.index, oxi_dists.files, name=NAME, version=VERSION)
    before = repo_state(oxi_repo)

    report = verify_published(
        with_backend.index, NAME, VERSION, console_scripts=["oxi"], timeout=120
    )

    assert report.checked == ("wheel", "sdist")
    assert (report.name, report.version, report.index) == (NAME, VERSION, "local")
    assert f"wheel: {oxi_dists.wheel.name} from local ({with_backend.index.simple_url})" in (
        report.lines
    )
    assert f"sdist: {oxi_dists.sdist.name} from local ({with_backend.index.simple_url})" in (
        report.lines
    )
    assert report.lines.count(f"  {BANNER}") == 2, "the banner shows the version, twice"
    assert report.lines.count("  installed oxi-core 0.1.0a1") == 2
    assert repo_state(oxi_repo) == before, "verify leaves nothing in the repository"


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_one_kind_is_verified_from_the_exact_bytes_the_index_serves(
    kind: str, with_backend: PypiServer, oxi_dists: Dists
) -> None:
    for dist in oxi_dists.files:
        with_backend.put(dist)
    seen: list[tuple[str, str, IndexFile]] = []

    def check_bundle(downloaded: Path, index_file: IndexFile) -> None:
        seen.append(
            (downloaded.name, hashlib.sha256(downloaded.read_bytes()).hexdigest(), index_file)
        )

    report = verify_published(
        with_backend.index,
        NAME,
        VERSION,
        console_scripts=["oxi"],
        kinds=[kind],  # type: ignore[list-item]
        timeout=120,
        before_install=check_bundle,
    )
    assert report.checked == (kind,)
    assert f"  {BANNER}" in report.lines
    expected = oxi_dists.wheel if kind == "wheel" else oxi_dists.sdist
    ((name, digest, listed),) = seen
    assert name == expected.name == listed.filename
    assert digest == hashlib.sha256(expected.read_bytes()).hexdigest() == listed.sha256
    assert listed.kind == kind


def test_a_failing_check_before_install_stops_verify(
    pypiserver: PypiServer, oxi_dists: Dists
) -> None:
    pypiserver.put(oxi_dists.wheel)

    def reject(downloaded: Path, index_file: IndexFile) -> None:
        raise SignatureInvalid(f"no valid bundle for {index_file.filename!r}", "sign it")

    with pytest.raises(SignatureInvalid, match=oxi_dists.wheel.name):
        verify_published(pypiserver.index, NAME, VERSION, kinds=["wheel"], before_install=reject)


def test_a_version_that_never_appears_fails_after_the_timeout(
    pypiserver: PypiServer, oxi_dists: Dists, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="releasekit.progress")  # the wait's reports
    pypiserver.put(oxi_dists.wheel)  # 0.1.0a1 is there; 0.1.0a9 never comes
    start = time.monotonic()
    with pytest.raises(VersionNotOnIndex) as excinfo:
        verify_published(pypiserver.index, NAME, "0.1.0a9", timeout=2)
    elapsed = time.monotonic() - start
    assert 2 <= elapsed < 10
    assert "does not list oxi-core 0.1.0a9 after 2 s" in str(excinfo.value)
    assert "'local'" in str(excinfo.value)
    assert "--timeout" in excinfo.value.hint and "verify-timeout" in excinfo.value.hint
    assert "waiting for local to list oxi-core 0.1.0a9 (up to 2 s): 0 s" in caplog.text


def test_wait_for_version_waits_for_every_kind_asked_and_logs_each_poll(
    pypiserver: PypiServer, oxi_dists: Dists, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="releasekit.progress")  # the wait's reports
    pypiserver.put(oxi_dists.sdist)
    (only,) = wait_for_version(pypiserver.index, NAME, VERSION, timeout=1)
    assert only.filename == oxi_dists.sdist.name
    assert "waiting" not in caplog.text, "no wait when the version is already there"
    with pytest.raises(VersionNotOnIndex, match=r"has no wheel of oxi-core 0\.1\.0a1"):
        wait_for_version(
            pypiserver.index, NAME, VERSION, timeout=1.5, interval=0.3, kinds=["wheel"]
        )
    waits = [r.getMessage() for r in caplog.records if r.getMessage().startswith("waiting")]
    assert len(waits) >= 4
    assert waits[0] == "waiting for local to list oxi-core 0.1.0a1 (up to 1.5 s): 0 s"
    assert "waiting for local to list oxi-core 0.1.0a1 (up to 1.5 s): 1 s" in waits


def test_verify_ignores_the_users_find_links_and_extra_indexes(
    pypiserver: PypiServer,
    oxi_dists: Dists,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The version is in the user's find-links, an extra index and ./dist - not on the index."""
    monkeypatch.chdir(oxi_dists.wheel.parent.parent)  # ./dist holds the good wheel
    with local_index(tmp_path / "elsewhere") as elsewhere:
        (tmp_path / "elsewhere" / oxi_dists.wheel.name).write_bytes(oxi_dists.wheel.read_bytes())
        for key, value in {
            "PIP_FIND_LINKS": str(oxi_dists.wheel.parent),
            "PIP_EXTRA_INDEX_URL": elsewhere.simple_url or "",
            "PIP_INDEX_URL": elsewhere.simple_url or "",
            "UV_FIND_LINKS": str(oxi_dists.wheel.parent),
            "UV_EXTRA_INDEX_URL": elsewhere.simple_url or "",
            "UV_INDEX": elsewhere.simple_url or "",
        }.items():
            monkeypatch.setenv(key, value)
        with pytest.raises(VersionNotOnIndex):
            verify_published(pypiserver.index, NAME, VERSION, kinds=["wheel"], timeout=1)

        # the index now has a broken wheel of that version; the good one is still in the
        # user's find-links and extra index: verify must install (and reject) the index's
        broken = _hardcoded_version_wheel(oxi_dists.wheel, tmp_path / "broken")
        pypiserver.put(broken)
        with pytest.raises(SmokeFailed) as excinfo:
            verify_published(
                pypiserver.index, NAME, VERSION, console_scripts=["oxi"], kinds=["wheel"]
            )
    message = str(excinfo.value)
    assert "'0.0.0'" in message
    assert "the wheel from 'local'" in message
    assert "importlib.metadata.version('oxi-core')" in excinfo.value.hint


def test_dependencies_may_come_from_a_second_index(
    pypiserver: PypiServer, oxi_dists: Dists, tmp_path: Path
) -> None:
    """Like TestPyPI: the package on one index, its dependency only on another."""
    from tests.pypiserver_fixtures import make_wheel

    plugin = make_wheel(tmp_path / "plugin", "oxi-plugin", "0.2.0", requires=("oxi-core==0.1.0a1",))
    pypiserver.put(plugin)
    with pytest.raises(VerifyFailed) as excinfo:
        verify_published(pypiserver.index, "oxi-plugin", "0.2.0", kinds=["wheel"], timeout=120)
    assert "oxi-plugin==0.2.0 (wheel) did not install from 'local'" in str(excinfo.value)
    assert "oxi-core" in str(excinfo.value), "the installer's reason is shown"

    with local_index(tmp_path / "deps") as deps:
        (tmp_path / "deps" / oxi_dists.wheel.name).write_bytes(oxi_dists.wheel.read_bytes())
        report = verify_published(
            pypiserver.index, "oxi-plugin", "0.2.0", kinds=["wheel"], dependency_index=deps
        )
    assert "  installed oxi-plugin 0.2.0" in report.lines
    assert "  oxi_plugin.__version__ == 0.2.0" in report.lines


@pytest.mark.skipif(find_uv() is None, reason="pip has no index priority; uv's first-index does")
def test_the_package_itself_comes_from_the_chosen_index_first(
    pypiserver: PypiServer, tmp_path: Path
) -> None:
    """A same-named, same-version package on the dependency index does not win."""
    from tests.pypiserver_fixtures import make_wheel

    ours = make_wheel(tmp_path / "ours", "oxi-plugin", "0.2.0")
    pypiserver.put(ours)
    with local_index(tmp_path / "deps") as deps:
        impostor = make_wheel(
            tmp_path / "impostor", "oxi-plugin", "0.2.0", module_source='__version__ = "6.6.6"\n'
        )
        (tmp_path / "deps" / impostor.name).write_bytes(impostor.read_bytes())
        report = verify_published(
            pypiserver.index, "oxi-plugin", "0.2.0", kinds=["wheel"], dependency_index=deps
        )
    assert "  oxi_plugin.__version__ == 0.2.0" in report.lines
