"""Resuming a release: what an earlier run of the same release already did.

Running the same release again completes it: a package whose version is on
the index (sdist and wheel, with the sha256 its release record holds) and
tagged is skipped whole (:func:`fully_published`); the dists of an
interrupted run are reused when they match what the index already holds
(:func:`resume_dists`).  Publish and tag skip their own finished work.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from releasekit import git
from releasekit._text import shown_path
from releasekit.errors import ReleaseError
from releasekit.model import ReleaseRun, Target

if TYPE_CHECKING:
    from releasekit.dists import Dists

__all__ = ["fully_published", "resume_dists"]

log = logging.getLogger("releasekit")

# the index, record and dists modules are imported where used: they load requests, build
# and twine, which every `nox -l` would otherwise pay for


def fully_published(release: ReleaseRun, target: Target) -> str | None:
    """Why ``target`` needs nothing, or None: on the index (sdist + wheel) and tagged."""
    from releasekit.index import files_on_index

    if release.options.rehearse or not release.publishing:
        return None
    index = release.ready_index()
    files = files_on_index(index, target.package.canonical_name, str(target.version))
    has_sdist = any(f.filename.endswith(".tar.gz") for f in files)
    has_wheel = any(f.filename.endswith(".whl") for f in files)
    if not (has_sdist and has_wheel):
        return None
    root = release.workspace.root
    local = git.tag_target(root, target.tag)
    if local is None:
        return None
    if (
        release.options.push
        and git.remote_tag_target(root, target.tag, release.options.remote) != local
    ):
        return None
    from releasekit.record import check_served, read_record, record_path

    name = f"{target.package.name} {target.version}"
    record = read_record(target.dist_dir, target.package.name, str(target.version))
    if record is None:
        log.info(
            "%s is on %s and tagged, but there is no release record here to compare with: "
            "the steps run and compare what they build with the index",
            name,
            release.index.name,
        )
        return None
    where = shown_path(record_path(target.dist_dir, target.package.name, str(target.version)), root)
    check_served(record.files, files, index=release.index.name, source=f"the record {where}")
    return f"{name} is already published on {release.index.name} (sha256 as recorded) and tagged"


def resume_dists(release: ReleaseRun, target: Target) -> Dists | None:
    """Dists of an interrupted run that match what the index already holds, if any."""
    from releasekit.dists import find_dists
    from releasekit.index import file_sha256, files_on_index

    if release.options.rehearse or not release.publishing:
        return None
    remote = {
        f.filename: f.sha256
        for f in files_on_index(
            release.ready_index(), target.package.canonical_name, str(target.version)
        )
    }
    if not remote:
        return None
    try:
        dists = find_dists(target.package, str(target.version), out_dir=target.dist_dir)
    except ReleaseError:
        return None
    local = {p.name: file_sha256(p) for p in dists.files}
    if all(remote.get(name) in (None, digest) for name, digest in local.items()) and any(
        name in remote for name in local
    ):
        return dists
    return None
