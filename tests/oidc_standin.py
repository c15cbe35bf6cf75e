"""Loopback stand-ins for trusted publishing: the Actions token service and an index's exchange.

One server plays two parts:

- the GitHub Actions runner's OIDC token service (``ACTIONS_ID_TOKEN_REQUEST_URL``):
  ``GET /token?audience=A`` with ``Authorization: bearer <request token>`` answers
  ``{"value": <JWT>}`` whose claims name this job's owner, repository, workflow and
  environment;
- an index front that implements Warehouse's exchange: ``GET /_/oidc/audience`` and
  ``POST /_/oidc/mint-token`` (a token only for the registered publisher), and takes
  uploads (``POST /``) only with the minted token, passing them on to a real pypiserver.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
import requests

if TYPE_CHECKING:
    from tests.pypiserver_fixtures import PypiServer

REQUEST_TOKEN = "actions-request-token-not-a-secret"
MINTED = "pypi-minted-upload-token-0123456789"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@dataclass
class Publisher:
    """A trusted publisher as registered on the index."""

    owner: str = "acme"
    repository: str = "oxi"
    workflow: str = "release.yml"
    environment: str = "pypi"


@dataclass
class OidcStandIn:
    pypiserver: PypiServer
    publisher: Publisher = field(default_factory=Publisher)
    job: Publisher = field(default_factory=Publisher)  # who the job's token says it is
    audience: str = "pypi"
    request_token: str = REQUEST_TOKEN  # what the runner gives the job to ask for its token
    minted: str = MINTED  # the upload token the exchange hands out
    requests: list[tuple[str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def jwt(self, audience: str) -> str:
        job = self.job
        claims = {
            "iss": "https://token.actions.githubusercontent.com",
            "aud": audience,
            "repository": f"{job.owner}/{job.repository}",
            "repository_owner": job.owner,
            "job_workflow_ref": (
                f"{job.owner}/{job.repository}/.github/workflows/{job.workflow}@refs/tags/v1"
            ),
            "environment": job.environment,
        }
        return f"{_b64({'alg': 'none'})}.{_b64(claims)}.c2ln"

    def accepts(self, token: str) -> bool:
        claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        p = self.publisher
        return bool(
            claims.get("aud") == self.audience
            and claims.get("repository") == f"{p.owner}/{p.repository}"
            and claims.get("job_workflow_ref", "").split("@")[0].endswith(f"/{p.workflow}")
            and claims.get("environment") == p.environment
        )


def _handler(state: OidcStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, payload: object) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            state.requests.append(("GET", parsed.path))
            if parsed.path == "/token":
                if self.headers.get("Authorization") != f"bearer {REQUEST_TOKEN}":
                    return self._send(401, {"message": "bad request token"})
                audience = urllib.parse.parse_qs(parsed.query).get("audience", [""])[0]
                return self._send(200, {"count": 1, "value": state.jwt(audience)})
            if parsed.path == "/_/oidc/audience":
                return self._send(200, {"audience": state.audience})
            return self._send(404, {"message": "not found"})

        def do_POST(self) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            state.requests.append(("POST", parsed.path))
            body = self._body()
            if parsed.path == "/_/oidc/mint-token":
                token = json.loads(body).get("token", "")
                if not state.accepts(token):
                    return self._send(
                        422,
                        {
                            "message": "Token request failed",
                            "errors": [
                                {
                                    "code": "invalid-publisher",
                                    "description": "valid token, but no corresponding "
                                    "publisher (All lookup strategies exhausted)",
                                }
                            ],
                        },
                    )
                return self._send(200, {"success": True, "token": MINTED})
            if parsed.path == "/":
                expected = "Basic " + base64.b64encode(f"__token__:{MINTED}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self._send(403, {"message": "Invalid or non-existent authentication"})
                upstream = state.pypiserver.index.upload_url or ""
                forwarded = requests.post(
                    upstream,
                    data=body,
                    headers={"Content-Type": self.headers.get("Content-Type", "")},
                    auth=(state.pypiserver.username, state.pypiserver.password),
                    timeout=60,
                )
                self.send_response(forwarded.status_code)
                self.send_header("Content-Length", str(len(forwarded.content)))
                self.end_headers()
                self.wfile.write(forwarded.content)
                return None
            return self._send(404, {"message": "not found"})

    return Handler


@pytest.fixture
def oidc(pypiserver: PypiServer) -> Iterator[OidcStandIn]:
    """The Actions token service and an index's exchange in front of a real pypiserver."""
    state = OidcStandIn(pypiserver)
    state.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=state.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.server.shutdown()
        state.server.server_close()
        thread.join(timeout=10)
