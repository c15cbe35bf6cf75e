"""releasekit.signing: sigstore bundles and PEP 740 attestations.

Signing runs the real sigstore client against the loopback Fulcio/Rekor stand-in
(tests/sigstore_standin.py) on dists built from a copy of examples/oxi; verification
is also checked on real production and staging bundles from the shared fixtures
(offline, trust roots from a temporary TUF cache seeded from the sigstore wheel).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pypi_attestations import Attestation, Distribution, GitHubPublisher
from pypi_attestations import VerificationError as AttestationVerificationError
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken

from releasekit.config import SigningConfig
from releasekit.errors import ConfigError, SignatureInvalid, SigningError
from releasekit.signing import (
    attestation_path,
    bundle_path,
    certificate_identity,
    check_downloaded,
    identity_token,
    make_attestations,
    sign_files,
    verify,
    verify_attestation,
    verify_files,
)
from tests.conftest import EXAMPLE, SIGSTORE_FIXTURES
from tests.sigstore_standin import (  # noqa: F401 - registers the sigstore_standin fixture
    GITHUB_ISSUER,
    SigstoreStandin,
    sigstore_standin_fixture,
)

if TYPE_CHECKING:
    from tests.pypiserver_fixtures import PypiServer

pytest_plugins = ["tests.pypiserver_fixtures"]

FIXTURES = SIGSTORE_FIXTURES
IDENTITY = SigstoreStandin.github_identity()  # the SAN of the stand-in's GitHub token
EMAIL_ISSUER = "https://github.com/login/oauth"
# read before conftest's hermetic fixture unsets it for every test
_LIVE_TOKEN = os.environ.get("SIGSTORE_IDENTITY_TOKEN", "")

_AMBIENT_VARS = (
    "CI",
    "GITHUB_ACTIONS",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "GOOGLE_SERVICE_ACCOUNT_NAME",
    "BUILDKITE",
    "GITLAB_CI",
    "SIGSTORE_ID_TOKEN",
    "CIRCLECI",
)


@pytest.fixture(autouse=True)
def _no_ambient_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the CI credentials of the machine that runs it."""
    for key in _AMBIENT_VARS:
        monkeypatch.delenv(key, raising=False)


@dataclass(frozen=True)
class Signed:
    """oxi-core's sdist and wheel, signed once per module by the stand-in."""

    sdist: Path
    wheel: Path
    standin: SigstoreStandin

    @property
    def files(self) -> list[Path]:
        return [self.sdist, self.wheel]


@pytest.fixture(scope="module")
def oxi_dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """oxi-core 0.1.0a1 built with the real `build` from a copy of examples/oxi."""
    root = tmp_path_factory.mktemp("oxi-build")
    source = root / "oxi"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("dist", ".nox", "__pycache__"))
    out = root / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    return out / "oxi_core-0.1.0a1.tar.gz", out / "oxi_core-0.1.0a1-py3-none-any.whl"


@pytest.fixture(scope="module")
def signed(
    oxi_dists: tuple[Path, Path],
    sigstore_standin: SigstoreStandin,
    tmp_path_factory: pytest.TempPathFactory,
) -> Signed:
    here = tmp_path_factory.mktemp("signed")
    sdist, wheel = (Path(shutil.copy2(f, here)) for f in oxi_dists)
    sign_files(
        [sdist, wheel],
        token=sigstore_standin.github_token(),
        trust_config=sigstore_standin.trust_config(),
    )
    return Signed(sdist, wheel, sigstore_standin)


def copy_signed(file: Path, dest: Path) -> Path:
    """A private copy of ``file`` and its bundle, for a test that changes them."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(bundle_path(file), dest)
    return Path(shutil.copy2(file, dest))


# --- signing with the stand-in -----------------------------------------------------


def test_sign_files_writes_one_verified_bundle_per_dist(signed: Signed) -> None:
    for file in signed.files:
        bundle = bundle_path(file)
        assert bundle.name == file.name + ".sigstore.json"
        data = json.loads(bundle.read_text())
        assert data["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
        digest = data["messageSignature"]["messageDigest"]["digest"]
        assert base64.b64decode(digest) == hashlib.sha256(file.read_bytes()).digest()
        verify(
            file,
            identity=IDENTITY,
            issuer=GITHUB_ISSUER,
            trusted_root=signed.standin.trusted_root(),
        )
    # both went through the stand-in's transparency log
    bodies = [json.loads(base64.b64decode(e["body"])) for e in signed.standin.entries]
    logged = {b["spec"]["data"]["hash"]["value"] for b in bodies if b["kind"] == "hashedrekord"}
    assert {hashlib.sha256(f.read_bytes()).hexdigest() for f in signed.files} <= logged


def test_verify_rejects_a_tampered_wheel(signed: Signed, tmp_path: Path) -> None:
    wheel = copy_signed(signed.wheel, tmp_path)
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    with pytest.raises(SignatureInvalid) as caught:
        verify(
            wheel,
            identity=IDENTITY,
            issuer=GITHUB_ISSUER,
            trusted_root=signed.standin.trusted_root(),
        )
    assert "is not the file that was signed" in caught.value.message
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() in caught.value.message
    assert "never publish" in caught.value.hint


def test_verify_rejects_a_wrong_identity_and_shows_the_signer(signed: Signed) -> None:
    other = SigstoreStandin.github_identity(repository="mallory/oxi")
    with pytest.raises(SignatureInvalid) as caught:
        verify(
            signed.wheel,
            identity=other,
            issuer=GITHUB_ISSUER,
            trusted_root=signed.standin.trusted_root(),
        )
    assert repr(IDENTITY) in caught.value.message  # what the certificate says
    assert repr(other) in caught.value.message  # what was expected
    assert "[tool.releasekit.signing]" in caught.value.hint


def test_verify_rejects_a_wrong_issuer(signed: Signed) -> None:
    with pytest.raises(SignatureInvalid) as caught:
        verify(
            signed.sdist,
            identity=IDENTITY,
            issuer="https://gitlab.com",
            trusted_root=signed.standin.trusted_root(),
        )
    assert repr(GITHUB_ISSUER) in caught.value.message
    assert "'https://gitlab.com'" in caught.value.message


@pytest.mark.parametrize(
    ("pattern", "ok"),
    [
        (r"https://github\.com/oxi-dev/oxi/\.github/workflows/release\.yml@refs/tags/v.+", True),
        (r"https://github\.com/oxi-dev/.*", True),
        (r"https://github\.com/oxi-dev/oxi", False),  # a prefix: the whole SAN must match
        (r"https://github\.com/mallory/.*", False),
    ],
)
def test_verify_with_an_identity_regexp(signed: Signed, pattern: str, ok: bool) -> None:
    def check() -> None:
        verify(
            signed.wheel,
            identity=pattern,
            issuer=GITHUB_ISSUER,
            identity_is_regexp=True,
            trusted_root=signed.standin.trusted_root(),
        )

    if ok:
        check()
    else:
        with pytest.raises(SignatureInvalid, match="not by the expected identity"):
            check()


def test_an_invalid_identity_regexp_is_a_config_error(signed: Signed) -> None:
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        verify(
            signed.wheel,
            identity="https://github.com/(oxi",
            issuer=GITHUB_ISSUER,
            identity_is_regexp=True,
            trusted_root=signed.standin.trusted_root(),
        )


def test_verify_rejects_a_bundle_from_another_instance(signed: Signed) -> None:
    with SigstoreStandin("elsewhere") as other, pytest.raises(SignatureInvalid) as caught:
        verify(
            signed.wheel,
            identity=IDENTITY,
            issuer=GITHUB_ISSUER,
            trusted_root=other.trusted_root(),
        )
    assert "another sigstore instance" in caught.value.message


def test_verify_reports_a_missing_or_malformed_bundle(signed: Signed, tmp_path: Path) -> None:
    lonely = Path(shutil.copy2(signed.wheel, tmp_path))
    root = signed.standin.trusted_root()
    with pytest.raises(SignatureInvalid, match="has no sigstore bundle") as caught:
        verify(lonely, identity=IDENTITY, issuer=GITHUB_ISSUER, trusted_root=root)
    assert "nox -s sign" in caught.value.hint
    bundle_path(lonely).write_text('{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}')
    with pytest.raises(SignatureInvalid, match="is malformed"):
        verify(lonely, identity=IDENTITY, issuer=GITHUB_ISSUER, trusted_root=root)


def test_verify_takes_a_bundle_from_elsewhere(signed: Signed, tmp_path: Path) -> None:
    bundle = Path(shutil.copy2(bundle_path(signed.sdist), tmp_path / "any-name.json"))
    root = signed.standin.trusted_root()
    verify(signed.sdist, identity=IDENTITY, issuer=GITHUB_ISSUER, bundle=bundle, trusted_root=root)
    with pytest.raises(SignatureInvalid, match="is not the file that was signed"):
        verify(
            signed.wheel, identity=IDENTITY, issuer=GITHUB_ISSUER, bundle=bundle, trusted_root=root
        )


def test_verify_files_fills_the_identity_template(signed: Signed) -> None:
    config = SigningConfig(
        identity="https://github.com/oxi-dev/oxi/.github/workflows/release.yml@refs/tags/{tag}",
        issuer=GITHUB_ISSUER,
    )
    root = signed.standin.trusted_root()
    evidence = verify_files(
        signed.files, config, name="oxi-core", version="0.1.0a1", tag="v0.1.0a1", trusted_root=root
    )
    assert len(evidence) == 2
    assert [line.split(":")[0] for line in evidence] == [f.name for f in signed.files]
    assert all(repr(IDENTITY) in line for line in evidence)
    with pytest.raises(SignatureInvalid, match=re.escape("refs/tags/v0.1.0a2")):
        verify_files(
            signed.files,
            config,
            name="oxi-core",
            version="0.1.0a2",
            tag="v0.1.0a2",
            trusted_root=root,
        )


def test_verify_files_escapes_template_fields_in_a_regexp(signed: Signed) -> None:
    config = SigningConfig(
        identity=r"https://github\.com/oxi-dev/oxi/\.github/workflows/[a-z]+\.yml@refs/tags/{tag}",
        issuer=GITHUB_ISSUER,
        identity_is_regexp=True,
    )
    root = signed.standin.trusted_root()
    verify_files(
        signed.files, config, name="oxi-core", version="0.1.0a1", tag="v0.1.0a1", trusted_root=root
    )
    # "." in the tag is a literal dot, not "any character"
    with pytest.raises(SignatureInvalid):
        verify_files(
            signed.files,
            config,
            name="oxi-core",
            version="0x1x0a1",
            tag="v0x1x0a1",
            trusted_root=root,
        )


def test_check_downloaded_compares_what_the_index_served(signed: Signed, tmp_path: Path) -> None:
    config = SigningConfig(identity=IDENTITY, issuer=GITHUB_ISSUER)
    served = tmp_path / "download.bin"
    shutil.copy2(signed.wheel, served)
    root = signed.standin.trusted_root()
    line = check_downloaded(
        served,
        expected_name=signed.wheel.name,
        signing=config,
        bundle_dir=signed.wheel.parent,
        name="oxi-core",
        version="0.1.0a1",
        tag="v0.1.0a1",
        trusted_root=root,
    )
    assert signed.wheel.name in line
    served.write_bytes(b"PK not the wheel we published")
    with pytest.raises(SignatureInvalid, match="the index served"):
        check_downloaded(
            served,
            expected_name=signed.wheel.name,
            signing=config,
            bundle_dir=signed.wheel.parent,
            name="oxi-core",
            version="0.1.0a1",
            tag="v0.1.0a1",
            trusted_root=root,
        )


def test_sign_with_an_email_identity_from_the_environment(
    sigstore_standin: SigstoreStandin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("oxi 0.1.0a1\n")
    monkeypatch.setenv(
        "SIGSTORE_IDENTITY_TOKEN", str(sigstore_standin.email_token("ada@oxi.invalid"))
    )
    [bundle] = sign_files([notes], trust_config=sigstore_standin.trust_config())
    assert bundle == tmp_path / "notes.txt.sigstore.json"
    root = sigstore_standin.trusted_root()
    verify(notes, identity="ada@oxi.invalid", issuer=EMAIL_ISSUER, trusted_root=root)
    with pytest.raises(SignatureInvalid, match="issuer"):
        verify(
            notes,
            identity="ada@oxi.invalid",
            issuer="https://oauth2.sigstore.dev/auth",
            trusted_root=root,
        )


def test_sign_refuses_when_the_trust_root_is_not_the_services(
    sigstore_standin: SigstoreStandin, tmp_path: Path
) -> None:
    file = tmp_path / "a.txt"
    file.write_text("a")
    with SigstoreStandin("elsewhere") as other:
        mixed = json.loads(sigstore_standin.trust_config_json())
        mixed["trustedRoot"] = other.trusted_root_json()
        with pytest.raises(
            SigningError, match=re.escape("sigstore could not sign 'a.txt'")
        ) as caught:
            sign_files(
                [file],
                token=sigstore_standin.github_token(),
                trust_config=ClientTrustConfig.from_json(json.dumps(mixed)),
            )
    assert "different sigstore instances" in caught.value.hint
    assert not bundle_path(file).exists()


def test_sign_reports_a_refused_token_without_leaking_it(
    sigstore_standin: SigstoreStandin, tmp_path: Path
) -> None:
    file = tmp_path / "a.txt"
    file.write_text("a")
    forged = sigstore_standin.raw_token(
        issuer=GITHUB_ISSUER,
        subject="repo:mallory/oxi:ref:refs/heads/main",
        key=ec.generate_private_key(ec.SECP256R1()),
        job_workflow_ref="mallory/oxi/.github/workflows/release.yml@refs/heads/main",
    )
    with pytest.raises(SigningError) as caught:
        sign_files(
            [file], token=IdentityToken(forged), trust_config=sigstore_standin.trust_config()
        )
    assert "sigstore could not sign 'a.txt'" in caught.value.message
    assert "HTTP 401" in caught.value.message  # what the stand-in's Fulcio answered
    assert forged not in caught.value.render()
    assert not bundle_path(file).exists()


def test_a_bundle_that_does_not_verify_at_once_is_not_kept(tmp_path: Path) -> None:
    file = tmp_path / "a.txt"
    file.write_text("a")
    with SigstoreStandin("misissuing") as standin:
        standin.issuer_override = "https://issuer.mallory.invalid"
        with pytest.raises(SigningError, match="does not verify") as caught:
            sign_files([file], token=standin.github_token(), trust_config=standin.trust_config())
    assert "'https://issuer.mallory.invalid'" in caught.value.message
    assert not bundle_path(file).exists()


def test_sign_refuses_a_missing_file(sigstore_standin: SigstoreStandin, tmp_path: Path) -> None:
    with pytest.raises(SigningError, match="no such file") as caught:
        sign_files(
            [tmp_path / "oxi_core-9.9.9.tar.gz"],
            token=sigstore_standin.github_token(),
            trust_config=sigstore_standin.trust_config(),
        )
    assert "nox -s build" in caught.value.hint


def test_certificate_identity_follows_fulcio(sigstore_standin: SigstoreStandin) -> None:
    assert certificate_identity(sigstore_standin.github_token()) == IDENTITY
    assert (
        certificate_identity(sigstore_standin.email_token("ada@oxi.invalid")) == "ada@oxi.invalid"
    )
    spiffe = sigstore_standin.raw_token(
        issuer="https://spiffe.oxi.invalid", subject="spiffe://oxi/ci"
    )
    assert certificate_identity(IdentityToken(spiffe)) is None  # unknown rule: not guessed


# --- PEP 740 attestations with the stand-in ----------------------------------------


@pytest.fixture(scope="module")
def attested(
    oxi_dists: tuple[Path, Path],
    sigstore_standin: SigstoreStandin,
    tmp_path_factory: pytest.TempPathFactory,
) -> list[Path]:
    here = tmp_path_factory.mktemp("attested")
    dists = [Path(shutil.copy2(f, here)) for f in oxi_dists]
    made = make_attestations(
        dists, token=sigstore_standin.github_token(), trust_config=sigstore_standin.trust_config()
    )
    assert made == [attestation_path(d) for d in dists]
    return dists


def test_make_attestations_verify_for_the_publishing_repository(
    attested: list[Path], sigstore_standin: SigstoreStandin
) -> None:
    root = sigstore_standin.trusted_root()
    for dist in attested:
        statement = json.loads(attestation_path(dist).read_text())
        assert statement["version"] == 1
        verify_attestation(
            dist,
            attestation_path(dist),
            publisher_repository="oxi-dev/oxi",
            publisher_workflow="release.yml",
            trusted_root=root,
        )


def test_attestation_rejects_another_repository_or_workflow(
    attested: list[Path], sigstore_standin: SigstoreStandin
) -> None:
    root = sigstore_standin.trusted_root()
    dist = attested[1]
    with pytest.raises(
        SignatureInvalid, match=re.escape("repository 'https://github.com/oxi-dev/oxi'")
    ):
        verify_attestation(
            dist,
            attestation_path(dist),
            publisher_repository="mallory/oxi",
            publisher_workflow="release.yml",
            trusted_root=root,
        )
    with pytest.raises(SignatureInvalid, match="workflow"):
        verify_attestation(
            dist,
            attestation_path(dist),
            publisher_repository="oxi-dev/oxi",
            publisher_workflow="nightly.yml",
            trusted_root=root,
        )


def test_an_attestation_made_by_another_workflow_of_the_repository_is_refused(
    oxi_dists: tuple[Path, Path], sigstore_standin: SigstoreStandin, tmp_path: Path
) -> None:
    """A valid attestation from the same repository's other workflow (say, one a pull
    request can trigger) is not the trusted publisher's: PyPI would refuse it too."""
    wheel = Path(shutil.copy2(oxi_dists[1], tmp_path))
    make_attestations(
        [wheel],
        token=sigstore_standin.github_token(workflow="nightly.yml", ref="refs/heads/main"),
        trust_config=sigstore_standin.trust_config(),
    )
    with pytest.raises(SignatureInvalid, match="was published from workflow") as caught:
        verify_attestation(
            wheel,
            attestation_path(wheel),
            publisher_repository="oxi-dev/oxi",
            publisher_workflow="release.yml",
            trusted_root=sigstore_standin.trusted_root(),
        )
    assert "nightly.yml@refs/heads/main" in caught.value.message
    assert "trusted publisher" in caught.value.hint


def test_attestation_rejects_a_tampered_dist(
    attested: list[Path], sigstore_standin: SigstoreStandin, tmp_path: Path
) -> None:
    dist = Path(shutil.copy2(attested[0], tmp_path))
    dist.write_bytes(dist.read_bytes() + b"\0")
    with pytest.raises(SignatureInvalid, match="is not the file that was attested"):
        verify_attestation(
            dist,
            attestation_path(attested[0]),
            publisher_repository="oxi-dev/oxi",
            publisher_workflow="release.yml",
            trusted_root=sigstore_standin.trusted_root(),
        )


def test_attestation_is_for_one_file_only(
    attested: list[Path], sigstore_standin: SigstoreStandin
) -> None:
    sdist, wheel = attested
    with pytest.raises(SignatureInvalid, match="the attestation is for"):
        verify_attestation(
            wheel,
            attestation_path(sdist),
            publisher_repository="oxi-dev/oxi",
            publisher_workflow="release.yml",
            trusted_root=sigstore_standin.trusted_root(),
        )


def test_make_attestations_refuses_a_file_that_is_not_a_dist(
    sigstore_standin: SigstoreStandin, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    with pytest.raises(SigningError, match="not a wheel or sdist"):
        make_attestations(
            [notes],
            token=sigstore_standin.github_token(),
            trust_config=sigstore_standin.trust_config(),
        )


# --- identity tokens ---------------------------------------------------------------


def test_identity_token_prefers_the_environment(
    sigstore_standin: SigstoreStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    ambient = sigstore_standin.github_raw_token(repository="ci/ambient")
    monkeypatch.setattr(sigstore_standin, "ambient_token", ambient)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", sigstore_standin.url + "/github-oidc")
    monkeypatch.setenv(
        "SIGSTORE_IDENTITY_TOKEN", str(sigstore_standin.email_token("env@oxi.invalid"))
    )
    assert identity_token(interactive=False).identity == "env@oxi.invalid"


def test_identity_token_uses_ambient_ci_credentials(
    sigstore_standin: SigstoreStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    ambient = sigstore_standin.github_raw_token(repository="ci/ambient")
    monkeypatch.setattr(sigstore_standin, "ambient_token", ambient)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", sigstore_standin.url + "/github-oidc")
    token = identity_token(interactive=False)
    assert token.issuer == GITHUB_ISSUER
    assert certificate_identity(token) == SigstoreStandin.github_identity(repository="ci/ambient")


def test_identity_token_explains_missing_ci_permission(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")  # but no id-token: write
    with pytest.raises(SigningError) as caught:
        identity_token(interactive=False)
    assert "id-token: write" in caught.value.hint


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_identity_token_names_the_three_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    # a terminal, but the caller did not allow the browser: the core never decides it
    monkeypatch.setattr(sys, "stdin", _Terminal())
    with pytest.raises(SigningError) as caught:
        identity_token(interactive=False)
    message, hint = caught.value.message, caught.value.hint
    assert "no sigstore identity token found" in message
    for way in ("SIGSTORE_IDENTITY_TOKEN", "id-token: write", "browser"):
        assert way in hint


def test_a_malformed_token_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGSTORE_IDENTITY_TOKEN", "not-a-jwt-secret-value")
    with pytest.raises(SigningError) as caught:
        identity_token(interactive=False)
    assert "SIGSTORE_IDENTITY_TOKEN" in caught.value.message
    assert "not-a-jwt-secret-value" not in caught.value.render()


# --- real production and staging bundles (shared fixtures) -------------------------


@dataclass(frozen=True)
class Case:
    folder: str
    artifact: str
    identity: str
    issuer: str
    staging: bool

    @property
    def path(self) -> Path:
        return FIXTURES / self.folder / self.artifact


CASES = [
    Case(
        "prod-gha-wheel",
        "rfc8785-0.1.2-py3-none-any.whl",
        "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2",
        GITHUB_ISSUER,
        False,
    ),
    Case(
        "prod-conformance",
        "a.txt",
        "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
        ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
        GITHUB_ISSUER,
        False,
    ),
    Case("staging-email", "bundle_v3.txt", "william@yossarian.net", EMAIL_ISSUER, True),
    Case("staging-rekor-v2-tsa", "staging-rekor-v2.txt", "jku@goto.fi", EMAIL_ISSUER, True),
]
CVE = Case(
    "negative-cve-2022-36056",
    "bundle_cve_2022_36056.txt",
    "william@yossarian.net",
    EMAIL_ISSUER,
    True,
)


@pytest.fixture
def fixtures(sigstore_fixtures: Path) -> Path:
    """The shared sigstore fixtures (conftest: skipped where absent, unless required)."""
    return sigstore_fixtures


@pytest.mark.parametrize("case", CASES, ids=[c.folder for c in CASES])
def test_real_bundles_verify_offline(fixtures: Path, case: Case) -> None:
    verify(
        case.path, identity=case.identity, issuer=case.issuer, staging=case.staging, offline=True
    )


@pytest.mark.parametrize("case", CASES, ids=[c.folder for c in CASES])
def test_real_bundles_are_rejected_by_the_other_instance(fixtures: Path, case: Case) -> None:
    with pytest.raises(SignatureInvalid, match="another sigstore instance"):
        verify(
            case.path,
            identity=case.identity,
            issuer=case.issuer,
            staging=not case.staging,
            offline=True,
        )


@pytest.mark.parametrize("case", [CASES[0], CASES[2]], ids=["production", "staging"])
def test_real_bundles_reject_a_tampered_artifact(
    fixtures: Path, case: Case, tmp_path: Path
) -> None:
    artifact = copy_signed(case.path, tmp_path / "copy")
    artifact.write_bytes(artifact.read_bytes() + b"\n")
    with pytest.raises(SignatureInvalid, match="is not the file that was signed"):
        verify(
            artifact, identity=case.identity, issuer=case.issuer, staging=case.staging, offline=True
        )


def test_real_bundle_rejects_wrong_identity_and_issuer(fixtures: Path) -> None:
    case = CASES[0]
    with pytest.raises(SignatureInvalid, match="not by the expected identity") as caught:
        verify(
            case.path,
            identity=case.identity.replace("v0.1.2", "v0.1.3"),
            issuer=case.issuer,
            offline=True,
        )
    assert repr(case.identity) in caught.value.message
    with pytest.raises(SignatureInvalid, match="from issuer"):
        verify(case.path, identity=case.identity, issuer=EMAIL_ISSUER, offline=True)


def test_real_bundle_with_an_identity_regexp(fixtures: Path) -> None:
    case = CASES[0]
    trailofbits = (
        r"https://github\.com/trailofbits/rfc8785\.py/\.github/workflows/release\.yml@refs/tags/v.*"
    )
    verify(
        case.path, identity=trailofbits, issuer=case.issuer, identity_is_regexp=True, offline=True
    )
    with pytest.raises(SignatureInvalid, match="not by the expected identity"):
        verify(
            case.path,
            identity=r"https://github\.com/sigstore/.*",
            issuer=case.issuer,
            identity_is_regexp=True,
            offline=True,
        )


def test_real_bundle_with_an_explicit_trusted_root_file(fixtures: Path) -> None:
    case = CASES[0]
    production = fixtures / "trust" / "production.trusted_root.json"
    staging = fixtures / "trust" / "staging.trusted_root.json"
    verify(case.path, identity=case.identity, issuer=case.issuer, trusted_root=production)
    with pytest.raises(SignatureInvalid, match="another sigstore instance"):
        verify(case.path, identity=case.identity, issuer=case.issuer, trusted_root=staging)


def test_cve_2022_36056_bundle_is_rejected(fixtures: Path) -> None:
    with pytest.raises(SignatureInvalid, match="transparency-log entry") as caught:
        verify(CVE.path, identity=CVE.identity, issuer=CVE.issuer, staging=True, offline=True)
    assert "CVE-2022-36056" in caught.value.hint


PEP740 = FIXTURES / "prod-pep740-sdist" / "pypi_attestations-0.0.19.tar.gz"


# None: pypi_attestations.Attestation.verify under sigstore production, as PyPI does;
# the file: releasekit's own verifier under that very root (the path a private
# sigstore deployment takes)
ROOTS = [None, "production.trusted_root.json"]


def _root(fixtures: Path, root: str | None) -> Path | None:
    return None if root is None else fixtures / "trust" / root


@pytest.mark.parametrize("root", ROOTS, ids=["pypi-attestations", "trusted-root"])
def test_real_pep740_attestation_verifies(fixtures: Path, root: str | None) -> None:
    verify_attestation(
        PEP740,
        attestation_path(PEP740),
        publisher_repository="trailofbits/pypi-attestations",
        publisher_workflow="release.yml",
        offline=True,
        trusted_root=_root(fixtures, root),
    )


@pytest.mark.parametrize("root", ROOTS, ids=["pypi-attestations", "trusted-root"])
def test_real_pep740_attestation_rejects_another_repository_or_workflow(
    fixtures: Path, root: str | None
) -> None:
    with pytest.raises(SignatureInvalid, match="trailofbits/pypi-attestations"):
        verify_attestation(
            PEP740,
            attestation_path(PEP740),
            publisher_repository="mallory/pypi-attestations",
            publisher_workflow="release.yml",
            offline=True,
            trusted_root=_root(fixtures, root),
        )
    with pytest.raises(SignatureInvalid, match="was published from workflow"):
        verify_attestation(
            PEP740,
            attestation_path(PEP740),
            publisher_repository="trailofbits/pypi-attestations",
            publisher_workflow="nightly.yml",
            offline=True,
            trusted_root=_root(fixtures, root),
        )


@pytest.mark.parametrize("workflow", ["release.yml", "nightly.yml"])
def test_the_publisher_rule_is_pypi_attestations_own(fixtures: Path, workflow: str) -> None:
    """releasekit and pypi_attestations.GitHubPublisher (PyPI's rule) agree on a real one."""
    attestation = Attestation.model_validate_json(attestation_path(PEP740).read_text())
    publisher = GitHubPublisher(repository="trailofbits/pypi-attestations", workflow=workflow)
    try:
        attestation.verify(publisher, Distribution.from_file(PEP740), offline=True)
    except AttestationVerificationError:
        pypi_accepts = False
    else:
        pypi_accepts = True
    try:
        verify_attestation(
            PEP740,
            attestation_path(PEP740),
            publisher_repository="trailofbits/pypi-attestations",
            publisher_workflow=workflow,
            offline=True,
        )
    except SignatureInvalid:
        releasekit_accepts = False
    else:
        releasekit_accepts = True
    assert (pypi_accepts, releasekit_accepts) == (workflow == "release.yml",) * 2


def test_real_pep740_attestation_rejects_a_tampered_dist(fixtures: Path, tmp_path: Path) -> None:
    dist = Path(shutil.copy2(PEP740, tmp_path))
    dist.write_bytes(dist.read_bytes() + b"\0")
    with pytest.raises(SignatureInvalid, match="is not the file that was attested"):
        verify_attestation(
            dist,
            attestation_path(PEP740),
            publisher_repository="trailofbits/pypi-attestations",
            publisher_workflow="release.yml",
            offline=True,
        )


def test_real_pep740_attestation_is_production_only(fixtures: Path) -> None:
    with pytest.raises(SignatureInvalid, match="another sigstore instance"):
        verify_attestation(
            PEP740,
            attestation_path(PEP740),
            publisher_repository="trailofbits/pypi-attestations",
            publisher_workflow="release.yml",
            staging=True,
            offline=True,
        )


# --- live ----------------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.skipif(
    not (_LIVE_TOKEN and os.environ.get("RELEASEKIT_LIVE_SIGSTORE") == "1"),
    reason="needs SIGSTORE_IDENTITY_TOKEN and RELEASEKIT_LIVE_SIGSTORE=1",
)
def test_live_sign_and_verify(tmp_path: Path) -> None:
    """Sign with the real sigstore (staging with RELEASEKIT_LIVE_SIGSTORE_STAGING=1)."""
    staging = os.environ.get("RELEASEKIT_LIVE_SIGSTORE_STAGING") == "1"
    file = tmp_path / "releasekit-live.txt"
    file.write_text("releasekit live signing test\n")
    token = IdentityToken(_LIVE_TOKEN)
    sign_files([file], token=token, staging=staging)
    identity = certificate_identity(token) or token.identity
    verify(file, identity=identity, issuer=token.federated_issuer, staging=staging)


# --- verify checks what the index serves against the bundles ---------------------------


def test_verify_checks_each_served_file_against_its_bundle(
    signed: Signed, pypiserver: PypiServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from releasekit.signing import bundle_check
    from releasekit.verify import verify_published

    config = SigningConfig(identity=IDENTITY, issuer=GITHUB_ISSUER)
    root = signed.standin.trusted_root()
    pypiserver.put(signed.wheel)
    hook = bundle_check(
        config, bundle_dir=signed.wheel.parent, name="oxi-core", version="0.1.0a1",
        tag="v0.1.0a1", trusted_root=root,
    )  # fmt: skip
    assert hook is not None
    caplog.set_level("INFO", logger="releasekit")
    report = verify_published(
        pypiserver.index, "oxi-core", "0.1.0a1", console_scripts=("oxi",), kinds=("wheel",),
        timeout=120, before_install=hook,
    )  # fmt: skip
    assert any("oxi 0.1.0a1" in line for line in report.lines)
    assert f"{signed.wheel.name} as served by the index matches its sigstore bundle" in caplog.text

    # the index now serves other bytes under the same name: refused before install
    impostor = tmp_path / signed.wheel.name
    shutil.copy2(signed.wheel, impostor)
    with impostor.open("ab") as stream:
        stream.write(b"\0")
    (pypiserver.directory / signed.wheel.name).unlink()
    pypiserver.put(impostor)
    with pytest.raises(SignatureInvalid, match="the index served"):
        verify_published(
            pypiserver.index, "oxi-core", "0.1.0a1", console_scripts=("oxi",),
            kinds=("wheel",), timeout=120, before_install=hook,
        )  # fmt: skip


def test_bundle_check_is_off_without_config_or_bundles(signed: Signed, tmp_path: Path) -> None:
    from releasekit.signing import bundle_check

    config = SigningConfig(identity=IDENTITY, issuer=GITHUB_ISSUER)
    here = signed.wheel.parent
    assert bundle_check(None, bundle_dir=here, name="oxi-core", version="0.1.0a1", tag="t") is None
    # an unsigned release: no bundles where they would be
    assert (
        bundle_check(config, bundle_dir=tmp_path, name="oxi-core", version="0.1.0a1", tag="t")
        is None
    )
    # bundles of another version do not count
    assert bundle_check(config, bundle_dir=here, name="oxi-core", version="9.9", tag="t") is None
