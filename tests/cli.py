"""releasekit's command lines run as a user runs them: ``python -m nox|invoke ARGS`` in a repo.

One copy for every test module: the environment is the user's (this process's, less
what would change releasekit's behaviour behind the test's back: ``CI``,
``RELEASEKIT_DEBUG``, pytest's own variables, and the machine's keyring).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.pypiserver_fixtures import PypiServer

TIMEOUT = 300  # a safety net only: no test depends on how long a command takes


def user_env(**extra: str) -> dict[str, str]:
    """This process's environment as a user's shell would hand it on, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CI", "RELEASEKIT_DEBUG"} and not key.startswith("PYTEST_")
    }
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    env.update(extra)
    return env


def run_cli(
    repo: Path,
    tool: str,
    *args: str,
    server: PypiServer | None = None,
    merged: bool = True,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m TOOL ARGS`` in ``repo``.

    ``merged``: stdout and stderr together, in order, in ``stdout`` (what a terminal
    shows); otherwise apart.  ``server``: its upload credentials in TWINE_USERNAME /
    TWINE_PASSWORD.  ``env``: more variables.
    """
    full = user_env(**(env or {}))
    if server is not None:
        full["TWINE_USERNAME"], full["TWINE_PASSWORD"] = server.username, server.password
    return subprocess.run(
        [sys.executable, "-m", tool, *args],
        cwd=repo,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merged else subprocess.PIPE,
        text=True,
        timeout=TIMEOUT,
    )


def nox(
    repo: Path,
    *args: str,
    server: PypiServer | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``nox ARGS`` in ``repo``: stdout and stderr together, in order."""
    return run_cli(repo, "nox", *args, server=server, env=env)


def invoke(
    repo: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``invoke ARGS`` in ``repo``: stdout and stderr apart."""
    return run_cli(repo, "invoke", *args, merged=False, env=env)


def status_table(out: str) -> dict[str, dict[str, str]]:
    """``invoke status``'s tables as a user reads them: package -> row -> value."""
    tables: dict[str, dict[str, str]] = {}
    for block in out.strip().split("\n\n"):
        title, *rows = block.splitlines()
        table = tables.setdefault(title.split(" (")[0], {})
        for row in rows:
            key, value = re.split(r"\s{2,}", row, maxsplit=1)
            table[key] = value
    return tables
