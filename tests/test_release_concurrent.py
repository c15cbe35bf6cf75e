"""Releasing several packages at once: build, check, smoke and verify run concurrently,
the output stays one block per package in dependency order, publish keeps the pins' order,
and a failure in one package's build stops the release before any upload with every
package's outcome reported.  (The speed itself is measured in bench/, never here.)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from tests.cli import nox
from tests.conftest import git, repo_state
from tests.test_release import remote_tags, summary_rows, use_index

if TYPE_CHECKING:
    from tests.pypiserver_fixtures import PypiServer

pytest_plugins = ["tests.pypiserver_fixtures"]

CORE, ADAPTER = "oxi-core", "oxi-adapter-reference"  # the adapter pins oxi-core==0.1.0a1
STEPS = ["preflight", "lint", "test", "build", "check", "smoke", "sign", "gate", "publish"]
STEPS += ["verify", "tag", "github-release"]
CONCURRENT = {"build", "check", "smoke", "verify"}


def blocks(output: str) -> list[tuple[str, str, str]]:
    """(step, package, text up to the next block) of each ``── step · package version ──``."""
    header = re.compile(r"^nox > ── ([\w-]+) · ([\w-]+) \S+ ──$", re.M)
    found = list(header.finditer(output))
    ends = [match.start() for match in found[1:]] + [len(output)]
    return [(m[1], m[2], output[m.end() : end]) for m, end in zip(found, ends, strict=True)]


def test_all_packages_rehearse_in_one_block_each_in_the_pins_order(oxi_repo: Path) -> None:
    result = nox(oxi_repo, "-s", "release", "--", "--all", "--rehearse")
    out = result.stdout
    assert result.returncode == 0, out
    found = blocks(out)
    assert [(step, package) for step, package, _ in found] == [
        (step, package) for step in STEPS for package in (CORE, ADAPTER)
    ], "one block per step and package, oxi-core first each time"
    for step, package, text in found:
        # each block ends with its own result line; a concurrent step's block holds
        # only its own package's lines
        result_line = re.compile(rf"^nox >    {step} (ok|skipped) in [0-9.]+ s", re.M)
        assert len(result_line.findall(text)) == 1, (step, package, text)
        other = ADAPTER if package == CORE else CORE
        if step in CONCURRENT:
            assert other.replace("-", "_") + "-0.1.0a1" not in text, (step, package, text)
    by_block = {(step, package): text for step, package, text in found}
    for package in (CORE, ADAPTER):
        stem = package.replace("-", "_")
        assert (
            f"built {stem}-0.1.0a1.tar.gz and {stem}-0.1.0a1-py3-none-any.whl in"
            in (by_block["build", package])
        )
        assert f"verifying the wheel of {package} 0.1.0a1 from local" in by_block["verify", package]
    uploads = [
        out.index(f"uploaded {name} to local")
        for name in ("oxi_core-0.1.0a1.tar.gz", "oxi_adapter_reference-0.1.0a1.tar.gz")
    ]
    assert uploads == sorted(uploads), "oxi-core is published before the adapter that pins it"
    assert all(result != "FAILED" for _, _, result in summary_rows(out))


def test_a_failing_build_stops_the_release_before_any_upload_and_reports_every_package(
    oxi_repo: Path, pypiserver: PypiServer
) -> None:
    repo = oxi_repo
    use_index(repo, pypiserver.index)
    (repo / "hatch_build.py").write_text(
        '"""A build hook that fails."""\n\n'
        "from hatchling.builders.hooks.plugin.interface import BuildHookInterface\n\n\n"
        "class CustomBuildHook(BuildHookInterface):\n"
        "    def initialize(self, version, build_data):\n"
        '        raise RuntimeError("oxi-core build: broken")\n'
    )
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + "\n[tool.hatch.build.targets.sdist.hooks.custom]\n"
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a build hook that fails")
    before = repo_state(repo)

    result = nox(repo, "-s", "release", "--", "--all", "--index", "staging", server=pypiserver)
    out = result.stdout
    assert result.returncode != 0, out
    rows = summary_rows(out)
    assert ("build", CORE, "FAILED") in rows
    assert ("build", ADAPTER, "ok") in rows, "the other package's build ran and is reported"
    assert not any(step not in STEPS[:4] for step, _, _ in rows), "nothing after the build"
    assert "FAILED at step 'build' (oxi-core)" in out
    assert "oxi-core build: broken" in out
    assert "nothing left this machine: no upload, no tag" in out
    assert pypiserver.listing() == {}
    assert remote_tags(repo) == "" and git(repo, "tag", "-l") == ""
    assert repo_state(repo) == before
