"""releasekit's own sessions: it lints, tests, builds and rehearses itself with releasekit.

nox -s example           # the quick start: a full rehearsed release of examples/oxi
nox -s tests             # the test suite
nox -s docs              # the documentation site, strictly, into site/ (pip install -e ".[docs]")
nox -s release -- --rehearse   # releasekit rehearsing its own release
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nox

import releasekit.nox

HERE = Path(__file__).resolve().parent

# lint, build, sign, testpypi, publish, verify, release — for releasekit itself
releasekit.nox.install()


@nox.session(venv_backend="none", default=False)
def tests(session: nox.Session) -> None:
    """Run the test suite (in parallel over the machine's cores)."""
    session.run(sys.executable, "-m", "pytest", "-n", "auto", *session.posargs, external=True)


@nox.session(venv_backend="none", default=False)
def example(session: nox.Session) -> None:
    """Rehearse a full release of examples/oxi (both packages) in a temp git copy."""
    with tempfile.TemporaryDirectory(prefix="oxi-example-") as tmp:
        repo = Path(tmp) / "oxi"
        shutil.copytree(
            HERE / "examples" / "oxi",
            repo,
            ignore=shutil.ignore_patterns("dist", ".nox", "__pycache__", "*.egg-info"),
        )
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": os.environ.get("GIT_AUTHOR_NAME", "releasekit example"),
            "GIT_AUTHOR_EMAIL": os.environ.get("GIT_AUTHOR_EMAIL", "example@releasekit.invalid"),
            "GIT_COMMITTER_NAME": os.environ.get("GIT_COMMITTER_NAME", "releasekit example"),
            "GIT_COMMITTER_EMAIL": os.environ.get(
                "GIT_COMMITTER_EMAIL", "example@releasekit.invalid"
            ),
        }
        for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "oxi"]):
            subprocess.run(["git", *args], cwd=repo, env=env, check=True)
        session.log(f"examples/oxi copied to {repo} (a fresh git repo)")
        with session.chdir(repo):
            session.run(
                sys.executable,
                "-m",
                "nox",
                "-s",
                "release",
                "--",
                "--all",
                "--rehearse",
                *session.posargs,
                env=env,
                external=True,
            )


@nox.session(venv_backend="none", default=False)
def docs(session: nox.Session) -> None:
    """Build the documentation site into site/ in strict mode: a broken link or page fails."""
    if importlib.util.find_spec("mkdocs") is None:
        session.error(
            "mkdocs is not installed here; install the docs extra: "
            'python -m pip install -e ".[docs]"'
        )
    session.run(
        sys.executable,
        "-m",
        "mkdocs",
        "build",
        "--strict",
        "--config-file",
        str(HERE / "mkdocs.yml"),
        "--site-dir",
        str(HERE / "site"),
        *session.posargs,
        env={"NO_MKDOCS_2_WARNING": "1"},  # Material's banner about MkDocs 2 and its successor
        external=True,
    )
