"""invoke tasks that edit the repository: bump, notes, news, tag, untag, status, rollback.

Use from a project's ``tasks.py``::

    from releasekit.invoke import ns

Each task parses its flags, calls releasekit's core and prints what it did.
A :class:`~releasekit.errors.ReleaseError` becomes one error line, one hint
line and a non-zero exit (:class:`invoke.Exit`); ``--debug`` on invoke (or
``RELEASEKIT_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.parser.argument import Argument
from invoke.tasks import Task
from invoke.tasks import task as invoke_task
from packaging.version import Version

from releasekit import console, git
from releasekit._text import shown_path
from releasekit.bump import apply_version_changes, plan_bumps, uv_lock_path
from releasekit.edits import apply_edits
from releasekit.errors import NewsError, ReleaseError, TagError, VersionError
from releasekit.news import (
    NEWS_TYPES,
    check_news,
    news_dir,
    plan_fragment,
    plan_notes_from_commits,
    render_groups,
)
from releasekit.notes import notes_location, notes_state, notes_style, plan_notes, require_notes
from releasekit.report import format_status
from releasekit.session_names import nox_command, use_noxfile
from releasekit.status import package_status
from releasekit.version_source import (
    find_version_source,
    read_version,
    tagged_versions,
    version_to_release,
)
from releasekit.versions import BumpRequest, is_final, parse_version
from releasekit.workspace import Package, Workspace, load_workspace

__all__ = ["bump", "news", "notes", "ns", "rollback", "status", "tag", "untag", "workflow"]

F = TypeVar("F", bound=Callable[..., Any])


def _debug() -> bool:
    return bool(os.environ.get("RELEASEKIT_DEBUG")) or logging.getLogger().isEnabledFor(
        logging.DEBUG
    )


class _Task(Task[Any]):
    """A task with ``-q/--quiet`` and ``-v/--verbose`` (read by :func:`reports_errors`)."""

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        return [
            *super().get_arguments(ignore_unknown_help),
            Argument(names=("quiet", "q"), kind=bool, default=False, help=_QUIET),
            Argument(names=("verbose", "v"), kind=bool, default=False, help=_VERBOSE),
        ]


_QUIET = "print only errors and the last line (what to do next)"
_VERBOSE = "also print every command run (git, uv)"
task = functools.partial(invoke_task, klass=_Task)


def reports_errors(body: F) -> F:
    """Turn a ReleaseError into invoke's clean exit: message, hint, exit code 1.

    With ``--quiet`` only the last line the task prints is shown (errors always).
    """

    @functools.wraps(body)
    def wrapper(*args: Any, quiet: bool = False, verbose: bool = False, **kwargs: Any) -> Any:
        level = console.QUIET if quiet else console.VERBOSE if verbose else console.NORMAL
        console.show_progress(sys.stderr, debug=_debug(), verbosity=level)
        shown = io.StringIO() if quiet and not kwargs.get("json") else None
        try:
            with contextlib.redirect_stdout(shown) if shown else contextlib.nullcontext():
                return body(*args, **kwargs)
        except ReleaseError as exc:
            if _debug():
                raise
            console.say(f"error: {exc.render()}", sys.stderr)
            raise Exit(code=1) from None
        except KeyboardInterrupt:
            raise Exit("interrupted: nothing was left half-written", code=130) from None
        finally:
            if shown is not None and shown.getvalue().strip():
                print(shown.getvalue().strip().splitlines()[-1])

    return wrapper  # type: ignore[return-value]


def _workspace() -> Workspace:
    workspace = load_workspace()
    use_noxfile(workspace.root)  # hints name the sessions as the noxfile registers them
    return workspace


def _package(workspace: Workspace, package: str | None) -> Package:
    return workspace.get(package) if package else workspace.default_package()


@task(
    optional=["pre"],
    iterable=["package"],
    auto_shortflags=False,
    help={
        "major": "next major (or finalize a X.0.0 pre-release)",
        "minor": "next minor (or finalize a X.Y.0 pre-release)",
        "patch": "next patch (or finalize a X.Y.Z pre-release)",
        "pre": "pre-release: alone increments (a1 -> a2); 'a', 'b' or 'rc' moves the phase",
        "post": "post-release: 1.0.0 -> 1.0.0.post1",
        "dev": "dev release: 1.0.0 -> 1.0.1.dev1, 1.0.1.dev1 -> 1.0.1.dev2",
        "final": "drop pre/dev/post: 1.0.0rc2 -> 1.0.0",
        "to": "an explicit version (PEP 440)",
        "package": "distribution name or path (repeatable; default: the package you are in)",
        "all": "every package of the workspace (a lockstep bump)",
        "with_dependents": "also bump the siblings that pin a bumped package with == "
        "(next patch, or next pre-release number)",
        "dry": "print what would change, write nothing",
    },
)
@reports_errors
def bump(
    c: Context,
    major: bool = False,
    minor: bool = False,
    patch: bool = False,
    pre: Any = None,
    post: bool = False,
    dev: bool = False,
    final: bool = False,
    to: str | None = None,
    package: list[str] | None = None,
    all: bool = False,  # the flag is --all, as in the nox sessions
    with_dependents: bool = False,
    dry: bool = False,
) -> None:
    """Bump versions at their source, sibling pins, notes and uv.lock, all or nothing."""
    workspace = _workspace()
    if all:
        chosen = workspace.select(all_packages=True)
    elif package:
        chosen = workspace.select(package)
    else:
        chosen = [workspace.default_package()]
    pre_value: str | None
    if pre is None or pre is False:
        pre_value = None
    elif pre is True:
        pre_value = ""
    else:
        pre_value = str(pre)
    request = BumpRequest(
        major=major,
        minor=minor,
        patch=patch,
        pre=pre_value,
        post=post,
        dev=dev,
        final=final,
        to=to,
    )
    changes = plan_bumps(workspace, chosen, request, with_dependents=with_dependents)
    lines = [line for change in changes for line in change.describe()]
    lock = uv_lock_path(workspace)
    if dry:
        print("dry run, nothing written:")
        print("\n".join(lines))
        if lock is not None:
            print(f"  would refresh {shown_path(lock, workspace.root)} (uv lock)")
        return
    done = apply_version_changes(workspace, changes)
    print("\n".join(lines))
    for line in done:
        print(f"  {line}")
    files = {edit.path for change in changes for edit in change.edits}
    if lock is not None and done and done[0].startswith("refreshed"):
        files.add(lock)
    tag_driven = [change for change in changes if change.notes_only_tag]
    for change in tag_driven:
        _tag_the_bump(workspace, change.package, change.new, len(files))
    if files and len(tag_driven) < len(changes):
        names = " ".join(change.package.name for change in changes)
        print(f"next: review, commit ({len(files)} files), then `{nox_command('release', names)}`")


def _tag_the_bump(workspace: Workspace, package: Package, new: Version, edits: int) -> None:
    """A version taken from git tags: make the tag now, or say the one command that does."""
    name = package.tag(str(new))
    command = f"invoke tag --package {package.name} --version {new}"
    if edits or git.dirty_paths(workspace.root):
        print(
            f"next: review and commit{f' ({edits} files)' if edits else ''}, "
            f"then make the tag {name!r}: {command}"
        )
        return
    git.create_tag(workspace.root, name, f"Release {package.name} {new}")
    print(
        f"created tag {name} at HEAD: {package.name} is now {new}; "
        f"next: `{nox_command('release', package.name)}`"
    )


@task(
    auto_shortflags=False,
    help={
        "version": "the version (default: the version at source)",
        "package": "distribution name or path (default: the package you are in)",
        "check": "fail if the entry is missing or still the untouched stub",
        "from_commits": "draft the entry from conventional-commit subjects since the last tag",
        "dry": "print what would be created, write nothing",
    },
)
@reports_errors
def notes(
    c: Context,
    version: str | None = None,
    package: str | None = None,
    check: bool = False,
    from_commits: bool = False,
    dry: bool = False,
) -> None:
    """Create (or --check) the release-notes entry for a version."""
    workspace = _workspace()
    chosen = _package(workspace, package)
    wanted = parse_version(version) if version else read_version(chosen)
    where = shown_path(notes_location(chosen, wanted), workspace.root)
    if from_commits:
        draft, drafted = plan_notes_from_commits(workspace, chosen, wanted)
        since = f"since {draft.since}" if draft.since else "since the first commit"
        summary = (
            f"{chosen.name} {wanted}: {draft.commits - draft.left_out} of {draft.commits} "
            f"commit(s) {since} drafted"
        )
        if dry:
            style, _template = notes_style(chosen)
            print(f"dry run, nothing written: {summary}; would write {where}:")
            print(render_groups(draft.groups, level=3 if style == "changelog" else 2), end="")
            return
        apply_edits(drafted)
        print(f"wrote {where}: {summary}; review and edit it, then commit")
        return
    if check:
        require_notes(chosen, wanted)
        print(f"{chosen.name} {wanted}: release notes filled in {where}")
        return
    edits = plan_notes(chosen, wanted)
    if not edits:
        print(f"{chosen.name} {wanted}: release notes already in {where}")
        return
    if dry:
        print(f"dry run: would write {where} ({edits[0].reason})")
        return
    apply_edits(edits)
    if notes_state(chosen, wanted) == "filled":
        print(f"wrote {where}: {edits[0].reason}")
    else:
        print(f"wrote {where}: fill it in, then `invoke notes --check --version {wanted}`")


class _TextUnlessCheck(Argument):
    """``invoke news``'s TEXT: positional, yet not wanted with ``--check``.

    invoke has no optional positional arguments; a positional argument is
    missing while its value is None.  This one counts as given ("") once
    ``--check`` is set, so ``invoke news --check`` parses.
    """

    check: Argument

    @property
    def value(self) -> Any:
        if self._value is None and self.check.value:
            return ""
        return self._value if self._value is not None else self.default

    @value.setter
    def value(self, arg: Any) -> None:
        self.set_value(arg, cast=True)


class _NewsTask(_Task):
    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        args: list[Argument] = super().get_arguments(ignore_unknown_help)
        by_name = {arg.name: arg for arg in args}
        text = by_name["text"]
        text.__class__ = _TextUnlessCheck  # same fields; only `value` reads --check too
        assert isinstance(text, _TextUnlessCheck)  # noqa: S101 - for the type checker
        text.check = by_name["check"]
        return args


@task(
    klass=_NewsTask,
    positional=["text"],
    auto_shortflags=False,
    help={
        "text": "what changed, in one line, for users (Markdown)",
        "type": f"the kind of change: {', '.join(NEWS_TYPES)}",
        "package": "distribution name or path (default: the package you are in)",
        "issue": "the issue or pull request number (default: a fragment without one)",
        "check": "fail when a package's source changed since its last tag with no new fragment",
        "base": "with --check: compare with this git ref instead of each package's last tag",
        "dry": "print the fragment that would be written",
    },
)
@reports_errors
def news(
    c: Context,
    text: str | None = None,
    type_: str | None = None,
    package: str | None = None,
    issue: str | None = None,
    check: bool = False,
    base: str | None = None,
    dry: bool = False,
) -> None:
    """Write a news fragment (bump collects them into the notes); --check for CI."""
    workspace = _workspace()
    if check:
        chosen = [workspace.get(package)] if package else workspace.select(all_packages=True)
        for result in check_news(workspace, chosen, base=base):
            print(result.describe())
        return
    chosen_one = _package(workspace, package)
    if not type_:
        raise NewsError(
            "a news fragment needs a type (--type)",
            f'invoke news "{text or "..."}" --type TYPE, TYPE one of: {", ".join(NEWS_TYPES)}',
        )
    number: int | None = None
    if issue is not None:
        if not issue.strip().lstrip("#").isdigit():
            raise NewsError(
                f"--issue must be an issue number, not {issue!r}",
                "give the number only (--issue 123), or leave --issue out",
            )
        number = int(issue.strip().lstrip("#"))
    edit = plan_fragment(chosen_one, text or "", type_, issue=number)
    where = shown_path(edit.path, workspace.root)
    if dry:
        print(f"dry run: would write {where}:")
        print(edit.after, end="")
        return
    apply_edits([edit])
    folder = shown_path(news_dir(chosen_one), workspace.root)
    print(f"wrote {where}: `invoke bump` collects {folder}/ into the next release notes")


@task(
    auto_shortflags=False,
    help={
        "package": "distribution name or path (default: the package you are in)",
        "version": "must equal the version at source (default: that version); "
        "for versions from git tags, the next version",
        "push": "also push the tag to the remote",
        "remote": "remote to push to (default: origin)",
        "dry": "print the tag that would be made",
    },
)
@reports_errors
def tag(
    c: Context,
    package: str | None = None,
    version: str | None = None,
    push: bool = False,
    remote: str = "origin",
    dry: bool = False,
) -> None:
    """Make the annotated release tag (per tag-format) at HEAD; --push to publish it.

    For a version taken from git tags (setuptools-scm, hatch-vcs...), the tag
    *is* the bump: ``--version`` may name the next version.
    """
    workspace = _workspace()
    chosen = _package(workspace, package)
    tag_driven = find_version_source(chosen).kind == "tag"
    if tag_driven and version is not None:
        current = parse_version(version)
        tagged = tagged_versions(chosen)
        if tagged and current < tagged[-1]:
            raise VersionError(
                f"{chosen.name} {current} is below its latest tag ({tagged[-1]}): "
                "tags only move forward",
                f"name a version above {tagged[-1]}, e.g. invoke bump --patch",
            )
    else:
        current = version_to_release(chosen, parse_version(version) if version else None)
    name = chosen.tag(str(current))
    if dry:
        print(f"dry run: would tag {name!r} at {git.head(workspace.root)[:12]}")
        return
    try:
        made = git.create_tag(workspace.root, name, f"Release {chosen.name} {current}")
    except TagError as exc:
        if not tag_driven:
            raise
        raise TagError(
            exc.message,
            f"{chosen.name}'s version comes from git tags: `invoke bump --patch` (or --minor, "
            "--major, --pre) makes the next one",
        ) from None
    print(f"{'created' if made else 'already there:'} tag {name}")
    if push:
        pushed = git.push_tag(workspace.root, name, remote)
        print(f"{'pushed' if pushed else 'already on'} {remote}: {name}")


@task(
    auto_shortflags=False,
    help={
        "package": "distribution name or path (default: the package you are in)",
        "version": "the pre-release whose tag to delete (default: the version at source)",
        "remote": "remote to delete it from too (default: origin; '' for local only)",
        "dry": "print what would be deleted",
    },
)
@reports_errors
def untag(
    c: Context,
    package: str | None = None,
    version: str | None = None,
    remote: str = "origin",
    dry: bool = False,
) -> None:
    """Delete a pre-release tag locally and on the remote; refuses a final release's tag."""
    workspace = _workspace()
    chosen = _package(workspace, package)
    wanted = parse_version(version) if version else read_version(chosen)
    name = chosen.tag(str(wanted))
    if is_final(wanted):
        raise TagError(
            f"{name!r} tags the final release {wanted}: final tags are never deleted or moved",
            f"roll forward instead: invoke rollback {chosen.name} {wanted}",
        )
    if dry:
        print(f"dry run: would delete {name!r} locally and on {remote or 'no remote'}")
        return
    done = git.delete_tag(workspace.root, name, remote or None)
    if not done:
        raise TagError(
            f"there is no tag {name!r} here or on {remote!r}: nothing was deleted",
            "check the name with `git tag -l` and `invoke status` (tag-format, --package)",
        )
    print(f"deleted {name} ({', '.join(done)})")


@task(
    auto_shortflags=False,
    iterable=["index"],
    help={
        "package": "only this package (default: every package)",
        "index": "also show the latest version on this index (repeatable: pypi, testpypi, NAME)",
        "json": "one JSON document on stdout (the tables go to stderr)",
    },
)
@reports_errors
def status(
    c: Context, package: str | None = None, index: list[str] | None = None, json: bool = False
) -> None:
    """A table per package: version, literals, tag, notes, indexes, sibling pins, next action."""
    from releasekit.output import error_document, status_document

    try:
        workspace = _workspace()
        packages = [workspace.get(package)] if package else workspace.select(all_packages=True)
        indexes = [workspace.config.index(name) for name in (index or [])]
        states = [package_status(workspace, item, indexes=indexes) for item in packages]
    except ReleaseError as exc:
        if json:
            print(_dumps(error_document("status", exc)))
        raise
    loops = workspace.sibling_loops() if not package else []
    print(format_status(states, loops), file=sys.stderr if json else sys.stdout)
    if json:
        print(_dumps(status_document(states)))


def _dumps(doc: dict[str, Any]) -> str:
    import json as json_module

    return json_module.dumps(doc, indent=2)


@task(
    auto_shortflags=False,
    help={
        "security": "a security regression or secret exposure (yank path)",
        "data_loss": "the release loses or corrupts data (yank path)",
        "user_visible": "a bug users hit in normal use: crash, wrong output, broken install",
        "cosmetic": "cosmetic or edge case: an errata note may be enough",
        "reason": "one line saying what is wrong (recorded in the notes, yank reason)",
        "from_good": "re-release this good version's code under the new number",
        "to": "the new version (default: next pre-release number, else next patch)",
        "index": "also read this index to see what was released (pypi, testpypi, NAME)",
        "delete_tag": "refused: a rollback never deletes tags (roll forward instead)",
        "dry": "print the decision and the plan, change nothing",
    },
)
@reports_errors
def rollback(
    c: Context,
    package: str,
    bad_version: str,
    security: bool = False,
    data_loss: bool = False,
    user_visible: bool = False,
    cosmetic: bool = False,
    reason: str | None = None,
    from_good: str | None = None,
    to: str | None = None,
    index: str | None = None,
    delete_tag: bool = False,
    dry: bool = False,
) -> None:
    """Decide yank or republish for a bad release, then prepare the roll-forward (never deletes)."""
    from releasekit.rollback import apply_rollback, assess, plan_rollback

    workspace = _workspace()
    chosen = workspace.get(package)
    interactive = sys.stdin.isatty() and not os.environ.get("CI")
    assessment = assess(
        security=security,
        data_loss=data_loss,
        user_visible=user_visible,
        cosmetic=cosmetic,
        reason=reason,
        ask=input if interactive else None,
    )
    plan = plan_rollback(
        workspace,
        chosen,
        parse_version(bad_version),
        assessment,
        to=parse_version(to) if to else None,
        from_good=parse_version(from_good) if from_good else None,
        index=workspace.config.index(index) if index else None,
        delete_tag=delete_tag,
    )
    print("\n".join(plan.describe()))
    if dry:
        print("dry run: nothing changed")
        return
    for line in apply_rollback(workspace, plan):
        print(line)


@task(
    auto_shortflags=False,
    help={
        "check": "write nothing; fail if the file differs from what would be written",
    },
)
@reports_errors
def workflow(c: Context, check: bool = False) -> None:
    """Write .github/workflows/release.yml from [tool.releasekit]; --check fails on drift."""
    from releasekit.workflow import check_workflow, write_workflow

    workspace = _workspace()
    if check:
        path = check_workflow(workspace)
        print(f"{shown_path(path, workspace.root)} is up to date")
        return
    path, changed = write_workflow(workspace)
    where = shown_path(path, workspace.root)
    print(f"wrote {where}" if changed else f"{where} is already up to date")


ns = Collection("releasekit", bump, notes, news, tag, untag, status, rollback, workflow)
