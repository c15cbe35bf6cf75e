"""A loopback stand-in for the part of GitHub's REST API that releases use.

Endpoints (as GitHub has them): get a release by tag, create a release,
update a release, list a release's assets, download an asset, and upload an
asset at the ``upload_url`` a release carries — which lives under another
path (``/uploads/...``), as on GitHub where it is another host, so a client
that builds the URL itself instead of following ``upload_url`` fails.
Every request must carry ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from tests.standin import StandInHandler, serving, url_of


@dataclass
class Asset:
    id: int
    name: str
    data: bytes
    content_type: str


@dataclass
class Release:
    id: int
    tag_name: str
    name: str
    body: str
    prerelease: bool
    draft: bool
    assets: list[Asset] = field(default_factory=list)


class GitHubStandIn:
    """The state of the stand-in: releases per repository, and the requests seen."""

    def __init__(self, token: str, *, digests: bool = True) -> None:
        self.token = token
        self.digests = digests  # GitHub gives each asset a sha256 "digest"; older servers do not
        self.releases: dict[str, list[Release]] = {}
        self.requests: list[tuple[str, str]] = []
        self.next_id = 1
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None  # while serving

    @property
    def url(self) -> str:
        assert self.server is not None
        return url_of(self.server)

    def release(self, repository: str, tag: str) -> Release | None:
        return next((r for r in self.releases.get(repository, []) if r.tag_name == tag), None)

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m != "GET"]

    def _id(self) -> int:
        with self.lock:
            self.next_id += 1
            return self.next_id

    def release_json(self, repository: str, release: Release) -> dict[str, Any]:
        return {
            "id": release.id,
            "tag_name": release.tag_name,
            "name": release.name,
            "body": release.body,
            "prerelease": release.prerelease,
            "draft": release.draft,
            "html_url": f"https://github.invalid/{repository}/releases/tag/{release.tag_name}",
            "upload_url": (
                f"{self.url}/uploads/repos/{repository}/releases/{release.id}/assets{{?name,label}}"
            ),
            "assets": [self.asset_json(repository, a) for a in release.assets],
        }

    def asset_json(self, repository: str, asset: Asset) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": asset.id,
            "name": asset.name,
            "size": len(asset.data),
            "content_type": asset.content_type,
            "url": f"{self.url}/repos/{repository}/releases/assets/{asset.id}",
        }
        if self.digests:
            out["digest"] = "sha256:" + hashlib.sha256(asset.data).hexdigest()
        return out


_REPO = r"/repos/(?P<repo>[^/]+/[^/]+)"


def _handler(state: GitHubStandIn) -> type[StandInHandler]:
    class Handler(StandInHandler):
        def _authorized(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {state.token}":
                return True
            self.read_body()
            self.send_json(401, {"message": "Bad credentials"})
            return False

        def _route(self, method: str) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            path = parsed.path
            state.requests.append((method, path))
            if not self._authorized():
                return None
            if m := re.fullmatch(_REPO + r"/releases/tags/(?P<tag>.+)", path):
                if method != "GET":
                    return self.send_json(405, {"message": "method"})
                release = state.release(m["repo"], urllib.parse.unquote(m["tag"]))
                if release is None:
                    return self.send_json(404, {"message": "Not Found"})
                return self.send_json(200, state.release_json(m["repo"], release))
            if m := re.fullmatch(_REPO + r"/releases", path):
                if method != "POST":
                    return self.send_json(405, {"message": "method"})
                data = json.loads(self.read_body())
                if state.release(m["repo"], data["tag_name"]) is not None:
                    return self.send_json(422, {"message": "Validation Failed: already_exists"})
                release = Release(
                    state._id(),
                    data["tag_name"],
                    data.get("name", ""),
                    data.get("body", ""),
                    bool(data.get("prerelease")),
                    bool(data.get("draft")),
                )
                state.releases.setdefault(m["repo"], []).append(release)
                return self.send_json(201, state.release_json(m["repo"], release))
            if m := re.fullmatch(_REPO + r"/releases/assets/(?P<id>\d+)", path):
                for release in state.releases.get(m["repo"], []):
                    for asset in release.assets:
                        if asset.id == int(m["id"]):
                            if self.headers.get("Accept") != "application/octet-stream":
                                return self.send_json(200, state.asset_json(m["repo"], asset))
                            self.send_bytes(200, asset.data)
                            return None
                return self.send_json(404, {"message": "Not Found"})
            if m := re.fullmatch(_REPO + r"/releases/(?P<id>\d+)(?P<assets>/assets)?", path):
                release = next(
                    (r for r in state.releases.get(m["repo"], []) if r.id == int(m["id"])), None
                )
                if release is None:
                    return self.send_json(404, {"message": "Not Found"})
                if m["assets"]:
                    if method != "GET":
                        return self.send_json(405, {"message": "method"})
                    listed = [state.asset_json(m["repo"], a) for a in release.assets]
                    return self.send_json(200, listed)
                if method == "PATCH":
                    data = json.loads(self.read_body())
                    for key in ("name", "body", "prerelease", "draft"):
                        if key in data:
                            setattr(release, key, data[key])
                    return self.send_json(200, state.release_json(m["repo"], release))
                return self.send_json(405, {"message": "method"})
            if m := re.fullmatch(r"/uploads" + _REPO + r"/releases/(?P<id>\d+)/assets", path):
                if method != "POST":
                    return self.send_json(405, {"message": "method"})
                name = urllib.parse.parse_qs(parsed.query).get("name", [""])[0]
                release = next(
                    (r for r in state.releases.get(m["repo"], []) if r.id == int(m["id"])), None
                )
                data = self.read_body()
                if release is None:
                    return self.send_json(404, {"message": "Not Found"})
                if not name or any(a.name == name for a in release.assets):
                    return self.send_json(422, {"message": "Validation Failed: already_exists"})
                asset = Asset(state._id(), name, data, self.headers.get("Content-Type", ""))
                release.assets.append(asset)
                return self.send_json(201, state.asset_json(m["repo"], asset))
            return self.send_json(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PATCH(self) -> None:
            self._route("PATCH")

    return Handler


@pytest.fixture
def github_api() -> Iterator[GitHubStandIn]:
    """A running stand-in of the releases API on 127.0.0.1 (stopped after the test)."""
    standin = GitHubStandIn("ghs_test-token-not-a-secret-0123456789")
    with serving(_handler(standin), "github") as standin.server:
        yield standin
