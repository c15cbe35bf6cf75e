"""What `invoke status` reports, gathered on real git repositories."""

from __future__ import annotations

from pathlib import Path

from releasekit.status import package_status, pin_problems
from releasekit.workspace import load_workspace
from tests.conftest import git


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
