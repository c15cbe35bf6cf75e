"""Package discovery, selection, dependency order."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasekit.errors import ConfigError, PackageNotFound, WorkspaceError
from releasekit.workspace import detect_tag_format, load_workspace
from tests.conftest import EXAMPLE, git


def test_example_packages_and_tags() -> None:
    workspace = load_workspace(EXAMPLE)
    assert [p.name for p in workspace.packages] == ["oxi-core", "oxi-adapter-reference"]
    core = workspace.get("oxi-core")
    assert core.tag("0.1.0a2") == "oxi-core-v0.1.0a2"  # several packages: {name}-v{version}
    assert core.dist_dir == EXAMPLE / "dist" / "oxi-core"
    assert core.console_scripts == ("oxi",)


@pytest.mark.parametrize("spelling", ["oxi-core", "oxi_core", "Oxi-Core", "OXI.core", "."])
def test_select_by_any_spelling_or_path(spelling: str) -> None:
    workspace = load_workspace(EXAMPLE)
    assert workspace.get(spelling).name == "oxi-core"


@pytest.mark.parametrize(
    "spelling", ["adapters/_reference", "adapters/_reference/", "oxi_adapter_reference"]
)
def test_select_adapter(spelling: str) -> None:
    assert load_workspace(EXAMPLE).get(spelling).name == "oxi-adapter-reference"


def test_all_in_dependency_order() -> None:
    workspace = load_workspace(EXAMPLE)
    adapter, core = workspace.get("adapters/_reference"), workspace.get("oxi-core")
    assert workspace.select(all_packages=True) == [core, adapter]
    assert workspace.select(["oxi-adapter-reference", "oxi-core"]) == [core, adapter]


def test_unknown_package_lists_known() -> None:
    with pytest.raises(PackageNotFound) as info:
        load_workspace(EXAMPLE).get("oxi-cor")
    assert "no package 'oxi-cor'" in str(info.value)
    assert "oxi-core (.)" in info.value.hint and "oxi-adapter-reference" in info.value.hint


def test_default_package_is_the_one_you_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    workspace = load_workspace(EXAMPLE)
    assert workspace.default_package(EXAMPLE / "adapters" / "_reference" / "src").name == (
        "oxi-adapter-reference"
    )
    assert workspace.default_package(EXAMPLE).name == "oxi-core"


def _pkg(root: Path, name: str, deps: list[str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    quoted = ", ".join(f'"{d}"' for d in deps)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "1.0"\ndependencies = [{quoted}]\n',
        encoding="utf-8",
    )


def test_cycle_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.releasekit]\npackages = ["pkgs/*"]\n')
    _pkg(tmp_path / "pkgs" / "a", "a", ["b==1.0"])
    _pkg(tmp_path / "pkgs" / "b", "b", ["c>=1"])
    _pkg(tmp_path / "pkgs" / "c", "c", ["a"])
    with pytest.raises(WorkspaceError, match="dependency cycle between packages: a -> b -> c -> a"):
        load_workspace(tmp_path)


def test_glob_that_matches_nothing(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname="x"\nversion="1"\n[tool.releasekit]\npackages = [".", "plugins/*"]\n'
    )
    with pytest.raises(ConfigError, match="'plugins/\\*' matches no directory"):
        load_workspace(tmp_path)


def test_single_package_default_tag_and_selection(tmp_path: Path) -> None:
    _pkg(tmp_path, "solo", [])
    workspace = load_workspace(tmp_path)
    assert workspace.select()[0].tag("1.0") == "v1.0"


def test_package_override_and_workspace_key_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.releasekit]\npackages = ["p/*"]\nbranch = "main"\n'
    )
    _pkg(tmp_path / "p" / "one", "one", [])
    with (tmp_path / "p" / "one" / "pyproject.toml").open("a") as fh:
        fh.write('[tool.releasekit]\nbranch = "stable"\n')
    assert load_workspace(tmp_path).get("one").settings.branch == "stable"
    with (tmp_path / "p" / "one" / "pyproject.toml").open("a") as fh:
        fh.write('packages = ["x"]\n')
    with pytest.raises(ConfigError, match="workspace key"):
        load_workspace(tmp_path)


TAG_FORMS = [
    (["v1.5.0", "v1.6.0"], "demo", "v{version}"),
    (["1.5.0", "1.6.0", "docs-2024"], "demo", "{version}"),
    (["demo-v1.0.0", "demo-v1.1.0", "v0.1"], "demo", "{name}-v{version}"),
    (["my_demo-1.0.0", "my-demo-1.1.0"], "My.Demo", "{name}-{version}"),
    (["demo@1.0.0", "other@2.0.0"], "demo", "{name}@{version}"),
    (["demo@v1.0.0"], "demo", "{name}@v{version}"),
    (["release-2024", "vbanana"], "demo", "v{version}"),  # nothing recognizable: the default
    ([], "demo", "v{version}"),
]


@pytest.mark.parametrize(("tags", "name", "form"), TAG_FORMS)
def test_tag_format_is_detected_from_the_repository_tags(
    tags: list[str], name: str, form: str
) -> None:
    assert detect_tag_format(tags, name, "v{version}") == form


def test_detected_tag_format_is_used_unless_configured(tmp_path: Path) -> None:
    _pkg(tmp_path, "solo", [])
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "init")
    git(tmp_path, "tag", "1.0")
    package = load_workspace(tmp_path).packages[0]
    assert (package.tag_format, package.tag_format_origin) == ("{version}", "detected")
    assert package.tag("1.1") == "1.1"
    with (tmp_path / "pyproject.toml").open("a") as fh:
        fh.write('[tool.releasekit]\ntag-format = "solo-{version}"\n')
    package = load_workspace(tmp_path).packages[0]
    assert (package.tag_format, package.tag_format_origin) == ("solo-{version}", "configured")


def _extras_pkg(root: Path, name: str, deps: list[str], extras: dict[str, list[str]]) -> None:
    _pkg(root, name, deps)
    with (root / "pyproject.toml").open("a") as fh:
        fh.write("[project.optional-dependencies]\n")
        for extra, reqs in extras.items():
            fh.write(f"{extra} = [{', '.join(repr(r) for r in reqs)}]\n")


def test_extras_and_groups_do_not_order_packages_and_their_loops_are_information(
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.releasekit]\npackages = ["pkgs/*"]\n')
    _extras_pkg(tmp_path / "pkgs" / "sdk", "sdk", [], {"config": ["configuration==1.0"]})
    _pkg(tmp_path / "pkgs" / "configuration", "configuration", ["sdk==1.0"])
    _pkg(tmp_path / "pkgs" / "plain", "plain", [])
    workspace = load_workspace(tmp_path)  # no "dependency cycle"
    assert [p.name for p in workspace.select(all_packages=True)] == [
        "sdk",
        "configuration",
        "plain",
    ]
    [loop] = workspace.sibling_loops()
    assert [p.name for p in loop] == ["sdk", "configuration", "sdk"]


def test_uv_workspace_members_are_the_packages(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1.0"\n'
        '[tool.uv.workspace]\nmembers = ["libs/*"]\nexclude = ["libs/old"]\n'
    )
    for name in ("core", "old", "extra"):
        _pkg(tmp_path / "libs" / name, name, [])
    (tmp_path / "libs" / "notes").mkdir()  # no pyproject: not a member
    workspace = load_workspace(tmp_path)
    assert sorted(p.rel for p in workspace.packages) == [".", "libs/core", "libs/extra"]
    text = (tmp_path / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(text + "[tool.uv]\npackage = false\n")
    assert sorted(p.rel for p in load_workspace(tmp_path).packages) == ["libs/core", "libs/extra"]
    with (tmp_path / "pyproject.toml").open("a") as fh:
        fh.write('[tool.releasekit]\npackages = ["libs/core"]\n')  # configured: it wins
    assert [p.rel for p in load_workspace(tmp_path).packages] == ["libs/core"]
