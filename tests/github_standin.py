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
_ID = r"(?P<id>\d+)"
NOT_FOUND = {"message": "Not Found"}
EXISTS = {"message": "Validation Failed: already_exists"}


def _handler(state: GitHubStandIn) -> type[StandInHandler]:
    class Handler(StandInHandler):
        def _release(self, m: re.Match[str]) -> Release | None:
            releases = state.releases.get(m["repo"], [])
            return next((r for r in releases if r.id == int(m["id"])), None)

        def get_by_tag(self, m: re.Match[str], query: str) -> None:
            release = state.release(m["repo"], urllib.parse.unquote(m["tag"]))
            if release is None:
                return self.send_json(404, NOT_FOUND)
            return self.send_json(200, state.release_json(m["repo"], release))

        def create(self, m: re.Match[str], query: str) -> None:
            data = json.loads(self.read_body())
            if state.release(m["repo"], data["tag_name"]) is not None:
                return self.send_json(422, EXISTS)
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

        def get_asset(self, m: re.Match[str], query: str) -> None:
            assets = [a for r in state.releases.get(m["repo"], []) for a in r.assets]
            asset = next((a for a in assets if a.id == int(m["id"])), None)
            if asset is None:
                return self.send_json(404, NOT_FOUND)
            if self.headers.get("Accept") != "application/octet-stream":
                return self.send_json(200, state.asset_json(m["repo"], asset))
            return self.send_bytes(200, asset.data)

        def list_assets(self, m: re.Match[str], query: str) -> None:
            release = self._release(m)
            if release is None:
                return self.send_json(404, NOT_FOUND)
            return self.send_json(200, [state.asset_json(m["repo"], a) for a in release.assets])

        def update(self, m: re.Match[str], query: str) -> None:
            release = self._release(m)
            if release is None:
                return self.send_json(404, NOT_FOUND)
            data = json.loads(self.read_body())
            for key in ("name", "body", "prerelease", "draft"):
                if key in data:
                    setattr(release, key, data[key])
            return self.send_json(200, state.release_json(m["repo"], release))

        def upload_asset(self, m: re.Match[str], query: str) -> None:
            name = urllib.parse.parse_qs(query).get("name", [""])[0]
            release = self._release(m)
            data = self.read_body()
            if release is None:
                return self.send_json(404, NOT_FOUND)
            if not name or any(a.name == name for a in release.assets):
                return self.send_json(422, EXISTS)
            asset = Asset(state._id(), name, data, self.headers.get("Content-Type", ""))
            release.assets.append(asset)
            return self.send_json(201, state.asset_json(m["repo"], asset))

        # (method, path pattern, what answers) as GitHub routes them
        ROUTES = (
            ("GET", _REPO + r"/releases/tags/(?P<tag>.+)", get_by_tag),
            ("POST", _REPO + r"/releases", create),
            ("GET", _REPO + r"/releases/assets/" + _ID, get_asset),
            ("GET", _REPO + r"/releases/" + _ID + r"/assets", list_assets),
            ("PATCH", _REPO + r"/releases/" + _ID, update),
            ("POST", r"/uploads" + _REPO + r"/releases/" + _ID + r"/assets", upload_asset),
        )

        def _route(self, method: str) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            state.requests.append((method, parsed.path))
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                self.read_body()
                return self.send_json(401, {"message": "Bad credentials"})
            allowed = False
            for route_method, pattern, answer in self.ROUTES:
                if m := re.fullmatch(pattern, parsed.path):
                    if route_method == method:
                        return answer(self, m, parsed.query)
                    allowed = True
            self.read_body()
            return self.send_json(
                405 if allowed else 404, {"message": "method"} if allowed else NOT_FOUND
            )

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
