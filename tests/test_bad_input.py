"""Bad input to a real ``nox -s release``: one error line and a hint, nothing changed.

Each case is committed to a real copy of the example, then released to a real
pypiserver on 127.0.0.1; the repository and the index must be as before.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.cli import nox
from tests.conftest import git, repo_state

if TYPE_CHECKING:
    from tests.pypiserver_fixtures import PypiServer

pytest_plugins = ["tests.pypiserver_fixtures"]

HIDDEN = "pw-Do-Not-Show-93f1"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def _duplicate_root_key(repo: Path, url: str) -> None:
    _edit(repo / "pyproject.toml", 'name = "oxi-core"\n', 'name = "oxi-core"\nname = "oxi"\n')


def _duplicate_package_key(repo: Path, url: str) -> None:
    pyproject = next((repo / "adapters").glob("*/pyproject.toml"))
    _edit(pyproject, "[project]\n", '[project]\ndescription = "one"\ndescription = "two"\n')


def _unbalanced_lint_quote(repo: Path, url: str) -> None:
    _edit(
        repo / "pyproject.toml",
        'branch = "main"\n',
        'branch = "main"\nlint = ["ruff check \'{path}"]\n',
    )


def _unbalanced_package_test_quote(repo: Path, url: str) -> None:
    pyproject = next((repo / "adapters").glob("*/pyproject.toml"))
    pyproject.write_text(pyproject.read_text() + '\n[tool.releasekit]\ntest = ["pytest \\"x"]\n')


def _userinfo_in_upload_url(repo: Path, url: str) -> None:
    with_password = url.replace("http://", f"http://uploader:{HIDDEN}@")
    _staging(repo, with_password, url + "simple/")


def _plain_http_elsewhere(repo: Path, url: str) -> None:
    _staging(repo, url, "http://index.example.invalid/simple/")


def _staging(repo: Path, upload: str, simple: str) -> None:
    with (repo / "pyproject.toml").open("a") as out:
        out.write(f'\n[tool.releasekit.indexes.staging]\nupload-url = "{upload}"\n')
        out.write(f'simple-url = "{simple}"\n')


CASES: dict[str, tuple[Callable[[Path, str], None], str, str]] = {
    "duplicate key in the root pyproject": (
        _duplicate_root_key,
        'is not valid TOML: Key "name" already exists',
        "duplicate",
    ),
    "duplicate key in a package pyproject": (
        _duplicate_package_key,
        'is not valid TOML: Key "description" already exists',
        "duplicate",
    ),
    "unbalanced quote in lint": (
        _unbalanced_lint_quote,
        'tool.releasekit.lint: the command "ruff check \'{path}" cannot be split',
        "close the quote",
    ),
    "unbalanced quote in a package's test": (
        _unbalanced_package_test_quote,
        "pyproject.toml: tool.releasekit.test: the command 'pytest \"x' cannot be split",
        "close the quote",
    ),
    "password in upload-url": (
        _userinfo_in_upload_url,
        "upload-url must not hold a login (user:password@): 'http://***@127.0.0.1:",
        "keyring",
    ),
    "plain http to another machine": (
        _plain_http_elsewhere,
        "simple-url 'http://index.example.invalid/simple/' is plain http",
        "allow-http = true",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_error_line_and_a_hint_and_leaves_repo_and_index_unchanged(
    oxi_repo: Path, pypiserver: PypiServer, case: str
) -> None:
    repo = oxi_repo
    change, message, hint = CASES[case]
    url = pypiserver.index.upload_url or ""
    if case not in ("password in upload-url", "plain http to another machine"):
        _staging(repo, url, url + "simple/")
    change(repo, url)
    git(repo, "commit", "-qam", f"bad input: {case}")
    before = repo_state(repo)

    result = nox(
        repo, "-s", "release", "--", "--all", "--index", "staging", "--yes",
        env={"TWINE_USERNAME": "uploader", "TWINE_PASSWORD": pypiserver.password},
    )  # fmt: skip

    out = result.stdout
    assert result.returncode != 0, out
    assert "Traceback" not in out
    (error,) = [line for line in out.splitlines() if line.startswith("error: ")]
    assert message in error, out
    following = out.splitlines()[out.splitlines().index(error) + 1]
    assert following.startswith("hint: ") and hint in following, out
    assert HIDDEN not in out and pypiserver.password not in out
    assert repo_state(repo) == before
    assert pypiserver.listing() == {}
    assert not (repo / "dist").exists()
