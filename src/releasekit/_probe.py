"""The probe :mod:`releasekit.smoke` runs inside a fresh venv to ask it what got installed.

A program, not a module to import: :data:`PROBE` is written into the venv's
root and run by the venv's own interpreter with ``-I`` (``python -I probe.py
NAME IMPORT_NAMES_JSON``).  It prints one line, :data:`PROBE_MARKER` and a
JSON object: the installed version of NAME, the venv's prefix, and for each
top-level import name (given, or read from the distribution's RECORD) its
``__version__`` and file, or the error importing it raised.

It reads the distribution's ``.dist-info`` folder itself rather than through
``importlib.metadata``, whose import alone takes longer (about 0.06 s) than
the rest of the probe; an ``.egg-info`` layout is still left to
``importlib.metadata``.
"""

from __future__ import annotations

PROBE_MARKER = "releasekit-probe:"

# Runs inside the fresh venv (``python -I``): which version of NAME is installed,
# which top-level import names it ships, and what each says its __version__ is.
PROBE = r"""
import importlib, json, os, re, sys
name, wanted = sys.argv[1], json.loads(sys.argv[2])
out = {"installed": None, "modules": {}, "prefix": sys.prefix}


class DistInfo:
    # The first NAME-VERSION.dist-info on sys.path, read the way importlib.metadata
    # reads it (which takes longer to import than the whole rest of this probe).
    def __init__(self, folder):
        self.folder = folder

    def read_text(self, file):
        try:
            with open(os.path.join(self.folder, file), encoding="utf-8") as handle:
                return handle.read()
        except OSError:
            return None

    @property
    def version(self):
        for line in (self.read_text("METADATA") or "").splitlines():
            if not line.strip():
                break
            key, _, value = line.partition(":")
            if key.strip().lower() == "version":
                return value.strip()
        return None

    @property
    def files(self):
        import csv

        rows = csv.reader((self.read_text("RECORD") or "").splitlines())
        return [row[0].split("/") for row in rows if row]


def find(name):
    key = re.sub(r"[-_.]+", "-", name).lower()
    for entry in sys.path:
        try:
            listing = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for folder in listing:
            stem = folder[: -len(".dist-info")] if folder.endswith(".dist-info") else ""
            if stem and re.sub(r"[-_.]+", "-", stem.rpartition("-")[0]).lower() == key:
                found = DistInfo(os.path.join(entry or ".", folder))
                if found.version is not None:
                    return found
        if any(f.endswith(".egg-info") for f in listing):
            import importlib.metadata as md  # an older layout: let importlib.metadata read it

            try:
                return md.distribution(name)
            except md.PackageNotFoundError:
                pass
    return None


dist = find(name)
if dist is None:
    print("releasekit-probe:" + json.dumps(out))
    raise SystemExit(0)
out["installed"] = dist.version
if wanted is None:
    wanted = []
    listed = [getattr(f, "parts", f) for f in dist.files or []]
    paths = [
        "/".join(parts) for parts in listed
        if parts and parts[0] not in ("..", "__pycache__")
        and not parts[0].endswith((".dist-info", ".data", ".egg-info"))
        and "__pycache__" not in parts
    ]
    packages = {p.rsplit("/", 1)[0] for p in paths if p.endswith("/__init__.py")}
    for path in sorted(paths):
        parts = path.split("/")
        stem, _, suffix = parts[-1].partition(".")
        if suffix != "py" and not suffix.endswith(("so", "pyd")):
            continue
        # the outermost regular package holding the file; a namespace package
        # (a folder without __init__.py, such as opentelemetry/) is looked through
        names = next(
            (parts[:i] for i in range(1, len(parts)) if "/".join(parts[:i]) in packages),
            parts[:-1] + [stem],
        )
        if all(n.isidentifier() for n in names) and names[-1] != "__init__":
            wanted.append(".".join(names))
    wanted = sorted(
        {m for m in wanted if not any(m.startswith(o + ".") for o in wanted)},
        key=lambda m: (m.count("."), m),
    )
    if not wanted:
        wanted = (dist.read_text("top_level.txt") or "").split()
for module in wanted:
    try:
        imported = importlib.import_module(module)
    except BaseException as exc:
        out["modules"][module] = {"error": f"{type(exc).__name__}: {exc}"}
        continue
    version = getattr(imported, "__version__", None)
    out["modules"][module] = {
        "version": None if version is None else str(version),
        "file": getattr(imported, "__file__", None),
    }
print("releasekit-probe:" + json.dumps(out))
"""
