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

The package: :mod:`~releasekit.signing.identity` (identity tokens),
:mod:`~releasekit.signing.trust` (roots of trust), :mod:`~releasekit.signing.policy`
(who must have signed, and why a check failed), :mod:`~releasekit.signing.bundles`
(bundles and checking files against them), :mod:`~releasekit.signing.attestations`
(PEP 740) and :mod:`~releasekit.signing.sign` (making both).  Its API is what this
module re-exports.
"""

from __future__ import annotations

from releasekit.signing.attestations import (
    ATTESTATION_SUFFIX,
    attestation_path,
    verify_attestation,
)
from releasekit.signing.bundles import (
    BUNDLE_SUFFIX,
    bundle_check,
    bundle_path,
    check_downloaded,
    verify,
    verify_files,
)
from releasekit.signing.identity import GITHUB_ACTIONS_ISSUER, certificate_identity, identity_token
from releasekit.signing.sign import make_attestations, sign_files
from releasekit.signing.trust import TRUST_CONFIG_ENV

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
