"""Benchmark: build_dists with the hook server against one process per hook.

On a temporary git copy of examples/oxi (oxi-core, a hatchling package),
alternate N rounds of ``build_dists`` (sdist, then the wheel from the
unpacked sdist) with ``RELEASEKIT_NO_HOOK_SERVER=1`` (A: one interpreter and
one backend import per PEP 517 hook, as pyproject-hooks does by default) and
without it (B: the backend imported once per build environment, each hook in a
forked child), and print the median of each and the ratio B/A.  B imports
ahead the modules earlier builds' hooks imported (learned within the process);
C is B as the first build of a process, with nothing learned yet.

Run: python bench/bench_hooks.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench_build import VERSION, make_copy

from releasekit import _hook_runner
from releasekit.dists import build_dists
from releasekit.workspace import load_workspace


def one_build(repo: Path, *, server: bool, first: bool = False) -> float:
    if first:
        _hook_runner._LEARNED.clear()
    if server:
        os.environ.pop("RELEASEKIT_NO_HOOK_SERVER", None)
    else:
        os.environ["RELEASEKIT_NO_HOOK_SERVER"] = "1"
    package = load_workspace(repo).get("oxi-core")
    started = time.perf_counter()
    build_dists(package, VERSION)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory(prefix="bench-hooks-") as scratch:
        repo = make_copy(Path(scratch) / "oxi")
        one_build(repo, server=True)  # warm the uv cache and the OS file cache
        plain: list[float] = []
        forked: list[float] = []
        first: list[float] = []
        for _ in range(rounds):
            plain.append(one_build(repo, server=False))
            first.append(one_build(repo, server=True, first=True))
            forked.append(one_build(repo, server=True))
    a, b, c = (statistics.median(times) for times in (plain, forked, first))
    for label, times, median in (
        ("A one process per hook  ", plain, a),
        ("B hooks forked          ", forked, b),
        ("C forked, first build   ", first, c),
    ):
        print(f"{label}: median {median:.2f} s  ({' '.join(f'{t:.2f}' for t in times)})")
    print(f"B/A {b / a:.2f} (saved {a - b:.2f} s per build)  C/A {c / a:.2f}")


if __name__ == "__main__":
    main()
