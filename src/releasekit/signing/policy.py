"""Who must have signed: certificate identity policies, and why a check failed.

A policy is what ``sigstore.verify.Verifier`` calls with the signing certificate.
The rules are sigstore's own (``sigstore.verify.policy``: ``Identity``,
``OIDCIssuer``, and for a PyPI trusted publisher the checks of
``pypi_attestations.GitHubPublisher``); a mismatch is raised as
:class:`PolicyMismatch` so that :func:`diagnose` can say in one line what did not
match (identity, issuer, repository, workflow).  The certificate's Fulcio
extensions are read with ``cryptography`` (``x509`` and its DER decoder).
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

# Fulcio's certificate extensions (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md):
# 1.1 holds raw bytes; 1.8 and later hold a DER UTF8String
ISSUER_V1_OID = "1.3.6.1.4.1.57264.1.1"
ISSUER_V2_OID = "1.3.6.1.4.1.57264.1.8"
SOURCE_REPOSITORY_URI_OID = "1.3.6.1.4.1.57264.1.12"
SOURCE_REPOSITORY_DIGEST_OID = "1.3.6.1.4.1.57264.1.13"
SOURCE_REPOSITORY_REF_OID = "1.3.6.1.4.1.57264.1.14"
BUILD_CONFIG_URI_OID = "1.3.6.1.4.1.57264.1.18"
_SIGSTORE_OTHERNAME_OID = "1.3.6.1.4.1.57264.1.7"


def extension_text(cert: Certificate, oid: str) -> str | None:
    """The text of a Fulcio extension of ``cert``; None when it is absent or unreadable."""
    from cryptography import x509
    from cryptography.hazmat import asn1

    try:
        value = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid)).value
    except x509.ExtensionNotFound:
        return None
    if not isinstance(value, x509.UnrecognizedExtension):
        return None
    if oid == ISSUER_V1_OID:
        return value.value.decode(errors="replace")
    try:
        text: str = asn1.decode_der(str, value.value)
    except ValueError:
        return None
    return text


def certificate_issuer(cert: Certificate) -> str | None:
    """The OIDC issuer Fulcio wrote into ``cert`` (the 1.1 extension sigstore checks, or 1.8)."""
    return extension_text(cert, ISSUER_V1_OID) or extension_text(cert, ISSUER_V2_OID)


def certificate_sans(cert: Certificate) -> list[str]:
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


class PolicyMismatch(VerificationError):
    """A certificate that chains fine but names someone else (raised inside sigstore)."""

    def __init__(self, what: str, expected: str, actual: str) -> None:
        super().__init__(f"{what} mismatch: expected {expected!r}, certificate has {actual!r}")
        self.what = what
        self.expected = expected
        self.actual = actual


class IdentityPolicy:
    """Certificate identity (SAN) and OIDC issuer, as ``sigstore verify identity`` checks.

    Exact identities go through sigstore's own ``policy.Identity``; a regular
    expression must ``re.fullmatch`` one SAN (like cosign's ``--certificate-identity-regexp``)
    while sigstore's ``policy.OIDCIssuer`` still checks the issuer exactly.
    """

    def __init__(self, identity: str, issuer: str, *, regexp: bool) -> None:
        self.identity = identity
        self.issuer = issuer
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

        sans = certificate_sans(cert)
        try:
            if self._pattern is None:
                policy.Identity(identity=self.identity, issuer=self.issuer).verify(cert)
                return
            policy.OIDCIssuer(self.issuer).verify(cert)
        except VerificationError:
            actual_issuer = certificate_issuer(cert)
            if actual_issuer != self.issuer:
                raise PolicyMismatch("issuer", self.issuer, str(actual_issuer)) from None
            raise PolicyMismatch("identity", self.identity, ", ".join(sans)) from None
        if not any(self._pattern.fullmatch(name) for name in sans):
            raise PolicyMismatch("identity", self.identity, ", ".join(sans))


class PublisherPolicy:
    """A PEP 740 publish attestation from GitHub Actions: this repository, this workflow.

    The rule of ``pypi_attestations.GitHubPublisher`` (what PyPI checks), built from
    sigstore's policies so that it also runs under a verifier of any root of trust:
    issuer GitHub Actions, source repository ``https://github.com/OWNER/REPO``, and
    build config ``.../.github/workflows/WORKFLOW@REF`` where REF is the certificate's
    own source ref or commit.  A certificate from another workflow of the same
    repository fails.
    """

    def __init__(self, repository: str, workflow: str) -> None:
        self.repository = repository.strip("/")
        self.workflow = workflow
        self.repository_uri = f"https://github.com/{self.repository}"
        self.workflow_prefix = f"{self.repository_uri}/.github/workflows/{workflow}@"

    def verify(self, cert: Certificate) -> None:
        from sigstore.verify import policy

        refs = (
            extension_text(cert, SOURCE_REPOSITORY_DIGEST_OID),
            extension_text(cert, SOURCE_REPOSITORY_REF_OID),
        )
        rule = policy.AllOf(
            [
                policy.OIDCIssuerV2(GITHUB_ACTIONS_ISSUER),
                policy.OIDCSourceRepositoryURI(self.repository_uri),
                policy.AnyOf(
                    [policy.OIDCBuildConfigURI(self.workflow_prefix + ref) for ref in refs if ref]
                ),
            ]
        )
        try:
            rule.verify(cert)
        except VerificationError:
            raise self._mismatch(cert) from None

    def _mismatch(self, cert: Certificate) -> PolicyMismatch:
        issuer = extension_text(cert, ISSUER_V2_OID) or certificate_issuer(cert)
        if issuer != GITHUB_ACTIONS_ISSUER:
            return PolicyMismatch("issuer", GITHUB_ACTIONS_ISSUER, str(issuer))
        repository = extension_text(cert, SOURCE_REPOSITORY_URI_OID) or ""
        if repository != self.repository_uri:
            return PolicyMismatch("repository", self.repository_uri, repository)
        config = extension_text(cert, BUILD_CONFIG_URI_OID) or ""
        return PolicyMismatch("workflow", self.workflow_prefix + "<its ref>", config)


def diagnose(  # noqa: PLR0911  one return per cause of a verification failure
    exc: VerificationError, name: str, *, digest: str, signed_digest: str | None, instance: str
) -> SignatureInvalid:
    """Turn sigstore's verification failure into the one line a user can act on."""
    from sigstore.errors import CertValidationError

    text = str(exc)
    if isinstance(exc, PolicyMismatch):
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


def expected_identity(signing: SigningConfig, *, name: str, version: str, tag: str) -> str:
    """The configured identity with ``{name}``, ``{version}``, ``{tag}`` filled in."""
    if signing.identity_is_regexp:
        fields = {"name": re.escape(name), "version": re.escape(version), "tag": re.escape(tag)}
    else:
        fields = {"name": name, "version": version, "tag": tag}
    return render_template(signing.identity, **fields)


def signing_policy(token: IdentityToken, cert: Certificate) -> IdentityPolicy:
    """Who just signed: the token's identity and (federated) issuer.

    For issuers whose SAN rule is unknown, the certificate's own SAN stands in for the
    identity; the chain, issuer, log entry and digest are still checked.
    """
    identity = certificate_identity(token)
    if identity is None:
        sans = certificate_sans(cert)
        identity = sans[0] if sans else token.identity
    return IdentityPolicy(identity, token.federated_issuer, regexp=False)
