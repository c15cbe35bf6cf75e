"""Progress a user sees: bytes and rate of large uploads and downloads, waits, grouped lines.

Real transfers to a real pypiserver on 127.0.0.1; a terminal is forced through
``FORCE_COLOR`` (rich's own switch), so nothing here depends on timing.
"""

from __future__ import annotations

import io
import logging
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from releasekit import console
from releasekit.index import download_from_index, files_on_index
from releasekit.progress import Wait, byte_meter, grouped
from releasekit.publish import publish
from tests.conftest import make_wheel

if TYPE_CHECKING:
    from tests.pypiserver_fixtures import PypiServer

pytest_plugins = ["tests.pypiserver_fixtures"]

SIZE = 50_000_000
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Where releasekit's handler writes (as an adapter sets it up); put back afterwards."""
    names = ("releasekit", "releasekit.progress", "releasekit.command")
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in names]
    root = logging.getLogger("releasekit")
    handlers, propagate = list(root.handlers), root.propagate
    for variable in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(variable, raising=False)
    stream = io.StringIO()
    yield stream
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.propagate = propagate
    for logger, level in saved:
        logger.setLevel(level)


def big_wheel(folder: Path, version: str) -> Path:
    """A wheel of 50 MB (incompressible bytes stored as they are)."""
    wheel = make_wheel(folder, "bigpkg", version)
    with zipfile.ZipFile(wheel, "a", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("bigpkg/blob.bin", os.urandom(SIZE))
    return wheel


def upload(pypiserver: PypiServer, wheel: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWINE_USERNAME", pypiserver.username)
    monkeypatch.setenv("TWINE_PASSWORD", pypiserver.password)
    version = wheel.name.split("-")[1]
    publish(pypiserver.index, [wheel], name="bigpkg", version=version, retries=0)


def test_a_50_mb_upload_draws_a_bar_with_its_bytes_on_a_terminal(
    pypiserver: PypiServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shown: io.StringIO,
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")  # the whole label fits
    console.show_progress(shown)
    wheel = big_wheel(tmp_path, "1.0")
    upload(pypiserver, wheel, monkeypatch)
    text = ANSI.sub("", shown.getvalue())
    assert f"upload {wheel.name} to local" in text  # the bar's label
    sizes = re.findall(r"(\d+\.\d)/(\d+\.\d) MB", text)  # rich's bytes column: done/total
    assert sizes and sizes[0][0] == "0.0" and ("50.0", "50.0") in sizes, text[-2000:]
    assert re.search(rf"uploaded {re.escape(wheel.name)} to local: 50\.0 MB in [\d.]+ s \(", text)
    assert pypiserver.listing()  # it arrived


def test_in_a_log_a_large_transfer_is_one_line_at_each_end(
    pypiserver: PypiServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shown: io.StringIO,
) -> None:
    console.show_progress(shown)  # a StringIO is no terminal: as in CI
    wheel = big_wheel(tmp_path, "2.0")
    upload(pypiserver, wheel, monkeypatch)
    (listed,) = files_on_index(pypiserver.index, "bigpkg", "2.0")
    meter = byte_meter("download", listed.filename, "from local")
    download_from_index(pypiserver.index, listed, tmp_path / "down", on_bytes=meter)
    lines = shown.getvalue().splitlines()
    assert "\x1b[" not in shown.getvalue() and "━" not in shown.getvalue()
    transfers = [line for line in lines if wheel.name in line]
    assert transfers[0] == f"uploading {wheel.name} to local (50.0 MB)"
    assert re.fullmatch(
        rf"uploaded {re.escape(wheel.name)} to local: 50\.0 MB in .+/s\)", transfers[1]
    )
    assert transfers[2] == f"downloading {wheel.name} from local (50.0 MB)"
    assert transfers[3].startswith(f"downloaded {wheel.name} from local: 50.0 MB in ")
    assert len(transfers) == 4  # nothing else about it: no "uploaded ..." twice


def test_small_files_say_uploaded_once_and_draw_nothing(
    pypiserver: PypiServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shown: io.StringIO,
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    console.show_progress(shown)
    wheel = make_wheel(tmp_path, "bigpkg", "3.0")
    upload(pypiserver, wheel, monkeypatch)
    text = ANSI.sub("", shown.getvalue())
    assert text.count(wheel.name) == 1 and f"uploaded {wheel.name} to local" in text
    assert " MB" not in text and "━" not in text


def test_a_wait_is_a_line_then_one_every_30_seconds_in_a_log(shown: io.StringIO) -> None:
    console.show_progress(shown)
    wait = Wait("local to list oxi-core 0.1.0a2 (up to 180 s)")
    for seconds in (0.0, 2.0, 29.0, 31.0, 45.0, 62.0):
        wait.tick(seconds)
    wait.close()
    assert shown.getvalue().splitlines() == [
        "waiting for local to list oxi-core 0.1.0a2 (up to 180 s)",
        "still waiting for local to list oxi-core 0.1.0a2 (up to 180 s): 31 s",
        "still waiting for local to list oxi-core 0.1.0a2 (up to 180 s): 62 s",
    ]


def test_a_wait_on_a_terminal_is_one_live_line_with_the_time(
    monkeypatch: pytest.MonkeyPatch, shown: io.StringIO
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    console.show_progress(shown)
    wait = Wait("local to list oxi-core 0.1.0a2 (up to 180 s)")
    wait.tick(0.0)
    wait.close()
    text = ANSI.sub("", shown.getvalue())
    assert re.search(
        r"waiting for local to list oxi-core 0\.1\.0a2 \(up to 180 s\) +\d+:\d\d:\d\d", text
    )
    assert "still waiting" not in text


def test_lines_of_work_side_by_side_are_shown_as_a_block_each(shown: io.StringIO) -> None:
    import threading

    console.show_progress(shown)
    log = logging.getLogger("releasekit")
    wheel_started, sdist_done = threading.Event(), threading.Event()

    def wheel() -> None:
        with grouped("wheel"):
            log.info("wheel: one")
            wheel_started.set()
            sdist_done.wait(10)
            log.info("wheel: two")

    def sdist() -> None:
        wheel_started.wait(10)
        with grouped("sdist"):
            log.info("sdist: one")
            log.info("sdist: two")
        sdist_done.set()

    threads = [threading.Thread(target=wheel), threading.Thread(target=sdist)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    # interleaved in time (wheel one, sdist one, sdist two, wheel two), shown a block each
    assert shown.getvalue().splitlines() == ["sdist: one", "sdist: two", "wheel: one", "wheel: two"]
