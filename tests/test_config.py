"""[tool.releasekit] loading and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasekit.config import BUILTIN_INDEXES, load_config
from releasekit.errors import ConfigError


def write(
    root: Path, tool: str, project: str = '[project]\nname = "demo"\nversion = "1.0"\n'
) -> Path:
    (root / "pyproject.toml").write_text(project + "\n" + tool, encoding="utf-8")
    return root


def test_defaults_without_table(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config.packages == (".",)
    assert config.signing is None
    assert set(config.indexes) == set(BUILTIN_INDEXES)
    assert config.defaults.lint is None  # defaults apply
    assert config.defaults.verify_timeout == 180


def test_every_key_of_the_design(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
[tool.releasekit]
packages = ["."]
tag-format = "{name}-v{version}"
release-notes = "docs/release-notes/v{version}.md"
branch = "trunk"
lint = ["ruff check {path}"]
test = []
smoke = ["{script} --version"]
leak-allow = ["tests/fixtures/*"]
verify-timeout = 30

[tool.releasekit.indexes.staging]
upload-url = "http://127.0.0.1:8080/"
simple-url = "http://127.0.0.1:8080/simple"

[tool.releasekit.signing]
identity = "https://github.com/o/r/.github/workflows/release.yml@refs/tags/{tag}"
issuer = "https://token.actions.githubusercontent.com"
""",
        )
    )
    assert config.defaults.branch == "trunk"
    assert config.defaults.test == ()  # an empty list means: none
    assert config.defaults.lint == ("ruff check {path}",)
    assert config.defaults.leak_allow == ("tests/fixtures/*",)
    assert config.defaults.verify_timeout == 30.0
    staging = config.index("staging")
    assert staging.simple_url == "http://127.0.0.1:8080/simple/"  # trailing slash added
    assert config.signing is not None
    assert config.signing.issuer == "https://token.actions.githubusercontent.com"


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        (
            '[tool.releasekit]\ntag-fromat = "v{version}"\n',
            "unknown key tool.releasekit.tag-fromat (did you mean 'tag-format'?)",
        ),
        ("[tool.releasekit]\nbranch = 3\n", "tool.releasekit.branch must be a branch name"),
        (
            '[tool.releasekit]\nlint = "ruff check"\n',
            "tool.releasekit.lint must be a list of command strings",
        ),
        ("[tool.releasekit]\nlint = [1]\n", "item 1 is not a string"),
        ('[tool.releasekit]\ntag-format = "release"\n', "has no '{version}'"),
        (
            '[tool.releasekit]\ntag-format = "oxi core v{version}"\n',
            "tag-format 'oxi core v{version}' makes tags git refuses "
            "(e.g. 'oxi core v1.2.0rc1': it contains a space)",
        ),
        ('[tool.releasekit]\ntag-format = "{name}..v{version}"\n', "it contains '..'"),
        ("[tool.releasekit]\nreproducible = 1\n", "reproducible must be true or false"),
        (
            "[tool.releasekit]\nverify-timeout = true\n",
            "verify-timeout must be a number of seconds",
        ),
        (
            '[tool.releasekit.indexes.pypi]\nupload-url = "https://x/"\nsimple-url = "https://x/"\n',
            "built-in index",
        ),
        (
            '[tool.releasekit.indexes.mine]\nupload-url = "ftp://x/"\nsimple-url = "https://x/"\n',
            "upload-url must be an http(s) URL",
        ),
        (
            '[tool.releasekit.indexes.mine]\nupload_url = "https://x/"\n',
            "(did you mean 'upload-url'?)",
        ),
        (
            '[tool.releasekit.signing]\nissuer = "https://x"\n',
            "exactly one of 'identity' or 'identity-regexp'",
        ),
        (
            '[tool.releasekit.signing]\nidentity = "a"\nissuer = "x"\nidentiy = "b"\n',
            "(did you mean 'identity'?)",
        ),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, tool: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, tool))
    assert expected in str(info.value)
    assert info.value.hint


def test_missing_pyproject(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no pyproject\.toml"):
        load_config(tmp_path)


def test_pyproject_that_is_not_toml(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\nname = 1", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(tmp_path)


def test_unknown_index_lists_the_known(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    with pytest.raises(ConfigError) as info:
        config.index("tespypi")
    assert "did you mean 'testpypi'" in str(info.value)
    assert "local, pypi, testpypi" in info.value.hint


def test_network_timeouts_apply_to_every_index_and_an_index_may_set_its_own(
    tmp_path: Path,
) -> None:
    config = load_config(
        write(
            tmp_path,
            """
[tool.releasekit]
connect-timeout = 5
read-timeout = 30

[tool.releasekit.indexes.staging]
upload-url = "https://staging.example/legacy/"
simple-url = "https://staging.example/simple/"
read-timeout = 120
""",
        )
    )
    pypi, staging = config.index("pypi"), config.index("staging")
    assert (pypi.connect_timeout, pypi.read_timeout) == (5.0, 30.0)
    assert (staging.connect_timeout, staging.read_timeout) == (5.0, 120.0)
    default = load_config(write(tmp_path, "")).index("testpypi")
    assert (default.connect_timeout, default.read_timeout) == (10.0, 60.0)


@pytest.mark.parametrize(
    ("tool", "message"),
    [
        ("[tool.releasekit]\nread-timeout = 0\n", "read-timeout must be a positive number"),
        ("[tool.releasekit]\nconnect-timeout = 'soon'\n", "connect-timeout must be a number"),
        (
            "[tool.releasekit.indexes.s]\nupload-url = 'https://s/'\nsimple-url = 'https://s/s/'\n"
            "read-timeout = -1\n",
            "tool.releasekit.indexes.s.read-timeout must be a positive number",
        ),
        (
            "[tool.releasekit.indexes.s]\nupload-url = 'https://s/'\nsimple-url = 'https://s/s/'\n"
            "read-timout = 5\n",
            "did you mean 'read-timeout'",
        ),
    ],
)
def test_bad_network_timeouts_are_config_errors(tmp_path: Path, tool: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, tool))


# --- index URLs: no credentials in them, https unless loopback or opted in ------------------


def _index(upload: str, simple: str = "https://index.example/simple/", extra: str = "") -> str:
    return (
        f'[tool.releasekit.indexes.staging]\nupload-url = "{upload}"\n'
        f'simple-url = "{simple}"\n{extra}'
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://alice:pw-Hidden-7c1@index.example/legacy/",
        "https://alice:pw%2FHidden%2B7c1@index.example/legacy/",
        "https://tok-Hidden-7c1@index.example/legacy/",
        "http://alice:pw-Hidden-7c1@127.0.0.1:8080/",
    ],
)
def test_a_credential_in_an_index_url_is_refused_and_never_shown(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(write(tmp_path, _index(url)))
    shown = refused.value.render()
    assert "tool.releasekit.indexes.staging.upload-url must not hold a login" in shown
    assert "***@" in shown
    assert "Hidden" not in shown and "alice" not in shown
    assert "TWINE_PASSWORD" in refused.value.hint and "keyring" in refused.value.hint


@pytest.mark.parametrize(
    "upload",
    ["http://index.example/legacy/", "http://10.1.2.3:8080/", "http://[fe80::1]:8080/"],
)
def test_plain_http_to_another_machine_is_refused_unless_opted_in(
    tmp_path: Path, upload: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(write(tmp_path, _index(upload)))
    assert "is plain http to" in refused.value.message
    assert "allow-http = true" in refused.value.hint
    config = load_config(write(tmp_path, _index(upload, extra="allow-http = true\n")))
    assert config.index("staging").upload_url == upload


@pytest.mark.parametrize(
    "upload", ["http://127.0.0.1:8080/", "http://localhost:8080/", "http://[::1]:8080/"]
)
def test_plain_http_on_loopback_needs_no_opt_in(tmp_path: Path, upload: str) -> None:
    config = load_config(write(tmp_path, _index(upload, simple=upload + "simple/")))
    assert config.index("staging").simple_url == upload + "simple/"


def test_allow_http_must_be_a_boolean(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="allow-http must be true or false"):
        load_config(write(tmp_path, _index("https://i.example/", extra='allow-http = "yes"\n')))


# --- commands and TOML that cannot be read ------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "command"),
    [
        ("lint", "ruff check '{path}"),
        ("test", 'pytest "{path}/tests'),
        ("smoke", "{script} --version 'x"),
    ],
)
def test_a_command_with_an_unbalanced_quote_names_the_key_and_the_command(
    tmp_path: Path, key: str, command: str
) -> None:
    escaped = command.replace("\\", "\\\\").replace('"', '\\"')
    with pytest.raises(ConfigError) as refused:
        load_config(write(tmp_path, f'[tool.releasekit]\n{key} = ["{escaped}"]\n'))
    assert f"tool.releasekit.{key}: the command {command!r} cannot be split" in str(refused.value)
    assert "no closing quotation" in str(refused.value)
    assert "close the quote" in refused.value.hint


def test_an_empty_command_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tool.releasekit.lint has an empty command"):
        load_config(write(tmp_path, '[tool.releasekit]\nlint = ["  "]\n'))


@pytest.mark.parametrize(
    "project",
    [
        '[project]\nname = "demo"\nname = "again"\nversion = "1.0"\n',  # KeyAlreadyPresent
        '[project]\nname = "demo"\n[project]\nversion = "1.0"\n',  # a ParseError
    ],
)
def test_a_duplicate_key_is_one_config_error(tmp_path: Path, project: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(write(tmp_path, "", project=project))
    assert "is not valid TOML" in refused.value.message
    assert "already exists" in refused.value.message
    assert "duplicate" in refused.value.hint


def test_split_command_keeps_a_filled_in_path_with_a_space_as_one_argument() -> None:
    from releasekit.config import split_command

    assert split_command("pytest {path}/tests -k 'a b'", path="/my projects/oxi") == [
        "pytest",
        "/my projects/oxi/tests",
        "-k",
        "a b",
    ]
