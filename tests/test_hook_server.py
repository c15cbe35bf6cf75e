"""PEP 517 hooks forked from one process per build environment (releasekit._hook_server).

Real builds of small hatchling and setuptools projects in real isolated
environments, once through the hook server and once with
``RELEASEKIT_NO_HOOK_SERVER=1`` (one process per hook, as pyproject-hooks
runs them by default).  Some projects carry an in-tree backend
(``backend-path``) that wraps the real one and records, for each hook, what
it sees: its process, working directory, environment, module globals and
the file it was imported from.  Every process these tests see started is
checked gone by its pid.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from releasekit._hook_runner import SERVER_SCRIPT
from releasekit.deadline import deadline_scope
from releasekit.dists import Dists, _isolated_env, build_dists
from releasekit.errors import BuildFailed, DeadlineExceeded
from releasekit.workspace import Package, load_workspace

VERSION = "1.2.0"
NO_SERVER = "RELEASEKIT_NO_HOOK_SERVER"

BACKENDS = {
    "hatchling": ('requires = ["hatchling"]', "hatchling.build"),
    "setuptools": ('requires = ["setuptools>=70"]', "setuptools.build_meta"),
}

# An in-tree backend wrapping the real one: each hook records what it sees, then
# changes process-global state a later hook must not see.
RECORDER = """
import json, os, sys, threading, time
from {real} import *  # noqa
import {real} as _real

LEAKED = False
if os.environ.get("RK_BACKEND_THREAD"):
    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()


def _record(hook):
    global LEAKED
    seen = {{
        "hook": hook, "pid": os.getpid(), "ppid": os.getppid(), "cwd": os.getcwd(),
        "file": __file__, "env_leak": os.environ.get("RK_LEAKED"), "global_leak": LEAKED,
    }}
    with open(os.environ["RK_HOOK_LOG"], "a") as log:
        log.write(json.dumps(seen) + "\\n")
    if os.environ.get("RK_IMPORT"):
        __import__(os.environ["RK_IMPORT"])
    if os.environ.get("RK_FAIL") == hook:
        print("checking the frobnicator", file=sys.stderr)
        raise RuntimeError("the frobnicator is missing")
    if os.environ.get("RK_HANG") == hook:
        time.sleep(600)
    LEAKED = True
    os.environ["RK_LEAKED"] = hook


def _leave():
    os.chdir(os.path.dirname(os.getcwd()))


def get_requires_for_build_sdist(config_settings=None):
    _record("get_requires_for_build_sdist")
    try:
        return _real.get_requires_for_build_sdist(config_settings)
    finally:
        _leave()


def build_sdist(sdist_directory, config_settings=None):
    _record("build_sdist")
    try:
        return _real.build_sdist(sdist_directory, config_settings)
    finally:
        _leave()


def get_requires_for_build_wheel(config_settings=None):
    _record("get_requires_for_build_wheel")
    try:
        return _real.get_requires_for_build_wheel(config_settings)
    finally:
        _leave()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _record("build_wheel")
    try:
        return _real.build_wheel(wheel_directory, config_settings, metadata_directory)
    finally:
        _leave()
"""


def make_project(root: Path, backend: str, *, recorder: bool = False) -> Package:
    """A one-module project ``hk-demo`` built by ``backend``, its own workspace."""
    requires, real = BACKENDS[backend]
    build_backend = f'build-backend = "{real}"'
    if recorder:
        build_backend = 'build-backend = "recorder"\nbackend-path = ["_backend"]'
        (root / "_backend").mkdir(parents=True)
        (root / "_backend" / "recorder.py").write_text(RECORDER.format(real=real))
    tool = {
        "hatchling": '[tool.hatch.build.targets.wheel]\npackages = ["src/hk_demo"]\n',
        "setuptools": '[tool.setuptools.packages.find]\nwhere = ["src"]\n',
    }[backend]
    (root / "src" / "hk_demo").mkdir(parents=True)
    (root / "src" / "hk_demo" / "__init__.py").write_text('"""hk-demo."""\n\nX = 1\n')
    (root / "README.md").write_text("# hk-demo\n\nA project to build.\n")
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            {requires}
            {{build_backend}}

            [project]
            name = "hk-demo"
            version = "{VERSION}"
            description = "a small project"
            readme = "README.md"
            requires-python = ">=3.10"

            {{tool}}
            [tool.releasekit]
            lint = []
            test = []
            """
        ).format(build_backend=build_backend, tool=tool)
    )
    if recorder and backend == "setuptools":
        (root / "MANIFEST.in").write_text("recursive-include _backend *.py\n")
    return load_workspace(root).get("hk-demo")


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="releasekit")
    return caplog


def server_pids(caplog: pytest.LogCaptureFixture) -> list[int]:
    return [int(p) for p in re.findall(r"hook server (\d+): the backend", caplog.text)]


def child_pids(caplog: pytest.LogCaptureFixture) -> list[int]:
    return [int(p) for p in re.findall(r"in forked child (\d+) of hook server", caplog.text)]


def gone(pid: int) -> bool:
    """No such process, or only its zombie (orphans may wait for a reaper in a container)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


def wait_gone(pids: list[int], within: float = 30.0) -> list[int]:
    """The pids still running after ``within`` seconds (a safety net, not a measure)."""
    end = time.monotonic() + within
    while time.monotonic() < end and not all(gone(pid) for pid in pids):
        time.sleep(0.05)
    return [pid for pid in pids if not gone(pid)]


def contents(dists: Dists) -> tuple[list[str], list[str], str]:
    """File names, member lists of sdist and wheel, the wheel's METADATA."""
    with tarfile.open(dists.sdist) as sdist:
        sdist_members = sorted(m.name for m in sdist.getmembers() if m.isfile())
    with zipfile.ZipFile(dists.wheels[0]) as wheel:
        wheel_members = sorted(wheel.namelist())
        metadata = next(n for n in wheel_members if n.endswith(".dist-info/METADATA"))
        text = wheel.read(metadata).decode()
    return [p.name for p in dists.files], [*sdist_members, "|", *wheel_members], text


def hooks_seen(log_file: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log_file.read_text().splitlines()]


needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="the hook server forks")


# --- the same dists either way --------------------------------------------------------


@needs_fork
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_the_server_builds_the_same_dists_as_one_process_per_hook(
    backend: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    package = make_project(tmp_path / "p", backend)
    monkeypatch.setenv(NO_SERVER, "1")
    plain = build_dists(package, VERSION, out_dir=tmp_path / "plain")
    assert "hooks in plain processes: RELEASEKIT_NO_HOOK_SERVER is set" in debug_log.text
    assert not server_pids(debug_log)
    monkeypatch.delenv(NO_SERVER)
    forked = build_dists(package, VERSION, out_dir=tmp_path / "forked")
    servers = server_pids(debug_log)
    assert len(servers) == 1, debug_log.text  # sdist and wheel-from-sdist: one server
    assert len(child_pids(debug_log)) == 4  # the four hooks, each in its own child
    assert contents(forked) == contents(plain)
    assert f"Version: {VERSION}" in contents(forked)[2]
    assert not wait_gone(servers)


# --- what each hook sees -----------------------------------------------------------------


@needs_fork
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_each_hook_starts_clean_and_imports_the_backend_of_its_tree(
    backend: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    source = tmp_path / "p"
    package = make_project(source, backend, recorder=True)
    monkeypatch.setenv("RK_HOOK_LOG", str(tmp_path / "hooks.jsonl"))
    build_dists(package, VERSION, out_dir=tmp_path / "dist")
    seen = hooks_seen(tmp_path / "hooks.jsonl")
    assert [s["hook"] for s in seen] == [
        "get_requires_for_build_sdist",
        "build_sdist",
        "get_requires_for_build_wheel",
        "build_wheel",
    ]
    # forked: each hook's parent is a hook server, not releasekit; each its own process
    assert all(s["ppid"] != os.getpid() for s in seen)
    assert len({s["pid"] for s in seen}) == 4
    assert {s["ppid"] for s in seen} == set(server_pids(debug_log))
    # what a hook changed (environment, working directory, module globals) stays in it
    assert all(s["env_leak"] is None and s["global_leak"] is False for s in seen), seen
    sdist_side, wheel_side = seen[:2], seen[2:]
    assert all(Path(str(s["cwd"])) == source.resolve() for s in sdist_side)
    # the in-tree backend comes from the tree being built: the source, then the unpacked sdist
    assert all(Path(str(s["file"])).parent == source.resolve() / "_backend" for s in sdist_side)
    unpacked = Path(str(wheel_side[0]["cwd"]))
    assert unpacked != source.resolve() and unpacked.name == "hk_demo-1.2.0"
    assert all(Path(str(s["cwd"])) == unpacked for s in wheel_side)
    assert all(Path(str(s["file"])).parent == unpacked / "_backend" for s in wheel_side)
    assert len(server_pids(debug_log)) == 2  # one per tree: backend-path differs
    assert not wait_gone(server_pids(debug_log))


# --- failures -------------------------------------------------------------------------


@needs_fork
def test_a_failing_hook_gives_the_same_error_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, debug_log: pytest.LogCaptureFixture
) -> None:
    package = make_project(tmp_path / "p", "hatchling", recorder=True)
    monkeypatch.setenv("RK_HOOK_LOG", str(tmp_path / "hooks.jsonl"))
    monkeypatch.setenv("RK_FAIL", "build_wheel")
    errors: dict[str, BuildFailed] = {}
    for mode in ("plain", "forked"):
        if mode == "plain":
            monkeypatch.setenv(NO_SERVER, "1")
        else:
            monkeypatch.delenv(NO_SERVER)
        with pytest.raises(BuildFailed) as caught:
            build_dists(package, VERSION, out_dir=tmp_path / mode)
        errors[mode] = caught.value
    first_lines = {mode: str(err).splitlines()[0] for mode, err in errors.items()}
    assert first_lines["forked"] == first_lines["plain"]
    assert first_lines["forked"] == (
        "building the wheel (from the sdist) of 'hk-demo' failed: "
        "RuntimeError: the frobnicator is missing"
    )
    for err in errors.values():  # the backend's own output, no frame of releasekit's
        assert "checking the frobnicator" in str(err)
        assert "_hook_server" not in str(err) and "_hook_runner" not in str(err)
        assert "nox -s build -- hk-demo" in err.hint
    assert len(server_pids(debug_log)) == 2
    assert not wait_gone(server_pids(debug_log))
    assert not (tmp_path / "forked").exists()


@needs_fork
def test_the_servers_stop_when_the_build_fails_midway(
    tmp_path: Path, debug_log: pytest.LogCaptureFixture
) -> None:
    package = make_project(tmp_path / "p", "hatchling")
    with pytest.raises(BuildFailed, match=re.escape("is version '1.2.0', not '9.9.9'")):
        build_dists(package, "9.9.9", out_dir=tmp_path / "dist")  # fails after the sdist
    servers = server_pids(debug_log)
    assert len(servers) == 1 and len(child_pids(debug_log)) == 2
    assert not wait_gone(servers)


@needs_fork
def test_a_hanging_hook_is_stopped_by_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, debug_log: pytest.LogCaptureFixture
) -> None:
    import build

    source = tmp_path / "p"
    make_project(source, "hatchling", recorder=True)
    monkeypatch.setenv("RK_HOOK_LOG", str(tmp_path / "hooks.jsonl"))
    monkeypatch.setenv("RK_HANG", "build_sdist")
    with _isolated_env() as env:
        builder = build.ProjectBuilder.from_isolated_env(env, source, runner=env.runner)
        env.install(builder.build_system_requires)
        env.install(builder.get_requires_for_build("sdist"))
        # the deadline starts once the environment is ready: only the hook can run it out
        with (
            deadline_scope(1.0, "build --timeout"),
            pytest.raises(build.BuildBackendException) as caught,
        ):
            builder.build("sdist", tmp_path / "out")
        assert isinstance(caught.value.exception, DeadlineExceeded)
        assert "the 1 s deadline ran out while running the build backend" in str(
            caught.value.exception
        )
        pids = [*server_pids(debug_log), *child_pids(debug_log)]
        assert len(pids) == 3  # the server, get_requires_for_build_sdist, build_sdist
        assert not wait_gone(pids)  # the hung hook and its server: stopped already
    assert not list((tmp_path / "out").glob("*.tar.gz"))


# --- fallbacks ------------------------------------------------------------------------


@needs_fork
def test_a_backend_whose_import_starts_threads_runs_in_plain_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, debug_log: pytest.LogCaptureFixture
) -> None:
    package = make_project(tmp_path / "p", "hatchling", recorder=True)
    monkeypatch.setenv("RK_HOOK_LOG", str(tmp_path / "hooks.jsonl"))
    monkeypatch.setenv("RK_BACKEND_THREAD", "1")
    dists = build_dists(package, VERSION, out_dir=tmp_path / "dist")
    assert dists.sdist.name == "hk_demo-1.2.0.tar.gz"
    assert "hooks in plain processes: the backend's import started threads" in debug_log.text
    seen = hooks_seen(tmp_path / "hooks.jsonl")
    assert len(seen) == 4 and all(s["ppid"] == os.getpid() for s in seen)
    assert not server_pids(debug_log)


@needs_fork
def test_forking_stops_when_a_module_the_hooks_import_starts_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, debug_log: pytest.LogCaptureFixture
) -> None:
    import build

    from releasekit import _hook_runner

    monkeypatch.setattr(
        _hook_runner, "_LEARNED", _hook_runner._Learned()
    )  # this test's module stays its own
    source = tmp_path / "p"
    make_project(source, "hatchling", recorder=True)
    monkeypatch.setenv("RK_HOOK_LOG", str(tmp_path / "hooks.jsonl"))
    monkeypatch.setenv("RK_IMPORT", "rk_threads")
    with _isolated_env() as env:
        purelib = subprocess.run(
            [env.python_executable, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        (Path(purelib) / "rk_threads.py").write_text(
            "import threading, time\n"
            "threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
        )
        builder = build.ProjectBuilder.from_isolated_env(env, source, runner=env.runner)
        env.install(builder.build_system_requires)
        env.install(builder.get_requires_for_build("sdist"))
        sdist = builder.build("sdist", tmp_path / "out")
    assert Path(sdist).name == "hk_demo-1.2.0.tar.gz"
    first, second = hooks_seen(tmp_path / "hooks.jsonl")
    # the first hook ran forked; the server then imported rk_threads ahead, which started
    # a thread: the next hook ran as a plain process of releasekit's
    assert first["ppid"] == server_pids(debug_log)[0] and second["ppid"] == os.getpid()
    assert "plain processes from now: a module the backend imports started threads" in (
        debug_log.text
    )
    assert not wait_gone(server_pids(debug_log))


# --- the server program on its own ----------------------------------------------------


def _in_process_script() -> str:
    import pyproject_hooks

    return str(Path(pyproject_hooks.__file__).parent / "_in_process" / "_in_process.py")


@pytest.fixture
def tiny_backend(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A backend module in tmp_path, the environment a hook server needs to import it."""
    (tmp_path / "tiny.py").write_text(
        "import os\nprint('tiny imported')\n"
        "def get_requires_for_build_wheel(config_settings=None):\n"
        "    import colorsys, tiny_helper\n"
        "    seen = os.environ.get('TINY', 'unset')\n"
        "    os.environ['TINY'] = 'changed'\n"
        "    return [seen]\n"
    )
    (tmp_path / "tiny_helper.py").write_text("X = 1\n")
    yield {
        **os.environ,
        "_PYPROJECT_HOOKS_BUILD_BACKEND": "tiny",
        "_PYPROJECT_HOOKS_BACKEND_PATH_JSON": json.dumps([str(tmp_path)]),
    }


def _server(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """The server under this interpreter; as a module, which coverage measures (a build
    environment runs it as a file, SERVER_SCRIPT: releasekit is not installed there)."""
    assert SERVER_SCRIPT.is_file()
    return subprocess.Popen(
        [sys.executable, "-m", "releasekit._hook_server", _in_process_script()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=cwd,
        env=env,
    )


def _ask(proc: subprocess.Popen[bytes], request: Mapping[str, object]) -> dict[str, object]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write((json.dumps(request) + "\n").encode())
    proc.stdin.flush()
    answer: dict[str, object] = json.loads(proc.stdout.readline())
    return answer


@needs_fork
def test_the_server_forks_one_child_per_request_and_exits_at_end_of_file(
    tmp_path: Path, tiny_backend: dict[str, str]
) -> None:
    proc = _server(tiny_backend, tmp_path)
    try:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline()) == {"ready": True}
        for n in (1, 2):  # the second child does not see what the first one changed
            control = tmp_path / f"control{n}"
            control.mkdir()
            (control / "input.json").write_text('{"kwargs": {"config_settings": null}}')
            request = {
                "hook": "get_requires_for_build_wheel",
                "control_dir": str(control),
                "cwd": str(tmp_path),
                "env": tiny_backend,
                "output": str(tmp_path / f"out{n}"),
            }
            child = _ask(proc, request)["pid"]
            assert isinstance(child, int) and child != proc.pid
            assert json.loads(proc.stdout.readline()) == {"exit": 0}
            result = json.loads((control / "output.json").read_text())
            assert result["return_val"] == ["unset"]
            assert (tmp_path / f"out{n}").read_text() == "tiny imported\n"
            # the library modules the hook imported are listed (the server imports them
            # for the next child), never a module from outside the interpreter's libraries
            imported = json.loads((tmp_path / f"out{n}.imports").read_text())
            assert ("colorsys" in imported) == (n == 1) and "tiny_helper" not in imported
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@needs_fork
def test_the_server_kills_a_running_hook_when_releasekit_dies(
    tmp_path: Path, tiny_backend: dict[str, str]
) -> None:
    (tmp_path / "tiny.py").write_text(
        "import time\ndef get_requires_for_build_wheel(config_settings=None):\n"
        "    time.sleep(600)\n"
    )
    control = tmp_path / "control"
    control.mkdir()
    (control / "input.json").write_text('{"kwargs": {"config_settings": null}}')
    request = {
        "hook": "get_requires_for_build_wheel",
        "control_dir": str(control),
        "cwd": str(tmp_path),
        "env": tiny_backend,
        "output": str(tmp_path / "out"),
    }
    proc = _server(tiny_backend, tmp_path)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert json.loads(proc.stdout.readline()) == {"ready": True}
        child = _ask(proc, request)["pid"]
        assert isinstance(child, int)
        proc.stdin.close()  # what the kernel does when releasekit is killed
        assert proc.wait(timeout=30) == 0
        assert not wait_gone([child])
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()


# --- releasekit interrupted or killed while a hook runs -------------------------------

_BUILDER = """\
import logging, sys
from pathlib import Path
from releasekit.dists import build_dists
from releasekit.workspace import load_workspace

logging.basicConfig(filename=sys.argv[2], format="%(message)s")
logging.getLogger("releasekit").setLevel(logging.DEBUG)
root = Path(sys.argv[1])
try:
    build_dists(load_workspace(root).get("hk-demo"), "1.2.0", out_dir=root / "out")
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


@needs_fork
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_no_hook_process_outlives_releasekit(
    how: signal.Signals, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(tmp_path / "p", "hatchling", recorder=True)
    monkeypatch.setenv("RK_HOOK_LOG", str(tmp_path / "hooks.jsonl"))
    monkeypatch.setenv("RK_HANG", "build_sdist")
    log_file = tmp_path / "releasekit.log"
    proc = subprocess.Popen(
        [sys.executable, "-c", _BUILDER, str(tmp_path / "p"), str(log_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        end = time.monotonic() + 120  # a safety net: the hook hangs once it starts
        hanging = re.compile(r"hook build_sdist in forked child (\d+) of hook server (\d+)")
        while time.monotonic() < end and proc.poll() is None:
            found = hanging.search(log_file.read_text() if log_file.exists() else "")
            if found:
                break
            time.sleep(0.05)
        assert found, log_file.read_text() if log_file.exists() else "no log"
        child, server = int(found[1]), int(found[2])
        proc.send_signal(how)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if how == signal.SIGINT:  # unwound: the server stopped by releasekit itself
        assert proc.returncode == 130 and b"interrupted" in output, output
        assert b"Traceback" not in output
    else:  # nothing ran in releasekit: the server saw its stdin close
        assert proc.returncode == -signal.SIGKILL
    assert not wait_gone([child, server])
