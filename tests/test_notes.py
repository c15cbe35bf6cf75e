"""Release notes in both styles: stub, state, check, errata and status marks."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest
from packaging.version import Version

from releasekit.edits import apply_edits
from releasekit.errors import NotesError
from releasekit.notes import (
    STUB_MARKER,
    notes_location,
    notes_state,
    plan_errata,
    plan_notes,
    release_marks,
    require_notes,
)
from releasekit.pins import plan_pin_edits
from releasekit.version_source import plan_version_edit, read_version
from releasekit.versions import BumpRequest, plan_bump
from releasekit.workspace import Package, load_workspace
from tests.conftest import git

V1 = Version("1.0.0")
TODAY = date(2026, 4, 30)


def make_package(root: Path, releasekit: str = "") -> Package:
    """A one-package workspace ``demo`` 1.0.0 with the given [tool.releasekit] body."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "demo"\nversion = "1.0.0"\n\n[tool.releasekit]\n{releasekit}\n',
        encoding="utf-8",
    )
    return load_workspace(root).packages[0]


def changelog_package(tmp_path: Path, text: str | None, *, crlf: bool = False) -> Package:
    package = make_package(tmp_path, 'changelog = "CHANGELOG.md"')
    if text is not None:
        body = textwrap.dedent(text)
        if crlf:
            body = body.replace("\n", "\r\n")
        (tmp_path / "CHANGELOG.md").write_bytes(body.encode())
    return package


# --- the notes-directory style -------------------------------------------------------------------


def test_notes_stub_is_created_then_checked_until_written(tmp_path: Path) -> None:
    package = make_package(tmp_path, 'release-notes = "docs/release-notes/v{version}.md"')
    path = tmp_path / "docs" / "release-notes" / "v1.0.0.md"
    assert notes_location(package, V1) == path
    assert notes_state(package, V1) == "missing"
    with pytest.raises(NotesError) as missing:
        require_notes(package, V1)
    assert "'docs/release-notes/v1.0.0.md' does not exist" in missing.value.message
    assert missing.value.hint.startswith(
        "create them with `invoke notes --package demo --version 1.0.0`"
    )

    [edit] = plan_notes(package, V1)
    assert edit.before is None
    apply_edits([edit])
    assert path.read_text(encoding="utf-8") == f"# demo 1.0.0\n\n{STUB_MARKER}\n"
    assert notes_state(package, V1) == "stub"
    with pytest.raises(NotesError) as stub:
        require_notes(package, V1)
    assert "untouched stub" in stub.value.message
    assert f"write what changed in {path}" in stub.value.hint
    assert plan_notes(package, V1) == []  # never overwrites

    path.write_text(f"# demo 1.0.0\n\nAdded `demo --json`.\n\n{STUB_MARKER}\n", encoding="utf-8")
    assert notes_state(package, V1) == "stub"  # the placeholder is still there
    path.write_text("# demo 1.0.0\n\n## Added\n\n", encoding="utf-8")
    assert notes_state(package, V1) == "stub"  # headings alone say nothing
    path.write_text("# demo 1.0.0\n\n## Added\n\n- `demo --json`\n", encoding="utf-8")
    assert notes_state(package, V1) == "filled"
    require_notes(package, V1)


def test_without_configuration_notes_go_to_the_default_directory(tmp_path: Path) -> None:
    package = make_package(tmp_path)
    assert notes_location(package, Version("2.0.0rc1")) == (
        tmp_path / "docs" / "release-notes" / "v2.0.0rc1.md"
    )


def test_notes_template_may_use_the_name(tmp_path: Path) -> None:
    package = make_package(tmp_path, 'release-notes = "notes/{name}/{version}.md"')
    [edit] = plan_notes(package, V1)
    assert edit.path == tmp_path / "notes" / "demo" / "1.0.0.md"


def test_errata_and_status_marks_in_a_notes_file(tmp_path: Path) -> None:
    package = make_package(tmp_path)
    path = notes_location(package, V1)
    path.parent.mkdir(parents=True)
    path.write_text("# demo 1.0.0\n\nFirst release.\n", encoding="utf-8")
    assert release_marks(package, V1) is None

    apply_edits([plan_errata(package, V1, "`demo --version` prints 0.0.0")])
    assert release_marks(package, V1) is None
    apply_edits([plan_errata(package, V1, "fixed in 1.0.1", status="bad")])
    assert release_marks(package, V1) == "bad"
    apply_edits([plan_errata(package, V1, "", status="yanked")])
    assert release_marks(package, V1) == "yanked"
    assert path.read_text(encoding="utf-8") == (
        "# demo 1.0.0\n\nFirst release.\n\n## Errata\n\n"
        "**Status:** yanked. Installers skip it unless it is pinned exactly; "
        "upgrade to a later version.\n\n"
        "- `demo --version` prints 0.0.0\n- fixed in 1.0.1\n"
    )
    assert notes_state(package, V1) == "filled"


def test_errata_for_a_version_without_notes_creates_its_file(tmp_path: Path) -> None:
    package = make_package(tmp_path)
    edit = plan_errata(package, Version("0.9.0"), "broken wheel\ntag: py2", status="bad")
    assert edit.before is None
    assert edit.after == (
        "# demo 0.9.0\n\n## Errata\n\n"
        "**Status:** bad release. Do not use it; upgrade to a later version.\n\n"
        "- broken wheel\n  tag: py2\n"
    )
    apply_edits([edit])
    assert release_marks(package, Version("0.9.0")) == "bad"
    with pytest.raises(NotesError, match="no errata text"):
        plan_errata(package, V1, "  ")


# --- the changelog style -------------------------------------------------------------------------

CHANGELOG = """\
    # Changelog

    All notable changes are listed here.

    ## [Unreleased]

    ### Added
    - `demo --json`

    ## [0.9.0] - 2026-01-02

    - First release.

    [Unreleased]: https://example.invalid/compare/v0.9.0...HEAD
    [0.9.0]: https://example.invalid/releases/v0.9.0
    """


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_unreleased_becomes_the_version_section(tmp_path: Path, crlf: bool) -> None:
    package = changelog_package(tmp_path, CHANGELOG, crlf=crlf)
    assert notes_location(package, V1) == tmp_path / "CHANGELOG.md"
    assert notes_state(package, V1) == "missing"
    with pytest.raises(NotesError, match=r"has no \[1.0.0\] section"):
        require_notes(package, V1)
    [edit] = plan_notes(package, V1, today=TODAY)
    expected = textwrap.dedent(CHANGELOG).replace(
        "## [Unreleased]\n", "## [Unreleased]\n\n## [1.0.0] - 2026-04-30\n"
    )
    if crlf:
        expected = expected.replace("\n", "\r\n")
    assert edit.after == expected
    apply_edits([edit])
    assert notes_state(package, V1) == "filled"
    require_notes(package, V1)
    assert notes_state(package, Version("0.9.0")) == "filled"
    assert plan_notes(package, V1, today=TODAY) == []


def test_an_empty_unreleased_section_gives_an_empty_version_section(tmp_path: Path) -> None:
    package = changelog_package(tmp_path, "# Changelog\n\n## [Unreleased]\n")
    apply_edits(plan_notes(package, V1, today=TODAY))
    text = (tmp_path / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text == "# Changelog\n\n## [Unreleased]\n\n## [1.0.0] - 2026-04-30\n"
    assert notes_state(package, V1) == "stub"
    with pytest.raises(NotesError) as info:
        require_notes(package, V1)
    assert "CHANGELOG.md" in info.value.hint


def test_without_unreleased_the_section_goes_after_the_title(tmp_path: Path) -> None:
    text = "# Changelog\n\nNotes.\n\n## 0.9.0 - 2026-01-02\n\n- First.\n"
    package = changelog_package(tmp_path, text)
    [edit] = plan_notes(package, V1, today=TODAY)
    assert edit.after == (  # the new heading is written like the newest one
        "# Changelog\n\nNotes.\n\n"
        f"## 1.0.0 - 2026-04-30\n\n{STUB_MARKER}\n\n"
        "## 0.9.0 - 2026-01-02\n\n- First.\n"
    )
    apply_edits([edit])
    assert notes_state(package, V1) == "stub"
    assert notes_state(package, Version("0.9.0")) == "filled"  # "## 0.9.0" without brackets


def test_a_missing_changelog_is_created(tmp_path: Path) -> None:
    package = changelog_package(tmp_path, None)
    [edit] = plan_notes(package, V1, today=TODAY)
    assert edit.before is None
    assert "## [Unreleased]\n\n## [1.0.0] - 2026-04-30\n" in edit.after
    assert "Keep a Changelog" in edit.after
    apply_edits([edit])
    assert notes_state(package, V1) == "stub"


def test_errata_and_marks_under_a_changelog_section(tmp_path: Path) -> None:
    package = changelog_package(tmp_path, CHANGELOG)
    old = Version("0.9.0")
    apply_edits([plan_errata(package, old, "the wheel misses py.typed", status="bad")])
    apply_edits([plan_errata(package, old, "use 1.0.0")])
    text = (tmp_path / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text == textwrap.dedent(CHANGELOG).replace(
        "- First release.\n",
        "- First release.\n\n### Errata\n\n"
        "**Status:** bad release. Do not use it; upgrade to a later version.\n\n"
        "- the wheel misses py.typed\n- use 1.0.0\n",
    )
    assert release_marks(package, old) == "bad"
    assert release_marks(package, V1) is None
    with pytest.raises(NotesError, match=r"no \[1.0.0\] section"):
        plan_errata(package, V1, "not released yet")


# --- a bump of the example monorepo --------------------------------------------------------------


def test_pre_bump_of_oxi_core_moves_version_pin_and_notes(oxi_repo: Path) -> None:
    workspace = load_workspace(oxi_repo)
    core = workspace.get("oxi-core")
    old = read_version(core)
    new = plan_bump(old, BumpRequest(pre=""))
    assert (str(old), str(new)) == ("0.1.0a1", "0.1.0a2")
    edits = plan_version_edit(core, new)
    pins, warnings = plan_pin_edits(workspace, core, old, new)
    edits += pins + plan_notes(core, new)
    assert warnings == []
    apply_edits(edits)

    root = (oxi_repo / "pyproject.toml").read_text(encoding="utf-8")
    assert root.startswith("# oxi: a small monorepo released with releasekit.\n")
    assert (
        'version = "0.1.0a2"  # the single source of the version: releasekit bumps it here\n'
        in root
    )
    adapter = (oxi_repo / "adapters" / "_reference" / "pyproject.toml").read_text("utf-8")
    assert (
        '"oxi-core==0.1.0a2",  # moves in step with oxi-core: releasekit rewrites this pin\n'
        in adapter
    )
    assert 'version = "0.1.0a1"' in adapter  # the adapter's own version does not move
    notes = oxi_repo / "docs" / "release-notes" / "v0.1.0a2.md"
    assert notes.read_text(encoding="utf-8") == f"# oxi-core 0.1.0a2\n\n{STUB_MARKER}\n"
    status = git(oxi_repo, "status", "--porcelain", "--untracked-files=all")
    assert sorted(tuple(line.split()) for line in status.splitlines()) == [
        ("??", "docs/release-notes/v0.1.0a2.md"),
        ("M", "adapters/_reference/pyproject.toml"),
        ("M", "pyproject.toml"),
    ]
    assert git(oxi_repo, "diff", "--numstat").splitlines() == [
        "1\t1\tadapters/_reference/pyproject.toml",
        "1\t1\tpyproject.toml",
    ]
    assert read_version(load_workspace(oxi_repo).get("oxi-core")) == new
