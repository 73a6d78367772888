"""Stored images are read from a spooled file, not whole into memory (issue #9, item 3).

The analysis worker, the prior-art check, thumbnails and Content Credentials (the signed copy
and the upload's own manifest) copy a stored image into a spool, on disk past 1 MiB, and read
it from there. These tests store images larger than the spool's memory part, make the blob
store refuse whole reads, and check that every reader still finds what is in the file.
"""

from __future__ import annotations

import io
from typing import Any, NoReturn

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from hallmark.services import analysis, credentials, registry, similarity, thumbnails
from hallmark.services.instance import Instance, c2pa_chain_files
from hallmark.storage import spool
from hallmark.storage.models import Analysis, Work
from tests.analysis.helpers_c2pa import make_ca, sign
from tests.analysis.test_image_detectors import A1111_PARAMETERS
from tests.conftest import add_user
from tests.services.helpers_credentials import active, read
from tests.services.test_analysis import work_row


def noise_png(seed: int, side: int = 800, **text: str) -> bytes:
    """A PNG of random pixels (it barely compresses, so it is over 1 MiB) with text chunks."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(side, side, 3), dtype=np.uint8)
    info = PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", compress_level=1, pnginfo=info)
    data = out.getvalue()
    assert len(data) > spool.IN_MEMORY_BYTES
    return data


def register(inst: Instance, data: bytes, handle: str = "ines") -> registry.Registration:
    return registry.register_work(
        inst,
        creator_id=add_user(inst, handle),
        data=data,
        title="Salt marsh",
        declare="human-made",
    )


@pytest.fixture
def no_whole_reads(instance: Instance, monkeypatch: pytest.MonkeyPatch) -> Instance:
    """The instance with the image detectors, and a blob store that fails any reader asking
    for a whole file."""
    instance.settings = instance.settings.model_copy(
        update={"detectors": ["c2pa", "image-metadata", "watermark"], "similarity_index": "memory"}
    )

    def whole(key: str) -> NoReturn:
        raise AssertionError(f"blob {key[:12]} was read whole")

    monkeypatch.setattr(instance.blobs, "get", whole)
    return instance


def findings_of(inst: Instance, analysis_id: str) -> dict[str, dict[str, Any]]:
    with inst.db.session() as session:
        row = session.get(Analysis, analysis_id)
        assert row is not None and row.status == "done", row and row.status
        found = {f["detector"]: f for f in row.findings or []}
        assert found, row.findings
        return found


def test_the_analysis_reads_a_large_image_from_its_spool(no_whole_reads: Instance) -> None:
    instance = no_whole_reads
    reg = register(instance, noise_png(1, parameters=A1111_PARAMETERS))
    analysis_id = analysis.enqueue(instance, reg.work_id)
    analysis.wait_idle(instance)

    found = findings_of(instance, analysis_id)
    # The generator's settings sit in a PNG text chunk: found by decoding the spooled file.
    metadata = found["image-metadata"]
    assert metadata["verdict"] == "contradicts", metadata["explanation"]
    assert "AUTOMATIC1111" in metadata["explanation"]
    # The watermark decoder read all 800x800 pixels (a smaller image is not checked).
    assert found["watermark"]["details"]["checked"] is True
    assert found["c2pa"]["details"]["manifest"] is False
    assert work_row(instance, reg.work_id).review_status == "pending"


def test_thumbnail_and_fingerprint_of_a_large_image_come_from_its_spool(
    no_whole_reads: Instance,
) -> None:
    inst = no_whole_reads
    data = noise_png(2)
    reg = register(inst, data)
    work = work_row(inst, reg.work_id)
    thumb = thumbnails.thumbnail(inst, work)
    with Image.open(io.BytesIO(thumb.data)) as small:
        assert small.format == "WEBP" and max(small.size) == thumbnails.SIZE

    # Fingerprinted from its stored file, the work is found again under a resized copy.
    assert similarity.check_work(inst, reg.work_id) is not None
    with Image.open(io.BytesIO(data)) as image:
        out = io.BytesIO()
        image.resize((600, 600)).save(out, format="PNG")
    copy = register(inst, out.getvalue(), handle="teo")
    finding = similarity.check_work(inst, copy.work_id)
    assert finding is not None and finding.verdict == "contradicts", finding
    assert [m["work_id"] for m in finding.details["matches"]] == [reg.work_id]


def test_content_credentials_of_a_large_image_are_read_and_kept_from_its_spool(
    no_whole_reads: Instance,
) -> None:
    inst = no_whole_reads
    ca = make_ca()
    signed = sign(ca, "image/png", noise_png(3), "digitalCapture")
    reg = register(inst, signed)
    with inst.db.session() as session:
        work = session.get(Work, reg.work_id)
        assert work is not None
        summary = credentials.upload_credentials(inst, work)
        copy = credentials.credentialed_copy(inst, work)
    assert summary is not None and summary["readable"] is True
    assert [a["source_type"] for a in summary["actions"]] == ["digitalCapture"]

    # The upload's manifest, read from the spool, is kept as the signed copy's parent.
    assert copy.has_parent
    root = c2pa_chain_files(inst.settings).root_certificate.read_text("ascii")
    state, store = read(copy.data, "image/png", root)
    assert state == "Trusted", store["validation_results"]
    assert any(i.get("relationship") == "parentOf" for i in active(store)["ingredients"])
