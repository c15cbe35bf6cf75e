"""One bump planned whole: version source, sibling pins, notes — nothing written."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from packaging.version import Version

from releasekit.bump import dependent_request, plan_bumps, plan_version_change
from releasekit.edits import apply_edits, merge_edits
from releasekit.version_source import read_version
from releasekit.versions import BumpRequest
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


def _monorepo(root: Path) -> None:
    (root / "pyproject.toml").write_text('[tool.releasekit]\npackages = ["p/*"]\n')
    specs = {
        "core": ("1.0.0", []),
        "mid": ("2.0.0a1", ["core==1.0.0"]),
        "top": ("3.1.0", ["mid==2.0.0a1"]),
        "loose": ("0.5.0", ["core>=1"]),
        "grouped": ("0.1.0", []),
    }
    for name, (version, deps) in specs.items():
        folder = root / "p" / name
        folder.mkdir(parents=True)
        quoted = ", ".join(f'"{d}"' for d in deps)
        extra = '[dependency-groups]\ndev = ["core==1.0.0"]\n' if name == "grouped" else ""
        (folder / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = [{quoted}]\n'
            + extra
        )


def test_several_packages_bump_at_once_each_on_top_of_the_last(tmp_path: Path) -> None:
    _monorepo(tmp_path)
    workspace = load_workspace(tmp_path)
    changes = plan_bumps(
        workspace, [workspace.get("mid"), workspace.get("core")], BumpRequest(minor=True)
    )
    assert [(c.package.name, str(c.old), str(c.new)) for c in changes] == [
        ("core", "1.0.0", "1.1.0"),
        ("mid", "2.0.0a1", "2.1.0"),
    ]
    apply_edits(merge_edits([e for c in changes for e in c.edits]))
    mid = (tmp_path / "p/mid/pyproject.toml").read_text()
    assert '"core==1.1.0"' in mid and 'version = "2.1.0"' in mid
    assert '"mid==2.1.0"' in (tmp_path / "p/top/pyproject.toml").read_text()


def test_with_dependents_bumps_the_siblings_that_pin_a_bumped_package(tmp_path: Path) -> None:
    _monorepo(tmp_path)
    workspace = load_workspace(tmp_path)
    changes = plan_bumps(
        workspace, [workspace.get("core")], BumpRequest(patch=True), with_dependents=True
    )
    assert [(c.package.name, str(c.new)) for c in changes] == [
        ("core", "1.0.1"),
        ("mid", "2.0.0a2"),  # at a pre-release: the next pre-release number
        ("top", "3.1.1"),  # pins mid: the next patch
    ]  # `loose` only needs core>=1, `grouped` pins it in a dev group only: not bumped
    apply_edits(merge_edits([e for c in changes for e in c.edits]))
    assert '"core==1.0.1"' in (tmp_path / "p/grouped/pyproject.toml").read_text()


def test_dependent_request() -> None:
    assert dependent_request(Version("1.0.0rc1")) == BumpRequest(pre="")
    assert dependent_request(Version("1.0.0")) == BumpRequest(patch=True)
