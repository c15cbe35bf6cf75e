"""Every git command releasekit runs: clean tree, branch, tags, push, history, restores.

Everything runs ``git`` through :func:`releasekit._process.run`; git's own
refusals become :class:`~releasekit.errors.GitError` (or a subclass) with a
hint.  No other module builds a git command line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from releasekit._process import run
from releasekit.errors import CommandFailed, DirtyWorkingTree, GitError, TagError

__all__ = [
    "changed_paths",
    "check_tag_name",
    "commit_messages",
    "commit_time",
    "create_tag",
    "current_branch",
    "delete_tag",
    "diff_status",
    "dirty_paths",
    "file_at",
    "has_remote",
    "head",
    "identity_problem",
    "intend_to_add",
    "last_tag",
    "paths_at",
    "push_tag",
    "push_tag_dry_run",
    "remote_tag_target",
    "remote_url",
    "repo_root",
    "require_clean",
    "reset_hard",
    "restore_from",
    "tag_name_problem",
    "tag_target",
    "tags",
]

_REMOTE_TIMEOUT = 120.0  # seconds for the remote to answer a dry-run push
_REF_FORBIDDEN = set(" ~^:?*[\\\x7f")


def _git(repo: Path, *args: str, what: str = "git", hint: str = "", strip: bool = True) -> str:
    """Run ``git ARGS`` in ``repo``; its output (stripped unless ``strip`` is False).

    A failure is a :class:`GitError` carrying git's message and ``hint``.
    """
    try:
        out = run(["git", *args], cwd=repo, what=what, hint=hint).stdout
    except CommandFailed as exc:
        raise GitError(exc.message, exc.hint) from None
    return out.strip() if strip else out


def reset_hard(repo: Path) -> None:
    """Put every tracked file back as HEAD has it (best effort: never raises)."""
    run(["git", "reset", "-q", "--hard", "HEAD"], cwd=repo, check=False)


def repo_root(path: Path) -> Path:
    """The top of the git work tree holding ``path``."""
    proc = run(["git", "rev-parse", "--show-toplevel"], cwd=path, check=False)
    if proc.returncode != 0:
        raise GitError(
            f"{str(path)!r} is not inside a git repository",
            "releases are made from a git checkout: run `git init` or cd into your clone",
        )
    return Path(proc.stdout.strip())


def dirty_paths(repo: Path) -> list[str]:
    """Modified, staged and untracked (not ignored) paths; empty when clean."""
    try:
        out = run(
            ["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo, what="git status"
        ).stdout
    except CommandFailed as exc:
        raise GitError(exc.message, "run releasekit inside a git checkout") from None
    return [line[3:] for line in out.splitlines() if line.strip()]


def require_clean(repo: Path) -> None:
    """Raise :class:`DirtyWorkingTree` listing what is uncommitted or untracked."""
    paths = dirty_paths(repo)
    if paths:
        shown = ", ".join(repr(p) for p in paths[:5])
        more = f" and {len(paths) - 5} more" if len(paths) > 5 else ""
        raise DirtyWorkingTree(
            f"the working tree is not clean: {shown}{more}",
            "commit or stash these changes (or add them to .gitignore), then run again",
        )


def current_branch(repo: Path) -> str | None:
    """The checked-out branch, or None on a detached HEAD."""
    proc = run(["git", "symbolic-ref", "--quiet", "--short", "HEAD"], cwd=repo, check=False)
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def head(repo: Path) -> str:
    """The commit id of HEAD."""
    return _git(repo, "rev-parse", "HEAD", what="git rev-parse")


def tags(
    repo: Path, pattern: str = "*", *, hint: str = "run releasekit inside the git repository"
) -> list[str]:
    """Local tag names matching the glob ``pattern``; outside a repository, a GitError."""
    return _git(repo, "tag", "--list", pattern, what="git tag --list", hint=hint).split()


def tag_target(repo: Path, tag: str) -> str | None:
    """The commit a local tag points at, or None when there is no such tag."""
    proc = run(
        ["git", "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}"],
        cwd=repo,
        check=False,
    )
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def remote_tag_target(repo: Path, tag: str, remote: str = "origin") -> str | None:
    """The commit ``tag`` points at on ``remote``, or None when the remote lacks it."""
    out = _git(
        repo,
        "ls-remote",
        "--tags",
        remote,
        f"refs/tags/{tag}",
        f"refs/tags/{tag}^{{}}",
        what="git ls-remote",
        hint=f"check that the remote {remote!r} exists and is reachable (`git remote -v`)",
    )
    target = None
    for line in out.splitlines():
        sha, ref = line.split("\t", 1)
        if ref.endswith("^{}") or target is None:
            target = sha
    return target


def create_tag(repo: Path, tag: str, message: str, *, commit: str = "HEAD") -> bool:
    """Make the annotated ``tag`` at ``commit``; False when it already points there.

    A tag that exists at another commit is a :class:`TagError`: tags are never moved.
    """
    wanted = _git(repo, "rev-parse", "--verify", f"{commit}^{{commit}}", what="git rev-parse")
    existing = tag_target(repo, tag)
    if existing == wanted:
        return False
    if existing is not None:
        raise TagError(
            f"tag {tag!r} already exists at {existing[:12]}, not at {wanted[:12]}",
            "a released tag is never moved: bump the version (invoke bump) and release that",
        )
    _git(
        repo,
        "tag",
        "--annotate",
        "--message",
        message,
        tag,
        wanted,
        what="git tag",
        hint="set user.name and user.email in git config (annotated tags need an identity)",
    )
    return True


def push_tag(repo: Path, tag: str, remote: str = "origin") -> bool:
    """Push one tag; False when the remote already has it at the same commit."""
    local = tag_target(repo, tag)
    if local is None:
        raise TagError(f"no local tag {tag!r} to push", "create it first: invoke tag")
    remote_target = remote_tag_target(repo, tag, remote)
    if remote_target == local:
        return False
    if remote_target is not None:
        raise TagError(
            f"tag {tag!r} on {remote!r} points at {remote_target[:12]}, locally at {local[:12]}",
            "tags are never moved: find out which commit was released before doing anything",
        )
    _git(
        repo,
        "push",
        remote,
        f"refs/tags/{tag}",
        what="git push",
        hint=f"check that you may push to {remote!r} (`git remote -v`)",
    )
    return True


def delete_tag(repo: Path, tag: str, remote: str | None = "origin") -> list[str]:
    """Delete ``tag`` locally and on ``remote``; returns where it was deleted."""
    done = []
    if tag_target(repo, tag) is not None:
        _git(repo, "tag", "--delete", tag, what="git tag --delete")
        done.append("local")
    if remote is not None and remote_tag_target(repo, tag, remote) is not None:
        _git(repo, "push", remote, f":refs/tags/{tag}", what="git push --delete")
        done.append(remote)
    return done


def tag_name_problem(tag: str) -> str | None:  # noqa: PLR0911  one return per rule of git check-ref-format, in git's order
    """Why ``refs/tags/<tag>`` is not a valid git ref name, or None (no git needed).

    The rules of ``git check-ref-format``: no space, control character or any
    of ``~^:?*[\\``; no ``..``, ``@{``, ``//``; no component starting with
    ``.`` or ending with ``.lock``; not ending with ``/`` or ``.``.
    """
    if not tag:
        return "it is empty"
    bad = sorted({c for c in tag if c in _REF_FORBIDDEN or ord(c) < 0x20})
    if bad:
        shown = ", ".join("a space" if c == " " else repr(c) for c in bad)
        return f"it contains {shown}"
    for sequence in ("..", "@{", "//"):
        if sequence in tag:
            return f"it contains {sequence!r}"
    if tag.startswith("/") or tag.endswith("/"):
        return "it starts or ends with '/'"
    if tag.endswith("."):
        return "it ends with '.'"
    for part in tag.split("/"):
        if part.startswith("."):
            return f"the part {part!r} starts with '.'"
        if part.endswith(".lock"):
            return f"the part {part!r} ends with '.lock'"
    return None


def check_tag_name(repo: Path, tag: str) -> None:
    """Raise :class:`TagError` unless git accepts ``refs/tags/<tag>`` (``git check-ref-format``)."""
    proc = run(["git", "check-ref-format", f"refs/tags/{tag}"], cwd=repo, check=False)
    if proc.returncode != 0:
        why = tag_name_problem(tag) or "git check-ref-format refuses it"
        raise TagError(
            f"{tag!r} is not a valid git tag name: {why}",
            "change tag-format in [tool.releasekit] (e.g. '{name}-v{version}'): "
            "no spaces, no ~^:?*[\\, no '..'",
        )


def remote_url(repo: Path, remote: str = "origin") -> str | None:
    """The URL of ``remote``, or None when there is no such remote."""
    proc = run(["git", "remote", "get-url", remote], cwd=repo, check=False)
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def has_remote(repo: Path, remote: str) -> bool:
    """Whether ``remote`` is configured in ``repo`` (``git remote``)."""
    return remote in _git(repo, "remote", what="git remote").splitlines()


def push_tag_dry_run(repo: Path, tag: str, remote: str = "origin") -> None:
    """Ask ``remote`` whether it would take ``tag`` (at the tag, else at HEAD); push nothing.

    ``git push --dry-run`` contacts the remote, checks access and the ref, and
    sends nothing.  A refusal is a :class:`TagError` with git's own reason.
    """
    source = f"refs/tags/{tag}" if tag_target(repo, tag) is not None else "HEAD"
    proc = run(
        ["git", "push", "--dry-run", "--porcelain", remote, f"{source}:refs/tags/{tag}"],
        cwd=repo,
        check=False,
        what="git push --dry-run",
        hint=f"check that {remote!r} answers (`git ls-remote {remote}`) and that you may push",
        timeout=_REMOTE_TIMEOUT,
    )
    if proc.returncode != 0:
        said = " ".join((proc.stderr or proc.stdout or "").split())[:300]
        raise TagError(
            f"remote {remote!r} would not take tag {tag!r}: {said or 'git push --dry-run failed'}",
            f"check the remote (`git remote -v`), your access to it, and that no tag {tag!r} "
            "is there already",
        )


def identity_problem(repo: Path) -> str | None:
    """Why git cannot make an annotated tag here (no user.name/user.email), or None."""
    proc = run(["git", "var", "GIT_COMMITTER_IDENT"], cwd=repo, check=False)
    if proc.returncode == 0:
        return None
    return "git has no committer identity (user.name and user.email are unset)"


def commit_time(repo: Path, rev: str = "HEAD") -> int:
    """The committer time of ``rev`` in seconds since the epoch (for SOURCE_DATE_EPOCH)."""
    return int(_git(repo, "log", "-1", "--format=%ct", rev, what="git log"))


def last_tag(repo: Path, pattern: str) -> str | None:
    """The nearest tag reachable from HEAD that matches the glob ``pattern``, or None."""
    proc = run(
        ["git", "describe", "--tags", "--abbrev=0", "--match", pattern, "HEAD"],
        cwd=repo,
        check=False,
    )
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def _merge_base(repo: Path, base: str) -> str:
    return _git(
        repo,
        "merge-base",
        base,
        "HEAD",
        what=f"git merge-base {base}",
        hint=f"check that {base!r} names a commit of this repository (`git log {base}`); "
        "in a shallow CI clone, fetch the history first (`git fetch --unshallow --tags`)",
    )


def changed_paths(repo: Path, base: str) -> list[str]:
    """Paths (relative to ``repo``) changed since ``base``: committed, staged, unstaged, untracked.

    The comparison starts at the merge base of ``base`` and HEAD, so changes
    made on ``base``'s branch after this branch left it do not count.
    Untracked files that are not ignored count as changes.
    """
    since = _merge_base(repo, base)
    diff = _git(repo, "diff", "--name-only", "--relative", since, "--", what="git diff")
    untracked = _git(repo, "ls-files", "--others", "--exclude-standard", what="git ls-files")
    return sorted({*diff.splitlines(), *untracked.splitlines()} - {""})


def commit_messages(
    repo: Path, since: str | None, paths: list[str] | None = None
) -> list[tuple[str, str]]:
    """(subject, body) of each commit reachable from HEAD but not ``since``, newest first.

    ``paths`` (git pathspecs relative to ``repo``) keeps only commits touching them.
    """
    span = f"{since}..HEAD" if since else "HEAD"
    out = _git(
        repo,
        "log",
        "--no-merges",
        "--format=%s%x1f%b%x1e",
        span,
        "--",
        *(paths or ["."]),
        what="git log",
        hint="run it in a checkout with history (`git fetch --unshallow --tags` in CI)",
    )
    messages = []
    for record in out.split("\x1e"):
        if not record.strip():
            continue
        subject, _sep, body = record.strip("\n").partition("\x1f")
        messages.append((subject.strip(), body.strip()))
    return messages


# --- restoring a good release's files (rollback --from-good) ----------------------------------


def diff_status(repo: Path, rev: str, pathspec: Sequence[str]) -> list[tuple[str, str]]:
    """(status, path) of every file under ``pathspec`` that differs between ``rev`` and HEAD.

    Renames count as a removal and an addition.  ``A``: added since ``rev``;
    ``M``/``T``: changed; ``D``: deleted since ``rev``.  Paths are relative to
    the repository root.
    """
    out = _git(
        repo, "diff", "--name-status", "--no-renames", "-z", rev, "HEAD", "--", *pathspec,
        what="git diff", strip=False,
    )  # fmt: skip
    parts = [p for p in out.split("\0") if p]
    return [(parts[i][0], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]


def file_at(repo: Path, rev: str, path: str) -> str:
    """The text of ``path`` (relative to the repository root) as ``rev`` has it."""
    return _git(repo, "show", f"{rev}:{path}", what="git show", strip=False)


def paths_at(repo: Path, rev: str, paths: Sequence[str]) -> set[str]:
    """Which of ``paths`` exist in ``rev``."""
    out = _git(
        repo, "ls-tree", "-r", "-z", "--name-only", rev, "--", *paths,
        what="git ls-tree", strip=False,
    )  # fmt: skip
    return {p for p in out.split("\0") if p}


def restore_from(repo: Path, rev: str, paths: Sequence[str], message: str) -> str:
    """Commit ``paths`` as ``rev`` has them (those absent there are removed); the new commit.

    The tree must be clean before.  On any failure (a hook, no identity, an
    interrupt) every file is put back as HEAD has it and the error is raised.
    """
    present = paths_at(repo, rev, paths)
    checkout = [p for p in paths if p in present]
    remove = [p for p in paths if p not in present]
    try:
        if checkout:
            _git(repo, "checkout", rev, "--", *checkout, what="git checkout")
        if remove:
            _git(repo, "rm", "-q", "--", *remove, what="git rm")
        _git(
            repo, "commit", "-q", "-m", message, what="git commit",
            hint="set user.name and user.email in git config, or fix what the hook reports",
        )  # fmt: skip
    except BaseException:
        reset_hard(repo)  # the tree was clean before: put every file back
        raise
    return head(repo)


def intend_to_add(repo: Path, paths: Sequence[str]) -> None:
    """``git add --intent-to-add``: new files that ``git commit -a`` will take."""
    if paths:
        _git(repo, "add", "--intent-to-add", "--", *paths, what="git add --intent-to-add")
