"""Shared fixtures: real git repositories holding copies of examples/oxi."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.tags import Tag, parse_tag
from packaging.utils import canonicalize_name

PROJECT = Path(__file__).resolve().parents[1]
EXAMPLE = PROJECT / "examples" / "oxi"
SHARED = PROJECT.parent / "shared"

# The real production sigstore bundles that verification is tested against: the folder
# beside the project, or the one RELEASEKIT_SIGSTORE_FIXTURES names.  Where that variable
# is set (.ci/run sets it when the folder exists), the tests that need the bundles fail
# instead of skipping when it is missing, and the run fails unless they passed.
SIGSTORE_FIXTURES_ENV = "RELEASEKIT_SIGSTORE_FIXTURES"
SIGSTORE_FIXTURES = Path(
    os.environ.get(SIGSTORE_FIXTURES_ENV) or SHARED / "fixtures" / "sigstore"
).resolve()
SIGSTORE_FIXTURES_REQUIRED = bool(os.environ.get(SIGSTORE_FIXTURES_ENV))
_SIGSTORE_MARK = "sigstore_fixtures"

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "releasekit tests",
    "GIT_AUTHOR_EMAIL": "tests@releasekit.invalid",
    "GIT_COMMITTER_NAME": "releasekit tests",
    "GIT_COMMITTER_EMAIL": "tests@releasekit.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


# The test wheelhouse: build backends that isolated builds ask for, and tools that
# sessions install into their venvs by name, each with everything it requires, as
# wheels made from this environment's installed copies.  Builds and installs in the
# tests take them from there (offline), so no test reaches an index beyond loopback
# or depends on what an installer's cache happens to hold.
BACKENDS: tuple[str, ...] = (
    "hatchling",
    # the test projects of each shape (tests/projects/)
    "flit_core",
    "setuptools",
    "setuptools-scm",
    "hatch-vcs",
    "poetry-core",
    "pdm-backend",
)
TOOLS: tuple[str, ...] = ("ruff",)  # the example's lint commands


def closure(names: Iterable[str]) -> list[importlib.metadata.Distribution]:
    """The installed distributions ``names`` and everything they require, once each."""
    seen: dict[str, importlib.metadata.Distribution] = {}
    todo = list(names)
    while todo:
        current = canonicalize_name(todo.pop())
        if current in seen:
            continue
        dist = importlib.metadata.distribution(current)
        seen[current] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return list(seen.values())


def _wheel_tags(dist: importlib.metadata.Distribution) -> str:
    """The compressed tag set of the wheel ``dist`` was installed from (its WHEEL file)."""
    found: set[Tag] = set()
    for line in (dist.read_text("WHEEL") or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Tag":
            found |= parse_tag(value.strip())
    if not found:
        return "py3-none-any"
    parts = (
        sorted({tag.interpreter for tag in found}),
        sorted({tag.abi for tag in found}),
        sorted({tag.platform for tag in found}),
    )
    return "-".join(".".join(part) for part in parts)


def _entry_point_scripts(dist: importlib.metadata.Distribution) -> set[str]:
    """Script names the installer generates from entry points (not copied into a wheel)."""
    names = {
        entry.name
        for entry in dist.entry_points
        if entry.group in {"console_scripts", "gui_scripts"}
    }
    return names | {name + ".exe" for name in names} | {name + "-script.py" for name in names}


def repack(dist: importlib.metadata.Distribution, dest: Path) -> Path:
    """An installed distribution written back as a wheel with its real tags (no network).

    Files the install put outside site-packages (``../../../bin/ruff``) go back into the
    wheel's ``.data`` folder: ``scripts/`` for ``bin``, ``data/`` for the rest; the
    scripts the installer makes from entry points are left for the next install to make.
    """
    name = canonicalize_name(dist.metadata["Name"]).replace("-", "_")
    version = dist.version
    info = f"{name}-{version}.dist-info"
    data = f"{name}-{version}.data"
    generated = _entry_point_scripts(dist)
    wheel = dest / f"{name}-{version}-{_wheel_tags(dist)}.whl"
    records = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in dist.files or []:
            parts = file.parts
            if "__pycache__" in parts or file.suffix == ".pyc":
                continue
            if parts[0] == "..":
                outside = tuple(part for part in parts if part != "..")
                if not outside or ".." in outside:
                    continue
                if outside[0] in {"bin", "Scripts"} and len(outside) == 2:
                    if outside[1] in generated:
                        continue
                    arcname = f"{data}/scripts/{outside[1]}"
                else:
                    arcname = "/".join((data, "data", *outside))
            elif parts[0].endswith(".dist-info"):
                if parts[-1] in {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}:
                    continue
                arcname = "/".join((info, *parts[1:]))
            else:
                arcname = file.as_posix()
            located = Path(dist.locate_file(file))  # type: ignore[arg-type]
            content = located.read_bytes()
            entry = zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr = (located.stat().st_mode & 0o777 | 0o100000) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, content)
            digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
            records.append(f"{arcname},sha256={digest.decode()},{len(content)}")
        records.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(records) + "\n")
    return wheel


class _SigstoreBundlesRequired:
    """With RELEASEKIT_SIGSTORE_FIXTURES set: the run fails unless a real-bundle test passed.

    Runs in the xdist controller too, which sees every worker's reports.
    """

    def __init__(self) -> None:
        self.passed = 0
        self.failed_run = False

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and report.passed and _SIGSTORE_MARK in report.keywords:
            self.passed += 1

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        option = session.config.option
        if option.collectonly or option.markexpr or option.keyword:
            return  # a chosen subset: it need not hold the bundle tests
        if self.passed == 0 and session.exitstatus == pytest.ExitCode.OK:
            self.failed_run = True
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.failed_run:
            terminalreporter.write_line(
                f"FAILED: {SIGSTORE_FIXTURES_ENV} is set but no test of the real sigstore "
                "bundles ran and passed",
                red=True,
            )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{_SIGSTORE_MARK}: uses the real sigstore bundles (set by conftest)"
    )
    if SIGSTORE_FIXTURES_REQUIRED and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_SigstoreBundlesRequired(), "releasekit-sigstore-bundles")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "sigstore_fixtures" in getattr(item, "fixturenames", ()):
            item.add_marker(_SIGSTORE_MARK)


@pytest.fixture(autouse=True)
def releasekit_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test's own releasekit cache folder (what the hook server learned): no test
    reads what another wrote, nor the user's own."""
    folder = tmp_path_factory.mktemp("releasekit-cache")
    monkeypatch.setenv("RELEASEKIT_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def sigstore_fixtures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The real sigstore bundles, with sigstore's TUF cache in a temporary place.

    Skipped where the folder is absent, unless RELEASEKIT_SIGSTORE_FIXTURES requires it.
    """
    if not SIGSTORE_FIXTURES.is_dir():
        message = f"no sigstore fixtures at {SIGSTORE_FIXTURES}"
        if SIGSTORE_FIXTURES_REQUIRED:
            pytest.fail(f"{message} ({SIGSTORE_FIXTURES_ENV} is set)", pytrace=False)
        pytest.skip(message)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    yield SIGSTORE_FIXTURES


@pytest.fixture(scope="session")
def backend_wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BACKENDS and TOOLS with their requirements as wheels, from this environment's copies."""
    house = tmp_path_factory.mktemp("wheelhouse")
    for dist in closure((*BACKENDS, *TOOLS)):
        repack(dist, house)
    return house


@pytest.fixture(scope="session", autouse=True)
def _build_backend_offline(backend_wheelhouse: Path) -> Iterator[None]:
    """Isolated builds (uv or pip) take the backend from the wheelhouse, never an index.

    Verify and the smoke test strip these variables (they ignore the user's
    installer configuration), so they still prove installs from the index alone.
    """
    settings = {
        "UV_FIND_LINKS": str(backend_wheelhouse),
        "UV_OFFLINE": "1",
        "PIP_FIND_LINKS": str(backend_wheelhouse),
        "PIP_NO_INDEX": "1",
    }
    saved = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _hermetic_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Every test: a known git identity, no CI prompts skipped by accident, no user tokens."""
    for key, value in _GIT_ENV.items():
        monkeypatch.setenv(key, value)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    # tables wrap within COLUMNS: a wide log keeps each row on one line for the assertions
    # (tests of the wrapping set their own width)
    monkeypatch.setenv("COLUMNS", "300")
    for key in (
        "TWINE_USERNAME",
        "TWINE_PASSWORD",
        "TWINE_REPOSITORY_URL",
        "SIGSTORE_IDENTITY_TOKEN",
    ):
        monkeypatch.delenv(key, raising=False)


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` and return its stdout (stripped)."""
    proc = subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **_GIT_ENV},
    )
    return proc.stdout.strip()


def make_repo(source: Path, dest: Path, *, remote: bool = True) -> Path:
    """Copy ``source`` to ``dest``, make it a git repo on ``main`` with one commit.

    With ``remote``, a bare repository beside it is its ``origin`` (pushed).
    """
    shutil.copytree(
        source, dest, ignore=shutil.ignore_patterns("dist", ".nox", "__pycache__", "*.egg-info")
    )
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "oxi: initial import")
    if remote:
        bare = dest.parent / (dest.name + "-origin.git")
        subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
        git(dest, "remote", "add", "origin", str(bare))
        git(dest, "push", "-q", "origin", "main")
    return dest


@pytest.fixture
def oxi_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh git copy of examples/oxi (with a bare ``origin``); the cwd is its root."""
    repo = make_repo(EXAMPLE, tmp_path / "oxi")
    monkeypatch.chdir(repo)
    yield repo


def repo_state(repo: Path) -> dict[str, str]:
    """What a user would compare before and after: status, tags, HEAD, file hashes."""
    return {
        "status": git(repo, "status", "--porcelain", "--untracked-files=all"),
        "tags": git(repo, "tag", "-l"),
        "head": git(repo, "rev-parse", "HEAD"),
        "files": git(repo, "ls-files", "-s"),
        "diff": git(repo, "diff"),
    }


def make_wheel(
    dest: Path,
    name: str,
    version: str,
    *,
    requires: tuple[str, ...] = (),
    module_source: str | None = None,
    console_script: bool = False,
) -> Path:
    """Write a pure-Python wheel of ``name`` ``version`` with one import package.

    The package's ``__init__.py`` is ``module_source``, by default one reading
    ``__version__`` from the installed metadata.  With ``console_script``, a
    script called ``name`` prints ``name __version__`` for ``--version``.
    """
    dist = canonicalize_name(name).replace("-", "_")
    source = module_source or (
        f"from importlib.metadata import version\n__version__ = version({name!r})\n"
    )
    info = f"{dist}-{version}.dist-info"
    metadata = "".join(
        [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"]
        + [f"Requires-Dist: {r}\n" for r in requires]
    )
    members = {
        f"{dist}/__init__.py": source,
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: releasekit-tests\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/top_level.txt": f"{dist}\n",
    }
    if console_script:
        members[f"{dist}/cli.py"] = (
            f"import sys\nfrom {dist} import __version__\n\n"
            "def main():\n"
            "    if '--version' in sys.argv:\n"
            f"        print({name!r}, __version__)\n"
            "        return 0\n"
            "    return 2\n"
        )
        members[f"{info}/entry_points.txt"] = f"[console_scripts]\n{name} = {dist}.cli:main\n"
    record = []
    for member, text in members.items():
        digest = hashlib.sha256(text.encode()).digest()
        b64 = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        record.append(f"{member},sha256={b64},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    members[f"{info}/RECORD"] = "\n".join(record) + "\n"
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for member, text in members.items():
            archive.writestr(member, text)
    return wheel
