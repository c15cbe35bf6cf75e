"""Leak-lint on real archives: every rule, the allow-list, redaction, speed.

The fake secrets are assembled at run time, so this file itself holds none
(releasekit's own sdist ships tests/ and is leak-linted on release).
"""

from __future__ import annotations

import io
import logging
import secrets
import string
import tarfile
import time
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from releasekit.errors import DistCheckFailed, LeakFound
from releasekit.leaks import Leak, redact, require_no_leaks, scan_dists

SDIST_TOP = "demo_pkg-1.0"


def _alnum(length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def fake_pypi_token() -> str:
    return "pypi-" + "AgEIcHlwaS5vcmc" + secrets.token_urlsafe(96)


def fake_testpypi_token() -> str:
    return "pypi-" + "AgENdGVzdC5weXBpLm9yZw" + secrets.token_urlsafe(96)


def fake_private_key(kind: str = "OPENSSH") -> str:
    body = "\n".join(_alnum(64) for _ in range(4))
    return f"-----BEGIN {kind} PRIVATE" + f" KEY-----\n{body}\n-----END {kind} PRIVATE KEY-----\n"


def make_sdist(path: Path, members: Mapping[str, bytes | None]) -> Path:
    """A .tar.gz with every member under the sdist's top folder; None makes a directory."""
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{SDIST_TOP}/{name}")
            if data is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return path


def make_wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


CLEAN = {
    "PKG-INFO": b"Metadata-Version: 2.4\nName: demo-pkg\nVersion: 1.0\n",
    "README.md": b"# demo\n\nUse `pypi-` tokens from the environment, never in files.\n"
    b"A key block starts with BEGIN ... PRIVATE KEY; an .env file stays local.\n",
    "src/demo_pkg/__init__.py": b'"""demo."""\nfrom importlib.metadata import version\n'
    b'__version__ = version("demo-pkg")\nAPI = "https://upload.pypi.org/legacy/"\n',
    "src/demo_pkg/data.bin": b"\x00\x01\x02" + bytes(range(256)) * 4,
    "tests/test_demo.py": b"def test_it():\n    assert 'ghp_' != 'AKIA'\n",
    "demo_pkg-1.0.dist-info/RECORD": (
        b"demo_pkg/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,12\n"
    ),
}


def test_clean_dists_have_no_findings(tmp_path: Path) -> None:
    sdist = make_sdist(tmp_path / "demo_pkg-1.0.tar.gz", dict(CLEAN))
    wheel = make_wheel(tmp_path / "demo_pkg-1.0-py3-none-any.whl", dict(CLEAN))
    assert scan_dists([sdist, wheel]) == []
    require_no_leaks([sdist, wheel])  # does not raise


@pytest.mark.parametrize(
    ("member", "content", "rule"),
    [
        ("src/demo_pkg/settings.py", lambda: f'TOKEN = "{fake_pypi_token()}"\n', "pypi-token"),
        ("src/demo_pkg/settings.py", lambda: f"token: {fake_testpypi_token()}\n", "pypi-token"),
        ("deploy/id_ed25519", fake_private_key, "private-key"),
        ("certs/server.key", lambda: fake_private_key("RSA"), "private-key"),
        ("certs/other.pem", lambda: fake_private_key("ENCRYPTED"), "private-key"),
        ("ci/env.sh", lambda: "export GH_TOKEN=ghp_" + _alnum(36) + "\n", "github-token"),
        (
            "ci/env.sh",
            lambda: "GH=github_pat_" + _alnum(22) + "_" + _alnum(59) + "\n",
            "github-token",
        ),
        (
            "conf/aws.ini",
            lambda: "aws_access_key_id = AKIA" + _alnum(16, string.ascii_uppercase + string.digits),
            "aws-access-key",
        ),
        (
            "conf/slack.txt",
            lambda: (
                "hook = xoxb-"
                + _alnum(11, string.digits)
                + "-"
                + _alnum(24, string.ascii_lowercase)
            ),
            "slack-token",
        ),
        (
            ".pypirc",
            lambda: "[pypi]\nusername = alice\npassword = correct-horse-battery\n",
            ".pypirc password",
        ),
        (".env", lambda: "SESSION_SECRET=" + _alnum(32) + "\n", ".env file"),
        ("src/demo_pkg/.env.production", lambda: "DEBUG=0\n", ".env file"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_content_and_name_rules(
    tmp_path: Path, member: str, content: Callable[[], str], rule: str
) -> None:
    text = content()
    sdist = make_sdist(tmp_path / "demo_pkg-1.0.tar.gz", {**CLEAN, member: text.encode()})
    leaks = scan_dists([sdist])
    assert [(leak.dist, leak.member, leak.rule) for leak in leaks] == [
        (sdist.name, f"{SDIST_TOP}/{member}", rule)
    ]
    secret = text.strip().splitlines()[-1].split("=")[-1].strip()
    if len(secret) >= 12:  # a real secret: only a short prefix is kept
        assert secret not in repr(leaks)
    assert len(leaks[0].excerpt) <= 7


@pytest.mark.parametrize(
    ("member", "rule", "reported"),
    [
        (".git/config", "vcs-directory", ".git/"),
        ("vendor/lib/.hg/store/data", "vcs-directory", "vendor/lib/.hg/"),
        (".svn/entries", "vcs-directory", ".svn/"),
        (
            "src/demo_pkg/__pycache__/__init__.cpython-311.pyc",
            "cache-directory",
            "src/demo_pkg/__pycache__/",
        ),
        (".nox/lint/bin/python", "cache-directory", ".nox/"),
        (".venv/pyvenv.cfg", "cache-directory", ".venv/"),
        (".tox/py311/log.txt", "cache-directory", ".tox/"),
    ],
)
def test_stray_directories(tmp_path: Path, member: str, rule: str, reported: str) -> None:
    sdist = make_sdist(
        tmp_path / "demo_pkg-1.0.tar.gz", {**CLEAN, member: b"x\n", member + ".2": b"y\n"}
    )
    leaks = scan_dists([sdist])
    assert [(leak.member, leak.rule) for leak in leaks] == [(f"{SDIST_TOP}/{reported}", rule)]


def test_wheel_members_are_scanned(tmp_path: Path) -> None:
    wheel = make_wheel(
        tmp_path / "demo_pkg-1.0-py3-none-any.whl",
        {**CLEAN, "demo_pkg/_secrets.py": f"KEY = '{fake_pypi_token()}'\n".encode()},
    )
    leaks = scan_dists([wheel])
    assert [(leak.dist, leak.member, leak.rule) for leak in leaks] == [
        (wheel.name, "demo_pkg/_secrets.py", "pypi-token")
    ]


def test_allow_list_skips_deliberate_fixtures(tmp_path: Path) -> None:
    members = {
        **CLEAN,
        "tests/fixtures/signing.key": fake_private_key().encode(),
        "tests/fixtures/.env": b"A=1\n",
        "tests/fixtures/repo/.git/HEAD": b"ref: refs/heads/main\n",
        "src/demo_pkg/leak.py": f"T = '{fake_pypi_token()}'\n".encode(),
    }
    sdist = make_sdist(tmp_path / "demo_pkg-1.0.tar.gz", members)
    everything = {(leak.member, leak.rule) for leak in scan_dists([sdist])}
    assert (f"{SDIST_TOP}/tests/fixtures/signing.key", "private-key") in everything
    assert len(everything) == 4
    allowed = scan_dists([sdist], allow=["tests/fixtures/*"])
    assert [(leak.member, leak.rule) for leak in allowed] == [
        (f"{SDIST_TOP}/src/demo_pkg/leak.py", "pypi-token")
    ]


def test_leak_found_names_everything_but_the_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token = fake_pypi_token()
    sdist = make_sdist(
        tmp_path / "demo_pkg-1.0.tar.gz",
        {**CLEAN, "src/demo_pkg/.env": f"TWINE_PASSWORD={token}\n".encode()},
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(LeakFound) as caught:
        require_no_leaks([sdist])
    err = caught.value
    text = f"{err}\n{err.render()}\n{err.findings!r}\n{caplog.text}"
    assert token not in text
    assert token[:12] not in text  # not even a long prefix
    assert "demo_pkg-1.0.tar.gz" in str(err)
    assert f"{SDIST_TOP}/src/demo_pkg/.env" in str(err)
    assert ".env file" in str(err)
    assert "pypi-token" in str(err)
    assert "leak-allow" in err.hint
    findings = err.findings
    assert all(isinstance(leak, Leak) for leak in findings)
    assert {leak.rule for leak in findings if isinstance(leak, Leak)} == {".env file", "pypi-token"}


@pytest.mark.parametrize(
    ("secret", "shown"),
    [("pypi-AgEIcHlwaS5vcmcabcdefgh", "pypi-A…"), ("short-secret", "shor…"), ("hunter2", "…")],
)
def test_redact_keeps_only_a_short_prefix(secret: str, shown: str) -> None:
    assert redact(secret) == shown


def test_unreadable_or_foreign_files_are_errors(tmp_path: Path) -> None:
    broken = tmp_path / "demo_pkg-1.0-py3-none-any.whl"
    broken.write_bytes(b"this is not a zip file")
    with pytest.raises(DistCheckFailed, match=r"cannot read 'demo_pkg-1\.0-py3-none-any\.whl'"):
        scan_dists([broken])
    foreign = tmp_path / "demo_pkg-1.0.exe"
    foreign.write_bytes(b"MZ")
    with pytest.raises(DistCheckFailed, match=r"not a \.tar\.gz sdist or a \.whl wheel"):
        scan_dists([foreign])


def test_a_typical_sdist_scans_well_under_a_second(tmp_path: Path) -> None:
    module = ("def f(x):\n    return x * 2  # " + "lorem ipsum " * 5 + "\n") * 120
    members = {f"src/demo_pkg/mod{i}.py": module.encode() for i in range(150)}
    members["src/demo_pkg/leak.py"] = f"T = '{fake_pypi_token()}'\n".encode()
    sdist = make_sdist(tmp_path / "demo_pkg-1.0.tar.gz", {**CLEAN, **members})
    scan_dists([make_sdist(tmp_path / "warm-1.0.tar.gz", CLEAN)])  # plugin import, once
    started = time.perf_counter()
    leaks = scan_dists([sdist])
    elapsed = time.perf_counter() - started
    assert [leak.rule for leak in leaks] == ["pypi-token"]
    assert elapsed < 1.0, f"scanning ~1.5 MB took {elapsed:.2f} s"
