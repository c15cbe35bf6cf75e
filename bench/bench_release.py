"""Benchmark: a full rehearsed release against the same work done by a plain release.sh.

On temporary git copies of examples/oxi, alternate N rounds (after one warm-up round
of each, not counted) of

  (a) rehearsal: ``nox -s release -- oxi-core --rehearse``, run as a user types it
      (a subprocess, nox and releasekit started from scratch each time): preflight,
      lint, test, build (sdist, wheel from the sdist), check (twine check --strict,
      metadata, leak-lint), local smoke in a fresh venv, publish to a throwaway
      pypiserver it starts itself, verify the wheel and the sdist from that index
      in fresh venvs;
  (b) plain: ``bench/plain_release.sh`` - ruff check + format --check, pytest,
      ``python -m build``, ``twine check --strict``, ``twine upload`` to a loopback
      pypiserver, then ``python -m venv`` + ``pip install`` + ``oxi --version`` for
      the wheel and for the sdist.  Each plain round gets a fresh pypiserver
      (127.0.0.1, free port, --disable-fallback), started before the clock starts
      and stopped by its pid after.

and print every round, the medians, where the time goes (per step), the ratio
rehearsal/plain and a verdict against the target (at most 0.35).

Run: python bench/bench_release.py [--rounds 5] [--check]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench_build import make_copy  # same folder: bench/ is sys.path[0] when run as a script

from releasekit.index import local_index

HERE = Path(__file__).resolve().parent
PLAIN_SCRIPT = HERE / "plain_release.sh"
NAME, VERSION = "oxi-core", "0.1.0a1"
TARGET = 0.35  # issue 6: the rehearsal takes at most 0.35x the plain script

# a row of the rehearsal's summary table: "build      oxi-core  ok       1.4 s  ..."
_SUMMARY_ROW = re.compile(rf"^(\w+)\s+{re.escape(NAME)}\s+(ok|skipped)\s+([0-9.]+) s\b", re.M)
_PLAIN_PHASE = "== "  # plain_release.sh announces each phase with "== <phase>"

Timing = tuple[float, dict[str, float]]  # wall-clock seconds, seconds per step


def _tool_env() -> dict[str, str]:
    """This interpreter's scripts first on PATH, so both sides use the same tools."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHON"] = sys.executable
    return env


def _nox_command() -> list[str]:
    nox = shutil.which("nox", path=str(Path(sys.executable).parent)) or shutil.which("nox")
    return [nox] if nox else [sys.executable, "-m", "nox"]


def _failed(what: str, proc: subprocess.CompletedProcess[str] | None, output: str) -> RuntimeError:
    code = proc.returncode if proc is not None else "?"
    tail = "\n".join(output.rstrip().splitlines()[-30:])
    return RuntimeError(f"{what} failed (exit {code}):\n{tail}")


def rehearsal_round(repo: Path) -> Timing:
    """``nox -s release -- oxi-core --rehearse`` in ``repo``: wall clock and step times."""
    command = [*_nox_command(), "-s", "release", "--", NAME, "--rehearse"]
    started = time.perf_counter()
    proc = subprocess.run(
        command,
        cwd=repo,
        env=_tool_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    output = proc.stdout + proc.stderr
    proved = f"oxi --version -> oxi {VERSION}"
    if proc.returncode != 0 or "Session release was successful" not in output:
        raise _failed(" ".join(command[-5:]), proc, output)
    if output.count(proved) < 2:  # smoke (local wheel) and verify (from the index)
        raise _failed(f"the rehearsal did not prove {proved!r}", proc, output)
    steps = {name: float(seconds) for name, _, seconds in _SUMMARY_ROW.findall(output)}
    return elapsed, steps


def plain_round(repo: Path, work: Path) -> Timing:
    """bench/plain_release.sh against a fresh loopback pypiserver: wall clock, phase times."""
    shutil.rmtree(work, ignore_errors=True)
    with local_index(work.with_name(work.name + "-index")) as index:
        command = ["bash", str(PLAIN_SCRIPT), str(repo), index.upload_url or "", str(work)]
        lines: list[str] = []
        marks: list[tuple[str, float]] = []
        started = time.perf_counter()
        with subprocess.Popen(
            command,
            env=_tool_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:  # the phase markers arrive as each phase starts
                if line.startswith(_PLAIN_PHASE):
                    marks.append((line[len(_PLAIN_PHASE) :].strip(), time.perf_counter()))
                lines.append(line)
        elapsed = time.perf_counter() - started
    output = "".join(lines)
    if proc.returncode != 0:
        raise _failed("bench/plain_release.sh", None, output)
    if output.count(f"oxi {VERSION}\n") < 2:  # the wheel and the sdist
        raise _failed(f"plain_release.sh did not print 'oxi {VERSION}' twice", None, output)
    ends = [at for _, at in marks[1:]] + [started + elapsed]
    phases = {phase: end - at for (phase, at), end in zip(marks, ends, strict=True)}
    return elapsed, phases


def _breakdown(title: str, timings: Sequence[Timing]) -> list[str]:
    """Median seconds of each step over the rounds, and of what lies outside the steps."""
    names = list(dict.fromkeys(name for _, steps in timings for name in steps))
    lines = [f"{title} (median per step):"]
    for name in names:
        seconds = statistics.median(steps.get(name, 0.0) for _, steps in timings)
        lines.append(f"  {name:<20} {seconds:6.2f} s")
    outside = statistics.median(total - sum(steps.values()) for total, steps in timings)
    lines.append(f"  {'(outside the steps)':<20} {outside:6.2f} s")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="counted rounds of each (5)")
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 when the ratio is above {TARGET}"
    )
    options = parser.parse_args()
    if options.rounds < 1:
        parser.error("--rounds must be at least 1")

    rehearsals: list[Timing] = []
    plains: list[Timing] = []
    with tempfile.TemporaryDirectory(prefix="releasekit-bench-release-") as tmp:
        scratch = Path(tmp)
        rehearse_repo = make_copy(scratch / "rehearse" / "oxi")
        plain_repo = make_copy(scratch / "plain" / "oxi")
        for number in range(options.rounds + 1):
            rehearsal = rehearsal_round(rehearse_repo)
            plain = plain_round(plain_repo, scratch / f"plain-{number}")
            label = "warm-up" if number == 0 else f"round {number}"
            note = " (not counted)" if number == 0 else ""
            print(
                f"{label}: rehearsal {rehearsal[0]:.2f} s, plain {plain[0]:.2f} s{note}",
                flush=True,
            )
            if number:
                rehearsals.append(rehearsal)
                plains.append(plain)

    rehearsal_median = statistics.median(total for total, _ in rehearsals)
    plain_median = statistics.median(total for total, _ in plains)
    ratio = rehearsal_median / plain_median
    counted = f"median of {options.rounds} rounds"
    print(f"rehearsal  nox -s release -- {NAME} --rehearse  {rehearsal_median:6.2f} s ({counted})")
    print(f"plain      bench/plain_release.sh               {plain_median:6.2f} s ({counted})")
    print("\n".join(_breakdown("rehearsal", rehearsals)))
    print("\n".join(_breakdown("plain", plains)))
    print(f"ratio rehearsal/plain: {ratio:.2f}")
    met = ratio <= TARGET
    verdict = "meets" if met else "MISSES"
    print(f"verdict: {verdict} the target (rehearsal at most {TARGET}x the plain script)")
    return 1 if options.check and not met else 0


if __name__ == "__main__":
    raise SystemExit(main())
