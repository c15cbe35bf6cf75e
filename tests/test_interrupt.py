"""Interruption leaves nothing behind: real signals to a real `nox -s release --rehearse`.

Each test starts the rehearsal of the oxi monorepo in its own process group,
with TMPDIR pointed at a folder of its own, waits until the log shows a step
running, sends one signal to the nox process alone (not its group: a signal
to the group would stop the embedded index by itself and hide a leak), and
then looks for what a user would find: a pypiserver still running, or
releasekit's temporary folders in TMPDIR.  A full disk during a build is
made real too: a file-size limit on the build, or a tiny tmpfs as dist/.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from releasekit.errors import BuildFailed
from tests.cli import user_env
from tests.conftest import git

SAFETY = pytest.mark.timeout(400)


def _env(tmpdir: Path) -> dict[str, str]:
    return user_env(TMPDIR=str(tmpdir))


@dataclass
class Running:
    """A nox process started in its own process group, its output collected as it comes."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None

    @classmethod
    def start(cls, repo: Path, tmpdir: Path, *args: str) -> Running:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nox", *args],
            cwd=repo,
            env=_env(tmpdir),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: the test signals it alone
        )
        running = cls(proc)
        running._reader = threading.Thread(target=running._read, daemon=True)
        running._reader.start()
        return running

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, limit: float = 300) -> re.Match[str]:
        """The first match of ``pattern`` in the output (a safety limit, not a timing)."""
        ends = time.monotonic() + limit
        while time.monotonic() < ends:
            found = re.search(pattern, self.output)
            if found:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"never saw {pattern!r}:\n{self.output}")

    def finish(self, limit: float = 120) -> int:
        code = self.proc.wait(timeout=limit)
        if self._reader is not None:
            self._reader.join(timeout=10)
        return code

    def kill_group(self) -> None:
        """Last resort, for the test's own cleanup: the whole group, by its id."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running pypiserver (a zombie or another program is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state != "Z" and b"pypiserver" in cmdline


def _gone(pid: int, limit: float = 60) -> bool:
    ends = time.monotonic() + limit
    while time.monotonic() < ends:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def _left_behind(tmpdir: Path) -> list[str]:
    return sorted(p.name for p in tmpdir.iterdir() if p.name.startswith(("releasekit-", "rk-")))


def _servers_in(tmpdir: Path) -> list[int]:
    """The pypiservers running for a release whose TMPDIR is ``tmpdir`` (their command
    lines name the folders they remove when orphaned), read from /proc."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"pypiserver" in args and any(str(tmpdir).encode() in arg for arg in args):
            found.append(int(entry.name))
    return [pid for pid in found if _alive(pid)]


def _server_started(running: Running, tmpdir: Path, limit: float = 300) -> int:
    """The pid of the embedded index the release started (before it answers: the
    "local index process" line comes only when the index is waited for)."""
    ends = time.monotonic() + limit  # a safety limit, not a timing
    while time.monotonic() < ends and running.proc.poll() is None:
        pids = _servers_in(tmpdir)
        if pids:
            assert len(pids) == 1, pids
            return pids[0]
        time.sleep(0.1)
    raise AssertionError(f"no embedded index started:\n{running.output}")


def hold_the_build(repo: Path, started: Path, go: Path) -> None:
    """oxi-core's build waits, once it began, until ``go`` exists (a hatch build hook that
    first creates ``started``); committed, so preflight finds a clean tree."""
    (repo / "hold.txt").write_text(f"{started}\n{go}\n", encoding="utf-8")
    (repo / "hatch_build.py").write_text(
        "import time\n"
        "from pathlib import Path\n\n"
        "from hatchling.builders.hooks.plugin.interface import BuildHookInterface\n\n\n"
        "class CustomBuildHook(BuildHookInterface):\n"
        "    def initialize(self, version, build_data):\n"
        '        started, go = Path(self.root, "hold.txt").read_text().split()\n'
        "        Path(started).touch()\n"
        "        ends = time.monotonic() + 300  # a safety limit for a test that forgot go\n"
        "        while not Path(go).exists() and time.monotonic() < ends:\n"
        "            time.sleep(0.1)\n",
        encoding="utf-8",
    )
    _with_build_hook(repo)


def break_the_build(repo: Path) -> None:
    """oxi-core's build fails (a hatch build hook that raises); committed."""
    (repo / "hatch_build.py").write_text(
        "from hatchling.builders.hooks.plugin.interface import BuildHookInterface\n\n\n"
        "class CustomBuildHook(BuildHookInterface):\n"
        "    def initialize(self, version, build_data):\n"
        '        raise RuntimeError("this build is broken on purpose")\n',
        encoding="utf-8",
    )
    _with_build_hook(repo)


def _with_build_hook(repo: Path) -> None:
    pyproject = repo / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    # no test commands: the release gets to the build sooner
    text = re.sub(r"^test = \[.*\]$", "test = []", text, flags=re.M)
    pyproject.write_text(text + "\n[tool.hatch.build.hooks.custom]\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "oxi-core: a build hook")


@pytest.fixture
def rehearsal(oxi_repo: Path, tmp_path: Path) -> Iterator[tuple[Path, Path, list[Running]]]:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    started: list[Running] = []
    yield oxi_repo, tmpdir, started
    for running in started:
        if running.proc.poll() is None:
            running.kill_group()


@SAFETY
@pytest.mark.parametrize(
    ("signum", "step"),
    [
        (signal.SIGINT, "lint"),
        (signal.SIGTERM, "build"),
        (signal.SIGHUP, "test"),
    ],
    ids=["SIGINT-during-lint", "SIGTERM-during-build", "SIGHUP-during-test"],
)
def test_a_signal_stops_the_embedded_index_and_removes_the_temp_folders(
    signum: signal.Signals, step: str, rehearsal: tuple[Path, Path, list[Running]]
) -> None:
    repo, tmpdir, started = rehearsal
    running = Running.start(repo, tmpdir, "-s", "release", "--", "--all", "--rehearse")
    started.append(running)
    running.wait_for(rf"── {step} · oxi-core")
    pid = _server_started(running, tmpdir)
    assert any(name.startswith("rk-dist-") for name in _left_behind(tmpdir)), "mid-run"

    os.kill(running.proc.pid, signum)  # nox alone, not its process group
    code = running.finish()

    out = running.output
    assert code != 0, out
    assert not _alive(pid), f"the embedded index (pid {pid}) is still running:\n{out}"
    assert f"stopped (pid {pid})" in out
    assert _left_behind(tmpdir) == [], out
    assert "interrupted" in out.lower()


@SAFETY
def test_after_sigkill_the_embedded_index_exits_on_its_own(
    rehearsal: tuple[Path, Path, list[Running]],
) -> None:
    repo, tmpdir, started = rehearsal
    running = Running.start(repo, tmpdir, "-s", "release", "--", "--all", "--rehearse")
    started.append(running)
    running.wait_for(r"── lint · oxi-core")
    pid = _server_started(running, tmpdir)

    os.kill(running.proc.pid, signal.SIGKILL)  # no cleanup can run in releasekit
    running.finish()

    assert _gone(pid), f"the orphaned embedded index (pid {pid}) kept running"
    left = _left_behind(tmpdir)
    assert not [name for name in left if name.startswith(("releasekit-index-", "rk-dist-"))], (
        "the index removed the rehearsal's folders on its way out"
    )


@SAFETY
def test_after_sigkill_during_the_build_the_index_not_yet_waited_for_exits_too(
    rehearsal: tuple[Path, Path, list[Running]],
) -> None:
    """The index starts with the release and is waited for only before the gate: killed
    while it builds, releasekit never waited for it, and it still goes with its folders."""
    repo, tmpdir, started = rehearsal
    building, go = tmpdir.parent / "building", tmpdir.parent / "go"
    hold_the_build(repo, building, go)
    try:
        running = Running.start(repo, tmpdir, "-s", "release", "--", "oxi-core", "--rehearse")
        started.append(running)
        ends = time.monotonic() + 300  # a safety limit, not a timing
        while not building.exists() and running.proc.poll() is None and time.monotonic() < ends:
            time.sleep(0.1)
        assert building.exists(), f"the build never began:\n{running.output}"
        pid = _server_started(running, tmpdir)

        os.kill(running.proc.pid, signal.SIGKILL)  # mid-build: no cleanup can run
        running.finish()

        assert "local index process" not in running.output, "killed before the wait"
        assert _gone(pid), f"the orphaned embedded index (pid {pid}) kept running"
        left = _left_behind(tmpdir)
        assert not [n for n in left if n.startswith(("releasekit-index-", "rk-dist-"))], left
    finally:
        go.touch()  # the orphaned build backend ends too


@SAFETY
def test_a_rehearsal_whose_build_fails_stops_the_index_it_started(
    oxi_repo: Path, tmp_path: Path
) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    break_the_build(oxi_repo)

    result = subprocess.run(
        [sys.executable, "-m", "nox", "-s", "release", "--", "oxi-core", "--rehearse"],
        cwd=oxi_repo,
        env=_env(tmpdir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )

    out = result.stdout
    assert result.returncode != 0, out
    assert "FAILED at step 'build' (oxi-core)" in out
    assert "this build is broken on purpose" in out
    assert "nothing left this machine" in out
    stopped = re.search(r"local index on port \d+ stopped \(pid (\d+)\)", out)
    assert stopped, f"the index it started was not stopped by its pid:\n{out}"
    assert not _alive(int(stopped.group(1)))
    assert _servers_in(tmpdir) == []
    assert _left_behind(tmpdir) == [], out


# --- a full disk during the build -------------------------------------------------------


def _big_package(repo: Path) -> None:
    """oxi-core with 2 MiB of incompressible data: its sdist cannot be small."""
    blob = repo / "src" / "oxi_core" / "blob.bin"
    blob.write_bytes(os.urandom(2 << 20))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "oxi-core: a large data file")


def _old_dists(dist: Path) -> dict[str, bytes]:
    """Files of an earlier build in dist/oxi-core/: a failed build must leave them as they are."""
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "oxi_core-0.0.9.tar.gz").write_bytes(b"an earlier sdist")
    (dist / "oxi_core-0.0.9-py3-none-any.whl").write_bytes(b"an earlier wheel")
    return {p.name: p.read_bytes() for p in dist.iterdir()}


@SAFETY
def test_a_file_size_limit_hit_while_writing_the_sdist_leaves_dist_as_it_was(
    oxi_repo: Path, tmp_path: Path
) -> None:
    _big_package(oxi_repo)
    dist = oxi_repo / "dist" / "oxi-core"
    before = _old_dists(dist)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    limit = 1 << 20  # 1 MiB: the build environment fits, the sdist does not

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [sys.executable, "-m", "nox", "-s", "build", "--", "oxi-core"],
        cwd=oxi_repo,
        env=_env(tmpdir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        preexec_fn=limited,  # only setrlimit, before exec
    )
    out = result.stdout
    assert result.returncode != 0, out
    assert "FAILED at step 'build' (oxi-core)" in out
    assert "why: building the sdist of 'oxi-core' failed: OSError: [Errno 27] File too large" in out
    assert "hint: the disk (or a file-size limit) ran out while building" in out
    assert "raised exception" not in out, "one clear error, not a crash"
    assert {p.name: p.read_bytes() for p in dist.iterdir()} == before, "no partial file"
    assert _left_behind(tmpdir) == []


def _mount_tmpfs(where: Path, size: str) -> bool:
    if shutil.which("mount") is None or os.geteuid() != 0:
        return False
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
    )
    return done.returncode == 0


@SAFETY
def test_a_full_disk_while_moving_dists_into_dist_leaves_it_as_it_was(
    oxi_repo: Path, tmp_path: Path
) -> None:
    from releasekit.dists import build_dists
    from releasekit.workspace import load_workspace

    _big_package(oxi_repo)
    dist = oxi_repo / "dist" / "oxi-core"
    if not _mount_tmpfs(dist, "1m"):
        pytest.skip("a small tmpfs cannot be mounted here (needs root and mount rights)")
    try:
        before = _old_dists(dist)
        package = load_workspace(oxi_repo).get("oxi-core")
        with pytest.raises(BuildFailed) as excinfo:
            build_dists(package, "0.1.0a1", out_dir=dist)
        assert "No space left on device" in str(excinfo.value)
        assert str(dist) in str(excinfo.value)
        assert {p.name: p.read_bytes() for p in dist.iterdir()} == before, "no partial file"
    finally:
        subprocess.run(["umount", str(dist)], check=False)


# --- the signal handling itself -------------------------------------------------------------


def _signal_self_and_wait(signum: signal.Signals) -> None:
    os.kill(os.getpid(), signum)
    for _ in range(3000):  # the handler raises at the next bytecode; this is a safety net
        time.sleep(0.01)
    raise AssertionError(f"{signum.name} was not turned into an exception")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_sigterm_and_sighup_unwind_like_ctrl_c_and_the_handlers_come_back(
    signum: signal.Signals,
) -> None:
    from releasekit.errors import Interrupted
    from releasekit.interrupt import unwind_on_signals

    before = signal.getsignal(signum)
    cleaned: list[str] = []
    with pytest.raises(KeyboardInterrupt) as excinfo, unwind_on_signals():
        try:
            _signal_self_and_wait(signum)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # a second signal while cleaning up: ignored
            time.sleep(0.05)
            cleaned.append("cleaned up")
    assert isinstance(excinfo.value, Interrupted)
    assert excinfo.value.name == signum.name
    assert cleaned == ["cleaned up"], "the with blocks on the way out ran"
    assert signal.getsignal(signum) is before
