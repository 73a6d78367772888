"""The "How it was made" section of the work page and the drafts' files
(:mod:`hallmark.web.pages.stages`, ``_stages.html``)."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from hallmark.storage import spool
from tests.conftest import add_token
from tests.services.test_stages import DRAFT_1, FINAL, drawing
from tests.web.api.test_stages import upload_with_stages
from tests.web.conftest import HTML, Web, signup


@pytest.fixture
def clara(web: Web) -> Web:
    """Clara is signed in to the browser session and has an API token too."""
    signup(web.client, "clara")
    web.tokens["clara"] = add_token(web.inst, "clara")
    return web


def test_the_creator_sees_each_step_and_its_diff_escaped(clara: Web) -> None:
    draft = b"<script>alert(1)</script>\n" + DRAFT_1.encode()
    response = upload_with_stages(clara, FINAL.encode(), [("a.txt", draft)], handle="clara")
    work_id = response.json()["work_id"]
    page = clara.client.get(f"/works/{work_id}", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert "How it was made" in text and "Stage 1" in text
    assert "Stage 1 → final" in text and "+3 / \N{MINUS SIGN}2" in text
    assert "-&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>alert" not in text
    assert " style=" not in text


def test_others_see_the_figures_without_the_diff(clara: Web) -> None:
    draft = b"A secret first line.\n" + DRAFT_1.encode()
    response = upload_with_stages(clara, FINAL.encode(), [("a.txt", draft)], handle="clara")
    work_id = response.json()["work_id"]
    with TestClient(clara.client.app) as stranger:
        text = stranger.get(f"/works/{work_id}", headers=HTML).text
    assert "How it was made" in text and "Stage 1 → final" in text
    assert "A secret first line" not in text and "Diff:" not in text


def test_a_work_without_stages_has_no_section(clara: Web) -> None:
    work_id = clara.register("clara", FINAL.encode())["work_id"]
    assert "How it was made" not in clara.client.get(f"/works/{work_id}", headers=HTML).text


def test_image_stages_have_thumbnails_for_the_creator_only(clara: Web) -> None:
    drafts = [("a.png", drawing(0.25, size=64)), ("b.png", drawing(0.6, size=64))]
    response = upload_with_stages(clara, drawing(1.0, size=64), drafts, handle="clara")
    work_id = response.json()["work_id"]
    thumb = f"/works/{work_id}/stages/2/file"
    page = clara.client.get(f"/works/{work_id}", headers=HTML).text
    assert f'src="{thumb}"' in page and "distance to the final" in page

    own = clara.client.get(thumb)
    assert own.status_code == 200 and own.headers["content-type"] == "image/png"
    assert own.headers["cache-control"] == "private, no-store"
    assert "sandbox" in own.headers["content-security-policy"]
    assert own.content == drafts[1][1]
    assert Image.open(io.BytesIO(own.content)).size == (64, 64)

    with TestClient(clara.client.app) as stranger:
        assert thumb not in stranger.get(f"/works/{work_id}", headers=HTML).text
        assert "distance to the final" in stranger.get(f"/works/{work_id}", headers=HTML).text
        assert stranger.get(thumb).status_code == 404
    assert clara.client.get(f"/works/{work_id}/stages/3/file").status_code == 404


def test_the_upload_form_takes_earlier_drafts(clara: Web) -> None:
    from tests.web.conftest import csrf_of

    form = clara.client.get("/upload", headers=HTML)
    files = [
        ("file", ("final.txt", FINAL.encode(), "text/plain")),
        ("stage", ("draft1.txt", DRAFT_1.encode(), "text/plain")),
    ]
    response = clara.client.post(
        "/upload",
        data={"csrf_token": csrf_of(form), "title": "Grown", "declare": "human-made"},
        files=files,
        headers=HTML,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    work_id = response.headers["location"].rsplit("/", 1)[-1]
    progression = clara.client.get(f"/api/v1/works/{work_id}/stages", headers=clara.auth("clara"))
    assert progression.status_code == 200
    assert len(progression.json()["stages"]) == 1


def noise_png(seed: int, side: int = 800) -> bytes:
    """A PNG of random pixels: it barely compresses, so it is larger than the upload spool's
    memory part (1 MiB) and goes through a temporary file."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(side, side, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def test_large_files_go_in_and_come_out_in_chunks_byte_for_byte(clara: Web) -> None:
    work, draft = noise_png(1), noise_png(2)
    assert min(len(work), len(draft)) > spool.IN_MEMORY_BYTES
    response = upload_with_stages(clara, work, [("draft.png", draft)], handle="clara")
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["sha256"] == hashlib.sha256(work).hexdigest()
    work_id = answer["work_id"]

    stored = clara.client.get(f"/works/{work_id}/file")
    assert stored.content == work and stored.headers["content-length"] == str(len(work))
    served = clara.client.get(f"/works/{work_id}/stages/1/file")
    assert served.status_code == 200 and served.content == draft
    assert served.headers["content-length"] == str(len(draft))
    # The draft's size on the page comes from the stored file's header.
    assert "800\u00d7800 px" in clara.client.get(f"/works/{work_id}", headers=HTML).text
