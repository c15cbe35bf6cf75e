"""Leak-lint on real archives: every rule, the allow-list, redaction.

Scan speed is measured in bench/bench_leaks.py, not asserted here.

The fake secrets are assembled at run time, so this file itself holds none
(releasekit's own sdist ships tests/ and is leak-linted on release).
"""

from __future__ import annotations

import io
import logging
import secrets
import string
import tarfile
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


# --- sharper both ways: what is caught, what is not -----------------------------------


def aws_secret() -> str:
    """40 characters of base64 with upper and lower case and digits, as AWS issues them."""
    return "Ab1/" + _alnum(32) + "+z9Q"


def url_password() -> str:
    return "Rk" + _alnum(18)


def utf16(text: str, encoding: str) -> bytes:
    return text.encode(encoding)


def zipped(members: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tarred(members: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# Each case: a member of the sdist (path, bytes made at run time), the secret it holds
# (never to be shown), the member path reported and the rule.
Case = tuple[str, bytes, str, str, str]


def _key_in_string_literals() -> Case:
    key = fake_private_key("EC").splitlines()
    source = "KEY = (\n" + "".join(f'    b"{line}\\n"\n' for line in key) + ")\n"
    return "tests/test_crypto.py", source.encode(), key[1], "tests/test_crypto.py", "private-key"


def _aws_ini() -> Case:
    secret = aws_secret()
    text = f"[default]\naws_access_key_id = AKIA{_alnum(16, string.ascii_uppercase)}\n"
    text = f"[deploy]\nregion = eu-west-1\naws_secret_access_key = {secret}\n"
    return "conf/aws.ini", text.encode(), secret, "conf/aws.ini", "aws-secret-key"


def _aws_env() -> Case:
    secret = aws_secret()
    text = f"#!/bin/sh\nexport AWS_SECRET_ACCESS_KEY={secret}\n"
    return "ci/deploy.sh", text.encode(), secret, "ci/deploy.sh", "aws-secret-key"


def _aws_python() -> Case:
    secret = aws_secret()
    text = f'AWS_SECRET_ACCESS_KEY = "{secret}"\n'
    return "src/demo_pkg/cloud.py", text.encode(), secret, "src/demo_pkg/cloud.py", "aws-secret-key"


def _aws_json() -> Case:
    secret = aws_secret()
    text = f'{{"Credentials": {{"AccessKeyId": "ASIA...", "SecretAccessKey": "{secret}"}}}}\n'
    return "sts.json", text.encode(), secret, "sts.json", "aws-secret-key"


def _netrc() -> Case:
    secret = url_password()
    text = f"machine pypi.internal.corp login deploy password {secret}\n"
    return "home/.netrc", text.encode(), secret, "home/.netrc", ".netrc file"


def _windows_netrc() -> Case:
    secret = url_password()
    text = f"machine git.internal.corp\nlogin ci\npassword {secret}\n"
    return "_netrc", text.encode(), secret, "_netrc", ".netrc file"


def _aws_credentials() -> Case:
    secret = aws_secret()
    text = f"[default]\naws_secret_access_key={secret}\n"
    # a credentials file is reported as one, whatever it holds
    return "home/.aws/credentials", text.encode(), secret, "home/.aws/credentials", "aws-secret-key"


def _url_password() -> Case:
    secret = url_password()
    text = f'INDEX = "https://deploy:{secret}@pypi.internal.corp/simple/"\n'
    return "src/demo_pkg/index.py", text.encode(), secret, "src/demo_pkg/index.py", "url-password"


def _url_password_loopback() -> Case:
    secret = "pw-" + url_password()
    text = f'[tool.releasekit.indexes.staging]\nupload-url = "http://uploader:{secret}@127.0.0.1:8080/"\n'
    return "pyproject.toml", text.encode(), secret, "pyproject.toml", "url-password"


def _url_password_git() -> Case:
    secret = "ghp_" + _alnum(36)
    text = f'[remote "origin"]\n\turl = https://x-access-token:{secret}@github.com/o/r.git\n'
    return "vendor/config", text.encode(), secret, "vendor/config", "url-password"


def _utf16_bom() -> Case:
    secret = fake_pypi_token()
    data = utf16(f"TWINE_PASSWORD={secret}\r\n", "utf-16")
    return "notes/token.txt", data, secret, "notes/token.txt", "pypi-token"


def _utf16_le() -> Case:
    secret = "github_pat_" + _alnum(22) + "_" + _alnum(59)
    data = utf16(f"token: {secret}\n", "utf-16-le")
    return "notes/gh.txt", data, secret, "notes/gh.txt", "github-token"


def _utf16_be() -> Case:
    secret = fake_testpypi_token()
    data = utf16(f"password = {secret}\n", "utf-16-be")
    return "notes/test.txt", data, secret, "notes/test.txt", "pypi-token"


def _nested_zip() -> Case:
    secret = fake_pypi_token()
    data = zipped({"conf/settings.py": f"TOKEN = '{secret}'\n".encode()})
    return (
        "tests/data/bundle.zip", data, secret,
        "tests/data/bundle.zip!/conf/settings.py", "pypi-token",
    )  # fmt: skip


def _nested_wheel() -> Case:
    secret = fake_private_key("EC")
    data = zipped({"inner/key.pem": secret.encode(), "inner/__init__.py": b""})
    return (
        "vendor/inner-1.0-py3-none-any.whl", data, secret,
        "vendor/inner-1.0-py3-none-any.whl!/inner/key.pem", "private-key",
    )  # fmt: skip


def _nested_tar() -> Case:
    secret = aws_secret()
    data = tarred({"pkg/.env.local": f"AWS_SECRET_ACCESS_KEY={secret}\n".encode()})
    return (
        "tests/fixtures/old.tar.gz", data, secret,
        "tests/fixtures/old.tar.gz!/pkg/.env.local", ".env file",
    )  # fmt: skip


def _zip_in_zip() -> Case:
    secret = url_password()
    inner = zipped({"creds/.netrc": f"machine h.corp login u password {secret}\n".encode()})
    data = zipped({"inner.zip": inner, "README": b"nothing here\n"})
    return (
        "assets/outer.zip", data, secret,
        "assets/outer.zip!/inner.zip!/creds/.netrc", ".netrc file",
    )  # fmt: skip


def _nul_early() -> Case:
    secret = fake_pypi_token()
    data = b"SQLite format 3\x00\x10\x00" + bytes(range(32)) * 8 + f"|{secret}|".encode()
    data += b"\x00" * 64
    return "data/cache.sqlite", data, secret, "data/cache.sqlite", "pypi-token"


def _nul_early_key() -> Case:
    secret = fake_private_key("RSA")
    data = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56 + secret.encode() + b"\x00\x01\x02"
    return "src/demo_pkg/_native.so", data, secret, "src/demo_pkg/_native.so", "private-key"


def _nul_early_utf16_strings() -> Case:
    secret = "ghp_" + _alnum(36)
    data = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(range(256)) + f"{secret}".encode("utf-16-le")
    return "bin/tool.exe", data + b"\x00\x00", secret, "bin/tool.exe", "github-token"


CATCHES: list[Callable[[], Case]] = [
    _key_in_string_literals,
    _aws_ini,
    _aws_env,
    _aws_python,
    _aws_json,
    _netrc,
    _windows_netrc,
    _url_password,
    _url_password_loopback,
    _url_password_git,
    _utf16_bom,
    _utf16_le,
    _utf16_be,
    _nested_zip,
    _nested_wheel,
    _nested_tar,
    _zip_in_zip,
    _nul_early,
    _nul_early_key,
    _nul_early_utf16_strings,
]


@pytest.mark.parametrize("case", CATCHES, ids=lambda case: case.__name__.strip("_"))
def test_caught(tmp_path: Path, case: Callable[[], Case], caplog: pytest.LogCaptureFixture) -> None:
    member, data, secret, reported, rule = case()
    sdist = make_sdist(tmp_path / "demo_pkg-1.0.tar.gz", {**CLEAN, member: data})
    caplog.set_level(logging.DEBUG)
    leaks = scan_dists([sdist])
    assert (f"{SDIST_TOP}/{reported}", rule) in [(leak.member, leak.rule) for leak in leaks]
    with pytest.raises(LeakFound) as caught:
        require_no_leaks([sdist])
    shown = f"{caught.value}\n{caught.value.render()}\n{leaks!r}\n{caplog.text}"
    assert secret not in shown
    assert secret.strip()[:12] not in shown
    assert all(len(leak.excerpt) <= 7 for leak in leaks)


def test_credentials_files_are_caught_by_their_path(tmp_path: Path) -> None:
    members = {
        **CLEAN,
        "home/.aws/credentials": b"[default]\nregion = eu-west-1\n",
        "home/.netrc": b"default login anonymous\n",
        "win/_netrc": b"\n",
    }
    sdist = make_sdist(tmp_path / "demo_pkg-1.0.tar.gz", members)
    assert sorted((leak.member, leak.rule) for leak in scan_dists([sdist])) == [
        (f"{SDIST_TOP}/home/.aws/credentials", "aws credentials file"),
        (f"{SDIST_TOP}/home/.netrc", ".netrc file"),
        (f"{SDIST_TOP}/win/_netrc", ".netrc file"),
    ]


def test_a_nested_archive_under_leak_allow_is_skipped_whole(tmp_path: Path) -> None:
    member, data, _, _, _ = _nested_zip()
    sdist = make_sdist(tmp_path / "demo_pkg-1.0.tar.gz", {**CLEAN, member: data})
    assert scan_dists([sdist], allow=["tests/data/*"]) == []
    assert scan_dists([sdist], allow=["tests/data/bundle.zip"]) == []
    assert scan_dists([sdist], allow=["tests/data/bundle.zip!/conf/*"]) == []
    assert [leak.rule for leak in scan_dists([sdist], allow=["tests/data/other.zip"])] == [
        "pypi-token"
    ]


def test_a_broken_nested_archive_is_scanned_as_a_file(tmp_path: Path) -> None:
    token = fake_pypi_token()
    broken = b"PK\x03\x04 not really a zip " + token.encode()
    sdist = make_sdist(tmp_path / "demo_pkg-1.0.tar.gz", {**CLEAN, "tests/broken.zip": broken})
    assert [(leak.member, leak.rule) for leak in scan_dists([sdist])] == [
        (f"{SDIST_TOP}/tests/broken.zip", "pypi-token")
    ]


# Text that looks like a secret to a careless rule, and is not one.
NOT_SECRETS: dict[str, str] = {
    "pem-header-compare": (
        "def is_key(line):\n"
        '    if line.startswith("-----BEGIN RSA PRIVATE KEY-----"):\n'
        "        return True\n"
        '    return line.strip() == "-----BEGIN OPENSSH PRIVATE KEY-----"\n'
    ),
    "pem-header-constants": (
        '_PEM_HEADER = b"-----BEGIN PRIVATE KEY-----"\n'
        '_PEM_FOOTER = b"-----END PRIVATE KEY-----"\n'
        'ENCRYPTED = "-----BEGIN ENCRYPTED PRIVATE KEY-----"  # header only\n'
    ),
    "pem-in-docs": (
        "A key file looks like this::\n\n"
        "    -----BEGIN EC PRIVATE KEY-----\n    ...\n    -----END EC PRIVATE KEY-----\n"
    ),
    "aws-documented-example-keys": (
        "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
        'AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n'
        "export AWS_ACCESS_KEY_ID=ASIAIOSFODNN7EXAMPLE\n"
    ),
    "aws-placeholders": (
        "aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}\n"
        "aws_secret_access_key = <your secret access key>\n"
        "AWS_SECRET_ACCESS_KEY=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
        "aws_secret_access_key = os.environ['AWS_SECRET_ACCESS_KEY']\n"
    ),
    "pypi-slugs": (
        "pip install pypi-simple pypi-attestations\n"
        "see https://github.com/pypa/pypi-attestations-and-trusted-publishing-for-everyone\n"
        "uses: pypa/gh-action-pypi-publish@release/v1\n"
    ),
    "url-placeholders": (
        'PROXY = "http://user:password@proxy.example.com:3128"\n'
        'url = f"{scheme}://{user}:{password}@{host}/"\n'
        'url = "%s://%s:%s@%s" % (scheme, user, pw, host)\n'
        "git clone https://$GH_USER:$GH_TOKEN@github.com/o/r.git\n"
        "DATABASE_URL=postgres://postgres:postgres@localhost:5432/app\n"
        "redis://:***@cache:6379/0\n"
        "http://localhost:8000@evil.test/ is parsed with the host evil.test\n"
        "https://alice:<password>@pypi.internal.corp/simple/\n"
        "https://__token__:pypi-...@upload.pypi.org/legacy/\n"
        "sqlite+pysqlcipher://:passphrase@/file.db and mysql://scott:tiger@db.internal/app\n"
    ),
    "token-shaped-filler": (
        "GH_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
        '"TopicArn": "1111111111:Glacier-InventoryRetrieval-topic-Example"\n'
        "account_sid = ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
        "OCSPCertStatuscryptography.hazmat._oid_SIG_OIDS_TO_HASHcrypto\n"
    ),
}


@pytest.mark.parametrize("text", NOT_SECRETS.values(), ids=list(NOT_SECRETS))
def test_not_flagged(tmp_path: Path, text: str) -> None:
    members = {
        "src/demo_pkg/sample.py": text.encode(),
        "docs/sample.txt": text.encode("utf-16"),
        "src/demo_pkg/_native.so": b"\x7fELF\x02\x01\x01\x00" + text.encode() + b"\x00",
    }
    sdist = make_sdist(tmp_path / "demo_pkg-1.0.tar.gz", {**CLEAN, **members})
    wheel = make_wheel(
        tmp_path / "demo_pkg-1.0-py3-none-any.whl",
        {"demo_pkg/sample.py": text.encode(), "demo_pkg/data.zip": zipped(members)},
    )
    assert scan_dists([sdist, wheel]) == []


def test_binary_files_without_text_secrets_are_clean(tmp_path: Path) -> None:
    noise = secrets.token_bytes(64 * 1024)
    members = {
        **CLEAN,
        "src/demo_pkg/_native.so": b"\x7fELF\x02\x01\x01\x00" + noise,
        "docs/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + noise,
    }
    sdist = make_sdist(tmp_path / "demo_pkg-1.0.tar.gz", members)
    assert scan_dists([sdist]) == []


def _across_a_chunk_edge(before: bytes, secret: bytes, after: bytes, filler: bytes) -> bytes:
    """``before``, filler, ``secret`` cut after its 10th byte by the first chunk's edge, ``after``.

    No chunk then holds enough of the secret for a rule to match without the overlap.
    """
    from releasekit.leaks import _CHUNK

    start = _CHUNK - 10
    padding = start - len(before)
    data = before + (filler * (padding // len(filler) + 1))[:padding] + secret + after
    assert data.index(secret) < _CHUNK < data.index(secret) + len(secret)
    return data


def _text_across_lines() -> Case:
    secret = fake_pypi_token()
    data = _across_a_chunk_edge(b"# notes\n", f"TOKEN = '{secret}'".encode(), b"\n", b"x = 1\n")
    return "src/demo_pkg/notes.py", data, secret, "src/demo_pkg/notes.py", "pypi-token"


def _text_in_one_long_line() -> Case:
    secret = "github_pat_" + _alnum(82)
    data = _across_a_chunk_edge(b"var a=", secret.encode(), b";", b"a,b,c,")
    return "src/demo_pkg/app.min.js", data, secret, "src/demo_pkg/app.min.js", "github-token"


def _key_in_a_binary() -> Case:
    secret = fake_private_key("RSA")
    data = _across_a_chunk_edge(
        b"\x7fELF\x02\x01\x01\x00", secret.encode(), b"\x00", b"\x00\x01\x02\x03"
    )
    return "src/demo_pkg/_native.so", data, secret, "src/demo_pkg/_native.so", "private-key"


def _utf16_string_in_a_binary() -> Case:
    secret = "ghp_" + _alnum(36)
    data = _across_a_chunk_edge(
        b"MZ\x90\x00", secret.encode("utf-16-le"), b"\x00\x00", b"\x00\x01\x02\x03"
    )
    return "bin/tool.exe", data, secret, "bin/tool.exe", "github-token"


@pytest.mark.parametrize(
    "case",
    [_text_across_lines, _text_in_one_long_line, _key_in_a_binary, _utf16_string_in_a_binary],
    ids=lambda case: case.__name__.strip("_"),
)
def test_a_secret_across_a_chunk_edge_is_caught(tmp_path: Path, case: Callable[[], Case]) -> None:
    """Big members are scanned a chunk at a time; what straddles two chunks is found."""
    member, data, _, reported, rule = case()
    sdist = make_sdist(tmp_path / "demo_pkg-1.0.tar.gz", {**CLEAN, member: data})
    wheel = make_wheel(tmp_path / "demo_pkg-1.0-py3-none-any.whl", {member: data})
    leaks = [(leak.dist, leak.member, leak.rule) for leak in scan_dists([sdist, wheel])]
    assert leaks == [(sdist.name, f"{SDIST_TOP}/{reported}", rule), (wheel.name, reported, rule)]
