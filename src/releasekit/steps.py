"""The stock steps of the release pipeline, and :data:`DEFAULT_STEPS` in their order::

    preflight -> lint -> test -> build -> check -> smoke -> sign -> gate
      -> publish -> verify -> tag -> github-release (in GitHub Actions, or with --github-release)

Each step is a function of ``(release, target)`` (see :mod:`releasekit.model`):
it returns its line for the summary, raises :class:`~releasekit.model.SkipStep`
when it has nothing to do, or a :class:`~releasekit.errors.ReleaseError`.
Every local step passes for every package before the first remote one runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releasekit import git
from releasekit._process import environ_set
from releasekit._text import shown_path
from releasekit.commands import run_commands
from releasekit.config import IndexConfig
from releasekit.errors import NotConfirmed, ReleaseError
from releasekit.gate import gate_all, github_release_wanted, once_for_all, preflight_all
from releasekit.model import ReleaseRun, SkipStep, Step, Target, target_dists
from releasekit.resume import resume_dists
from releasekit.session_names import nox_command
from releasekit.workspace import Package, Workspace

if TYPE_CHECKING:
    from releasekit.record import VerifyBasis
    from releasekit.verify import DistKind, VerifyReport

__all__ = [
    "DEFAULT_STEPS",
    "GATE",
    "build_epoch",
    "source_date_epoch",
    "step_build",
    "step_check",
    "step_gate",
    "step_github_release",
    "step_lint",
    "step_preflight",
    "step_publish",
    "step_sign",
    "step_smoke",
    "step_tag",
    "step_test",
    "step_testpypi",
    "step_verify",
    "verify_package",
]

log = logging.getLogger("releasekit")

# dists, dist_checks, smoke, leaks, index, publish, record, signing, verify and github are
# imported in the steps that use them: they load build, twine, requests and sigstore, which
# every `nox -l` (the noxfile imports releasekit.nox, hence this module) would otherwise pay for


def step_preflight(release: ReleaseRun, target: Target) -> str:
    """Clean tree, branch, version, literals, notes, tag, sibling pins: every package at once."""
    return once_for_all(release, "preflight", target, preflight_all)


def step_lint(release: ReleaseRun, target: Target) -> str:
    """The package's ``lint`` commands, in its root; the first failure stops."""
    return run_commands(release.command_runner, target, "lint")


def step_test(release: ReleaseRun, target: Target) -> str:
    """The package's ``test`` commands, in its root; the first failure stops."""
    return run_commands(release.command_runner, target, "test")


@contextlib.contextmanager
def source_date_epoch(repo: Path) -> Iterator[None]:
    """Set SOURCE_DATE_EPOCH to HEAD's commit time while building (reproducible dists).

    A value the environment already had is kept; concurrent builds share the value.
    """
    with environ_set("SOURCE_DATE_EPOCH", str(git.commit_time(repo, "HEAD")), unless_set=True):
        yield


def step_build(release: ReleaseRun, target: Target) -> str:
    """sdist, then the wheel from the sdist; an interrupted release reuses its files."""
    from releasekit.dists import build_dists

    resumed = resume_dists(release, target)
    if resumed is not None:
        target.dists = resumed
        where = shown_path(target.dist_dir, release.workspace.root)
        raise SkipStep(f"resuming: the files in {where}/ match those on {release.index.name}")
    with source_date_epoch(release.workspace.root):
        dists = build_dists(target.package, str(target.version), out_dir=target.dist_dir)
    target.dists, target.built = dists, True
    return ", ".join(p.name for p in dists.files)


def step_check(release: ReleaseRun, target: Target) -> str:
    """File names, twine check --strict, metadata, leak-lint."""
    from releasekit.dist_checks import check_dists
    from releasekit.leaks import require_no_leaks

    dists = target_dists(target)
    if any(step.name == "smoke" for step in release.steps):
        from releasekit.smoke import start_smoke_ahead

        # the smoke step's venv and install are processes: they go on while these checks
        # run in this one (releasekit.smoke_ahead); a failed check wastes a temporary venv
        start_smoke_ahead(target.package, dists, **_smoke_arguments(release, target))
    lines = check_dists(target.package, str(target.version), dists)
    require_no_leaks(dists.files, allow=target.package.settings.leak_allow)
    return f"{len(lines)} checks passed, no leaks"


def _smoke_arguments(release: ReleaseRun, target: Target) -> dict[str, Any]:
    """Where the smoke install of ``target`` looks: sibling builds, then indexes."""
    siblings = [
        t.dist_dir
        for t in release.targets
        if t is not target and not t.skip_reason and t.dist_dir.is_dir()
    ]
    # a requirement not built in this run comes from the index the release goes to
    # (third-party ones from its dependency index, when it has one); a rehearsal or a
    # build takes them from the dependency index, else PyPI
    if release.publishing and not release.options.rehearse:
        index = release.ready_index()
        index_url, dependency_url = index.simple_url, index.dependency_url
    else:
        index_url, dependency_url = release.index.dependency_url, None
    return {
        "find_links": siblings,
        "index_url": index_url,
        "dependency_index_url": dependency_url,
        "own_names": [p.canonical_name for p in release.workspace.packages],
        "logins": _logins(release.index),
    }


def step_smoke(release: ReleaseRun, target: Target) -> str:
    """Install the wheel in a fresh venv outside the repo; prove its version."""
    from releasekit.smoke import smoke_test

    arguments = _smoke_arguments(release, target)
    proof = smoke_test(target.package, str(target.version), target_dists(target), **arguments)
    return "; ".join(proof.lines[-2:])


def _logins(index: IndexConfig) -> dict[str, tuple[str, str]]:
    """The read logins of an index and of its dependency index, by URL (never shown)."""
    from releasekit.index import read_login

    logins: dict[str, tuple[str, str]] = {}
    for source in (index, index.dependency_index):
        login = read_login(source) if source is not None else None
        if login is not None and source is not None and source.simple_url:
            logins[source.simple_url] = (login.username, login.password)
    return logins


def step_sign(release: ReleaseRun, target: Target) -> str:
    """A sigstore bundle per file, verified at once (skipped when signing is off)."""
    from releasekit import signing

    if not release.signing_on:
        raise SkipStep("unsigned: no [tool.releasekit.signing] and no --sign")
    staging = release.staging
    if release.identity_token is not None:
        token = release.identity_token
    elif release.options.rehearse:
        try:
            token = signing.identity_token(staging=staging, interactive=False)
        except ReleaseError as exc:
            raise SkipStep(
                f"rehearsal without an identity token: not signed ({exc.message})"
            ) from None
    else:  # a browser sign-in only when the adapter says someone is there
        token = signing.identity_token(staging=staging, interactive=release.options.interactive)
    release.identity_token = token
    bundles = signing.sign_files(target_dists(target).files, token=token, staging=staging)
    target.signed = True
    return f"{len(bundles)} bundle(s) signed and verified"


def step_gate(release: ReleaseRun, target: Target) -> str:
    """Before anything leaves: index, credentials, remote, tag names, signing; all packages."""
    return once_for_all(release, "gate", target, gate_all)


def build_epoch(release: ReleaseRun) -> int:
    """The SOURCE_DATE_EPOCH the build step uses: the environment's, else HEAD's commit time."""
    given = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(given) if given.isdigit() else git.commit_time(release.workspace.root, "HEAD")


def _confirm_upload(release: ReleaseRun, target: Target, index: IndexConfig, count: int) -> None:
    """PyPI takes an upload after --yes (CI implies it) or a 'y' at a terminal; else refused."""
    from releasekit.publish import needs_confirmation

    # would PyPI ask someone at a terminal? not for another index, nor with --yes or in CI
    if not needs_confirmation(index, yes=release.options.yes, interactive=True):
        return
    if release.options.interactive and release.confirm is not None:
        question = (
            f"upload {count} file(s) of {target.package.name} {target.version} "
            f"to {index.name}? This cannot be undone."
        )
        if release.confirm(question):
            return
        raise NotConfirmed(
            f"upload to {index.name} not confirmed",
            "answer 'y', or pass --yes (CI=true implies it)",
        )
    raise NotConfirmed(
        f"upload to {index.name} not confirmed: this run cannot ask (not at a terminal)",
        "pass --yes to upload without a question (CI=true implies it), "
        "or run it at a terminal and answer 'y'",
    )


def _attest(release: ReleaseRun, target: Target, index: IndexConfig, files: list[Path]) -> bool:
    """PEP 740 attestations for a signed upload to PyPI with trusted publishing: made or not."""
    from releasekit import signing
    from releasekit.publish import upload_credentials

    # signed in this run, or by an earlier job that handed its files and bundles along
    signed = target.signed or (
        release.signing_on and all(signing.bundle_path(f).is_file() for f in files)
    )
    if not (index.is_pypi and signed):
        return False
    if upload_credentials(index).password is not None:
        log.info(
            "no PEP 740 attestations: %s takes them only with trusted publishing, "
            "and this upload uses a token",
            index.name,
        )
        return False
    if release.identity_token is None:
        release.identity_token = signing.identity_token(staging=release.staging, interactive=False)
    signing.make_attestations(files, token=release.identity_token, staging=release.staging)
    return True


def _publish_to(release: ReleaseRun, target: Target, index: IndexConfig) -> str:
    from releasekit.publish import plan_publish, publish
    from releasekit.record import record_of, write_record

    files = list(target_dists(target).files)
    plan = plan_publish(index, target.package.canonical_name, str(target.version), files)
    if plan.to_upload:
        _confirm_upload(release, target, index, len(plan.to_upload))
    # the release record: what is published, for `nox -s verify` and later runs to prove
    write_record(
        target.dist_dir,
        record_of(
            target.package.name,
            str(target.version),
            files,
            commit=git.head(release.workspace.root),
            tag=target.tag,
            source_date_epoch=build_epoch(release),
        ),
    )
    target.already[index.name] = [p.name for p in plan.already]
    if not plan.to_upload:
        target.published_to.append(index.name)
        raise SkipStep(f"already published on {index.name}: {len(plan.already)} file(s) match")
    result = publish(
        index,
        files,
        name=target.package.canonical_name,
        version=str(target.version),
        attestations=_attest(release, target, index, files),
        retries=release.options.upload_retries,
        backoff=release.options.upload_backoff,
        on_upload=target.uploaded.setdefault(index.name, []).append,
    )
    target.published_to.append(index.name)
    done = f"uploaded {len(result.uploaded)}"
    return done + (f", {len(result.skipped)} already there" if result.skipped else "")


def verify_package(
    workspace: Workspace,
    package: Package,
    version: str,
    index: IndexConfig,
    basis: VerifyBasis,
    *,
    bundle_dir: Path,
    kinds: Sequence[DistKind] = ("wheel", "sdist"),
    timeout: float | None = None,
    offline: bool = False,
    wheel_built_from_sdist: bool = False,
) -> VerifyReport:
    """Install ``package`` ``version`` from ``index`` in fresh venvs and prove it.

    The verify step and ``nox -s verify`` both come here: ``basis`` is what the
    index must serve (the files the run built, or the release record;
    ``wheel_built_from_sdist`` when the run built the wheel from that sdist), and
    signing bundles in ``bundle_dir`` are checked against every file before it
    is installed.  Third-party dependencies come from the index's dependency
    index; for the throwaway embedded index, which holds only our packages,
    from PyPI (ours still only from ``index``).
    """
    from releasekit.signing import bundle_check
    from releasekit.verify import verify_published

    dependency_index = index.dependency_index
    if dependency_index is None and index.embedded:
        dependency_index = workspace.config.index("pypi")
    return verify_published(
        index,
        package.canonical_name,
        version,
        console_scripts=package.console_scripts,
        smoke=[shlex.join(package.command(s, version)) for s in package.settings.smoke],
        kinds=kinds,
        timeout=timeout or package.settings.verify_timeout,
        dependency_index=dependency_index,
        own_names=[p.canonical_name for p in workspace.packages],
        before_install=bundle_check(
            workspace.config.signing,
            bundle_dir=bundle_dir,
            name=package.name,
            version=version,
            tag=package.tag(version),
            offline=offline,
        ),
        expected=basis.expected,
        expected_source=basis.source,
        source_date_epoch=basis.source_date_epoch,
        require_reproducible=package.settings.reproducible,
        wheel_built_from_sdist=wheel_built_from_sdist,
    )


def _verify_on(release: ReleaseRun, target: Target, index: IndexConfig) -> str:
    from releasekit.index import file_sha256
    from releasekit.record import VerifyBasis

    built = {path.name: file_sha256(path) for path in target_dists(target).files}
    report = verify_package(
        release.workspace,
        target.package,
        str(target.version),
        index,
        VerifyBasis(built, "the files this run built", build_epoch(release)),
        bundle_dir=target.dist_dir,
        timeout=release.options.verify_timeout,
        offline=release.options.rehearse,
        # the wheel this run built from its sdist: that sdist, served byte for byte, is
        # not built a second time (its proof is the wheel's; see verify_published)
        wheel_built_from_sdist=target.built,
    )
    target.reproducible = report.reproducible
    proofs = [line.strip() for line in report.lines if line.startswith(" ")]
    where = f"{' + '.join(report.checked)} from {index.name}"
    return f"{where}: {proofs[-1]}" if proofs else where


def step_testpypi(release: ReleaseRun, target: Target) -> str:
    """With --testpypi-first: publish to TestPyPI and verify from there."""
    if release.testpypi is None:
        raise SkipStep("no --testpypi-first")
    published = _publish_to(release, target, release.testpypi)
    verified = _verify_on(release, target, release.testpypi)
    return f"{published}; {verified}"


def step_publish(release: ReleaseRun, target: Target) -> str:
    """Upload the files the index lacks; files already there (same sha256) are skipped."""
    return _publish_to(release, target, release.index)


def step_verify(release: ReleaseRun, target: Target) -> str:
    """Fresh venvs, install the wheel and the sdist from the index only, prove the version."""
    return _verify_on(release, target, release.index)


def step_tag(release: ReleaseRun, target: Target) -> str:
    """The annotated tag, pushed (each skipped when done; not made in a rehearsal)."""
    root = release.workspace.root
    if release.options.rehearse:
        raise SkipStep(f"rehearsal: would tag {target.tag} and push it to {release.options.remote}")
    made = git.create_tag(root, target.tag, f"Release {target.package.name} {target.version}")
    target.tag_made = True
    line = "tagged" if made else "tag already there"
    if release.options.push:
        pushed = git.push_tag(root, target.tag, release.options.remote)
        target.tag_pushed = True
        line += f", {'pushed to' if pushed else 'already on'} {release.options.remote}"
    return f"{target.tag}: {line}"


def step_github_release(release: ReleaseRun, target: Target) -> str:
    """The GitHub release of the tag: notes, files and bundles (in GitHub Actions or asked)."""
    wanted = github_release_wanted(release)
    if release.options.rehearse:
        raise SkipStep(f"rehearsal: would make the GitHub release of {target.tag}")
    if not wanted:
        raise SkipStep(
            "not in GitHub Actions: --github-release makes it, "
            "or later: " + nox_command("github-release", f"{target.package.name} {target.version}")
        )
    from releasekit.github import release_package

    result = release_package(
        release.workspace.root, target.package, target.version, target_dists(target).files
    )
    if not result.changed:
        raise SkipStep(result.describe())
    return result.describe()


DEFAULT_STEPS: tuple[Step, ...] = (
    Step("preflight", step_preflight, description="clean tree, branch, version, notes, tag, pins"),
    Step("lint", step_lint, description="the configured lint commands"),
    Step("test", step_test, description="the configured test commands"),
    Step("build", step_build, description="sdist, then the wheel from the sdist", concurrent=True),
    Step(
        "check",
        step_check,
        description="twine check --strict, metadata, leak-lint",
        concurrent=True,
    ),
    Step(
        "smoke",
        step_smoke,
        description="install the wheel in a fresh venv and prove it",
        concurrent=True,
    ),
    Step("sign", step_sign, description="sigstore bundle per file (when signing is on)"),
    Step(
        "gate", step_gate, description="index, credentials, remote, tag names, signing: all at once"
    ),
    Step("testpypi", step_testpypi, remote=True, description="publish + verify on TestPyPI"),
    Step("publish", step_publish, remote=True, description="upload what the index lacks"),
    Step(
        "verify",
        step_verify,
        remote=True,
        description="install from the index, prove it",
        concurrent=True,
    ),
    Step("tag", step_tag, remote=True, description="annotated tag, pushed"),
    Step(
        "github-release",
        step_github_release,
        remote=True,
        description="GitHub release: notes, files, bundles (in GitHub Actions)",
    ),
)


GATE: Step = next(step for step in DEFAULT_STEPS if step.name == "gate")

# The stock local steps, which run while a rehearsal's embedded index is still starting:
# they do not read it, or wait for it where they do (preflight's sibling pins, resume).
# Before any other step (the gate, a remote step, a step of the project's own, even one
# named "build": these are the stock Step objects themselves) the run waits for it.
STOCK_LOCAL_STEPS: tuple[Step, ...] = tuple(
    step for step in DEFAULT_STEPS if not step.remote and step is not GATE
)
