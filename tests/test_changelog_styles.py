"""Changelogs as projects write them: each style gets the new section at the top."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest
from packaging.version import Version

from releasekit.edits import apply_edits
from releasekit.errors import NotesError
from releasekit.notes import STUB_MARKER, notes_state, plan_errata, plan_notes, require_notes
from releasekit.workspace import Package, load_workspace

TODAY = date(2026, 4, 30)
NEW = Version("1.3.0")
OLD = Version("1.2.3")
LONG_TAIL = "".join(f"- change number {n}\n" for n in range(2000))  # a 2,000-line history


def _package(root: Path, filename: str, text: str) -> Package:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1.2.3"\n')
    (root / filename).write_text(textwrap.dedent(text) + LONG_TAIL)
    return load_workspace(root).packages[0]


# (file name, text before, the top of the text after)
STYLES = {
    "keep-a-changelog": (
        "CHANGELOG.md",
        """\
        # Changelog

        ## [Unreleased]

        - Added the frobnicator.

        ## [1.2.3] - 2024-01-01

        - Fixed it.

        """,
        """\
        # Changelog

        ## [Unreleased]

        ## [1.3.0] - 2026-04-30

        - Added the frobnicator.

        ## [1.2.3] - 2024-01-01
        """,
    ),
    "markdown-plain": (
        "CHANGES.md",
        """\
        # Changes

        ## v1.2.3 (2024-01-01)

        - Fixed it.

        """,
        f"""\
        # Changes

        ## v1.3.0 (2026-04-30)

        {STUB_MARKER}

        ## v1.2.3 (2024-01-01)
        """,
    ),
    "markdown-setext-history": (
        "HISTORY.md",
        """\
        Release History
        ===============

        dev
        ---

        - Added the frobnicator.

        1.2.3 (2024-01-01)
        ------------------

        - Fixed it.

        """,
        """\
        Release History
        ===============

        dev
        ---

        1.3.0 (2026-04-30)
        ------------------

        - Added the frobnicator.

        1.2.3 (2024-01-01)
        ------------------
        """,
    ),
    "restructuredtext": (
        "CHANGES.rst",
        """\
        =========
        Changelog
        =========

        Version 1.2.3
        -------------

        Released 2024-01-01

        - Fixed it.

        """,
        f"""\
        =========
        Changelog
        =========

        Version 1.3.0
        -------------

        {STUB_MARKER}

        Version 1.2.3
        -------------
        """,
    ),
    "restructuredtext-unreleased": (
        "HISTORY.rst",
        """\
        History
        =======

        Unreleased
        ~~~~~~~~~~

        * Added the frobnicator.

        1.2.3 - 2024-01-01
        ~~~~~~~~~~~~~~~~~~

        * Fixed it.

        """,
        """\
        History
        =======

        Unreleased
        ~~~~~~~~~~

        1.3.0 - 2026-04-30
        ~~~~~~~~~~~~~~~~~~

        * Added the frobnicator.

        1.2.3 - 2024-01-01
        ~~~~~~~~~~~~~~~~~~
        """,
    ),
    "plain-lines": (
        "NEWS.md",
        """\
        News
        ====

        1.2.3 (2024-01-01)

        - Fixed it.

        """,
        f"""\
        News
        ====

        1.3.0 (2026-04-30)

        {STUB_MARKER}

        1.2.3 (2024-01-01)
        """,
    ),
}


@pytest.mark.parametrize("style", list(STYLES))
def test_the_new_section_goes_at_the_top_in_the_files_own_style(tmp_path: Path, style: str) -> None:
    filename, before, top = STYLES[style]
    package = _package(tmp_path, filename, before)
    assert notes_state(package, OLD) == "filled"  # the old section is found in each style
    assert notes_state(package, NEW) == "missing"
    with pytest.raises(NotesError, match=r"has no \[1\.3\.0\] section"):
        require_notes(package, NEW)

    apply_edits(plan_notes(package, NEW, today=TODAY))
    after = (tmp_path / filename).read_text()
    assert after.startswith(textwrap.dedent(top)), after[:600]
    assert after.endswith(LONG_TAIL)
    assert after.count("1.3.0") == 1
    assert plan_notes(package, NEW, today=TODAY) == [], "a second run changes nothing"
    if "frobnicator" in before:  # what was under Unreleased is the new version's notes
        assert notes_state(package, NEW) == "filled"
        require_notes(package, NEW)
    else:
        assert notes_state(package, NEW) == "stub"


@pytest.mark.parametrize("style", ["markdown-setext-history", "restructuredtext", "plain-lines"])
def test_a_filled_section_passes_the_notes_check_in_each_style(tmp_path: Path, style: str) -> None:
    filename, before, _top = STYLES[style]
    package = _package(tmp_path, filename, before)
    apply_edits(plan_notes(package, NEW, today=TODAY))
    path = tmp_path / filename
    path.write_text(path.read_text().replace(STUB_MARKER, "- Made it faster."))
    require_notes(package, NEW)
    assert notes_state(package, NEW) == "filled"


def test_errata_go_under_the_version_in_a_markdown_history(tmp_path: Path) -> None:
    text = (
        "# Changes\n\n## v1.2.3 (2024-01-01)\n\n- Fixed it.\n\n## v1.2.2 (2023-01-01)\n\n- Old.\n"
    )
    package = _package(tmp_path, "CHANGES.md", text)
    apply_edits([plan_errata(package, OLD, "the wheel misses py.typed", status="bad")])
    after = (tmp_path / "CHANGES.md").read_text()
    assert after.startswith(
        "# Changes\n\n## v1.2.3 (2024-01-01)\n\n- Fixed it.\n\n### Errata\n\n**Status:** bad"
    )
    assert "- the wheel misses py.typed\n\n## v1.2.2 (2023-01-01)\n" in after
