"""The release pipeline end to end, run as users run it: `nox -s release` in a git copy of oxi.

Every test drives the real ``nox`` (and ``invoke``) command line as a
subprocess in a fresh copy of examples/oxi with a bare ``origin``; uploads
go to a real pypiserver on 127.0.0.1 configured as the ``staging`` index in
the copy's pyproject.  What is checked is what a user sees: exit codes, the
step headers and the summary table, the files on the index, the tags on the
remote, and a work tree left as it was.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from releasekit import pipeline
from releasekit.config import IndexConfig
from releasekit.errors import ConfigError
from releasekit.notes import STUB_MARKER
from releasekit.workspace import load_workspace
from tests.cli import nox, run_cli
from tests.conftest import PROJECT, git, repo_state

if TYPE_CHECKING:
    from tests.pypiserver_fixtures import FlakyFront, PypiServer

pytest_plugins = ["tests.pypiserver_fixtures"]

CORE_FILES = {"oxi_core-{v}.tar.gz", "oxi_core-{v}-py3-none-any.whl"}
ADAPTER_FILES = {"oxi_adapter_reference-{v}.tar.gz", "oxi_adapter_reference-{v}-py3-none-any.whl"}
CUSTOM_NOXFILE = PROJECT / "examples" / "custom-pipeline" / "noxfile.py"


def files(names: set[str], version: str) -> set[str]:
    return {name.format(v=version) for name in names}


def use_index(
    repo: Path, index: IndexConfig, name: str = "staging", *, upload_url: str | None = None
) -> None:
    """Configure ``index`` as [tool.releasekit.indexes.NAME] and commit it."""
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + f'\n[tool.releasekit.indexes.{name}]\nupload-url = "{upload_url or index.upload_url}"\n'
        f'simple-url = "{index.simple_url}"\n'
    )
    git(repo, "commit", "-qam", f"release to {name}")


def remote_tags(repo: Path) -> str:
    return git(repo, "ls-remote", "--tags", "origin")


def summary_rows(output: str) -> list[tuple[str, str, str]]:
    """(step, package, result) of each row of the summary table."""
    row = re.compile(r"^([\w-]+)\s+(oxi-[\w-]+)\s+(ok|skipped|FAILED)\s+[0-9.]+ s\b", re.M)
    return row.findall(output)


def test_the_runbook_story_literal_then_bump_then_release_then_nothing_to_do(  # noqa: PLR0915  the runbook's story, step by step
    oxi_repo: Path, pypiserver: PypiServer
) -> None:
    """0.1.0a1 shipped a hardcoded __version__; release 0.1.0a2 the way the runbook says."""
    repo = oxi_repo
    use_index(repo, pypiserver.index)
    init = repo / "src" / "oxi_core" / "__init__.py"
    good_init = init.read_text()
    init.write_text('"""oxi core."""\n\n__version__ = "0.0.0"\n')
    git(repo, "commit", "-qam", "hardcode the version (the bug)")
    release = ("-s", "release", "--", "oxi-core", "--index", "staging")

    refused = nox(repo, *release, server=pypiserver)
    assert refused.returncode != 0, refused.stdout
    out = refused.stdout
    assert "FAILED at step 'preflight' (oxi-core)" in out
    assert "src/oxi_core/__init__.py:3 hardcodes __version__ = '0.0.0', releasing 0.1.0a1" in out
    assert "importlib.metadata" in out  # the fix is named
    assert "nothing left this machine" in out
    assert "then run: nox -s release -- oxi-core --index staging" in out
    assert "Traceback" not in out
    assert pypiserver.listing() == {}
    assert git(repo, "tag", "-l") == "" and remote_tags(repo) == ""

    init.write_text(good_init)
    bumped = run_cli(repo, "invoke", "bump", "--pre", "--package", "oxi-core")
    assert bumped.returncode == 0, bumped.stdout
    notes = repo / "docs" / "release-notes" / "v0.1.0a2.md"
    assert STUB_MARKER in notes.read_text()
    notes.write_text(
        notes.read_text().replace(STUB_MARKER, "Fixed: `oxi --version` shows the real version.")
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "oxi-core 0.1.0a2")

    released = nox(repo, *release, server=pypiserver)
    assert released.returncode == 0, released.stdout
    out = released.stdout
    for step in ("preflight", "lint", "test", "build", "check", "smoke", "sign", "publish"):
        assert f"── {step} · oxi-core 0.1.0a2 ──" in out  # a header per step
    assert re.search(r"^nox >\s+build ok in [0-9.]+ s: oxi_core-0\.1\.0a2\.tar\.gz", out, re.M)
    assert [row[0] for row in summary_rows(out)] == [
        "preflight", "lint", "test", "build", "check", "smoke", "sign", "gate", "publish", "verify",
        "tag", "github-release",
    ]  # fmt: skip
    assert ("github-release", "oxi-core", "skipped") in summary_rows(out)  # not in Actions
    assert ("sign", "oxi-core", "skipped") in summary_rows(out)
    assert "this release is unsigned" in out
    listing = pypiserver.listing()
    assert set(listing) == files(CORE_FILES, "0.1.0a2")
    tags = remote_tags(repo)
    assert "refs/tags/oxi-core-v0.1.0a2" in tags
    assert git(repo, "rev-parse", "oxi-core-v0.1.0a2^{commit}") == git(repo, "rev-parse", "HEAD")

    verified = nox(repo, "-s", "verify", "--", "oxi-core", "0.1.0a2", "--index", "staging")
    assert verified.returncode == 0, verified.stdout
    assert "oxi --version -> oxi 0.1.0a2" in verified.stdout
    assert "verified oxi-core 0.1.0a2 on staging" in verified.stdout

    again = nox(repo, *release, server=pypiserver)
    assert again.returncode == 0, again.stdout
    assert (
        "oxi-core 0.1.0a2 is already published on staging (sha256 as recorded) and tagged"
        in again.stdout
    )
    assert summary_rows(again.stdout) == [("all", "oxi-core", "skipped")]
    assert pypiserver.listing() == listing
    assert remote_tags(repo) == tags


def test_a_rehearsal_of_all_leaves_no_trace_and_stages_siblings_in_order(
    oxi_repo: Path, pypiserver: PypiServer, tmp_path: Path
) -> None:
    from tests.pypiserver_fixtures import make_wheel  # (a plugin module: imported late)

    repo = oxi_repo
    use_index(repo, pypiserver.index)
    pypiserver.put(make_wheel(tmp_path / "earlier", "oxi-core", "0.0.1"))  # staging holds one
    state, listing, tags = repo_state(repo), pypiserver.listing(), remote_tags(repo)

    result = nox(repo, "-s", "release", "--", "--all", "--rehearse")  # no credentials given
    out = result.stdout
    assert result.returncode == 0, out
    rows = summary_rows(out)
    assert ("tag", "oxi-core", "skipped") in rows
    assert ("tag", "oxi-adapter-reference", "skipped") in rows
    assert "rehearsal: would tag oxi-core-v0.1.0a1 and push it to origin" in out
    assert all(result != "FAILED" for _, _, result in rows)

    (local,) = re.findall(r"local index at (http://127\.0\.0\.1:\d+/) serving", out)
    publishes = [
        out.index(f"uploaded {name} to local")
        for name in ("oxi_core-0.1.0a1.tar.gz", "oxi_adapter_reference-0.1.0a1.tar.gz")
    ]
    assert publishes == sorted(publishes), "oxi-core is staged before the adapter"
    verify_adapter = out[out.index("── verify · oxi-adapter-reference") :]
    assert (
        "installed oxi-adapter-reference==0.1.0a1, oxi-core==0.1.0a1 "
        f"(from {local}simple/ then https://pypi.org/simple/)" in verify_adapter
    ), "the adapter's verify took oxi-core from the embedded index first"
    assert re.search(rf"local index on port {local.rsplit(':', 1)[1][:-1]} stopped", out)

    (dist_root,) = set(re.findall(r"built \S+ and \S+ in (\S+)/oxi[-\w]+\n", out))
    assert not Path(dist_root).exists(), "the rehearsal's dists lived in a temp dir, now gone"
    assert not (repo / "dist").exists()
    assert repo_state(repo) == state
    assert remote_tags(repo) == tags
    assert pypiserver.listing() == listing, "the configured index was not touched"


def test_a_release_interrupted_after_the_sdist_resumes_with_the_same_command(
    oxi_repo: Path, pypiserver: PypiServer, flaky_front: Callable[..., FlakyFront]
) -> None:
    repo = oxi_repo
    front = flaky_front(2)  # the wheel's upload answers 500 twice: one try + one retry
    # uploads go through the flaky front, reads to the index itself (as upload.pypi.org and
    # pypi.org are two hosts)
    use_index(repo, pypiserver.index, upload_url=front.index.upload_url)
    command = ("-s", "release", "--", "oxi-core", "--index", "staging", "--retries", "1")

    first = nox(repo, *command, server=pypiserver)
    out = first.stdout
    assert first.returncode != 0, out
    assert front.failed == 2
    assert ("publish", "oxi-core", "FAILED") in summary_rows(out)
    assert "verify" not in [row[0] for row in summary_rows(out)]
    assert "FAILED at step 'publish' (oxi-core)" in out
    assert "why: upload of 'oxi_core-0.1.0a1-py3-none-any.whl' to 'staging' failed" in out
    assert (
        "then run: nox -s release -- oxi-core --index staging --retries 1   "
        "(safe to repeat: finished work is skipped)"
    ) in out
    assert "nothing left this machine" not in out
    assert (
        "what left this machine:\n"
        "  oxi-core 0.1.0a1: on staging: oxi_core-0.1.0a1.tar.gz (uploaded now); "
        "tag oxi-core-v0.1.0a1 not made\n"
    ) in out
    sdist = repo / "dist" / "oxi-core" / "oxi_core-0.1.0a1.tar.gz"
    assert set(pypiserver.listing()) == {sdist.name}
    assert git(repo, "tag", "-l") == "" and remote_tags(repo) == ""

    second = nox(repo, *command, server=pypiserver)
    out = second.stdout
    assert second.returncode == 0, out
    rows = summary_rows(out)
    assert ("build", "oxi-core", "skipped") in rows  # the files of the first run are reused
    assert "resuming: the files in dist/oxi-core/ match those on staging" in out
    assert re.search(
        r"^publish\s+oxi-core\s+ok\s+[0-9.]+ s\s+uploaded 1, 1 already there$", out, re.M
    )
    assert ("verify", "oxi-core", "ok") in rows and ("tag", "oxi-core", "ok") in rows
    assert set(pypiserver.listing()) == files(CORE_FILES, "0.1.0a1")
    assert "refs/tags/oxi-core-v0.1.0a1" in remote_tags(repo)


def test_plan_prints_steps_packages_versions_index_and_tags_and_runs_nothing(
    oxi_repo: Path,
) -> None:
    repo = oxi_repo
    before = repo_state(repo)
    planned = nox(repo, "-s", "release", "--", "--all", "--index", "testpypi", "--plan")
    out = planned.stdout
    assert planned.returncode == 0, out
    assert "release plan (real release), index: testpypi" in out
    assert re.search(r"^oxi-core\s+0\.1\.0a1\s+oxi-core-v0\.1\.0a1\s", out, re.M)
    assert re.search(
        r"^oxi-adapter-reference\s+0\.1\.0a1\s+oxi-adapter-reference-v0\.1\.0a1\s", out, re.M
    )
    assert out.index("\noxi-core ") < out.index("\noxi-adapter-reference ")  # dependency order
    steps = re.findall(r"^\s+\d+\. ([\w-]+)\s", out, re.M)
    assert steps == [
        "preflight", "lint", "test", "build", "check", "smoke", "sign", "gate", "publish", "verify",
        "tag", "github-release",
    ]  # fmt: skip
    assert "nothing was run (--plan)" in out
    assert "── " not in out  # no step ran

    rehearsal = nox(repo, "-s", "release", "--", "oxi-core", "--rehearse", "--plan")
    assert rehearsal.returncode == 0, rehearsal.stdout
    assert "index: local (embedded, throwaway)" in rehearsal.stdout
    assert "oxi-core-v0.1.0a1 (not made: rehearsal)" in rehearsal.stdout
    assert "oxi-adapter-reference" not in rehearsal.stdout
    assert repo_state(repo) == before
    assert not (repo / "dist").exists()


def test_a_dependent_needs_its_sibling_released_first_or_in_the_same_run(
    oxi_repo: Path, pypiserver: PypiServer
) -> None:
    repo = oxi_repo
    use_index(repo, pypiserver.index)

    alone = nox(repo, "-s", "release", "--", "adapters/_reference", "--index", "staging")
    out = alone.stdout
    assert alone.returncode != 0, out
    assert "FAILED at step 'preflight' (oxi-adapter-reference)" in out
    assert "'oxi-core==0.1.0a1' needs oxi-core 0.1.0a1, which is not on staging" in out
    assert (
        "release oxi-core first: nox -s release -- oxi-core oxi-adapter-reference --index staging"
        in out
    )
    assert pypiserver.listing() == {}

    # named in the "wrong" order, one by path: released in dependency order anyway
    both = nox(
        repo, "-s", "release", "--", "adapters/_reference", "oxi-core", "--index", "staging",
        server=pypiserver,
    )  # fmt: skip
    out = both.stdout
    assert both.returncode == 0, out
    rows = summary_rows(out)
    assert rows.index(("publish", "oxi-core", "ok")) + 1 == rows.index(
        ("publish", "oxi-adapter-reference", "ok")
    )
    local_steps = {"preflight", "lint", "test", "build", "check", "smoke", "sign"}
    last_local = max(i for i, row in enumerate(rows) if row[0] in local_steps)
    assert last_local < rows.index(("publish", "oxi-core", "ok")), "all local steps come first"
    assert (
        f"installed oxi-adapter-reference==0.1.0a1, oxi-core==0.1.0a1 "
        f"(from {pypiserver.index.simple_url})"
    ) in out
    assert set(pypiserver.listing()) == files(CORE_FILES, "0.1.0a1") | files(
        ADAPTER_FILES, "0.1.0a1"
    )
    tags = remote_tags(repo)
    assert "refs/tags/oxi-core-v0.1.0a1" in tags
    assert "refs/tags/oxi-adapter-reference-v0.1.0a1" in tags


def test_all_or_nothing_a_failing_dependent_keeps_its_sibling_off_the_index(
    oxi_repo: Path, pypiserver: PypiServer
) -> None:
    repo = oxi_repo
    use_index(repo, pypiserver.index)
    adapter = repo / "adapters" / "_reference" / "pyproject.toml"
    adapter.write_text(
        adapter.read_text()
        + "\n[tool.releasekit]\n"
        + 'smoke = ["python -c \'import sys; sys.exit(\\"adapter smoke: broken\\")\'"]\n'
    )
    git(repo, "commit", "-qam", "a smoke command that fails")
    before = repo_state(repo)

    result = nox(repo, "-s", "release", "--", "--all", "--index", "staging", server=pypiserver)
    out = result.stdout
    assert result.returncode != 0, out
    rows = summary_rows(out)
    assert ("smoke", "oxi-core", "ok") in rows, "oxi-core passed every local step..."
    assert ("smoke", "oxi-adapter-reference", "FAILED") in rows
    assert not any(step in {"publish", "verify", "tag"} for step, _, _ in rows)
    assert "FAILED at step 'smoke' (oxi-adapter-reference)" in out
    assert "adapter smoke: broken" in out
    assert "nothing left this machine: no upload, no tag" in out
    assert pypiserver.listing() == {}, "...and yet was not uploaded"
    assert remote_tags(repo) == "" and git(repo, "tag", "-l") == ""
    assert repo_state(repo) == before


def test_a_custom_pipeline_from_the_example_noxfile(oxi_repo: Path) -> None:
    repo = oxi_repo
    shutil.copy2(CUSTOM_NOXFILE, repo / "release_noxfile.py")
    git(repo, "add", "release_noxfile.py")
    git(repo, "commit", "-qm", "our own release pipeline")
    before = repo_state(repo)

    result = nox(repo, "-f", "release_noxfile.py", "-s", "release", "--", "oxi-core", "--rehearse")
    out = result.stdout
    assert result.returncode == 0, out
    steps = [step for step, _, _ in summary_rows(out)]
    assert steps == [
        "preflight", "test", "build", "check", "wheel-size", "smoke", "sign", "gate", "publish",
        "verify", "tag", "github-release",
    ]  # fmt: skip
    assert re.search(
        r"^wheel-size\s+oxi-core\s+ok\s+.*largest [0-9.]+ KB \(limit 512 KB\)", out, re.M
    )
    assert repo_state(repo) == before


def test_a_local_step_after_a_remote_one_is_refused(oxi_repo: Path) -> None:
    def announce(run: pipeline.ReleaseRun, target: pipeline.Target) -> str:
        return "announced"

    by_name = {step.name: step for step in pipeline.DEFAULT_STEPS}
    for remote, local in (("publish", "build"), ("verify", "check"), ("tag", "preflight")):
        with pytest.raises(ConfigError, match=f"local step '{local}' comes after '{remote}'"):
            pipeline.check_step_order([by_name[remote], by_name[local]])
    late = pipeline.Step("announce", announce)
    with pytest.raises(ConfigError) as excinfo:
        pipeline.check_step_order([*pipeline.DEFAULT_STEPS, late])
    assert "local step 'announce' comes after 'github-release'" in excinfo.value.message
    assert "remote=True" in excinfo.value.hint
    workspace = load_workspace(oxi_repo)
    with pytest.raises(ConfigError, match="'announce'"):
        pipeline.plan_release(
            workspace,
            workspace.packages,
            options=pipeline.ReleaseOptions(rehearse=True),
            steps=[*pipeline.DEFAULT_STEPS, late],
        )

    # the same through nox: one error line and a hint, no traceback, nothing run
    (oxi_repo / "late_noxfile.py").write_text(
        "import nox\nimport releasekit.nox\nfrom releasekit import pipeline\n\n"
        "LATE = pipeline.Step('announce', lambda run, target: 'announced')\n\n\n"
        "@nox.session(venv_backend='none')\n"
        "def release(session):\n"
        "    releasekit.nox.run_pipeline(session, [*pipeline.DEFAULT_STEPS, LATE])\n"
    )
    result = nox(oxi_repo, "-f", "late_noxfile.py", "-s", "release", "--", "--all", "--rehearse")
    assert result.returncode != 0
    assert "local step 'announce' comes after 'github-release', which leaves the machine" in (
        result.stdout
    )
    assert "hint: move 'announce' before 'github-release'" in result.stdout
    assert "Traceback" not in result.stdout
    assert "── " not in result.stdout


def test_a_signed_release_signs_publishes_and_checks_the_served_files(
    oxi_repo: Path, pypiserver: PypiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signing on: the real sigstore client signs against the loopback stand-in,
    publish uploads, and verify checks each served file against its bundle."""
    from tests.sigstore_standin import GITHUB_ISSUER, SigstoreStandin

    repo = oxi_repo
    with SigstoreStandin() as standin:
        ref = "refs/tags/oxi-core-v0.1.0a1"
        trust = tmp_path / "trust-config.json"
        trust.write_text(standin.trust_config_json())
        pyproject = repo / "pyproject.toml"
        pyproject.write_text(
            pyproject.read_text()
            + "\n[tool.releasekit.signing]\n"
            + f'identity = "{SigstoreStandin.github_identity(ref="refs/tags/{tag}")}"\n'
            + f'issuer = "{GITHUB_ISSUER}"\n'
        )
        use_index(repo, pypiserver.index)
        monkeypatch.setenv("SIGSTORE_IDENTITY_TOKEN", standin.github_raw_token(ref=ref))
        monkeypatch.setenv("RELEASEKIT_SIGSTORE_TRUST_CONFIG", str(trust))
        result = nox(repo, "-s", "release", "--", "oxi-core", "--index", "staging",
                     "--no-push", server=pypiserver)  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, out
    rows = summary_rows(out)
    assert ("sign", "oxi-core", "ok") in rows
    assert "2 bundle(s) signed and verified" in out
    for name in files(CORE_FILES, "0.1.0a1"):
        assert (repo / "dist" / "oxi-core" / f"{name}.sigstore.json").is_file()
        assert f"{name} as served by the index matches its sigstore bundle" in out
    assert "this release is unsigned" not in out
    assert set(pypiserver.listing()) == files(CORE_FILES, "0.1.0a1")  # bundles stay local


def test_a_republish_after_rollback_rehearses_cleanly(oxi_repo: Path) -> None:
    """The runbook's republish: roll 0.1.0a1 forward, commit, and the rehearsal passes."""
    repo = oxi_repo
    git(repo, "tag", "-a", "-m", "Release oxi-core 0.1.0a1", "oxi-core-v0.1.0a1")
    rollback = run_cli(
        repo, "invoke", "rollback", "oxi-core", "0.1.0a1", "--user-visible",
        "--reason", "oxi --version prints 0.0.0",
    )  # fmt: skip
    assert rollback.returncode == 0, rollback.stdout
    assert "nox -s release -- oxi-core" in rollback.stdout
    git(repo, "commit", "-qam", "fix(release): republish as 0.1.0a2")
    before = repo_state(repo)
    rehearsal = nox(repo, "-s", "release", "--", "--all", "--rehearse")
    assert rehearsal.returncode == 0, rehearsal.stdout
    rows = summary_rows(rehearsal.stdout)
    assert ("verify", "oxi-core", "ok") in rows and (
        "verify",
        "oxi-adapter-reference",
        "ok",
    ) in rows
    assert "oxi --version -> oxi 0.1.0a2" in rehearsal.stdout
    assert repo_state(repo) == before
