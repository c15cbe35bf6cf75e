"""Benchmark leak-lint: how fast it scans, and what it finds in popular projects' dists.

Two parts, both by default:

* ``speed``: a typical sdist made on the spot (150 modules of about 10 kB, about
  1.5 MB of source, one planted PyPI token) is scanned N times; prints every round,
  the median, and whether the planted token (and only it) was found.  Target: the
  median well under a second (``--check`` exits 1 above ``--target``).
* ``corpus``: a few dozen wheels and sdists of popular projects are downloaded from
  PyPI into a cache folder outside the repository (default: ``$TMPDIR/releasekit-bench-leaks``,
  reused by later runs; never committed) and scanned; every finding is printed (dist,
  member, rule, redacted excerpt), then the totals.  Wheels come through
  ``pip download --isolated --no-deps --only-binary :all:``; sdists through PyPI's JSON
  API (``pip download`` of an sdist prepares its metadata, which for numpy or
  cryptography means installing their build requirements and running the backend),
  checked against the sha256 PyPI lists.

Run: python bench/bench_leaks.py [speed|corpus] [--rounds 5] [--cache DIR] [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import secrets
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urljoin

import requests

from releasekit.leaks import scan_dists

# (project, version, kind): pinned so the figure can be reproduced.
CORPUS: tuple[tuple[str, str, str], ...] = (
    ("requests", "2.34.2", "wheel"),
    ("requests", "2.34.2", "sdist"),
    ("urllib3", "2.8.0", "wheel"),
    ("urllib3", "2.8.0", "sdist"),
    ("boto3", "1.44.8", "wheel"),
    ("botocore", "1.44.8", "wheel"),
    ("s3transfer", "0.19.3", "wheel"),
    ("cryptography", "50.0.2", "wheel"),
    ("cryptography", "50.0.2", "sdist"),
    ("paramiko", "5.1.0", "wheel"),
    ("paramiko", "5.1.0", "sdist"),
    ("django", "5.2.19", "wheel"),
    ("django", "6.1.3", "sdist"),
    ("flask", "3.1.3", "wheel"),
    ("werkzeug", "3.1.9", "wheel"),
    ("jinja2", "3.1.6", "wheel"),
    ("numpy", "2.5.5", "sdist"),
    ("setuptools", "84.2.1", "wheel"),
    ("setuptools", "84.2.1", "sdist"),
    ("pip", "26.3", "wheel"),
    ("pip", "26.3", "sdist"),
    ("twine", "7.0.0", "wheel"),
    ("twine", "7.0.0", "sdist"),
    ("sigstore", "4.5.1", "wheel"),
    ("sigstore", "4.5.1", "sdist"),
    ("pyjwt", "2.15.1", "wheel"),
    ("pyjwt", "2.15.1", "sdist"),
    ("certifi", "2026.10.19.post1", "wheel"),
    ("httpx", "0.28.1", "wheel"),
    ("aiohttp", "3.14.5", "sdist"),
    ("oauthlib", "4.0.1", "sdist"),
    ("google-auth", "2.63.0", "sdist"),
    ("rsa", "4.9.1", "wheel"),
    ("keyring", "25.7.0", "wheel"),
    ("python-dotenv", "1.2.4", "sdist"),
    ("detect-secrets", "1.5.0", "sdist"),
    ("pypi-attestations", "0.0.30", "sdist"),
    ("pydantic", "2.14.4", "wheel"),
    ("sqlalchemy", "2.1.9", "sdist"),
    ("pytest", "9.2.0", "wheel"),
)
SDIST_SUFFIXES = (".tar.gz", ".zip")
# Where projects keep test keys and documented examples.
FIXTURE_PATH = re.compile(r"(^|/)(tests?|testing|fixtures|dummyserver|examples?|docs?)/")


def default_cache() -> Path:
    return Path(tempfile.gettempdir()) / "releasekit-bench-leaks"


# --- speed -----------------------------------------------------------------------------


def typical_sdist(path: Path) -> Path:
    """About 1.5 MB of ordinary source in 150 modules, and one planted PyPI token."""
    module = ("def f(x):\n    return x * 2  # " + "lorem ipsum " * 5 + "\n") * 120
    members = {f"src/demo_pkg/mod{i}.py": module.encode() for i in range(150)}
    token = "pypi-" + "AgEIcHlwaS5vcmc" + secrets.token_urlsafe(96)
    members["src/demo_pkg/leak.py"] = f"T = '{token}'\n".encode()
    members["PKG-INFO"] = b"Metadata-Version: 2.4\nName: demo-pkg\nVersion: 1.0\n"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(f"demo_pkg-1.0/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def bench_speed(rounds: int, target: float) -> bool:
    with tempfile.TemporaryDirectory(prefix="rk-bench-leaks-") as scratch:
        sdist = typical_sdist(Path(scratch) / "demo_pkg-1.0.tar.gz")
        with tarfile.open(sdist) as archive:
            size = sum(member.size for member in archive.getmembers())
        started = time.perf_counter()
        scan_dists([sdist])  # detect-secrets' plugins are imported on the first call
        print(f"first scan (imports included): {time.perf_counter() - started:.3f} s")
        times = []
        for number in range(1, rounds + 1):
            started = time.perf_counter()
            leaks = scan_dists([sdist])
            times.append(time.perf_counter() - started)
            rules = [leak.rule for leak in leaks]
            print(f"round {number}: {times[-1]:.3f} s, findings {rules}")
            if rules != ["pypi-token"]:
                print("FAILED: the planted token (and only it) should be found")
                return False
    median = statistics.median(times)
    print(f"leak-lint of a {size / 1e6:.1f} MB sdist (151 files): median {median:.3f} s")
    ok = median < target
    print(f"verdict: {'meets' if ok else 'misses'} the target (median under {target:.1f} s)")
    return ok


# --- corpus ----------------------------------------------------------------------------


def _isolated_env() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIP_", "UV_")) and key not in {"PYTHONPATH"}
    }


def fetch_wheel(project: str, version: str, cache: Path) -> Path:
    dest = cache / "wheels" / (f"{project}-{version}" if version else project)
    found = sorted(dest.glob("*.whl")) if dest.is_dir() else []
    if not found:
        spec = f"{project}=={version}" if version else project
        subprocess.run(
            [
                sys.executable, "-m", "pip", "download", "--isolated", "--no-deps",
                "--only-binary", ":all:", "--quiet", "--cache-dir", str(cache / "pip-cache"),
                "--index-url", "https://pypi.org/simple/", "-d", str(dest), spec,
            ],
            check=True,
            env=_isolated_env(),
        )  # fmt: skip
        found = sorted(dest.glob("*.whl"))
    return found[0]


def fetch_sdist(project: str, version: str, cache: Path) -> Path:
    dest = cache / "sdists" / (f"{project}-{version}" if version else project)
    found = sorted(p for p in dest.glob("*") if p.name.endswith(SDIST_SUFFIXES))
    if found:
        return found[0]
    url = f"https://pypi.org/pypi/{project}/{version + '/' if version else ''}json"
    response = requests.get(url, timeout=60)
    response.raise_for_status()
    files = [f for f in response.json()["urls"] if f["packagetype"] == "sdist"]
    if not files:
        raise SystemExit(f"{project} {version or '(latest)'} has no sdist on PyPI")
    chosen = files[0]
    data = requests.get(urljoin(response.url, chosen["url"]), timeout=300).content
    if hashlib.sha256(data).hexdigest() != chosen["digests"]["sha256"]:
        raise SystemExit(f"{chosen['filename']}: sha256 differs from what PyPI lists")
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / chosen["filename"]
    path.write_bytes(data)
    return path


def bench_corpus(cache: Path) -> int:
    cache.mkdir(parents=True, exist_ok=True)
    print(f"cache: {cache}")
    dists = []
    for project, version, kind in CORPUS:
        fetch = fetch_wheel if kind == "wheel" else fetch_sdist
        dists.append(fetch(project, version, cache))
    total = Counter[str]()
    where = Counter[str]()
    members = 0
    size = 0
    started = time.perf_counter()
    for dist in dists:
        size += dist.stat().st_size
        leaks = scan_dists([dist])
        for leak in leaks:
            total[leak.rule] += 1
            kind = "tests/docs/examples" if FIXTURE_PATH.search(leak.member) else "elsewhere"
            where[kind] += 1
            print(f"FINDING {leak.dist}: {leak.member} ({leak.rule}) {leak.excerpt} [{kind}]")
        print(f"  {dist.name}: {len(leaks)} finding(s)")
        members += 1
    elapsed = time.perf_counter() - started
    count = sum(total.values())
    print(
        f"{members} dists ({size / 1e6:.0f} MB compressed) scanned in {elapsed:.1f} s: "
        f"{count} finding(s)" + (f" ({dict(total)})" if count else "")
    )
    print(
        f"findings in tests/, docs/, examples/, fixtures: {where['tests/docs/examples']};"
        f" elsewhere (read each by hand): {where['elsewhere']}"
    )
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", choices=["speed", "corpus"], default=None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--target", type=float, default=1.0, help="seconds (speed)")
    parser.add_argument("--cache", type=Path, default=default_cache())
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    ok = True
    if args.part in (None, "speed"):
        ok = bench_speed(args.rounds, args.target) and ok
    if args.part in (None, "corpus"):
        bench_corpus(args.cache.resolve())
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
