"""Verify proves it is what was built: hashes against the build or the release record,
and a wheel rebuilt from the published sdist compared with the published wheel.

A tampered index is made the way an attacker (or a broken mirror) would: the
file in pypiserver's package folder is replaced, so the index lists the new
bytes with their own, correct sha256.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from releasekit.errors import DigestMismatch, NotReproducible, VerifyFailed
from releasekit.index import IndexFile, file_sha256
from releasekit.publish import publish
from releasekit.record import (
    ReleaseRecord,
    check_served,
    read_record,
    record_of,
    record_path,
    verify_basis,
    write_record,
)
from releasekit.verify import compare_wheels, verify_published
from tests.cli import nox
from tests.conftest import git
from tests.test_release import summary_rows, use_index

if TYPE_CHECKING:
    from tests.pypiserver_fixtures import Dists, PypiServer

pytest_plugins = ["tests.pypiserver_fixtures"]

NAME, VERSION = "oxi-core", "0.1.0a1"
WHEEL = "oxi_core-0.1.0a1-py3-none-any.whl"


def zip_of(path: Path, members: dict[str, bytes], *, year: int = 2020) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(year, 1, 1, 0, 0, 0)), data)
    return path


def with_extra_member(wheel: Path, dest: Path) -> Path:
    """``wheel`` with one more module: it installs and proves itself, but is not what was built."""
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / wheel.name
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr("oxi_core/injected.py", "print('not ours')\n")
    return out


# --- comparing wheels -------------------------------------------------------------------


def test_compare_wheels_says_identical_or_which_members_differ(tmp_path: Path) -> None:
    members = {"pkg/__init__.py": b"x = 1\n", "pkg-1.dist-info/RECORD": b"r\n"}
    a = zip_of(tmp_path / "a" / "w.whl", members)
    same = zip_of(tmp_path / "b" / "w.whl", members)
    assert compare_wheels(a, same).identical
    line = compare_wheels(a, same).describe("w.whl", 1700000000)
    assert line == (
        "reproducible: w.whl rebuilt from the published sdist is byte-identical to the "
        "published wheel (SOURCE_DATE_EPOCH=1700000000)"
    )

    other = zip_of(
        tmp_path / "c" / "w.whl",
        {"pkg/__init__.py": b"x = 2\n", "pkg-1.dist-info/RECORD": b"r\n", "pkg/new.py": b""},
    )
    diff = compare_wheels(a, other)
    assert not diff.identical
    assert diff.differing == ("pkg/__init__.py",)
    assert diff.only_rebuilt == ("pkg/new.py",) and diff.only_published == ()
    assert diff.describe("w.whl", None) == (
        "not reproducible: w.whl rebuilt from the published sdist differs from the published "
        "wheel (no SOURCE_DATE_EPOCH known): members differ: pkg/__init__.py; "
        "only in the rebuilt wheel: pkg/new.py"
    )

    later = zip_of(tmp_path / "d" / "w.whl", members, year=2024)
    assert "same members and contents; the archives differ in timestamps" in (
        compare_wheels(a, later).describe("w.whl", 1)
    )


# --- the release record ------------------------------------------------------------------


def test_the_record_round_trips_and_names_both_hashes_on_a_mismatch(tmp_path: Path) -> None:
    wheel = zip_of(tmp_path / "dist" / WHEEL, {"a": b"1"})
    record = record_of(NAME, VERSION, [wheel], commit="c0ffee", tag="v1", source_date_epoch=7)
    path = write_record(tmp_path / "dist", record)
    assert path == record_path(tmp_path / "dist", NAME, VERSION)
    assert path.name == "oxi_core-0.1.0a1.release.json"
    assert json.loads(path.read_text())["files"] == {WHEEL: file_sha256(wheel)}
    assert read_record(tmp_path / "dist", NAME, VERSION) == record
    assert read_record(tmp_path / "nowhere", NAME, VERSION) is None

    good = IndexFile(WHEEL, "http://x/" + WHEEL, file_sha256(wheel), None)
    extra = IndexFile("oxi_core-0.1.0a1-py3-none-win32.whl", "http://x/y", "ab" * 32, None)
    lines = check_served(record.files, [good, extra], index="staging", source="the record")
    assert lines == [
        "the files staging serves match the record (sha256)",
        "also on staging, not built by this release: oxi_core-0.1.0a1-py3-none-win32.whl",
    ]
    bad = IndexFile(WHEEL, "http://x/" + WHEEL, "f" * 64, None)
    with pytest.raises(DigestMismatch) as info:
        check_served(record.files, [bad], index="staging", source="the record")
    assert f"{WHEEL}: staging serves sha256 {'f' * 64}, expected {file_sha256(wheel)}" in (
        info.value.message
    )
    with pytest.raises(DigestMismatch, match="is not listed"):
        check_served(record.files, [], index="staging", source="the record")

    path.write_text("{not json")
    with pytest.raises(VerifyFailed, match="cannot be read") as broken:
        read_record(tmp_path / "dist", NAME, VERSION)
    assert broken.value.hint


def test_verify_basis_without_a_record_takes_the_tag_commit_time(oxi_repo: Path) -> None:
    git(oxi_repo, "tag", "-a", "-m", "r", "oxi-core-v0.1.0a1")
    basis = verify_basis(oxi_repo, NAME, VERSION, "oxi-core-v0.1.0a1", oxi_repo / "dist")
    assert basis.expected is None
    assert basis.source_date_epoch == int(git(oxi_repo, "log", "-1", "--format=%ct"))
    assert basis.note is not None and "no release record of oxi-core 0.1.0a1" in basis.note
    write_record(oxi_repo / "dist", ReleaseRecord(NAME, VERSION, {WHEEL: "0" * 64}, None, None, 3))
    basis = verify_basis(oxi_repo, NAME, VERSION, "oxi-core-v0.1.0a1", oxi_repo / "dist")
    assert basis.expected == {WHEEL: "0" * 64} and basis.source_date_epoch == 3
    assert basis.source == "the release record dist/oxi_core-0.1.0a1.release.json"


# --- verify against a real index ---------------------------------------------------------


@pytest.fixture
def published(
    pypiserver: PypiServer,
    build_backend_wheels: tuple[Path, ...],
    oxi_dists: Dists,
    monkeypatch: pytest.MonkeyPatch,
) -> PypiServer:
    """oxi-core's sdist and wheel on the index, with the build backend (the sdist builds)."""
    for wheel in build_backend_wheels:
        pypiserver.put(wheel)
    monkeypatch.setenv("TWINE_USERNAME", pypiserver.username)
    monkeypatch.setenv("TWINE_PASSWORD", pypiserver.password)
    publish(pypiserver.index, oxi_dists.files, name=NAME, version=VERSION)
    return pypiserver


def test_a_tampered_index_is_caught_before_anything_is_installed(
    published: PypiServer, oxi_dists: Dists, tmp_path: Path
) -> None:
    built = {path.name: file_sha256(path) for path in oxi_dists.files}
    shutil.copy2(with_extra_member(oxi_dists.wheel, tmp_path / "evil"), published.directory / WHEEL)
    served = published.listing()[WHEEL]
    with pytest.raises(DigestMismatch) as info:
        verify_published(
            published.index, NAME, VERSION, timeout=600, expected=built,
            expected_source="the files this run built",
        )  # fmt: skip
    message = info.value.message
    assert "'local' does not serve what was built (the files this run built)" in message
    assert f"{WHEEL}: local serves sha256 {served}, expected {built[WHEEL]}" in message


def test_the_rebuilt_wheel_is_compared_with_the_published_one(
    published: PypiServer, oxi_dists: Dists, tmp_path: Path
) -> None:
    report = verify_published(published.index, NAME, VERSION, timeout=600)
    assert report.reproducible is not None
    assert report.reproducible.startswith(f"reproducible: {WHEEL} rebuilt from the published")
    assert report.lines[-1] == report.reproducible

    # the index now serves a wheel with a module the sdist does not build
    shutil.copy2(
        with_extra_member(oxi_dists.wheel, tmp_path / "other"), published.directory / WHEEL
    )
    report = verify_published(published.index, NAME, VERSION, timeout=600)
    assert report.reproducible is not None
    assert report.reproducible.startswith(f"not reproducible: {WHEEL} rebuilt from the")
    assert "only in the published wheel: oxi_core/injected.py" in report.reproducible
    with pytest.raises(
        NotReproducible, match=r"only in the published wheel: oxi_core/injected\.py"
    ):
        verify_published(published.index, NAME, VERSION, timeout=600, require_reproducible=True)


def test_the_sdist_the_wheel_was_built_from_is_not_built_again(
    published: PypiServer, oxi_dists: Dists, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    built = {path.name: file_sha256(path) for path in oxi_dists.files}
    caplog.set_level("INFO", logger="releasekit")
    report = verify_published(
        published.index, NAME, VERSION, timeout=600, expected=built, wheel_built_from_sdist=True
    )
    assert report.checked == ("wheel", "sdist")
    assert f"  installed {NAME} {VERSION}" in report.lines  # the wheel's proof
    assert (
        f"sdist: {oxi_dists.sdist.name} from local: the bytes {WHEEL} was built from "
        "(sha256 checked), so the wheel's proof above is its proof; not built again"
    ) in report.lines
    assert report.reproducible is None
    assert "building a wheel from the published sdist" not in caplog.text

    # another sdist on the index is refused before anything is installed
    other = tmp_path / "other" / oxi_dists.sdist.name
    other.parent.mkdir()
    other.write_bytes(oxi_dists.sdist.read_bytes() + b"\0")
    shutil.copy2(other, published.directory / oxi_dists.sdist.name)
    with pytest.raises(DigestMismatch, match=re.escape(oxi_dists.sdist.name)):
        verify_published(
            published.index, NAME, VERSION, timeout=600, expected=built, wheel_built_from_sdist=True
        )


def test_a_required_reproducibility_check_still_builds_the_sdist_again(
    published: PypiServer, oxi_dists: Dists
) -> None:
    built = {path.name: file_sha256(path) for path in oxi_dists.files}
    report = verify_published(
        published.index, NAME, VERSION, timeout=600, expected=built,
        wheel_built_from_sdist=True, require_reproducible=True,
    )  # fmt: skip
    assert report.reproducible is not None
    assert report.reproducible.startswith(f"reproducible: {WHEEL} rebuilt from the published")
    assert sum(line.startswith(("wheel: ", "sdist: ")) for line in report.lines) == 2


# --- as users run it ---------------------------------------------------------------------


def test_a_tampered_index_fails_verify_and_the_next_release_run(
    oxi_repo: Path, pypiserver: PypiServer, tmp_path: Path
) -> None:
    repo = oxi_repo
    pyproject = repo / "pyproject.toml"
    # reproducible = true: the release's verify builds the published sdist again and
    # compares (without it, the sdist this run built its wheel from is not built again)
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.releasekit]\n", "[tool.releasekit]\nreproducible = true\n"
        )
    )
    use_index(repo, pypiserver.index)
    release = ("-s", "release", "--", "oxi-core", "--index", "staging")
    released = nox(repo, *release, server=pypiserver)
    out = released.stdout
    assert released.returncode == 0, out
    assert re.search(
        rf"^oxi-core 0\.1\.0a1: reproducible: {re.escape(WHEEL)} rebuilt from the published "
        r"sdist is byte-identical to the published wheel \(SOURCE_DATE_EPOCH=\d+\)$",
        out,
        re.M,
    ), "hatchling wheels rebuild byte-identical with the release commit's SOURCE_DATE_EPOCH"
    record = repo / "dist" / "oxi-core" / "oxi_core-0.1.0a1.release.json"
    recorded = json.loads(record.read_text())["files"]
    assert recorded == pypiserver.listing()

    verify = ("-s", "verify", "--", "oxi-core", "0.1.0a1", "--index", "staging")
    good = nox(repo, *verify)
    assert good.returncode == 0, good.stdout
    assert (
        "the files staging serves match the release record "
        "dist/oxi-core/oxi_core-0.1.0a1.release.json (sha256)"
    ) in good.stdout

    wheel = repo / "dist" / "oxi-core" / WHEEL
    shutil.copy2(with_extra_member(wheel, tmp_path / "evil"), pypiserver.directory / WHEEL)
    served = pypiserver.listing()[WHEEL]
    bad = nox(repo, *verify)
    out = bad.stdout
    assert bad.returncode != 0, out
    assert "'staging' does not serve what was built (the release record" in out
    assert f"{WHEEL}: staging serves sha256 {served}, expected {recorded[WHEEL]}" in out
    assert "Traceback" not in out

    again = nox(repo, *release, server=pypiserver)
    out = again.stdout
    assert again.returncode != 0, out
    assert "already published on staging" not in out
    assert "FAILED at step 'verify' (oxi-core)" in out
    assert f"{WHEEL}: staging serves sha256 {served}, expected {recorded[WHEEL]}" in out
    assert summary_rows(out) == []
