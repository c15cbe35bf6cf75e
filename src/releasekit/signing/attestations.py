"""PEP 740 attestations: where they live, and checking a dist against its attestation."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sigstore.errors import VerificationError

from releasekit._dist_names import dist_filename_or_none
from releasekit.errors import SignatureInvalid, SigningError
from releasekit.signing.bundles import read_to_verify
from releasekit.signing.policy import IdentityPolicy, PublisherPolicy, diagnose
from releasekit.signing.trust import instance_name, make_verifier

if TYPE_CHECKING:
    from pypi_attestations import Attestation
    from sigstore.models import TrustedRoot
    from sigstore.verify import Verifier

__all__ = ["ATTESTATION_SUFFIX", "attestation_path", "verify_attestation"]

log = logging.getLogger("releasekit")

ATTESTATION_SUFFIX = ".publish.attestation"
_IN_TOTO_TYPE = "application/vnd.in-toto+json"
_PUBLISH_PREDICATES = (
    "https://docs.pypi.org/attestations/publish/v1",
    "https://slsa.dev/provenance/v1",
)


def attestation_path(dist: Path) -> Path:
    """Where the PEP 740 attestation of ``dist`` lives: ``<dist>.publish.attestation``."""
    dist = Path(dist)
    return dist.with_name(dist.name + ATTESTATION_SUFFIX)


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


def check_attestation(
    dist: Path,
    attestation: Attestation,
    verifier: Verifier,
    policy: IdentityPolicy | PublisherPolicy,
    instance: str,
) -> None:
    """PEP 740 verification under ``verifier``'s root (what pypi_attestations checks)."""
    from cryptography.x509 import ExtensionNotFound
    from sigstore.errors import Error as SigstoreError

    data = read_to_verify(dist)
    digest = hashlib.sha256(data).hexdigest()
    try:
        payload_type, payload = verifier.verify_dsse(attestation.to_bundle(), policy)
    except VerificationError as exc:
        raise diagnose(
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
    # spellings of one file name compare equal; a wheel never equals its sdist
    subject_key = dist_filename_or_none(str(subject.get("name", "")))
    if subject_key is None or subject_key != dist_filename_or_none(dist.name):
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
    publisher_workflow: str,
    offline: bool = False,
    staging: bool = False,
    trusted_root: TrustedRoot | Path | None = None,
) -> None:
    """Check a PEP 740 attestation of ``dist`` from a GitHub trusted publisher.

    The attestation must be signed from GitHub Actions in ``publisher_repository``
    (``OWNER/REPO``) by the workflow file ``publisher_workflow`` (``release.yml``) at
    the certificate's own ref, as PyPI's trusted publisher for GitHub
    (``pypi_attestations.GitHubPublisher``) requires, and name ``dist``'s file name and
    sha256.  With no ``trusted_root``, this is ``pypi_attestations.Attestation.verify``
    against sigstore production (or staging), as PyPI does it.
    """
    from pypi_attestations import Distribution
    from pypi_attestations import VerificationError as AttestationVerificationError
    from sigstore.errors import MetadataError, TUFError

    dist = Path(dist)
    loaded = _load_attestation(Path(attestation), dist)
    policy = PublisherPolicy(publisher_repository, publisher_workflow)
    instance = instance_name(staging, trusted_root)
    if trusted_root is not None:
        verifier = make_verifier(staging=staging, offline=offline, trusted_root=trusted_root)
        check_attestation(dist, loaded, verifier, policy, instance)
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
            raise diagnose(
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
