"""Fresh venvs, installs that ignore the user's pip/uv config, and the installed-version proof.

The wheels here are written by hand (a zip with METADATA, WHEEL, RECORD and
entry points): real wheels that real installers accept, without a build
backend.  The index is a PEP 503 folder served on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from releasekit.errors import CommandFailed, SmokeFailed
from releasekit.smoke import prove_installed
from releasekit.venvs import InstallOptions, Venv, create_venv, install_into, isolated_env
from tests.conftest import make_wheel as shared_make_wheel

HARDCODED_INIT = '__version__ = "0.0.0"\n'


def make_wheel(folder: Path, name: str, version: str, *, init: str | None = None) -> Path:
    """A pure-Python wheel of ``name`` with a package and a ``name`` console script."""
    return shared_make_wheel(folder, name, version, module_source=init, console_script=True)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working directory outside any repository."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture
def venv(tmp_path: Path) -> Venv:
    return create_venv(tmp_path / "venv")


@pytest.fixture
def user_find_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's pip and uv config point at a folder holding ``rk-user-only``."""
    folder = tmp_path / "user-wheels"
    make_wheel(folder, "rk-user-only", "1.0.0")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    monkeypatch.setenv("UV_FIND_LINKS", str(folder))
    return folder


@pytest.fixture
def loopback_index(tmp_path: Path) -> Iterator[str]:
    """A PEP 503 simple index on 127.0.0.1 serving rk-demo 1.2.0; yields its /simple/ URL."""
    root = tmp_path / "index"
    wheel = make_wheel(root / "files", "rk-demo", "1.2.0")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    project = root / "simple" / "rk-demo"
    project.mkdir(parents=True)
    (project / "index.html").write_text(
        f'<html><body><a href="../../files/{wheel.name}#sha256={digest}">{wheel.name}</a>'
        "</body></html>\n"
    )
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()


def test_create_venv_is_fresh_and_uses_the_running_python(tmp_path: Path) -> None:
    made = create_venv(tmp_path / "fresh")
    assert made.python.is_file()
    assert made.bin_dir == made.python.parent
    assert made.script("oxi") == made.bin_dir / "oxi"
    proc = subprocess.run(
        [str(made.python), "-c", "import sys; print(sys.prefix); print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    prefix, version = proc.stdout.splitlines()
    assert Path(prefix).resolve() == (tmp_path / "fresh").resolve()
    assert version == str(sys.version_info[:2])
    # fresh: nothing of the outer environment (pytest is installed there) is importable
    inner = subprocess.run([str(made.python), "-c", "import pytest"], capture_output=True)
    assert inner.returncode != 0


def test_isolated_env_drops_user_installer_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:1/simple/")
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:1/simple/")
    monkeypatch.setenv("PYTHONPATH", "/somewhere/src")
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    env = isolated_env(EXTRA="1")
    assert "PIP_INDEX_URL" not in env
    assert "UV_INDEX_URL" not in env
    assert "PYTHONPATH" not in env
    assert env["SSL_CERT_FILE"] == "/etc/ssl/certs/ca-certificates.crt"
    assert env["PATH"]
    assert env["PIP_CONFIG_FILE"] == "/dev/null"
    assert env["UV_NO_CONFIG"] == "1"
    assert env["EXTRA"] == "1"


def test_install_options_never_show_a_login() -> None:
    url = "http://127.0.0.1:1/simple/"
    options = InstallOptions(index_url=url, logins={url: ("reader", "s3cret-pass/word")})
    shown = repr(options)
    assert "s3cret" not in shown and "reader" not in shown
    assert url in shown
    # the password is hidden from the installer's output and errors, plain and URL-encoded
    assert options.secrets() == ["s3cret-pass/word", "s3cret-pass%2Fword"]
    assert options.looked_in(options.index_order(uv=None)) == "http://127.0.0.1:1/simple/"


def test_local_wheel_installs_and_proves_its_version(
    venv: Venv, outside: Path, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "wheels", "rk-demo", "1.2.0")
    install_into(venv, [str(wheel)], cwd=outside, options=InstallOptions(no_index=True))
    proof = prove_installed(venv, "rk-demo", "1.2.0", cwd=outside, console_scripts=["rk-demo"])
    assert proof.lines == (
        "installed rk-demo 1.2.0",
        "rk_demo.__version__ == 1.2.0",
        "rk-demo --version -> rk-demo 1.2.0",
    )


def test_hardcoded_version_is_caught(venv: Venv, outside: Path, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "wheels", "rk-demo", "0.1.0a2", init=HARDCODED_INIT)
    install_into(venv, [str(wheel)], cwd=outside, options=InstallOptions(no_index=True))
    with pytest.raises(SmokeFailed) as caught:
        prove_installed(venv, "rk-demo", "0.1.0a2", cwd=outside, console_scripts=["rk-demo"])
    message = str(caught.value)
    assert "rk_demo.__version__ is '0.0.0', not '0.1.0a2'" in message
    assert "'rk-demo --version' printed 'rk-demo 0.0.0'" in message
    assert "importlib.metadata.version('rk-demo')" in caught.value.hint


def test_wrong_or_missing_distribution_is_caught(venv: Venv, outside: Path, tmp_path: Path) -> None:
    install_into(
        venv,
        [str(make_wheel(tmp_path / "w", "rk-demo", "1.2.0"))],
        cwd=outside,
        options=InstallOptions(no_index=True),
    )
    with pytest.raises(SmokeFailed, match=r"the installed rk-demo is '1\.2\.0', not '1\.2\.1'"):
        prove_installed(venv, "rk-demo", "1.2.1", cwd=outside)
    with pytest.raises(SmokeFailed, match="'rk-other' is not installed"):
        prove_installed(venv, "rk-other", "1.2.0", cwd=outside)


def test_the_probe_reads_any_spelling_of_the_name_and_an_egg_info_layout(
    venv: Venv, outside: Path, tmp_path: Path
) -> None:
    """The probe reads .dist-info itself; the name matches however it is spelled, and an
    older .egg-info layout (read by importlib.metadata) proves itself the same way."""
    install_into(
        venv,
        [str(make_wheel(tmp_path / "w", "rk-demo", "1.2.0"))],
        cwd=outside,
        options=InstallOptions(no_index=True),
    )
    for spelling in ("RK_Demo", "rk.demo", "rk-demo"):
        proof = prove_installed(venv, spelling, "1.2.0", cwd=outside)
        assert proof.lines[:2] == (f"installed {spelling} 1.2.0", "rk_demo.__version__ == 1.2.0")
    site = Path(
        subprocess.run(
            [str(venv.python), "-Ic", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    (site / "rk_eggy").mkdir()
    (site / "rk_eggy" / "__init__.py").write_text('__version__ = "3.1"\n')
    egg = site / "rk_eggy-3.1-py3.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: rk-eggy\nVersion: 3.1\n")
    (egg / "top_level.txt").write_text("rk_eggy\n")
    proof = prove_installed(venv, "rk-eggy", "3.1", cwd=outside)
    assert proof.lines == ("installed rk-eggy 3.1", "rk_eggy.__version__ == 3.1")
    with pytest.raises(SmokeFailed, match=r"the installed rk-eggy is '3\.1', not '3\.2'"):
        prove_installed(venv, "rk-eggy", "3.2", cwd=outside)


def test_configured_smoke_commands(venv: Venv, outside: Path, tmp_path: Path) -> None:
    install_into(
        venv,
        [str(make_wheel(tmp_path / "w", "rk-demo", "1.2.0"))],
        cwd=outside,
        options=InstallOptions(no_index=True),
    )
    smoke = [
        "{script} --version",
        "python -c \"import rk_demo; print('{name}', rk_demo.__version__)\"",
    ]
    proof = prove_installed(
        venv, "rk-demo", "1.2.0", cwd=outside, console_scripts=["rk-demo"], smoke=smoke
    )
    assert proof.lines[-2:] == (
        "rk-demo --version -> rk-demo 1.2.0",
        "python -c \"import rk_demo; print('rk-demo', rk_demo.__version__)\" -> rk-demo 1.2.0",
    )
    with pytest.raises(SmokeFailed, match=r"'rk-demo --help' exited 2"):
        prove_installed(
            venv,
            "rk-demo",
            "1.2.0",
            cwd=outside,
            console_scripts=["rk-demo"],
            smoke=["{script} --help"],
        )
    with pytest.raises(SmokeFailed, match=r"printed 'hello', not the version '1\.2\.0'"):
        prove_installed(
            venv, "rk-demo", "1.2.0", cwd=outside, smoke=["python -c \"print('hello')\""]
        )


def test_user_find_links_are_ignored(
    venv: Venv, outside: Path, tmp_path: Path, user_find_links: Path
) -> None:
    # control: without isolation, pip does read the user's find-links
    target = str(tmp_path / "control")
    control = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-index",
            "--no-deps",
            "-d",
            target,
            "rk-user-only",
        ],
        capture_output=True,
        text=True,
    )
    assert control.returncode == 0, control.stdout + control.stderr
    with pytest.raises(CommandFailed) as caught:
        install_into(venv, ["rk-user-only"], cwd=outside, options=InstallOptions(no_index=True))
    assert "rk-user-only" in caught.value.output


def test_index_url_is_the_only_source(
    venv: Venv, outside: Path, loopback_index: str, user_find_links: Path
) -> None:
    install_into(
        venv, ["rk-demo==1.2.0"], cwd=outside, options=InstallOptions(index_url=loopback_index)
    )
    assert prove_installed(venv, "rk-demo", "1.2.0", cwd=outside).lines[0] == (
        "installed rk-demo 1.2.0"
    )
    with pytest.raises(CommandFailed, match="installing into a fresh venv failed"):
        install_into(
            venv, ["rk-user-only"], cwd=outside, options=InstallOptions(index_url=loopback_index)
        )


def test_pip_fallback_without_uv(
    tmp_path: Path, outside: Path, user_find_links: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELEASEKIT_NO_UV", "1")
    made = create_venv(tmp_path / "pip-venv")
    assert (made.bin_dir / "pip").exists()  # made by python -m venv, with pip
    wheel = make_wheel(tmp_path / "wheels", "rk-demo", "1.2.0")
    install_into(made, [str(wheel)], cwd=outside, options=InstallOptions(no_index=True))
    proof = prove_installed(made, "rk-demo", "1.2.0", cwd=outside, console_scripts=["rk-demo"])
    assert "rk-demo --version -> rk-demo 1.2.0" in proof.lines
    with pytest.raises(CommandFailed):
        install_into(made, ["rk-user-only"], cwd=outside, options=InstallOptions(no_index=True))
