"""Trusted publishing: a CI's OIDC identity exchanged for a short-lived upload token.

Inside GitHub Actions, a job with ``permissions: id-token: write`` may ask the
runner for an OIDC token (``ACTIONS_ID_TOKEN_REQUEST_URL`` with the bearer
``ACTIONS_ID_TOKEN_REQUEST_TOKEN``, for an ``audience``).  An index that takes
trusted publishing (PyPI, TestPyPI, a Warehouse of your own) says which
audience it wants at ``/_/oidc/audience`` and trades the OIDC token for an
upload token at ``/_/oidc/mint-token``, if a trusted publisher registered on
the index matches the token's claims: owner, repository, workflow file and
environment.

releasekit does the exchange itself (:func:`mint_upload_token`) and hands
the minted token to twine as the password of ``__token__``, so every failure
becomes one :class:`~releasekit.errors.CredentialsError` that says what to
configure, and the token is redacted like any other secret.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import urllib.parse
from collections.abc import Mapping
from typing import Any

import requests

from releasekit._process import redact_text
from releasekit.config import IndexConfig
from releasekit.errors import CredentialsError

__all__ = ["actions_oidc_token", "exchange_base", "mint_upload_token", "token_claims"]

log = logging.getLogger("releasekit")

_TIMEOUT = 30.0


def exchange_base(index: IndexConfig) -> str:
    """Where the index's ``/_/oidc/`` endpoints are: its upload URL's scheme and host."""
    parts = urllib.parse.urlsplit(index.upload_url or "")
    return f"{parts.scheme}://{parts.netloc}"


def _setup_hint(index: IndexConfig, claims: Mapping[str, Any] | None = None) -> str:
    seen = ""
    if claims:
        workflow = str(claims.get("job_workflow_ref") or claims.get("workflow_ref") or "?")
        workflow = workflow.split("@", 1)[0].rsplit("/", 1)[-1]
        seen = (
            f" (this job: owner {claims.get('repository_owner', '?')!r}, repository "
            f"{str(claims.get('repository', '?')).rsplit('/', 1)[-1]!r}, workflow {workflow!r}, "
            f"environment {claims.get('environment') or 'none'!r})"
        )
    return (
        f"add a trusted publisher on {index.name} for this project with the owner, "
        f"repository, workflow file and environment of the publishing job{seen}; "
        "see docs/how-to/github-actions.md"
    )


def token_claims(token: str) -> dict[str, Any]:
    """The (unverified) claims of a JWT, to say which identity was refused."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def actions_oidc_token(audience: str, *, environ: Mapping[str, str] | None = None) -> str:
    """An OIDC token for ``audience`` from the GitHub Actions runner."""
    env = os.environ if environ is None else environ
    url = env.get("ACTIONS_ID_TOKEN_REQUEST_URL")
    bearer = env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if not url or not bearer:
        raise CredentialsError(
            "no OIDC identity for trusted publishing: ACTIONS_ID_TOKEN_REQUEST_URL / "
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set",
            "give the publishing job `permissions: id-token: write` (GitHub Actions), "
            "or set TWINE_PASSWORD to an API token",
        )
    separator = "&" if urllib.parse.urlsplit(url).query else "?"
    full = f"{url}{separator}{urllib.parse.urlencode({'audience': audience})}"
    try:
        response = requests.get(
            full, headers={"Authorization": f"bearer {bearer}"}, timeout=_TIMEOUT
        )
    except requests.RequestException as exc:
        raise CredentialsError(
            f"the Actions OIDC token request failed ({exc.__class__.__name__})",
            "re-run the job; the runner's token service was not reachable",
        ) from None
    try:
        value = response.json().get("value") if response.ok else None
    except ValueError:
        value = None
    if not isinstance(value, str) or not value:
        raise CredentialsError(
            f"the Actions runner gave no OIDC token (HTTP {response.status_code})",
            "give the publishing job `permissions: id-token: write`",
        )
    return value


def mint_upload_token(index: IndexConfig, *, environ: Mapping[str, str] | None = None) -> str:
    """Trade this job's OIDC identity for an upload token for ``index``."""
    base = exchange_base(index)
    session = requests.Session()
    try:
        answer = session.get(f"{base}/_/oidc/audience", timeout=_TIMEOUT)
        audience = answer.json().get("audience") if answer.ok else None
    except (requests.RequestException, ValueError):
        audience = None
    if not isinstance(audience, str) or not audience:
        raise CredentialsError(
            f"{index.name!r} does not offer trusted publishing ({base}/_/oidc/audience "
            "gave no audience)",
            "use an API token (TWINE_PASSWORD) for this index, or check its upload-url",
        )
    oidc = actions_oidc_token(audience, environ=environ)
    secrets = [oidc]
    try:
        minted = session.post(f"{base}/_/oidc/mint-token", json={"token": oidc}, timeout=_TIMEOUT)
    except requests.RequestException as exc:
        raise CredentialsError(
            f"trusted publishing to {index.name!r} failed: the token exchange could not be "
            f"reached ({exc.__class__.__name__})",
            "re-run the job: the exchange is safe to repeat",
        ) from None
    try:
        payload = minted.json()
    except ValueError:
        payload = {}
    token = payload.get("token") if isinstance(payload, dict) else None
    if minted.ok and isinstance(token, str) and token:
        log.info("trusted publishing: %s minted an upload token for this job", index.name)
        return token
    reasons = (
        "; ".join(
            str(e.get("description") or e.get("code"))
            for e in (payload.get("errors") or [] if isinstance(payload, dict) else [])
            if isinstance(e, dict)
        )
        or (payload.get("message") if isinstance(payload, dict) else "")
        or minted.reason
    )
    raise CredentialsError(
        redact_text(
            f"trusted publishing to {index.name!r} failed: the index refused this job's "
            f"identity (HTTP {minted.status_code}: {reasons})",
            secrets,
        ),
        _setup_hint(index, token_claims(oidc)),
    )
