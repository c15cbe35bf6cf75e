"""rollback.py: the decision tree, and roll-forward plans carried out on real git repositories."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from releasekit.checks import preflight
from releasekit.config import BUILTIN_INDEXES, IndexConfig
from releasekit.errors import DirtyWorkingTree, ReleaseError, RollbackRefused
from releasekit.index import local_index
from releasekit.notes import notes_location, notes_state, release_marks
from releasekit.rollback import (
    QUESTIONS,
    Assessment,
    RollbackPlan,
    apply_rollback,
    assess,
    decide,
    plan_rollback,
    yank_url,
)
from releasekit.version_source import read_version
from releasekit.workspace import Workspace, load_workspace
from tests.conftest import git, repo_state
from tests.pypiserver_fixtures import free_port, make_wheel

A1, A2, A3 = Version("0.1.0a1"), Version("0.1.0a2"), Version("0.1.0a3")
REASON = "oxi --version prints 0.0.0"
ADAPTER_PIN = '"oxi-core=={}"'


def tag(repo: Path, name: str) -> None:
    git(repo, "tag", "-a", name, "-m", f"Release {name}")


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def set_core_version(repo: Path, old: str, new: str) -> None:
    """What a bump does by hand: the version at source and the adapter's pin."""
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(f'"{old}"', f'"{new}"'))
    adapter = repo / "adapters" / "_reference" / "pyproject.toml"
    adapter.write_text(adapter.read_text().replace(f"oxi-core=={old}", f"oxi-core=={new}"))


def plan(workspace: Workspace, bad: Version, **kwargs: object) -> RollbackPlan:
    assessment = kwargs.pop("assessment", Assessment(user_visible=True, reason=REASON))
    assert isinstance(assessment, Assessment)
    return plan_rollback(
        workspace,
        workspace.get("oxi-core"),
        bad,
        assessment,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def released(oxi_repo: Path) -> Path:
    """The oxi example with oxi-core 0.1.0a1 released (tagged); the adapter not tagged."""
    tag(oxi_repo, "oxi-core-v0.1.0a1")
    return oxi_repo


@pytest.fixture
def two_releases(released: Path) -> Path:
    """oxi-core 0.1.0a1 and, one commit later, 0.1.0a2 (with a code change) both tagged."""
    repo = released
    set_core_version(repo, "0.1.0a1", "0.1.0a2")
    cli = repo / "src" / "oxi_core" / "cli.py"
    cli.write_text(cli.read_text().replace("nothing to do yet", "deleting your files"))
    (repo / "src" / "oxi_core" / "wipe.py").write_text('"""Added in the bad release."""\n')
    (repo / "docs" / "release-notes" / "v0.1.0a2.md").write_text(
        "# oxi-core 0.1.0a2\n\nA faster oxi.\n"
    )
    (repo / "adapters" / "_reference" / "README.md").write_text("The adapter, improved.\n")
    commit_all(repo, "oxi-core 0.1.0a2")
    tag(repo, "oxi-core-v0.1.0a2")
    return repo


# --- the decision tree (pure) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "bad", "decision"),
    [
        ({"security": True}, "1.2.0", "yank"),
        ({"data_loss": True}, "1.2.0", "yank"),
        ({"security": True}, "0.1.0a1", "yank"),  # a pre-release with a security hole: yanked
        ({"data_loss": True}, "2.0.0rc1", "yank"),
        ({"user_visible": True}, "1.2.0", "republish"),
        ({"user_visible": True}, "0.1.0a1", "republish"),
        ({"cosmetic": True}, "1.2.0", "errata"),
        ({"cosmetic": True}, "0.1.0b2", "errata"),
        ({}, "1.2.0", "escalate"),
        ({}, "0.1.0a1", "escalate"),
        ({"user_visible": True, "security": True}, "1.2.0", "yank"),  # first yes in the tree
        ({"cosmetic": True, "user_visible": True}, "1.2.0", "republish"),
        ({"cosmetic": True, "data_loss": True}, "0.1.0a1", "yank"),
    ],
)
def test_decide_follows_the_runbook_tree(answers: dict[str, Any], bad: str, decision: str) -> None:
    result = decide(Assessment(**answers), Version(bad))
    assert result.decision == decision
    assert result.why


def test_pre_release_bug_says_republish_not_yank() -> None:
    why = decide(Assessment(user_visible=True), A1).why
    assert "never yank" in why
    assert "never yank" not in decide(Assessment(user_visible=True), Version("1.0.0")).why


def test_questions_walk_the_tree_in_order() -> None:
    assert [field for field, _question in QUESTIONS] == [
        "security",
        "data_loss",
        "user_visible",
        "cosmetic",
    ]
    assert all(question.endswith("?") for _field, question in QUESTIONS)


@pytest.mark.parametrize(
    ("index", "url"),
    [
        (None, "https://pypi.org/manage/project/oxi-core/release/0.1.0a1/"),
        (
            BUILTIN_INDEXES["testpypi"],
            "https://test.pypi.org/manage/project/oxi-core/release/0.1.0a1/",
        ),
        (IndexConfig("staging", "http://127.0.0.1:1/", "http://127.0.0.1:1/simple/"), None),
    ],
)
def test_yank_url_is_the_release_management_page(
    oxi_repo: Path, index: IndexConfig | None, url: str | None
) -> None:
    package = load_workspace(oxi_repo).get("oxi_core")  # any spelling: the URL is canonical
    assert yank_url(package, A1, index) == url


# --- each branch on a repository ---------------------------------------------------------------


@pytest.mark.parametrize("flag", ["security", "data_loss"])
def test_yank_path_gives_the_url_and_reason_then_republishes(released: Path, flag: str) -> None:
    workspace = load_workspace(released)
    reason = "path-traversal guard removed"
    result = plan(workspace, A1, assessment=Assessment(**{flag: True}, reason=reason))
    url = "https://pypi.org/manage/project/oxi-core/release/0.1.0a1/"
    assert (result.decision.decision, result.new) == ("yank", A2)
    assert (result.yank_url, result.yank_reason) == (url, reason)
    shown = "\n".join(result.describe())
    assert url in shown
    assert reason in shown
    assert any("security advisory" in step for step in result.next_steps)

    apply_rollback(workspace, result)

    core = load_workspace(released).get("oxi-core")
    assert read_version(core) == A2
    new_notes = notes_location(core, A2).read_text()
    assert f"yanked: {reason}" in new_notes
    assert "not yanked" not in new_notes
    assert release_marks(core, A1) == "yanked"
    assert f"yanked: {reason}" in notes_location(core, A1).read_text()
    assert git(released, "tag", "-l") == "oxi-core-v0.1.0a1"  # no tag made, moved or deleted


def test_user_visible_republishes_and_leaves_a_preflight_clean_repo(released: Path) -> None:
    workspace = load_workspace(released)
    result = plan(workspace, A1)
    assert (result.decision.decision, result.new, result.yank_url) == ("republish", A2, None)
    assert "nox -s release -- oxi-core adapters/_reference" in result.next_steps

    done = apply_rollback(workspace, result)
    assert any("0.1.0a1 -> 0.1.0a2" in line for line in done)

    workspace = load_workspace(released)
    core, adapter = workspace.get("oxi-core"), workspace.get("adapters/_reference")
    assert read_version(core) == A2
    assert ADAPTER_PIN.format(A2) in adapter.pyproject.read_text()
    assert read_version(adapter) == A1  # never released: the moved pin is all it needs
    new_notes = notes_location(core, A2).read_text()
    assert "still on the index, still installable, not yanked" in new_notes
    assert REASON in new_notes
    assert "republish" in new_notes
    assert notes_state(core, A2) == "filled"
    assert release_marks(core, A1) == "bad"
    assert REASON in notes_location(core, A1).read_text()

    git(released, "commit", "-q", "-am", "rollback: oxi-core 0.1.0a1 is bad")  # the next step
    releasing = {core.canonical_name: A2, adapter.canonical_name: A1}
    findings = [
        finding
        for package, version in ((core, A2), (adapter, A1))
        for finding in preflight(workspace, package, version, rehearse=True, releasing=releasing)
    ]
    assert [f for f in findings if f.severity != "ok"] == []


def test_cosmetic_is_an_errata_line_and_no_version_change(released: Path) -> None:
    workspace = load_workspace(released)
    result = plan(workspace, A1, assessment=Assessment(cosmetic=True, reason="typo in --help"))
    assert (result.decision.decision, result.new) == ("errata", None)

    apply_rollback(workspace, result)

    core = load_workspace(released).get("oxi-core")
    assert read_version(core) == A1
    assert git(released, "status", "--porcelain") == "M docs/release-notes/v0.1.0a1.md"
    text = notes_location(core, A1).read_text()
    assert "## Errata" in text
    assert "- typo in --help" in text
    assert release_marks(core, A1) is None  # still the release to use


def test_cosmetic_with_to_republishes_anyway(released: Path) -> None:
    workspace = load_workspace(released)
    result = plan(
        workspace, A1, assessment=Assessment(cosmetic=True, reason="typo"), to=Version("0.1.0b1")
    )
    assert (result.decision.decision, result.new) == ("republish", Version("0.1.0b1"))
    apply_rollback(workspace, result)
    assert read_version(load_workspace(released).get("oxi-core")) == Version("0.1.0b1")


def test_nothing_answered_escalates_and_changes_nothing(released: Path) -> None:
    workspace = load_workspace(released)
    before = repo_state(released)
    result = plan(workspace, A1, assessment=Assessment(reason="users are unhappy"))
    assert (result.decision.decision, result.new, result.edits) == ("escalate", None, ())
    assert any("open an issue" in step for step in result.next_steps)
    assert any("nothing will be changed" in line for line in result.describe())
    assert "nothing was changed" in apply_rollback(workspace, result)[0]
    assert repo_state(released) == before


# --- the questions, asked when the adapter allows it -----------------------------------------


class Answers:
    """Replies to the rollback questions, in order; records every prompt it was shown."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return self.replies.pop(0)


def test_the_questions_stop_at_the_first_yes_then_ask_the_reason(released: Path) -> None:
    answers = Answers("n", "", "Yes", REASON)
    assessment = assess(ask=answers)
    assert answers.replies == []
    assert answers.prompts == [
        f"{QUESTIONS[0][1]} [y/N] ",
        f"{QUESTIONS[1][1]} [y/N] ",
        f"{QUESTIONS[2][1]} [y/N] ",
        "In one line, what is wrong? ",
    ]
    assert assessment == Assessment(user_visible=True, reason=REASON)

    workspace = load_workspace(released)
    result = plan(workspace, A1, assessment=assessment)
    apply_rollback(workspace, result)
    assert read_version(load_workspace(released).get("oxi-core")) == A2
    assert REASON in notes_location(workspace.get("oxi-core"), A2).read_text()


def test_no_yes_to_any_question_escalates(released: Path) -> None:
    answers = Answers("n", "no", "N", "nope", "")
    assessment = assess(ask=answers)
    assert len(answers.prompts) == 5 and answers.replies == []
    workspace = load_workspace(released)
    assert plan(workspace, A1, assessment=assessment).decision.decision == "escalate"


def test_nothing_is_asked_when_a_flag_answers_or_the_adapter_forbids_prompts() -> None:
    answers = Answers()
    assert assess(security=True, reason="a leaked token", ask=answers).security
    assert assess(cosmetic=True, ask=answers) == Assessment(cosmetic=True)
    assert answers.prompts == []
    assert assess(ask=None) == Assessment()  # not interactive: no answer, escalate
    given = Answers("n", "n", "n", "y")
    assert assess(reason="given", ask=given) == Assessment(cosmetic=True, reason="given")
    assert len(given.prompts) == 4  # the reason was given: not asked


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal (POSIX)")
def test_invoke_rollback_asks_in_a_terminal(released: Path) -> None:
    """`invoke rollback PACKAGE VERSION` with no flag, its stdin a terminal, asks the tree."""
    import pty

    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "invoke", "rollback", "oxi-core", "0.1.0a1"],
            cwd=released, stdin=follower, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env,
        )  # fmt: skip
        os.write(leader, f"n\nn\ny\n{REASON}\n".encode())
        try:
            out, err = proc.communicate(timeout=600)  # a safety net, never a measurement
        except subprocess.TimeoutExpired:
            proc.kill()  # stopped by its own pid
            proc.communicate()
            raise
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 0, err
    assert QUESTIONS[2][1] in out and QUESTIONS[3][1] not in out
    assert "oxi-core 0.1.0a1: republish" in out
    assert f"reason: {REASON}" in out
    assert 'version = "0.1.0a2"' in (released / "pyproject.toml").read_text()
    assert REASON in (released / "docs/release-notes/v0.1.0a2.md").read_text()


def test_the_republish_moves_the_version_files_as_bump_does(released: Path) -> None:
    version_file = released / "src/oxi_core/_version.py"
    version_file.write_text('__version__ = version = "0.1.0a1"\n')
    pyproject = released / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.releasekit]\n",
            '[tool.releasekit]\nversion-files = ["src/oxi_core/_version.py"]\n',
        )
    )
    commit_all(released, "a second copy of the version")
    workspace = load_workspace(released)
    result = plan(workspace, A1)
    assert version_file in [edit.path for edit in result.edits]
    apply_rollback(workspace, result)
    assert version_file.read_text() == '__version__ = version = "0.1.0a2"\n'
    package = load_workspace(released).get("oxi-core")
    assert not [
        f for f in preflight(workspace, package, A2) if f.check == "version files" and f.failed
    ]


def test_a_released_sibling_with_a_moved_pin_gets_its_own_new_version(released: Path) -> None:
    tag(released, "oxi-adapter-reference-v0.1.0a1")
    workspace = load_workspace(released)
    result = plan(workspace, A1)
    apply_rollback(workspace, result)

    adapter = load_workspace(released).get("adapters/_reference")
    assert read_version(adapter) == A2
    assert ADAPTER_PIN.format(A2) in adapter.pyproject.read_text()
    assert notes_state(adapter, A2) == "filled"
    assert "nox -s release -- oxi-core adapters/_reference" in result.next_steps


def test_running_it_twice_changes_nothing_more(released: Path) -> None:
    workspace = load_workspace(released)
    apply_rollback(workspace, plan(workspace, A1))
    after_first = repo_state(released)
    again = plan(load_workspace(released), A1)
    assert (again.new, again.edits) == (A2, ())
    apply_rollback(load_workspace(released), again)
    assert repo_state(released) == after_first


def test_changelog_style_notes(oxi_repo: Path) -> None:
    pyproject = oxi_repo / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'release-notes = "docs/release-notes/v{version}.md"', 'changelog = "CHANGELOG.md"'
        )
    )
    (oxi_repo / "CHANGELOG.md").write_text(
        "# Changelog\n\n## [Unreleased]\n\n## [0.1.0a1] - 2026-04-24\n\nFirst alpha.\n"
    )
    commit_all(oxi_repo, "keep a changelog")
    tag(oxi_repo, "oxi-core-v0.1.0a1")
    workspace = load_workspace(oxi_repo)
    apply_rollback(workspace, plan(workspace, A1))

    core = load_workspace(oxi_repo).get("oxi-core")
    assert notes_state(core, A2) == "filled"
    assert release_marks(core, A1) == "bad"
    text = (oxi_repo / "CHANGELOG.md").read_text()
    assert text.index("## [Unreleased]") < text.index("## [0.1.0a2]") < text.index("## [0.1.0a1]")
    assert "still on the index, still installable, not yanked" in text


# --- --from-good ------------------------------------------------------------------------------


def test_from_good_restores_the_good_code_in_a_new_commit(two_releases: Path) -> None:
    repo = two_releases
    old_head = git(repo, "rev-parse", "HEAD")
    tags_before = git(repo, "show-ref", "--tags")
    workspace = load_workspace(repo)
    result = plan(workspace, A2, from_good=A1)
    assert result.new == A3  # from the bad version, not from the restored good one
    assert set(result.restore_paths) == {
        "pyproject.toml",
        "src/oxi_core/cli.py",
        "src/oxi_core/wipe.py",
    }

    apply_rollback(workspace, result)

    new_head = git(repo, "rev-parse", "HEAD")
    assert new_head != old_head
    git(repo, "merge-base", "--is-ancestor", old_head, new_head)  # history moved forward
    assert git(repo, "log", "-1", "--format=%s") == (
        "rollback: restore oxi-core 0.1.0a1 code for republish (bad: 0.1.0a2)"
    )
    package_files = ["--", ".", ":(exclude)adapters/_reference"]
    changed = git(repo, "diff", "--name-only", "oxi-core-v0.1.0a1", "HEAD", *package_files)
    assert changed.splitlines() == ["docs/release-notes/v0.1.0a2.md"]  # the bad one's notes stay
    assert not (repo / "src" / "oxi_core" / "wipe.py").exists()
    assert "The adapter, improved." in (repo / "adapters/_reference/README.md").read_text()
    assert git(repo, "show-ref", "--tags") == tags_before
    # then the version and notes edits, uncommitted, on top of the good code
    now = git(repo, "diff", "--name-only", "oxi-core-v0.1.0a1", *package_files)
    assert set(now.splitlines()) == {
        "pyproject.toml",
        "docs/release-notes/v0.1.0a2.md",
        "docs/release-notes/v0.1.0a3.md",
    }
    core = load_workspace(repo).get("oxi-core")
    assert read_version(core) == A3
    assert ADAPTER_PIN.format(A3) in (repo / "adapters/_reference/pyproject.toml").read_text()
    assert release_marks(core, A2) == "bad"
    assert "code of oxi-core 0.1.0a1" in notes_location(core, A3).read_text()


def test_from_good_refuses_when_head_moved_after_planning(two_releases: Path) -> None:
    workspace = load_workspace(two_releases)
    result = plan(workspace, A2, from_good=A1)
    (two_releases / "other.txt").write_text("x")
    commit_all(two_releases, "someone else's work")
    before = repo_state(two_releases)
    with pytest.raises(RollbackRefused, match="HEAD moved") as info:
        apply_rollback(workspace, result)
    assert info.value.hint
    assert repo_state(two_releases) == before


def test_from_good_puts_everything_back_when_the_commit_fails(two_releases: Path) -> None:
    hook = two_releases / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'hook says no' >&2\nexit 1\n")
    hook.chmod(0o755)
    workspace = load_workspace(two_releases)
    result = plan(workspace, A2, from_good=A1)
    before = repo_state(two_releases)
    with pytest.raises(ReleaseError, match="hook says no") as info:
        apply_rollback(workspace, result)
    assert info.value.hint
    assert repo_state(two_releases) == before


# --- refusals: each with a hint, nothing changed ------------------------------------------


@pytest.mark.parametrize(
    ("bad", "kwargs", "error", "match"),
    [
        (Version("0.1.0a5"), {}, RollbackRefused, "never released"),
        (A2, {"to": A2}, RollbackRefused, "not above the bad version"),
        (A2, {"to": Version("0.1.0a0")}, RollbackRefused, "not above the bad version"),
        (A1, {"to": A2}, RollbackRefused, "already released"),
        (A2, {"from_good": Version("0.0.9")}, RollbackRefused, "no tag"),
        (A1, {"from_good": A2}, RollbackRefused, "not older"),
        (A2, {"from_good": A2}, RollbackRefused, "not older"),
        (A2, {"delete_tag": True}, RollbackRefused, "never deletes tags"),
        (A2, {"from_good": A1, "dirty": True}, DirtyWorkingTree, "clean tree"),
    ],
)
def test_refusals_change_nothing(
    two_releases: Path,
    bad: Version,
    kwargs: dict[str, object],
    error: type[ReleaseError],
    match: str,
) -> None:
    if kwargs.pop("dirty", False):
        (two_releases / "README.md").write_text("work in progress\n")
    workspace = load_workspace(two_releases)
    before = repo_state(two_releases)
    with pytest.raises(error, match=match) as info:
        plan(workspace, bad, **kwargs)
    assert info.value.hint
    assert repo_state(two_releases) == before


def test_a_final_tag_is_never_deleted(oxi_repo: Path) -> None:
    set_core_version(oxi_repo, "0.1.0a1", "1.0.0")
    commit_all(oxi_repo, "1.0.0")
    tag(oxi_repo, "oxi-core-v1.0.0")
    before = repo_state(oxi_repo)
    with pytest.raises(RollbackRefused, match="final tags are never deleted") as info:
        plan(load_workspace(oxi_repo), Version("1.0.0"), delete_tag=True)
    assert "roll forward" in info.value.hint
    assert repo_state(oxi_repo) == before
    assert plan(load_workspace(oxi_repo), Version("1.0.0")).new == Version("1.0.1")


# --- the index as a second witness ---------------------------------------------------------


def test_index_counts_as_released_and_burnt(oxi_repo: Path, tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    for version in ("0.1.0a1", "0.1.0a2"):  # released from elsewhere, never tagged here
        make_wheel(served, "oxi-core", version)
    workspace = load_workspace(oxi_repo)
    with pytest.raises(RollbackRefused, match="no tag"):
        plan(workspace, A1)  # git alone: never released
    with local_index(served) as index:
        result = plan(workspace, A1, index=index)
        assert result.new == A3  # 0.1.0a2 is burnt on the index
        with pytest.raises(RollbackRefused, match="already released") as info:
            plan(workspace, A1, index=index, to=A2)
        assert "on index 'local'" in info.value.message


def test_unreachable_index_is_unknown_not_fatal(released: Path) -> None:
    port = free_port()
    dead = IndexConfig("dead", f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/simple/")
    result = plan(load_workspace(released), A1, index=dead)
    assert result.new == A2
    assert any("could not be read" in warning for warning in result.warnings)
