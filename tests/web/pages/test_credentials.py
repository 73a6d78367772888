"""Content Credentials on the work page (issue #6, items 1 and 2): the download link, the
download itself, and the claims of a manifest the upload already carried."""

from __future__ import annotations

from hallmark.services.instance import c2pa_chain_files
from tests.analysis.helpers_c2pa import make_ca, sign
from tests.services.helpers_credentials import active, assertion, image_bytes, read
from tests.web.conftest import HTML, Web

LINK = "Download with Content Credentials"


def test_an_image_work_page_offers_the_credentialed_download(web: Web) -> None:
    work_id = web.register("alice", image_bytes("image/png", seed=31), filename="a.png")["work_id"]
    page = web.client.get(f"/works/{work_id}", headers=HTML)
    assert page.status_code == 200
    assert f'href="/works/{work_id}/file?credentials=c2pa"' in page.text and LINK in page.text
    # An upload without a manifest has no claims to show.
    assert "Content Credentials in the uploaded file" not in page.text

    response = web.client.get(f"/works/{work_id}/file?credentials=c2pa", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    root = c2pa_chain_files(web.inst.settings).root_certificate.read_text("ascii")
    state, store = read(response.content, "image/png", root)
    assert state == "Trusted"
    assert assertion(active(store), "c2pa.actions")["actions"][0]["action"] == "c2pa.created"


def test_a_text_work_page_does_not_offer_it_and_the_url_explains(web: Web) -> None:
    work_id = web.register("alice")["work_id"]
    page = web.client.get(f"/works/{work_id}", headers=HTML)
    assert LINK not in page.text
    refused = web.client.get(f"/works/{work_id}/file?credentials=c2pa", headers=HTML)
    assert refused.status_code == 400
    assert "images only" in refused.text


def test_a_private_work_page_download_is_not_found_for_others(web: Web) -> None:
    work_id = web.register(
        "alice", image_bytes("image/png", seed=32), filename="a.png", visibility="private"
    )["work_id"]
    response = web.client.get(f"/works/{work_id}/file?credentials=c2pa", headers=HTML)
    assert response.status_code == 404


def test_the_claims_of_an_uploads_manifest_are_shown(web: Web) -> None:
    upstream = make_ca()
    carried = sign(upstream, "image/png", image_bytes("image/png", seed=33), "digitalCapture")
    work_id = web.register("alice", carried, filename="photo.png")["work_id"]
    text = web.client.get(f"/works/{work_id}", headers=HTML).text
    assert "Content Credentials in the uploaded file" in text
    assert "Hallmark tests" in text  # claim generator and signer's organization
    assert "Hallmark test signer" in text
    assert "<code>c2pa.created</code>" in text and "<code>digitalCapture</code>" in text
    assert "captured by a camera or scanner" in text
    assert "the signer is not on this" in text  # valid, but the test CA is not trusted here

    # The credentialed copy keeps that manifest as its parent ingredient.
    response = web.client.get(f"/works/{work_id}/file?credentials=c2pa", headers=HTML)
    root = c2pa_chain_files(web.inst.settings).root_certificate.read_text("ascii")
    state, store = read(response.content, "image/png", root)
    assert state == "Trusted"
    (ingredient,) = active(store)["ingredients"]
    assert ingredient["relationship"] == "parentOf"
