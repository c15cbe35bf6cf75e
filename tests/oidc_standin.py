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
import email.message
import email.parser
import email.policy
import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.standin import StandInHandler, serving, url_of

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
    uploads: list[dict[str, list[bytes]]] = field(default_factory=list)  # each one's form
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return url_of(self.server)

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


def form_fields(content_type: str, body: bytes) -> dict[str, list[bytes]]:
    """A ``multipart/form-data`` body's fields: name -> the values sent under it."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    assert isinstance(message, email.message.EmailMessage), "policy.HTTP makes EmailMessages"
    fields: dict[str, list[bytes]] = {}
    for part in message.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        payload = part.get_payload(decode=True)
        fields.setdefault(name, []).append(payload if isinstance(payload, bytes) else b"")
    return fields


def _handler(state: OidcStandIn) -> type[StandInHandler]:
    class Handler(StandInHandler):
        def do_GET(self) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            state.requests.append(("GET", parsed.path))
            if parsed.path == "/token":
                if self.headers.get("Authorization") != f"bearer {REQUEST_TOKEN}":
                    return self.send_json(401, {"message": "bad request token"})
                audience = urllib.parse.parse_qs(parsed.query).get("audience", [""])[0]
                return self.send_json(200, {"count": 1, "value": state.jwt(audience)})
            if parsed.path == "/_/oidc/audience":
                return self.send_json(200, {"audience": state.audience})
            return self.send_json(404, {"message": "not found"})

        def do_POST(self) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            state.requests.append(("POST", parsed.path))
            body = self.read_body()
            if parsed.path == "/_/oidc/mint-token":
                token = json.loads(body).get("token", "")
                if not state.accepts(token):
                    return self.send_json(
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
                return self.send_json(200, {"success": True, "token": MINTED})
            if parsed.path == "/":
                expected = "Basic " + base64.b64encode(f"__token__:{MINTED}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self.send_json(
                        403, {"message": "Invalid or non-existent authentication"}
                    )
                content_type = self.headers.get("Content-Type", "")
                state.uploads.append(form_fields(content_type, body))
                upstream = state.pypiserver.index.upload_url or ""
                forwarded = requests.post(
                    upstream,
                    data=body,
                    headers={"Content-Type": content_type},
                    auth=(state.pypiserver.username, state.pypiserver.password),
                    timeout=60,
                )
                self.send_bytes(forwarded.status_code, forwarded.content, content_type=None)
                return None
            return self.send_json(404, {"message": "not found"})

    return Handler


@pytest.fixture
def oidc(pypiserver: PypiServer) -> Iterator[OidcStandIn]:
    """The Actions token service and an index's exchange in front of a real pypiserver."""
    state = OidcStandIn(pypiserver)
    with serving(_handler(state), "oidc") as state.server:
        yield state
