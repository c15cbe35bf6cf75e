"""The pipeline's orchestration, in-process: order, gating, the TestPyPI-first path."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from releasekit import pipeline
from releasekit.errors import NotConfirmed, ReleaseError
from releasekit.index import files_on_index, local_index
from releasekit.workspace import load_workspace

if TYPE_CHECKING:
    from tests.pypiserver_fixtures import PypiServer

pytest_plugins = ["tests.pypiserver_fixtures"]

LOCAL = {"preflight", "build", "check", "smoke"}


def steps(*names: str) -> list[pipeline.Step]:
    by_name = {step.name: step for step in pipeline.DEFAULT_STEPS}
    return [by_name[name] for name in names]


def test_testpypi_first_publishes_and_verifies_there_before_the_real_index(
    oxi_repo: Path, pypiserver: PypiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWINE_USERNAME", pypiserver.username)
    monkeypatch.setenv("TWINE_PASSWORD", pypiserver.password)
    workspace = load_workspace(oxi_repo)
    core = workspace.get("oxi-core")
    chosen = steps("preflight", "build", "check", "smoke", "testpypi", "publish", "verify")
    options = pipeline.ReleaseOptions(index="staging", testpypi_first=True, push=False)
    targets = pipeline.plan_release(workspace, [core], options=options, steps=chosen)
    with local_index() as rc_index:  # stands in for TestPyPI (anonymous uploads)
        run = pipeline.ReleaseRun(
            workspace=workspace,
            targets=targets,
            options=options,
            index=pypiserver.index,
            command_runner=pipeline.run_in_environment,
            testpypi=rc_index,
        )
        report = pipeline.run_release(run, chosen)
        on_rc = {f.filename for f in files_on_index(rc_index, "oxi-core", "0.1.0a1")}
    assert report.ok, report.summary()
    order = [record.step for record in report.records]
    assert order.index("testpypi") < order.index("publish") < order.index("verify")
    expected = {"oxi_core-0.1.0a1.tar.gz", "oxi_core-0.1.0a1-py3-none-any.whl"}
    assert on_rc == expected
    assert set(pypiserver.listing()) == expected
    testpypi_record = next(r for r in report.records if r.step == "testpypi")
    assert "uploaded 2" in testpypi_record.detail


def test_a_failed_local_step_sends_nothing(oxi_repo: Path, pypiserver: PypiServer) -> None:
    workspace = load_workspace(oxi_repo)
    core = workspace.get("oxi-core")

    def broken(run: pipeline.ReleaseRun, target: pipeline.Target) -> str:
        raise ReleaseError("the custom gate says no", "fix it")

    chosen = [
        *steps("preflight"),
        pipeline.Step("custom-check", broken),
        *steps("build", "publish"),
    ]
    options = pipeline.ReleaseOptions(index="staging", push=False)
    targets = pipeline.plan_release(workspace, [core], options=options, steps=chosen)
    run = pipeline.ReleaseRun(
        workspace, targets, options, pypiserver.index, pipeline.run_in_environment
    )
    report = pipeline.run_release(run, chosen)
    assert not report.ok and report.failed_step == "custom-check"
    assert [r.step for r in report.records] == ["preflight", "custom-check"]
    assert pypiserver.listing() == {}
    failure = report.failure()
    assert (
        "custom-check" in failure and "the custom gate says no" in failure and "fix it" in failure
    )
    assert "nothing left this machine" in failure


def test_plan_refuses_a_version_the_source_does_not_have(oxi_repo: Path) -> None:
    from packaging.version import Version

    workspace = load_workspace(oxi_repo)
    core = workspace.get("oxi-core")
    with pytest.raises(ReleaseError, match=r"not 0\.2\.0") as info:
        pipeline.plan_release(
            workspace, [core], options=pipeline.ReleaseOptions(),
            versions={core.canonical_name: Version("0.2.0")},
        )  # fmt: skip
    assert "invoke bump" in info.value.hint


def test_an_upload_to_pypi_that_nobody_confirmed_is_refused_and_sends_nothing(
    oxi_repo: Path, upload_env: PypiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    workspace = load_workspace(oxi_repo)
    # the real PyPI's rules (it asks before an upload), on a pypiserver on 127.0.0.1
    like_pypi = replace(upload_env.index, name="pypi")
    options = pipeline.ReleaseOptions(index="pypi", push=False)  # no --yes, no terminal
    chosen = steps("build", "publish")
    targets = pipeline.plan_release(workspace, [workspace.get("oxi-core")], options=options)
    asked: list[str] = []

    def answer(reply: bool) -> pipeline.ReleaseRun:
        def confirm(question: str) -> bool:
            asked.append(question)
            return reply

        return pipeline.ReleaseRun(
            workspace, targets, options, like_pypi, pipeline.run_in_environment, confirm=confirm
        )

    report = pipeline.run_release(answer(True), chosen)
    assert not report.ok and isinstance(report.error, NotConfirmed), report.summary()
    assert asked == []  # a run that cannot ask never takes a yes from anyone
    assert report.failed_step == "publish"
    failure = report.failure()
    assert "why: upload to pypi not confirmed: this run cannot ask (not at a terminal)" in failure
    assert "hint: pass --yes to upload without a question (CI=true implies it)" in failure
    assert "oxi-core 0.1.0a1: nothing uploaded" in failure
    assert upload_env.listing() == {}

    # at a terminal, a "no" refuses the same way
    options = replace(options, interactive=True)
    report = pipeline.run_release(answer(False), steps("publish"))
    assert isinstance(report.error, NotConfirmed), report.summary()
    assert asked == ["upload 2 file(s) of oxi-core 0.1.0a1 to pypi? This cannot be undone."]
    assert "hint: answer 'y', or pass --yes (CI=true implies it)" in report.failure()
    assert upload_env.listing() == {}
