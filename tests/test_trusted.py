"""Trusted publishing end to end: Actions OIDC token, the index's exchange, the upload."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from releasekit.config import IndexConfig
from releasekit.errors import CredentialsError, SigningError
from releasekit.publish import publish, upload_credentials
from releasekit.signing import attestation_path, make_attestations
from releasekit.trusted import actions_oidc_token, mint_upload_token, token_claims
from tests.sigstore_standin import (  # noqa: F401 - registers the sigstore_standin fixture
    sigstore_standin_fixture,
)

if TYPE_CHECKING:
    from tests.oidc_standin import OidcStandIn
    from tests.pypiserver_fixtures import Dists
    from tests.sigstore_standin import SigstoreStandin

pytest_plugins = ["tests.pypiserver_fixtures", "tests.oidc_standin"]


@pytest.fixture
def in_actions(oidc: OidcStandIn, monkeypatch: pytest.MonkeyPatch) -> IndexConfig:
    """A GitHub Actions job with `id-token: write`, publishing to an index that trusts it."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", f"{oidc.url}/token?api-version=2.0")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", oidc.request_token)
    monkeypatch.setenv("RELEASEKIT_TRUSTED_PUBLISHING", "1")
    return IndexConfig("warehouse", f"{oidc.url}/", oidc.pypiserver.index.simple_url)


def test_publish_exchanges_the_jobs_identity_and_uploads_with_the_minted_token(
    in_actions: IndexConfig, oidc: OidcStandIn, oxi_dists: Dists
) -> None:
    assert upload_credentials(in_actions).password is None  # trusted publishing: no secret
    result = publish(in_actions, oxi_dists.files, name="oxi-core", version="0.1.0a1")
    assert sorted(result.uploaded) == sorted(p.name for p in oxi_dists.files)
    assert set(oidc.pypiserver.listing()) == {p.name for p in oxi_dists.files}
    assert oidc.requests == [
        ("GET", "/_/oidc/audience"),
        ("GET", "/token"),
        ("POST", "/_/oidc/mint-token"),
        ("POST", "/"),  # each file, with the minted token (the front refuses any other)
        ("POST", "/"),
    ]


def test_the_token_is_asked_for_the_audience_the_index_names(
    in_actions: IndexConfig, oidc: OidcStandIn
) -> None:
    oidc.audience = "testpypi"
    assert token_claims(actions_oidc_token("testpypi"))["aud"] == "testpypi"
    assert mint_upload_token(in_actions) == oidc.minted


def test_a_publisher_mismatch_names_what_to_configure_and_uploads_nothing(
    in_actions: IndexConfig, oidc: OidcStandIn, oxi_dists: Dists
) -> None:
    oidc.publisher.environment = "release"  # registered on the index; the job runs in "pypi"
    with pytest.raises(CredentialsError) as caught:
        publish(in_actions, oxi_dists.files, name="oxi-core", version="0.1.0a1")
    error = caught.value
    assert error.message == (
        "trusted publishing to 'warehouse' failed: the index refused this job's identity "
        "(HTTP 422: valid token, but no corresponding publisher (All lookup strategies "
        "exhausted))"
    )
    assert "owner, repository, workflow file and environment" in error.hint
    assert (
        "this job: owner 'acme', repository 'oxi', workflow 'release.yml', environment 'pypi'"
    ) in error.hint
    assert oidc.pypiserver.listing() == {}
    assert ("POST", "/") not in oidc.requests


def test_without_id_token_permission_the_error_says_so(
    in_actions: IndexConfig, oxi_dists: Dists, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_URL")
    with pytest.raises(CredentialsError, match="ACTIONS_ID_TOKEN_REQUEST_URL") as caught:
        publish(in_actions, oxi_dists.files, name="oxi-core", version="0.1.0a1")
    assert "id-token: write" in caught.value.hint


def test_a_refused_request_token_and_an_index_without_the_exchange(
    in_actions: IndexConfig, oidc: OidcStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "stale")
    with pytest.raises(CredentialsError, match=r"gave no OIDC token \(HTTP 401\)"):
        mint_upload_token(in_actions)
    plain = IndexConfig("plain", oidc.pypiserver.index.upload_url, None)
    with pytest.raises(CredentialsError, match="'plain' does not offer trusted publishing"):
        mint_upload_token(plain)


# --- PEP 740 attestations: sent only under trusted publishing, to PyPI or TestPyPI ----


@pytest.fixture
def testpypi(in_actions: IndexConfig) -> IndexConfig:
    """The stand-in index under the name of an index that takes attestations."""
    return IndexConfig("testpypi", in_actions.upload_url, in_actions.simple_url)


def test_attestations_go_with_each_dist_under_trusted_publishing(
    testpypi: IndexConfig,
    oidc: OidcStandIn,
    oxi_dists: Dists,
    sigstore_standin: SigstoreStandin,
    tmp_path: Path,
) -> None:
    dists = [Path(shutil.copy2(f, tmp_path)) for f in oxi_dists.files]
    make_attestations(
        dists, token=sigstore_standin.github_token(), trust_config=sigstore_standin.trust_config()
    )
    result = publish(testpypi, dists, name="oxi-core", version="0.1.0a1", attestations=True)
    assert sorted(result.uploaded) == sorted(p.name for p in dists)
    assert set(oidc.pypiserver.listing()) == {p.name for p in dists}  # the dists alone
    sent = {form["content"][0]: form for form in oidc.uploads}  # twine sends the file's bytes
    assert len(sent) == len(dists)
    for dist in dists:
        (attestations,) = sent[dist.read_bytes()]["attestations"]
        assert json.loads(attestations) == [json.loads(attestation_path(dist).read_text())]


def test_attestations_asked_for_but_not_made_stop_before_any_upload(
    testpypi: IndexConfig, oidc: OidcStandIn, oxi_dists: Dists
) -> None:
    with pytest.raises(SigningError) as caught:
        publish(testpypi, oxi_dists.files, name="oxi-core", version="0.1.0a1", attestations=True)
    assert "no attestation beside" in str(caught.value)
    assert "run `nox -s sign` first" in caught.value.hint
    assert oidc.uploads == [] and oidc.pypiserver.listing() == {}
