"""The GitHub release step, against a loopback stand-in of GitHub's releases API."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from packaging.version import Version

from releasekit.errors import CredentialsError
from releasekit.github import (
    GitHubError,
    github_release,
    github_target,
    release_assets,
    release_package,
)
from releasekit.workspace import load_workspace
from tests.conftest import git

if TYPE_CHECKING:
    from tests.github_standin import GitHubStandIn
    from tests.pypiserver_fixtures import Dists

pytest_plugins = ["tests.github_standin", "tests.pypiserver_fixtures"]

REPOSITORY = "acme/oxi"
TAG = "oxi-core-v0.1.0a1"


def env_for(api: GitHubStandIn, **extra: str) -> dict[str, str]:
    return {
        "GITHUB_API_URL": api.url,
        "GITHUB_TOKEN": api.token,
        "GITHUB_REPOSITORY": REPOSITORY,
        **extra,
    }


def put_dists(repo: Path, dists: Dists) -> list[Path]:
    """oxi-core's built files where `nox -s build` leaves them: dist/oxi-core/."""
    dest = repo / "dist" / "oxi-core"
    dest.mkdir(parents=True)
    return [Path(shutil.copy2(f, dest)) for f in dists.files]


def run_session(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"GITHUB_TOKEN", "GH_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL"}
        and not k.startswith("PYTEST_")
    }
    return subprocess.run(
        [sys.executable, "-m", "nox", "-s", "github-release", "--", *args],
        cwd=repo,
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=240,
    )


def test_the_session_creates_the_release_with_both_dists_then_changes_nothing(
    oxi_repo: Path, oxi_dists: Dists, github_api: GitHubStandIn
) -> None:
    files = put_dists(oxi_repo, oxi_dists)
    first = run_session(oxi_repo, env_for(github_api), "oxi-core")
    assert first.returncode == 0, first.stdout
    assert f"GitHub release {TAG} created, 2 file(s) attached" in first.stdout
    assert github_api.token not in first.stdout

    release = github_api.release(REPOSITORY, TAG)
    assert release is not None
    assert release.name == "oxi-core 0.1.0a1"
    assert release.prerelease is True and release.draft is False
    assert "First alpha: the `oxi` command and the core package." in release.body
    assert {a.name: a.data for a in release.assets} == {f.name: f.read_bytes() for f in files}
    assert {a.content_type for a in release.assets} == {"application/octet-stream"}
    # uploads went to the upload_url the API handed out, not a URL made up by the client
    assert [p for m, p in github_api.writes() if "assets" in p] == [
        f"/uploads/repos/{REPOSITORY}/releases/{release.id}/assets"
    ] * 2

    writes_before = len(github_api.writes())
    again = run_session(oxi_repo, env_for(github_api), TAG)  # a release tag names it too
    assert again.returncode == 0, again.stdout
    assert f"GitHub release {TAG} already up to date (2 file(s) attached): nothing changed" in (
        again.stdout
    )
    assert len(github_api.writes()) == writes_before
    assert git(oxi_repo, "status", "--porcelain", "--untracked-files=no") == ""


def test_bundles_and_attestations_go_with_the_dists(
    oxi_repo: Path, oxi_dists: Dists, github_api: GitHubStandIn
) -> None:
    files = put_dists(oxi_repo, oxi_dists)
    wheel = next(f for f in files if f.suffix == ".whl")
    (wheel.parent / (wheel.name + ".sigstore.json")).write_text('{"bundle": 1}')
    (wheel.parent / (wheel.name + ".publish.attestation")).write_text('{"att": 1}')
    (wheel.parent / "notes.txt").write_text("not a release file")
    assert [p.name for p in release_assets(files)] == sorted(
        [f.name for f in files]
        + [wheel.name + ".publish.attestation", wheel.name + ".sigstore.json"]
    )
    workspace = load_workspace(oxi_repo)
    result = release_package(
        oxi_repo,
        workspace.get("oxi-core"),
        Version("0.1.0a1"),
        files,
        environ=env_for(github_api),
    )
    assert result.action == "created" and len(result.uploaded) == 4
    release = github_api.release(REPOSITORY, TAG)
    assert release is not None
    assert wheel.name + ".sigstore.json" in {a.name for a in release.assets}


def test_an_asset_with_other_bytes_is_an_error_and_nothing_is_replaced(
    oxi_repo: Path, oxi_dists: Dists, github_api: GitHubStandIn
) -> None:
    files = put_dists(oxi_repo, oxi_dists)
    assert run_session(oxi_repo, env_for(github_api), "oxi-core").returncode == 0
    release = github_api.release(REPOSITORY, TAG)
    assert release is not None
    before = {a.name: a.data for a in release.assets}
    wheel = next(f for f in files if f.suffix == ".whl")
    wheel.write_bytes(wheel.read_bytes() + b"\0")

    proc = run_session(oxi_repo, env_for(github_api), "oxi-core")
    assert proc.returncode != 0
    assert f"the GitHub release {TAG} already has {wheel.name!r} with other bytes" in proc.stdout
    assert "hint: the files of a release never change" in proc.stdout
    assert "Traceback" not in proc.stdout
    assert {a.name: a.data for a in release.assets} == before


def test_without_digests_the_bytes_are_compared(
    oxi_repo: Path, oxi_dists: Dists, github_api: GitHubStandIn
) -> None:
    github_api.digests = False  # an older GitHub Enterprise gives no sha256 digest
    files = put_dists(oxi_repo, oxi_dists)
    target = github_target(oxi_repo, environ=env_for(github_api))
    args = {"tag": TAG, "name": "n", "body": "b", "prerelease": True, "files": files}
    assert github_release(target, **args).action == "created"  # type: ignore[arg-type]
    second = github_release(target, **args)  # type: ignore[arg-type]
    assert not second.changed and len(second.already) == 2
    assert ("GET", f"/repos/{REPOSITORY}/releases/assets/3") in github_api.requests
    files[0].write_bytes(files[0].read_bytes()[:-1] + b"X")
    with pytest.raises(GitHubError, match="with other bytes"):
        github_release(target, **args)  # type: ignore[arg-type]


def test_changed_notes_update_the_release(
    oxi_repo: Path, oxi_dists: Dists, github_api: GitHubStandIn
) -> None:
    files = put_dists(oxi_repo, oxi_dists)
    target = github_target(oxi_repo, environ=env_for(github_api))
    common = {"tag": TAG, "name": "oxi-core 0.1.0a1", "prerelease": True, "files": files}
    github_release(target, body="first", **common)  # type: ignore[arg-type]
    result = github_release(target, body="second", **common)  # type: ignore[arg-type]
    assert result.action == "updated" and result.uploaded == []
    assert result.describe() == f"GitHub release {TAG} updated, 2 already there"
    release = github_api.release(REPOSITORY, TAG)
    assert release is not None and release.body == "second"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/acme/oxi.git", "acme/oxi"),
        ("git@github.com:acme/oxi.git", "acme/oxi"),
        ("ssh://git@ghe.example/acme/oxi", "acme/oxi"),
        ("https://ghe.example/acme/oxi/", "acme/oxi"),
    ],
)
def test_the_repository_comes_from_the_origin_remote(
    oxi_repo: Path, url: str, expected: str
) -> None:
    git(oxi_repo, "remote", "set-url", "origin", url)
    target = github_target(oxi_repo, environ={"GH_TOKEN": "gho_secret-value"})
    assert (target.repository, target.api_url) == (expected, "https://api.github.com")
    assert "gho_secret-value" not in repr(target)


def test_no_token_is_one_clear_error(oxi_repo: Path) -> None:
    with pytest.raises(CredentialsError, match="neither GITHUB_TOKEN nor GH_TOKEN") as caught:
        github_target(oxi_repo, environ={"GITHUB_REPOSITORY": REPOSITORY})
    assert "contents: write" in caught.value.hint


def test_a_refused_token_is_a_credentials_error_that_never_shows_the_token(
    oxi_repo: Path, oxi_dists: Dists, github_api: GitHubStandIn
) -> None:
    put_dists(oxi_repo, oxi_dists)
    wrong = "ghp_wrong-token-0123456789abcdef"
    proc = run_session(oxi_repo, env_for(github_api, GITHUB_TOKEN=wrong), "oxi-core")
    assert proc.returncode != 0
    assert "GitHub refused GET" in proc.stdout and "HTTP 401 Bad credentials" in proc.stdout
    assert "hint: the token needs `contents: write` on acme/oxi" in proc.stdout
    assert wrong not in proc.stdout
    assert github_api.release(REPOSITORY, TAG) is None


def test_the_pipeline_step_is_skipped_outside_actions_and_in_a_rehearsal(
    oxi_repo: Path, oxi_dists: Dists, github_api: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from releasekit import pipeline

    put_dists(oxi_repo, oxi_dists)
    workspace = load_workspace(oxi_repo)
    package = workspace.get("oxi-core")
    step = next(s for s in pipeline.DEFAULT_STEPS if s.name == "github-release")
    assert step.remote and pipeline.DEFAULT_STEPS[-1] is step

    def run_with(**options: object) -> pipeline.ReleaseRun:
        target = pipeline.Target(package, Version("0.1.0a1"), TAG, package.dist_dir)
        return pipeline.ReleaseRun(
            workspace=workspace,
            targets=[target],
            options=pipeline.ReleaseOptions(**options),  # type: ignore[arg-type]
            index=workspace.config.index("pypi"),
            command_runner=pipeline.run_in_environment,
        )

    for key, value in env_for(github_api).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    quiet = run_with()
    with pytest.raises(pipeline.SkipStep, match="not in GitHub Actions"):
        step.action(quiet, quiet.targets[0])
    rehearsal = run_with(rehearse=True, github_release=True)
    with pytest.raises(pipeline.SkipStep, match="rehearsal: would make the GitHub release"):
        step.action(rehearsal, rehearsal.targets[0])
    assert github_api.requests == []

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    in_actions = run_with()
    assert "created, 2 file(s) attached" in (step.action(in_actions, in_actions.targets[0]) or "")
    with pytest.raises(pipeline.SkipStep, match="nothing changed"):
        step.action(in_actions, in_actions.targets[0])
    release = github_api.release(REPOSITORY, TAG)
    assert release is not None
    assert sorted(hashlib.sha256(a.data).hexdigest() for a in release.assets) == sorted(
        hashlib.sha256(f.read_bytes()).hexdigest() for f in oxi_dists.files
    )
