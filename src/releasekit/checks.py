"""Preflight: every check a release must pass before anything is built or sent.

Each check returns :class:`Finding` objects; :func:`preflight` runs them all
and :func:`require_preflight` reports every problem at once — a table, then
one :class:`~releasekit.errors.PreflightFailed` — like twine's
``UnsupportedConfiguration.Builder`` collects before it raises.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from packaging.version import Version

from releasekit import git
from releasekit.config import IndexConfig
from releasekit.errors import GateRefused, PreflightFailed, ReleaseError
from releasekit.literals import find_version_literals, literal_fix_hint
from releasekit.notes import notes_location, notes_state
from releasekit.report import format_table
from releasekit.session_names import nox_command
from releasekit.version_source import find_version_source, read_version, read_version_files
from releasekit.versions import same_version
from releasekit.workspace import Package, Workspace

__all__ = [
    "Finding",
    "check_credentials",
    "check_git_identity",
    "check_github_credentials",
    "check_index",
    "check_remote_tag",
    "check_tag_name",
    "format_findings",
    "preflight",
    "require_gate",
    "require_preflight",
]

Severity = Literal["ok", "warning", "error"]


@dataclass(frozen=True)
class Finding:
    """The outcome of one check for one package."""

    check: str
    severity: Severity
    message: str
    hint: str = ""
    package: str = ""

    @property
    def failed(self) -> bool:
        return self.severity == "error"


def _ok(check: str, message: str) -> Finding:
    return Finding(check, "ok", message)


def check_clean_tree(workspace: Workspace) -> list[Finding]:
    paths = git.dirty_paths(workspace.root)
    if not paths:
        return [_ok("clean tree", "nothing uncommitted or untracked")]
    shown = ", ".join(paths[:4]) + (f" (+{len(paths) - 4} more)" if len(paths) > 4 else "")
    return [
        Finding(
            "clean tree",
            "error",
            f"uncommitted or untracked: {shown}",
            "commit or stash them (or .gitignore them), then run again",
        )
    ]


def check_branch(
    workspace: Workspace, package: Package, *, rehearse: bool, version: Version | None = None
) -> list[Finding]:
    wanted = package.settings.branch
    branch = git.current_branch(workspace.root)
    if rehearse:
        return [_ok("release branch", f"rehearsal: any branch will do (on {branch or 'HEAD'})")]
    if branch == wanted:
        return [_ok("release branch", f"on {wanted!r}")]
    if branch is None and version is not None:
        # CI checks out the pushed release tag: a detached HEAD at exactly that tag
        tag = package.tag(str(version))
        if git.tag_target(workspace.root, tag) == git.head(workspace.root):
            return [_ok("release branch", f"at the release tag {tag} (detached HEAD, as in CI)")]
    return [
        Finding(
            "release branch",
            "error",
            f"on {branch or 'a detached HEAD'!r}, releases are made from {wanted!r}",
            f"git switch {wanted} (or set tool.releasekit.branch), or rehearse with --rehearse",
        )
    ]


def check_version(package: Package, version: Version) -> list[Finding]:
    if version.local is not None:
        return [
            Finding(
                "version",
                "error",
                f"{str(version)!r} is a local version: indexes refuse it",
                "bump to a public version: invoke bump --to X.Y.Z",
            )
        ]
    return [_ok("version", f"{version} is a valid PEP 440 public version")]


def check_literals(workspace: Workspace, package: Package, version: Version) -> list[Finding]:
    findings = []
    for literal in find_version_literals(package):
        where = f"{literal.path.relative_to(workspace.root).as_posix()}:{literal.line}"
        if same_version(literal.value, version):
            findings.append(
                Finding(
                    "version literal",
                    "warning",
                    f"{where} hardcodes __version__ = {literal.value!r} (agrees today)",
                    literal_fix_hint(package.name),
                )
            )
        else:
            findings.append(
                Finding(
                    "version literal",
                    "error",
                    f"{where} hardcodes __version__ = {literal.value!r}, releasing {version}",
                    literal_fix_hint(package.name),
                )
            )
    return findings or [_ok("version literal", "no hardcoded __version__")]


def check_version_files(package: Package, version: Version) -> list[Finding]:
    """Every ``version-files`` entry holds the version being released."""
    if not package.settings.version_files:
        return []
    findings = []
    for entry, value in read_version_files(package):
        if value == version:
            findings.append(_ok("version files", f"{entry.shown} holds {version}"))
        else:
            findings.append(
                Finding(
                    "version files",
                    "error",
                    f"{entry.shown} holds {value}, releasing {version}",
                    f"write {version} there and commit; `invoke bump` keeps it in step "
                    "from then on",
                )
            )
    return findings


def check_notes(workspace: Workspace, package: Package, version: Version) -> list[Finding]:
    state = notes_state(package, version)
    where = notes_location(package, version).relative_to(workspace.root).as_posix()
    if state == "filled":
        return [_ok("release notes", f"{where} is filled in")]
    if state == "stub":
        return [
            Finding(
                "release notes",
                "error",
                f"{where} is still the untouched stub",
                f"write what changed in {version} there and commit it",
            )
        ]
    return [
        Finding(
            "release notes",
            "error",
            f"no release notes for {version} (expected in {where})",
            f"invoke notes --package {package.name} --version {version}, fill it in, commit",
        )
    ]


def check_tag(workspace: Workspace, package: Package, version: Version) -> list[Finding]:
    tag = package.tag(str(version))
    target = git.tag_target(workspace.root, tag)
    if target is None:
        return [_ok("tag", f"{tag} is free")]
    head = git.head(workspace.root)
    if target == head:
        return [_ok("tag", f"{tag} already points at HEAD (resuming)")]
    hint = "this version was tagged before: bump to a new version (invoke bump) and release that"
    if find_version_source(package).kind == "tag":
        hint = (
            f"{package.name}'s version comes from git tags and HEAD is past {tag}: "
            f"`invoke bump --package {package.name} --patch` (or --minor, --pre...) "
            "tags the next version"
        )
    return [
        Finding(
            "tag",
            "error",
            f"tag {tag!r} is taken: it points at {target[:12]}, HEAD is {head[:12]}",
            hint,
        )
    ]


def check_pins(
    workspace: Workspace,
    package: Package,
    *,
    releasing: dict[str, Version],
    on_index: Callable[[Package, Version], bool] | None,
    index_name: str,
) -> list[Finding]:
    """Every internal ``==`` pin is part of this run or already on the target index."""
    findings = []
    for site, sibling in workspace.internal_requirements(package):
        current = read_version(sibling)
        pinned = [
            Version(s.version)
            for s in site.requirement.specifier
            if s.operator == "==" and "*" not in s.version
        ]
        if not pinned:
            if not site.requirement.specifier.contains(current, prereleases=True):
                findings.append(
                    Finding(
                        "sibling pins",
                        "error",
                        f"{site.text!r} ({site.table}) excludes {sibling.name} {current}",
                        f"widen the specifier or pin {sibling.name}=={current}",
                    )
                )
            continue
        wanted = pinned[0]
        in_run = releasing.get(sibling.canonical_name)
        if in_run == wanted:
            continue
        if on_index is not None and on_index(sibling, wanted):
            if wanted != current:
                findings.append(
                    Finding(
                        "sibling pins",
                        "warning",
                        f"{site.text!r} pins a released {sibling.name} {wanted}; "
                        f"the source is at {current}",
                        f"fine if intended; else invoke bump --package {sibling.name}",
                    )
                )
            continue
        findings.append(
            Finding(
                "sibling pins",
                "error",
                f"{site.text!r} needs {sibling.name} {wanted}, which is not on {index_name} "
                "and not part of this release",
                f"release {sibling.name} first: "
                f"{nox_command('release', f'{sibling.name} {package.name}')}"
                + _index_flag(index_name)
                if wanted == current
                else f"the pin is stale ({sibling.name} is at {current}): "
                f"invoke bump --package {sibling.name} rewrites it",
            )
        )
    return findings or [_ok("sibling pins", "consistent")]


def _index_flag(index_name: str) -> str:
    """The flag that repeats a release to ``index_name`` (the embedded index: a rehearsal)."""
    if index_name in {"pypi", "the index"}:
        return ""
    return " --rehearse" if index_name == "local" else f" --index {index_name}"


def preflight(
    workspace: Workspace,
    package: Package,
    version: Version,
    *,
    rehearse: bool = False,
    releasing: dict[str, Version] | None = None,
    index: IndexConfig | None = None,
    on_index: Callable[[Package, Version], bool] | None = None,
) -> list[Finding]:
    """Run every preflight check for ``package`` at ``version``; raise nothing.

    A check that cannot run (its :class:`~releasekit.errors.ReleaseError`)
    is itself an error finding, under the check's name.
    """
    checks: list[tuple[str, Callable[[], list[Finding]]]] = [
        ("clean tree", lambda: check_clean_tree(workspace)),
        (
            "release branch",
            lambda: check_branch(workspace, package, rehearse=rehearse, version=version),
        ),
        ("version", lambda: check_version(package, version)),
        ("version literal", lambda: check_literals(workspace, package, version)),
        ("version files", lambda: check_version_files(package, version)),
        ("release notes", lambda: check_notes(workspace, package, version)),
        ("tag", lambda: check_tag(workspace, package, version)),
        (
            "sibling pins",
            lambda: check_pins(
                workspace,
                package,
                releasing=releasing or {package.canonical_name: version},
                on_index=on_index,
                index_name=index.name if index else "the index",
            ),
        ),
    ]
    findings: list[Finding] = []
    for name, check in checks:
        try:
            found = check()
        except ReleaseError as exc:  # a check that cannot run is itself a finding
            found = [Finding(name, "error", exc.message, exc.hint)]
        findings.extend(
            Finding(f.check, f.severity, f.message, f.hint, package.name) for f in found
        )
    return findings


def format_findings(findings: Sequence[Finding]) -> str:
    """The findings as a table: package, check, result, message, what to do."""
    rows = [
        (f.package, f.check, f.severity.upper() if f.severity != "ok" else "ok", f.message, f.hint)
        for f in findings
    ]
    return format_table(("package", "check", "result", "finding", "what to do"), rows)


def require_preflight(findings: Sequence[Finding]) -> list[Finding]:
    """Raise one PreflightFailed listing every failed check; return the warnings."""
    failed = [f for f in findings if f.failed]
    if failed:
        names = ", ".join(sorted({f"{f.package}: {f.check}" for f in failed}))
        raise PreflightFailed(
            f"preflight failed ({len(failed)} problem{'s' if len(failed) > 1 else ''}: {names})\n"
            + format_findings([f for f in findings if f.severity != "ok"]),
            "fix every problem listed, commit, and run the same command again",
            findings=failed,
        )
    return [f for f in findings if f.severity == "warning"]


# --- the gate: what needs the index, the remote or a credential --------------------------


def check_index(
    index: IndexConfig, name: str, version: Version, files: Sequence[Path]
) -> tuple[list[Finding], int]:
    """Read ``index``: a burnt version is an error; also returns how many files go up."""
    from releasekit.publish import plan_publish

    try:
        plan = plan_publish(index, name, str(version), files)
    except ReleaseError as exc:
        return [Finding(f"index {index.name}", "error", _one_line(exc.message), exc.hint)], 0
    message = f"{len(plan.to_upload)} file(s) to upload"
    if plan.already:
        message += f", {len(plan.already)} already there (same sha256)"
    return [_ok(f"index {index.name}", message)], len(plan.to_upload)


def check_credentials(index: IndexConfig) -> list[Finding]:
    """Upload credentials for ``index`` are there (environment, keyring or trusted publishing)."""
    from releasekit.publish import upload_credentials

    try:
        found = upload_credentials(index)
    except ReleaseError as exc:
        return [Finding(f"credentials {index.name}", "error", _one_line(exc.message), exc.hint)]
    return [_ok(f"credentials {index.name}", found.source)]


def check_github_credentials(workspace: Workspace) -> list[Finding]:
    """The GitHub release step will find a token and a repository (nothing is sent)."""
    from releasekit.github import github_target

    try:
        target = github_target(workspace.root)
    except ReleaseError as exc:
        return [Finding("credentials github", "error", _one_line(exc.message), exc.hint)]
    return [_ok("credentials github", f"a token for {target.repository}")]


def check_tag_name(workspace: Workspace, tag: str) -> list[Finding]:
    """git takes ``tag`` as a tag name (``git check-ref-format``)."""
    try:
        git.check_tag_name(workspace.root, tag)
    except ReleaseError as exc:
        return [Finding("tag name", "error", exc.message, exc.hint)]
    return [_ok("tag name", f"{tag} is a valid tag name")]


def check_git_identity(workspace: Workspace, tag: str) -> list[Finding]:
    """An annotated tag needs a committer identity (unless the tag is made already)."""
    if git.tag_target(workspace.root, tag) is not None:
        return [_ok("git identity", f"{tag} exists already")]
    problem = git.identity_problem(workspace.root)
    if problem is None:
        return [_ok("git identity", "annotated tags can be made")]
    return [
        Finding(
            "git identity",
            "error",
            f"{problem}: the tag {tag!r} could not be made after the upload",
            'git config user.name "Your Name" && git config user.email you@example.com',
        )
    ]


def check_remote_tag(workspace: Workspace, tag: str, remote: str) -> list[Finding]:
    """``remote`` exists and would take ``tag`` (``git push --dry-run``), or has it at HEAD."""
    root = workspace.root
    if not git.has_remote(root, remote):
        return [
            Finding(
                "remote",
                "error",
                f"there is no git remote {remote!r} to push the tag {tag!r} to",
                f"git remote add {remote} URL (or release with --no-push and push the tag "
                "yourself)",
            )
        ]
    try:
        there = git.remote_tag_target(root, tag, remote)
    except ReleaseError as exc:
        return [
            Finding(
                "remote",
                "error",
                f"remote {remote!r} would not take tag {tag!r}: {_one_line(exc.message)}",
                exc.hint,
            )
        ]
    try:
        wanted = git.tag_target(root, tag) or git.head(root)
        if there == wanted:
            return [_ok("remote", f"{tag} is on {remote} already")]
        if there is not None:
            return [
                Finding(
                    "remote",
                    "error",
                    f"tag {tag!r} on {remote!r} points at {there[:12]}, not {wanted[:12]}",
                    "tags are never moved: this version was released from another commit; "
                    "bump the version (invoke bump) and release that",
                )
            ]
        git.push_tag_dry_run(root, tag, remote)
    except ReleaseError as exc:
        return [Finding("remote", "error", _one_line(exc.message), exc.hint)]
    return [_ok("remote", f"{remote} would take {tag} (git push --dry-run)")]


def _one_line(message: str) -> str:
    """A finding's message on one line: the first, or the line saying why (git's fatal:)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    why = next((line for line in lines if line.startswith(("fatal:", "error:"))), None)
    return why or (lines[0] if lines else "")


def require_gate(findings: Sequence[Finding], *, planned: bool = False) -> None:
    """Raise one GateRefused listing every failed gate check of every package.

    ``planned``: the checks of ``--plan`` (no network), worded as what the
    release would refuse.
    """
    failed = [f for f in findings if f.failed]
    if failed:
        packages = list(dict.fromkeys(f.package for f in failed if f.package))
        count = f"{len(failed)} problem{'s' if len(failed) > 1 else ''}" + (
            f" in {', '.join(packages)}" if packages else ""
        )
        what = (
            f"the release would be refused ({count}; found without the network by --plan)"
            if planned
            else f"the gate refused the release before anything left this machine ({count})"
        )
        raise GateRefused(
            what + "\n" + format_findings(failed),
            "fix every problem listed, then run the same command again",
            findings=failed,
        )
