"""The gate before anything leaves the machine, run as users run it (`nox -s release`).

Each scenario sets up a problem that used to surface only after an upload
(a burnt version of the *second* package, no git remote, a remote that will
not take the tag, an unknown index) and checks what a user sees: one error
naming every problem of every package, nothing on the index, no tag on the
remote.  The gate's orchestration is also tested in-process, with the build
replaced by hand-made files, so every scenario stays cheap.
"""

from __future__ import annotations

import dataclasses
import io
import re
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from releasekit import pipeline
from releasekit.errors import DigestMismatch, GateRefused, ReleaseError
from releasekit.index import file_sha256
from releasekit.workspace import load_workspace
from tests.cli import nox
from tests.conftest import git, make_wheel, repo_state
from tests.test_release import summary_rows, use_index

if TYPE_CHECKING:
    from tests.pypiserver_fixtures import PypiServer

pytest_plugins = ["tests.pypiserver_fixtures"]

V = "0.1.0a1"
ADAPTER_WHEEL = f"oxi_adapter_reference-{V}-py3-none-any.whl"


def origin_tags(repo: Path) -> str:
    """Tags of the bare origin beside ``repo`` (read from it, whatever origin's URL now is)."""
    return git(repo.parent / f"{repo.name}-origin.git", "tag", "-l")


# --- as users run it ------------------------------------------------------------------------


def test_every_problem_of_every_package_is_refused_before_the_first_upload(
    oxi_repo: Path, pypiserver: PypiServer, tmp_path: Path
) -> None:
    """The second package's version is burnt and the remote is gone: one error, nothing sent."""
    repo = oxi_repo
    use_index(repo, pypiserver.index)
    pypiserver.put(make_wheel(tmp_path / "other", "oxi-adapter-reference", V))  # other bytes
    git(repo, "remote", "set-url", "origin", str(tmp_path / "moved-away.git"))
    listing, before = pypiserver.listing(), repo_state(repo)

    result = nox(repo, "-s", "release", "--", "--all", "--index", "staging", "--yes",
                 server=pypiserver)  # fmt: skip
    out = result.stdout
    assert result.returncode != 0, out
    assert "FAILED at step 'gate' (oxi-core, oxi-adapter-reference)" in out
    assert "the gate refused the release before anything left this machine (3 problems" in out
    assert f"'staging' already has different content for '{ADAPTER_WHEEL}'" in out
    assert "remote 'origin' would not take tag 'oxi-core-v0.1.0a1'" in out
    assert "remote 'origin' would not take tag 'oxi-adapter-reference-v0.1.0a1'" in out
    assert "nothing left this machine: no upload, no tag" in out
    assert "Traceback" not in out
    rows = summary_rows(out)
    assert ("smoke", "oxi-adapter-reference", "ok") in rows, "every local step ran first"
    assert not any(step in {"publish", "verify", "tag"} for step, _, _ in rows)
    assert pypiserver.listing() == listing, "nothing was uploaded, not even oxi-core"
    assert origin_tags(repo) == ""
    assert repo_state(repo) == before


def test_no_remote_is_refused_before_the_upload_with_the_right_hint(
    oxi_repo: Path, pypiserver: PypiServer
) -> None:
    repo = oxi_repo
    use_index(repo, pypiserver.index)
    git(repo, "remote", "remove", "origin")

    result = nox(repo, "-s", "release", "--", "oxi-core", "--index", "staging", server=pypiserver)
    out = result.stdout
    assert result.returncode != 0, out
    assert "FAILED at step 'gate' (oxi-core)" in out
    assert "there is no git remote 'origin' to push the tag 'oxi-core-v0.1.0a1' to" in out
    assert "git remote add origin URL (or release with --no-push" in out
    assert "user.name" not in out
    assert pypiserver.listing() == {}
    assert git(repo, "tag", "-l") == ""


def test_preflight_of_all_reports_every_package(oxi_repo: Path) -> None:
    repo = oxi_repo
    (repo / "src" / "oxi_core" / "__init__.py").write_text('__version__ = "0.0.0"\n')
    adapter_init = (
        repo / "adapters" / "_reference" / "src" / "oxi_adapter_reference" / "__init__.py"
    )
    adapter_init.write_text('__version__ = "0.0.1"\n')
    git(repo, "commit", "-qam", "two stale literals")

    result = nox(repo, "-s", "release", "--", "--all", "--rehearse")
    out = result.stdout
    assert result.returncode != 0, out
    assert "FAILED at step 'preflight' (oxi-core, oxi-adapter-reference)" in out
    assert "src/oxi_core/__init__.py:1 hardcodes __version__ = '0.0.0'" in out
    assert (
        "adapters/_reference/src/oxi_adapter_reference/__init__.py:1 hardcodes "
        "__version__ = '0.0.1'" in out
    )
    assert [row[:2] for row in summary_rows(out)] == [("preflight", "oxi-core")]


def test_an_invalid_tag_format_is_refused_at_config_load(oxi_repo: Path) -> None:
    repo = oxi_repo
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'branch = "main"\n', 'branch = "main"\ntag-format = "oxi core v{version}"\n'
        )
    )
    git(repo, "commit", "-qam", "a tag format with spaces")
    for args in (("--all", "--plan"), ("--all", "--index", "testpypi")):
        result = nox(repo, "-s", "release", "--", *args)
        out = result.stdout
        assert result.returncode != 0, out
        assert "tool.releasekit.tag-format 'oxi core v{version}' makes tags git refuses" in out
        assert "hint: use only letters, digits" in out
        assert "Traceback" not in out and "── " not in out


def test_plan_checks_index_and_tag_names_offline_and_names_released_packages(
    oxi_repo: Path,
) -> None:
    repo = oxi_repo
    git(repo, "tag", "-a", "-m", "Release oxi-core 0.1.0a1", "oxi-core-v0.1.0a1")
    before = repo_state(repo)

    planned = nox(repo, "-s", "release", "--", "--all", "--index", "testpypi", "--plan")
    out = planned.stdout
    assert planned.returncode == 0, out
    assert re.search(r"^\s+\d+\. gate\s+.*\[local\]$", out, re.M)
    assert "the index and the remote are not read" in out
    assert "already released here (local tags):" in out
    assert (
        "  oxi-core: tag oxi-core-v0.1.0a1 exists (at HEAD): skipped as already released "
        "if testpypi holds its files"
    ) in out
    assert "oxi-adapter-reference: tag" not in out

    unknown = nox(repo, "-s", "release", "--", "--all", "--index", "stagign", "--plan")
    out = unknown.stdout
    assert unknown.returncode != 0, out
    assert "the release would be refused (1 problem; found without the network by --plan)" in out
    assert "unknown index 'stagign'" in out
    assert "Traceback" not in out
    assert repo_state(repo) == before


# --- the orchestration, in-process -------------------------------------------------------


def fake_build(run: pipeline.ReleaseRun, target: pipeline.Target) -> str:
    """A local step standing in for the build: a hand-made wheel and sdist."""
    from releasekit.dists import Dists

    name, version = target.package.name, str(target.version)
    wheel = make_wheel(target.dist_dir, name, version)
    sdist = target.dist_dir / f"{target.package.canonical_name.replace('-', '_')}-{version}.tar.gz"
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    with tarfile.open(sdist, "w:gz") as archive:
        for file, data in (("PKG-INFO", pkg_info), ("README", b"hand-made\n")):
            member = tarfile.TarInfo(f"{sdist.name.removesuffix('.tar.gz')}/{file}")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    target.dists = Dists(sdist=sdist, wheels=(wheel,))
    return "hand-made"


BUILD = pipeline.Step("build", fake_build)


def by_name(*names: str) -> list[pipeline.Step]:
    steps = {step.name: step for step in pipeline.DEFAULT_STEPS}
    return [BUILD if name == "build" else steps[name] for name in names]


def make_run(
    repo: Path, server: PypiServer, steps: list[pipeline.Step], **options: object
) -> pipeline.ReleaseRun:
    workspace = load_workspace(repo)
    opts = pipeline.ReleaseOptions(index="staging", **options)  # type: ignore[arg-type]
    targets = pipeline.plan_release(
        workspace, workspace.select(all_packages=True), options=opts, steps=steps
    )
    index = dataclasses.replace(server.index, name="staging")
    return pipeline.ReleaseRun(workspace, targets, opts, index, pipeline.run_in_environment)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("build", "publish", "tag"), ["build", "gate", "publish", "tag"]),
        (("preflight", "build", "check"), ["preflight", "build", "check"]),
        (("publish",), ["gate", "publish"]),
        (("build", "gate", "publish"), ["build", "gate", "publish"]),
    ],
)
def test_with_gate_puts_the_gate_before_the_first_remote_step(
    names: tuple[str, ...], expected: list[str]
) -> None:
    assert [step.name for step in pipeline.with_gate(by_name(*names))] == expected


def test_a_gate_after_a_remote_step_is_refused() -> None:
    with pytest.raises(ReleaseError, match="local step 'gate' comes after 'publish'"):
        pipeline.check_step_order(by_name("publish", "gate"))


def test_the_gate_runs_once_for_every_package_before_the_first_upload(
    oxi_repo: Path, upload_env: PypiServer
) -> None:
    steps = by_name("build", "publish", "tag")  # composed without the gate
    run = make_run(oxi_repo, upload_env, steps, push=True)
    report = pipeline.run_release(run, steps)
    assert report.ok, report.summary()
    order = [(r.step, r.package) for r in report.records]
    assert order[:4] == [
        ("build", "oxi-core"),
        ("build", "oxi-adapter-reference"),
        ("gate", "oxi-core"),
        ("gate", "oxi-adapter-reference"),
    ]
    gate = {r.package: r.detail for r in report.records if r.step == "gate"}
    assert gate["oxi-core"].endswith("staging: 2 file(s) to upload")
    assert "checks passed" in gate["oxi-adapter-reference"]
    assert len(upload_env.listing()) == 4
    assert "oxi-adapter-reference-v0.1.0a1" in origin_tags(oxi_repo)


def test_the_gate_collects_problems_of_all_packages_into_one_error(
    oxi_repo: Path, pypiserver: PypiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No credentials for an index that needs them, a burnt second package, a taken tag."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    pypiserver.put(make_wheel(tmp_path / "other", "oxi-adapter-reference", V, requires=("x",)))
    git(oxi_repo, "commit", "-q", "--allow-empty", "-m", "released from here once")
    git(oxi_repo, "push", "-q", "origin", "HEAD:refs/tags/oxi-core-v0.1.0a1")
    git(oxi_repo, "reset", "-q", "--hard", "HEAD~1")
    listing = pypiserver.listing()
    steps = by_name("build", "publish", "verify", "tag")
    run = make_run(oxi_repo, pypiserver, steps)
    pypi_like = dataclasses.replace(pypiserver.index, name="testpypi")  # needs credentials
    run.index = pypi_like
    report = pipeline.run_release(run, steps)
    assert not report.ok
    assert report.failed_step == "gate"
    assert report.failed_package == "oxi-core, oxi-adapter-reference"
    assert isinstance(report.error, GateRefused)
    problems = {(f.package, f.check) for f in report.error.findings}  # type: ignore[attr-defined]
    assert problems == {
        ("oxi-adapter-reference", "index testpypi"),
        ("", "credentials testpypi"),
        ("oxi-core", "remote"),
    }
    assert "oxi-core-v0.1.0a1' on 'origin' points at" in report.error.message
    assert [r.step for r in report.records] == ["build", "build", "gate"]
    assert "nothing left this machine" in report.failure()
    assert pypiserver.listing() == listing
    assert git(oxi_repo, "tag", "-l") == ""


def test_a_failure_after_the_upload_says_what_left_and_how_to_finish(
    oxi_repo: Path, upload_env: PypiServer
) -> None:
    def refuse(run: pipeline.ReleaseRun, target: pipeline.Target) -> str:
        if target.package.name == "oxi-adapter-reference":
            raise ReleaseError("the announcement service is down", "try later")
        return "announced"

    announce = pipeline.Step("announce", refuse, remote=True)
    steps = [*by_name("build", "publish"), announce, *by_name("tag")]
    run = make_run(oxi_repo, upload_env, steps, push=True)
    run.rerun_command = "nox -s release -- --all --index staging"
    report = pipeline.run_release(run, steps)
    assert report.failed_step == "announce"
    failure = report.failure()
    assert "nothing left this machine" not in failure
    assert (
        "what left this machine:\n"
        "  oxi-core 0.1.0a1: on staging: oxi_core-0.1.0a1.tar.gz (uploaded now), "
        "oxi_core-0.1.0a1-py3-none-any.whl (uploaded now); tag oxi-core-v0.1.0a1 not made\n"
        "  oxi-adapter-reference 0.1.0a1: on staging: oxi_adapter_reference-0.1.0a1.tar.gz "
        f"(uploaded now), {ADAPTER_WHEEL} (uploaded now); tag oxi-adapter-reference-v0.1.0a1 "
        "not made\n"
        "then run: nox -s release -- --all --index staging   "
        "(safe to repeat: finished work is skipped)"
    ) in failure


def test_verify_in_the_release_compares_the_index_with_what_this_run_built(
    oxi_repo: Path, upload_env: PypiServer, tmp_path: Path
) -> None:
    """The index swaps the wheel after the upload, listing the new bytes with their own hash."""
    wheel = f"oxi_core-{V}-py3-none-any.whl"

    def swap(run: pipeline.ReleaseRun, target: pipeline.Target) -> str:
        other = make_wheel(tmp_path / "swapped", "oxi-core", V, requires=("evil",))
        upload_env.put(other)
        return "swapped"

    steps = [*by_name("build", "publish"), pipeline.Step("swap", swap, remote=True)]
    steps += by_name("verify", "tag")
    run = make_run(oxi_repo, upload_env, steps)
    report = pipeline.run_release(run, steps)
    # verify runs for both packages (at once); the adapter's fails too, oxi-core's swapped
    # wheel needing 'evil': both are named, oxi-core's error is the one shown
    assert report.failed_step == "verify"
    assert report.failed_package == "oxi-core, oxi-adapter-reference"
    assert isinstance(report.error, DigestMismatch)
    built = run.targets[0].dists.wheels[0]  # type: ignore[union-attr]
    served = upload_env.listing()[wheel]
    assert (
        f"{wheel}: staging serves sha256 {served}, expected {file_sha256(built)}"
        in report.error.message
    )
    assert "(the files this run built)" in report.error.message
    failure = report.failure()
    assert "what left this machine:" in failure and "tag oxi-core-v0.1.0a1 not made" in failure
    assert git(oxi_repo, "tag", "-l") == ""


def test_the_gate_wants_a_github_token_when_the_github_release_will_run(
    oxi_repo: Path, upload_env: PypiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_REPOSITORY", "GITHUB_ACTIONS"):
        monkeypatch.delenv(key, raising=False)
    steps = by_name("build", "publish", "github-release")
    run = make_run(oxi_repo, upload_env, steps, github_release=True)
    report = pipeline.run_release(run, steps)
    assert report.failed_step == "gate"
    assert isinstance(report.error, GateRefused)
    assert "no GitHub token: neither GITHUB_TOKEN nor GH_TOKEN is set" in report.error.message
    assert upload_env.listing() == {}, "refused before the upload"

    monkeypatch.setenv("GH_TOKEN", "t0ken")
    monkeypatch.setenv("GITHUB_REPOSITORY", "oxi/oxi")
    run = make_run(oxi_repo, upload_env, by_name("build", "publish"), github_release=True)
    gate = pipeline.run_release(run, steps[:2])
    assert gate.ok, gate.summary()  # no github-release step: no token needed
