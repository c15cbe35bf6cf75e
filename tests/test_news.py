"""News fragments and conventional commits: `invoke news`, bump collecting them, the CI check.

The task tests run `invoke` as a user does, in real git copies of examples/oxi.
"""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest
from packaging.version import Version

from releasekit.edits import apply_edits
from releasekit.errors import NewsError
from releasekit.news import (
    plan_collect_news,
    plan_entry_groups,
    plan_fragment,
    read_fragments,
)
from releasekit.notes import notes_state
from releasekit.workspace import Package, load_workspace
from tests.cli import invoke
from tests.conftest import git, repo_state

TODAY = date(2026, 4, 30)


def package_at(root: Path, releasekit: str = "") -> Package:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "demo"\nversion = "1.0.0"\n\n[tool.releasekit]\n{releasekit}\n',
        encoding="utf-8",
    )
    return load_workspace(root).packages[0]


def tag_release(repo: Path, tag: str = "oxi-core-v0.1.0a1") -> None:
    git(repo, "tag", "-a", "-m", "released", tag)


# --- the done-when: two fragments, bump --pre, notes under headings, fragments gone ----------


def test_two_fragments_end_up_under_their_headings_and_are_removed(oxi_repo: Path) -> None:
    fixed = invoke(oxi_repo, "news", "`oxi --version` prints the version", "--type", "fixed",
                   "--issue", "12")  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr
    assert "wrote changes/12.fixed.md" in fixed.stdout
    added = invoke(oxi_repo, "news", "A `--json` flag for `oxi`", "--type", "added")
    assert added.returncode == 0, added.stderr
    fragments = sorted(p.name for p in (oxi_repo / "changes").iterdir())
    assert fragments == ["+a-json-flag-for-oxi.added.md", "12.fixed.md"]

    bumped = invoke(oxi_repo, "bump", "--pre", "--package", "oxi-core")
    assert bumped.returncode == 0, bumped.stderr
    assert "remove changes/12.fixed.md" in bumped.stdout
    notes = (oxi_repo / "docs/release-notes/v0.1.0a2.md").read_text()
    assert notes == textwrap.dedent(
        """\
        # oxi-core 0.1.0a2

        ## Added

        - A `--json` flag for `oxi`

        ## Fixed

        - `oxi --version` prints the version (#12)
        """
    )
    assert list((oxi_repo / "changes").iterdir()) == []
    assert invoke(oxi_repo, "notes", "--check").returncode == 0  # collected notes are not a stub


def test_fragments_go_into_a_changelog_section(oxi_repo: Path) -> None:
    pyproject = oxi_repo / "pyproject.toml"
    text = pyproject.read_text().replace(
        'release-notes = "docs/release-notes/v{version}.md"', 'changelog = "CHANGELOG.md"'
    )
    assert 'changelog = "CHANGELOG.md"' in text
    pyproject.write_text(text)
    (oxi_repo / "CHANGELOG.md").write_text(
        "# Changelog\n\n## [Unreleased]\n\n### Fixed\n\n- Written by hand.\n\n"
        "## [0.1.0a1] - 2026-01-01\n\n- First.\n"
    )
    git(oxi_repo, "commit", "-qam", "changelog")
    assert invoke(oxi_repo, "news", "Fixed by fragment", "--type", "fixed").returncode == 0
    assert invoke(oxi_repo, "news", "Old flag", "--type", "removed", "--issue", "7").returncode == 0
    bumped = invoke(oxi_repo, "bump", "--pre", "--package", "oxi-core")
    assert bumped.returncode == 0, bumped.stderr
    changelog = (oxi_repo / "CHANGELOG.md").read_text()
    section = changelog.split("## [0.1.0a2] - ")[1].split("## [0.1.0a1]")[0]
    assert section.split("\n", 1)[1] == (
        "\n### Fixed\n\n- Written by hand.\n- Fixed by fragment\n\n### Removed\n\n"
        "- Old flag (#7)\n\n"
    )
    assert "## [Unreleased]\n\n## [0.1.0a2]" in changelog
    assert not any((oxi_repo / "changes").iterdir())


def test_bump_dry_keeps_fragments(oxi_repo: Path) -> None:
    assert invoke(oxi_repo, "news", "Something", "--type", "changed").returncode == 0
    before = repo_state(oxi_repo)
    result = invoke(oxi_repo, "bump", "--pre", "--dry")
    assert result.returncode == 0, result.stderr
    assert "remove changes/+something.changed.md" in result.stdout
    assert repo_state(oxi_repo) == before


def test_a_failed_bump_leaves_fragments_and_files_as_they_were(oxi_repo: Path) -> None:
    assert invoke(oxi_repo, "news", "Something", "--type", "changed").returncode == 0
    # the notes file's place is taken by a directory: the write fails after planning
    (oxi_repo / "docs/release-notes/v0.1.0a2.md").mkdir()
    (oxi_repo / "docs/release-notes/v0.1.0a2.md/keep").write_text("x")
    before = repo_state(oxi_repo)
    result = invoke(oxi_repo, "bump", "--pre", "--package", "oxi-core")
    assert result.returncode != 0
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert repo_state(oxi_repo) == before
    assert (oxi_repo / "changes/+something.changed.md").read_text() == "Something\n"


def test_fragments_go_to_the_named_package_and_news_dir(oxi_repo: Path) -> None:
    adapter = oxi_repo / "adapters/_reference/pyproject.toml"
    adapter.write_text(adapter.read_text() + '\n[tool.releasekit]\nnews-dir = "newsfragments"\n')
    result = invoke(
        oxi_repo, "news", "Adapter change", "--type", "changed", "--package", "adapters/_reference"
    )
    assert result.returncode == 0, result.stderr
    assert (oxi_repo / "adapters/_reference/newsfragments/+adapter-change.changed.md").is_file()
    again = invoke(
        oxi_repo, "news", "Adapter change", "--type", "changed", "--package", "adapters/_reference"
    )
    assert again.returncode == 0, again.stderr
    assert "+adapter-change-2.changed.md" in again.stdout  # never overwrites


NEWS_BAD_INPUT = [
    (["news", "x"], "needs a type"),
    (["news", "x", "--type", "fix"], "did you mean 'fixed'"),
    (["news", "x", "--type", "fixed", "--issue", "abc"], "'abc'"),
    (["news", "  ", "--type", "fixed"], "empty"),
    (["news", "x", "--type", "fixed", "--package", "nope"], "no package 'nope'"),
]


@pytest.mark.parametrize(
    ("args", "needle"), NEWS_BAD_INPUT, ids=[" ".join(a) for a, _ in NEWS_BAD_INPUT]
)
def test_news_bad_input_is_one_clean_error(oxi_repo: Path, args: list[str], needle: str) -> None:
    before = repo_state(oxi_repo)
    result = invoke(oxi_repo, *args)
    assert result.returncode != 0
    assert result.stderr.startswith("error: ") and "hint: " in result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert repo_state(oxi_repo) == before


# --- invoke news --check ---------------------------------------------------------------------


def test_check_fails_on_a_source_change_without_fragment_then_passes(oxi_repo: Path) -> None:
    tag_release(oxi_repo)
    quiet = invoke(oxi_repo, "news", "--check")
    assert quiet.returncode == 0, quiet.stderr
    assert "oxi-core: no source changes since oxi-core-v0.1.0a1" in quiet.stdout

    cli = oxi_repo / "src/oxi_core/cli.py"
    cli.write_text(cli.read_text() + "\n# a change\n")
    git(oxi_repo, "commit", "-qam", "change the cli")
    failed = invoke(oxi_repo, "news", "--check")
    assert failed.returncode == 1
    lines = failed.stderr.splitlines()
    assert lines[0] == (
        "error: no news fragment for oxi-core "
        "(1 file(s) since oxi-core-v0.1.0a1, e.g. 'src/oxi_core/cli.py')"
    )
    assert lines[1].startswith("hint: add one in the same change: invoke news")
    assert len(lines) == 2

    assert invoke(oxi_repo, "news", "The cli changed", "--type", "changed").returncode == 0
    passed = invoke(oxi_repo, "news", "--check")  # an untracked fragment counts
    assert passed.returncode == 0, passed.stderr
    assert "oxi-core: 1 news fragment(s) since oxi-core-v0.1.0a1" in passed.stdout


def test_check_ignores_tests_docs_and_other_packages(oxi_repo: Path) -> None:
    tag_release(oxi_repo)
    (oxi_repo / "tests/test_more.py").write_text("def test_more() -> None:\n    pass\n")
    (oxi_repo / "adapters/_reference/src/oxi_adapter_reference/extra.py").write_text("X = 1\n")
    git(oxi_repo, "add", "-A")
    git(oxi_repo, "commit", "-qm", "tests and the adapter")
    result = invoke(oxi_repo, "news", "--check", "--package", "oxi-core")
    assert result.returncode == 0, result.stderr
    assert "no source changes" in result.stdout
    adapter = invoke(oxi_repo, "news", "--check", "--base", "HEAD~1")
    assert adapter.returncode == 1
    assert "oxi-adapter-reference (1 file(s) since HEAD~1" in adapter.stderr
    assert "oxi-core" not in adapter.stderr.splitlines()[0]


def test_check_against_a_base_branch_counts_only_this_branch(oxi_repo: Path) -> None:
    git(oxi_repo, "checkout", "-qb", "feature")
    cli = oxi_repo / "src/oxi_core/cli.py"
    cli.write_text(cli.read_text() + "\n# feature\n")
    git(oxi_repo, "commit", "-qam", "feature")
    git(oxi_repo, "checkout", "-q", "main")
    (oxi_repo / "src/oxi_core/extra.py").write_text("Y = 2\n")
    git(oxi_repo, "add", "-A")
    git(oxi_repo, "commit", "-qm", "main moves on")
    git(oxi_repo, "checkout", "-q", "feature")
    result = invoke(oxi_repo, "news", "--check", "--base", "main", "--package", "oxi-core")
    assert result.returncode == 1
    assert "'src/oxi_core/cli.py'" in result.stderr and "extra.py" not in result.stderr
    bad_ref = invoke(oxi_repo, "news", "--check", "--base", "no-such-ref")
    assert bad_ref.returncode == 1 and "hint: " in bad_ref.stderr
    assert "Traceback" not in bad_ref.stderr


def test_a_bump_passes_the_check(oxi_repo: Path) -> None:
    tag_release(oxi_repo)
    assert invoke(oxi_repo, "news", "Something", "--type", "fixed").returncode == 0
    assert invoke(oxi_repo, "bump", "--pre", "--package", "oxi-core").returncode == 0
    git(oxi_repo, "add", "-A")
    git(oxi_repo, "commit", "-qm", "bump")  # the version moved, the fragment was collected
    result = invoke(oxi_repo, "news", "--check", "--package", "oxi-core")
    assert result.returncode == 0, result.stderr
    assert "release notes edited since oxi-core-v0.1.0a1" in result.stdout


def test_check_refuses_a_misnamed_fragment(oxi_repo: Path) -> None:
    (oxi_repo / "changes").mkdir()
    (oxi_repo / "changes/12.fix.md").write_text("x\n")
    result = invoke(oxi_repo, "news", "--check")
    assert result.returncode == 1
    assert "'changes/12.fix.md': 'fix' is not a news type (did you mean 'fixed'?)" in result.stderr


# --- invoke notes --from-commits ---------------------------------------------------------------


def commit_change(
    repo: Path, subject: str, body: str = "", path: str = "src/oxi_core/cli.py"
) -> None:
    target = repo / path
    target.write_text(target.read_text() + f"\n# {subject}\n")
    message = subject + (f"\n\n{body}" if body else "")
    git(repo, "commit", "-qam", message)


def test_notes_from_commits_groups_conventional_subjects(oxi_repo: Path) -> None:
    git(oxi_repo, "commit", "-q", "--allow-empty", "-m", "feat: before the tag")
    tag_release(oxi_repo)
    commit_change(oxi_repo, "feat(cli): a --json flag")
    commit_change(oxi_repo, "fix: the version is printed")
    commit_change(oxi_repo, "refactor!: drop the old entry point")
    commit_change(oxi_repo, "feat: config file", "BREAKING CHANGE: the old file is ignored")
    commit_change(oxi_repo, "docs: typo")
    commit_change(oxi_repo, "an unconventional subject")
    commit_change(
        oxi_repo,
        "fix: adapter only",
        path="adapters/_reference/src/oxi_adapter_reference/__init__.py",
    )
    assert invoke(oxi_repo, "bump", "--pre", "--package", "oxi-core").returncode == 0
    dry = invoke(oxi_repo, "notes", "--from-commits", "--dry")
    assert dry.returncode == 0, dry.stderr
    assert "4 of 6 commit(s) since oxi-core-v0.1.0a1" in dry.stdout
    stub = (oxi_repo / "docs/release-notes/v0.1.0a2.md").read_text()
    assert "_Describe the changes" in stub  # --dry wrote nothing
    result = invoke(oxi_repo, "notes", "--from-commits")
    assert result.returncode == 0, result.stderr
    assert (oxi_repo / "docs/release-notes/v0.1.0a2.md").read_text() == textwrap.dedent(
        """\
        # oxi-core 0.1.0a2

        ## Added

        - cli: a --json flag
        - **Breaking:** config file

        ## Changed

        - **Breaking:** drop the old entry point

        ## Fixed

        - the version is printed
        """
    )
    again = invoke(oxi_repo, "notes", "--from-commits")
    assert again.returncode == 1 and "already written" in again.stderr


def test_notes_from_commits_without_conventional_commits(oxi_repo: Path) -> None:
    tag_release(oxi_repo)
    commit_change(oxi_repo, "Change things")
    before = repo_state(oxi_repo)
    result = invoke(oxi_repo, "notes", "--from-commits", "--version", "0.2.0")
    assert result.returncode == 1
    assert "no conventional commit touching oxi-core since oxi-core-v0.1.0a1" in result.stderr
    assert "hint: " in result.stderr and "Traceback" not in result.stderr
    assert repo_state(oxi_repo) == before


# --- the core, directly ----------------------------------------------------------------------


def test_fragment_names_follow_towncrier(tmp_path: Path) -> None:
    package = package_at(tmp_path)
    first = plan_fragment(package, "Fix it", "Fixed", issue=5)
    assert first.path == tmp_path / "changes/5.fixed.md" and first.after == "Fix it\n"
    apply_edits([first])
    assert plan_fragment(package, "Again", "fixed", issue=5).path.name == "5.fixed.1.md"
    long = plan_fragment(
        package, "A very long sentence; with: punctuation!! and more words here", "added"
    )
    assert long.path.name == "+a-very-long-sentence-with-punctuation-an.added.md"
    with pytest.raises(NewsError, match="positive"):
        plan_fragment(package, "x", "added", issue=0)


def test_read_fragments_orders_by_type_then_issue_and_skips_readme(tmp_path: Path) -> None:
    package = package_at(tmp_path, 'news-dir = "news"')
    news = tmp_path / "news"
    news.mkdir()
    for name in ["20.fixed.md", "3.fixed.md", "+x.fixed.md", "1.security", "README.md", ".gitkeep"]:
        (news / name).write_text(f"{name}\n")
    found = read_fragments(package)
    assert [f.path.name for f in found] == [
        "3.fixed.md",
        "20.fixed.md",
        "+x.fixed.md",
        "1.security",
    ]
    assert [f.item for f in found][:1] == ["- 3.fixed.md (#3)"]


def test_multiline_fragment_is_one_list_item(tmp_path: Path) -> None:
    package = package_at(tmp_path)
    apply_edits([plan_fragment(package, "- First line\nsecond line\n", "added", issue=9)])
    (fragment,) = read_fragments(package)
    assert fragment.item == "- First line\n  second line (#9)"


def test_empty_fragment_is_an_error(tmp_path: Path) -> None:
    package = package_at(tmp_path)
    (tmp_path / "changes").mkdir()
    (tmp_path / "changes/4.added.md").write_text("\n")
    with pytest.raises(NewsError, match="is empty"):
        read_fragments(package)


def test_collect_into_a_filled_notes_file_appends_and_merges(tmp_path: Path) -> None:
    package = package_at(tmp_path)
    notes = tmp_path / "docs/release-notes/v1.1.0.md"
    notes.parent.mkdir(parents=True)
    notes.write_bytes(b"# demo 1.1.0\r\n\r\nIntro.\r\n\r\n## Fixed\r\n\r\n- By hand.\r\n")
    (tmp_path / "changes").mkdir()
    (tmp_path / "changes/1.fixed.md").write_text("From a fragment\n")
    (tmp_path / "changes/2.added.md").write_text("New\n")
    edits = plan_collect_news(package, Version("1.1.0"), today=TODAY)
    apply_edits(edits)
    assert notes.read_bytes() == (
        b"# demo 1.1.0\r\n\r\nIntro.\r\n\r\n## Fixed\r\n\r\n- By hand.\r\n"
        b"- From a fragment (#1)\r\n\r\n## Added\r\n\r\n- New (#2)\r\n"
    )
    assert notes_state(package, Version("1.1.0")) == "filled"
    assert not any((tmp_path / "changes").iterdir())


def test_no_fragments_no_edits(tmp_path: Path) -> None:
    package = package_at(tmp_path)
    assert plan_collect_news(package, Version("1.1.0")) == []
    assert plan_entry_groups(package, Version("1.1.0"), {}, reason="x") == []
