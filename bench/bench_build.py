"""Benchmark: releasekit's build + check + smoke against the plain shell equivalent.

On a temporary git copy of examples/oxi, alternate N rounds of

  (a) releasekit: build_dists + check_dists + smoke_test for oxi-core
      (sdist, wheel built from the unpacked sdist, twine check --strict in-process,
      metadata and wheel-content checks, fresh venv outside the repo, version proof);
  (b) plain: ``python -m build`` (sdist, then wheel from it), ``twine check --strict``,
      ``python -m venv`` + ``pip install <wheel>`` + ``oxi --version``.

and print the median of each and the ratio releasekit/plain.  Leak-lint is not
timed here (the plain path has nothing like it); it is measured separately.

Run: python bench/bench_build.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from releasekit.dists import build_dists, check_dists, smoke_test
from releasekit.leaks import scan_dists
from releasekit.workspace import load_workspace

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "oxi"
VERSION = "0.1.0a1"


def make_copy(dest: Path) -> Path:
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("dist", ".nox", "__pycache__"))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "oxi"]):
        subprocess.run(
            ["git", "-c", "user.name=bench", "-c", "user.email=bench@invalid", *args],
            cwd=dest,
            check=True,
        )
    return dest


def releasekit_round(repo: Path) -> float:
    package = load_workspace(repo).get("oxi-core")
    started = time.perf_counter()
    dists = build_dists(package, VERSION)
    check_dists(package, VERSION, dists)
    proof = smoke_test(package, VERSION, dists)
    elapsed = time.perf_counter() - started
    assert f"oxi --version -> oxi {VERSION}" in proof.lines
    return elapsed


def plain_round(repo: Path, scratch: Path) -> float:
    out = repo / "dist-plain"
    venv = scratch / "plain-venv"
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(venv, ignore_errors=True)
    started = time.perf_counter()

    def sh(*command: str, cwd: Path = repo) -> str:
        proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True)
        return proc.stdout

    sh(sys.executable, "-m", "build", "-o", str(out), ".")
    sh(sys.executable, "-m", "twine", "check", "--strict", *map(str, sorted(out.iterdir())))
    sh(sys.executable, "-m", "venv", str(venv))
    (wheel,) = out.glob("*.whl")
    sh(str(venv / "bin" / "pip"), "install", "-q", str(wheel), cwd=scratch)
    printed = sh(str(venv / "bin" / "oxi"), "--version", cwd=scratch)
    elapsed = time.perf_counter() - started
    assert VERSION in printed, printed
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("-v", "--verbose", action="store_true", help="show releasekit's log")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO if options.verbose else logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="releasekit-bench-") as tmp:
        scratch = Path(tmp)
        repo = make_copy(scratch / "oxi")
        ours: list[float] = []
        plain: list[float] = []
        for index in range(options.rounds):
            ours.append(releasekit_round(repo))
            plain.append(plain_round(repo, scratch))
            print(f"round {index + 1}: releasekit {ours[-1]:.2f} s, plain {plain[-1]:.2f} s")
        package = load_workspace(repo).get("oxi-core")
        started = time.perf_counter()
        scan_dists(sorted(package.dist_dir.iterdir()))
        leak_lint = time.perf_counter() - started

    ours_median, plain_median = statistics.median(ours), statistics.median(plain)
    print(f"releasekit build+check+smoke median: {ours_median:.2f} s ({options.rounds} rounds)")
    print(f"plain build+twine+venv median:       {plain_median:.2f} s ({options.rounds} rounds)")
    print(f"ratio releasekit/plain:              {ours_median / plain_median:.2f}")
    print(f"leak-lint of the sdist and wheel (first call, imports included): {leak_lint:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
