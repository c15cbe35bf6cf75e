"""A Fulcio + Rekor stand-in on 127.0.0.1 that the real sigstore client signs against.

sigstore-python talks to three services when it signs: an OIDC provider (for the
identity token), Fulcio (a short-lived certificate for that identity) and Rekor
(the transparency log).  This module plays Fulcio and Rekor v1 over loopback HTTP,
with its own throwaway keys, so the tests run the *real* signing and verification
code (``sigstore.sign.SigningContext``, ``sigstore.verify.Verifier``,
``pypi_attestations``) without reaching the internet:

* a test CA (root + intermediate, ECDSA P-256) issues a 10-minute leaf certificate
  shaped like Fulcio's: empty subject, critical SAN from the token (``email``, or the
  GitHub ``job_workflow_ref`` URL, or ``sub``), the OIDC issuer extensions
  (1.3.6.1.4.1.57264.1.1 raw and .1.8 DER UTF8String), the GitHub source-repository
  extensions PEP 740 verification reads, and an embedded precertificate SCT signed
  by the stand-in's CT log key (sigstore verifies it when signing and verifying);
* the Rekor stand-in checks the proposed entry's signature, appends it to an
  RFC 6962 Merkle tree and answers with an inclusion proof, a signed checkpoint and
  a signed entry timestamp (SET), exactly what ``TransparencyLogEntry._verify`` checks;
* identity tokens are ES256 JWTs signed by the stand-in's OIDC key, which its Fulcio
  checks (sigstore itself never verifies the token's signature);
* ``/github-oidc`` answers like GitHub Actions' ``ACTIONS_ID_TOKEN_REQUEST_URL``, so
  ambient-credential detection (the ``id`` package) can be exercised on loopback.

:meth:`SigstoreStandin.trust_config` is the ``ClientTrustConfig`` (signing config
pointing at the stand-in, trusted root holding its CA, CT log key and Rekor key) to
hand to ``releasekit.signing``; :meth:`SigstoreStandin.trusted_root` is what a
verifier trusts.  No timestamp authority is needed: Rekor v1 entries carry their
integrated time under the SET.

In a test module: ``from tests.sigstore_standin import sigstore_standin_fixture`` makes
the module-scoped ``sigstore_standin`` fixture available; or use the class directly
(``with SigstoreStandin() as standin: ...``), e.g. for a second, distrusted instance.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import struct
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sigstore.models import ClientTrustConfig, TrustedRoot
from sigstore.oidc import IdentityToken

from tests.standin import StandInHandler, serving, url_of

__all__ = ["GITHUB_ISSUER", "SigstoreStandin", "StandinRefused", "sigstore_standin_fixture"]

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"

_SCT_LIST_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
_ISSUER_V1_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
_REPOSITORY_V1_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.5")
_ISSUER_V2_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
_BUILD_SIGNER_URI_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.9")
_SOURCE_REPOSITORY_URI_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.12")
_SOURCE_REPOSITORY_DIGEST_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.13")
_SOURCE_REPOSITORY_REF_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.14")
_BUILD_CONFIG_URI_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.18")

_LEAF_LIFETIME = dt.timedelta(minutes=10)  # like Fulcio


# --- small encoders ----------------------------------------------------------------


def _der(tag: int, content: bytes) -> bytes:
    """One DER TLV (definite length)."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _utf8_string(value: str) -> bytes:
    return _der(0x0C, value.encode())


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _key_id(key: ec.EllipticCurvePublicKey) -> bytes:
    """RFC 6962 key ID: SHA-256 of the DER SubjectPublicKeyInfo (what sigstore uses)."""
    return hashlib.sha256(_spki(key)).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- RFC 6962 Merkle tree -----------------------------------------------------------


def _leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def _node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (size > 1)."""
    k = 1
    while k * 2 < size:
        k *= 2
    return k


def _tree_hash(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node_hash(_tree_hash(leaves[:k]), _tree_hash(leaves[k:]))


def _audit_path(index: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 section 2.1.1 PATH(m, D[n]), from the leaf level upwards."""
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*_audit_path(index, leaves[:k]), _tree_hash(leaves[k:])]
    return [*_audit_path(index - k, leaves[k:]), _tree_hash(leaves[:k])]


# --- the stand-in -------------------------------------------------------------------


class StandinRefused(Exception):
    """The stand-in refuses a request (answered as HTTP 400/401 with a message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class SigstoreStandin:
    """Fulcio + Rekor v1 (+ a GitHub OIDC token endpoint) on ``http://127.0.0.1:<port>``.

    Use as a context manager or call :meth:`start` / :meth:`stop`.  Every instance has
    its own keys, so two instances are two different "sigstore instances" (the way
    production and staging are).
    """

    def __init__(self, name: str = "standin") -> None:
        self.name = name
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        self.epoch = now - dt.timedelta(days=1)
        self._root_key = ec.generate_private_key(ec.SECP256R1())
        self._intermediate_key = ec.generate_private_key(ec.SECP256R1())
        self._ct_key = ec.generate_private_key(ec.SECP256R1())
        self._rekor_key = ec.generate_private_key(ec.SECP256R1())
        self._oidc_key = ec.generate_private_key(ec.SECP256R1())
        self.root_cert = self._ca_cert(
            f"releasekit {name} root", self._root_key, None, None, path_length=1
        )
        self.intermediate_cert = self._ca_cert(
            f"releasekit {name} intermediate",
            self._intermediate_key,
            self.root_cert,
            self._root_key,
            path_length=0,
        )
        self.rekor_log_id = _key_id(self._rekor_key.public_key())
        self.ct_log_id = _key_id(self._ct_key.public_key())
        self._leaves: list[bytes] = []
        self.entries: list[dict[str, Any]] = []  # every integrated entry, in log order
        self.issued: list[x509.Certificate] = []  # every leaf certificate Fulcio issued
        self.ambient_token: str | None = None  # what /github-oidc hands out
        # a misbehaving Fulcio: write this issuer into certificates instead of the token's
        self.issuer_override: str | None = None
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._serving = contextlib.ExitStack()

    # --- lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sigstore stand-in is not running")
        return url_of(self._server)

    def start(self) -> SigstoreStandin:
        standin = self

        class Handler(StandInHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == "/healthz":
                    self.send_json(200, {"ok": True})
                elif url.path == "/github-oidc":
                    audience = parse_qs(url.query).get("audience", [""])[0]
                    token = standin.ambient_token
                    if token is None or audience != "sigstore":
                        self.send_json(404, {"message": "no ambient token configured"})
                    else:
                        self.send_json(200, {"value": token})
                else:
                    self.send_json(404, {"message": f"no such endpoint {url.path}"})

            def do_POST(self) -> None:
                raw = self.read_body()
                try:
                    body = json.loads(raw)
                    if self.path == "/api/v2/signingCert":
                        bearer = self.headers.get("Authorization", "")
                        self.send_json(200, standin._signing_cert(body, bearer))
                    elif self.path == "/api/v1/log/entries":
                        self.send_json(201, standin._create_entry(body))
                    else:
                        self.send_json(
                            404, {"code": 404, "message": f"no such endpoint {self.path}"}
                        )
                except StandinRefused as exc:
                    self.send_json(exc.status, {"code": exc.status, "message": str(exc)})
                except (ValueError, KeyError, TypeError) as exc:
                    self.send_json(400, {"code": 400, "message": f"bad request: {exc!r}"})

        self._server = self._serving.enter_context(serving(Handler, f"sigstore-{self.name}"))
        return self

    def stop(self) -> None:
        self._serving.close()
        self._server = None

    def __enter__(self) -> SigstoreStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- trust material ----------------------------------------------------------

    def _public_key_json(self, key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
        return {
            "rawBytes": _b64(_spki(key.public_key())),
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "validFor": {"start": _iso(self.epoch)},
        }

    def trusted_root_json(self) -> dict[str, Any]:
        """The protobuf-JSON trusted root: this instance's CA, Rekor key and CT log key."""
        return {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [
                {
                    "baseUrl": self.url,
                    "hashAlgorithm": "SHA2_256",
                    "publicKey": self._public_key_json(self._rekor_key),
                    "logId": {"keyId": _b64(self.rekor_log_id)},
                }
            ],
            "certificateAuthorities": [
                {
                    "subject": {"organization": "releasekit tests", "commonName": self.name},
                    "uri": self.url,
                    "certChain": {
                        "certificates": [
                            {"rawBytes": _b64(c.public_bytes(serialization.Encoding.DER))}
                            for c in (self.intermediate_cert, self.root_cert)
                        ]
                    },
                    "validFor": {"start": _iso(self.epoch)},
                }
            ],
            "ctlogs": [
                {
                    "baseUrl": self.url,
                    "hashAlgorithm": "SHA2_256",
                    "publicKey": self._public_key_json(self._ct_key),
                    "logId": {"keyId": _b64(self.ct_log_id)},
                }
            ],
            "timestampAuthorities": [],
        }

    def signing_config_json(self) -> dict[str, Any]:
        """Signing config v0.2: Fulcio and Rekor v1 at the stand-in, no TSA."""

        def service(url: str) -> dict[str, Any]:
            return {
                "url": url,
                "majorApiVersion": 1,
                "validFor": {"start": _iso(self.epoch)},
                "operator": f"releasekit-{self.name}",
            }

        return {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [service(self.url)],
            "oidcUrls": [service(self.url + "/oauth")],
            "rekorTlogUrls": [service(self.url)],
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        }

    def trust_config_json(self) -> str:
        return json.dumps(
            {
                "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
                "trustedRoot": self.trusted_root_json(),
                "signingConfig": self.signing_config_json(),
            }
        )

    def trust_config(self) -> ClientTrustConfig:
        return ClientTrustConfig.from_json(self.trust_config_json())

    def trusted_root(self) -> TrustedRoot:
        return self.trust_config().trusted_root

    # --- identity tokens ---------------------------------------------------------

    def raw_token(
        self,
        *,
        issuer: str,
        subject: str,
        lifetime: float = 300.0,
        key: ec.EllipticCurvePrivateKey | None = None,
        **claims: object,
    ) -> str:
        """An ES256 JWT with ``aud: sigstore``, signed by this stand-in's OIDC key."""
        now = int(time.time())
        payload: dict[str, object] = {
            "iss": issuer,
            "sub": subject,
            "aud": "sigstore",
            "iat": now,
            "nbf": now,
            "exp": now + int(lifetime),
            **claims,
        }
        return jwt.encode(payload, key or self._oidc_key, algorithm="ES256")

    def email_token(
        self, email: str = "releaser@oxi.invalid", connector: str = "https://github.com/login/oauth"
    ) -> IdentityToken:
        """A token like sigstore's browser flow gives (its Dex, federating ``connector``).

        The certificate's SAN is the email, its issuer extension the connector.
        """
        raw = self.raw_token(
            issuer="https://oauth2.sigstore.dev/auth",
            subject="CgExEgZnaXRodWI",
            email=email,
            email_verified=True,
            federated_claims={"connector_id": connector, "user_id": "1"},
        )
        return IdentityToken(raw)

    def github_raw_token(
        self,
        repository: str = "oxi-dev/oxi",
        workflow: str = "release.yml",
        ref: str = "refs/tags/v0.1.0a1",
        sha: str = "0" * 40,
    ) -> str:
        """A token shaped like GitHub Actions' (``job_workflow_ref`` becomes the SAN)."""
        workflow_ref = f"{repository}/.github/workflows/{workflow}@{ref}"
        return self.raw_token(
            issuer=GITHUB_ISSUER,
            subject=f"repo:{repository}:ref:{ref}",
            repository=repository,
            ref=ref,
            sha=sha,
            workflow_ref=workflow_ref,
            job_workflow_ref=workflow_ref,
            event_name="push",
            runner_environment="github-hosted",
        )

    def github_token(self, **kwargs: str) -> IdentityToken:
        return IdentityToken(self.github_raw_token(**kwargs))

    @staticmethod
    def github_identity(
        repository: str = "oxi-dev/oxi",
        workflow: str = "release.yml",
        ref: str = "refs/tags/v0.1.0a1",
    ) -> str:
        """The certificate identity (SAN) Fulcio gives a GitHub Actions token."""
        return f"https://github.com/{repository}/.github/workflows/{workflow}@{ref}"

    # --- Fulcio ------------------------------------------------------------------

    def _ca_cert(
        self,
        common_name: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: x509.Certificate | None,
        issuer_key: ec.EllipticCurvePrivateKey | None,
        *,
        path_length: int,
    ) -> x509.Certificate:
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "releasekit tests"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        signer_key = issuer_key or key
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.subject if issuer else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.epoch)
            .not_valid_after(self.epoch + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), False
            )
        )
        return builder.sign(signer_key, hashes.SHA256())

    def _verify_token(self, bearer: str) -> dict[str, Any]:
        if not bearer.startswith("Bearer "):
            raise StandinRefused(401, "missing bearer identity token")
        try:
            claims: dict[str, Any] = jwt.decode(
                bearer.removeprefix("Bearer "),
                self._oidc_key.public_key(),
                algorithms=["ES256"],
                audience="sigstore",
            )
        except jwt.PyJWTError as exc:
            raise StandinRefused(401, f"identity token rejected: {exc}") from None
        return claims

    def _signing_cert(self, body: dict[str, Any], bearer: str) -> dict[str, Any]:
        claims = self._verify_token(bearer)
        csr = x509.load_pem_x509_csr(base64.b64decode(body["certificateSigningRequest"]))
        if not csr.is_signature_valid:
            raise StandinRefused(400, "CSR signature does not verify (no proof of possession)")
        public_key = csr.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise StandinRefused(400, "only ECDSA keys are supported")
        leaf = self._issue_leaf(public_key, claims)
        with self._lock:
            self.issued.append(leaf)
        chain = [_pem(leaf), _pem(self.intermediate_cert), _pem(self.root_cert)]
        return {"signedCertificateEmbeddedSct": {"chain": {"certificates": chain}}}

    def _issue_leaf(
        self, public_key: ec.EllipticCurvePublicKey, claims: dict[str, Any]
    ) -> x509.Certificate:
        issuer_url = str(claims["iss"])
        federated = claims.get("federated_claims")
        cert_issuer = (
            str(federated["connector_id"])
            if isinstance(federated, dict) and "connector_id" in federated
            else issuer_url
        )
        cert_issuer = self.issuer_override or cert_issuer
        san: x509.GeneralName
        github = issuer_url == GITHUB_ISSUER
        if github:
            san = x509.UniformResourceIdentifier(f"https://github.com/{claims['job_workflow_ref']}")
        elif "email" in claims:
            san = x509.RFC822Name(str(claims["email"]))
        else:
            san = x509.UniformResourceIdentifier(str(claims["sub"]))

        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.intermediate_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + _LEAF_LIFETIME)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self._intermediate_key.public_key()
                ),
                False,
            )
            .add_extension(x509.SubjectAlternativeName([san]), critical=True)
            .add_extension(x509.UnrecognizedExtension(_ISSUER_V1_OID, cert_issuer.encode()), False)
            .add_extension(
                x509.UnrecognizedExtension(_ISSUER_V2_OID, _utf8_string(cert_issuer)), False
            )
        )
        if github:
            repository = str(claims["repository"])
            workflow_uri = f"https://github.com/{claims['job_workflow_ref']}"
            for oid, value in (
                (_BUILD_SIGNER_URI_OID, workflow_uri),
                (_SOURCE_REPOSITORY_URI_OID, f"https://github.com/{repository}"),
                (_SOURCE_REPOSITORY_DIGEST_OID, str(claims["sha"])),
                (_SOURCE_REPOSITORY_REF_OID, str(claims["ref"])),
                (_BUILD_CONFIG_URI_OID, workflow_uri),
            ):
                builder = builder.add_extension(
                    x509.UnrecognizedExtension(oid, _utf8_string(value)), False
                )
            builder = builder.add_extension(
                x509.UnrecognizedExtension(_REPOSITORY_V1_OID, repository.encode()), False
            )

        # The precertificate is the certificate without its SCT list: the CT log signs
        # its TBS bytes (RFC 6962 section 3.2), then the SCT goes into the real one.
        precert = builder.sign(self._intermediate_key, hashes.SHA256())
        sct_list = self._sct_list(precert.tbs_certificate_bytes, now)
        leaf = builder.add_extension(
            x509.UnrecognizedExtension(_SCT_LIST_OID, _der(0x04, sct_list)), False
        ).sign(self._intermediate_key, hashes.SHA256())
        if leaf.tbs_precertificate_bytes != precert.tbs_certificate_bytes:
            raise RuntimeError("stand-in bug: precertificate TBS does not match the leaf")
        return leaf

    def _sct_list(self, tbs_precert: bytes, when: dt.datetime) -> bytes:
        """A TLS-encoded SignedCertificateTimestampList with one v1 precert SCT."""
        timestamp_ms = int(when.timestamp()) * 1000  # whole seconds: exact as a float too
        issuer_key_hash = _key_id(self._intermediate_key.public_key())
        extensions = b""
        signed = struct.pack(
            f"!BBQH32s3s{len(tbs_precert)}sH",
            0,  # sct_version v1
            0,  # signature_type certificate_timestamp
            timestamp_ms,
            1,  # entry_type precert_entry
            issuer_key_hash,
            len(tbs_precert).to_bytes(3, "big"),
            tbs_precert,
            len(extensions),
        )
        signature = self._ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        sct = (
            bytes([0])
            + self.ct_log_id
            + struct.pack("!Q", timestamp_ms)
            + struct.pack("!H", len(extensions))
            + extensions
            + bytes([4, 3])  # sha256, ecdsa
            + struct.pack("!H", len(signature))
            + signature
        )
        item = struct.pack("!H", len(sct)) + sct
        return struct.pack("!H", len(item)) + item

    # --- Rekor v1 ----------------------------------------------------------------

    @staticmethod
    def _certificate_from_b64_pem(value: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate(base64.b64decode(value))

    def _entry_body(self, proposed: dict[str, Any]) -> bytes:
        """Check a proposed entry like Rekor does and return its canonical body."""
        kind = proposed.get("kind")
        if proposed.get("apiVersion") != "0.0.1":
            raise StandinRefused(400, f"unsupported apiVersion {proposed.get('apiVersion')!r}")
        spec = proposed["spec"]
        if kind == "hashedrekord":
            cert = self._certificate_from_b64_pem(spec["signature"]["publicKey"]["content"])
            digest = bytes.fromhex(spec["data"]["hash"]["value"])
            key = cert.public_key()
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise StandinRefused(400, "only ECDSA verifiers are supported")
            try:
                key.verify(
                    base64.b64decode(spec["signature"]["content"]),
                    digest,
                    ec.ECDSA(utils.Prehashed(hashes.SHA256())),
                )
            except InvalidSignature:
                raise StandinRefused(400, "signature does not verify against the digest") from None
            return rfc8785.dumps(proposed)
        if kind == "dsse":
            content = spec["proposedContent"]
            envelope_text: str = content["envelope"]
            envelope = json.loads(envelope_text)
            payload = base64.b64decode(envelope["payload"])
            payload_type: str = envelope["payloadType"]
            pae = f"DSSEv1 {len(payload_type)} {payload_type} ".encode()
            pae += str(len(payload)).encode() + b" " + payload
            verifier_pem: str = content["verifiers"][0]
            key = self._certificate_from_b64_pem(verifier_pem).public_key()
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise StandinRefused(400, "only ECDSA verifiers are supported")
            signatures: list[dict[str, str]] = []
            for signature in envelope["signatures"]:
                try:
                    key.verify(base64.b64decode(signature["sig"]), pae, ec.ECDSA(hashes.SHA256()))
                except InvalidSignature:
                    raise StandinRefused(400, "DSSE signature does not verify") from None
                signatures.append({"signature": signature["sig"], "verifier": verifier_pem})
            body: dict[str, Any] = {
                "apiVersion": "0.0.1",
                "kind": "dsse",
                "spec": {
                    "envelopeHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(envelope_text.encode()).hexdigest(),
                    },
                    "payloadHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(payload).hexdigest(),
                    },
                    "signatures": sorted(signatures, key=lambda s: s["signature"]),
                },
            }
            return rfc8785.dumps(body)
        raise StandinRefused(400, f"unsupported entry kind {kind!r}")

    def _checkpoint(self, size: int, root: bytes) -> str:
        origin = f"127.0.0.1 - {self.name}"
        note = f"{origin}\n{size}\n{_b64(root)}\n"
        signature = self._rekor_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        signer = origin.split(maxsplit=1)[0]
        return f"{note}\n\u2014 {signer} {_b64(self.rekor_log_id[:4] + signature)}\n"

    def _create_entry(self, proposed: dict[str, Any]) -> dict[str, Any]:
        body = self._entry_body(proposed)
        with self._lock:
            self._leaves.append(_leaf_hash(body))
            index = len(self._leaves) - 1
            leaves = list(self._leaves)
        size = len(leaves)
        root = _tree_hash(leaves)
        integrated = int(time.time())
        body_b64 = _b64(body)
        log_id = self.rekor_log_id.hex()
        set_payload = rfc8785.dumps(
            {"body": body_b64, "integratedTime": integrated, "logID": log_id, "logIndex": index}
        )
        entry = {
            "body": body_b64,
            "integratedTime": integrated,
            "logID": log_id,
            "logIndex": index,
            "verification": {
                "inclusionProof": {
                    "checkpoint": self._checkpoint(size, root),
                    "hashes": [h.hex() for h in _audit_path(index, leaves)],
                    "logIndex": index,
                    "rootHash": root.hex(),
                    "treeSize": size,
                },
                "signedEntryTimestamp": _b64(
                    self._rekor_key.sign(set_payload, ec.ECDSA(hashes.SHA256()))
                ),
            },
        }
        with self._lock:
            self.entries.append(entry)
        return {_leaf_hash(body).hex(): entry}


@pytest.fixture(scope="module", name="sigstore_standin")
def sigstore_standin_fixture() -> Iterator[SigstoreStandin]:
    """``sigstore_standin``: a running stand-in for the tests of one module.

    Import ``sigstore_standin_fixture`` into a test module to use it (its keys die with
    the module's tests).
    """
    with SigstoreStandin() as standin:
        yield standin
