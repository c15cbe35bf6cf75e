"""Benchmark: when the rehearsal's embedded index starts, A/B between two releasekit trees.

Runs ``nox -s release -- --rehearse`` on one generated package (bench_release.py's
``make_single``), alternating rounds between releasekit's ``src/`` at a git ref (A,
default ``main``) and at this checkout or ``--head`` REF (B), each picked by ``PYTHONPATH``.  Every
output line is stamped with the seconds since the command started, so each round
says when the index answered ("local index at ..."), when build, gate and verify began
and when it ended.  One warm-up round of each side is not counted; prints the medians.

Run: python bench/bench_index_start.py [--base main] [--head REF] [--rounds 5] [-v]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_release import _tool_env, make_single, print_ab, stamped_rehearsal  # noqa: E402

MARKS = {  # what each column is: the first output line matching it
    "index ready": "local index at http",
    "build": "── build ·",
    "gate": "── gate ·",
    "verify": "── verify ·",
}


def _tree_at(ref: str, where: Path) -> Path:
    """releasekit's src/ as it is at ``ref``, exported into ``where``."""
    repo = HERE.parent
    where.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", ref, "src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
    return where / "src"


def one_round(project: Path, src: Path, verbose: bool) -> dict[str, float]:
    """One rehearsal with ``src`` first on the path: the time of each mark, and the end."""
    marks, _ = stamped_rehearsal(project, _tool_env(PYTHONPATH=str(src)), MARKS, verbose=verbose)
    return marks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="the git ref of side A (main)")
    parser.add_argument("--head", help="the git ref of side B (default: this checkout)")
    parser.add_argument("--rounds", type=int, default=5, help="counted rounds of each side (5)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every round's log")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="releasekit-bench-index-") as tmp:
        scratch = Path(tmp)
        head = _tree_at(options.head, scratch / "head") if options.head else HERE.parent / "src"
        sides = {"A": _tree_at(options.base, scratch / "base"), "B": head}
        project = make_single(scratch / "single").root
        results: dict[str, list[dict[str, float]]] = {"A": [], "B": []}
        for counted in [False] + [True] * options.rounds:
            for side, src in sides.items():
                marks = one_round(project, src, options.verbose)
                shown = "  ".join(f"{k} {v:5.2f}" for k, v in marks.items())
                print(f"{side}{'' if counted else ' (warm-up)'}: {shown}", flush=True)
                if counted:
                    results[side].append(marks)
    print(f"medians of {options.rounds} rounds (seconds since the command started):")
    print(f"  A = {options.base}, B = {options.head or 'this checkout'}")
    print_ab(results, [*MARKS, "end"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
