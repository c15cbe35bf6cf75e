"""embedded_index.py: the embedded index starts at once and is waited for only when needed.

Real pypiservers on 127.0.0.1 and real rehearsals of oxi-core (in-process, and as
``nox -s release`` for a custom pipeline).  A port taken between choosing it and the
server binding it is made real through the module's one seam, ``_free_port``: the
``taken_ports`` fixture hands out ports this test holds (bound and listening).
"""

from __future__ import annotations

import logging
import socket
import tempfile
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from releasekit import embedded_index, pipeline
from releasekit.config import IndexConfig
from releasekit.embedded_index import start_local_index
from releasekit.errors import IndexUnreachable
from releasekit.index import files_on_index
from releasekit.workspace import load_workspace
from tests.cli import nox
from tests.test_interrupt import _alive, _left_behind, _servers_in
from tests.test_release import summary_rows

SAFETY = pytest.mark.timeout(400)


def _answers(index: IndexConfig) -> bool:
    try:
        with urllib.request.urlopen(f"{index.upload_url}health", timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _port(index: IndexConfig) -> int:
    assert index.upload_url is not None
    return int(index.upload_url.rstrip("/").rsplit(":", 1)[1])


@pytest.fixture
def tmpdir_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A TMPDIR of this test's own, for this process's temporary folders."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def taken_ports(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], list[int]]]:
    """``take(n)``: the next ``n`` ports the embedded index chooses are held by this test
    (the server started on one exits: address in use); later ones are free."""
    held: list[socket.socket] = []
    real = embedded_index._free_port

    def take(count: int) -> list[int]:
        ports = []
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sock.listen()
            held.append(sock)
            ports.append(sock.getsockname()[1])
        queue = list(ports)
        monkeypatch.setattr(embedded_index, "_free_port", lambda: queue.pop(0) if queue else real())
        return ports

    yield take
    for sock in held:
        sock.close()


# --- the server on its own ----------------------------------------------------------------


def test_a_started_index_never_waited_for_is_stopped_by_its_pid_with_its_folders(
    tmpdir_here: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="releasekit")
    extra = tmp_path / "extra"
    extra.mkdir()
    with start_local_index(remove_on_orphan=[extra]) as server:
        pid = server.pid
        assert _alive(pid)
        assert [p.name.startswith("releasekit-index-") for p in tmpdir_here.iterdir()] == [True]
    assert not _alive(pid)
    assert _left_behind(tmpdir_here) == []
    assert extra.is_dir(), "only an orphaned server removes the caller's folders"
    messages = [r.getMessage() for r in caplog.records]
    assert f"local index on port {server.port} stopped (pid {pid})" in messages
    assert not [m for m in messages if m.startswith("local index at")], "never waited for"


def test_wait_answers_and_is_idempotent(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="releasekit")
    with start_local_index() as server:
        config = server.wait()
        assert config == server.config
        assert config.upload_url == f"http://127.0.0.1:{server.port}/"
        assert _answers(config)
        assert files_on_index(config, "oxi-core") == []
        assert server.wait() == config
    ready = [r.getMessage() for r in caplog.records if r.getMessage().startswith("local index")]
    assert ready == [
        f"local index at {config.upload_url} serving {server.serve_dir}",
        f"local index process: pid {server.pid} (it ends when releasekit does)",
        f"local index on port {server.port} stopped (pid {server.pid})",
    ]


def test_a_port_taken_before_the_server_bound_it_is_retried_at_the_wait(
    taken_ports: Callable[[int], list[int]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="releasekit")
    (taken,) = taken_ports(1)
    with start_local_index() as server:
        assert server.port == taken
        first_pid = server.pid
        config = server.wait()
        assert _port(config) != taken
        assert server.pid != first_pid
        assert not _alive(first_pid)
        assert _answers(config)
        assert files_on_index(config, "oxi-core") == []
    assert not _alive(server.pid)
    assert any(
        f"local index on port {taken} exited" in r.getMessage()
        and "trying another port" in r.getMessage()
        for r in caplog.records
    )


def test_a_server_that_cannot_start_fails_at_the_wait_with_its_output(
    taken_ports: Callable[[int], list[int]], tmpdir_here: Path
) -> None:
    ports = taken_ports(3)  # every start of the three finds its port taken
    with start_local_index() as server:
        with pytest.raises(IndexUnreachable) as excinfo:
            server.wait()
        with pytest.raises(IndexUnreachable) as again:
            server.wait()
    assert again.value is excinfo.value, "a failed wait fails the same way each time"
    message = str(excinfo.value)
    assert f"127.0.0.1:{ports[-1]}" in message and "exited" in message
    assert "in use" in message.lower(), "the server's own output tail explains why"
    assert "pypiserver" in excinfo.value.hint
    assert _servers_in(tmpdir_here) == []
    assert _left_behind(tmpdir_here) == []


def test_only_the_thread_that_started_it_may_start_it_again(
    taken_ports: Callable[[int], list[int]],
) -> None:
    """The server dies with the thread that started it: another thread's wait does not
    start a new one (it would die with that thread) and fails instead."""
    taken_ports(1)
    with start_local_index() as server:
        errors: list[BaseException] = []

        def wait() -> None:
            try:
                server.wait()
            except IndexUnreachable as exc:
                errors.append(exc)

        thread = threading.Thread(target=wait)
        thread.start()
        thread.join(timeout=120)
        assert len(errors) == 1 and "exited" in str(errors[0])


# --- in a rehearsal -------------------------------------------------------------------------


def _rehearse(repo: Path, steps: list[pipeline.Step]) -> tuple[pipeline.ReleaseReport, IndexConfig]:
    workspace = load_workspace(repo)
    options = pipeline.ReleaseOptions(rehearse=True)
    core = [workspace.get("oxi-core")]
    with pipeline.release_run(workspace, core, options=options, steps=steps) as run:
        report = pipeline.run_release(run, steps)
        return report, run.index


def _stock(*names: str) -> list[pipeline.Step]:
    by_name = {step.name: step for step in pipeline.DEFAULT_STEPS}
    return [by_name[name] for name in names]


@SAFETY
def test_a_rehearsal_whose_index_port_was_taken_publishes_on_another_port(
    oxi_repo: Path,
    taken_ports: Callable[[int], list[int]],
    tmpdir_here: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="releasekit")
    (taken,) = taken_ports(1)
    steps = _stock("preflight", "build", "check", "gate", "publish", "verify")

    report, index = _rehearse(oxi_repo, steps)

    assert report.ok, report.summary()
    assert _port(index) != taken
    rows = {(r.step, r.result) for r in report.records}
    assert {("build", "ok"), ("publish", "ok"), ("verify", "ok")} <= rows
    verify = next(r for r in report.records if r.step == "verify")
    assert "from local" in verify.detail
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"local index on port {taken} exited" in m for m in messages)
    assert f"local index at {index.upload_url} serving" in " ".join(messages)
    assert _servers_in(tmpdir_here) == []
    assert _left_behind(tmpdir_here) == []


@SAFETY
def test_a_rehearsal_whose_index_cannot_start_fails_before_the_gate_and_sends_nothing(
    oxi_repo: Path, taken_ports: Callable[[int], list[int]], tmpdir_here: Path
) -> None:
    taken_ports(3)
    steps = _stock("preflight", "build", "gate", "publish")

    report, _ = _rehearse(oxi_repo, steps)

    assert not report.ok
    assert [(r.step, r.result) for r in report.records] == [("preflight", "ok"), ("build", "ok")]
    assert report.failed_step == "gate"
    assert isinstance(report.error, IndexUnreachable)
    failure = report.failure()
    assert "the local index (pypiserver on 127.0.0.1:" in failure and "in use" in failure.lower()
    assert "hint: read the server output above" in failure
    assert "nothing left this machine: no upload, no tag" in failure
    assert _servers_in(tmpdir_here) == []
    assert _left_behind(tmpdir_here) == []


@SAFETY
def test_a_release_to_the_embedded_index_reads_it_only_once_it_answers(
    oxi_repo: Path, taken_ports: Callable[[int], list[int]]
) -> None:
    """``--index local`` (no rehearsal): the run reads the index before its first step
    (what is released already), so it waits for it there."""
    (taken,) = taken_ports(1)
    workspace = load_workspace(oxi_repo)
    options = pipeline.ReleaseOptions(index="local", push=False)
    steps = _stock("preflight", "build", "gate", "publish")
    with pipeline.release_run(
        workspace, [workspace.get("oxi-core")], options=options, steps=steps
    ) as run:
        report = pipeline.run_release(run, steps)
        on_index = {f.filename for f in files_on_index(run.index, "oxi-core", "0.1.0a1")}
    assert report.ok, report.summary()
    assert _port(run.index) != taken
    assert on_index == {"oxi_core-0.1.0a1.tar.gz", "oxi_core-0.1.0a1-py3-none-any.whl"}


def test_a_step_of_your_own_named_build_gets_an_answering_index(
    oxi_repo: Path, taken_ports: Callable[[int], list[int]]
) -> None:
    """Only the stock local steps run before the wait: a step of a project's own, even
    one named like a stock step, finds the index answering (here on its second port)."""
    (taken,) = taken_ports(1)
    seen: list[IndexConfig] = []

    def build(release: pipeline.ReleaseRun, target: pipeline.Target) -> str:
        seen.append(release.index)
        assert _answers(release.index)
        return f"{len(files_on_index(release.index, target.package.name))} file(s) there"

    steps = [pipeline.Step("build", build)]
    report, index = _rehearse(oxi_repo, steps)

    assert report.ok, report.summary()
    assert seen == [index] and _port(index) != taken
    assert report.records[0].detail == "0 file(s) there"


CUSTOM_FIRST = """\
import nox

import releasekit.nox
from releasekit import pipeline
from releasekit.index import files_on_index


def look(release, target):
    files = files_on_index(release.index, target.package.name)
    return f"{release.index.simple_url} answered: {len(files)} file(s)"


STEPS = [pipeline.Step("look", look, description="read the index first")]
STEPS += [s for s in pipeline.DEFAULT_STEPS if s.name not in {"lint", "test", "smoke"}]


@nox.session(venv_backend="none")
def release(session):
    releasekit.nox.run_pipeline(session, STEPS)
"""


@SAFETY
def test_a_custom_pipeline_whose_first_step_reads_the_index_finds_it_answering(
    oxi_repo: Path,
) -> None:
    (oxi_repo / "first_noxfile.py").write_text(CUSTOM_FIRST, encoding="utf-8")
    (oxi_repo / ".git" / "info" / "exclude").write_text("first_noxfile.py\n")

    result = nox(oxi_repo, "-f", "first_noxfile.py", "-s", "release", "--", "oxi-core",
                 "--rehearse")  # fmt: skip

    out = result.stdout
    assert result.returncode == 0, out
    ready = out.index("local index process: pid")
    assert ready < out.index("── look · oxi-core"), "waited for before the first step"
    url = out[out.index("local index at ") :].split()[3]
    assert f"{url}simple/ answered: 0 file(s)" in out
    rows = summary_rows(out)
    assert ("look", "oxi-core", "ok") in rows and ("verify", "oxi-core", "ok") in rows
