"""Bump rules, version sources, sibling pins and __version__ literals."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from releasekit.edits import apply_edits, planned_text
from releasekit.errors import ConfigError, InvalidVersion, ReleaseError, TagError, VersionError
from releasekit.literals import LITERAL_FIX_HINT, find_version_literals
from releasekit.pins import plan_pin_edits
from releasekit.version_source import (
    find_version_source,
    plan_version_edit,
    read_version,
    version_to_release,
)
from releasekit.versions import BumpRequest, is_final, parse_version, plan_bump, same_version
from releasekit.workspace import Package, Workspace, load_workspace
from tests.conftest import git

# --- the bump rules ----------------------------------------------------------------------------

PRE = {"pre": ""}
BUMPS: list[tuple[str, dict[str, Any], str]] = [
    # --pre on a pre-release: next number; a later phase restarts at 1
    ("0.1.0a1", PRE, "0.1.0a2"),
    ("0.1.0a2", {"pre": "b"}, "0.1.0b1"),
    ("0.1.0b1", {"pre": "rc"}, "0.1.0rc1"),
    ("0.1.0a2", {"pre": "rc"}, "0.1.0rc1"),
    ("0.1.0rc1", PRE, "0.1.0rc2"),
    ("0.1.0rc1", {"pre": "rc"}, "0.1.0rc2"),
    ("0.1.0a1", {"pre": "alpha"}, "0.1.0a2"),
    ("0.1.0a9", {"pre": "beta"}, "0.1.0b1"),
    ("1.0.0-rc1", PRE, "1.0.0rc2"),
    ("0.1.0-alpha.1", PRE, "0.1.0a2"),
    # --pre on a final release starts the next patch; with a level, that level
    ("0.1.0", PRE, "0.1.1a1"),
    ("0.1.0", {"pre": "b"}, "0.1.1b1"),
    ("0.1.0", {"pre": "rc"}, "0.1.1rc1"),
    ("1.0.0.post1", PRE, "1.0.1a1"),
    ("0.1.0", {"minor": True, **PRE}, "0.2.0a1"),
    ("0.1.0", {"major": True, "pre": "rc"}, "1.0.0rc1"),
    ("1.2.3", {"patch": True, **PRE}, "1.2.4a1"),
    ("0.2.0a1", {"minor": True, **PRE}, "0.2.0a2"),
    ("0.2.0a1", {"minor": True, "pre": "b"}, "0.2.0b1"),
    ("1.2.3rc1", {"minor": True, **PRE}, "1.3.0a1"),
    # --pre on a dev release: the pre-release it was heading for
    ("0.1.0a2.dev1", PRE, "0.1.0a2"),
    ("0.1.0a2.dev1", {"pre": "b"}, "0.1.0b1"),
    ("1.0.1.dev1", PRE, "1.0.1a1"),
    ("1.0.1.dev1", {"pre": "rc"}, "1.0.1rc1"),
    # levels: a pre-release of exactly that level is finalized, else increment and zero
    ("1.2.3rc1", {"patch": True}, "1.2.3"),
    ("2.0.0b1", {"major": True}, "2.0.0"),
    ("1.2.0rc1", {"minor": True}, "1.2.0"),
    ("1.3.0.dev1", {"minor": True}, "1.3.0"),
    ("1.2.3.dev4", {"patch": True}, "1.2.3"),
    ("1.2.3", {"patch": True}, "1.2.4"),
    ("1.2.3", {"minor": True}, "1.3.0"),
    ("1.2.3", {"major": True}, "2.0.0"),
    ("1.2.3rc1", {"minor": True}, "1.3.0"),
    ("2.0.0b1", {"minor": True}, "2.1.0"),
    ("1.2.3.post2", {"patch": True}, "1.2.4"),
    ("1.2.3.post2.dev1", {"minor": True}, "1.3.0"),
    ("0.9.9", {"major": True}, "1.0.0"),
    ("1.0", {"patch": True}, "1.0.1"),
    ("1", {"minor": True}, "1.1"),
    ("1.2.3.4", {"minor": True}, "1.3.0.0"),
    ("v1.2.3", {"minor": True}, "1.3.0"),
    # --post
    ("1.0.0", {"post": True}, "1.0.0.post1"),
    ("1.0.0.post1", {"post": True}, "1.0.0.post2"),
    ("1.0.0.post1.dev2", {"post": True}, "1.0.0.post1"),
    ("1.0", {"post": True}, "1.0.post1"),
    # --dev, alone and towards a level / pre / post
    ("1.0.1.dev1", {"dev": True}, "1.0.1.dev2"),
    ("1.0.0", {"dev": True}, "1.0.1.dev1"),
    ("1.0.0a1", {"dev": True}, "1.0.0a2.dev1"),
    ("1.0.0a1.dev3", {"dev": True}, "1.0.0a1.dev4"),
    ("1.0.0.post1", {"dev": True}, "1.0.1.dev1"),
    ("1.0.0.post1.dev1", {"dev": True}, "1.0.0.post1.dev2"),
    ("1.0.0", {"minor": True, "dev": True}, "1.1.0.dev1"),
    ("1.1.0.dev1", {"minor": True, "dev": True}, "1.1.0.dev2"),
    ("0.1.0a1", {**PRE, "dev": True}, "0.1.0a2.dev1"),
    ("0.1.0a2.dev1", {**PRE, "dev": True}, "0.1.0a2.dev2"),
    ("1.0.0", {"post": True, "dev": True}, "1.0.0.post1.dev1"),
    ("1.0.0.post1.dev1", {"post": True, "dev": True}, "1.0.0.post1.dev2"),
    ("0.1.0", {"minor": True, **PRE, "dev": True}, "0.2.0a1.dev1"),
    # --final
    ("1.0.0rc1", {"final": True}, "1.0.0"),
    ("1.0.1.dev1", {"final": True}, "1.0.1"),
    ("1.0.0a1.dev1", {"final": True}, "1.0.0"),
    ("1.0.0-rc1", {"final": True}, "1.0.0"),
    # --to
    ("0.1.0a1", {"to": "0.1.0"}, "0.1.0"),
    ("0.1.0", {"to": "1.0.0-rc1"}, "1.0.0rc1"),
    ("1.0", {"to": "1!0.1"}, "1!0.1"),
    # epochs are kept
    ("1!2.0.0", {"minor": True}, "1!2.1.0"),
    ("1!2.0.0", PRE, "1!2.0.1a1"),
    ("1!1.0a1", {"final": True}, "1!1.0"),
    ("2!1.0.0", {"post": True}, "2!1.0.0.post1"),
    ("1!1.0.0.dev1", {"dev": True}, "1!1.0.0.dev2"),
    # a local label on the current version is ignored
    ("1.0.0+local.7", {"patch": True}, "1.0.1"),
]


@pytest.mark.parametrize(
    ("current", "flags", "expected"),
    BUMPS,
    ids=[f"{c} {BumpRequest(**f)}" for c, f, _ in BUMPS],
)
def test_bump_rules(current: str, flags: dict[str, Any], expected: str) -> None:
    new = plan_bump(current, BumpRequest(**flags))
    assert str(new) == expected
    assert new > Version(Version(current).public)


REFUSALS: list[tuple[str, dict[str, Any], type[ReleaseError], list[str]]] = [
    # never backwards, never equal (both versions named)
    ("1.0.0", {"to": "0.9"}, VersionError, ["1.0.0", "0.9", "backwards"]),
    ("1.0.0.post1", {"final": True}, VersionError, ["1.0.0.post1", "-> 1.0.0 ", "backwards"]),
    ("1!1.0", {"to": "2.0"}, VersionError, ["1!1.0", "2.0", "backwards"]),
    ("0.1.0a2", {"to": "0.1.0a1"}, VersionError, ["0.1.0a2", "0.1.0a1", "backwards"]),
    ("1.0.0", {"to": "1.0"}, VersionError, ["1.0.0", "1.0", "equals"]),
    ("0.1.0a1", {"to": "0.1.0-alpha1"}, VersionError, ["0.1.0a1", "equals"]),
    # never a local version
    ("1.0.0", {"to": "1.0.1+abc"}, VersionError, ["1.0.0", "1.0.1+abc", "local"]),
    ("1.0.0", {"to": "1.0.1+ubuntu.1"}, VersionError, ["1.0.1+ubuntu.1", "local"]),
    # a phase never goes backwards
    ("0.1.0b1", {"pre": "a"}, VersionError, ["0.1.0b1", "'b'", "backwards"]),
    ("0.1.0rc1", {"pre": "b"}, VersionError, ["0.1.0rc1", "rc -> b"]),
    ("0.2.0rc1", {"minor": True, "pre": "a"}, VersionError, ["0.2.0rc1", "backwards"]),
    # not versions
    ("0.1.0", {"to": "banana"}, InvalidVersion, ["'banana'", "PEP 440"]),
    ("0.1.0", {"to": ""}, InvalidVersion, ["''"]),
    ("not-a-version", {"patch": True}, InvalidVersion, ["'not-a-version'"]),
    # rules that do not apply
    ("1.0.0", {"final": True}, VersionError, ["1.0.0", "already a final release"]),
    ("1.0.0rc1", {"post": True}, VersionError, ["1.0.0rc1", "not a final release"]),
    ("1.0.1.dev1", {"post": True}, VersionError, ["1.0.1.dev1", "not a final release"]),
    # contradictory flags
    ("1.0.0", {"post": True, "pre": ""}, VersionError, ["--post", "--pre"]),
    ("1.0.0", {"post": True, "patch": True}, VersionError, ["--post", "--patch"]),
    ("1.0.0", {"major": True, "minor": True}, VersionError, ["--major and --minor"]),
    ("1.0.0", {"major": True, "minor": True, "patch": True}, VersionError, ["one level"]),
    ("1.0.0", {"to": "2.0", "minor": True}, VersionError, ["--to '2.0'", "--minor"]),
    ("1.0.0", {"to": "2.0", "dev": True}, VersionError, ["--to", "--dev"]),
    ("1.0.0rc1", {"final": True, "dev": True}, VersionError, ["--final", "--dev"]),
    ("1.0.0rc1", {"final": True, "pre": "rc"}, VersionError, ["--final", "--pre rc"]),
    ("1.0.0", {}, VersionError, ["nothing to bump"]),
    ("1.0.0", {"pre": "gamma"}, VersionError, ["'gamma'", "phase"]),
]


@pytest.mark.parametrize(
    ("current", "flags", "error", "fragments"),
    REFUSALS,
    ids=[f"{c} {f}" for c, f, _, _ in REFUSALS],
)
def test_bump_refusals(
    current: str, flags: dict[str, Any], error: type[ReleaseError], fragments: list[str]
) -> None:
    with pytest.raises(error) as info:
        plan_bump(current, BumpRequest(**flags))
    for fragment in fragments:
        assert fragment in info.value.message
    assert info.value.hint


def test_request_flags_read_like_the_command_line() -> None:
    assert BumpRequest(minor=True, pre="").flags == ("--minor", "--pre")
    assert str(BumpRequest(pre="beta", dev=True)) == "--pre b --dev"
    assert BumpRequest(patch=True).level == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.0.0-rc1", "1.0.0rc1"), (" 0.1.0a1 ", "0.1.0a1"), ("1.0.0.POST2", "1.0.0.post2")],
)
def test_parse_version_normalizes(text: str, expected: str) -> None:
    assert str(parse_version(text)) == expected


def test_parse_version_quotes_the_input() -> None:
    with pytest.raises(InvalidVersion) as info:
        parse_version("1.0.0-final-final")
    assert "'1.0.0-final-final'" in info.value.message
    assert "1.2.0rc1" in info.value.hint


def test_parse_version_names_where_the_text_came_from() -> None:
    with pytest.raises(InvalidVersion) as info:
        parse_version("one", where="pyproject.toml [project] version")
    assert info.value.message == "pyproject.toml [project] version: 'one' is not a PEP 440 version"


@pytest.mark.parametrize(
    ("version", "final"),
    [
        ("1.0.0", True),
        ("1.0.0rc1", False),
        ("1.0.0.dev1", False),
        ("1.0.0.post1", True),
        ("1.0.0.post1.dev1", False),
        ("not a version", True),  # unknown shape: the safe side of "may its tag go?"
    ],
)
def test_is_final(version: str, final: bool) -> None:
    assert is_final(version) is final
    if version != "not a version":
        assert is_final(Version(version)) is final


@pytest.mark.parametrize(
    ("text", "same"),
    [("1.0.0", True), ("v1.0", True), ("1.0.0-rc1", False), ("1.0.0 ", True), ("x", False)],
)
def test_same_version(text: str, same: bool) -> None:
    assert same_version(text, Version("1.0.0")) is same
    assert same_version(None, Version("1.0.0")) is False


# --- version sources ---------------------------------------------------------------------------


def make_package(root: Path, pyproject: str, files: dict[str, str] | None = None) -> Package:
    """A one-package workspace at ``root`` with the given pyproject and files."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(textwrap.dedent(pyproject), encoding="utf-8")
    for rel, text in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text), encoding="utf-8")
    return load_workspace(root).packages[0]


STATIC = """\
    # the demo project
    [project]
    name = "demo"
    version = '0.1.0a1'   # bumped by releasekit, keep this comment
    dependencies = [
        "packaging>=24",  # a comment
    ]

    [tool.releasekit]
    release-notes = "docs/release-notes/v{version}.md"
    """


def test_static_version_is_read_and_rewritten_in_place(tmp_path: Path) -> None:
    package = make_package(tmp_path, STATIC)
    source = find_version_source(package)
    assert source.kind == "static"
    assert source.path == tmp_path / "pyproject.toml"
    assert read_version(package) == Version("0.1.0a1")
    before = (tmp_path / "pyproject.toml").read_text(encoding="utf-8")
    [edit] = plan_version_edit(package, Version("0.1.0a2"))
    assert edit.after == before.replace("'0.1.0a1'", "'0.1.0a2'")
    assert edit.reason == "demo version 0.1.0a1 -> 0.1.0a2"
    apply_edits([edit])
    assert read_version(package) == Version("0.1.0a2")


def test_static_version_keeps_crlf_line_endings(tmp_path: Path) -> None:
    package = make_package(tmp_path, '[project]\nname = "demo"\nversion = "1.0"\n')
    raw = b'# crlf\r\n[project]\r\nname = "demo"\r\nversion = "1.0"  # here\r\n'
    (tmp_path / "pyproject.toml").write_bytes(raw)
    apply_edits(plan_version_edit(package, Version("1.1")))
    assert (tmp_path / "pyproject.toml").read_bytes() == raw.replace(b'"1.0"', b'"1.1"')


HATCH = """\
    [build-system]
    requires = ["hatchling"]
    build-backend = "hatchling.build"

    [project]
    name = "demo"
    dynamic = ["version"]

    [tool.hatch.version]
    path = "src/demo/__about__.py"
    """


def test_hatch_path_version_is_read_and_rewritten(tmp_path: Path) -> None:
    about = '"""About."""\n\n__version__ = "1.2.0"  # the source\n'
    package = make_package(tmp_path, HATCH, {"src/demo/__about__.py": about})
    source = find_version_source(package)
    assert source.kind == "file"
    assert source.path == tmp_path / "src" / "demo" / "__about__.py"
    assert "src/demo/__about__.py" in source.detail
    assert read_version(package) == Version("1.2.0")
    [edit] = plan_version_edit(package, Version("1.3.0rc1"))
    assert edit.after == about.replace("1.2.0", "1.3.0rc1")
    assert find_version_literals(package) == []  # the source itself is no stale literal


def test_hatch_path_without_a_version_line_says_what_to_write(tmp_path: Path) -> None:
    package = make_package(tmp_path, HATCH, {"src/demo/__about__.py": "VERSION_X = 1\n"})
    with pytest.raises(ConfigError) as info:
        read_version(package)
    assert "src/demo/__about__.py" in info.value.message
    assert '__version__ = "0.1.0"' in info.value.hint


@pytest.mark.parametrize(
    "config",
    [
        '[build-system]\nrequires = ["hatchling", "hatch-vcs"]\n'
        '[tool.hatch.version]\nsource = "vcs"\n',
        '[build-system]\nrequires = ["setuptools>=64", "setuptools_scm>=8"]\n',
        '[build-system]\nrequires = ["setuptools"]\n[tool.setuptools_scm]\n',
    ],
    ids=["hatch-vcs", "setuptools-scm requires", "tool.setuptools_scm"],
)
def test_tag_driven_versions_come_from_the_highest_matching_tag(
    tmp_path: Path, config: str
) -> None:
    pyproject = f'[project]\nname = "demo"\ndynamic = ["version"]\n{config}'
    package = make_package(tmp_path, pyproject)
    source = find_version_source(package)
    assert source.kind == "tag"
    assert source.path is None
    assert source.detail.startswith("git tags (")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "init")
    with pytest.raises(TagError) as info:
        read_version(package)
    assert "v0.1.0" in info.value.hint
    for tag in ("v0.2.0rc1", "v0.10.0", "v0.9.0", "vbanana", "docs-2024"):
        git(tmp_path, "tag", tag)
    assert read_version(package) == Version("0.10.0")
    assert plan_version_edit(package, Version("0.11.0")) == []


def test_the_version_to_release_is_the_one_at_source(oxi_repo: Path) -> None:
    package = load_workspace(oxi_repo).get("oxi-core")
    assert version_to_release(package) == Version("0.1.0a1")
    assert version_to_release(package, Version("0.1.0a1")) == Version("0.1.0a1")
    with pytest.raises(VersionError) as info:
        version_to_release(package, Version("0.1.0a2"))
    assert info.value.message == "oxi-core is at 0.1.0a1 in its source, not 0.1.0a2"
    assert "invoke bump --package oxi-core --to 0.1.0a2" in info.value.hint


def test_tag_format_with_the_name_is_honoured(tmp_path: Path) -> None:
    pyproject = (
        '[project]\nname = "My_Demo"\ndynamic = ["version"]\n'
        '[tool.hatch.version]\nsource = "vcs"\n'
        '[tool.releasekit]\ntag-format = "{name}-v{version}"\n'
    )
    package = make_package(tmp_path, pyproject)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "init")
    for tag in ("My_Demo-v1.0.0", "my-demo-v1.1.0", "other-v9.0.0", "v5.0.0"):
        git(tmp_path, "tag", tag)
    assert read_version(package) == Version("1.1.0")


def test_no_version_at_all_is_a_config_error(tmp_path: Path) -> None:
    package = make_package(tmp_path, '[project]\nname = "demo"\n')
    with pytest.raises(ConfigError) as info:
        find_version_source(package)
    assert "has no [project] version" in info.value.message
    assert 'version = "0.1.0"' in info.value.hint


# --- sibling pins ------------------------------------------------------------------------------

ROOT = """\
    # the workspace root is no package; its dev group pins one
    [dependency-groups]
    dev = ["plugin-a==2.0.0"]

    [tool.releasekit]
    packages = ["core", "plugins/*"]
    """
CORE = """\
    [project]
    name = "core"
    version = "1.0.0"
    """
PLUGIN_A = """\
    [project]
    name = "plugin-a"
    version = "2.0.0"
    dependencies = [
        "Core[fast]==1.0.0 ; python_version >= '3.10'",  # moves with core
        "packaging>=24",
    ]

    [project.optional-dependencies]
    cli = ['core == 1.0.0']

    [dependency-groups]
    base = []
    dev = [{include-group = "base"}, "core==1.0.0", "core>=0.9"]
    """
PLUGIN_B = """\
    [project]
    name = "plugin-b"
    version = "0.3.0"
    dependencies = [
        "core<1.0.1",  # too narrow for the next version
        "core==0.9.0",
    ]
    """


@pytest.fixture
def monorepo(tmp_path: Path) -> Workspace:
    for rel, pyproject in [("core", CORE), ("plugins/a", PLUGIN_A), ("plugins/b", PLUGIN_B)]:
        (tmp_path / rel).mkdir(parents=True)
        (tmp_path / rel / "pyproject.toml").write_text(textwrap.dedent(pyproject), "utf-8")
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(ROOT), encoding="utf-8")
    return load_workspace(tmp_path)


def test_sibling_pins_follow_and_narrow_specifiers_are_reported(monorepo: Workspace) -> None:
    core = monorepo.get("core")
    a_path = monorepo.get("plugin-a").pyproject
    before = a_path.read_text(encoding="utf-8")
    edits, warnings = plan_pin_edits(monorepo, core, Version("1.0.0"), Version("1.0.1"))
    assert [e.path for e in edits] == [a_path]  # three pins of one file: one edit
    assert edits[0].after == (
        before.replace("Core[fast]==1.0.0 ;", "Core[fast]==1.0.1 ;")
        .replace("'core == 1.0.0'", "'core == 1.0.1'")
        .replace('"core==1.0.0"', '"core==1.0.1"')
    )
    assert edits[0].reason == (
        "plugin-a: Core[fast]==1.0.0 ; python_version >= '3.10' -> "
        "Core[fast]==1.0.1 ; python_version >= '3.10'; "
        "core == 1.0.0 -> core == 1.0.1 (project.optional-dependencies.cli); "
        "core==1.0.0 -> core==1.0.1 (dependency-groups.dev)"
    )
    assert warnings == [
        "plugins/b/pyproject.toml: [project.dependencies] 'core<1.0.1' excludes core 1.0.1; "
        "widen it by hand if it should allow the new version",
        "plugins/b/pyproject.toml: [project.dependencies] 'core==0.9.0' excludes core 1.0.1; "
        "widen it by hand if it should allow the new version",
    ]
    apply_edits(edits)
    reloaded = load_workspace(monorepo.root)
    pins = {str(site.requirement) for _pkg, site in reloaded.dependents(reloaded.get("core"))}
    assert 'Core[fast]==1.0.1; python_version >= "3.10"' in pins
    assert "core==1.0.0" not in pins


def test_bumping_two_packages_plans_the_second_on_top_of_the_first(monorepo: Workspace) -> None:
    core, plugin_a = monorepo.get("core"), monorepo.get("plugin-a")
    pins, _warnings = plan_pin_edits(monorepo, core, Version("1.0.0"), Version("1.1.0"))
    version = plan_version_edit(plugin_a, Version("2.1.0"), pending=pins)
    root_pins, _ = plan_pin_edits(
        monorepo, plugin_a, Version("2.0.0"), Version("2.1.0"), pending=[*pins, *version]
    )
    assert [e.path for e in root_pins] == [monorepo.root / "pyproject.toml"]
    core_version = plan_version_edit(core, Version("1.1.0"))
    apply_edits([*pins, *version, *root_pins, *core_version])
    assert read_version(plugin_a) == Version("2.1.0")
    assert read_version(core) == Version("1.1.0")
    text = plugin_a.pyproject.read_text(encoding="utf-8")
    assert '"core==1.1.0"' in text
    assert "# moves with core" in text
    assert '"plugin-a==2.1.0"' in (monorepo.root / "pyproject.toml").read_text(encoding="utf-8")
    assert planned_text(plugin_a.pyproject) == text


# --- __version__ literals ----------------------------------------------------------------------

LITERAL_FILES = {
    "src/demo/__init__.py": """\
        from importlib.metadata import PackageNotFoundError, version

        try:
            __version__ = version("demo")
        except PackageNotFoundError:
            __version__ = "0.0.0+unknown"
        """,
    "src/demo/_old.py": '__version__ = "0.1.0"\n',
    "src/demo/typed.py": "import sys\n\nif sys.platform:\n    __version__: str = '0.1.0'\n",
    "src/demo/func.py": 'def f() -> str:\n    __version__ = "9.9"\n    return __version__\n',
    "src/demo/broken.py": "def (:\n",
    "src/demo/tests/test_v.py": '__version__ = "0.1.0"\n',
    "tests/test_demo.py": '__version__ = "0.1.0"\n',
    ".venv/lib/site.py": '__version__ = "0.1.0"\n',
    "build/lib/demo/__init__.py": '__version__ = "0.1.0"\n',
    "noxfile.py": '__version__ = "0.1.0"\n',
    "demo_cli.py": '"""A top-level module."""\n__version__ = "0.1.0"\n',
    "extra/__init__.py": 'try:\n    __version__ = "0.1.0"\nfinally:\n    pass\n',
    "adapters/_x/src/x/__init__.py": '__version__ = "0.1.0"\n',
}


def test_version_literals_are_found_with_ast(tmp_path: Path) -> None:
    package = make_package(tmp_path, STATIC, LITERAL_FILES)
    found = {
        (lit.path.relative_to(tmp_path).as_posix(), lit.line, lit.value)
        for lit in find_version_literals(package)
    }
    assert found == {
        ("src/demo/_old.py", 1, "0.1.0"),
        ("src/demo/typed.py", 4, "0.1.0"),
        ("demo_cli.py", 2, "0.1.0"),
        ("extra/__init__.py", 2, "0.1.0"),
    }
    assert "importlib.metadata" in LITERAL_FIX_HINT


def test_the_oxi_example_has_no_version_literal(oxi_repo: Path) -> None:
    workspace = load_workspace(oxi_repo)
    assert all(find_version_literals(p) == [] for p in workspace.packages)
    (oxi_repo / "src" / "oxi_core" / "__init__.py").write_text(
        '"""oxi core."""\n\n__version__ = "0.0.0"\n', encoding="utf-8"
    )
    [literal] = find_version_literals(workspace.get("oxi-core"))
    assert (literal.path, literal.line, literal.value) == (
        oxi_repo / "src" / "oxi_core" / "__init__.py",
        3,
        "0.0.0",
    )
    assert find_version_literals(workspace.get("adapters/_reference")) == []


def test_tags_of_another_form_name_tag_format_and_the_tags_found(tmp_path: Path) -> None:
    pyproject = (
        '[project]\nname = "demo"\ndynamic = ["version"]\n'
        '[tool.hatch.version]\nsource = "vcs"\n'
        '[tool.releasekit]\ntag-format = "demo-v{version}"\n'
    )
    package = make_package(tmp_path, pyproject)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "init")
    for tag in ("1.5.0", "1.6.0"):
        git(tmp_path, "tag", tag)
    with pytest.raises(TagError) as info:
        read_version(package)
    assert "no git tag matches tag-format 'demo-v{version}'" in info.value.message
    assert "1.5.0, 1.6.0" in info.value.message
    assert "tag-format" in info.value.hint and '"{version}"' in info.value.hint
