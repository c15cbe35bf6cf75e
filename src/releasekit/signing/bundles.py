"""Sigstore bundles: where they live, and checking a file against its bundle."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sigstore.errors import VerificationError

from releasekit.config import SigningConfig
from releasekit.errors import SignatureInvalid
from releasekit.signing.policy import IdentityPolicy, diagnose, expected_identity
from releasekit.signing.trust import instance_name, make_verifier

if TYPE_CHECKING:
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier

__all__ = [
    "BUNDLE_SUFFIX",
    "bundle_check",
    "bundle_path",
    "check_downloaded",
    "verify",
    "verify_files",
]

log = logging.getLogger("releasekit")

BUNDLE_SUFFIX = ".sigstore.json"


def bundle_path(artifact: Path) -> Path:
    """Where the sigstore bundle of ``artifact`` lives: ``<artifact>.sigstore.json``."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + BUNDLE_SUFFIX)


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
    """The sha256 the bundle signed (hex), read from its JSON form; None for a DSSE bundle."""
    try:
        data = json.loads(bundle.to_json())
        digest = data["messageSignature"]["messageDigest"]["digest"]
        return base64.b64decode(digest).hex()
    except (KeyError, TypeError, ValueError):
        return None


def read_to_verify(path: Path) -> bytes:
    """The bytes of a file to verify; a missing file is a SignatureInvalid."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SignatureInvalid(
            f"cannot verify {str(path)!r}: no such file", "check the path of the file"
        ) from None


def check_artifact(
    artifact: Path, bundle_file: Path, verifier: Verifier, policy: IdentityPolicy, instance: str
) -> str:
    """Verify one file; return its sha256 (hex). Raises SignatureInvalid."""
    from cryptography.x509 import ExtensionNotFound
    from sigstore.errors import Error as SigstoreError

    data = read_to_verify(artifact)
    bundle = _load_bundle(bundle_file, artifact)
    digest = hashlib.sha256(data).hexdigest()
    try:
        verifier.verify_artifact(data, bundle, policy)
    except VerificationError as exc:
        raise diagnose(
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
    policy = IdentityPolicy(identity, issuer, regexp=identity_is_regexp)
    verifier = make_verifier(staging=staging, offline=offline, trusted_root=trusted_root)
    check_artifact(artifact, bundle_file, verifier, policy, instance_name(staging, trusted_root))
    log.info("verified %s: signed by %r via %r", artifact.name, identity, issuer)


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
    identity = expected_identity(signing, name=name, version=version, tag=tag)
    policy = IdentityPolicy(identity, signing.issuer, regexp=signing.identity_is_regexp)
    verifier = make_verifier(staging=signing.staging, offline=offline, trusted_root=trusted_root)
    instance = instance_name(signing.staging, trusted_root)
    evidence = []
    for file in files:
        path = Path(file)
        digest = check_artifact(path, bundle_path(path), verifier, policy, instance)
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
    identity = expected_identity(signing, name=name, version=version, tag=tag)
    policy = IdentityPolicy(identity, signing.issuer, regexp=signing.identity_is_regexp)
    verifier = make_verifier(staging=signing.staging, offline=offline, trusted_root=trusted_root)
    instance = instance_name(signing.staging, trusted_root)
    bundle_file = Path(bundle_dir) / (expected_name + BUNDLE_SUFFIX)
    try:
        digest = check_artifact(Path(file), bundle_file, verifier, policy, instance)
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
