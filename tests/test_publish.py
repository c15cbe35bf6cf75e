"""publish.py: real twine uploads to a real pypiserver with htpasswd auth."""

from __future__ import annotations

import contextlib
import hashlib
import io
import socket
import tarfile
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from releasekit.config import BUILTIN_INDEXES, IndexConfig
from releasekit.errors import (
    CredentialsError,
    DistCheckFailed,
    IndexError_,
    IndexUnreachable,
    VersionBurnt,
)
from releasekit.publish import (
    PublishPlan,
    needs_confirmation,
    plan_publish,
    publish,
    upload_credentials,
)

if TYPE_CHECKING:
    from tests.pypiserver_fixtures import Dists, FlakyFront, PypiServer

pytest_plugins = ["tests.pypiserver_fixtures"]

NAME, VERSION = "oxi-core", "0.1.0a1"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def _no_keyring_no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's keyring and CI variables must not decide these tests."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    for key in ("CI", "GITHUB_ACTIONS"):
        monkeypatch.delenv(key, raising=False)


def test_publish_uploads_then_a_rerun_changes_nothing(
    upload_env: PypiServer, oxi_dists: Dists, capsys: pytest.CaptureFixture[str]
) -> None:
    index = upload_env.index
    result = publish(index, oxi_dists.files, name=NAME, version=VERSION)
    assert sorted(result.uploaded) == sorted(p.name for p in oxi_dists.files)
    assert result.skipped == ()
    on_index = upload_env.listing()
    assert on_index == {p.name: sha256(p) for p in oxi_dists.files}

    again = publish(index, oxi_dists.files, name=NAME, version=VERSION)
    assert again.uploaded == ()
    assert sorted(again.skipped) == sorted(on_index)
    assert upload_env.listing() == on_index
    out = capsys.readouterr()
    assert out.out == "" and out.err == "", "the core never prints (twine's output is logged)"


def test_side_files_beside_the_dists_are_not_uploaded(
    upload_env: PypiServer, oxi_dists: Dists
) -> None:
    bundle = oxi_dists.wheel.with_name(oxi_dists.wheel.name + ".sigstore.json")
    bundle.write_text("{}")
    result = publish(upload_env.index, [*oxi_dists.files, bundle], name=NAME, version=VERSION)
    assert len(result.uploaded) == 2
    assert bundle.name not in upload_env.listing()


def test_a_partial_upload_fails_after_retries_and_a_rerun_completes_it(
    upload_env: PypiServer,
    oxi_dists: Dists,
    flaky_front: Callable[..., FlakyFront],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="releasekit")
    front = flaky_front(None)  # the wheel's upload always answers 500
    with pytest.raises(IndexError_) as excinfo:
        publish(front.index, oxi_dists.files, name=NAME, version=VERSION, retries=2, backoff=0.01)
    assert front.failed == 3, "one attempt and two retries"
    assert repr(oxi_dists.wheel.name) in str(excinfo.value)
    assert "re-run" in excinfo.value.hint
    assert upload_env.listing() == {oxi_dists.sdist.name: sha256(oxi_dists.sdist)}
    assert sum("retry" in r.getMessage() for r in caplog.records) == 2

    result = publish(upload_env.index, oxi_dists.files, name=NAME, version=VERSION)
    assert result.uploaded == (oxi_dists.wheel.name,)
    assert result.skipped == (oxi_dists.sdist.name,)
    assert upload_env.listing() == {p.name: sha256(p) for p in oxi_dists.files}


def test_a_transient_500_is_retried_with_backoff(
    upload_env: PypiServer,
    oxi_dists: Dists,
    flaky_front: Callable[..., FlakyFront],
    caplog: pytest.LogCaptureFixture,
) -> None:
    front = flaky_front(1)
    result = publish(front.index, oxi_dists.files, name=NAME, version=VERSION, backoff=0.01)
    assert front.failed == 1
    assert sorted(result.uploaded) == sorted(p.name for p in oxi_dists.files)
    assert upload_env.listing() == {p.name: sha256(p) for p in oxi_dists.files}
    (retry,) = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert oxi_dists.wheel.name in retry and "500" in retry and "retry 1 of 3" in retry


def test_a_500_after_the_index_stored_the_file_counts_as_uploaded(
    upload_env: PypiServer,
    oxi_dists: Dists,
    flaky_front: Callable[..., FlakyFront],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The retry hears 'already exists'; the index has the same bytes, so all is well."""
    caplog.set_level("INFO", logger="releasekit")
    front = flaky_front(1, store_first=True)
    result = publish(front.index, oxi_dists.files, name=NAME, version=VERSION, backoff=0.01)
    assert front.failed == 1 and front.forwarded_uploads == 3
    assert sorted(result.uploaded) == sorted(p.name for p in oxi_dists.files)
    assert upload_env.listing() == {p.name: sha256(p) for p in oxi_dists.files}
    assert f"{oxi_dists.wheel.name} reached flaky (same sha256)" in caplog.text


def _rebuilt_sdist(sdist: Path, dest: Path) -> Path:
    """The same sdist file name with one changed member: a rebuild with a change."""
    dest.mkdir()
    out = dest / sdist.name
    with tarfile.open(sdist) as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member) if member.isfile() else None
            if data is not None and member.name.endswith("README.md"):
                content = data.read() + b"\nA late fix.\n"
                member.size = len(content)
                dst.addfile(member, io.BytesIO(content))
            else:
                dst.addfile(member, data)
    return out


def test_changed_bytes_for_a_published_file_are_refused_before_any_upload(
    upload_env: PypiServer, oxi_dists: Dists, tmp_path: Path
) -> None:
    upload_env.put(oxi_dists.sdist)  # released earlier; the wheel is not on the index
    before = upload_env.listing()
    changed = _rebuilt_sdist(oxi_dists.sdist, tmp_path / "rebuilt")
    assert sha256(changed) != sha256(oxi_dists.sdist)
    with pytest.raises(VersionBurnt) as excinfo:
        publish(upload_env.index, [changed, oxi_dists.wheel], name=NAME, version=VERSION)
    error = excinfo.value
    assert repr(changed.name) in str(error)
    assert sha256(changed)[:12] in str(error) and sha256(oxi_dists.sdist)[:12] in str(error)
    assert "burnt" in error.hint and "invoke bump --pre" in error.hint
    assert upload_env.listing() == before, "nothing was uploaded, not even the missing wheel"


def test_plan_publish_sorts_files_by_what_the_index_has(
    pypiserver: PypiServer, oxi_dists: Dists
) -> None:
    pypiserver.put(oxi_dists.wheel)
    plan = plan_publish(pypiserver.index, "Oxi_Core", "0.1.0.a1", oxi_dists.files)
    assert plan == PublishPlan(pypiserver.index, (oxi_dists.sdist,), (oxi_dists.wheel,))


def test_a_wrong_password_is_a_credentials_error_without_the_password(
    pypiserver: PypiServer,
    oxi_dists: Dists,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level("DEBUG")
    wrong = "wrong-Pw-7731-not-the-real-one"
    monkeypatch.setenv("TWINE_USERNAME", pypiserver.username)
    monkeypatch.setenv("TWINE_PASSWORD", wrong)
    with pytest.raises(CredentialsError) as excinfo:
        publish(pypiserver.index, oxi_dists.files, name=NAME, version=VERSION, backoff=0.01)
    error = excinfo.value
    assert "403" in str(error)
    assert f"env TWINE_USERNAME={pypiserver.username!r}" in str(error)
    assert "TWINE_PASSWORD" in error.hint and repr(NAME) in error.hint
    out = capsys.readouterr()
    for text in (str(error), error.render(), repr(error), caplog.text, out.out, out.err):
        assert wrong not in text
    assert pypiserver.listing() == {}


def test_no_credentials_for_a_protected_index_is_a_credentials_error(
    pypiserver: PypiServer, oxi_dists: Dists
) -> None:
    with pytest.raises(CredentialsError, match="anonymous"):
        publish(pypiserver.index, oxi_dists.files, name=NAME, version=VERSION)
    assert pypiserver.listing() == {}


def test_an_index_that_is_down_is_unreachable(dead_index: IndexConfig, oxi_dists: Dists) -> None:
    with pytest.raises(IndexUnreachable) as excinfo:
        publish(dead_index, oxi_dists.files, name=NAME, version=VERSION, backoff=0.01)
    assert repr(f"{dead_index.simple_url}oxi-core/") in str(excinfo.value)


def _upload_to(server: PypiServer, upload_url: str) -> IndexConfig:
    """``server``'s index read as usual, but uploads sent to ``upload_url``."""
    return IndexConfig("staging", upload_url, server.index.simple_url)


def test_tls_to_a_server_that_speaks_plain_http_names_the_url_and_uploads_nothing(
    upload_env: PypiServer, oxi_dists: Dists
) -> None:
    port = urllib.parse.urlsplit(upload_env.index.upload_url).port
    index = _upload_to(upload_env, f"https://127.0.0.1:{port}/")
    with pytest.raises(IndexUnreachable) as caught:
        publish(index, oxi_dists.files, name=NAME, version=VERSION, backoff=0)
    assert str(caught.value) == (
        f"TLS to 'staging' at 'https://127.0.0.1:{port}/' failed (certificate not trusted?)"
    )
    assert "REQUESTS_CA_BUNDLE" in caught.value.hint
    assert upload_env.listing() == {}


def test_an_upload_url_where_nothing_listens_is_unreachable_at_once(
    upload_env: PypiServer, oxi_dists: Dists, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.pypiserver_fixtures import free_port

    url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(IndexUnreachable) as caught:
        publish(_upload_to(upload_env, url), oxi_dists.files, name=NAME, version=VERSION)
    assert str(caught.value) == (
        f"index 'staging' could not be reached at {url!r} (connection refused)"
    )
    assert "re-run publish to resume" in caught.value.hint
    assert "retry" not in caplog.text  # a refusal is not worth retrying
    assert upload_env.listing() == {}


@pytest.fixture
def hang_up() -> Iterator[str]:
    """A loopback port that accepts each connection and closes it without a word."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.2)
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    connection, _ = listener.accept()
                    connection.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
        finally:
            stop.set()
            thread.join(timeout=10)


def test_an_index_that_hangs_up_is_retried_then_reported_with_what_is_there(
    upload_env: PypiServer, oxi_dists: Dists, hang_up: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(IndexError_) as caught:
        publish(
            _upload_to(upload_env, hang_up), oxi_dists.files, name=NAME, version=VERSION,
            retries=1, backoff=0,
        )  # fmt: skip
    message = str(caught.value)
    assert message.startswith(f"upload of {oxi_dists.sdist.name!r} to 'staging' failed after 2")
    assert message.endswith("on the index: none")
    assert "re-run the same publish later" in caught.value.hint
    assert sum("retry 1 of 1" in r.getMessage() for r in caplog.records) == 1
    assert upload_env.listing() == {}


def test_attestations_are_not_sent_to_an_index_that_does_not_take_them(
    upload_env: PypiServer, oxi_dists: Dists, caplog: pytest.LogCaptureFixture
) -> None:
    result = publish(
        upload_env.index, oxi_dists.files, name=NAME, version=VERSION, attestations=True
    )
    assert len(result.uploaded) == 2
    assert "does not take attestations" in caplog.text


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["oxi_core-0.1.0a2.tar.gz"], "not a file of oxi-core 0.1.0a1"),
        (["other-0.1.0a1.tar.gz"], "not a file of oxi-core 0.1.0a1"),
        (["notes.txt"], "not a wheel or sdist"),
        (["oxi_core-0.1.0a1.tar.gz.sigstore.json"], "no wheel or sdist"),
        (["oxi_core-0.1.0a1-py3-none-any.whl"], "does not exist"),
    ],
)
def test_only_this_versions_dists_are_published(
    files: list[str],
    message: str,
    tmp_path: Path,
    dead_index: IndexConfig,
) -> None:
    for name in files[:-1] if message == "does not exist" else files:
        (tmp_path / name).write_text("x")
    with pytest.raises(DistCheckFailed, match=message):
        plan_publish(dead_index, NAME, VERSION, [tmp_path / n for n in files])


def test_credentials_come_from_the_environment_then_ci_trusted_publishing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    testpypi = BUILTIN_INDEXES["testpypi"]
    with pytest.raises(CredentialsError) as excinfo:
        upload_credentials(testpypi)  # no env, no keyring, not CI: fails before any network
    assert "TWINE_PASSWORD" in excinfo.value.hint

    monkeypatch.setenv("CI", "true")
    in_ci = upload_credentials(testpypi)
    assert in_ci.password is None and "trusted publishing" in in_ci.source

    monkeypatch.setenv("TWINE_PASSWORD", "pypi-AgEIcHlwaS5vcmc-token")
    from_env = upload_credentials(testpypi)
    assert (from_env.username, from_env.source) == ("__token__", "env TWINE_USERNAME='__token__'")
    assert "pypi-AgEIcHlwaS5vcmc-token" not in repr(from_env)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (("pypi", False, True, None), True),
        (("pypi", True, True, None), False),  # --yes
        (("pypi", False, False, None), False),  # not a terminal
        (("pypi", False, True, "true"), False),  # CI
        (("testpypi", False, True, None), False),
        (("local", False, True, None), False),
    ],
)
def test_needs_confirmation_only_for_pypi_at_a_terminal(
    case: tuple[str, bool, bool, str | None], expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    index, yes, interactive, ci = case
    if ci:
        monkeypatch.setenv("CI", ci)
    chosen = BUILTIN_INDEXES[index]
    assert needs_confirmation(chosen, yes=yes, interactive=interactive) is expected


def test_the_embedded_index_is_never_looked_up_in_keyring(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looked_up: list[str] = []

    def keyring_has(url: str, username: str) -> str:
        looked_up.append(url)
        return "from-keyring"

    monkeypatch.setattr("releasekit.publish._keyring_password", keyring_has)
    url = "http://127.0.0.1:8080/"
    local = upload_credentials(IndexConfig("local", url, url + "simple/"))
    assert local.source == "no credentials (anonymous upload)"
    assert looked_up == [], "a new port every run: keyring cannot name the embedded index"
    staging = upload_credentials(IndexConfig("staging", url, url + "simple/"))
    assert staging.source.startswith("keyring") and looked_up == [url]


@pytest.fixture
def name_used_before() -> Iterator[str]:
    """A loopback upload URL answering as PyPI does for a deleted file's name: 400, used."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Refuse(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(400, "This filename has already been used, use a different version")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_a_file_name_used_before_but_not_listed_is_burnt_and_says_bump(
    upload_env: PypiServer, oxi_dists: Dists, name_used_before: str
) -> None:
    index = _upload_to(upload_env, name_used_before)  # read from an index without the files
    with pytest.raises(VersionBurnt) as caught:
        publish(index, oxi_dists.files, name=NAME, version=VERSION, retries=0)
    assert "the file name was used before" in caught.value.message
    assert "bump the version" in caught.value.hint and "re-run" not in caught.value.hint
