"""The GitHub Actions release workflow, made from ``[tool.releasekit]``.

:func:`render_workflow` turns a workspace's configuration into the text of
``.github/workflows/release.yml`` — the same text for the same configuration,
so :func:`check_workflow` can tell when the file on disk has drifted.

The workflow runs on pushes of the packages' release tags (one pattern per
package, from its ``tag-format``) and on ``workflow_dispatch`` with a
``rehearse`` input.  Its jobs hand the *same files* along as artifacts:

``build``
    preflight, lint, test, build, check, smoke (``nox -s build -- TAG --preflight``)
``sign``
    a sigstore bundle per file with the job's ambient OIDC identity (``nox -s sign``);
    only when ``[tool.releasekit.signing]`` is configured
``testpypi``
    pre-releases only, when ``[tool.releasekit.workflow] testpypi-first = true``:
    publish and verify on TestPyPI, in the ``testpypi`` environment
``publish``
    trusted publishing to PyPI in the ``pypi`` environment (required reviewers
    gate it), PEP 740 attestations when the files are signed
``verify``
    install from PyPI on ubuntu, macOS and Windows for every supported Python
``github-release``
    the GitHub release with the notes, the dists and their bundles

Least privilege: nothing is granted at the top level, ``id-token: write`` only
where a job signs or publishes, ``contents: write`` only for the GitHub
release; checkouts keep no credentials; expressions reach scripts only
through ``env:``; every action is pinned to a full commit SHA.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from releasekit.config import DEFAULT_LINT, DEFAULT_TEST, read_pyproject
from releasekit.errors import ConfigError, ReleaseError
from releasekit.workspace import Package, Workspace

__all__ = [
    "ACTIONS",
    "WORKFLOW_PATH",
    "WorkflowDrift",
    "WorkflowSettings",
    "check_workflow",
    "package_for_tag",
    "render_workflow",
    "supported_pythons",
    "tag_patterns",
    "workflow_settings",
    "write_workflow",
]

WORKFLOW_PATH = Path(".github") / "workflows" / "release.yml"

# Every action the workflow uses, pinned to the full commit SHA of the release noted.
ACTIONS: Mapping[str, tuple[str, str]] = {
    "checkout": ("actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"),
    "setup-python": (
        "actions/setup-python",
        "5fda3b95a4ea91299a34e894583c3862153e4b97 # v7.0.0",
    ),
    "upload-artifact": (
        "actions/upload-artifact",
        "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f # v7.0.0",
    ),
    "download-artifact": (
        "actions/download-artifact",
        "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c # v8.0.1",
    ),
}

# CPython versions a verify matrix may name; the package's requires-python picks among them.
KNOWN_PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
JOB_PYTHON = "3.12"
RUNNERS = ("ubuntu-latest", "macos-latest", "windows-latest")
WORKFLOW_KEYS = ("testpypi-first", "python", "runners", "install")


class WorkflowDrift(ReleaseError):
    """The workflow file on disk is not what ``invoke workflow`` would write."""


@dataclass(frozen=True)
class WorkflowSettings:
    """``[tool.releasekit.workflow]``, with the defaults filled in."""

    testpypi_first: bool = False  # pre-release tags go to TestPyPI (and are verified) first
    pythons: tuple[str, ...] = ()  # the verify matrix; default: all of requires-python
    runners: tuple[str, ...] = RUNNERS
    install: str | None = None  # how a job installs releasekit and the tools


def _str_list(where: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
        raise ConfigError(
            f"{where} must be a non-empty list of strings, not {value!r}",
            f'write it as {where.rsplit(".", 1)[-1]} = ["..."]',
        )
    return tuple(value)


def workflow_settings(workspace: Workspace) -> WorkflowSettings:
    """Read ``[tool.releasekit.workflow]`` from the root pyproject (all keys optional)."""
    data = read_pyproject(workspace.root / "pyproject.toml")
    table = data.get("tool", {}).get("releasekit", {}).get("workflow", {})
    where = "tool.releasekit.workflow"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table", f"write it as [{where}]")
    for key in table:
        if key not in WORKFLOW_KEYS:
            import difflib

            near = difflib.get_close_matches(key, WORKFLOW_KEYS, n=1, cutoff=0.5)
            raise ConfigError(
                f"unknown key {where}.{key}" + (f" (did you mean {near[0]!r}?)" if near else ""),
                f"valid keys here: {', '.join(WORKFLOW_KEYS)}",
            )
    testpypi_first = table.get("testpypi-first", False)
    if not isinstance(testpypi_first, bool):
        raise ConfigError(
            f"{where}.testpypi-first must be true or false, not {testpypi_first!r}",
            "testpypi-first = true sends pre-releases to TestPyPI before PyPI",
        )
    install = table.get("install")
    if install is not None and (not isinstance(install, str) or not install.strip()):
        raise ConfigError(
            f"{where}.install must be a command string, not {install!r}",
            'install = "python -m pip install .[dev]"',
        )
    pythons = _str_list(f"{where}.python", table["python"]) if "python" in table else ()
    runners = _str_list(f"{where}.runners", table["runners"]) if "runners" in table else RUNNERS
    return WorkflowSettings(testpypi_first, pythons, runners, install)


def tag_patterns(workspace: Workspace) -> list[str]:
    """One push-tag filter per package: its ``tag-format`` with ``{version}`` as ``*``."""
    patterns: list[str] = []
    for package in workspace.select(all_packages=True):
        pattern = package.tag("*")
        if pattern not in patterns:
            patterns.append(pattern)
    return patterns


def supported_pythons(workspace: Workspace) -> list[str]:
    """The known CPython versions every package's ``requires-python`` admits."""
    chosen = []
    for text in KNOWN_PYTHONS:
        version = Version(text)
        admitted = True
        for package in workspace.select(all_packages=True):
            spec = package.data.get("project", {}).get("requires-python")
            if not spec:
                continue
            try:
                admitted = admitted and SpecifierSet(spec).contains(version, prereleases=True)
            except InvalidSpecifier:
                raise ConfigError(
                    f"{package.name}: requires-python {spec!r} is not a version specifier",
                    "fix [project] requires-python, e.g. '>=3.10'",
                ) from None
        if admitted:
            chosen.append(text)
    if not chosen:
        raise ConfigError(
            f"no Python among {', '.join(KNOWN_PYTHONS)} satisfies every package's requires-python",
            "list the versions to verify on: [tool.releasekit.workflow] python = ['3.12']",
        )
    return chosen


def _tools(workspace: Workspace) -> list[str]:
    """What the lint and test commands run, by name (installed beside releasekit)."""
    tools: set[str] = set()
    for package in workspace.select(all_packages=True):
        for kind, default in (("lint", DEFAULT_LINT), ("test", DEFAULT_TEST)):
            configured = getattr(package.settings, kind)
            if configured is None:
                if kind == "test" and not (package.root / "tests").is_dir():
                    continue
                configured = default
            for command in configured:
                words = shlex.split(command)
                if words[:2] == ["python", "-m"] and len(words) > 2:
                    tools.add(words[2])
                elif words and words[0] != "python":
                    tools.add(words[0])
    return sorted(tools)


def _releasekit_requirement(workspace: Workspace) -> str:
    """How the project asks for releasekit: itself, an extra, or plain ``releasekit``."""
    project = read_pyproject(workspace.root / "pyproject.toml").get("project", {})
    if canonicalize_name(str(project.get("name", ""))) == "releasekit":
        return "."
    extras = project.get("optional-dependencies", {})
    for extra, requirements in sorted(extras.items()) if isinstance(extras, dict) else []:
        if any(_names_releasekit(r) for r in requirements or []):
            return f".[{extra}]"
    return "releasekit"


def _names_releasekit(requirement: object) -> bool:
    if not isinstance(requirement, str):
        return False
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        return canonicalize_name(Requirement(requirement).name) == "releasekit"
    except InvalidRequirement:
        return False


def _install_command(workspace: Workspace, settings: WorkflowSettings, *, tools: bool) -> str:
    if settings.install:
        return settings.install
    words = [_releasekit_requirement(workspace), *(_tools(workspace) if tools else [])]
    return "python -m pip install " + " ".join(shlex.quote(w) for w in words)


# --- rendering ----------------------------------------------------------------------------


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text)


def _uses(name: str) -> str:
    repo, ref = ACTIONS[name]
    sha, _, comment = ref.partition(" ")
    return f"{repo}@{sha} {comment}"


class _Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, indent: int = 0, text: str = "") -> None:
        self.lines.append(("  " * indent + text) if text else "")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


@dataclass(frozen=True)
class _Job:
    """One job: the same shape for all (check out, set up Python, get the files, run, keep)."""

    key: str
    name: str
    step: str  # the name of the step that runs the session
    command: str
    python: str
    install: str
    needs: str | None = None
    condition: str | None = None  # the job's ``if:``
    environment: str | None = None
    permissions: tuple[str, ...] = ("contents: read",)
    outputs: tuple[str, ...] = ()  # the run step's outputs the job passes on
    matrix: tuple[str, ...] = ()
    history: bool = False  # check out tags and history (preflight reads them)
    download: str | None = None  # the artifact the job starts from
    upload: str | None = None  # the artifact the job leaves
    step_env: tuple[str, ...] = ()


def _job(out: _Lines, job: _Job) -> None:
    out.add(1, f"{job.key}:")
    out.add(2, f"name: {job.name}")
    if job.needs:
        out.add(2, f"needs: {job.needs}")
    if job.condition:
        out.add(2, f"if: {job.condition}")
    out.add(2, "runs-on: ${{ matrix.os }}" if job.matrix else "runs-on: ubuntu-latest")
    if job.environment:
        out.add(2, "environment:")
        out.add(3, f"name: {job.environment}")
    out.add(2, "permissions:")
    for permission in job.permissions:
        out.add(3, permission)
    if job.outputs:
        out.add(2, "outputs:")
        for key in job.outputs:
            out.add(3, f"{key}: ${{{{ steps.{job.key}.outputs.{key} }}}}")
    if job.matrix:
        out.add(2, "strategy:")
        out.add(3, "fail-fast: false")
        out.add(3, "matrix:")
        for line in job.matrix:
            out.add(4, line)
    out.add(2, "steps:")
    _steps(out, job)


def _steps(out: _Lines, job: _Job) -> None:
    """Check out, set up Python and releasekit, take the files, run the session, keep them."""
    out.add(3, f"- uses: {_uses('checkout')}")
    out.add(4, "with:")
    out.add(5, "persist-credentials: false")
    if job.history:
        out.add(5, "fetch-depth: 0  # tags and history: preflight reads them")
    out.add(3, f"- uses: {_uses('setup-python')}")
    out.add(4, "with:")
    out.add(5, f"python-version: {_q(job.python)}")
    out.add(3, "- name: install releasekit")
    out.add(4, f"run: {job.install}")
    if job.download:
        out.add(3, f"- uses: {_uses('download-artifact')}")
        out.add(4, "with:")
        out.add(5, f"name: {job.download}")
        out.add(5, "path: dist/")
    out.add(3, f"- name: {job.step}")
    if job.outputs:
        out.add(4, f"id: {job.key}")
    if job.step_env:
        out.add(4, "env:")
        for line in job.step_env:
            out.add(5, line)
    out.add(4, f"run: {job.command}")
    if job.upload:
        out.add(3, f"- uses: {_uses('upload-artifact')}")
        out.add(4, "with:")
        out.add(5, f"name: {job.upload}")
        out.add(5, "path: dist/")
        out.add(5, "if-no-files-found: error")


def _header(out: _Lines, workspace: Workspace) -> None:
    out.add(0, "# Made by `invoke workflow` from [tool.releasekit] in pyproject.toml: do not edit.")
    out.add(0, "# Change the configuration and run `invoke workflow` again; `invoke workflow")
    out.add(0, "# --check` fails when this file differs from what it would write.")
    out.add(0, "name: release")
    out.add()
    out.add(0, "on:")
    out.add(1, "push:")
    out.add(2, "tags:")
    for pattern in tag_patterns(workspace):
        out.add(3, f"- {_q(pattern)}")
    out.add(1, "workflow_dispatch:")
    out.add(2, "inputs:")
    out.add(3, "rehearse:")
    out.add(4, "description: " + _q("Rehearse against a throwaway local index (nothing is sent)"))
    out.add(4, "type: boolean")
    out.add(4, "default: true")
    out.add(3, "package:")
    out.add(4, "description: " + _q("Package name or path (empty: every package)"))
    out.add(4, "type: string")
    out.add(4, "default: " + _q(""))
    out.add()
    out.add(0, "permissions: {}")
    out.add()
    out.add(0, "concurrency:")
    out.add(1, "group: release-${{ github.ref }}")
    out.add(1, "cancel-in-progress: false")
    out.add()
    out.add(0, "env:")
    out.add(1, "# what the sessions release: the pushed tag, or the package asked for")
    out.add(
        1,
        "RELEASE_TARGET: ${{ github.event_name == 'push' && github.ref_name"
        " || inputs.package || '--all' }}",
    )
    out.add(1, "CI: true")
    out.add(1, "PYTHONUTF8: 1")
    out.add()
    out.add(0, "defaults:")
    out.add(1, "run:")
    out.add(2, "shell: bash")
    out.add()
    out.add(0, "jobs:")


def _jobs(workspace: Workspace, settings: WorkflowSettings) -> list[_Job]:
    """The workflow's jobs, in order, each handing its files to the next."""
    pythons = list(settings.pythons) or supported_pythons(workspace)
    # the jobs that run the sessions use one Python: 3.12 when supported, else the newest
    newest = JOB_PYTHON if JOB_PYTHON in pythons else pythons[-1]
    install_tools = _install_command(workspace, settings, tools=True)
    install = _install_command(workspace, settings, tools=False)
    signing = workspace.config.signing is not None
    dists = "signed-dists" if signing else "dists"
    rehearsal = "github.event_name == 'workflow_dispatch' && inputs.rehearse"
    oidc = "id-token: write  # trusted publishing and PEP 740 attestations"
    ambient = "id-token: write  # the ambient identity sigstore signs with"
    target = '"$RELEASE_TARGET"'
    jobs = [
        # the whole pipeline against a throwaway index, nothing leaves the runner
        _Job(
            "rehearse", "rehearse the release", "rehearse",
            f"python -m nox -s release -- {target} --rehearse --json",
            newest, install_tools, condition=rehearsal, history=True,
        ),
        # every local step; the files become the artifact every later job uses
        _Job(
            "build", "build and check", "preflight, lint, test, build, check, smoke",
            f"python -m nox -s build -- {target} --preflight --json",
            newest, install_tools, condition=f"${{{{ !({rehearsal}) }}}}",
            outputs=("version", "tag", "prerelease"), history=True, upload="dists",
        ),
    ]  # fmt: skip
    if signing:
        jobs.append(
            _Job(
                "sign", "sign (sigstore, the job's OIDC identity)", "sign every file",
                f"python -m nox -s sign -- {target}", newest, install, needs="build",
                permissions=("contents: read", ambient), download="dists", upload=dists,
            )
        )  # fmt: skip
    publish_needs = ["build"] + (["sign"] if signing else [])
    publish_condition = None
    if settings.testpypi_first:
        jobs.append(
            _Job(
                "testpypi", "publish and verify on TestPyPI (pre-releases)",
                "publish to TestPyPI, verify", f"python -m nox -s testpypi -- {target}",
                newest, install, needs=f"[{', '.join(publish_needs)}]",
                condition="needs.build.outputs.prerelease == 'true'", environment="testpypi",
                permissions=("contents: read", oidc), download=dists,
            )
        )  # fmt: skip
        checks = " && ".join(f"needs.{job}.result == 'success'" for job in publish_needs)
        publish_condition = (
            f"${{{{ !cancelled() && {checks} && "
            "(needs.testpypi.result == 'success' || needs.testpypi.result == 'skipped') }}"
        )
        publish_needs.append("testpypi")
    jobs += [
        _Job(
            "publish", "publish to PyPI (trusted publishing)", "publish exactly these files",
            f"python -m nox -s publish -- {target} --index pypi --yes", newest, install,
            needs=f"[{', '.join(publish_needs)}]", condition=publish_condition,
            environment="pypi", permissions=("contents: read", oidc), download=dists,
        ),
        _Job(
            "verify", "verify ${{ matrix.os }} ${{ matrix.python }}",
            "install from PyPI and prove it", f"python -m nox -s verify -- {target} --index pypi",
            "${{ matrix.python }}", install, needs="publish",
            matrix=(
                f"os: [{', '.join(settings.runners)}]",
                f"python: [{', '.join(_q(p) for p in pythons)}]",
            ),
            download=dists,
        ),
        _Job(
            "github-release", "GitHub release", "create or update the release",
            f"python -m nox -s github-release -- {target}", newest, install, needs="verify",
            permissions=("contents: write  # create the release and attach the files",),
            download=dists, step_env=("GITHUB_TOKEN: ${{ github.token }}",),
        ),
    ]  # fmt: skip
    return jobs


def render_workflow(workspace: Workspace, settings: WorkflowSettings | None = None) -> str:
    """The text of ``.github/workflows/release.yml`` for ``workspace`` (deterministic)."""
    settings = settings or workflow_settings(workspace)
    out = _Lines()
    _header(out, workspace)
    jobs = _jobs(workspace, settings)
    for job in jobs:
        _job(out, job)
        if job is not jobs[-1]:
            out.add()
    return out.text()


def write_workflow(workspace: Workspace, path: Path | None = None) -> tuple[Path, bool]:
    """Write the workflow; returns its path and whether the file changed."""
    target = path or workspace.root / WORKFLOW_PATH
    text = render_workflow(workspace)
    if target.is_file() and target.read_text(encoding="utf-8") == text:
        return target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8", newline="\n")
    return target, True


def check_workflow(workspace: Workspace, path: Path | None = None) -> Path:
    """Raise :class:`WorkflowDrift` unless the file is exactly what would be written."""
    target = path or workspace.root / WORKFLOW_PATH
    rel = _rel(workspace, target)
    if not target.is_file():
        raise WorkflowDrift(
            f"{rel} does not exist",
            "run `invoke workflow` to write it, then commit it",
        )
    on_disk = target.read_text(encoding="utf-8")
    wanted = render_workflow(workspace)
    if on_disk != wanted:
        first = _first_difference(on_disk, wanted)
        raise WorkflowDrift(
            f"{rel} differs from what `invoke workflow` writes (first at line {first})",
            "run `invoke workflow` and commit the result (edit [tool.releasekit], not the file)",
        )
    return target


def _first_difference(a: str, b: str) -> int:
    left, right = a.splitlines(), b.splitlines()
    for n, (x, y) in enumerate(zip(left, right, strict=False), 1):
        if x != y:
            return n
    return min(len(left), len(right)) + 1


def _rel(workspace: Workspace, path: Path) -> str:
    try:
        return path.resolve().relative_to(workspace.root).as_posix()
    except ValueError:
        return str(path)


def package_for_tag(workspace: Workspace, tag: str) -> tuple[Package, Version] | None:
    """The package and version a release tag names, or None when no tag-format matches."""
    from packaging.version import InvalidVersion

    for package in workspace.select(all_packages=True):
        prefix, marker, suffix = package.tag_format.partition("{version}")
        if not marker:
            continue
        head = package.template(prefix)
        tail = package.template(suffix)
        if tag.startswith(head) and tag.endswith(tail) and len(tag) > len(head) + len(tail):
            text = tag[len(head) : len(tag) - len(tail)] if tail else tag[len(head) :]
            try:
                version = Version(text)
            except InvalidVersion:
                continue
            if package.tag(str(version)) == tag or package.tag(text) == tag:
                return package, version
    return None
