"""Signing release files: sigstore bundles and PEP 740 attestations, verified at once."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from releasekit.errors import ReleaseError, SignatureInvalid, SigningError
from releasekit.signing.attestations import _check_attestation, attestation_path
from releasekit.signing.bundles import _check_artifact, bundle_path
from releasekit.signing.identity import identity_token
from releasekit.signing.policy import _signing_policy
from releasekit.signing.trust import _client_trust_config

if TYPE_CHECKING:
    from sigstore.models import Bundle, ClientTrustConfig
    from sigstore.oidc import IdentityToken

__all__ = ["make_attestations", "sign_files"]

log = logging.getLogger("releasekit")


def _describe(exc: BaseException) -> str:
    """What went wrong, also when sigstore raises an exception without a message.

    sigstore's Fulcio and Rekor clients often wrap an HTTP error in an empty
    exception: the status and the service's own message are in its cause.
    """
    import requests

    text = str(exc)
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, requests.HTTPError) and cause.response is not None:
            response = cause.response
            try:
                detail = str(response.json().get("message", ""))
            except ValueError:
                detail = response.text[:200]
            where = response.url or "the signing service"
            return f"{where} answered HTTP {response.status_code}" + (
                f": {detail}" if detail else ""
            )
        cause = cause.__cause__
    return text or type(exc).__name__


def _signing_failure(what: str, exc: BaseException, token: IdentityToken) -> SigningError:
    from sigstore.oidc import ExpiredIdentity

    text = _describe(exc).replace(str(token), "***")
    if isinstance(exc, ExpiredIdentity) or "expired" in text.lower():
        hint = "the identity token expired: get a fresh one and sign again"
    elif "HTTP 401" in text or "HTTP 403" in text:
        hint = (
            "the signing service refused the identity token: check its issuer and audience "
            "('sigstore'), or get a fresh one"
        )
    elif "SCT" in text:
        hint = (
            "the certificate is not vouched for by a CT log of the trust root: the signing "
            "services and the trust root belong to different sigstore instances"
        )
    elif "Connection" in type(exc).__name__ or "Timeout" in type(exc).__name__:
        hint = "check network access to the sigstore services (Fulcio, Rekor), then retry"
    else:
        hint = "retry; if it persists, check the identity token's issuer and audience ('sigstore')"
    return SigningError(f"sigstore could not sign {what}: {text}", hint)


def _files(files: Sequence[Path]) -> list[Path]:
    paths = [Path(f) for f in files]
    if not paths:
        raise SigningError("nothing to sign: no files given", "build the distributions first")
    for path in paths:
        if not path.is_file():
            raise SigningError(
                f"cannot sign {str(path)!r}: no such file",
                "build the distributions first (nox -s build)",
            )
    return paths


def sign_files(
    files: Sequence[Path],
    *,
    token: IdentityToken | None = None,
    staging: bool = False,
    trust_config: ClientTrustConfig | None = None,
) -> list[Path]:
    """Sign every file; write and verify ``<file>.sigstore.json``; return the bundles.

    ``token`` defaults to :func:`identity_token`; ``trust_config`` to sigstore
    production (or staging).  Each bundle is verified at once against the identity and
    issuer that signed it under the same trust root; one that does not verify is
    removed and is a :class:`SigningError`.
    """
    from sigstore.sign import SigningContext
    from sigstore.verify import Verifier

    paths = _files(files)
    token = token if token is not None else identity_token(staging=staging)
    trust = trust_config if trust_config is not None else _client_trust_config(staging)
    instance = "given" if trust_config is not None else ("staging" if staging else "production")
    bundles: list[Path] = []
    current = ", ".join(repr(p.name) for p in paths)  # before the certificate: all of them
    try:
        context = SigningContext.from_trust_config(trust)
        verifier = Verifier(trusted_root=trust.trusted_root)
        with context.signer(token) as signer:  # asks Fulcio for the certificate
            for path in paths:
                current = repr(path.name)
                log.info("signing %s as %s", path.name, token.identity)
                bundle = signer.sign_artifact(path.read_bytes())
                out = bundle_path(path)
                out.write_text(bundle.to_json(), encoding="utf-8")
                log.info("wrote %s (transparency log index %s)", out.name, _log_index(bundle))
                policy = _signing_policy(token, bundle.signing_certificate)
                try:
                    _check_artifact(path, out, verifier, policy, instance)
                except SignatureInvalid as exc:
                    out.unlink(missing_ok=True)
                    raise SigningError(
                        f"the bundle just made for {path.name!r} does not verify: {exc.message}",
                        exc.hint,
                    ) from None
                log.info("verified %s: %s via %s", out.name, policy.identity, policy.issuer)
                bundles.append(out)
    except ReleaseError:
        raise
    except Exception as exc:  # sigstore's, requests', cryptography's, OSError: all enter here
        raise _signing_failure(current, exc, token) from None
    return bundles


def _log_index(bundle: Bundle) -> str:
    try:
        data = json.loads(bundle.to_json())
        return str(data["verificationMaterial"]["tlogEntries"][0]["logIndex"])
    except (KeyError, IndexError, ValueError):
        return "?"


def make_attestations(
    files: Sequence[Path],
    *,
    token: IdentityToken | None = None,
    staging: bool = False,
    trust_config: ClientTrustConfig | None = None,
) -> list[Path]:
    """Make a PEP 740 publish attestation ``<file>.publish.attestation`` per dist.

    Each is verified at once (signature, log entry, identity and issuer of the signer,
    and that it names this file's name and sha256).  PyPI and TestPyPI accept them
    only with trusted publishing.
    """
    from pypi_attestations import Attestation, Distribution
    from sigstore.sign import SigningContext
    from sigstore.verify import Verifier

    paths = _files(files)
    dists = []
    for path in paths:
        try:
            dists.append(Distribution.from_file(path))
        except ValueError:
            raise SigningError(
                f"cannot attest {path.name!r}: not a wheel or sdist file name",
                "attestations are made for the files in dist/<name>/ (.whl, .tar.gz)",
            ) from None
    token = token if token is not None else identity_token(staging=staging)
    trust = trust_config if trust_config is not None else _client_trust_config(staging)
    instance = "given" if trust_config is not None else ("staging" if staging else "production")
    made: list[Path] = []
    current = ", ".join(repr(p.name) for p in paths)
    try:
        context = SigningContext.from_trust_config(trust)
        verifier = Verifier(trusted_root=trust.trusted_root)
        with context.signer(token) as signer:
            for path, dist in zip(paths, dists, strict=True):
                current = repr(path.name)
                log.info("attesting %s as %s", path.name, token.identity)
                attestation = Attestation.sign(signer, dist)
                out = attestation_path(path)
                out.write_text(attestation.model_dump_json(), encoding="utf-8")
                policy = _signing_policy(token, attestation.to_bundle().signing_certificate)
                try:
                    _check_attestation(path, attestation, verifier, policy, instance)
                except SignatureInvalid as exc:
                    out.unlink(missing_ok=True)
                    raise SigningError(
                        f"the attestation just made for {path.name!r} does not verify: "
                        f"{exc.message}",
                        exc.hint,
                    ) from None
                log.info("wrote and verified %s", out.name)
                made.append(out)
    except ReleaseError:
        raise
    except Exception as exc:  # pypi_attestations', sigstore's, requests', OSError
        raise _signing_failure(f"an attestation for {current}", exc, token) from None
    return made
