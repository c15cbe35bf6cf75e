"""--json and GitHub Actions' summary and outputs, as a CI job would read them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema

from releasekit.output import actions_outputs, step_summary
from tests.conftest import PROJECT, git, repo_state
from tests.test_release import remote_tags, use_index

if TYPE_CHECKING:
    from tests.github_standin import GitHubStandIn
    from tests.pypiserver_fixtures import Dists, PypiServer

pytest_plugins = ["tests.pypiserver_fixtures", "tests.github_standin"]

SCHEMA = json.loads((PROJECT / "docs" / "reference" / "json-schema.json").read_text())
HEX64 = re.compile(r"[0-9a-f]{64}")


def run(
    repo: Path, tool: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m nox|invoke ARGS`` with stdout and stderr kept apart."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"CI", "GITHUB_ACTIONS", "RELEASEKIT_DEBUG"} and not k.startswith("PYTEST_")
    }
    base["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    return subprocess.run(
        [sys.executable, "-m", tool, *args],
        cwd=repo,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def document(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """stdout is exactly one JSON document, valid against the published schema."""
    doc: dict[str, Any] = json.loads(proc.stdout)  # fails on anything else on stdout
    jsonschema.validate(doc, SCHEMA)
    assert doc["schema"] == "releasekit/1"
    return doc


def actions_env(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(outputs),
    }
    return env, summary, outputs


def read_outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_a_rehearsal_in_actions_gives_one_json_document_a_summary_and_outputs(
    oxi_repo: Path, tmp_path: Path
) -> None:
    before = repo_state(oxi_repo)
    env, summary, outputs = actions_env(tmp_path)
    proc = run(oxi_repo, "nox", "-s", "release", "--", "--all", "--rehearse", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    doc = document(proc)
    assert (doc["kind"], doc["mode"], doc["ok"], doc["index"]) == (
        "release",
        "rehearsal",
        True,
        "local",
    )
    assert [p["name"] for p in doc["packages"]] == ["oxi-core", "oxi-adapter-reference"]
    core = doc["packages"][0]
    assert (core["version"], core["tag"], core["prerelease"]) == (
        "0.1.0a1", "oxi-core-v0.1.0a1", True
    )  # fmt: skip
    assert sorted(f["name"] for f in core["files"]) == [
        "oxi_core-0.1.0a1-py3-none-any.whl", "oxi_core-0.1.0a1.tar.gz"
    ]  # fmt: skip
    assert all(HEX64.fullmatch(f["sha256"]) and f["size"] > 0 for f in core["files"])
    results = {(s["step"], s["package"]): s["result"] for s in doc["steps"]}
    assert results[("publish", "oxi-core")] == "ok"
    assert results[("tag", "oxi-core")] == "skipped"
    assert all(s["seconds"] >= 0 for s in doc["steps"])
    assert doc["sent"] == [] and doc["left_machine"] is False and doc["error"] is None
    # the human output went to stderr
    assert "── build · oxi-core 0.1.0a1 ──" in proc.stderr
    assert re.search(r"^publish\s+oxi-core\s+ok", proc.stderr, re.M)

    assert read_outputs(outputs) == {
        "released": "false",  # a rehearsal releases nothing
        "version": "0.1.0a1 0.1.0a1",
        "tag": "oxi-core-v0.1.0a1 oxi-adapter-reference-v0.1.0a1",
        "files": json.dumps(
            sorted(f["name"] for f in core["files"])
            + sorted(f["name"] for f in doc["packages"][1]["files"])
        ),
        "prerelease": "true",
    }
    markdown = summary.read_text()
    assert markdown.startswith(
        "### releasekit release: oxi-core 0.1.0a1, oxi-adapter-reference 0.1.0a1 (rehearsal, ok)"
    )
    assert "| step | package | result | time | detail |" in markdown
    assert re.search(r"^\| publish \| oxi-core \| ok \| [0-9.]+ s \|", markdown, re.M)
    assert re.search(
        r"^\| oxi-core \| oxi_core-0\.1\.0a1\.tar\.gz \| `[0-9a-f]{64}` \|", markdown, re.M
    )
    assert repo_state(oxi_repo) == before


def test_plan_json_lists_the_steps_and_runs_nothing(oxi_repo: Path) -> None:
    proc = run(oxi_repo, "nox", "-s", "release", "--", "oxi-core", "--plan", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = document(proc)
    assert (doc["kind"], doc["mode"], doc["index"]) == ("plan", "release", "pypi")
    assert [s["step"] for s in doc["steps"]][:3] == ["preflight", "lint", "test"]
    assert {s["step"]: s["remote"] for s in doc["steps"]}["publish"] is True
    assert doc["packages"][0]["files"] == []  # nothing built
    assert "nothing was run (--plan)" in proc.stderr
    assert not (oxi_repo / "dist").exists()


def test_a_failure_is_still_one_document_with_the_error_and_hint(oxi_repo: Path) -> None:
    (oxi_repo / "stray.txt").write_text("not committed\n")
    proc = run(oxi_repo, "nox", "-s", "release", "--", "oxi-core", "--rehearse", "--json")
    assert proc.returncode != 0
    doc = document(proc)
    assert doc["ok"] is False and doc["left_machine"] is False
    error = doc["error"]
    assert (error["step"], error["package"], error["type"]) == (
        "preflight", "oxi-core", "PreflightFailed"
    )  # fmt: skip
    assert error["hint"]
    assert doc["steps"][-1]["result"] == "failed"
    assert "Traceback" not in proc.stderr

    bad = run(oxi_repo, "nox", "-s", "release", "--", "no-such-package", "--json")
    assert bad.returncode != 0
    doc = document(bad)
    assert doc["ok"] is False and doc["error"]["type"] == "PackageNotFound"
    assert "no-such-package" in doc["error"]["message"]


def test_verify_json_says_what_was_proved(
    oxi_repo: Path, oxi_dists: Dists, pypiserver: PypiServer
) -> None:
    for path in oxi_dists.files:
        pypiserver.put(path)
    use_index(oxi_repo, pypiserver.index)
    proc = run(
        oxi_repo, "nox", "-s", "verify", "--", "oxi-core", "0.1.0a1", "--index", "staging",
        "--wheel", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = document(proc)
    assert doc["kind"] == "verify" and doc["index"] == "staging"
    (package,) = doc["packages"]
    assert (package["name"], package["version"], package["checked"]) == (
        "oxi-core", "0.1.0a1", ["wheel"]
    )  # fmt: skip
    assert any("0.1.0a1" in line for line in package["proof"])


def test_status_json(oxi_repo: Path) -> None:
    proc = run(oxi_repo, "invoke", "status", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = document(proc)
    assert doc["kind"] == "status"
    assert [(p["name"], p["version"], p["tag_state"]) for p in doc["packages"]] == [
        ("oxi-core", "0.1.0a1", "missing"),
        ("oxi-adapter-reference", "0.1.0a1", "missing"),
    ]
    assert "version at source" in proc.stderr  # the human table, on stderr


def test_a_real_release_in_actions_reports_what_left_the_machine(
    oxi_repo: Path, pypiserver: PypiServer, github_api: GitHubStandIn, tmp_path: Path
) -> None:
    use_index(oxi_repo, pypiserver.index)
    git(oxi_repo, "push", "-q", "origin", "main")
    env, summary, outputs = actions_env(tmp_path)
    env.update(
        TWINE_USERNAME=pypiserver.username,
        TWINE_PASSWORD=pypiserver.password,
        GITHUB_API_URL=github_api.url,
        GITHUB_TOKEN=github_api.token,
        GITHUB_REPOSITORY="acme/oxi",
    )
    proc = run(
        oxi_repo, "nox", "-s", "release", "--", "oxi-core", "--index", "staging", "--json",
        env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = document(proc)
    assert doc["mode"] == "release" and doc["ok"] is True
    assert [s["step"] for s in doc["sent"]] == ["publish", "verify", "tag", "github-release"]
    assert doc["left_machine"] is True
    files = {f["name"]: f["sha256"] for f in doc["packages"][0]["files"]}
    assert files == pypiserver.listing()  # the sha256 of what the index now serves
    assert "refs/tags/oxi-core-v0.1.0a1" in remote_tags(oxi_repo)
    release = github_api.release("acme/oxi", "oxi-core-v0.1.0a1")
    assert release is not None and sorted(a.name for a in release.assets) == sorted(files)
    out = read_outputs(outputs)
    assert (out["released"], out["version"], out["tag"]) == ("true", "0.1.0a1", "oxi-core-v0.1.0a1")
    assert json.loads(out["files"]) == sorted(files)
    assert "(release, ok)" in summary.read_text()
    assert github_api.token not in proc.stderr + proc.stdout


def test_the_summary_escapes_table_cells_and_shows_the_failure() -> None:
    doc = {
        "schema": "releasekit/1",
        "kind": "release",
        "command": "release",
        "mode": "release",
        "ok": False,
        "packages": [{"name": "a", "version": "1", "tag": "v1", "files": [], "prerelease": False}],
        "steps": [{"step": "lint", "package": "a", "result": "failed", "seconds": 0.5,
                   "detail": "ruff | exit 1"}],
        "sent": [],
        "error": {"step": "lint", "message": "lint failed", "hint": "fix it"},
    }  # fmt: skip
    text = step_summary(doc)
    assert "| lint | a | failed | 0.5 s | ruff \\| exit 1 |" in text
    assert "**Failed** at `lint`: lint failed" in text and "hint: fix it" in text
    assert actions_outputs(doc)["released"] == "false"


def test_the_workflow_build_job_on_a_detached_tag_checkout(oxi_repo: Path, tmp_path: Path) -> None:
    """What the release workflow's build job runs, where it runs: HEAD detached at the tag."""
    git(oxi_repo, "tag", "-a", "oxi-core-v0.1.0a1", "-m", "Release oxi-core 0.1.0a1")
    git(oxi_repo, "checkout", "-q", "--detach", "oxi-core-v0.1.0a1")
    env, summary, outputs = actions_env(tmp_path)
    proc = run(
        oxi_repo, "nox", "-s", "build", "--", "oxi-core-v0.1.0a1", "--preflight", "--json", env=env
    )
    assert proc.returncode == 0, proc.stderr
    doc = document(proc)
    assert [s["step"] for s in doc["steps"]] == [
        "preflight", "lint", "test", "build", "check", "smoke"
    ]  # fmt: skip
    assert {s["result"] for s in doc["steps"]} == {"ok"}  # preflight too, on a detached HEAD
    assert doc["sent"] == [] and doc["left_machine"] is False
    out = read_outputs(outputs)
    assert (out["released"], out["version"], out["tag"], out["prerelease"]) == (
        "false", "0.1.0a1", "oxi-core-v0.1.0a1", "true"
    )  # fmt: skip
    assert sorted(p.name for p in (oxi_repo / "dist" / "oxi-core").iterdir()) == json.loads(
        out["files"]
    )
    assert "### releasekit build: oxi-core 0.1.0a1 (release, ok)" in summary.read_text()
