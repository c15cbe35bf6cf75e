"""Shared fixtures: real git repositories holding copies of examples/oxi."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = Path(__file__).resolve().parents[1]
EXAMPLE = PROJECT / "examples" / "oxi"
SHARED = PROJECT.parent / "shared"

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "releasekit tests",
    "GIT_AUTHOR_EMAIL": "tests@releasekit.invalid",
    "GIT_COMMITTER_NAME": "releasekit tests",
    "GIT_COMMITTER_EMAIL": "tests@releasekit.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


# The example's build backend and what it needs: the isolated build environments
# of the tests install these from a local wheelhouse, so no test reaches an index
# beyond loopback.
BACKEND = "hatchling"


def _closure(name: str) -> list[importlib.metadata.Distribution]:
    seen: dict[str, importlib.metadata.Distribution] = {}
    todo = [name]
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


def _repack(dist: importlib.metadata.Distribution, dest: Path) -> Path:
    """A pure-Python installed distribution written back as a wheel (no network)."""
    name = canonicalize_name(dist.metadata["Name"]).replace("-", "_")
    version = dist.version
    info = f"{name}-{version}.dist-info"
    wheel = dest / f"{name}-{version}-py3-none-any.whl"
    records = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in dist.files or []:
            parts = file.parts
            if ".." in parts or "__pycache__" in parts or file.suffix == ".pyc":
                continue
            if parts[0].endswith(".dist-info"):
                if parts[-1] in {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}:
                    continue
                arcname = "/".join((info, *parts[1:]))
            else:
                arcname = file.as_posix()
            data = Path(dist.locate_file(file)).read_bytes()  # type: ignore[arg-type]
            archive.writestr(arcname, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            records.append(f"{arcname},sha256={digest.decode()},{len(data)}")
        records.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(records) + "\n")
    return wheel


@pytest.fixture(scope="session")
def backend_wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hatchling and its requirements as wheels, made from this environment's copies."""
    house = tmp_path_factory.mktemp("wheelhouse")
    for dist in _closure(BACKEND):
        _repack(dist, house)
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
