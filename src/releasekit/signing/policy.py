"""Who must have signed: certificate identity policies, and why a check failed.

A policy is what ``sigstore.verify.Verifier`` calls with the signing certificate; a
mismatch is raised as :class:`_PolicyMismatch` so that :func:`_diagnose` can say in
one line what did not match (identity, issuer, repository, workflow).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sigstore.errors import VerificationError

from releasekit.config import SigningConfig, render_template
from releasekit.errors import ConfigError, SignatureInvalid
from releasekit.signing.identity import GITHUB_ACTIONS_ISSUER, certificate_identity

if TYPE_CHECKING:
    from cryptography.x509 import Certificate
    from sigstore.oidc import IdentityToken

_ISSUER_V1_OID = "1.3.6.1.4.1.57264.1.1"
_ISSUER_V2_OID = "1.3.6.1.4.1.57264.1.8"
_SOURCE_REPOSITORY_URI_OID = "1.3.6.1.4.1.57264.1.12"
_BUILD_CONFIG_URI_OID = "1.3.6.1.4.1.57264.1.18"
_SIGSTORE_OTHERNAME_OID = "1.3.6.1.4.1.57264.1.7"


def _der_utf8(der: bytes) -> str:
    """Decode a DER UTF8String (how Fulcio writes its 1.8+ extensions)."""
    if len(der) < 2 or der[0] != 0x0C:
        return der.decode(errors="replace")
    size, offset = der[1], 2
    if size & 0x80:
        count = size & 0x7F
        size, offset = int.from_bytes(der[2 : 2 + count], "big"), 2 + count
    return der[offset : offset + size].decode(errors="replace")


def _extension_bytes(cert: Certificate, oid: str) -> bytes | None:
    from cryptography import x509

    try:
        ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid))
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    return value.value if isinstance(value, x509.UnrecognizedExtension) else None


def _certificate_issuer(cert: Certificate) -> str | None:
    raw = _extension_bytes(cert, _ISSUER_V1_OID)
    if raw is not None:
        return raw.decode(errors="replace")
    der = _extension_bytes(cert, _ISSUER_V2_OID)
    return _der_utf8(der) if der is not None else None


def _certificate_sans(cert: Certificate) -> list[str]:
    """Every identity in the certificate's SAN, like sigstore's Identity policy reads them."""
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names: list[str] = [*san.get_values_for_type(x509.RFC822Name)]
    names += san.get_values_for_type(x509.UniformResourceIdentifier)
    names += [
        other.value.decode(errors="replace")
        for other in san.get_values_for_type(x509.OtherName)
        if other.type_id.dotted_string == _SIGSTORE_OTHERNAME_OID
    ]
    return names


class _PolicyMismatch(VerificationError):
    """A certificate that chains fine but names someone else (raised inside sigstore)."""

    def __init__(self, what: str, expected: str, actual: str) -> None:
        super().__init__(f"{what} mismatch: expected {expected!r}, certificate has {actual!r}")
        self.what = what
        self.expected = expected
        self.actual = actual


class _IdentityPolicy:
    """Certificate identity (SAN) and OIDC issuer, as ``sigstore verify identity`` checks.

    Exact identities go through sigstore's own ``policy.Identity``; a regular
    expression must ``re.fullmatch`` one SAN (like cosign's ``--certificate-identity-regexp``)
    while the issuer extension must still match exactly.
    """

    def __init__(self, identity: str, issuer: str, *, regexp: bool) -> None:
        self.identity = identity
        self.issuer = issuer
        self.regexp = regexp
        self._pattern: re.Pattern[str] | None = None
        if regexp:
            try:
                self._pattern = re.compile(identity)
            except re.error as exc:
                raise ConfigError(
                    f"identity-regexp {identity!r} is not a valid regular expression: {exc}",
                    "fix identity-regexp in [tool.releasekit.signing] (Python re syntax)",
                ) from None

    def verify(self, cert: Certificate) -> None:
        from sigstore.verify import policy

        actual_issuer = _certificate_issuer(cert)
        sans = _certificate_sans(cert)
        try:
            if self._pattern is None:
                policy.Identity(identity=self.identity, issuer=self.issuer).verify(cert)
                return
            policy.OIDCIssuer(self.issuer).verify(cert)
        except VerificationError:
            if actual_issuer != self.issuer:
                raise _PolicyMismatch("issuer", self.issuer, str(actual_issuer)) from None
            raise _PolicyMismatch("identity", self.identity, ", ".join(sans)) from None
        if not any(self._pattern.fullmatch(name) for name in sans):
            raise _PolicyMismatch("identity", self.identity, ", ".join(sans))


class _GitHubPublisherPolicy:
    """A PEP 740 publish attestation from GitHub Actions in ``repository`` (and workflow)."""

    def __init__(self, repository: str, workflow: str | None) -> None:
        self.repository = repository.strip("/")
        self.workflow = workflow

    def verify(self, cert: Certificate) -> None:
        issuer_der = _extension_bytes(cert, _ISSUER_V2_OID)
        issuer = _der_utf8(issuer_der) if issuer_der is not None else _certificate_issuer(cert)
        if issuer != GITHUB_ACTIONS_ISSUER:
            raise _PolicyMismatch("issuer", GITHUB_ACTIONS_ISSUER, str(issuer))
        expected_repo = f"https://github.com/{self.repository}"
        repo_der = _extension_bytes(cert, _SOURCE_REPOSITORY_URI_OID)
        repo = _der_utf8(repo_der) if repo_der is not None else ""
        if repo != expected_repo:
            raise _PolicyMismatch("repository", expected_repo, repo)
        if self.workflow:
            config_der = _extension_bytes(cert, _BUILD_CONFIG_URI_OID)
            config = _der_utf8(config_der) if config_der is not None else ""
            prefix = f"{expected_repo}/.github/workflows/{self.workflow}@"
            if not config.startswith(prefix):
                raise _PolicyMismatch("workflow", prefix + "...", config)


def _diagnose(
    exc: VerificationError, name: str, *, digest: str, signed_digest: str | None, instance: str
) -> SignatureInvalid:
    """Turn sigstore's verification failure into the one line a user can act on."""
    from sigstore.errors import CertValidationError

    text = str(exc)
    if isinstance(exc, _PolicyMismatch):
        if exc.what == "identity":
            return SignatureInvalid(
                f"{name!r} was signed by {exc.actual!r}, not by the expected identity "
                f"{exc.expected!r}",
                "check [tool.releasekit.signing] identity (with {tag} filled in) against "
                "the workflow that signed; another identity means someone else signed it",
            )
        if exc.what == "issuer":
            return SignatureInvalid(
                f"{name!r} was signed with an identity from issuer {exc.actual!r}, "
                f"not {exc.expected!r}",
                "check [tool.releasekit.signing] issuer; GitHub Actions is "
                f"{GITHUB_ACTIONS_ISSUER!r}",
            )
        return SignatureInvalid(
            f"{name!r} was published from {exc.what} {exc.actual!r}, not {exc.expected!r}",
            "check the trusted publisher's repository and workflow; "
            "another one means someone else published this file",
        )
    if isinstance(exc, CertValidationError) or "sources of verified time" in text or "SCT" in text:
        if isinstance(exc, CertValidationError):
            why = "the bundle's certificate does not chain to"
        elif "SCT" in text:
            why = "the bundle's certificate was not logged by a CT log of"
        else:
            why = "no timestamp in the bundle is vouched for by"
        return SignatureInvalid(
            f"{name!r}: {why} the {instance} trust root "
            "(signed by another sigstore instance: staging vs production?)",
            "verify against the instance that signed it (staging = true in "
            "[tool.releasekit.signing], or --staging), or re-sign with this one",
        )
    if "digest mismatch" in text or "invalid for input" in text:
        signed = f" ({signed_digest})" if signed_digest else ""
        return SignatureInvalid(
            f"{name!r} is not the file that was signed: its sha256 {digest} is not the "
            f"signed digest{signed}",
            "the file changed after signing: never publish it; rebuild and re-sign, "
            "or download it again",
        )
    if "log entry" in text:
        return SignatureInvalid(
            f"{name!r}: the bundle's transparency-log entry does not match its signature "
            f"and certificate ({text})",
            "the bundle was tampered with or forged (cf. CVE-2022-36056): do not trust "
            "this file; fetch the bundle from the release again or re-sign",
        )
    return SignatureInvalid(
        f"{name!r} does not verify: {text}",
        "re-sign the file, or check that the bundle belongs to it",
    )


def _expected_identity(signing: SigningConfig, *, name: str, version: str, tag: str) -> str:
    if signing.identity_is_regexp:
        fields = {"name": re.escape(name), "version": re.escape(version), "tag": re.escape(tag)}
    else:
        fields = {"name": name, "version": version, "tag": tag}
    return render_template(signing.identity, **fields)


def _signing_policy(token: IdentityToken, cert: Certificate) -> _IdentityPolicy:
    """Who just signed: the token's identity and (federated) issuer.

    For issuers whose SAN rule is unknown, the certificate's own SAN stands in for the
    identity; the chain, issuer, log entry and digest are still checked.
    """
    identity = certificate_identity(token)
    if identity is None:
        sans = _certificate_sans(cert)
        identity = sans[0] if sans else token.identity
    return _IdentityPolicy(identity, token.federated_issuer, regexp=False)
