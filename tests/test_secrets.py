"""Credentials stay in releasekit: never given to code it does not own, never shown.

Real parts: real child processes through the one runner, a real twine upload to
a loopback index that echoes the ``Authorization`` header back, and a real
``nox -s release -- --rehearse`` whose lint, test, build backend and smoke
commands record the environment they were given.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from releasekit import _secrets
from releasekit._process import redact_text, run
from releasekit.config import IndexConfig
from releasekit.errors import CommandFailed, ReleaseError, UploadRejected
from releasekit.publish import publish
from tests.cli import nox
from tests.conftest import EXAMPLE, git, make_repo, make_wheel, repo_state

USER = "alice"
PASSWORD = "pw/Zx9+k3y&s3cret=!q"  # '/', '+', '&', '=' and '!': its URL-encoded form differs
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
FORMS = {
    "clear": PASSWORD,
    "url-encoded": urllib.parse.quote(PASSWORD, safe=""),
    "form-encoded": urllib.parse.quote_plus(PASSWORD),
    "basic": BASIC,
}
SECRETS = {  # one of each kind releasekit keeps from other code
    "TWINE_USERNAME": USER,
    "TWINE_PASSWORD": PASSWORD,
    "PYPI_API_TOKEN": "pypi-AgEIcHlwaS5vcmcCJGZha2UtdG9rZW4tZm9yLXRlc3Rz",
    "GITHUB_TOKEN": "ghs_fakeGithubTokenForTests0123456789",
    "GH_TOKEN": "gho_fakeGhTokenForTests0123456789abcd",
    "SIGSTORE_ID_TOKEN": "eyJhbGciOiJub25lIn0.fake-sigstore-id-token.",
    "SIGSTORE_IDENTITY_TOKEN": "eyJhbGciOiJub25lIn0.fake-sigstore-identity.",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "fake-actions-id-token-request-token-42",
}


def _secret_values() -> list[str]:
    return [value for name, value in SECRETS.items() if name != "TWINE_USERNAME"]


# --- the environment of child processes ---------------------------------------------------


def test_scrubbed_env_drops_credentials_by_name_and_by_value() -> None:
    environ = {
        **SECRETS,
        "TWINE_REPOSITORY_URL": "https://upload.example/legacy/",
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "UV_FIND_LINKS": "/wheels",
        "PIP_NO_INDEX": "1",
        "CI": "1",
        "MY_COPY": PASSWORD,  # a credential under another name
        "INDEX_URL": f"https://{USER}:{PASSWORD}@index.example/",  # ... or inside a URL
    }
    kept = _secrets.scrubbed_env(environ)
    assert kept == {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "UV_FIND_LINKS": "/wheels",
        "PIP_NO_INDEX": "1",
        "CI": "1",
    }


_SPY = (
    "import json, os, sys; "
    "open(sys.argv[1], 'w').write(json.dumps(dict(os.environ))); "
    "print(os.environ.get('TWINE_PASSWORD'), os.environ.get('MY_COPY'))"
)


@pytest.mark.parametrize("explicit_env", [False, True], ids=["inherited", "given"])
def test_a_child_process_never_gets_a_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, explicit_env: bool
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MY_COPY", PASSWORD)
    seen = tmp_path / "env.json"
    env = {**os.environ, "EXTRA": "kept"} if explicit_env else None
    proc = run([sys.executable, "-c", _SPY, str(seen)], env=env)
    child = json.loads(seen.read_text())
    assert proc.stdout.strip() == "None None"
    assert not set(SECRETS) & set(child)
    assert "MY_COPY" not in child
    assert child["PATH"] == os.environ["PATH"]
    assert child.get("EXTRA") == ("kept" if explicit_env else None)


def test_output_and_errors_of_a_child_hide_every_form_of_a_credential(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWINE_USERNAME", USER)
    monkeypatch.setenv("TWINE_PASSWORD", PASSWORD)
    echo = "import sys; print(*sys.argv[1:]); sys.exit(3)"
    with pytest.raises(CommandFailed) as failed:
        run([sys.executable, "-c", echo, *FORMS.values()], what="echo")
    shown = failed.value.render() + failed.value.output
    assert "echo failed (exit 3)" in shown
    for form in FORMS.values():
        assert form not in shown


@pytest.mark.parametrize("form", list(FORMS))
def test_redaction_covers_clear_url_encoded_and_base64_forms(
    monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    monkeypatch.setenv("TWINE_USERNAME", USER)
    monkeypatch.setenv("TWINE_PASSWORD", PASSWORD)
    text = f"before {FORMS[form]} after"
    assert redact_text(text) == "before *** after"
    error = ReleaseError(f"the index said: {FORMS[form]}", f"not {FORMS[form]}")
    assert FORMS[form] not in error.render()


def test_a_registered_secret_is_hidden_with_its_user_name() -> None:
    secret = "keyring-held-secret-5e1f"
    _secrets.register_secret(secret, username="bob")
    basic = base64.b64encode(f"bob:{secret}".encode()).decode()
    assert redact_text(f"Basic {basic} / {secret}") == "Basic *** / ***"


# --- an index that echoes the Authorization header ---------------------------------------------


class _EchoIndex:
    """A loopback index that knows no project and refuses uploads, echoing the credentials."""

    def __init__(self) -> None:
        self.authorizations: list[str] = []
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # the simple API: no such project
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                header = self.headers.get("Authorization", "")
                echo.authorizations.append(header)
                token = header.split()[-1] if header else ""
                clear = base64.b64decode(token).decode() if token else ""
                password = clear.partition(":")[2]
                body = (
                    f"Bad upload. You sent Authorization: {header}\n"
                    f"password={password} quoted={urllib.parse.quote(password, safe='')} "
                    f"form={urllib.parse.quote_plus(password)}\n"
                ).encode()
                self.send_response(400, f"Bad credentials {token}")
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self.server.server_address[1]
        self.index = IndexConfig(
            "echo", f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/simple/"
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def echo_index() -> Iterator[_EchoIndex]:
    index = _EchoIndex()
    yield index
    index.stop()


def test_an_index_echoing_the_authorization_header_shows_no_credential(
    echo_index: _EchoIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TWINE_USERNAME", USER)
    monkeypatch.setenv("TWINE_PASSWORD", PASSWORD)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    wheel = make_wheel(tmp_path / "dist", "echo-pkg", "1.0")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(UploadRejected) as rejected:
        publish(echo_index.index, [wheel], name="echo-pkg", version="1.0", retries=0)
    # the index really got (and echoed) the credential: the test can fail
    assert echo_index.authorizations == [f"Basic {BASIC}"]
    shown = rejected.value.render()
    assert "'echo' rejected 'echo_pkg-1.0-py3-none-any.whl': HTTP 400" in shown
    captured = capsys.readouterr()
    everything = "\n".join([shown, caplog.text, captured.out, captured.err])
    for name, form in FORMS.items():
        assert form not in everything, name


# --- a real rehearsal: lint, test, build backend, smoke, verify ---------------------------------

_SPY_SCRIPT = """\
import json, os, sys, uuid
from pathlib import Path

kind = sys.argv[1]
where = Path(os.environ["RK_SPY_DIR"]) / f"{kind}-{uuid.uuid4().hex}.json"
where.write_text(json.dumps({"argv": sys.argv[1:], "env": dict(os.environ)}))
print(f"spy {kind}: TWINE_PASSWORD={os.environ.get('TWINE_PASSWORD')}")
if kind == "smoke":
    print(sys.argv[2])  # the version, as a smoke command must print it
if kind in ("lint", "test"):
    assert Path(sys.argv[2]).is_dir(), sys.argv  # {path}, one argument even with a space
"""

_BUILD_HOOK = """\
import json, os, uuid
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version, build_data):
        where = Path(os.environ["RK_SPY_DIR"]) / f"backend-{uuid.uuid4().hex}.json"
        where.write_text(json.dumps({"argv": [], "env": dict(os.environ)}))
"""


def test_a_rehearsal_in_a_path_with_a_space_keeps_every_credential_from_other_code(
    tmp_path: Path,
) -> None:
    spies = tmp_path / "spied"
    spies.mkdir()
    spy = tmp_path / "spy.py"
    spy.write_text(_SPY_SCRIPT)
    repo = make_repo(EXAMPLE, tmp_path / "my projects" / "oxi")
    pyproject = repo / "pyproject.toml"
    text = pyproject.read_text()
    text = text.replace(
        'test = ["python -m pytest -q -p no:cacheprovider {path}/tests"]',
        f'lint = ["python {spy} lint {{path}}"]\n'
        f'test = ["env", "python {spy} test {{path}}/tests"]\n'
        f'smoke = ["python {spy} smoke {{version}}"]',
    )
    text = text.replace('"tests/", "README.md"]', '"tests/", "README.md", "hatch_build.py"]')
    text += "\n[tool.hatch.build.hooks.custom]\n"
    pyproject.write_text(text)
    (repo / "hatch_build.py").write_text(_BUILD_HOOK)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "commands that record their environment")
    before = repo_state(repo)

    result = nox(
        repo,
        "-s",
        "release",
        "--",
        "--all",
        "--rehearse",
        env={"RK_SPY_DIR": str(spies), "MY_COPY": PASSWORD, **SECRETS},
    )

    assert result.returncode == 0, result.stdout[-4000:]
    assert "Traceback" not in result.stdout
    for value in _secret_values():
        assert value not in result.stdout
    assert repo_state(repo) == before
    seen: dict[str, int] = {}
    for record in spies.iterdir():
        kind = record.name.split("-")[0]
        seen[kind] = seen.get(kind, 0) + 1
        env = json.loads(record.read_text())["env"]
        leaked = sorted(set(SECRETS) & set(env)) + (["MY_COPY"] if "MY_COPY" in env else [])
        assert not leaked, (record.name, leaked)
        dumped = json.dumps(env)
        for value in _secret_values():
            assert value not in dumped, record.name
    # every kind of foreign code ran, for both packages (smoke: local and from the index)
    assert seen.get("lint") == 2 and seen.get("test") == 2, seen
    assert seen.get("backend", 0) >= 2 and seen.get("smoke", 0) >= 4, seen


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_the_build_backend_and_its_installer_get_no_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, installer: str
) -> None:
    from releasekit.dists import build_dists
    from releasekit.workspace import load_workspace

    spies = tmp_path / "spied"
    spies.mkdir()
    root = tmp_path / "spy pkg"
    (root / "src" / "spy_pkg").mkdir(parents=True)
    (root / "src" / "spy_pkg" / "__init__.py").write_text("")
    (root / "hatch_build.py").write_text(_BUILD_HOOK)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
        '[project]\nname = "spy-pkg"\nversion = "1.0"\n\n'
        '[tool.hatch.build.targets.wheel]\npackages = ["src/spy_pkg"]\n\n'
        "[tool.hatch.build.hooks.custom]\n"
    )
    if installer == "pip":
        monkeypatch.setenv("RELEASEKIT_NO_UV", "1")
    monkeypatch.setenv("RK_SPY_DIR", str(spies))
    monkeypatch.setenv("MY_COPY", PASSWORD)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    (package,) = load_workspace(root).packages
    dists = build_dists(package, "1.0", out_dir=tmp_path / "dist")
    assert sorted(p.suffix for p in dists.files) == [".gz", ".whl"]
    records = sorted(spies.iterdir())
    assert len(records) >= 2  # the sdist, then the wheel from it
    for record in records:
        env = json.loads(record.read_text())["env"]
        assert not set(SECRETS) & set(env) and "MY_COPY" not in env, record.name
        assert env["RK_SPY_DIR"] == str(spies)


def test_lint_in_a_session_venv_gets_no_credential(tmp_path: Path) -> None:
    spies = tmp_path / "spied"
    spies.mkdir()
    spy = tmp_path / "spy.py"
    spy.write_text(_SPY_SCRIPT)
    repo = make_repo(EXAMPLE, tmp_path / "in a venv" / "oxi")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    (repo / "noxfile.py").write_text(
        f'import releasekit.nox\n\nreleasekit.nox.install(sessions=["lint"], python="{python}")\n'
    )
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'branch = "main"\n', f'branch = "main"\nlint = ["python {spy} lint {{path}}"]\n'
        )
    )
    git(repo, "commit", "-qam", "lint in a session venv, recording its environment")

    result = nox(
        repo,
        "-s",
        "lint",
        "--",
        "--all",
        env={"RK_SPY_DIR": str(spies), "MY_COPY": PASSWORD, **SECRETS},
    )

    assert result.returncode == 0, result.stdout[-3000:]
    assert "Creating virtual environment" in result.stdout
    for value in _secret_values():
        assert value not in result.stdout
    records = list(spies.iterdir())
    assert len(records) == 2  # both packages
    for record in records:
        env = json.loads(record.read_text())["env"]
        assert not set(SECRETS) & set(env) and "MY_COPY" not in env, record.name
        assert str(repo / ".nox" / "lint") in env["PATH"].split(os.pathsep)[0]  # in the venv
