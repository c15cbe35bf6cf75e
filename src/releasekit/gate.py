"""The checks of every package at once: preflight before anything runs, the gate before
anything leaves.

``preflight`` (clean tree, branch, version, notes, tag, pins) and the ``gate``
(index, credentials, remote, tag names, signing) run for the first package of
a run and report every problem of every package in one error; the other
packages get their line of the summary from the same result
(:func:`once_for_all`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence

from packaging.version import Version

from releasekit import checks
from releasekit.config import IndexConfig
from releasekit.errors import ReleaseError
from releasekit.model import ReleaseRun, Target, target_dists
from releasekit.workspace import Package

__all__ = ["gate_all", "github_release_wanted", "once_for_all", "preflight_all"]

log = logging.getLogger("releasekit")


def once_for_all(
    release: ReleaseRun,
    name: str,
    target: Target,
    check_all: Callable[[ReleaseRun], dict[str, str]],
) -> str:
    """Run ``check_all`` once, for every package of the run; return ``target``'s detail.

    Steps that must report every problem of every package at once (preflight,
    the gate) do all their work when called for the first package and raise
    one error naming every package; the other packages get their line.
    """
    if name not in release.whole_run:
        release.whole_run[name] = check_all(release)
    return release.whole_run[name].get(target.package.name, "")


def _merged(findings: Sequence[checks.Finding]) -> list[checks.Finding]:
    """The same finding for several packages (a dirty tree) once, naming them all."""
    merged: dict[tuple[str, str, str], list[checks.Finding]] = {}
    for finding in findings:
        merged.setdefault((finding.check, finding.severity, finding.message), []).append(finding)
    out = []
    for same in merged.values():
        packages = ", ".join(dict.fromkeys(f.package for f in same if f.package))
        first = same[0]
        out.append(checks.Finding(first.check, first.severity, first.message, first.hint, packages))
    return out


def _detail(findings: Sequence[checks.Finding], package: str) -> str:
    mine = [f for f in findings if package in f.package.split(", ")]
    passed = sum(1 for f in mine if f.severity == "ok")
    warned = sum(1 for f in mine if f.severity == "warning")
    return f"{passed} checks passed" + (f", {warned} warning(s)" if warned else "")


def preflight_all(release: ReleaseRun) -> dict[str, str]:
    """Preflight every package; one PreflightFailed naming them all; the summary lines."""
    releasing = {t.package.canonical_name: t.version for t in release.targets}

    def on_index(sibling: Package, version: Version) -> bool:
        from releasekit.index import files_on_index  # deferred: requests loads slowly

        index = release.ready_index()  # a rehearsal's index may still be starting
        return bool(files_on_index(index, sibling.canonical_name, str(version)))

    findings: list[checks.Finding] = []
    active = [t for t in release.targets if not t.skip_reason]
    for target in active:
        findings += checks.preflight(
            release.workspace,
            target.package,
            target.version,
            rehearse=release.options.rehearse,
            releasing=releasing,
            index=release.index,
            on_index=on_index,
        )
    findings = _merged(findings)
    warnings = checks.require_preflight(findings)
    for warning in warnings:
        log.info("warning: %s: %s (%s)", warning.check, warning.message, warning.hint)
    return {t.package.name: _detail(findings, t.package.name) for t in active}


def _gate_indexes(release: ReleaseRun) -> list[IndexConfig]:
    """The indexes the remote steps of this run upload to."""
    names = {step.name for step in release.steps}
    indexes = []
    if "testpypi" in names and release.testpypi is not None:
        indexes.append(release.testpypi)
    if "publish" in names:
        indexes.append(release.index)
    return indexes


def _signing_findings(release: ReleaseRun, active: Sequence[Target]) -> list[checks.Finding]:
    """Signing on: every package signed, and the identity token still usable for uploads."""
    if not release.signing_on or release.options.rehearse:
        return []
    findings = []
    if any(step.name == "sign" for step in release.steps):
        for target in active:
            if not target.signed:
                findings.append(
                    checks.Finding(
                        "signing identity",
                        "error",
                        f"{target.package.name} {target.version} was not signed",
                        "signing is on: get an identity token (docs/how-to/signing.md) "
                        "or release without --sign / [tool.releasekit.signing]",
                        target.package.name,
                    )
                )
    token = release.identity_token
    in_validity = getattr(token, "in_validity_period", None)
    if token is not None and callable(in_validity) and not in_validity():
        findings.append(
            checks.Finding(
                "signing identity",
                "error",
                "the sigstore identity token expired before the upload",
                "identity tokens live minutes: run again with a fresh token "
                "(SIGSTORE_IDENTITY_TOKEN, or the CI's id-token permission)",
            )
        )
    return findings


def gate_all(release: ReleaseRun) -> dict[str, str]:
    """Every check that needs the index, the remote or a credential; every package at once."""
    active = [t for t in release.targets if not t.skip_reason]
    names = {step.name for step in release.steps}
    findings: list[checks.Finding] = []

    def add(package: str, found: Sequence[checks.Finding]) -> None:
        findings.extend(
            checks.Finding(f.check, f.severity, f.message, f.hint, package or f.package)
            for f in found
        )

    indexes = _gate_indexes(release)
    for index in indexes:
        uploads = False
        for target in active:
            try:
                files = list(target_dists(target).files)
            except ReleaseError as exc:
                add(target.package.name, [checks.Finding("dists", "error", exc.message, exc.hint)])
                continue
            found, count = checks.check_index(
                index, target.package.canonical_name, target.version, files
            )
            add(target.package.name, found)
            uploads = uploads or count > 0
        if uploads:
            add("", checks.check_credentials(index))
    if "tag" in names:
        for target in active:
            add(target.package.name, checks.check_tag_name(release.workspace, target.tag))
            if release.options.rehearse:
                continue
            add(target.package.name, checks.check_git_identity(release.workspace, target.tag))
            if release.options.push:
                add(
                    target.package.name,
                    checks.check_remote_tag(release.workspace, target.tag, release.options.remote),
                )
    if (
        "github-release" in names
        and not release.options.rehearse
        and github_release_wanted(release)
    ):
        add("", checks.check_github_credentials(release.workspace))
    findings += _signing_findings(release, active)
    checks.require_gate(findings)
    details = {}
    for target in active:
        mine = [f for f in findings if f.package in {target.package.name, ""}]
        reads = [f"{f.check[6:]}: {f.message}" for f in mine if f.check.startswith("index ")]
        details[target.package.name] = "; ".join([f"{len(mine)} checks passed", *reads])
    return details


def github_release_wanted(release: ReleaseRun) -> bool:
    """--github-release, or inside GitHub Actions unless --no-github-release."""
    wanted = release.options.github_release
    if wanted is None:
        wanted = os.environ.get("GITHUB_ACTIONS") == "true"
    return wanted
