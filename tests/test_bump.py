"""One bump planned whole: version source, sibling pins, notes — nothing written."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from releasekit.bump import plan_version_change
from releasekit.edits import apply_edits
from releasekit.versioning import BumpRequest, read_version
from releasekit.workspace import load_workspace
from tests.conftest import repo_state


def test_plan_then_apply(oxi_repo: Path) -> None:
    workspace = load_workspace(oxi_repo)
    core = workspace.get("oxi-core")
    before = repo_state(oxi_repo)
    change = plan_version_change(workspace, core, BumpRequest(minor=True, pre="b"),
                                 today=date(2026, 11, 21))  # fmt: skip
    assert repo_state(oxi_repo) == before  # planning writes nothing
    assert (str(change.old), str(change.new)) == ("0.1.0a1", "0.1.0b1")
    assert sorted(e.path.relative_to(oxi_repo).as_posix() for e in change.edits) == [
        "adapters/_reference/pyproject.toml",
        "docs/release-notes/v0.1.0b1.md",
        "pyproject.toml",
    ]
    lines = change.describe()
    assert lines[0] == "oxi-core: 0.1.0a1 -> 0.1.0b1"
    assert any("create docs/release-notes/v0.1.0b1.md" in line for line in lines)
    apply_edits(change.edits)
    assert str(read_version(load_workspace(oxi_repo).get("oxi-core"))) == "0.1.0b1"


def test_describe_warns_about_a_hardcoded_literal(oxi_repo: Path) -> None:
    (oxi_repo / "src/oxi_core/__init__.py").write_text('__version__ = "0.1.0a1"\n')
    workspace = load_workspace(oxi_repo)
    change = plan_version_change(workspace, workspace.get("oxi-core"), BumpRequest(pre=""))
    warning = next(line for line in change.describe() if "hardcoded" in line)
    assert "src/oxi_core/__init__.py:1" in warning and "importlib.metadata" in warning
