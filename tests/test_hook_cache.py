"""What the hook server learned is kept between processes (the user's cache folder).

Each build runs in a fresh interpreter here, as a release does: the second
one's hook server imports up front what the first one's hooks imported.
Real hatchling builds in real isolated environments.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.test_hook_server import NO_SERVER, make_project, needs_fork

_BUILD = """\
import logging, sys
from pathlib import Path
from releasekit.dists import build_dists
from releasekit.workspace import load_workspace

logging.basicConfig(stream=sys.stdout, format="%(message)s")
logging.getLogger("releasekit").setLevel(logging.DEBUG)
root, out = Path(sys.argv[1]), Path(sys.argv[2])
dists = build_dists(load_workspace(root).get("hk-demo"), "1.2.0", out_dir=out)
print("built:", *sorted(p.name for p in dists.files))
"""

_AHEAD = re.compile(r"hook server \d+: the backend (\S+) imported once, with (\d+) module")


def _build(project: Path, out: Path, cache: Path, **env: str) -> tuple[str, list[int]]:
    """Build in a new interpreter; its output and how many names each server imported ahead."""
    proc = subprocess.run(
        [sys.executable, "-c", _BUILD, str(project), str(out)],
        env={**os.environ, "RELEASEKIT_CACHE_DIR": str(cache), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "built: hk_demo-1.2.0-py3-none-any.whl hk_demo-1.2.0.tar.gz" in proc.stdout
    return proc.stdout, [int(count) for _, count in _AHEAD.findall(proc.stdout)]


def _members(folder: Path) -> list[str]:
    (wheel,) = folder.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return sorted(archive.namelist())


@needs_fork
def test_the_next_process_imports_ahead_what_the_hooks_imported(tmp_path: Path) -> None:
    project, cache = tmp_path / "p", tmp_path / "cache"
    make_project(project, "hatchling")
    _, first = _build(project, tmp_path / "out1", cache)
    assert first and first[0] == 0, "a first build on this machine has nothing learned"
    kept = json.loads((cache / "hook-imports.json").read_text(encoding="utf-8"))
    names = kept["hatchling.build"]
    assert "hatchling.builders.wheel" in names  # imported lazily by the wheel hook
    assert not any(n.startswith(("hk_demo", "_in_process")) for n in names), names

    _, second = _build(project, tmp_path / "out2", cache)
    assert second and second[0] == len(names), "the new process's server starts with them all"
    assert _members(tmp_path / "out1") == _members(tmp_path / "out2")


@needs_fork
def test_a_broken_or_hostile_cache_file_is_ignored_and_rewritten(tmp_path: Path) -> None:
    project, cache = tmp_path / "p", tmp_path / "cache"
    make_project(project, "hatchling")
    cache.mkdir()
    kept = cache / "hook-imports.json"
    kept.write_text("{not json", encoding="utf-8")
    _, ahead = _build(project, tmp_path / "out1", cache)
    assert ahead[0] == 0
    assert "hatchling.builders.wheel" in json.loads(kept.read_text())["hatchling.build"]

    # only dotted module names reach the server: no paths, no code, no other types
    bad = ["os; import shutil", "../../evil", "/etc/passwd", "", 42, None, "a..b"]
    kept.write_text(json.dumps({"hatchling.build": [*bad, "json"], "x y": ["json"]}))
    _, ahead = _build(project, tmp_path / "out2", cache)
    assert ahead[0] == 1, "only 'json' is a module name"
    rewritten = json.loads(kept.read_text())
    assert set(rewritten) == {"hatchling.build"}
    assert all(
        isinstance(n, str) and re.fullmatch(r"[\w.]+", n) for n in rewritten["hatchling.build"]
    )
    assert not set(map(str, bad)) & set(rewritten["hatchling.build"])


@needs_fork
def test_an_unwritable_cache_costs_only_speed(tmp_path: Path) -> None:
    project = tmp_path / "p"
    make_project(project, "hatchling")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    output, ahead = _build(project, tmp_path / "out", blocker / "cache")
    assert ahead[0] == 0
    assert "could not write the hook import cache" in output
    assert blocker.read_text() == "not a folder\n"


def test_without_the_hook_server_nothing_is_kept(tmp_path: Path) -> None:
    project, cache = tmp_path / "p", tmp_path / "cache"
    make_project(project, "hatchling")
    output, ahead = _build(project, tmp_path / "out", cache, **{NO_SERVER: "1"})
    assert ahead == [], output
    assert not cache.exists()
