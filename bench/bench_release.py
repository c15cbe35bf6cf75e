"""Benchmark: a full rehearsed release against the raw uv tool chain and a plain release.sh.

Three cases, each on projects generated on the spot (git repositories in a temporary
folder; hatchling packages with a console script that prints the version):

  single    one small package.  Rounds alternate (after one warm-up round of each,
            not counted) between
              (a) rehearsal: ``nox -s release -- --rehearse``, as a user types it (a new
                  process each round): preflight, lint, build, check, smoke, gate,
                  publish to an embedded index it starts itself, verify the wheel and
                  the sdist from it;
              (b) uv floor: the same release with the fastest raw tools, one command after
                  another: ``ruff check`` + ``ruff format --check``, ``uv build`` (sdist,
                  then the wheel from it), ``uv publish`` to a loopback pypiserver,
                  ``uv venv`` + ``uv pip install`` from that index only + ``SCRIPT --version``;
              (c) plain: ``bench/plain_release.sh`` (ruff, ``python -m build``, ``twine check``,
                  ``twine upload``, ``python -m venv`` + pip install + ``--version`` for the
                  wheel and for the sdist).
  monorepo  N packages (``--packages``, default 10), each pinning the one before it with
            ``==`` (a chain: bench-mono-1 needs bench-mono-0==V, ...).  The rehearsal is
            ``nox -s release -- --all --rehearse``; the floor and the plain script run once
            per package, in dependency order, against one index.
  large     the single package with a data file of random bytes (``--large-mb``, default
            200): one rehearsal whose releasekit process (nox, which runs releasekit
            in-process) reports its own peak RSS (``getrusage(RUSAGE_SELF)`` at exit).

The floor's and the plain script's indexes are started before the clock starts and
stopped by their pids after; the rehearsal starts and stops its own on the clock.
Prints every round, the medians, where the time goes (per step), the ratios, the
targets (issue 14) and a verdict for each; ``--check`` exits 1 when one is missed.

Run: python bench/bench_release.py [--rounds 3] [--packages 10] [--large-mb 200]
                                    [--cases single,monorepo,large] [--no-plain] [--check]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from releasekit.index import local_index

HERE = Path(__file__).resolve().parent
PLAIN_SCRIPT = HERE / "plain_release.sh"
VERSION = "0.1.0"

# the targets of issue 14
SINGLE_FLOOR = 1.5  # the single package's rehearsal: at most 1.5x the uv floor ...
SINGLE_PLAIN = 0.30  # ... and at most 0.30x the plain script
MONOREPO_FLOOR = 1.3  # the monorepo's rehearsal: at most 1.3x the sequential uv floor
VERIFY_SECONDS = 0.3  # verify: at most 0.3 s per package
PEAK_RSS_MB = 200.0  # peak RSS of the releasekit process with a 200 MB dist

_PLAIN_PHASE = "== "  # plain_release.sh announces each phase with "== <phase>"

# nox run in-process, reporting its own peak RSS (kB on Linux) to a file when it exits
_NOX_WITH_RSS = """\
import atexit, os, resource, runpy, sys
def _report():
    with open(os.environ["BENCH_RSS_FILE"], "w") as file:
        file.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
atexit.register(_report)
sys.argv[0] = "nox"
runpy.run_module("nox", run_name="__main__", alter_sys=True)
"""


@dataclass(frozen=True)
class BenchPackage:
    name: str
    root: Path  # absolute
    script: str


@dataclass(frozen=True)
class Project:
    root: Path
    packages: list[BenchPackage]  # in dependency order
    release_args: list[str]  # after `nox -s release --`


@dataclass
class Timing:
    """One round of one side: wall clock, seconds per step, the verify rows' seconds."""

    seconds: float
    steps: dict[str, float] = field(default_factory=dict)
    verify: list[float] = field(default_factory=list)


# ---------------------------------------------------------------- generated projects


def _module(name: str) -> str:
    return name.replace("-", "_")


def write_package(
    root: Path, name: str, *, needs: str | None = None, data_mb: int = 0
) -> BenchPackage:
    """A hatchling package at ``root``: ``NAME --version`` prints ``NAME VERSION``."""
    module = _module(name)
    source = root / "src" / module
    source.mkdir(parents=True)
    dependencies = f'["{needs}=={VERSION}"]' if needs else "[]"
    (root / "pyproject.toml").write_text(
        f"""[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "{name}"
version = "{VERSION}"
description = "A package the release benchmark generates."
readme = "README.md"
requires-python = ">=3.10"
dependencies = {dependencies}

[project.scripts]
{name} = "{module}:main"

[tool.hatch.build.targets.wheel]
packages = ["src/{module}"]
""",
        encoding="utf-8",
    )
    (root / "README.md").write_text(f"# {name}\n\nGenerated by bench_release.py.\n")
    imports = ["from importlib.metadata import version", ""]
    if needs:  # the pinned sibling must be installed for the package to import
        imports += [f"import {_module(needs)}  # noqa: F401", ""]
    body = [
        f'"""{name}: generated by the release benchmark."""',
        "",
        *imports,
        f'__version__ = version("{name}")',
        "",
        "",
        "def main() -> None:",
        f'    print(f"{name} {{__version__}}")',
    ]
    (source / "__init__.py").write_text("\n".join(body) + "\n", encoding="utf-8")
    if data_mb:
        with (source / "data.bin").open("wb") as file:
            for _ in range(data_mb):
                file.write(os.urandom(1 << 20))
    notes = root / "docs" / "release-notes" / f"v{VERSION}.md"
    notes.parent.mkdir(parents=True)
    notes.write_text(f"# {name} {VERSION}\n\nThe first release.\n", encoding="utf-8")
    return BenchPackage(name, root, name)


def _commit(root: Path) -> None:
    (root / "noxfile.py").write_text("import releasekit.nox\n\nreleasekit.nox.install()\n")
    (root / "ruff.toml").write_text("line-length = 100\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "bench"]):
        subprocess.run(
            ["git", "-c", "user.name=bench", "-c", "user.email=bench@invalid", *args],
            cwd=root,
            check=True,
        )


def make_single(root: Path, *, data_mb: int = 0) -> Project:
    package = write_package(root, "bench-solo", data_mb=data_mb)
    with (root / "pyproject.toml").open("a", encoding="utf-8") as file:
        file.write("\n[tool.releasekit]\ntest = []\n")
    _commit(root)
    return Project(root, [package], ["--rehearse"])


def make_monorepo(root: Path, count: int) -> Project:
    """``count`` packages under packages/, each pinning the one before with ``==``."""
    packages: list[BenchPackage] = []
    for number in range(count):
        needs = packages[-1].name if packages else None
        path = root / "packages" / f"p{number:02d}"
        packages.append(write_package(path, f"bench-mono-{number}", needs=needs))
    (root / "pyproject.toml").write_text(
        '[tool.releasekit]\npackages = ["packages/*"]\ntest = []\n', encoding="utf-8"
    )
    _commit(root)
    return Project(root, packages, ["--all", "--rehearse"])


# ---------------------------------------------------------------- the three sides


def _tool_env(**extra: str) -> dict[str, str]:
    """This interpreter's scripts first on PATH, so every side uses the same tools."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHON"] = sys.executable
    env.update(extra)
    return env


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"bench_release.py needs {name!r} beside this interpreter or on PATH")
    return found


def stamped_rehearsal(
    project: Path, env: dict[str, str], marks: dict[str, str], *, verbose: bool = False
) -> tuple[dict[str, float], str]:
    """``nox -s release -- --rehearse`` in ``project``, every output line stamped with the
    seconds since the start: when the first line holding each ``marks`` text came (by
    name), ``"end"``, and the stamped output."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [_tool("nox"), "-s", "release", "--", "--rehearse"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    seen: dict[str, float] = {}
    lines = []
    for line in proc.stdout:
        now = time.perf_counter() - started
        lines.append(f"{now:6.2f}  {line.rstrip()}")
        for name, text in marks.items():
            if name not in seen and text in line:
                seen[name] = now
    code = proc.wait()
    seen["end"] = time.perf_counter() - started
    output = "\n".join(lines)
    if code != 0 or "Session release was successful" not in output:
        raise SystemExit(f"the rehearsal failed (exit {code}):\n{output}")
    if verbose:
        print(output)
    return seen, output


def print_ab(results: dict[str, list[dict[str, float]]], columns: Sequence[str]) -> None:
    """The medians of each side's marks, and how much sooner side B ends than side A."""
    for side, rounds in results.items():
        medians = {c: statistics.median(r[c] for r in rounds if c in r) for c in columns}
        print(f"  {side}: " + "  ".join(f"{c} {v:5.2f}" for c, v in medians.items()))
    ends = {side: statistics.median(r["end"] for r in rounds) for side, rounds in results.items()}
    print(f"  B - A: {ends['B'] - ends['A']:+.2f} s ({ends['B'] / ends['A']:.2f}x)")


def _failed(what: str, code: int | str, output: str) -> RuntimeError:
    tail = "\n".join(output.rstrip().splitlines()[-40:])
    return RuntimeError(f"{what} failed (exit {code}):\n{tail}")


def _step_seconds(document: str, project: Project) -> list[tuple[str, float]]:
    """(step, seconds) of each step and package, from the rehearsal's ``--json`` document
    (the summary table rounds to 0.1 s; the document keeps milliseconds)."""
    names = {p.name for p in project.packages}
    steps = json.loads(document)["steps"]
    return [(s["step"], float(s["seconds"])) for s in steps if s["package"] in names]


def rehearsal_round(project: Project, *, rss_file: Path | None = None) -> Timing:
    """``nox -s release -- [--all] --rehearse`` in the project: wall clock and step times."""
    if rss_file is None:
        command = [_tool("nox"), "-s", "release", "--", *project.release_args, "--json"]
        env = _tool_env()
    else:
        command = [sys.executable, "-c", _NOX_WITH_RSS, "-s", "release", "--"]
        command += [*project.release_args, "--json"]
        env = _tool_env(BENCH_RSS_FILE=str(rss_file))
    started = time.perf_counter()
    proc = subprocess.run(
        command,
        cwd=project.root,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    output = proc.stdout + proc.stderr
    if proc.returncode != 0 or "Session release was successful" not in output:
        what = "nox -s release -- " + " ".join(project.release_args)
        raise _failed(what, proc.returncode, output)
    for package in project.packages:
        proved = f"{package.script} --version -> {package.name} {VERSION}"
        if output.count(proved) < 2:  # smoke (local wheel) and verify (from the index)
            raise _failed(f"the rehearsal did not prove {proved!r} twice", proc.returncode, output)
    timing = Timing(elapsed)
    for step, seconds in _step_seconds(proc.stdout, project):
        timing.steps[step] = timing.steps.get(step, 0.0) + seconds
        if step == "verify":
            timing.verify.append(seconds)
    return timing


def _run_phase(timing: Timing, phase: str, command: Sequence[str], cwd: Path) -> str:
    started = time.perf_counter()
    proc = subprocess.run(
        command, cwd=cwd, env=_tool_env(), capture_output=True, text=True, check=False
    )
    timing.steps[phase] = timing.steps.get(phase, 0.0) + time.perf_counter() - started
    if proc.returncode != 0:
        raise _failed(" ".join(command), proc.returncode, proc.stdout + proc.stderr)
    return proc.stdout


def floor_round(project: Project, work: Path) -> Timing:
    """The same release with raw uv (and ruff), package after package, one index."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    uv, ruff = _tool("uv"), _tool("ruff")
    with local_index(work / "index") as index:
        upload, simple = index.upload_url or "", index.simple_url or ""
        timing = Timing(0.0)
        started = time.perf_counter()
        for package in project.packages:
            dist, venv = work / "dist" / package.name, work / f"venv-{package.name}"
            _run_phase(timing, "lint", [ruff, "check", "."], package.root)
            _run_phase(timing, "lint", [ruff, "format", "--check", "."], package.root)
            _run_phase(timing, "build", [uv, "build", "-q", "--out-dir", str(dist)], package.root)
            files = [str(path) for path in sorted(dist.iterdir())]
            publish = [uv, "publish", "-q", "--publish-url", upload, "-u", "x", "-p", "x"]
            _run_phase(timing, "publish", [*publish, *files], work)
            _run_phase(timing, "venv", [uv, "venv", "-q", "-p", sys.executable, str(venv)], work)
            install = [uv, "pip", "install", "-q", "--no-config", "--python", str(venv)]
            install += ["--index-url", simple, f"{package.name}=={VERSION}"]
            _run_phase(timing, "install", install, work)
            script = str(venv / "bin" / package.script)
            printed = _run_phase(timing, "--version", [script, "--version"], work)
            if printed.strip() != f"{package.name} {VERSION}":
                raise _failed(f"{package.script} --version printed {printed!r}", 0, printed)
        timing.seconds = time.perf_counter() - started
    return timing


def plain_round(project: Project, work: Path) -> Timing:
    """bench/plain_release.sh for each package, in order, against one loopback index."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with local_index(work / "index") as index:
        timing = Timing(0.0)
        started = time.perf_counter()
        for package in project.packages:
            scratch = work / package.name
            command = ["bash", str(PLAIN_SCRIPT), str(package.root), index.upload_url or ""]
            marks: list[tuple[str, float]] = []
            lines: list[str] = []
            with subprocess.Popen(
                [*command, str(scratch)],
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
            ended = time.perf_counter()
            output = "".join(lines)
            if proc.returncode != 0:
                raise _failed(f"plain_release.sh {package.name}", proc.returncode, output)
            if output.count(f"{package.name} {VERSION}\n") < 2:  # the wheel and the sdist
                raise _failed(f"plain_release.sh did not prove {package.name}", 0, output)
            ends = [at for _, at in marks[1:]] + [ended]
            for (phase, at), end in zip(marks, ends, strict=True):
                timing.steps[phase] = timing.steps.get(phase, 0.0) + end - at
        timing.seconds = time.perf_counter() - started
    return timing


# ---------------------------------------------------------------- report


@dataclass
class Verdicts:
    lines: list[str] = field(default_factory=list)
    missed: int = 0

    def add(self, what: str, value: float, target: float, unit: str = "x") -> None:
        met = value <= target
        self.missed += not met
        shown = f"{value:.2f}{unit}" if unit == "x" else f"{value:.2f} {unit}"
        limit = f"{target}{unit}" if unit == "x" else f"{target} {unit}"
        self.lines.append(f"  {what}: {shown} (target <= {limit}): {'met' if met else 'MISSED'}")


def _breakdown(title: str, timings: Sequence[Timing]) -> list[str]:
    """Median seconds of each step over the rounds (summed over the packages)."""
    names = list(dict.fromkeys(name for timing in timings for name in timing.steps))
    lines = [f"  {title} (median per step, summed over the packages):"]
    for name in names:
        seconds = statistics.median(timing.steps.get(name, 0.0) for timing in timings)
        if seconds >= 0.005:
            lines.append(f"    {name:<22} {seconds:6.2f} s")
    outside = statistics.median(t.seconds - sum(t.steps.values()) for t in timings)
    lines.append(f"    {'(outside the steps)':<22} {outside:6.2f} s")
    return lines


def _median(timings: Sequence[Timing]) -> float:
    return statistics.median(timing.seconds for timing in timings)


def _uptime() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def run_case(
    title: str,
    project: Project,
    work: Path,
    rounds: int,
    *,
    plain: bool,
) -> dict[str, list[Timing]]:
    """Alternate the sides for ``rounds`` counted rounds after one warm-up round."""
    sides: dict[str, Callable[[int], Timing]] = {
        "rehearsal": lambda _: rehearsal_round(project),
        "uv floor": lambda n: floor_round(project, work / f"floor-{n}"),
    }
    if plain:
        sides["plain"] = lambda n: plain_round(project, work / f"plain-{n}")
    results: dict[str, list[Timing]] = {side: [] for side in sides}
    print(f"{title}:", flush=True)
    for number in range(rounds + 1):
        shown = []
        for side, one_round in sides.items():
            timing = one_round(number)
            shown.append(f"{side} {timing.seconds:.2f} s")
            if number:
                results[side].append(timing)
        label = "warm-up" if number == 0 else f"round {number}"
        note = " (not counted)" if number == 0 else ""
        print(f"  {label}: {', '.join(shown)}{note}", flush=True)
    return results


def report_case(
    results: dict[str, list[Timing]], command: str, floor_target: float, verdicts: Verdicts
) -> float:
    rounds = len(results["rehearsal"])
    counted = f"median of {rounds} round(s)"
    rehearsal, floor = _median(results["rehearsal"]), _median(results["uv floor"])
    print(f"  rehearsal  {command:<44} {rehearsal:7.2f} s ({counted})")
    print(f"  uv floor   {'uv build, uv publish, uv venv + uv pip install':<44} {floor:7.2f} s")
    if "plain" in results:
        plain = _median(results["plain"])
        print(f"  plain      {'bench/plain_release.sh':<44} {plain:7.2f} s")
    for side, timings in results.items():
        print("\n".join(_breakdown(side, timings)))
    verdicts.add(f"{command}: rehearsal/uv floor", rehearsal / floor, floor_target)
    if "plain" in results:
        print(f"  ratio rehearsal/plain: {rehearsal / plain:.2f}")
    verify = [seconds for timing in results["rehearsal"] for seconds in timing.verify]
    return statistics.median(verify) if verify else 0.0


@contextmanager
def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="releasekit-bench-release-") as tmp:
        yield Path(tmp)


def _compile_releasekit() -> None:
    """Give releasekit's modules their bytecode, as an installed copy has it.

    pip compiles a package's modules when it installs it, and Python writes the
    bytecode of the rest on their first import; but an editable checkout on a
    machine with ``PYTHONDONTWRITEBYTECODE`` set (this one) would compile its
    ~90 modules again at every start (0.1-0.2 s), which no user pays.
    """
    import releasekit

    package = Path(releasekit.__file__).parent
    compileall.compile_dir(package, quiet=1)
    print(f"bytecode of releasekit's modules in {package} compiled (as an installed copy has it)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="counted rounds of each side (3)")
    parser.add_argument("--packages", type=int, default=10, help="packages in the monorepo (10)")
    parser.add_argument("--large-mb", type=int, default=200, help="the large dist's data (200)")
    parser.add_argument(
        "--cases", default="single,monorepo,large", help="which cases (single,monorepo,large)"
    )
    parser.add_argument("--no-plain", action="store_true", help="leave out the plain script")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    options = parser.parse_args()
    cases = set(options.cases.split(","))
    if options.rounds < 1 or options.packages < 2 or not cases <= {"single", "monorepo", "large"}:
        parser.error("--rounds >= 1, --packages >= 2, --cases among single,monorepo,large")

    print(f"load average (1, 5, 15 min) at the start: {_uptime()}; {os.cpu_count()} cores")
    _compile_releasekit()
    verdicts = Verdicts()
    with _scratch() as scratch:
        if "single" in cases:
            project = make_single(scratch / "single")
            results = run_case(
                "single package", project, scratch, options.rounds, plain=not options.no_plain
            )
            verify = report_case(results, "nox -s release -- --rehearse", SINGLE_FLOOR, verdicts)
            if "plain" in results:
                ratio = _median(results["rehearsal"]) / _median(results["plain"])
                verdicts.add("single package: rehearsal/plain", ratio, SINGLE_PLAIN)
            verdicts.add("single package: verify per package", verify, VERIFY_SECONDS, "s")
        if "monorepo" in cases:
            project = make_monorepo(scratch / "monorepo", options.packages)
            title = f"monorepo of {options.packages} packages (a chain of == pins)"
            results = run_case(title, project, scratch, options.rounds, plain=not options.no_plain)
            command = "nox -s release -- --all --rehearse"
            verify = report_case(results, command, MONOREPO_FLOOR, verdicts)
            print(f"  verify per package (median of every package and round): {verify:.2f} s")
        if "large" in cases:
            project = make_single(scratch / "large", data_mb=options.large_mb)
            rss_file = scratch / "rss"
            timing = rehearsal_round(project, rss_file=rss_file)
            peak = int(rss_file.read_text()) / 1024
            print(f"large dist ({options.large_mb} MB of random bytes in the package):")
            print(f"  rehearsal {timing.seconds:.1f} s; peak RSS of the releasekit process:")
            print(f"  {peak:.0f} MB (nox, which runs releasekit in-process)")
            verdicts.add(f"peak RSS with a {options.large_mb} MB dist", peak, PEAK_RSS_MB, "MB")
    print(f"load average at the end: {_uptime()}")
    print("targets (issue 14):")
    print("\n".join(verdicts.lines))
    return 1 if options.check and verdicts.missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
