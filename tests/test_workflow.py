"""`invoke workflow`: the release workflow made from the configuration, linted as GitHub would."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from packaging.version import Version

from releasekit.workflow import ACTIONS, WORKFLOW_PATH, package_for_tag
from releasekit.workspace import load_workspace
from tests.cli import invoke
from tests.conftest import PROJECT, git

if TYPE_CHECKING:
    from tests.pypiserver_fixtures import Dists, PypiServer

pytest_plugins = ["tests.pypiserver_fixtures"]

BIN = Path(sys.executable).parent
SIGNING = """
[tool.releasekit.signing]
identity = "https://github.com/acme/oxi/.github/workflows/release.yml@refs/tags/{tag}"
issuer = "https://token.actions.githubusercontent.com"
"""
TESTPYPI_FIRST = """
[tool.releasekit.workflow]
testpypi-first = true
"""


def lint(workflow: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """zizmor (offline), GitHub's workflow JSON schema, and actionlint on ``workflow``."""
    commands = {
        "zizmor": [str(BIN / "zizmor"), "--offline", "--no-progress", str(workflow)],
        "schema": [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(workflow),
        ],
        "actionlint": [str(BIN / "actionlint"), "-no-color", str(workflow)],
    }
    return {
        name: subprocess.run(command, capture_output=True, text=True, timeout=120)
        for name, command in commands.items()
    }


def assert_linters_accept(workflow: Path) -> None:
    for name, proc in lint(workflow).items():
        assert proc.returncode == 0, f"{name}:\n{proc.stdout}\n{proc.stderr}"
    assert "No findings to report" in lint(workflow)["zizmor"].stdout


def jobs(workflow: Path) -> dict[str, Any]:
    data = yaml.safe_load(workflow.read_text())
    result: dict[str, Any] = data["jobs"]
    return result


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if s.get("uses", "").startswith(action + "@")]


def configure(repo: Path, extra: str) -> None:
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + extra)
    git(repo, "commit", "-qam", "configure the release workflow")


@pytest.mark.parametrize(
    "extra", ["", SIGNING + TESTPYPI_FIRST], ids=["defaults", "signed-testpypi-first"]
)
def test_the_written_workflow_passes_zizmor_the_schema_and_actionlint(
    oxi_repo: Path, extra: str
) -> None:
    configure(oxi_repo, extra) if extra else None
    proc = invoke(oxi_repo, "workflow")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "wrote .github/workflows/release.yml"
    workflow = oxi_repo / WORKFLOW_PATH
    assert_linters_accept(workflow)
    again = invoke(oxi_repo, "workflow")
    assert again.stdout.strip() == ".github/workflows/release.yml is already up to date"
    check = invoke(oxi_repo, "workflow", "--check")
    assert check.returncode == 0 and "is up to date" in check.stdout


def test_least_privilege_pinned_actions_and_no_expressions_in_scripts(oxi_repo: Path) -> None:
    configure(oxi_repo, SIGNING + TESTPYPI_FIRST)
    assert invoke(oxi_repo, "workflow").returncode == 0
    workflow = oxi_repo / WORKFLOW_PATH
    data = yaml.safe_load(workflow.read_text())
    assert data["permissions"] == {}
    found = data["jobs"]
    assert list(found) == [
        "rehearse", "build", "sign", "testpypi", "publish", "verify", "github-release"
    ]  # fmt: skip
    for name, job in found.items():
        permissions = job["permissions"]
        assert (permissions.get("id-token") == "write") == (
            name in {"sign", "testpypi", "publish"}
        ), name
        assert (permissions.get("contents") == "write") == (name == "github-release"), name
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), (name, step)
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
    text = workflow.read_text()
    uses = re.findall(r"uses: (\S+)@(\S+) # (v\S+)", text)
    assert uses and len(uses) == text.count("uses: ")
    pinned = {repo: f"{sha} # {version}" for repo, sha, version in uses}
    assert pinned == dict(ACTIONS.values())
    assert all(re.fullmatch(r"[0-9a-f]{40}", sha) for _, sha, _ in uses)
    # the human gate and the RC flow
    assert found["publish"]["environment"] == {"name": "pypi"}
    assert found["testpypi"]["environment"] == {"name": "testpypi"}
    assert found["testpypi"]["if"] == "needs.build.outputs.prerelease == 'true'"
    assert found["publish"]["needs"] == ["build", "sign", "testpypi"]
    assert found["github-release"]["needs"] == "verify"


def test_tags_matrix_and_sessions_come_from_the_configuration(oxi_repo: Path) -> None:
    assert invoke(oxi_repo, "workflow").returncode == 0
    data = yaml.safe_load((oxi_repo / WORKFLOW_PATH).read_text())
    on = data[True]  # YAML 1.1 reads the key `on` as a boolean
    assert on["push"]["tags"] == ["oxi-core-v*", "oxi-adapter-reference-v*"]
    assert on["workflow_dispatch"]["inputs"]["rehearse"]["default"] is True
    verify = data["jobs"]["verify"]
    assert verify["strategy"]["matrix"] == {
        "os": ["ubuntu-latest", "macos-latest", "windows-latest"],
        "python": ["3.10", "3.11", "3.12", "3.13", "3.14"],  # requires-python = ">=3.10"
    }
    runs = [s["run"] for job in data["jobs"].values() for s in job["steps"] if "run" in s]
    for session in ("build", "publish", "verify", "github-release"):
        assert any(f"python -m nox -s {session} -- " in run for run in runs), session
    assert "sign" not in data["jobs"]  # no [tool.releasekit.signing]: no sign job
    assert "python -m pip install releasekit pytest ruff" in runs  # the lint/test tools


def test_check_catches_drift_with_one_error_and_a_hint(oxi_repo: Path) -> None:
    missing = invoke(oxi_repo, "workflow", "--check")
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [
        "error: .github/workflows/release.yml does not exist",
        "hint: run `invoke workflow` to write it, then commit it",
    ]
    assert invoke(oxi_repo, "workflow").returncode == 0
    workflow = oxi_repo / WORKFLOW_PATH
    workflow.write_text(workflow.read_text().replace("fail-fast: false", "fail-fast: true"))
    edited = invoke(oxi_repo, "workflow", "--check")
    assert edited.returncode == 1
    lines = edited.stderr.splitlines()
    assert len(lines) == 2 and "Traceback" not in edited.stderr
    assert re.fullmatch(
        r"error: \.github/workflows/release\.yml differs from what `invoke workflow` writes "
        r"\(first at line \d+\)",
        lines[0],
    )
    assert lines[1].startswith("hint: run `invoke workflow` and commit the result")

    assert invoke(oxi_repo, "workflow").returncode == 0
    configure(oxi_repo, TESTPYPI_FIRST)  # the configuration moved on: the file is stale
    assert invoke(oxi_repo, "workflow", "--check").returncode == 1


def test_a_bad_workflow_setting_is_one_clean_error(oxi_repo: Path) -> None:
    configure(oxi_repo, "\n[tool.releasekit.workflow]\ntestpypi-frist = true\n")
    proc = invoke(oxi_repo, "workflow")
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "error: unknown key tool.releasekit.workflow.testpypi-frist "
        "(did you mean 'testpypi-first'?)",
        "hint: valid keys here: testpypi-first, python, runners, install",
    ]
    assert not (oxi_repo / WORKFLOW_PATH).exists()


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("oxi-core-v0.1.0a1", ("oxi-core", "0.1.0a1")),
        ("oxi-adapter-reference-v2.0.0", ("oxi-adapter-reference", "2.0.0")),
        ("oxi-core-v1.0.0rc1", ("oxi-core", "1.0.0rc1")),
        ("oxi-core-vnope", None),
        ("v0.1.0", None),
        ("oxi-core", None),
    ],
)
def test_a_release_tag_names_its_package_and_version(
    oxi_repo: Path, tag: str, expected: tuple[str, str] | None
) -> None:
    found = package_for_tag(load_workspace(oxi_repo), tag)
    got = (found[0].name, str(found[1])) if found else None
    assert got == (expected and (expected[0], str(Version(expected[1]))))


def test_releasekit_uses_its_own_workflow() -> None:
    """This repository's release.yml is what its own `invoke workflow` writes; ci.yml lints."""
    check = invoke(PROJECT, "workflow", "--check")
    assert check.returncode == 0, check.stderr
    for name in ("release.yml", "ci.yml"):
        assert_linters_accept(PROJECT / ".github" / "workflows" / name)


def test_the_publish_job_uploads_exactly_the_files_it_was_handed_and_never_builds(
    oxi_repo: Path, oxi_dists: Dists, pypiserver: PypiServer
) -> None:
    from tests.cli import nox
    from tests.test_release import use_index

    use_index(oxi_repo, pypiserver.index)
    missing = nox(oxi_repo, "-s", "publish", "--", "oxi-core", "--index", "staging", "--yes")
    assert missing.returncode != 0
    assert "no sdist and wheel of oxi-core 0.1.0a1" in missing.stdout
    assert not (oxi_repo / "dist").exists() and pypiserver.listing() == {}

    handed = oxi_repo / "dist" / "oxi-core"  # as the download-artifact step leaves them
    handed.mkdir(parents=True)
    for path in oxi_dists.files:
        shutil.copy2(path, handed)
    tag = "oxi-core-v0.1.0a1"
    published = nox(
        oxi_repo, "-s", "publish", "--", tag, "--index", "staging", "--yes", server=pypiserver
    )
    assert published.returncode == 0, published.stdout
    assert pypiserver.listing() == {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in handed.iterdir()
        if p.name.endswith((".whl", ".tar.gz"))  # not the release record publish writes
    }
    assert "── build" not in published.stdout
