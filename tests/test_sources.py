"""Every version source a build backend understands: found, read, written (table-driven)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.version import Version

from releasekit.edits import apply_edits
from releasekit.errors import ConfigError
from releasekit.literals import find_version_literals
from releasekit.version_source import (
    find_version_source,
    plan_version_edit,
    plan_version_files_edits,
    read_version,
    read_version_files,
)
from releasekit.workspace import Package, load_workspace


def make_package(root: Path, pyproject: str, files: dict[str, str]) -> Package:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(textwrap.dedent(pyproject), encoding="utf-8")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text), encoding="utf-8")
    return load_workspace(root).packages[0]


@dataclass(frozen=True)
class Shape:
    id: str
    pyproject: str
    files: dict[str, str] = field(default_factory=dict)
    path: str = "pyproject.toml"  # where the version is written
    version: str = "1.0.0"
    tool: str = ""


PEP621_DYNAMIC = '[project]\nname = "demo"\ndynamic = ["version"]\n'
FLIT = (
    '[build-system]\nrequires = ["flit_core>=3.4"]\nbuild-backend = "flit_core.buildapi"\n'
    '[project]\nname = "demo-pkg"\ndynamic = ["version", "description"]\n'
)
SETUPTOOLS = (
    '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
)

WRITABLE = [
    Shape("static", '[project]\nname = "demo"\nversion = "1.0.0"\n'),
    Shape(
        "hatch path",
        PEP621_DYNAMIC + '[tool.hatch.version]\npath = "src/demo/__about__.py"\n',
        {"src/demo/__about__.py": '__version__ = "1.0.0"\n'},
        "src/demo/__about__.py",
        tool="hatchling",
    ),
    Shape(
        "hatch path with pattern",
        PEP621_DYNAMIC + '[tool.hatch.version]\npath = "demo.py"\n'
        "pattern = \"RELEASE = '(?P<version>[^']+)'\"\n",
        {"demo.py": "RELEASE = '1.0.0'\n__version__ = '9.9'\n"},
        "demo.py",
        tool="hatchling",
    ),
    Shape(
        "flit module",
        FLIT,
        {"demo_pkg/__init__.py": '"""Demo."""\n\n__version__ = "1.0.0"\n'},
        "demo_pkg/__init__.py",
        tool="flit",
    ),
    Shape(
        "flit src layout, module named",
        FLIT + '[tool.flit.module]\nname = "demo_mod"\n',
        {"src/demo_mod/__init__.py": '"""Demo."""\n__version__: str = "1.0.0"\n'},
        "src/demo_mod/__init__.py",
        tool="flit",
    ),
    Shape(
        "setuptools attr",
        SETUPTOOLS
        + PEP621_DYNAMIC
        + '[tool.setuptools.dynamic]\nversion = {attr = "demo.__version__"}\n',
        {"src/demo/__init__.py": '__version__ = "1.0.0"\n'},
        "src/demo/__init__.py",
        tool="setuptools",
    ),
    Shape(
        "setuptools attr through an import",
        SETUPTOOLS
        + PEP621_DYNAMIC
        + '[tool.setuptools.dynamic]\nversion = {attr = "demo.__version__"}\n',
        {
            "demo/__init__.py": "from ._version import __version__\n",
            "demo/_version.py": "__version__ = version = '1.0.0'\n",
        },
        "demo/_version.py",
        tool="setuptools",
    ),
    Shape(
        "setuptools file",
        SETUPTOOLS + PEP621_DYNAMIC + '[tool.setuptools.dynamic]\nversion = {file = "VERSION"}\n',
        {"VERSION": "1.0.0\n"},
        "VERSION",
        tool="setuptools",
    ),
    Shape(
        "setup.cfg attr",
        SETUPTOOLS,
        {
            "setup.cfg": "[metadata]\nname = demo\nversion = attr: demo.VERSION\n",
            "demo/__init__.py": 'VERSION = "1.0.0"\n',
        },
        "demo/__init__.py",
        tool="setuptools",
    ),
    Shape(
        "setup.cfg file",
        SETUPTOOLS,
        {
            "setup.cfg": "[metadata]\nname = demo\nversion = file: src/demo/VERSION.txt\n",
            "src/demo/VERSION.txt": "1.0.0",
        },
        "src/demo/VERSION.txt",
        tool="setuptools",
    ),
    Shape(
        "setup.cfg literal",
        SETUPTOOLS,
        {
            "setup.cfg": "[bumpversion]\nversion = 0.0.1\n\n"
            "[metadata]\nname = demo\nversion = 1.0.0\n\n[options]\npackages = find:\n"
        },
        "setup.cfg",
        tool="setuptools",
    ),
    Shape(
        "poetry-core",
        '[build-system]\nrequires = ["poetry-core"]\nbuild-backend = "poetry.core.masonry.api"\n'
        '[tool.poetry]\nname = "demo"\nversion = "1.0.0"  # keep\ndescription = ""\n',
        tool="poetry",
    ),
    Shape(
        "poetry-core 2, dynamic",
        PEP621_DYNAMIC + '[tool.poetry]\nversion = "1.0.0"\n',
        tool="poetry",
    ),
    Shape(
        "pdm file",
        PEP621_DYNAMIC + '[tool.pdm.version]\nsource = "file"\npath = "src/demo/__init__.py"\n',
        {"src/demo/__init__.py": "__version__ = '1.0.0'\n"},
        "src/demo/__init__.py",
        tool="pdm",
    ),
]


@pytest.mark.parametrize("shape", WRITABLE, ids=[s.id for s in WRITABLE])
def test_each_source_is_read_written_and_not_called_a_stale_literal(
    tmp_path: Path, shape: Shape
) -> None:
    package = make_package(tmp_path, shape.pyproject, shape.files)
    source = find_version_source(package)
    assert source.kind in {"static", "file"}
    assert source.path == tmp_path / shape.path
    assert source.tool == shape.tool
    assert read_version(package) == Version(shape.version)
    before = source.path.read_text(encoding="utf-8")
    [edit] = plan_version_edit(package, Version("1.1.0rc1"))
    assert edit.path == source.path
    apply_edits([edit])
    after = source.path.read_text(encoding="utf-8")
    assert after == before.replace("1.0.0", "1.1.0rc1", 1)  # only the version moved
    assert read_version(package) == Version("1.1.0rc1")
    assert find_version_literals(package) == []  # the configured source is no stale copy


TAG_DRIVEN = [
    ("setuptools-scm requires", '[build-system]\nrequires = ["setuptools", "setuptools-scm>=8"]\n'),
    ("tool.setuptools_scm", "[tool.setuptools_scm]\n"),
    ("hatch-vcs", '[tool.hatch.version]\nsource = "vcs"\n'),
    ("pdm scm", '[tool.pdm.version]\nsource = "scm"\n'),
    ("versioningit", "[tool.versioningit]\n"),
    ("poetry-dynamic-versioning", "[tool.poetry-dynamic-versioning]\nenable = true\n"),
    ("uv-dynamic-versioning", '[tool.hatch.version]\nsource = "uv-dynamic-versioning"\n'),
]


@pytest.mark.parametrize(("config"), [c for _, c in TAG_DRIVEN], ids=[i for i, _ in TAG_DRIVEN])
def test_tag_driven_sources(tmp_path: Path, config: str) -> None:
    package = make_package(tmp_path, PEP621_DYNAMIC + config, {})
    source = find_version_source(package)
    assert (source.kind, source.path) == ("tag", None)
    assert plan_version_edit(package, Version("2.0.0")) == []


def test_a_generated_scm_version_file_is_no_stale_literal(tmp_path: Path) -> None:
    package = make_package(
        tmp_path,
        PEP621_DYNAMIC + '[tool.setuptools_scm]\nversion_file = "src/demo/_version.py"\n',
        {
            "src/demo/_version.py": "__version__ = version = '1.0.1.dev3+g1234'\n",
            "src/demo/old.py": "__version__ = '0.9'\n",
        },
    )
    found = [lit.path.name for lit in find_version_literals(package)]
    assert found == ["old.py"]


UNKNOWN = [
    (
        "hatch code source",
        PEP621_DYNAMIC + '[tool.hatch.version]\nsource = "code"\npath = "v.py"\n',
        "[tool.hatch.version] source = 'code'",
    ),
    (
        "setuptools attr that is computed",
        SETUPTOOLS
        + PEP621_DYNAMIC
        + '[tool.setuptools.dynamic]\nversion = {attr = "demo.__version__"}\n',
        "'demo.__version__' is not a string literal (looked in demo/__init__.py)",
    ),
    (
        "an unknown backend",
        '[build-system]\nrequires = ["maturin"]\nbuild-backend = "maturin"\n' + PEP621_DYNAMIC,
        "build-backend 'maturin'",
    ),
]


@pytest.mark.parametrize(
    ("pyproject", "found"), [(p, f) for _, p, f in UNKNOWN], ids=[i for i, _, _ in UNKNOWN]
)
def test_an_unknown_source_is_readable_but_a_bump_names_what_was_found_and_the_key(
    tmp_path: Path, pyproject: str, found: str
) -> None:
    files = {"demo/__init__.py": "__version__ = '.'.join(['1', '0'])\n", "v.py": ""}
    package = make_package(tmp_path, pyproject, files)
    source = find_version_source(package)
    assert source.kind == "backend"
    assert found in source.detail
    with pytest.raises(ConfigError) as info:
        plan_version_edit(package, Version("2.0"))
    assert found in info.value.message
    assert "version-files" in info.value.hint


def test_the_backend_is_asked_when_no_known_source_applies(tmp_path: Path) -> None:
    """hatchling's `code` source runs Python: only the backend knows the version."""
    package = make_package(
        tmp_path,
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        + PEP621_DYNAMIC
        + '[tool.hatch.version]\nsource = "code"\npath = "src/demo/ver.py"\n'
        '[tool.releasekit]\nversion-files = [{path = "src/demo/ver.py", '
        'pattern = \'PARTS = \\"(?P<version>[^\\"]+)\\"\'}]\n',
        {
            "src/demo/__init__.py": "",
            "src/demo/ver.py": 'PARTS = "1.4.2"\n__version__ = PARTS\n',
        },
    )
    assert read_version(package) == Version("1.4.2")
    assert plan_version_edit(package, Version("1.5.0")) == []  # version-files carry it
    apply_edits(plan_version_files_edits(package, Version("1.5.0")))
    assert read_version(package) == Version("1.5.0")
    [(entry, value)] = read_version_files(package)
    assert (entry.shown, value) == ("src/demo/ver.py", Version("1.5.0"))


VERSION_FILES = [
    ('["src/demo/_version.py"]', "__version__ = version = '1.0.0'\n", None),
    ('["src/demo/_version.py"]', 'VERSION: str = "1.0.0"\n', None),
    (
        '[{path = "src/demo/_version.py", pattern = \'release = "(?P<version>[^"]+)"\'}]',
        'release = "1.0.0"\n',
        None,
    ),
    ('["src/demo/_version.py"]', "nothing here\n", "no version in 'src/demo/_version.py'"),
    ('["src/demo/missing.py"]', "", "does not exist"),
]


@pytest.mark.parametrize(("config", "text", "error"), VERSION_FILES)
def test_version_files_are_written_beside_the_source(
    tmp_path: Path, config: str, text: str, error: str | None
) -> None:
    package = make_package(
        tmp_path,
        '[project]\nname = "demo"\nversion = "1.0.0"\n'
        f"[tool.releasekit]\nversion-files = {config}\n",
        {"src/demo/_version.py": text},
    )
    if error is not None:
        with pytest.raises(ConfigError, match=error):
            plan_version_files_edits(package, Version("1.0.1"))
        return
    [(_entry, value)] = read_version_files(package)
    assert value == Version("1.0.0")
    apply_edits(plan_version_files_edits(package, Version("1.0.1")))
    written = (tmp_path / "src/demo/_version.py").read_text(encoding="utf-8")
    assert written == text.replace("1.0.0", "1.0.1")
    assert find_version_literals(package) == []  # a version file is checked, not a stray literal


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ("[1]", "is not a path"),
        ('["/etc/passwd"]', "must be a path inside the package"),
        ('[{path = "v.py", patern = "x"}]', "did you mean 'pattern'"),
        ('[{path = "v.py", pattern = "x(?P<v>"}]', "not a valid regular expression"),
        ('[{path = "v.py", pattern = "v = (.+)"}]', "no group named 'version'"),
    ],
)
def test_bad_version_files_are_config_errors(tmp_path: Path, config: str, needle: str) -> None:
    (tmp_path / "pyproject.toml").write_text(
        f'[project]\nname = "demo"\nversion = "1"\n[tool.releasekit]\nversion-files = {config}\n'
    )
    with pytest.raises(ConfigError, match=needle) as info:
        load_workspace(tmp_path)
    assert "version-files" in info.value.message
