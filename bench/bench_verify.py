"""Benchmark: releasekit's verify against the plain shell equivalent.

Builds oxi-core from examples/oxi once, starts the embedded local index
(a real pypiserver on 127.0.0.1), uploads the dists with releasekit's publish,
then alternates N rounds of

  (a) releasekit: ``verify_published(index, "oxi-core", V, console_scripts=["oxi"],
      kinds=["wheel"])`` - wait for the index, fresh venv (uv when present) in a
      temp dir, install from that index only, prove metadata version,
      ``__version__`` and ``oxi --version``;
  (b) plain: ``python -m venv`` + ``pip --isolated install --index-url URL oxi-core==V``
      + ``oxi --version`` (the runbook's manual check).

and prints the median of each and the ratio releasekit/plain.

Run: python bench/bench_verify.py [--rounds 5]
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

from releasekit._process import find_uv
from releasekit.config import IndexConfig
from releasekit.index import local_index
from releasekit.publish import publish
from releasekit.verify import verify_published

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "oxi"
NAME, VERSION = "oxi-core", "0.1.0a1"


def build(scratch: Path) -> list[Path]:
    source = scratch / "oxi"
    shutil.copytree(
        EXAMPLE, source, ignore=shutil.ignore_patterns("dist", ".nox", "__pycache__", "adapters")
    )
    out = scratch / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    return sorted(out.iterdir())


def releasekit_round(index: IndexConfig) -> float:
    started = time.perf_counter()
    report = verify_published(index, NAME, VERSION, console_scripts=["oxi"], kinds=["wheel"])
    elapsed = time.perf_counter() - started
    assert f"  oxi --version -> oxi {VERSION}" in report.lines, report.lines
    return elapsed


def plain_round(index: IndexConfig, scratch: Path) -> float:
    venv = scratch / "plain-venv"
    shutil.rmtree(venv, ignore_errors=True)
    started = time.perf_counter()

    def sh(*command: str) -> str:
        proc = subprocess.run(command, cwd=scratch, capture_output=True, text=True, check=True)
        return proc.stdout

    sh(sys.executable, "-m", "venv", str(venv))
    sh(
        str(venv / "bin" / "pip"), "--isolated", "install", "-q",
        "--index-url", index.simple_url or "", f"{NAME}=={VERSION}",
    )  # fmt: skip
    printed = sh(str(venv / "bin" / "oxi"), "--version")
    elapsed = time.perf_counter() - started
    assert VERSION in printed, printed
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("-v", "--verbose", action="store_true", help="show releasekit's log")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        scratch = Path(tmp)
        files = build(scratch)
        with local_index(scratch / "index") as index:
            publish(index, files, name=NAME, version=VERSION)
            ours: list[float] = []
            plain: list[float] = []
            for round_number in range(1, args.rounds + 1):
                ours.append(releasekit_round(index))
                plain.append(plain_round(index, scratch))
                print(
                    f"round {round_number}: releasekit {ours[-1]:.2f} s, plain {plain[-1]:.2f} s",
                    flush=True,
                )
    ours_median, plain_median = statistics.median(ours), statistics.median(plain)
    installer = "uv" if find_uv() else "pip"
    print(f"releasekit verify_published (wheel, {installer}): median {ours_median:.2f} s")
    print(f"plain venv + pip --isolated + oxi --version:  median {plain_median:.2f} s")
    print(f"ratio releasekit/plain: {ours_median / plain_median:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
