"""git helpers on real repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasekit import git as rkgit
from releasekit.errors import DirtyWorkingTree, GitError, TagError
from tests.conftest import git


def test_clean_and_dirty(oxi_repo: Path) -> None:
    rkgit.require_clean(oxi_repo)
    (oxi_repo / "untracked.txt").write_text("x")
    (oxi_repo / "README.md").write_text("changed")
    assert sorted(rkgit.dirty_paths(oxi_repo)) == ["README.md", "untracked.txt"]
    with pytest.raises(DirtyWorkingTree, match=r"untracked\.txt") as info:
        rkgit.require_clean(oxi_repo)
    assert "commit or stash" in info.value.hint


def test_ignored_files_do_not_count(oxi_repo: Path) -> None:
    (oxi_repo / "dist").mkdir()
    (oxi_repo / "dist" / "x.whl").write_text("x")
    assert rkgit.dirty_paths(oxi_repo) == []


def test_branch_and_detached(oxi_repo: Path) -> None:
    assert rkgit.current_branch(oxi_repo) == "main"
    git(oxi_repo, "checkout", "-q", "--detach")
    assert rkgit.current_branch(oxi_repo) is None


def test_annotated_tag_push_and_idempotence(oxi_repo: Path) -> None:
    head = rkgit.head(oxi_repo)
    assert rkgit.create_tag(oxi_repo, "oxi-core-v0.1.0a1", "Release oxi-core 0.1.0a1")
    assert not rkgit.create_tag(oxi_repo, "oxi-core-v0.1.0a1", "again")  # already there
    assert rkgit.tag_target(oxi_repo, "oxi-core-v0.1.0a1") == head
    assert git(oxi_repo, "cat-file", "-t", "oxi-core-v0.1.0a1") == "tag"  # annotated
    assert rkgit.remote_tag_target(oxi_repo, "oxi-core-v0.1.0a1") is None
    assert rkgit.push_tag(oxi_repo, "oxi-core-v0.1.0a1")
    assert rkgit.remote_tag_target(oxi_repo, "oxi-core-v0.1.0a1") == head
    assert not rkgit.push_tag(oxi_repo, "oxi-core-v0.1.0a1")  # already on the remote


def test_taken_tag_is_never_moved(oxi_repo: Path) -> None:
    rkgit.create_tag(oxi_repo, "v1", "one")
    (oxi_repo / "new.txt").write_text("x")
    git(oxi_repo, "add", "new.txt")
    git(oxi_repo, "commit", "-qm", "more")
    with pytest.raises(TagError, match="already exists"):
        rkgit.create_tag(oxi_repo, "v1", "one")


def test_delete_tag_locally_and_remote(oxi_repo: Path) -> None:
    rkgit.create_tag(oxi_repo, "oxi-core-v0.1.0a1", "x")
    rkgit.push_tag(oxi_repo, "oxi-core-v0.1.0a1")
    assert rkgit.delete_tag(oxi_repo, "oxi-core-v0.1.0a1") == ["local", "origin"]
    assert rkgit.tag_target(oxi_repo, "oxi-core-v0.1.0a1") is None
    assert rkgit.remote_tag_target(oxi_repo, "oxi-core-v0.1.0a1") is None


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not inside a git repository"):
        rkgit.repo_root(tmp_path)


@pytest.mark.parametrize(
    "tag",
    [
        "v1.0.0", "oxi-core-v0.1.0a1", "pkg/v1.0", "oxi core v1.0", "v1..0", "v1.0.", "a~b",
        "a^b", "a:b", "a?b", "a*b", "a[b", "a\\b", "a@{b", "@", ".hidden", "x/.y", "v1.lock",
        "a//b", "/a", "a/", "tab\there", "",
    ],
)  # fmt: skip
def test_tag_name_rules_agree_with_git_check_ref_format(oxi_repo: Path, tag: str) -> None:
    """The check made at config load (no git) says what `git check-ref-format` says."""
    problem = rkgit.tag_name_problem(tag)
    if problem is None:
        rkgit.check_tag_name(oxi_repo, tag)
    else:
        with pytest.raises(TagError, match="is not a valid git tag name") as info:
            rkgit.check_tag_name(oxi_repo, tag)
        assert problem in info.value.message
        assert "tag-format" in info.value.hint


def test_push_dry_run_asks_the_remote_and_sends_nothing(oxi_repo: Path) -> None:
    bare = oxi_repo.parent / "oxi-origin.git"
    rkgit.push_tag_dry_run(oxi_repo, "oxi-core-v0.1.0a1", "origin")
    assert git(bare, "tag", "-l") == ""  # asked, nothing sent
    git(oxi_repo, "remote", "set-url", "origin", str(oxi_repo.parent / "nowhere.git"))
    with pytest.raises(TagError, match=r"remote 'origin' would not take tag 'oxi-core-v0\.1\.0a1'"):
        rkgit.push_tag_dry_run(oxi_repo, "oxi-core-v0.1.0a1", "origin")
    assert rkgit.has_remote(oxi_repo, "origin")
    git(oxi_repo, "remote", "remove", "origin")
    assert not rkgit.has_remote(oxi_repo, "origin")


def test_identity_problem_without_user_name(
    oxi_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert rkgit.identity_problem(oxi_repo) is None
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("EMAIL", "")
    git_config = Path(str(oxi_repo.parent / "empty-gitconfig"))
    git_config.write_text("[user]\n\tuseConfigOnly = true\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(git_config))
    assert rkgit.identity_problem(oxi_repo) is not None


def test_restore_from_a_tag_in_a_new_commit(oxi_repo: Path) -> None:
    """What `invoke rollback --from-good` does with git: diff, read, restore, commit."""
    git(oxi_repo, "tag", "-a", "-m", "good", "good")
    readme = oxi_repo / "README.md"
    good_readme = readme.read_text()
    readme.write_text("changed\n")
    (oxi_repo / "added.txt").write_text("new\n")
    git(oxi_repo, "rm", "-q", "tasks.py")
    git(oxi_repo, "add", "-A")
    git(oxi_repo, "commit", "-qm", "bad")

    changes = rkgit.diff_status(oxi_repo, "refs/tags/good", ["."])
    assert sorted(changes) == [("A", "added.txt"), ("D", "tasks.py"), ("M", "README.md")]
    assert rkgit.file_at(oxi_repo, "refs/tags/good", "README.md") == good_readme  # unstripped
    assert rkgit.paths_at(oxi_repo, "refs/tags/good", ["README.md", "added.txt"]) == {"README.md"}

    before = rkgit.head(oxi_repo)
    commit = rkgit.restore_from(
        oxi_repo, "refs/tags/good", [path for _status, path in changes], "restore good"
    )
    assert commit != before and rkgit.head(oxi_repo) == commit
    assert git(oxi_repo, "log", "-1", "--format=%s") == "restore good"
    assert readme.read_text() == good_readme
    assert (oxi_repo / "tasks.py").is_file() and not (oxi_repo / "added.txt").exists()
    assert rkgit.diff_status(oxi_repo, "refs/tags/good", ["."]) == []
    assert rkgit.dirty_paths(oxi_repo) == []


def test_a_refused_restore_commit_leaves_the_tree_as_head_has_it(oxi_repo: Path) -> None:
    git(oxi_repo, "tag", "-a", "-m", "good", "good")
    (oxi_repo / "README.md").write_text("changed\n")
    git(oxi_repo, "commit", "-qam", "bad")
    head = rkgit.head(oxi_repo)
    hook = oxi_repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'hook says no' >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(GitError, match="hook says no"):
        rkgit.restore_from(oxi_repo, "refs/tags/good", ["README.md"], "restore good")
    assert rkgit.head(oxi_repo) == head
    assert (oxi_repo / "README.md").read_text() == "changed\n"
    assert rkgit.dirty_paths(oxi_repo) == []


def test_intend_to_add_makes_new_files_part_of_commit_a(oxi_repo: Path) -> None:
    (oxi_repo / "new.md").write_text("notes\n")
    rkgit.intend_to_add(oxi_repo, [])  # nothing to mark: no git run, no error
    rkgit.intend_to_add(oxi_repo, [str(oxi_repo / "new.md")])
    git(oxi_repo, "commit", "-qam", "with the new file")
    assert git(oxi_repo, "ls-files", "new.md") == "new.md"


def test_tags_outside_a_repository_is_a_git_error_with_the_hint(tmp_path: Path) -> None:
    with pytest.raises(GitError) as info:
        rkgit.tags(tmp_path, hint="run it inside the clone")
    assert info.value.hint == "run it inside the clone"
