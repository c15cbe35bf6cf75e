"""Roots of trust: which sigstore instance signs and which one a verifier trusts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from releasekit.errors import SigningError

if TYPE_CHECKING:
    from sigstore.models import ClientTrustConfig, TrustedRoot
    from sigstore.verify import Verifier

__all__ = ["TRUST_CONFIG_ENV"]


def instance_name(staging: bool, trusted_root: object) -> str:
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


def client_trust_config(staging: bool) -> ClientTrustConfig:
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


def make_verifier(
    *, staging: bool, offline: bool, trusted_root: TrustedRoot | Path | None
) -> Verifier:
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
