"""The release record: what was built and published, so verify can prove it later.

At publish time a small JSON file is written beside the dists,
``dist/<name>/<name>-<version>.release.json``: each file's name and sha256,
the commit, the tag and the ``SOURCE_DATE_EPOCH`` the dists were built with.
``nox -s verify`` compares what the index serves with it (and rebuilds the
wheel with the same epoch), and a release run skips a package as "already
published and tagged" only when the index serves exactly the recorded bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from releasekit._text import shown_path
from releasekit.errors import DigestMismatch, VerifyFailed
from releasekit.index import IndexFile, file_sha256

__all__ = [
    "RECORD_SUFFIX",
    "ReleaseRecord",
    "VerifyBasis",
    "check_served",
    "read_record",
    "record_of",
    "record_path",
    "verify_basis",
    "write_record",
]

RECORD_SUFFIX = ".release.json"
_SCHEMA = 1


@dataclass(frozen=True)
class ReleaseRecord:
    """What one release of one package was: file name -> sha256, and how it was built."""

    name: str
    version: str
    files: Mapping[str, str]
    commit: str | None = None
    tag: str | None = None
    source_date_epoch: int | None = None


def record_path(dist_dir: Path, name: str, version: str) -> Path:
    """Where the record of ``name`` ``version`` lives: beside its dists."""
    stem = canonicalize_name(name).replace("-", "_")
    return Path(dist_dir) / f"{stem}-{version}{RECORD_SUFFIX}"


def write_record(dist_dir: Path, record: ReleaseRecord) -> Path:
    """Write ``record`` beside the dists (replacing an older one); returns its path."""
    path = record_path(dist_dir, record.name, record.version)
    data: dict[str, Any] = {
        "schema": _SCHEMA,
        "name": record.name,
        "version": record.version,
        "files": dict(sorted(record.files.items())),
        "commit": record.commit,
        "tag": record.tag,
        "source_date_epoch": record.source_date_epoch,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".part")
    scratch.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    scratch.replace(path)
    return path


def record_of(
    name: str,
    version: str,
    files: Sequence[Path],
    *,
    commit: str | None = None,
    tag: str | None = None,
    source_date_epoch: int | None = None,
) -> ReleaseRecord:
    """The record of ``files`` (hashed now)."""
    return ReleaseRecord(
        name,
        version,
        {path.name: file_sha256(path) for path in files},
        commit,
        tag,
        source_date_epoch,
    )


def read_record(dist_dir: Path, name: str, version: str) -> ReleaseRecord | None:
    """The record of ``name`` ``version`` in ``dist_dir``, or None when there is none."""
    path = record_path(dist_dir, name, version)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise VerifyFailed(
            f"the release record {str(path)!r} cannot be read: {exc}",
            "it is written by publish; restore it from the release's CI artifacts, or remove it "
            "to verify against the index's listing only",
        ) from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        raise VerifyFailed(
            f"the release record {str(path)!r} has no valid 'files' table",
            "it is written by publish; restore it, or remove it to verify against the listing",
        )
    epoch = data.get("source_date_epoch")
    return ReleaseRecord(
        name=str(data.get("name", name)),
        version=str(data.get("version", version)),
        files=files,
        commit=data.get("commit"),
        tag=data.get("tag"),
        source_date_epoch=int(epoch) if isinstance(epoch, int) else None,
    )


def check_served(
    expected: Mapping[str, str], served: Sequence[IndexFile], *, index: str, source: str
) -> list[str]:
    """Every expected file is listed with the expected sha256; returns lines for the report.

    A file listed with another sha256, or not listed, is a :class:`DigestMismatch`
    naming both hashes (all of them at once).  Files the index lists that are not
    expected are named in the returned lines (they were not built by this release).
    ``source`` says where ``expected`` comes from ("this run's build", a record file).
    """
    listed = {f.filename: f for f in served}
    problems = []
    for filename, sha in sorted(expected.items()):
        file = listed.get(filename)
        if file is None:
            problems.append(f"{filename} is not listed (expected sha256 {sha})")
        elif file.sha256 is not None and file.sha256 != sha:
            problems.append(f"{filename}: {index} serves sha256 {file.sha256}, expected {sha}")
    if problems:
        raise DigestMismatch(
            f"{index!r} does not serve what was built ({source}):\n" + "\n".join(problems),
            "do not trust this index for this version: find out who changed the files; "
            "the version is burnt there, so release a new one (invoke bump) from a trusted state",
        )
    lines = [f"the files {index} serves match {source} (sha256)"]
    extra = sorted(set(listed) - set(expected))
    if extra:
        lines.append(f"also on {index}, not built by this release: {', '.join(extra)}")
    return lines


@dataclass(frozen=True)
class VerifyBasis:
    """What a standalone verify compares the index with, and the epoch to rebuild with."""

    expected: Mapping[str, str] | None  # None: no record here, the listing is all there is
    source: str
    source_date_epoch: int | None
    note: str | None = None  # said to the user when there is no record


def verify_basis(root: Path, name: str, version: str, tag: str, record_dir: Path) -> VerifyBasis:
    """The record of ``name`` ``version`` in ``record_dir``; without one, the tag's epoch.

    The release commit's time is the ``SOURCE_DATE_EPOCH`` the build used (the
    record says so; without a record, the local tag's commit, when there is one).
    """
    from releasekit import git

    where = record_path(record_dir, name, version)
    shown = shown_path(where, root)
    record = read_record(record_dir, name, version)
    if record is not None:
        return VerifyBasis(record.files, f"the release record {shown}", record.source_date_epoch)
    tagged = git.tag_target(root, tag)
    return VerifyBasis(
        None,
        "the index's listing",
        git.commit_time(root, tagged) if tagged is not None else None,
        f"no release record of {name} {version} at {shown}: the served files are checked "
        "against the index's listing only",
    )
