"""Deadlines under a hostile index: a fault-injecting proxy in front of a real pypiserver.

Every network call has a connect and a read timeout; a hang is retried, then
one clear error names the index and the timeout; ``verify``'s timeout is a
total deadline that an index sending a byte at a time cannot stretch.  The
timeouts here are short (1-3 s) so the tests stay quick; what is asserted is
the outcome a user sees, never how long it took (pytest-timeout is the
safety net that turns a hang into a failure).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from releasekit.errors import DeadlineExceeded, IndexTimeout, IndexUnreachable
from releasekit.index import LIST_ATTEMPTS, download_from_index, files_on_index
from releasekit.publish import publish
from releasekit.verify import verify_published
from tests.conftest import git
from tests.fault_proxy import Fault

if TYPE_CHECKING:
    from tests.fault_proxy import FaultProxy
    from tests.pypiserver_fixtures import Dists, PypiServer

pytest_plugins = ["tests.pypiserver_fixtures"]

NAME, VERSION = "oxi-core", "0.1.0a1"
SAFETY = pytest.mark.timeout(180)  # a hang must fail the test, not the suite

MakeProxy = Callable[..., "FaultProxy"]


@pytest.fixture(autouse=True)
def _no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    for key in ("CI", "GITHUB_ACTIONS"):
        monkeypatch.delenv(key, raising=False)


# --- uploads ---------------------------------------------------------------------------


@SAFETY
def test_an_upload_the_index_never_answers_is_retried_then_names_index_and_timeout(
    upload_env: PypiServer, oxi_dists: Dists, fault_proxy: MakeProxy
) -> None:
    hang = Fault("hang", method="POST")
    proxy = fault_proxy(hang)
    index = proxy.index("slow", read_timeout=2)
    with pytest.raises(IndexTimeout) as excinfo:
        publish(index, oxi_dists.files, name=NAME, version=VERSION, retries=1, backoff=0.01)
    message = str(excinfo.value)
    assert "'slow'" in message, "the error names the index"
    assert "no answer within 2 s (read-timeout)" in message, "and the timeout that ran out"
    assert "after 2 attempts" in message
    assert repr(oxi_dists.sdist.name) in message
    assert "read-timeout" in excinfo.value.hint
    assert hang.applied == 2, "one attempt and one retry reached the index"
    assert upload_env.listing() == {}, "nothing was stored"


@SAFETY
def test_a_reset_upload_is_retried_and_the_publish_completes(
    upload_env: PypiServer,
    oxi_dists: Dists,
    fault_proxy: MakeProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    reset = Fault("reset", method="POST", times=1)
    proxy = fault_proxy(reset)
    result = publish(
        proxy.index(read_timeout=5), oxi_dists.files, name=NAME, version=VERSION, backoff=0.01
    )
    assert reset.applied == 1
    assert sorted(result.uploaded) == sorted(p.name for p in oxi_dists.files)
    assert sorted(upload_env.listing()) == sorted(p.name for p in oxi_dists.files)
    (retry,) = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert "connection reset or cut off" in retry and "retry 1 of 3" in retry


# --- listings and downloads -----------------------------------------------------------


@SAFETY
def test_a_reset_listing_is_retried(
    pypiserver: PypiServer,
    oxi_dists: Dists,
    fault_proxy: MakeProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pypiserver.put(oxi_dists.wheel)
    reset = Fault("reset", method="GET", path="/simple/*", times=1)
    proxy = fault_proxy(reset)
    (listed,) = files_on_index(proxy.index(read_timeout=5), NAME, VERSION)
    assert listed.filename == oxi_dists.wheel.name
    assert reset.applied == 1
    assert any(f"retry 1 of {LIST_ATTEMPTS - 1}" in r.getMessage() for r in caplog.records)


@SAFETY
def test_a_listing_that_never_answers_fails_naming_index_and_timeout(
    pypiserver: PypiServer, fault_proxy: MakeProxy
) -> None:
    hang = Fault("hang", method="GET")
    proxy = fault_proxy(hang)
    with pytest.raises(IndexTimeout) as excinfo:
        files_on_index(proxy.index("stuck", read_timeout=1), NAME, VERSION)
    assert "index 'stuck'" in str(excinfo.value)
    assert "no answer within 1 s (read-timeout)" in str(excinfo.value)
    assert hang.applied == LIST_ATTEMPTS, "a hang is transient: tried again before giving up"


@SAFETY
def test_a_refused_connection_is_not_retried(
    dead_index: object, caplog: pytest.LogCaptureFixture
) -> None:
    from releasekit.config import IndexConfig

    assert isinstance(dead_index, IndexConfig)
    with pytest.raises(IndexUnreachable, match="connection refused"):
        files_on_index(dead_index, NAME)
    assert not any("retry" in r.getMessage() for r in caplog.records)


@SAFETY
def test_a_download_that_stalls_leaves_no_partial_file(
    pypiserver: PypiServer, oxi_dists: Dists, fault_proxy: MakeProxy, tmp_path: Path
) -> None:
    pypiserver.put(oxi_dists.sdist)
    proxy = fault_proxy(Fault("hang", method="GET", path="/packages/*"))
    index = proxy.index("stalled", read_timeout=1)
    (listed,) = files_on_index(index, NAME, VERSION)
    with pytest.raises(IndexTimeout, match=r"'stalled'.*no answer within 1 s \(read-timeout\)"):
        download_from_index(index, listed, tmp_path / "dl")
    assert list((tmp_path / "dl").iterdir()) == []


# --- verify --timeout is a total deadline ------------------------------------------------


@SAFETY
@pytest.mark.parametrize(
    ("path", "kind"),
    [("/simple/*", "wheel"), ("/packages/*", "sdist")],
    ids=["listing", "download"],
)
def test_verify_keeps_its_total_deadline_against_an_index_that_drips(
    path: str,
    kind: str,
    pypiserver: PypiServer,
    oxi_dists: Dists,
    fault_proxy: MakeProxy,
) -> None:
    """A byte every 0.3 s never trips the 2 s read timeout; the 3 s deadline still holds."""
    for dist in oxi_dists.files:
        pypiserver.put(dist)
    drip = Fault("drip", method="GET", path=path, drip_interval=0.3)
    proxy = fault_proxy(drip)
    with pytest.raises(DeadlineExceeded) as excinfo:
        verify_published(
            proxy.index("dripping", read_timeout=2),
            NAME,
            VERSION,
            kinds=[kind],  # type: ignore[list-item]
            timeout=3,
        )
    message = str(excinfo.value)
    assert "verify of oxi-core 0.1.0a1 on 'dripping'" in message
    assert "the 3 s deadline ran out while reading" in message
    assert drip.applied >= 1


@SAFETY
def test_verify_deadline_bounds_the_installer_too(
    pypiserver: PypiServer, oxi_dists: Dists, fault_proxy: MakeProxy
) -> None:
    """The installer (a subprocess) gets the time left, not its own generous limit."""
    pypiserver.put(oxi_dists.wheel)
    # releasekit lists the version; the installer's download of the wheel never answers
    proxy = fault_proxy(Fault("hang", method="GET", path="/packages/*"))
    with pytest.raises(DeadlineExceeded) as excinfo:
        verify_published(proxy.index("stuck"), NAME, VERSION, kinds=["wheel"], timeout=4)
    assert "the 4 s deadline ran out while running installing into a fresh venv" in str(
        excinfo.value
    )


@SAFETY
def test_nox_verify_timeout_is_a_total_deadline_with_configured_timeouts(
    oxi_repo: Path, pypiserver: PypiServer, oxi_dists: Dists, fault_proxy: MakeProxy
) -> None:
    """`nox -s verify --timeout 4` against an index that drips: one error line, no traceback."""
    for dist in oxi_dists.files:
        pypiserver.put(dist)
    proxy = fault_proxy(Fault("drip", method="GET", path="/simple/*", drip_interval=0.3))
    pyproject = oxi_repo / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + "\n[tool.releasekit.indexes.staging]\n"
        + f'upload-url = "{proxy.url}"\nsimple-url = "{proxy.url}simple/"\n'
        + "connect-timeout = 2\nread-timeout = 2\n"
    )
    git(oxi_repo, "commit", "-qam", "staging behind a slow proxy")
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "RELEASEKIT_DEBUG"}}
    env = {k: v for k, v in env.items() if not k.startswith("PYTEST_")}
    command = ["-s", "verify", "--", "oxi-core", "0.1.0a1", "--index", "staging", "--timeout", "4"]
    result = subprocess.run(
        [sys.executable, "-m", "nox", *command],
        cwd=oxi_repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=150,  # a safety net only: the deadline is 4 s
    )
    out = result.stdout
    assert result.returncode != 0, out
    assert "the 4 s deadline ran out while reading" in out
    assert "'staging'" in out
    assert "Traceback" not in out


# --- the proxy's swap mode (for tests of what verify believes) ---------------------------


@SAFETY
def test_the_swap_fault_serves_other_bytes_listed_with_their_own_hash(
    pypiserver: PypiServer, oxi_dists: Dists, fault_proxy: MakeProxy, tmp_path: Path
) -> None:
    import hashlib

    pypiserver.put(oxi_dists.sdist)
    other = b"not the sdist that was published"
    proxy = fault_proxy(Fault("swap", swap={oxi_dists.sdist.name: other}))
    index = proxy.index("tampered")
    (listed,) = files_on_index(index, NAME, VERSION)
    assert listed.sha256 == hashlib.sha256(other).hexdigest()
    got = download_from_index(index, listed, tmp_path / "dl")
    assert got.read_bytes() == other, "the listing and the file agree: the index looks honest"
    assert (pypiserver.directory / oxi_dists.sdist.name).read_bytes() != other


@SAFETY
def test_a_release_whose_upload_hangs_stops_with_one_error_and_the_same_command_finishes_it(
    oxi_repo: Path, pypiserver: PypiServer, fault_proxy: MakeProxy
) -> None:
    from tests.cli import nox
    from tests.test_release import remote_tags, summary_rows, use_index

    hang = Fault("hang", method="POST", times=2)  # one try and one retry never answered
    proxy = fault_proxy(hang)
    use_index(oxi_repo, pypiserver.index, upload_url=proxy.url)  # uploads via the proxy
    pyproject = oxi_repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "read-timeout = 2\n")  # in [...indexes.staging]
    git(oxi_repo, "commit", "-qam", "a short read timeout for staging")
    command = ("-s", "release", "--", "oxi-core", "--index", "staging", "--retries", "1")

    first = nox(oxi_repo, *command, server=pypiserver)
    out = first.stdout
    assert first.returncode != 0, out
    assert ("publish", "oxi-core", "FAILED") in summary_rows(out)
    assert "FAILED at step 'publish' (oxi-core)" in out
    assert (
        "why: upload of 'oxi_core-0.1.0a1.tar.gz' to 'staging' failed after 2 attempts: "
        "no answer within 2 s (read-timeout)"
    ) in out
    assert "raise read-timeout" in out
    assert "Traceback" not in out
    assert hang.applied == 2
    assert pypiserver.listing() == {}
    assert remote_tags(oxi_repo) == "", "nothing was tagged"

    second = nox(oxi_repo, *command, server=pypiserver)  # the index answers again
    assert second.returncode == 0, second.stdout
    assert ("publish", "oxi-core", "ok") in summary_rows(second.stdout)
    assert sorted(pypiserver.listing()) == [
        "oxi_core-0.1.0a1-py3-none-any.whl",
        "oxi_core-0.1.0a1.tar.gz",
    ]
