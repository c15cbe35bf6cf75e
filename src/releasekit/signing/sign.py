"""Signing release files: sigstore bundles and PEP 740 attestations, verified at once."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from releasekit._dist_names import dist_filename_or_none
from releasekit.errors import ReleaseError, SignatureInvalid, SigningError
from releasekit.signing.attestations import attestation_path, check_attestation
from releasekit.signing.bundles import bundle_path, check_artifact
from releasekit.signing.identity import identity_token
from releasekit.signing.policy import IdentityPolicy, signing_policy
from releasekit.signing.trust import client_trust_config

if TYPE_CHECKING:
    from cryptography.x509 import Certificate
    from sigstore.models import Bundle, ClientTrustConfig
    from sigstore.oidc import IdentityToken
    from sigstore.sign import Signer
    from sigstore.verify import Verifier

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
        raise SigningError(
            "nothing to sign: no files given", "build the distributions first: nox -s build"
        )
    for path in paths:
        if not path.is_file():
            raise SigningError(
                f"cannot sign {str(path)!r}: no such file",
                "build the distributions first: nox -s build",
            )
    return paths


@dataclass(frozen=True)
class _Made:
    """What signing one file wrote, the certificate it was signed with, and its check."""

    out: Path
    certificate: Certificate
    # check(verifier, policy, instance): raises SignatureInvalid when ``out`` does not verify
    check: Callable[[Verifier, IdentityPolicy, str], None]


@dataclass(frozen=True)
class _Kind:
    """Bundles or attestations: the words for them, and how one is made."""

    noun: str  # "bundle", "attestation"
    verb: str  # "signing", "attesting"
    make: Callable[[Signer, Path], _Made]
    failed: str = "{names}"  # what could not be signed, in "sigstore could not sign ..."


def _sign_each(
    paths: list[Path],
    kind: _Kind,
    *,
    token: IdentityToken | None,
    staging: bool,
    trust_config: ClientTrustConfig | None,
    interactive: bool,
) -> list[Path]:
    """Sign each file with one certificate; verify each result at once; return them.

    A result that does not verify is removed and is a :class:`SigningError`; every
    other failure (sigstore's, the network's, the disk's) becomes one too.
    """
    from sigstore.sign import SigningContext
    from sigstore.verify import Verifier

    if token is None:
        token = identity_token(staging=staging, interactive=interactive)
    trust = trust_config if trust_config is not None else client_trust_config(staging)
    instance = "given" if trust_config is not None else ("staging" if staging else "production")
    made: list[Path] = []
    current = ", ".join(repr(p.name) for p in paths)  # before the certificate: all of them
    try:
        context = SigningContext.from_trust_config(trust)
        verifier = Verifier(trusted_root=trust.trusted_root)
        with context.signer(token) as signer:  # asks Fulcio for the certificate
            for path in paths:
                current = repr(path.name)
                log.info("%s %s as %s", kind.verb, path.name, token.identity)
                result = kind.make(signer, path)
                policy = signing_policy(token, result.certificate)
                try:
                    result.check(verifier, policy, instance)
                except SignatureInvalid as exc:
                    result.out.unlink(missing_ok=True)
                    raise SigningError(
                        f"the {kind.noun} just made for {path.name!r} does not verify: "
                        f"{exc.message}",
                        exc.hint,
                    ) from None
                log.info("verified %s: %s via %s", result.out.name, policy.identity, policy.issuer)
                made.append(result.out)
    except ReleaseError:
        raise
    except Exception as exc:  # sigstore's, pypi_attestations', requests', OSError: all enter here
        raise _signing_failure(kind.failed.format(names=current), exc, token) from None
    return made


def _make_bundle(signer: Signer, path: Path) -> _Made:
    bundle = signer.sign_artifact(path.read_bytes())
    out = bundle_path(path)
    out.write_text(bundle.to_json(), encoding="utf-8")
    log.info("wrote %s (transparency log index %s)", out.name, _log_index(bundle))

    def check(verifier: Verifier, policy: IdentityPolicy, instance: str) -> None:
        check_artifact(path, out, verifier, policy, instance)

    return _Made(out, bundle.signing_certificate, check)


def _log_index(bundle: Bundle) -> str:
    try:
        data = json.loads(bundle.to_json())
        return str(data["verificationMaterial"]["tlogEntries"][0]["logIndex"])
    except (KeyError, IndexError, ValueError):
        return "?"


def _make_attestation(signer: Signer, path: Path) -> _Made:
    from pypi_attestations import Attestation, Distribution

    attestation = Attestation.sign(signer, Distribution.from_file(path))
    out = attestation_path(path)
    out.write_text(attestation.model_dump_json(), encoding="utf-8")
    log.info("wrote %s", out.name)

    def check(verifier: Verifier, policy: IdentityPolicy, instance: str) -> None:
        check_attestation(path, attestation, verifier, policy, instance)

    return _Made(out, attestation.to_bundle().signing_certificate, check)


_BUNDLES = _Kind("bundle", "signing", _make_bundle)
_ATTESTATIONS = _Kind("attestation", "attesting", _make_attestation, "an attestation for {names}")


def sign_files(
    files: Sequence[Path],
    *,
    token: IdentityToken | None = None,
    staging: bool = False,
    trust_config: ClientTrustConfig | None = None,
    interactive: bool = False,
) -> list[Path]:
    """Sign every file; write and verify ``<file>.sigstore.json``; return the bundles.

    ``token`` defaults to :func:`identity_token` (with ``interactive``: whether it may
    open a browser to sign in); ``trust_config`` to sigstore production (or staging).
    Each bundle is verified at once against the identity and issuer that signed it
    under the same trust root; one that does not verify is removed and is a
    :class:`SigningError`.
    """
    return _sign_each(
        _files(files),
        _BUNDLES,
        token=token,
        staging=staging,
        trust_config=trust_config,
        interactive=interactive,
    )


def make_attestations(
    files: Sequence[Path],
    *,
    token: IdentityToken | None = None,
    staging: bool = False,
    trust_config: ClientTrustConfig | None = None,
    interactive: bool = False,
) -> list[Path]:
    """Make a PEP 740 publish attestation ``<file>.publish.attestation`` per dist.

    Each is verified at once (signature, log entry, identity and issuer of the signer,
    and that it names this file's name and sha256).  PyPI and TestPyPI accept them
    only with trusted publishing.  ``token`` and ``interactive`` as for
    :func:`sign_files`.
    """
    paths = _files(files)
    for path in paths:
        if dist_filename_or_none(path.name) is None:
            raise SigningError(
                f"cannot attest {path.name!r}: not a wheel or sdist file name",
                "attestations are made for the files in dist/<name>/ (.whl, .tar.gz)",
            )
    return _sign_each(
        paths,
        _ATTESTATIONS,
        token=token,
        staging=staging,
        trust_config=trust_config,
        interactive=interactive,
    )
