"""Preflight on real git copies of examples/oxi: every problem found, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from releasekit.checks import Finding, format_findings, preflight, require_preflight
from releasekit.errors import PreflightFailed
from releasekit.workspace import load_workspace
from tests.conftest import git, repo_state

V = Version("0.1.0a1")


def run_preflight(repo: Path, name: str = "oxi-core", **kwargs: object) -> list[Finding]:
    workspace = load_workspace(repo)
    package = workspace.get(name)
    releasing = {p.canonical_name: V for p in workspace.packages}
    return preflight(workspace, package, V, releasing=releasing, **kwargs)  # type: ignore[arg-type]


def failed(findings: list[Finding]) -> dict[str, str]:
    return {f.check: f.message for f in findings if f.failed}


def test_clean_example_passes_every_check(oxi_repo: Path) -> None:
    findings = run_preflight(oxi_repo)
    assert failed(findings) == {}
    assert {f.check for f in findings} == {
        "clean tree", "release branch", "version", "version literal",
        "release notes", "tag", "sibling pins",
    }  # fmt: skip
    assert require_preflight(findings) == []


def test_hardcoded_version_literal_is_an_error(oxi_repo: Path) -> None:
    init = oxi_repo / "src/oxi_core/__init__.py"
    init.write_text('"""oxi core."""\n\n__version__ = "0.0.0"\n')
    git(oxi_repo, "commit", "-qam", "the runbook's bug")
    found = failed(run_preflight(oxi_repo))
    assert list(found) == ["version literal"]
    assert "src/oxi_core/__init__.py:3 hardcodes __version__ = '0.0.0'" in found["version literal"]


def test_agreeing_literal_is_a_warning_with_the_fix(oxi_repo: Path) -> None:
    (oxi_repo / "src/oxi_core/__init__.py").write_text('__version__ = "0.1.0a1"\n')
    git(oxi_repo, "commit", "-qam", "literal that agrees")
    findings = run_preflight(oxi_repo)
    assert failed(findings) == {}
    warnings = require_preflight(findings)
    assert [w.check for w in warnings] == ["version literal"]
    assert "importlib.metadata" in warnings[0].hint


def test_dirty_tree_missing_notes_and_taken_tag_all_reported_together(oxi_repo: Path) -> None:
    git(oxi_repo, "tag", "-a", "-m", "old", "oxi-core-v0.1.0a1")
    (oxi_repo / "new.txt").write_text("x")
    git(oxi_repo, "add", "new.txt")
    git(oxi_repo, "commit", "-qm", "move on")
    git(oxi_repo, "rm", "-q", "docs/release-notes/v0.1.0a1.md")
    git(oxi_repo, "commit", "-qm", "lose the notes")
    (oxi_repo / "scratch.txt").write_text("untracked")
    before = repo_state(oxi_repo)
    findings = run_preflight(oxi_repo)
    found = failed(findings)
    assert set(found) == {"clean tree", "release notes", "tag"}
    assert "scratch.txt" in found["clean tree"]
    assert "docs/release-notes/v0.1.0a1.md" in found["release notes"]
    assert "tag 'oxi-core-v0.1.0a1' is taken" in found["tag"]
    with pytest.raises(PreflightFailed) as info:
        require_preflight(findings)
    message = str(info.value)
    assert "3 problems" in message
    for check in ("clean tree", "release notes", "tag"):
        assert check in message  # one table with every problem
    assert len(info.value.findings) == 3
    assert repo_state(oxi_repo) == before  # preflight changes nothing


def test_untouched_stub_fails(oxi_repo: Path) -> None:
    from releasekit.edits import apply_edits
    from releasekit.notes import plan_notes

    workspace = load_workspace(oxi_repo)
    package = workspace.get("oxi-core")
    git(oxi_repo, "rm", "-q", "docs/release-notes/v0.1.0a1.md")
    apply_edits(plan_notes(package, V))
    git(oxi_repo, "add", "-A")
    git(oxi_repo, "commit", "-qm", "stub")
    assert "untouched stub" in failed(run_preflight(oxi_repo))["release notes"]


def test_tag_at_head_is_fine_when_resuming(oxi_repo: Path) -> None:
    git(oxi_repo, "tag", "-a", "-m", "made", "oxi-core-v0.1.0a1")
    assert failed(run_preflight(oxi_repo)) == {}


def test_wrong_branch_refused_but_not_in_a_rehearsal(oxi_repo: Path) -> None:
    git(oxi_repo, "switch", "-q", "-c", "feature")
    assert "releases are made from 'main'" in failed(run_preflight(oxi_repo))["release branch"]
    assert failed(run_preflight(oxi_repo, rehearse=True)) == {}


def test_sibling_pin_must_be_released_or_in_this_run(oxi_repo: Path) -> None:
    workspace = load_workspace(oxi_repo)
    adapter = workspace.get("adapters/_reference")
    alone = preflight(
        workspace, adapter, V, releasing={adapter.canonical_name: V},
        on_index=lambda package, version: False,
    )  # fmt: skip
    message = failed(alone)["sibling pins"]
    assert "'oxi-core==0.1.0a1'" in message and "not part of this release" in message
    hint = next(f.hint for f in alone if f.check == "sibling pins")
    assert "release oxi-core first" in hint
    on_index = preflight(
        workspace, adapter, V, releasing={adapter.canonical_name: V},
        on_index=lambda package, version: package.name == "oxi-core" and version == V,
    )  # fmt: skip
    assert failed(on_index) == {}


def test_format_findings_is_a_table(oxi_repo: Path) -> None:
    table = format_findings(run_preflight(oxi_repo))
    header = table.splitlines()[0]
    assert header.split() == ["package", "check", "result", "finding", "what", "to", "do"]


def test_a_stale_version_file_is_an_error_and_bump_keeps_it_in_step(oxi_repo: Path) -> None:
    """The issue's story: a generated _version.py beside a static [project] version."""
    from releasekit.bump import plan_version_change
    from releasekit.edits import apply_edits
    from releasekit.versions import BumpRequest

    version_file = oxi_repo / "src/oxi_core/_version.py"
    version_file.write_text('__version__ = version = "0.1.0a1"\n')
    pyproject = oxi_repo / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.releasekit]\n",
            '[tool.releasekit]\nversion-files = ["src/oxi_core/_version.py"]\n',
        )
    )
    git(oxi_repo, "add", "-A")
    git(oxi_repo, "commit", "-qm", "a second copy of the version")
    findings = run_preflight(oxi_repo)
    assert failed(findings) == {}
    assert any(f.check == "version files" and f.severity == "ok" for f in findings)

    workspace = load_workspace(oxi_repo)
    change = plan_version_change(workspace, workspace.get("oxi-core"), BumpRequest(pre=""))
    assert version_file in [e.path for e in change.edits]
    apply_edits(change.edits)
    assert version_file.read_text() == '__version__ = version = "0.1.0a2"\n'

    version_file.write_text('__version__ = version = "0.0.9"\n')
    git(oxi_repo, "add", "-A")
    git(oxi_repo, "commit", "-qm", "stale")
    workspace = load_workspace(oxi_repo)
    found = preflight(workspace, workspace.get("oxi-core"), Version("0.1.0a2"))
    stale = [f for f in found if f.check == "version files"]
    assert [f.severity for f in stale] == ["error"]
    assert "src/oxi_core/_version.py holds 0.0.9, releasing 0.1.0a2" in stale[0].message


def test_a_check_that_cannot_run_is_reported_under_its_own_name(oxi_repo: Path) -> None:
    """A version-files entry naming a missing file: the check raises, the finding says which."""
    pyproject = oxi_repo / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.releasekit]\n", '[tool.releasekit]\nversion-files = ["src/oxi_core/_gone.py"]\n'
        )
    )
    git(oxi_repo, "commit", "-qam", "a version file that is not there")
    found = failed(run_preflight(oxi_repo))
    assert list(found) == ["version files"]
    assert "src/oxi_core/_gone.py" in found["version files"]
    with pytest.raises(PreflightFailed) as info:
        require_preflight(run_preflight(oxi_repo))
    assert "<lambda>" not in str(info.value)


def test_a_detached_head_passes_the_branch_check_only_at_the_release_tag(oxi_repo: Path) -> None:
    from releasekit.checks import check_branch

    workspace = load_workspace(oxi_repo)
    package = workspace.get("oxi-core")
    git(oxi_repo, "checkout", "-q", "--detach", "HEAD")
    (refused,) = check_branch(workspace, package, rehearse=False, version=Version("0.1.0a1"))
    assert refused.severity == "error" and "detached HEAD" in refused.message
    git(oxi_repo, "tag", "-a", "oxi-core-v0.1.0a1", "-m", "Release oxi-core 0.1.0a1")
    (passed,) = check_branch(workspace, package, rehearse=False, version=Version("0.1.0a1"))
    assert passed.severity == "ok"
    assert passed.message == "at the release tag oxi-core-v0.1.0a1 (detached HEAD, as in CI)"
