"""Sigstore signing and verification of release files, and PEP 740 attestations.

Signing makes one bundle ``<file>.sigstore.json`` per file with the sigstore Python
API (a short-lived Fulcio certificate for an OIDC identity, a Rekor transparency-log
entry) and verifies every bundle at once against the identity and issuer that signed
it, so a bundle that would not verify never leaves the machine.

Verification answers one question for a user: was *this file* signed by *this
identity* (certificate SAN, exact or a regular expression) from *this OIDC issuer*,
under *this sigstore instance's* root of trust?  Every "no" is a
:class:`~releasekit.errors.SignatureInvalid` whose message says what did not match:
the file's digest, the identity, the issuer, the instance (production vs staging),
the transparency-log entry, or a missing or malformed bundle.

PEP 740 attestations (``<file>.publish.attestation``, what PyPI shows as "verified
details") are made and checked with ``pypi_attestations``; PyPI and TestPyPI only
accept them from trusted publishing.

sigstore, pypi_attestations and cryptography are imported inside the functions that
need them, so ``import releasekit`` stays fast.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sigstore.errors import VerificationError

from releasekit._secrets import register_secret
from releasekit.config import SigningConfig, render_template
from releasekit.errors import ConfigError, ReleaseError, SignatureInvalid, SigningError

if TYPE_CHECKING:
    from cryptography.x509 import Certificate
    from pypi_attestations import Attestation
    from sigstore.models import Bundle, ClientTrustConfig, TrustedRoot
    from sigstore.oidc import IdentityToken
    from sigstore.verify import Verifier

__all__ = [
    "ATTESTATION_SUFFIX",
    "BUNDLE_SUFFIX",
    "GITHUB_ACTIONS_ISSUER",
    "TRUST_CONFIG_ENV",
    "attestation_path",
    "bundle_check",
    "bundle_path",
    "certificate_identity",
    "check_downloaded",
    "identity_token",
    "make_attestations",
    "sign_files",
    "verify",
    "verify_attestation",
    "verify_files",
]

log = logging.getLogger("releasekit")

BUNDLE_SUFFIX = ".sigstore.json"
ATTESTATION_SUFFIX = ".publish.attestation"
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
_ISSUER_V1_OID = "1.3.6.1.4.1.57264.1.1"
_ISSUER_V2_OID = "1.3.6.1.4.1.57264.1.8"
_SOURCE_REPOSITORY_URI_OID = "1.3.6.1.4.1.57264.1.12"
_BUILD_CONFIG_URI_OID = "1.3.6.1.4.1.57264.1.18"
_SIGSTORE_OTHERNAME_OID = "1.3.6.1.4.1.57264.1.7"
_IN_TOTO_TYPE = "application/vnd.in-toto+json"
_PUBLISH_PREDICATES = (
    "https://docs.pypi.org/attestations/publish/v1",
    "https://slsa.dev/provenance/v1",
)


def bundle_path(artifact: Path) -> Path:
    """Where the sigstore bundle of ``artifact`` lives: ``<artifact>.sigstore.json``."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + BUNDLE_SUFFIX)


def attestation_path(dist: Path) -> Path:
    """Where the PEP 740 attestation of ``dist`` lives: ``<dist>.publish.attestation``."""
    dist = Path(dist)
    return dist.with_name(dist.name + ATTESTATION_SUFFIX)


# --- identity tokens ---------------------------------------------------------------


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


def identity_token(*, staging: bool = False, interactive: bool | None = None) -> IdentityToken:
    """The OIDC identity token to sign with.

    Tried in order: the ``SIGSTORE_IDENTITY_TOKEN`` environment variable; ambient CI
    credentials (GitHub Actions, GitLab, Buildkite, CircleCI, Google Cloud, as the
    ``id`` package detects them); the browser flow of the sigstore instance's OIDC
    provider, only when ``interactive`` (default: stdin is a terminal and ``CI`` is
    unset).  Nothing found is a :class:`SigningError` naming the three ways.
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

    if interactive is None:
        interactive = bool(
            sys.stdin is not None and sys.stdin.isatty() and not os.environ.get("CI")
        )
    if interactive:
        return _browser_token(staging=staging)

    raise SigningError(
        "no sigstore identity token found: SIGSTORE_IDENTITY_TOKEN is unset, "
        "no CI credentials were detected, and there is no terminal for the browser sign-in",
        _THREE_WAYS,
    )


def _browser_token(*, staging: bool) -> IdentityToken:
    from sigstore.errors import Error as SigstoreError
    from sigstore.oidc import Issuer, IssuerError

    instance = "staging" if staging else "production"
    log.info("opening the browser to sign in to sigstore %s", instance)
    try:
        trust = _client_trust_config(staging)
        issuer = Issuer(trust.signing_config.get_oidc_url())
        return issuer.identity_token()
    except (SigstoreError, IssuerError) as exc:
        raise SigningError(
            f"the browser sign-in to sigstore {instance} failed: {exc}",
            "check your network and retry, or set SIGSTORE_IDENTITY_TOKEN instead",
        ) from None


def _token_claims(token: IdentityToken) -> dict[str, Any]:
    """The (unverified) claims of ``token``: the middle part of the JWT."""
    try:
        payload = str(token).split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def certificate_identity(token: IdentityToken) -> str | None:
    """The certificate identity (SAN) Fulcio issues for ``token``, when it is known.

    GitHub Actions: ``https://github.com/`` + ``job_workflow_ref`` (the workflow file at
    its ref); GitLab: ``https://`` + ``ci_config_ref_uri``; sigstore's browser sign-in
    and Google: the email.
    ``None`` for issuers whose SAN rule releasekit does not know.
    """
    claims = _token_claims(token)
    if token.issuer == GITHUB_ACTIONS_ISSUER and "job_workflow_ref" in claims:
        return f"https://github.com/{claims['job_workflow_ref']}"
    if "ci_config_ref_uri" in claims:
        return f"https://{claims['ci_config_ref_uri']}"
    if token.issuer in _EMAIL_ISSUERS and "email" in claims:
        return str(claims["email"])
    return None


# --- certificates and policies -----------------------------------------------------


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


# --- trust roots and verifiers -----------------------------------------------------


def _instance_name(staging: bool, trusted_root: object) -> str:
    if trusted_root is not None:
        return "given"
    return "staging" if staging else "production"


TRUST_CONFIG_ENV = "RELEASEKIT_SIGSTORE_TRUST_CONFIG"


def _env_trust_config() -> ClientTrustConfig | None:
    """The ClientTrustConfig JSON named by ``$RELEASEKIT_SIGSTORE_TRUST_CONFIG``, if set.

    Like ``sigstore --trust-config``: a private sigstore deployment (or a test
    stand-in) instead of the public-good instance, for signing and verifying.
    """
    from sigstore.models import ClientTrustConfig

    path = os.environ.get(TRUST_CONFIG_ENV)
    if not path:
        return None
    try:
        return ClientTrustConfig.from_json(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SigningError(
            f"{TRUST_CONFIG_ENV}={path!r} is not a readable sigstore trust config: {exc}",
            "point it at a ClientTrustConfig JSON file, or unset it for the public instance",
        ) from None


def _client_trust_config(staging: bool) -> ClientTrustConfig:
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import ClientTrustConfig

    custom = _env_trust_config()
    if custom is not None:
        return custom
    instance = "staging" if staging else "production"
    try:
        return ClientTrustConfig.staging() if staging else ClientTrustConfig.production()
    except (SigstoreError, OSError, ValueError) as exc:
        raise SigningError(
            f"could not load the sigstore {instance} trust configuration: {exc}",
            "check network access to the sigstore TUF repository, then retry",
        ) from None


def _verifier(*, staging: bool, offline: bool, trusted_root: TrustedRoot | Path | None) -> Verifier:
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import TrustedRoot
    from sigstore.verify import Verifier

    if trusted_root is None:
        custom = _env_trust_config()
        if custom is not None:
            trusted_root = custom.trusted_root
    try:
        if isinstance(trusted_root, TrustedRoot):
            return Verifier(trusted_root=trusted_root)
        if trusted_root is not None:
            return Verifier(trusted_root=TrustedRoot.from_file(str(trusted_root)))
        if staging:
            return Verifier.staging(offline=offline)
        return Verifier.production(offline=offline)
    except (SigstoreError, OSError, ValueError) as exc:
        where = (
            repr(str(trusted_root))
            if trusted_root is not None
            else f"sigstore {'staging' if staging else 'production'}"
        )
        raise SigningError(
            f"could not load the trust root of {where}: {exc}",
            "check network access to the sigstore TUF repository, or verify offline "
            "(offline=True) with the cached root",
        ) from None


def _load_bundle(bundle_file: Path, artifact: Path) -> Bundle:
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle

    try:
        raw = bundle_file.read_bytes()
    except FileNotFoundError:
        raise SignatureInvalid(
            f"{artifact.name!r} has no sigstore bundle: {str(bundle_file)!r} does not exist",
            "sign it first (nox -s sign), or download the .sigstore.json published with it",
        ) from None
    try:
        return Bundle.from_json(raw)
    except (SigstoreError, ValueError) as exc:
        raise SignatureInvalid(
            f"the sigstore bundle {str(bundle_file)!r} of {artifact.name!r} is malformed: {exc}",
            "download the bundle again or re-sign; a bundle edited by hand is never valid",
        ) from None


def _bundle_digest(bundle: Bundle) -> str | None:
    signature = bundle._inner.message_signature  # the signed digest
    if signature is None or signature.message_digest is None:
        return None
    return bytes(signature.message_digest.digest).hex()


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


def _read_to_verify(path: Path) -> bytes:
    """The bytes of a file to verify; a missing file is a SignatureInvalid."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SignatureInvalid(
            f"cannot verify {str(path)!r}: no such file", "check the path of the file"
        ) from None


def _check_artifact(
    artifact: Path, bundle_file: Path, verifier: Verifier, policy: _IdentityPolicy, instance: str
) -> str:
    """Verify one file; return its sha256 (hex). Raises SignatureInvalid."""
    from cryptography.x509 import ExtensionNotFound
    from sigstore.errors import Error as SigstoreError

    data = _read_to_verify(artifact)
    bundle = _load_bundle(bundle_file, artifact)
    digest = hashlib.sha256(data).hexdigest()
    try:
        verifier.verify_artifact(data, bundle, policy)
    except VerificationError as exc:
        raise _diagnose(
            exc,
            artifact.name,
            digest=digest,
            signed_digest=_bundle_digest(bundle),
            instance=instance,
        ) from exc
    except (SigstoreError, ValueError, ExtensionNotFound) as exc:  # a certificate out of profile
        raise SignatureInvalid(
            f"the sigstore bundle {str(bundle_file)!r} of {artifact.name!r} cannot be "
            f"checked: {exc}",
            "download the bundle again or re-sign; a bundle edited by hand is never valid",
        ) from exc
    return digest


def verify(
    artifact: Path,
    *,
    identity: str,
    issuer: str,
    bundle: Path | None = None,
    offline: bool = False,
    identity_is_regexp: bool = False,
    staging: bool = False,
    trusted_root: TrustedRoot | Path | None = None,
) -> None:
    """Check that ``artifact`` was signed by ``identity`` from OIDC ``issuer``.

    ``bundle`` defaults to ``<artifact>.sigstore.json``.  The root of trust is
    ``trusted_root`` when given (a ``TrustedRoot`` or a ``trusted_root.json`` path),
    else sigstore production (or staging); ``offline`` uses the cached root instead of
    refreshing it over TUF.  ``identity_is_regexp`` matches the certificate's SAN with
    ``re.fullmatch``.  Every failure is a :class:`SignatureInvalid` saying what did
    not match.
    """
    artifact = Path(artifact)
    bundle_file = Path(bundle) if bundle is not None else bundle_path(artifact)
    policy = _IdentityPolicy(identity, issuer, regexp=identity_is_regexp)
    verifier = _verifier(staging=staging, offline=offline, trusted_root=trusted_root)
    _check_artifact(artifact, bundle_file, verifier, policy, _instance_name(staging, trusted_root))
    log.info("verified %s: signed by %r via %r", artifact.name, identity, issuer)


def _expected_identity(signing: SigningConfig, *, name: str, version: str, tag: str) -> str:
    if signing.identity_is_regexp:
        fields = {"name": re.escape(name), "version": re.escape(version), "tag": re.escape(tag)}
    else:
        fields = {"name": name, "version": version, "tag": tag}
    return render_template(signing.identity, **fields)


def verify_files(
    files: Sequence[Path],
    signing: SigningConfig,
    *,
    name: str,
    version: str,
    tag: str,
    offline: bool = False,
    trusted_root: TrustedRoot | Path | None = None,
) -> list[str]:
    """Verify every file against its bundle and the configured identity; return evidence.

    The identity template of ``[tool.releasekit.signing]`` is filled with ``{tag}``,
    ``{name}`` and ``{version}`` (escaped when it is a regular expression).
    """
    identity = _expected_identity(signing, name=name, version=version, tag=tag)
    policy = _IdentityPolicy(identity, signing.issuer, regexp=signing.identity_is_regexp)
    verifier = _verifier(staging=signing.staging, offline=offline, trusted_root=trusted_root)
    instance = _instance_name(signing.staging, trusted_root)
    evidence = []
    for file in files:
        path = Path(file)
        digest = _check_artifact(path, bundle_path(path), verifier, policy, instance)
        log.info("verified the signature of %s", path.name)
        evidence.append(
            f"{path.name}: sigstore signature OK (sha256 {digest[:16]}..., identity "
            f"{identity!r}, issuer {signing.issuer!r}, {instance} trust root)"
        )
    return evidence


def check_downloaded(
    file: Path,
    *,
    expected_name: str,
    signing: SigningConfig,
    bundle_dir: Path,
    name: str,
    version: str,
    tag: str,
    offline: bool = False,
    trusted_root: TrustedRoot | Path | None = None,
) -> str:
    """Check a file the index served against the local bundle of the file we published.

    The bundle is ``<bundle_dir>/<expected_name>.sigstore.json``; ``file`` may be
    stored under any name.  Returns an evidence line.
    """
    identity = _expected_identity(signing, name=name, version=version, tag=tag)
    policy = _IdentityPolicy(identity, signing.issuer, regexp=signing.identity_is_regexp)
    verifier = _verifier(staging=signing.staging, offline=offline, trusted_root=trusted_root)
    instance = _instance_name(signing.staging, trusted_root)
    bundle_file = Path(bundle_dir) / (expected_name + BUNDLE_SUFFIX)
    try:
        digest = _check_artifact(Path(file), bundle_file, verifier, policy, instance)
    except SignatureInvalid as exc:
        raise SignatureInvalid(
            f"the index served {expected_name!r} that fails its signature check: {exc.message}",
            exc.hint,
        ) from None
    return (
        f"{expected_name} as served by the index matches its sigstore bundle "
        f"(sha256 {digest[:16]}..., identity {identity!r})"
    )


def bundle_check(
    signing: SigningConfig | None,
    *,
    bundle_dir: Path,
    name: str,
    version: str,
    tag: str,
    offline: bool = False,
    trusted_root: TrustedRoot | Path | None = None,
) -> Callable[[Path, object], None] | None:
    """The verify hook that checks each file the index serves against its bundle.

    None when signing is not configured, or when ``bundle_dir`` holds no bundle
    of ``name`` ``version`` (an unsigned release is verified without it).  The
    hook raises :class:`SignatureInvalid` before the file is installed.
    """
    if signing is None or not Path(bundle_dir).is_dir():
        return None
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    from releasekit.index import parse_dist_filename

    wanted = (canonicalize_name(name), Version(version))
    signed = [
        bundle
        for bundle in sorted(Path(bundle_dir).glob("*" + BUNDLE_SUFFIX))
        if parse_dist_filename(bundle.name.removesuffix(BUNDLE_SUFFIX)) == wanted
    ]
    if not signed:
        log.info(
            "no sigstore bundles of %s %s in %s: signatures not checked", name, version, bundle_dir
        )
        return None

    def check(downloaded: Path, index_file: object) -> None:
        served_name = getattr(index_file, "filename", downloaded.name)
        line = check_downloaded(
            downloaded,
            expected_name=served_name,
            signing=signing,
            bundle_dir=bundle_dir,
            name=name,
            version=version,
            tag=tag,
            offline=offline,
            trusted_root=trusted_root,
        )
        log.info("%s", line)

    return check


# --- signing -----------------------------------------------------------------------


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


# --- PEP 740 attestations ----------------------------------------------------------


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


def _load_attestation(attestation: Path, dist: Path) -> Attestation:
    from pydantic import ValidationError
    from pypi_attestations import Attestation

    try:
        text = Path(attestation).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SignatureInvalid(
            f"{dist.name!r} has no attestation: {str(attestation)!r} does not exist",
            "download the attestation published with it (PyPI's integrity API) or make one",
        ) from None
    try:
        return Attestation.model_validate_json(text)
    except (ValidationError, ValueError) as exc:
        raise SignatureInvalid(
            f"the attestation {str(attestation)!r} of {dist.name!r} is malformed: "
            f"{str(exc).splitlines()[0]}",
            "download the attestation again; an edited attestation is never valid",
        ) from None


def _dist_key(filename: str) -> tuple[object, ...] | None:
    """A wheel's or sdist's parsed file name (name, version[, build, tags]); None if neither.

    Like pypi_attestations: spellings of one file name compare equal, a wheel never
    equals the sdist of the same version.
    """
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if filename.endswith(".whl"):
            return tuple(parse_wheel_filename(filename))
        if filename.endswith((".tar.gz", ".zip")):
            return tuple(parse_sdist_filename(filename))
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def _check_attestation(
    dist: Path,
    attestation: Attestation,
    verifier: Verifier,
    policy: _IdentityPolicy | _GitHubPublisherPolicy,
    instance: str,
) -> None:
    """PEP 740 verification under ``verifier``'s root (what pypi_attestations checks)."""
    from cryptography.x509 import ExtensionNotFound
    from sigstore.errors import Error as SigstoreError

    data = _read_to_verify(dist)
    digest = hashlib.sha256(data).hexdigest()
    try:
        payload_type, payload = verifier.verify_dsse(attestation.to_bundle(), policy)
    except VerificationError as exc:
        raise _diagnose(
            exc, dist.name, digest=digest, signed_digest=None, instance=instance
        ) from exc
    except (SigstoreError, ValueError, ExtensionNotFound) as exc:
        raise SignatureInvalid(
            f"the attestation of {dist.name!r} is malformed: {exc}",
            "download the attestation again; an edited attestation is never valid",
        ) from None
    if payload_type != _IN_TOTO_TYPE:
        raise SignatureInvalid(
            f"the attestation of {dist.name!r} holds {payload_type!r}, not an in-toto statement",
            "this is not a PEP 740 attestation; download the right file",
        )
    try:
        statement = json.loads(payload)
    except ValueError:
        statement = None
    if not isinstance(statement, dict):
        raise SignatureInvalid(
            f"the attestation of {dist.name!r} holds no JSON statement",
            "this is not a PEP 740 attestation; download the right file",
        )
    subjects = statement.get("subject") or []
    predicate = statement.get("predicateType")
    if len(subjects) != 1 or predicate not in _PUBLISH_PREDICATES:
        raise SignatureInvalid(
            f"the attestation of {dist.name!r} is not a PEP 740 publish attestation "
            f"(predicate {predicate!r}, {len(subjects)} subjects)",
            "download the .publish.attestation that was published with the file",
        )
    subject = subjects[0]
    subject_key = _dist_key(str(subject.get("name", "")))
    if subject_key is None or subject_key != _dist_key(dist.name):
        raise SignatureInvalid(
            f"the attestation is for {subject.get('name')!r}, not {dist.name!r}",
            "use the attestation published with this very file",
        )
    signed = (subject.get("digest") or {}).get("sha256")
    if signed != digest:
        raise SignatureInvalid(
            f"{dist.name!r} is not the file that was attested: its sha256 {digest} is not "
            f"the attested digest ({signed})",
            "the file changed after it was attested: never install or publish it; "
            "download it again",
        )


def verify_attestation(
    dist: Path,
    attestation: Path,
    *,
    publisher_repository: str,
    publisher_workflow: str | None = None,
    offline: bool = False,
    staging: bool = False,
    trusted_root: TrustedRoot | Path | None = None,
) -> None:
    """Check a PEP 740 attestation of ``dist`` from a GitHub trusted publisher.

    The attestation must be signed from GitHub Actions in ``publisher_repository``
    (``OWNER/REPO``; with ``publisher_workflow``, by that workflow file), and name
    ``dist``'s file name and sha256.  With no ``trusted_root``, this is
    ``pypi_attestations.Attestation.verify`` against sigstore production (or
    staging), as PyPI does it.
    """
    from pypi_attestations import Distribution
    from pypi_attestations import VerificationError as AttestationVerificationError
    from sigstore.errors import MetadataError, TUFError

    dist = Path(dist)
    loaded = _load_attestation(Path(attestation), dist)
    policy = _GitHubPublisherPolicy(publisher_repository, publisher_workflow)
    instance = _instance_name(staging, trusted_root)
    if trusted_root is not None:
        verifier = _verifier(staging=staging, offline=offline, trusted_root=trusted_root)
        _check_attestation(dist, loaded, verifier, policy, instance)
        log.info("verified the attestation of %s (%s)", dist.name, publisher_repository)
        return

    if not dist.is_file():
        raise SignatureInvalid(
            f"cannot verify {str(dist)!r}: no such file", "check the path of the dist"
        )
    digest = hashlib.sha256(dist.read_bytes()).hexdigest()
    try:
        loaded.verify(policy, Distribution.from_file(dist), staging=staging, offline=offline)
    except (TUFError, MetadataError) as exc:  # the trust root, not the attestation
        raise SigningError(
            f"could not load the trust root of sigstore {instance}: {exc}",
            "check network access to the sigstore TUF repository, or verify offline "
            "(offline=True) with the cached root",
        ) from None
    except AttestationVerificationError as exc:
        cause = exc.__cause__
        if isinstance(cause, VerificationError):
            raise _diagnose(
                cause, dist.name, digest=digest, signed_digest=None, instance=instance
            ) from exc
        text = str(exc)
        if "digest" in text:
            raise SignatureInvalid(
                f"{dist.name!r} is not the file that was attested: its sha256 {digest} is "
                "not the attested digest",
                "the file changed after it was attested: never install or publish it; "
                "download it again",
            ) from exc
        raise SignatureInvalid(
            f"the attestation of {dist.name!r} does not verify: {text}",
            "use the attestation published with this very file",
        ) from exc
    except ValueError as exc:  # pypi_attestations' other errors (bad file names, conversions)
        raise SignatureInvalid(
            f"the attestation of {dist.name!r} cannot be checked: {exc}",
            "download the dist and its .publish.attestation again",
        ) from None
    log.info("verified the attestation of %s (%s)", dist.name, publisher_repository)
