"""What `invoke status` reports, gathered on real git repositories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from releasekit.status import package_status, pin_problems
from releasekit.workspace import load_workspace
from tests.cli import invoke, status_table
from tests.conftest import git, repo_state

if TYPE_CHECKING:
    from tests.pypiserver_fixtures import Dists, PypiServer

pytest_plugins = ["tests.pypiserver_fixtures"]


def test_fresh_example_says_release_next(oxi_repo: Path) -> None:
    workspace = load_workspace(oxi_repo)
    state = package_status(workspace, workspace.get("oxi-core"))
    assert (state.version, state.tag_state, state.notes, state.pins) == (
        "0.1.0a1", "missing", "filled", "ok",
    )  # fmt: skip
    assert state.next_action == "release: nox -s release -- oxi-core"


def test_literal_stale_pin_and_tag_states(oxi_repo: Path) -> None:
    (oxi_repo / "src/oxi_core/__init__.py").write_text('__version__ = "0.0.0"\n')
    git(oxi_repo, "commit", "-qam", "literal")
    git(oxi_repo, "tag", "-a", "-m", "r", "oxi-core-v0.1.0a1")
    workspace = load_workspace(oxi_repo)
    core = workspace.get("oxi-core")
    state = package_status(workspace, core)
    assert state.literals == ("src/oxi_core/__init__.py:1 = '0.0.0'",)
    assert state.tag_state == "at HEAD"
    assert "importlib.metadata" in state.next_action

    adapter_pyproject = oxi_repo / "adapters/_reference/pyproject.toml"
    adapter_pyproject.write_text(
        adapter_pyproject.read_text().replace("oxi-core==0.1.0a1", "oxi-core==0.0.9")
    )
    workspace = load_workspace(oxi_repo)
    adapter = workspace.get("adapters/_reference")
    assert pin_problems(workspace, adapter) == ["'oxi-core==0.0.9' but oxi-core is at 0.1.0a1"]
    assert package_status(workspace, adapter).next_action.startswith("fix the sibling pin")


def test_status_reads_each_index_asked_for(
    oxi_repo: Path, pypiserver: PypiServer, oxi_dists: Dists
) -> None:
    """`invoke status --index`: the latest version on a real index, "none" where the
    package is not there, "unreachable" where nothing answers; the repo is only read."""
    from tests.pypiserver_fixtures import free_port

    for file in oxi_dists.files:
        pypiserver.put(file)  # oxi-core 0.1.0a1 was published
    dead = f"http://127.0.0.1:{free_port()}/"
    with (oxi_repo / "pyproject.toml").open("a") as pyproject:
        pyproject.write(
            f'\n[tool.releasekit.indexes.staging]\nupload-url = "{pypiserver.index.upload_url}"\n'
            f'simple-url = "{pypiserver.index.simple_url}"\n'
            f'\n[tool.releasekit.indexes.gone]\nupload-url = "{dead}"\n'
            f'simple-url = "{dead}simple/"\n'
        )
    git(oxi_repo, "commit", "-qam", "two indexes")
    before = repo_state(oxi_repo)

    shown = invoke(oxi_repo, "status", "--index", "staging", "--index", "gone")
    assert shown.returncode == 0, shown.stderr
    table = status_table(shown.stdout)
    core, adapter = table["oxi-core"], table["oxi-adapter-reference"]
    assert (core["latest on staging"], core["latest on gone"]) == ("0.1.0a1", "unreachable")
    assert core["next action"] == "released; next: invoke bump --package oxi-core"
    assert (adapter["latest on staging"], adapter["latest on gone"]) == ("none", "unreachable")
    assert adapter["next action"] == "release: nox -s release -- oxi-adapter-reference"

    document = invoke(oxi_repo, "status", "--index", "staging", "--json")
    assert document.returncode == 0, document.stderr
    packages = {p["name"]: p for p in json.loads(document.stdout)["packages"]}
    assert packages["oxi-core"]["indexes"] == {"staging": "0.1.0a1"}
    assert repo_state(oxi_repo) == before
