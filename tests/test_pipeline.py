"""The pipeline's orchestration, in-process: order, gating, the TestPyPI-first path."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from releasekit import pipeline
from releasekit.errors import ConfigError, ReleaseError
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


@pytest.mark.parametrize(
    "names",
    [("publish", "build"), ("verify", "check"), ("tag", "preflight")],
    ids=" before ".join,
)
def test_a_local_step_after_a_remote_one_is_refused(names: tuple[str, str]) -> None:
    with pytest.raises(ConfigError, match="before"):
        pipeline.check_step_order(steps(*names))


def test_plan_names_steps_packages_versions_tags(oxi_repo: Path) -> None:
    workspace = load_workspace(oxi_repo)
    options = pipeline.ReleaseOptions(index="testpypi")
    targets = pipeline.plan_release(workspace, workspace.select(all_packages=True), options=options)
    text = pipeline.describe_plan(targets, options)
    for needle in ("testpypi", "oxi-core", "oxi-adapter-reference", "0.1.0a1",
                   "oxi-core-v0.1.0a1", "preflight", "publish", "verify", "tag"):  # fmt: skip
        assert needle in text
    assert text.index("oxi-core ") < text.index("oxi-adapter-reference")


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
