"""Private indexes: a dependency index for third-party requirements, no dependency confusion,
and indexes that need a login to read.

Real parts: pypiserver instances on 127.0.0.1 (the target index, a dependency index, one
that needs a login even to read), a two-package workspace built for real (hatchling from
the offline wheelhouse), real fresh venvs and installs.
"""

from __future__ import annotations

import logging
import re
import textwrap
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from releasekit import pipeline
from releasekit.config import IndexConfig, load_config
from releasekit.errors import (
    ConfigError,
    CredentialsError,
    DependencyConfusion,
    SmokeFailed,
    VerifyFailed,
)
from releasekit.index import files_on_index, local_index, read_login
from releasekit.verify import verify_published
from releasekit.workspace import load_workspace
from tests.conftest import git, make_wheel

if TYPE_CHECKING:
    from tests.pypiserver_fixtures import PypiServer

pytest_plugins = ["tests.pypiserver_fixtures"]

READER, READ_SECRET = "reader", "rd-Zq4x-read-secret-77c1"  # distinctive: looked for in logs


@pytest.fixture
def deps(tmp_path: Path) -> Iterator[IndexConfig]:
    """A dependency index: the third-party ``rk-extdep``, and impostors with our names."""
    folder = tmp_path / "deps-packages"
    make_wheel(folder, "rk-extdep", "1.0")
    make_wheel(folder, "rk-core", "9.9", module_source='__version__ = "9.9"\n')  # not ours!
    make_wheel(folder, "rk-app", "9.9", module_source='__version__ = "9.9"\n')
    with local_index(folder) as index:
        yield replace(index, name="mirror")


def _htpasswd(path: Path, users: dict[str, str]) -> Path:
    with warnings.catch_warnings():  # passlib imports the deprecated crypt module
        warnings.simplefilter("ignore", DeprecationWarning)
        from passlib.apache import HtpasswdFile
    file = HtpasswdFile(str(path), new=True)
    for user, password in users.items():
        file.set_password(user, password)
    file.save()
    return path


@pytest.fixture
def private(tmp_path: Path) -> Iterator[PypiServer]:
    """A pypiserver that needs a login to read (``-a download,list,update``)."""
    htpasswd = _htpasswd(tmp_path / "private.htpasswd", {READER: READ_SECRET})
    from tests.pypiserver_fixtures import PypiServer

    folder = tmp_path / "private-packages"
    with local_index(folder, htpasswd=htpasswd, private=True) as index:
        yield PypiServer(replace(index, name="corp"), folder, READER, READ_SECRET)


def _workspace(root: Path, staging: IndexConfig, dependency_url: str | None) -> Path:
    """``rk-core`` and ``rk-app`` (requires rk-core and the third-party rk-extdep), in git."""
    dependency = f'dependency-index = "{dependency_url}"\n' if dependency_url else ""
    (root / "core" / "src" / "rk_core").mkdir(parents=True)
    (root / "app" / "src" / "rk_app").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [tool.releasekit]
            packages = ["core", "app"]
            test = []
            lint = []

            [tool.releasekit.indexes.staging]
            upload-url = "{upload}"
            simple-url = "{simple}"
            """
        ).format(upload=staging.upload_url, simple=staging.simple_url)
        + dependency
    )
    for name, requires in (("rk-core", []), ("rk-app", ["rk-core>=1.0", "rk-extdep>=1.0"])):
        folder = root / name.removeprefix("rk-")
        module = name.replace("-", "_")
        (folder / "pyproject.toml").write_text(
            textwrap.dedent(
                f"""\
                [build-system]
                requires = ["hatchling"]
                build-backend = "hatchling.build"

                [project]
                name = "{name}"
                version = "1.0"
                description = "A package of the test workspace"
                readme = "README.md"
                dependencies = {requires!r}
                """
            ).replace("'", '"')
        )
        (folder / "README.md").write_text(f"# {name}\n\nA package of the test workspace.\n")
        (folder / "src" / module / "__init__.py").write_text(
            f"from importlib.metadata import version\n\n__version__ = version({name!r})\n"
        )
    (root / ".gitignore").write_text("dist/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "two packages")
    return root


def _release(
    root: Path, names: list[str], *steps: str
) -> tuple[pipeline.ReleaseReport, list[pipeline.Target]]:
    workspace = load_workspace(root)
    by_name = {step.name: step for step in pipeline.DEFAULT_STEPS}
    chosen = [by_name[name] for name in steps]
    options = pipeline.ReleaseOptions(index="staging", push=False, yes=True)
    packages = [workspace.get(name) for name in names]
    with pipeline.release_run(
        workspace,
        packages,
        options=options,
        command_runner=pipeline.run_in_environment,
        steps=chosen,
    ) as run:
        report = pipeline.run_release(run, chosen)
        return report, run.targets


@pytest.fixture
def uploader(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.pypiserver_fixtures import PASSWORD, USERNAME

    monkeypatch.setenv("TWINE_USERNAME", USERNAME)
    monkeypatch.setenv("TWINE_PASSWORD", PASSWORD)


# --- configuration ----------------------------------------------------------------------------


def test_dependency_index_is_read_per_index(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.releasekit.indexes.corp]\n"
        'upload-url = "https://corp.example/upload/"\n'
        'simple-url = "https://corp.example/simple/"\n'
        'dependency-index = "https://mirror.example/simple"\n'
    )
    config = load_config(tmp_path)
    assert config.index("corp").dependency_url == "https://mirror.example/simple/"
    assert config.index("corp").dependency_index == IndexConfig(
        "corp-deps", None, "https://mirror.example/simple/"
    )
    assert config.index("testpypi").dependency_url == "https://pypi.org/simple/"
    assert config.index("pypi").dependency_url is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"mirror.example/simple/"', "dependency-index must be an http(s) URL"),
        ("3", "dependency-index must be an http(s) URL"),
        ('"https://user:pw@mirror.example/simple/"', "must not hold a login"),
    ],
)
def test_a_bad_dependency_index_is_one_error(tmp_path: Path, value: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.releasekit.indexes.corp]\n"
        'upload-url = "https://corp.example/upload/"\n'
        'simple-url = "https://corp.example/simple/"\n'
        f"dependency-index = {value}\n"
    )
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_config(tmp_path)
    assert "pw" not in caught.value.render().replace("pw@", "")


# --- smoke and verify with a dependency index ---------------------------------------------------


def test_without_a_dependency_index_the_missing_requirement_is_named(
    tmp_path: Path, pypiserver: PypiServer, uploader: None
) -> None:
    root = _workspace(tmp_path / "ws", pypiserver.index, None)
    report, _targets = _release(root, ["rk-core", "rk-app"], "build", "check", "smoke", "publish")
    assert not report.ok
    assert report.failed_step == "smoke"
    assert isinstance(report.error, SmokeFailed)
    message = report.error.message
    assert "the requirement 'rk-extdep>=1.0' was not found" in message
    assert f"looked in {pypiserver.index.simple_url}" in message
    assert "set dependency-index in [tool.releasekit.indexes.NAME]" in report.error.hint
    assert "only rk-app" not in message  # not uv's last line, but what is missing


def test_a_release_takes_third_party_requirements_from_the_dependency_index(
    tmp_path: Path,
    pypiserver: PypiServer,
    deps: IndexConfig,
    uploader: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="releasekit")
    root = _workspace(tmp_path / "ws", pypiserver.index, deps.simple_url)
    report, _targets = _release(
        root, ["rk-core", "rk-app"], "build", "check", "smoke", "publish", "verify"
    )
    assert report.ok, report.summary()
    # the dependency index has rk-core 9.9 and rk-app 9.9: ours came from staging anyway
    installed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("installed")]
    from_index = [
        line for line in installed if "rk-extdep==1.0" in line and "find-links" not in line
    ]
    assert from_index, installed
    assert all("rk-core==9.9" not in line and "rk-app==9.9" not in line for line in installed)
    assert any("rk-core==1.0" in line for line in from_index)
    on_staging = {f.filename for f in files_on_index(pypiserver.index, "rk-app")}
    assert {"rk_app-1.0.tar.gz", "rk_app-1.0-py2.py3-none-any.whl"} <= on_staging
    assert not files_on_index(pypiserver.index, "rk-extdep"), "the dependency was not uploaded"


def test_a_package_of_ours_is_never_taken_from_the_dependency_index(
    tmp_path: Path, pypiserver: PypiServer, deps: IndexConfig, uploader: None
) -> None:
    """rk-app alone: rk-core is neither built here nor on staging, but the mirror has a 9.9."""
    root = _workspace(tmp_path / "ws", pypiserver.index, deps.simple_url)
    report, _targets = _release(root, ["rk-app"], "build", "check", "smoke", "publish")
    assert not report.ok
    assert report.failed_step == "smoke"
    assert isinstance(report.error, DependencyConfusion)
    assert "'rk-core' is a package of this workspace" in report.error.message
    assert f"dependency index {deps.simple_url}" in report.error.message
    assert "publish rk-core there first" in report.error.hint
    assert pypiserver.listing() == {}, "nothing was uploaded"


def test_verify_refuses_our_package_from_the_dependency_index(
    tmp_path: Path, pypiserver: PypiServer, deps: IndexConfig
) -> None:
    pypiserver.put(
        make_wheel(tmp_path / "w", "rk-app", "1.0", requires=("rk-core>=1.0", "rk-extdep"))
    )
    with pytest.raises(DependencyConfusion, match="'rk-core' is a package of this workspace"):
        verify_published(
            pypiserver.index,
            "rk-app",
            "1.0",
            kinds=["wheel"],
            timeout=300,
            dependency_index=deps,
            own_names=["rk-core", "rk-app"],
        )
    # once rk-core 1.0 is on the index, it comes from there (not the mirror's 9.9)
    pypiserver.put(make_wheel(tmp_path / "w", "rk-core", "1.0"))
    report = verify_published(
        pypiserver.index,
        "rk-app",
        "1.0",
        kinds=["wheel"],
        timeout=300,
        dependency_index=deps,
        own_names=["rk-core", "rk-app"],
    )
    assert "  installed rk-app 1.0" in report.lines


def test_verify_without_a_dependency_index_names_what_is_missing(
    tmp_path: Path, pypiserver: PypiServer
) -> None:
    pypiserver.put(make_wheel(tmp_path / "w", "rk-app", "1.0", requires=("rk-extdep>=1.0",)))
    with pytest.raises(VerifyFailed) as caught:
        verify_published(pypiserver.index, "rk-app", "1.0", kinds=["wheel"], timeout=300)
    message = caught.value.message
    assert "the requirement 'rk-extdep' was not found" in message
    assert f"looked in {pypiserver.index.simple_url}" in message
    assert "set dependency-index" in caught.value.hint
    assert "[tool.releasekit.indexes.local]" in caught.value.hint


# --- an index that needs a login to read --------------------------------------------------------


def test_an_index_that_needs_a_login_to_read_says_how_to_give_one(
    tmp_path: Path, private: PypiServer, deps: IndexConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    private.put(make_wheel(tmp_path / "w", "rk-app", "1.0", requires=("rk-extdep",)))
    index = private.index
    with pytest.raises(CredentialsError) as caught:
        verify_published(index, "rk-app", "1.0", kinds=["wheel"], timeout=300)
    assert "index 'corp' needs a login to read" in caught.value.message
    assert "HTTP 401" in caught.value.message
    assert "RELEASEKIT_INDEX_CORP_USERNAME and RELEASEKIT_INDEX_CORP_PASSWORD" in (
        caught.value.hint
    )

    monkeypatch.setenv("RELEASEKIT_INDEX_CORP_USERNAME", READER)
    monkeypatch.setenv("RELEASEKIT_INDEX_CORP_PASSWORD", "wrong")
    with pytest.raises(CredentialsError, match="refused the login from env"):
        verify_published(index, "rk-app", "1.0", kinds=["wheel"], timeout=300)


def test_a_login_from_the_environment_reads_and_installs_and_is_never_shown(
    tmp_path: Path,
    private: PypiServer,
    deps: IndexConfig,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="releasekit")
    private.put(make_wheel(tmp_path / "w", "rk-app", "1.0", requires=("rk-extdep",)))
    index = replace(private.index, dependency_url=deps.simple_url)
    monkeypatch.setenv("RELEASEKIT_INDEX_CORP_USERNAME", READER)
    monkeypatch.setenv("RELEASEKIT_INDEX_CORP_PASSWORD", READ_SECRET)
    login = read_login(index)
    assert login is not None and READ_SECRET not in repr(login)
    report = verify_published(
        index,
        "rk-app",
        "1.0",
        kinds=["wheel"],
        timeout=300,
        dependency_index=index.dependency_index,
        own_names=["rk-app"],
    )
    assert "  installed rk-app 1.0" in report.lines
    assert READ_SECRET not in caplog.text
    assert READ_SECRET not in "\n".join(report.lines)


def test_a_netrc_entry_is_enough_to_read(
    tmp_path: Path,
    private: PypiServer,
    deps: IndexConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    private.put(make_wheel(tmp_path / "w", "rk-app", "1.0"))
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1\nlogin {READER}\npassword {READ_SECRET}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    report = verify_published(private.index, "rk-app", "1.0", kinds=["wheel"], timeout=300)
    assert "  installed rk-app 1.0" in report.lines


def test_without_uv_pip_is_checked_the_same_way(
    tmp_path: Path, pypiserver: PypiServer, deps: IndexConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip has no index priority: it would take the mirror's rk-core 9.9; that is refused."""
    monkeypatch.setenv("RELEASEKIT_NO_UV", "1")
    pypiserver.put(
        make_wheel(tmp_path / "w", "rk-app", "1.0", requires=("rk-core>=1.0", "rk-extdep"))
    )
    pypiserver.put(make_wheel(tmp_path / "w", "rk-core", "1.0"))
    with pytest.raises(DependencyConfusion, match="'rk-core' is a package of this workspace"):
        verify_published(
            pypiserver.index,
            "rk-app",
            "1.0",
            kinds=["wheel"],
            timeout=300,
            dependency_index=deps,
            own_names=["rk-core", "rk-app"],
        )
    report = verify_published(  # a pin leaves pip no choice: rk-core 1.0 is only on ours
        pypiserver.index, "rk-core", "1.0", kinds=["wheel"], timeout=300, dependency_index=deps
    )
    assert "  installed rk-core 1.0" in report.lines
