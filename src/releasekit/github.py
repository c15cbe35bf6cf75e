"""The GitHub release of a tag, through the GitHub REST API.

:func:`github_release` creates the release for a tag — or brings an existing
one in line — with the version's release notes as its body, ``prerelease``
set for pre-releases, and the dists, their sigstore bundles and attestations
attached (uploaded to the ``upload_url`` the API returns).  It is idempotent:
a second run finds everything in place and says so; an asset of the same name
with other bytes is an error (the files of a release never change).

Where it talks to, and as whom, comes from the environment as in GitHub
Actions: ``GITHUB_API_URL`` (GitHub Enterprise; default the public API),
the token from ``GITHUB_TOKEN`` or ``GH_TOKEN`` (never printed: it is redacted
from every error), the repository from ``GITHUB_REPOSITORY`` or the
``origin`` remote's URL.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from packaging.version import Version

from releasekit._process import redact_text
from releasekit.errors import CredentialsError, ReleaseError
from releasekit.workspace import Package

__all__ = [
    "DEFAULT_API_URL",
    "GitHubError",
    "GitHubRelease",
    "GitHubTarget",
    "github_release",
    "github_target",
    "release_assets",
    "release_package",
]

log = logging.getLogger("releasekit")

DEFAULT_API_URL = "https://api.github.com"
_TIMEOUT = 60.0
_ASSET_SUFFIXES = (".sigstore.json", ".attestation")  # beside a dist, attached with it
_REMOTE = re.compile(r"(?:[:/])(?P<owner>[^/:]+)/(?P<repo>[^/]+?)(?:\.git)?/?$")


class GitHubError(ReleaseError):
    """The GitHub API refused or failed a request, or a release's asset conflicts."""


@dataclass(frozen=True)
class GitHubTarget:
    """Where the release goes: API root, ``owner/repo``, and the token (never shown)."""

    api_url: str
    repository: str
    token: str = field(repr=False)


@dataclass
class GitHubRelease:
    """What :func:`github_release` did."""

    tag: str
    url: str
    action: str  # "created", "updated", "unchanged"
    uploaded: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.action != "unchanged" or bool(self.uploaded)

    def describe(self) -> str:
        """One line: what changed, or that nothing did."""
        if not self.changed:
            return (
                f"GitHub release {self.tag} already up to date "
                f"({len(self.already)} file(s) attached): nothing changed"
            )
        parts = [f"GitHub release {self.tag} {self.action}"]
        if self.uploaded:
            parts.append(f"{len(self.uploaded)} file(s) attached")
        if self.already:
            parts.append(f"{len(self.already)} already there")
        return ", ".join(parts)


def _repository_from_remote(root: Path, remote: str) -> str | None:
    from releasekit import git

    url = git.remote_url(root, remote)
    if url is None:
        return None
    match = _REMOTE.search(url)
    return f"{match['owner']}/{match['repo']}" if match else None


def github_target(root: Path, *, environ: Mapping[str, str] | None = None) -> GitHubTarget:
    """The API root, repository and token from the environment (or the origin remote)."""
    env = os.environ if environ is None else environ
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")
    if not token:
        raise CredentialsError(
            "no GitHub token: neither GITHUB_TOKEN nor GH_TOKEN is set",
            "in GitHub Actions pass `GITHUB_TOKEN: ${{ github.token }}` in the step's env "
            "(job permission `contents: write`); locally export GH_TOKEN "
            "(e.g. from `gh auth token`)",
        )
    repository = env.get("GITHUB_REPOSITORY") or _repository_from_remote(root, "origin")
    if not repository or repository.count("/") != 1:
        raise GitHubError(
            "cannot tell the GitHub repository: GITHUB_REPOSITORY is unset and the "
            "'origin' remote is not an OWNER/REPO URL",
            "set GITHUB_REPOSITORY=OWNER/REPO",
        )
    api_url = (env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
    return GitHubTarget(api_url, repository, token)


def release_assets(files: Sequence[Path]) -> list[Path]:
    """The dists and, beside each, its sigstore bundle and attestations (sorted, unique)."""
    found: dict[str, Path] = {}
    for dist in files:
        found[dist.name] = dist
        for side in sorted(dist.parent.glob(f"{dist.name}*")):
            if side.name != dist.name and side.name.endswith(_ASSET_SUFFIXES):
                found[side.name] = side
    return [found[name] for name in sorted(found)]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _Api:
    """A few calls of the REST API, every failure a GitHubError with the token redacted."""

    def __init__(self, target: GitHubTarget) -> None:
        self.target = target
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {target.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "releasekit",
            }
        )

    def url(self, path: str) -> str:
        return f"{self.target.api_url}/repos/{self.target.repository}/{path.lstrip('/')}"

    def call(
        self,
        method: str,
        url: str,
        *,
        ok: Sequence[int] = (200,),
        allow: Sequence[int] = (),
        **kwargs: Any,
    ) -> requests.Response:
        secrets = [self.target.token]
        try:
            response = self.session.request(method, url, timeout=_TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise GitHubError(
                f"the GitHub API at {self.target.api_url!r} could not be reached "
                f"({exc.__class__.__name__})",
                "check GITHUB_API_URL and the network; the release step is safe to repeat",
            ) from None
        if response.status_code in ok or response.status_code in allow:
            return response
        said = _api_message(response)
        what = f"{method} {urllib.parse.urlsplit(url).path}"
        if response.status_code in (401, 403):
            raise CredentialsError(
                redact_text(
                    f"GitHub refused {what}: HTTP {response.status_code} {said}".rstrip(), secrets
                ),
                "the token needs `contents: write` on "
                f"{self.target.repository} (in Actions: `permissions: contents: write`)",
            )
        if response.status_code == 404:
            raise GitHubError(
                redact_text(f"GitHub has no {what} (HTTP 404)", secrets),
                f"check GITHUB_REPOSITORY ({self.target.repository}) and that the token can see it",
            )
        raise GitHubError(
            redact_text(f"GitHub answered {what}: HTTP {response.status_code} {said}", secrets),
            "read GitHub's reason; the release step is safe to repeat",
        )


def _api_message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return (response.text or "").strip().splitlines()[0] if response.text.strip() else ""
    return str(data.get("message", "")) if isinstance(data, dict) else ""


def _upload_url(template: str, name: str) -> str:
    """Expand the ``upload_url`` the API returned (``...assets{?name,label}``) for ``name``."""
    base = template.split("{", 1)[0]
    return f"{base}?{urllib.parse.urlencode({'name': name})}"


def _same_bytes(api: _Api, asset: Mapping[str, Any], path: Path) -> bool:
    digest = asset.get("digest")
    if isinstance(digest, str) and digest.startswith("sha256:"):
        return digest.removeprefix("sha256:") == _sha256(path)
    if asset.get("size") != path.stat().st_size:
        return False
    response = api.call(
        "GET", str(asset["url"]), headers={"Accept": "application/octet-stream"}
    )  # older servers give no digest: compare the bytes
    return hashlib.sha256(response.content).hexdigest() == _sha256(path)


def github_release(
    target: GitHubTarget,
    *,
    tag: str,
    name: str,
    body: str,
    prerelease: bool,
    files: Sequence[Path],
) -> GitHubRelease:
    """Create or update the release of ``tag`` and attach ``files`` (idempotent)."""
    api = _Api(target)
    quoted = urllib.parse.quote(tag, safe="")
    found = api.call("GET", api.url(f"releases/tags/{quoted}"), allow=(404,))
    wanted = {"name": name, "body": body, "prerelease": prerelease}
    if found.status_code == 404:
        release = api.call(
            "POST",
            api.url("releases"),
            ok=(201,),
            json={"tag_name": tag, **wanted, "draft": False},
        ).json()
        action = "created"
    else:
        release = found.json()
        if any(release.get(key) != value for key, value in wanted.items()):
            release = api.call("PATCH", api.url(f"releases/{release['id']}"), json=wanted).json()
            action = "updated"
        else:
            action = "unchanged"
    listed = api.call(
        "GET", api.url(f"releases/{release['id']}/assets"), params={"per_page": 100}
    ).json()
    assets = {asset["name"]: asset for asset in listed}
    result = GitHubRelease(tag, str(release.get("html_url", "")), action)
    to_upload = []
    for path in files:
        asset = assets.get(path.name)
        if asset is None:
            to_upload.append(path)
        elif _same_bytes(api, asset, path):
            result.already.append(path.name)
        else:
            raise GitHubError(
                f"the GitHub release {tag} already has {path.name!r} with other bytes",
                "the files of a release never change: find out where the other file came from; "
                "release a new version (invoke bump) rather than replace it",
            )
    for path in to_upload:
        log.info("attaching %s to the GitHub release %s", path.name, tag)
        api.call(
            "POST",
            _upload_url(str(release["upload_url"]), path.name),
            ok=(201,),
            data=path.read_bytes(),
            headers={"Content-Type": "application/octet-stream"},
        )
        result.uploaded.append(path.name)
    return result


def release_package(
    workspace_root: Path,
    package: Package,
    version: Version,
    files: Sequence[Path],
    *,
    environ: Mapping[str, str] | None = None,
) -> GitHubRelease:
    """The GitHub release of ``package`` ``version``: its tag, notes, pre-release flag, files."""
    from releasekit.notes import notes_text

    target = github_target(workspace_root, environ=environ)
    tag = package.tag(str(version))
    return github_release(
        target,
        tag=tag,
        name=f"{package.name} {version}",
        body=notes_text(package, version),
        prerelease=version.is_prerelease,
        files=release_assets(files),
    )
