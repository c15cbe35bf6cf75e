"""Benchmark: the build environment prepared during preflight/lint/test, A/B in one run.

Runs ``nox -s release -- --rehearse`` on one generated package (bench_release.py's
``make_single``), alternating rounds between A, with ``RELEASEKIT_NO_PREPARED_BUILD_ENV=1``
(the build step creates its environment, installs the build requirements and imports
the backend when it starts), and B, without it (all of that done in the background while
preflight, lint and test run).  Two projects: the generated one as it is (no tests: the
steps before the build take a few tenths of a second), and the same with a test command
that takes 2 s (``python -c 'import time; time.sleep(2)'``), as a real project's lint
and tests take seconds.  Every output line is stamped with the seconds since the command
started: the columns say when the build step began and ended, and when the run ended.
One warm-up round of each side is not counted; prints the medians.

Run: python bench/bench_prepare.py [--rounds 5] [-v]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_release import _commit, _tool_env, make_single, print_ab, stamped_rehearsal  # noqa: E402

OFF = "RELEASEKIT_NO_PREPARED_BUILD_ENV"
MARKS = {"build": "── build ·", "build done": "── check ·"}
SLOW_TEST = "test = [\"python -c 'import time; time.sleep(2)'\"]"


def one_round(project: Path, prepared: bool, verbose: bool) -> dict[str, float]:
    env = _tool_env(PYTHONPATH=str(HERE.parent / "src"))
    if not prepared:
        env[OFF] = "1"
    marks, output = stamped_rehearsal(project, env, MARKS)
    used = "build environment prepared during preflight/lint/test" in output
    if used != prepared:
        raise SystemExit(f"side {'B' if prepared else 'A'}: prepared environment used: {used}")
    if verbose:
        print(output)
    marks["build step"] = marks["build done"] - marks["build"]
    return marks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="counted rounds of each side (5)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every round's log")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="releasekit-bench-prepare-") as tmp:
        fast = make_single(Path(tmp) / "fast").root
        slow = make_single(Path(tmp) / "slow").root
        pyproject = slow / "pyproject.toml"
        pyproject.write_text(pyproject.read_text().replace("test = []", SLOW_TEST))
        _commit(slow)
        for label, project in (("no tests", fast), ("a 2 s test command", slow)):
            results: dict[str, list[dict[str, float]]] = {"A": [], "B": []}
            for counted in [False] + [True] * options.rounds:
                for side in ("A", "B"):
                    marks = one_round(project, side == "B", options.verbose)
                    shown = "  ".join(f"{k} {v:5.2f}" for k, v in marks.items())
                    print(f"{label} {side}{'' if counted else ' (warm-up)'}: {shown}", flush=True)
                    if counted:
                        results[side].append(marks)
            print(f"{label}: medians of {options.rounds} rounds (seconds)")
            print(f"  A = {OFF}=1, B = prepared during preflight/lint/test")
            print_ab(results, ["build", "build step", "end"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
