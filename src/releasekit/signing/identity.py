"""OIDC identity tokens to sign with, and the certificate identity Fulcio issues for them."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from releasekit._secrets import register_secret
from releasekit.errors import SigningError
from releasekit.signing.trust import client_trust_config
from releasekit.trusted import token_claims

if TYPE_CHECKING:
    from sigstore.oidc import IdentityToken

__all__ = ["GITHUB_ACTIONS_ISSUER", "certificate_identity", "identity_token"]

log = logging.getLogger("releasekit")

GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com"

_THREE_WAYS = (
    "set SIGSTORE_IDENTITY_TOKEN, or run in CI with OIDC enabled "
    "(GitHub Actions: permissions: id-token: write), "
    "or run from a terminal to sign in with the browser"
)
# issuers whose certificates Fulcio issues for the token's email (as sigstore knows them)
_EMAIL_ISSUERS = frozenset(
    {
        "https://accounts.google.com",
        "https://oauth2.sigstore.dev/auth",
        "https://oauth2.sigstage.dev/auth",
    }
)


def _parse_token(raw: str, source: str) -> IdentityToken:
    from sigstore.oidc import IdentityError, IdentityToken

    register_secret(raw)  # an ambient CI token is in no variable: hide it from every output
    try:
        return IdentityToken(raw)
    except IdentityError as exc:
        raise SigningError(
            f"the identity token from {source} is not usable: {exc}",
            "identity tokens expire within minutes: get a fresh one "
            "(audience 'sigstore') and try again",
        ) from None


def identity_token(*, interactive: bool, staging: bool = False) -> IdentityToken:
    """The OIDC identity token to sign with.

    Tried in order: the ``SIGSTORE_IDENTITY_TOKEN`` environment variable; ambient CI
    credentials (GitHub Actions, GitLab, Buildkite, CircleCI, Google Cloud, as the
    ``id`` package detects them); the browser flow of the sigstore instance's OIDC
    provider, only when ``interactive`` (the caller says whether a person is there to
    sign in: the nox and invoke adapters do, from the terminal and ``CI``).  Nothing
    found is a :class:`SigningError` naming the three ways.
    """
    from sigstore.oidc import IdentityError, detect_credential

    raw = os.environ.get("SIGSTORE_IDENTITY_TOKEN", "").strip()
    if raw:
        log.info("using the identity token from SIGSTORE_IDENTITY_TOKEN")
        return _parse_token(raw, "SIGSTORE_IDENTITY_TOKEN")

    try:
        ambient = detect_credential()
    except IdentityError as exc:
        raise SigningError(
            f"CI credentials were detected but no identity token could be fetched: {exc}",
            "GitHub Actions: give the job 'permissions: id-token: write' "
            "(pull requests from forks cannot); elsewhere enable the CI's OIDC tokens "
            "with audience 'sigstore'",
        ) from None
    if ambient:
        log.info("using the ambient CI identity token")
        return _parse_token(ambient, "the CI's ambient credentials")

    if interactive:
        return _browser_token(staging=staging)

    raise SigningError(
        "no sigstore identity token found: SIGSTORE_IDENTITY_TOKEN is unset, "
        "no CI credentials were detected, and no browser sign-in was allowed",
        _THREE_WAYS,
    )


def _browser_token(*, staging: bool) -> IdentityToken:
    from sigstore.errors import Error as SigstoreError
    from sigstore.oidc import Issuer, IssuerError

    instance = "staging" if staging else "production"
    log.info("opening the browser to sign in to sigstore %s", instance)
    try:
        trust = client_trust_config(staging)
        issuer = Issuer(trust.signing_config.get_oidc_url())
        return issuer.identity_token()
    except (SigstoreError, IssuerError) as exc:
        raise SigningError(
            f"the browser sign-in to sigstore {instance} failed: {exc}",
            "check your network and retry, or set SIGSTORE_IDENTITY_TOKEN instead",
        ) from None


def certificate_identity(token: IdentityToken) -> str | None:
    """The certificate identity (SAN) Fulcio issues for ``token``, when it is known.

    GitHub Actions: ``https://github.com/`` + ``job_workflow_ref`` (the workflow file at
    its ref); GitLab: ``https://`` + ``ci_config_ref_uri``; sigstore's browser sign-in
    and Google: the email.
    ``None`` for issuers whose SAN rule releasekit does not know.
    """
    claims = token_claims(str(token))
    if token.issuer == GITHUB_ACTIONS_ISSUER and "job_workflow_ref" in claims:
        return f"https://github.com/{claims['job_workflow_ref']}"
    if "ci_config_ref_uri" in claims:
        return f"https://{claims['ci_config_ref_uri']}"
    if token.issuer in _EMAIL_ISSUERS and "email" in claims:
        return str(claims["email"])
    return None
