"""apply_edits: every planned file change is written, or none is."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from releasekit.edits import FileEdit, apply_edits, merge_edits, planned_text, read_text
from releasekit.errors import EditFailed, ReleaseError


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file and directory under ``root`` (directories map to None), bytes included."""
    return {
        p.relative_to(root).as_posix(): (None if p.is_dir() else p.read_bytes())
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture
def three_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A LF file, a CRLF file with non-ASCII text, and a read-only-for-others script."""
    lf = tmp_path / "pyproject.toml"
    lf.write_bytes(b'[project]\nversion = "1.0"  # keep me\n')
    crlf = tmp_path / "notes.md"
    crlf.write_bytes("# Notes\r\n\r\nCaf\u00e9 \u2014 first\r\n".encode())
    script = tmp_path / "run.sh"
    script.write_bytes(b"#!/bin/sh\necho 1.0\n")
    script.chmod(0o750)
    return lf, crlf, script


def edit_of(path: Path, old: str, new: str, reason: str = "test") -> FileEdit:
    text = read_text(path)
    assert text is not None
    return FileEdit(path, text, text.replace(old, new), reason)


def test_apply_writes_every_file_keeping_newlines_encoding_and_mode(
    tmp_path: Path, three_files: tuple[Path, Path, Path]
) -> None:
    lf, crlf, script = three_files
    created = tmp_path / "docs" / "release-notes" / "v1.1.md"
    apply_edits(
        [
            edit_of(lf, "1.0", "1.1"),
            edit_of(crlf, "first", "second \u00e9"),
            edit_of(script, "1.0", "1.1"),
            FileEdit(created, None, "# demo 1.1\n", "stub"),
        ]
    )
    assert lf.read_bytes() == b'[project]\nversion = "1.1"  # keep me\n'
    assert crlf.read_bytes() == "# Notes\r\n\r\nCaf\u00e9 \u2014 second \u00e9\r\n".encode()
    assert stat.S_IMODE(script.stat().st_mode) == 0o750
    assert created.read_text(encoding="utf-8") == "# demo 1.1\n"
    leftovers = [p.name for p in tmp_path.rglob("*.tmp")]
    assert leftovers == []


def test_a_file_changed_since_planning_is_refused_and_nothing_written(
    tmp_path: Path, three_files: tuple[Path, Path, Path]
) -> None:
    lf, crlf, _script = three_files
    plan = [edit_of(lf, "1.0", "1.1"), edit_of(crlf, "first", "second")]
    crlf.write_bytes(crlf.read_bytes() + b"edited by hand\r\n")
    before = snapshot(tmp_path)
    with pytest.raises(EditFailed) as info:
        apply_edits(plan)
    assert repr(str(crlf)) in info.value.message
    assert "changed since the edit was planned" in info.value.message
    assert "run the command again" in info.value.hint
    assert snapshot(tmp_path) == before


def test_a_file_to_create_that_appeared_meanwhile_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "v1.1.md"
    plan = [FileEdit(target, None, "# new\n", "stub")]
    target.write_text("# written by someone else\n", encoding="utf-8")
    with pytest.raises(EditFailed, match="now exists"):
        apply_edits(plan)
    assert target.read_text(encoding="utf-8") == "# written by someone else\n"


def test_a_directory_where_the_file_should_be_is_refused(tmp_path: Path) -> None:
    (tmp_path / "CHANGELOG.md").mkdir()
    with pytest.raises(EditFailed, match="is a directory"):
        apply_edits([FileEdit(tmp_path / "CHANGELOG.md", None, "x\n", "changelog")])


def test_a_real_failure_midway_restores_every_file(
    tmp_path: Path, three_files: tuple[Path, Path, Path]
) -> None:
    """The 3rd replace fails for real (a non-empty directory is in the way): all undone."""
    lf, crlf, _script = three_files
    before = snapshot(tmp_path)
    plan = [
        edit_of(lf, "1.0", "1.1"),
        FileEdit(tmp_path / "out" / "notes.md", None, "# notes\n", "creates out/"),
        FileEdit(tmp_path / "out", None, "a file where the directory went\n", "clash"),
        edit_of(crlf, "first", "second"),
    ]
    with pytest.raises(EditFailed) as info:
        apply_edits(plan)
    assert "no file was changed" in info.value.message
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("failure", "after_the_rename"),
    [
        (OSError(28, "No space left on device"), False),
        (KeyboardInterrupt(), False),
        (KeyboardInterrupt(), True),  # Ctrl-C lands just after the 2nd rename went through
    ],
    ids=["disk full", "ctrl-c before", "ctrl-c after"],
)
def test_an_interruption_at_the_second_replace_leaves_files_byte_identical(
    tmp_path: Path,
    three_files: tuple[Path, Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    failure: BaseException,
    after_the_rename: bool,
) -> None:
    lf, crlf, script = three_files
    before = snapshot(tmp_path)
    plan = [
        edit_of(lf, "1.0", "1.1"),
        FileEdit(tmp_path / "docs" / "v1.1.md", None, "# 1.1\n", "stub"),
        edit_of(crlf, "first", "second"),
        edit_of(script, "1.0", "1.1"),
    ]
    real_replace = os.replace
    calls: list[str] = []

    def flaky_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append(os.fspath(dst))
        if len(calls) == 2:
            if after_the_rename:
                real_replace(src, dst)
            raise failure
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    expected = EditFailed if isinstance(failure, OSError) else KeyboardInterrupt
    with pytest.raises(expected):
        apply_edits(plan)
    monkeypatch.undo()
    assert calls[:2] == [str(lf), str(tmp_path / "docs" / "v1.1.md")]
    assert snapshot(tmp_path) == before  # created file and its directory are gone too
    assert stat.S_IMODE(script.stat().st_mode) == 0o750


def test_edits_planned_on_top_of_each_other_are_merged_into_one(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('version = "1.0"\ndeps = ["a==1.0"]\n', encoding="utf-8")
    first = edit_of(path, 'version = "1.0"', 'version = "1.1"', "version")
    base = planned_text(path, [first])
    assert base == 'version = "1.1"\ndeps = ["a==1.0"]\n'
    second = FileEdit(path, base, base.replace("a==1.0", "a==1.1"), "pin")
    merged = merge_edits([first, second])
    assert len(merged) == 1
    assert merged[0].reason == "version; pin"
    apply_edits([first, second])
    assert path.read_text(encoding="utf-8") == 'version = "1.1"\ndeps = ["a==1.1"]\n'


def test_two_edits_of_one_file_planned_from_the_same_text_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('version = "1.0"\ndeps = ["a==1.0"]\n', encoding="utf-8")
    one = edit_of(path, 'version = "1.0"', 'version = "1.1"')
    other = edit_of(path, "a==1.0", "a==1.1")
    with pytest.raises(ValueError, match="do not build on each other"):
        apply_edits([one, other])
    assert path.read_text(encoding="utf-8") == 'version = "1.0"\ndeps = ["a==1.0"]\n'


def test_diff_shows_the_change_relative_to_the_root(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('version = "1.0"\n', encoding="utf-8")
    diff = edit_of(path, "1.0", "1.1").diff(tmp_path)
    assert '-version = "1.0"' in diff
    assert '+version = "1.1"' in diff
    assert "a/pyproject.toml" in diff
    created = FileEdit(tmp_path / "new.md", None, "# hi\n", "new").diff(tmp_path)
    assert "/dev/null" in created


def test_a_relative_path_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="absolute"):
        FileEdit(Path("pyproject.toml"), None, "", "relative")


def test_a_file_that_is_not_utf8_is_a_release_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.md"
    path.write_bytes("Caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ReleaseError, match="not UTF-8"):
        read_text(path)


def test_a_removal_is_part_of_the_all_or_nothing(
    tmp_path: Path, three_files: tuple[Path, Path, Path]
) -> None:
    """A file to remove is back, byte for byte, when a later write fails."""
    lf, crlf, _script = three_files
    fragment = tmp_path / "changes" / "12.fixed.md"
    fragment.parent.mkdir()
    fragment.write_bytes(b"Fixed it\r\n")
    before = snapshot(tmp_path)
    plan = [
        edit_of(lf, "1.0", "1.1"),
        FileEdit(fragment, "Fixed it\r\n", "", "collected", removes=True),
        FileEdit(tmp_path / "out" / "notes.md", None, "# notes\n", "creates out/"),
        FileEdit(tmp_path / "out", None, "a file where the directory went\n", "clash"),
        edit_of(crlf, "first", "second"),
    ]
    with pytest.raises(EditFailed, match="no file was changed"):
        apply_edits(plan)
    assert snapshot(tmp_path) == before
    apply_edits(plan[:2])
    assert not fragment.exists()
    assert sorted(p.name for p in fragment.parent.iterdir()) == []  # no backup left behind
    assert plan[1].removes and plan[1].diff(tmp_path).startswith("--- a/changes/12.fixed.md")
