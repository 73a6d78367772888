"""The image detectors (issue #4, item 3) on files the tests make themselves.

Generator metadata is written the way the front-ends write it; the watermark is embedded with
``invisible-watermark`` exactly as the Stable Diffusion reference script does; Content
Credentials are signed with a throwaway root CA and leaf (``helpers_c2pa``).
"""

from __future__ import annotations

import io
import json
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFilter
from PIL.PngImagePlugin import PngInfo

from hallmark.analysis import image_detectors
from hallmark.analysis.base import Detector, Finding, Verdict, WorkInput
from hallmark.analysis.image_detectors import (
    C2paDetector,
    ImageMetadataDetector,
    WatermarkDetector,
    hallmark_detectors,
)
from hallmark.core.labels import OriginLabel
from hallmark.errors import ConfigError
from hallmark.settings import Settings

from . import helpers_c2pa

HUMAN = OriginLabel.HUMAN_MADE
ASSISTED = OriginLabel.AI_ASSISTED
GENERATED = OriginLabel.AI_GENERATED

A1111_PARAMETERS = (
    "a lighthouse at dusk, oil painting\n"
    "Negative prompt: blurry\n"
    "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234, Size: 512x512, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly"
)
COMFYUI_PROMPT = {
    "3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20, "cfg": 8.0}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0"}},
}


# --- images --------------------------------------------------------------------------------


def photo(width: int = 512, height: int = 512, seed: int = 0) -> Image.Image:
    """A smooth, photo-like RGB image with a little sensor noise (no metadata at all)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack(
        [
            128 + 90 * np.sin(x / 97 + seed) * np.cos(y / 71),
            128 + 80 * np.cos(y / 53 + seed),
            128 + 70 * np.sin((x - y) / 81),
        ],
        axis=-1,
    )
    noisy = np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(noisy).filter(ImageFilter.GaussianBlur(0.8))


def encode(img: Image.Image, fmt: str, **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def png_with_text(**chunks: str) -> bytes:
    info = PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    return encode(photo(256, 256), "PNG", pnginfo=info)


def xmp_packet(source_type: str) -> str:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'Iptc4xmpExt:DigitalSourceType="{helpers_c2pa.IPTC}{source_type}"/>'
        "</rdf:RDF></x:xmpmeta>"
    )


def sd_watermarked(img: Image.Image) -> Image.Image:
    """What ``scripts/txt2img.py`` of Stable Diffusion does to every image it saves."""
    import cv2
    from imwatermark import WatermarkEncoder

    encoder = WatermarkEncoder()
    encoder.set_watermark("bytes", b"StableDiffusionV1")
    bgr = cv2.cvtColor(np.asarray(img.convert("RGB")), cv2.COLOR_RGB2BGR)
    marked = encoder.encode(bgr, "dwtDct")
    return Image.fromarray(cv2.cvtColor(marked, cv2.COLOR_BGR2RGB))


def work(data: bytes, media_type: str, declared: OriginLabel = HUMAN) -> WorkInput:
    return WorkInput(kind="image", media_type=media_type, data=data, declared=declared)


def exif_jpeg(software: str) -> bytes:
    exif = Image.Exif()
    exif[0x0131] = software
    return encode(photo(320, 240), "JPEG", quality=92, exif=exif)


# --- image-metadata ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def metadata() -> ImageMetadataDetector:
    return ImageMetadataDetector()


def test_a1111_parameters_chunk_contradicts_human_made(metadata: ImageMetadataDetector) -> None:
    data = png_with_text(parameters=A1111_PARAMETERS)
    finding = metadata.analyze(work(data, "image/png"))
    assert finding.verdict is Verdict.CONTRADICTS
    assert finding.details["signs"][0]["source"] == "png:parameters"
    assert "generation settings" in finding.explanation
    assert metadata.analyze(work(data, "image/png", GENERATED)).verdict is Verdict.CONSISTENT
    assert metadata.analyze(work(data, "image/png", ASSISTED)).verdict is Verdict.CONSISTENT


def test_a_parameters_chunk_without_generator_settings_is_not_evidence(
    metadata: ImageMetadataDetector,
) -> None:
    data = png_with_text(parameters="exposure +0.3, crop 4:5")
    assert metadata.analyze(work(data, "image/png")).verdict is Verdict.INCONCLUSIVE


def test_comfyui_prompt_chunk_contradicts_human_made(metadata: ImageMetadataDetector) -> None:
    data = png_with_text(prompt=json.dumps(COMFYUI_PROMPT))
    finding = metadata.analyze(work(data, "image/png"))
    assert finding.verdict is Verdict.CONTRADICTS
    assert "ComfyUI" in finding.explanation


def test_exif_software_naming_a_generator_contradicts(metadata: ImageMetadataDetector) -> None:
    finding = metadata.analyze(work(exif_jpeg("NovelAI Diffusion V3"), "image/jpeg"))
    assert finding.verdict is Verdict.CONTRADICTS
    assert finding.details["signs"][0]["source"] == "exif:Software"


def test_exif_user_comment_with_a1111_parameters_contradicts(
    metadata: ImageMetadataDetector,
) -> None:
    # AUTOMATIC1111 stores its parameters in EXIF UserComment when it saves JPEG.
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\0" + A1111_PARAMETERS.encode("utf-16-be")
    data = encode(photo(320, 240), "JPEG", quality=92, exif=exif)
    finding = metadata.analyze(work(data, "image/jpeg"))
    assert finding.verdict is Verdict.CONTRADICTS
    assert finding.details["signs"][0]["source"] == "exif:UserComment"


def test_xmp_digital_source_type(metadata: ImageMetadataDetector) -> None:
    def with_xmp(source_type: str) -> bytes:
        info = PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp_packet(source_type))
        return encode(photo(256, 256), "PNG", pnginfo=info)

    generated = metadata.analyze(work(with_xmp("trainedAlgorithmicMedia"), "image/png"))
    assert generated.verdict is Verdict.CONTRADICTS
    assert generated.score == 1.0
    composite = with_xmp("compositeWithTrainedAlgorithmicMedia")
    assert metadata.analyze(work(composite, "image/png")).verdict is Verdict.CONTRADICTS
    assert metadata.analyze(work(composite, "image/png", ASSISTED)).verdict is Verdict.CONSISTENT
    # Unsigned metadata claiming a camera is trivially forged, so it is not evidence for a human.
    capture = metadata.analyze(work(with_xmp("digitalCapture"), "image/png"))
    assert capture.verdict is Verdict.INCONCLUSIVE
    assert "digitalCapture" in capture.explanation


def test_clean_photo_is_inconclusive_everywhere(ca: helpers_c2pa.TestCA) -> None:
    data = exif_jpeg("Adobe Lightroom Classic 13.0")
    for detector in (
        C2paDetector(ca.root_pem.decode()),
        ImageMetadataDetector(),
        WatermarkDetector(),
    ):
        finding = detector.analyze(work(data, "image/jpeg"))
        assert finding.verdict is Verdict.INCONCLUSIVE, (detector.name, finding)
    absence = ImageMetadataDetector().analyze(work(data, "image/jpeg"))
    assert "proves nothing" in absence.explanation


# --- watermark -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def watermark() -> WatermarkDetector:
    return WatermarkDetector()


def test_sd_watermark_is_found_in_a_lossless_image(watermark: WatermarkDetector) -> None:
    data = encode(sd_watermarked(photo()), "PNG")
    finding = watermark.analyze(work(data, "image/png"))
    assert finding.verdict is Verdict.CONTRADICTS
    assert "StableDiffusionV1" in finding.explanation
    assert watermark.analyze(work(data, "image/png", GENERATED)).verdict is Verdict.CONSISTENT


def test_sd_watermark_survives_jpeg_q100(watermark: WatermarkDetector) -> None:
    # Measured on eight of these images (docs/detection.md): found after JPEG q100 in 8,
    # q95 in 3, q90 in none. dwtDct is fragile; the test pins only what holds.
    data = encode(sd_watermarked(photo(seed=1)), "JPEG", quality=100)
    assert watermark.analyze(work(data, "image/jpeg")).verdict is Verdict.CONTRADICTS


def test_unmarked_image_is_not_watermarked(watermark: WatermarkDetector) -> None:
    for seed in range(3):
        finding = watermark.analyze(work(encode(photo(seed=seed), "PNG"), "image/png"))
        assert finding.verdict is Verdict.INCONCLUSIVE
        assert all(d["chance"] > 1e-4 for d in finding.details["decodes"])


def test_huge_image_is_cropped_not_scaled(watermark: WatermarkDetector) -> None:
    data = encode(sd_watermarked(photo(2048, 1536, seed=2)), "PNG")
    finding = watermark.analyze(work(data, "image/png"))
    assert finding.verdict is Verdict.CONTRADICTS
    assert finding.details["cropped_to_rows"] == 512


@pytest.mark.parametrize("mode", ["RGBA", "P", "L", "1", "I;16", "CMYK", "LA", "F"])
def test_odd_modes_never_crash(watermark: WatermarkDetector, mode: str) -> None:
    img = photo(300, 300).convert(mode) if mode != "I;16" else photo(300, 300).convert("I;16")
    fmt = "JPEG" if mode == "CMYK" else ("TIFF" if mode == "F" else "PNG")
    finding = watermark.analyze(work(encode(img, fmt), f"image/{fmt.lower()}"))
    assert finding.verdict is Verdict.INCONCLUSIVE
    assert finding.details.get("checked") is True, finding


def test_tiny_image_is_not_checked(watermark: WatermarkDetector) -> None:
    finding = watermark.analyze(work(encode(photo(40, 30), "PNG"), "image/png"))
    assert finding.verdict is Verdict.INCONCLUSIVE
    assert finding.details == {"checked": False, "size": [40, 30]}


# --- c2pa ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> helpers_c2pa.TestCA:
    return helpers_c2pa.make_ca()


@pytest.fixture(scope="module")
def trusting(ca: helpers_c2pa.TestCA) -> C2paDetector:
    return C2paDetector(ca.root_pem.decode())


@pytest.fixture(scope="module")
def generated_png(ca: helpers_c2pa.TestCA) -> bytes:
    plain = encode(photo(256, 192), "PNG")
    return helpers_c2pa.sign(ca, "image/png", plain, "trainedAlgorithmicMedia")


@pytest.fixture(scope="module")
def captured_jpeg(ca: helpers_c2pa.TestCA) -> bytes:
    plain = encode(photo(256, 192), "JPEG", quality=90)
    return helpers_c2pa.sign(ca, "image/jpeg", plain, "digitalCapture")


def test_c2pa_trained_algorithmic_media_contradicts_human_made(
    trusting: C2paDetector, generated_png: bytes
) -> None:
    finding = trusting.analyze(work(generated_png, "image/png"))
    assert finding.verdict is Verdict.CONTRADICTS
    assert finding.details["validation_state"] == "Trusted"
    assert finding.details["source_types"] == ["trainedAlgorithmicMedia"]
    assert finding.details["signer"]["common_name"] == "Hallmark test signer"
    assert finding.details["claim_generator"].startswith("Hallmark tests")
    assert finding.details["actions"][0]["action"] == "c2pa.created"
    assert "generated by an AI model" in finding.explanation
    again = trusting.analyze(work(generated_png, "image/png", GENERATED))
    assert again.verdict is Verdict.CONSISTENT


def test_c2pa_digital_capture_is_consistent_with_human_made(
    trusting: C2paDetector, captured_jpeg: bytes
) -> None:
    finding = trusting.analyze(work(captured_jpeg, "image/jpeg"))
    assert finding.verdict is Verdict.CONSISTENT
    assert finding.details["validation_state"] == "Trusted"
    assert finding.details["source_types"] == ["digitalCapture"]


def test_c2pa_composite_contradicts_human_made_only(
    ca: helpers_c2pa.TestCA, trusting: C2paDetector
) -> None:
    plain = encode(photo(256, 192), "PNG")
    data = helpers_c2pa.sign(ca, "image/png", plain, "compositeWithTrainedAlgorithmicMedia")
    assert trusting.analyze(work(data, "image/png")).verdict is Verdict.CONTRADICTS
    assert trusting.analyze(work(data, "image/png", ASSISTED)).verdict is Verdict.CONSISTENT


def test_c2pa_untrusted_without_the_anchor(generated_png: bytes, captured_jpeg: bytes) -> None:
    untrusting = C2paDetector(None)
    finding = untrusting.analyze(work(generated_png, "image/png"))
    assert finding.details["validation_state"] == "Valid"
    assert finding.details["trusted"] is False
    assert "signingCredential.untrusted" in finding.details["failures"]
    assert "does not have on its trust list" in finding.explanation
    capture = untrusting.analyze(work(captured_jpeg, "image/jpeg"))
    assert capture.details["validation_state"] == "Valid"


@pytest.mark.parametrize("fixture", ["generated_png", "captured_jpeg"])
def test_c2pa_flipped_byte_is_invalid_and_inconclusive(
    trusting: C2paDetector, fixture: str, request: pytest.FixtureRequest
) -> None:
    signed: bytes = request.getfixturevalue(fixture)
    media_type = "image/png" if fixture.endswith("png") else "image/jpeg"
    tampered = bytearray(signed)
    # A byte of the pixel data: inside the PNG's IDAT, or in the JPEG's last entropy-coded run.
    at = signed.index(b"IDAT") + 20 if media_type == "image/png" else len(signed) - 20
    tampered[at] ^= 0x01
    finding = trusting.analyze(work(bytes(tampered), media_type))
    assert finding.details["validation_state"] == "Invalid"
    assert finding.verdict is Verdict.INCONCLUSIVE
    assert "assertion.dataHash.mismatch" in finding.details["failures"]
    assert "not valid" in finding.explanation


def test_c2pa_without_manifest_is_inconclusive(trusting: C2paDetector) -> None:
    finding = trusting.analyze(work(encode(photo(64, 64), "PNG"), "image/png"))
    assert finding.verdict is Verdict.INCONCLUSIVE
    assert finding.details == {"manifest": False}
    assert "no Content Credentials" in finding.explanation


def test_c2pa_trust_anchors_come_from_settings(
    tmp_path: Path, ca: helpers_c2pa.TestCA, generated_png: bytes
) -> None:
    bundle = tmp_path / "anchors.pem"
    bundle.write_bytes(ca.root_pem)
    settings = Settings.load(tmp_path, c2pa_trust_anchors=bundle)
    detector = hallmark_detectors()["c2pa"](settings)
    finding = detector.analyze(work(generated_png, "image/png"))
    assert finding.details["validation_state"] == "Trusted"


def test_c2pa_unreadable_trust_anchors_fail_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="c2pa_trust_anchors"):
        C2paDetector.from_settings(types.SimpleNamespace(c2pa_trust_anchors=tmp_path / "no.pem"))
    (tmp_path / "empty.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="no PEM certificate"):
        C2paDetector.from_settings(types.SimpleNamespace(c2pa_trust_anchors=tmp_path / "empty.pem"))


# --- conformance ---------------------------------------------------------------------------

GARBAGE = [
    b"",
    b"\x00" * 10,
    b"not an image at all",
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
    encode(photo(300, 300), "PNG")[:2000],
    encode(photo(300, 300), "JPEG")[:1500],
    b"\xff\xd8\xff\xe1\xff\xff" + b"Exif\x00\x00" + b"\xff" * 64,
]


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    settings = types.SimpleNamespace(c2pa_trust_anchors=None, max_image_pixels=1_000_000)
    return {name: factory(settings) for name, factory in hallmark_detectors().items()}


def test_hook_provides_the_three_detectors(built: dict[str, Any]) -> None:
    assert set(built) == {"c2pa", "image-metadata", "watermark"}
    for name, detector in built.items():
        assert isinstance(detector, Detector)
        assert detector.name == name
        assert detector.kinds == ("image",)
        assert isinstance(detector.version, str) and detector.version


@pytest.mark.parametrize("media_type", ["image/png", "image/jpeg", "application/octet-stream"])
@pytest.mark.parametrize("index", range(len(GARBAGE)))
def test_garbage_never_raises(built: dict[str, Any], index: int, media_type: str) -> None:
    for detector in built.values():
        finding = detector.analyze(work(GARBAGE[index], media_type))
        assert isinstance(finding, Finding)
        assert finding.verdict is Verdict.INCONCLUSIVE
        assert finding.explanation
        json.dumps(finding.to_json())


def test_images_over_the_pixel_limit_are_refused_plainly(built: dict[str, Any]) -> None:
    data = encode(Image.new("L", (1200, 1000)), "PNG")
    for name in ("image-metadata", "watermark"):
        finding = built[name].analyze(work(data, "image/png"))
        assert finding.verdict is Verdict.INCONCLUSIVE
        assert "larger than 1000000 pixels" in finding.explanation


def test_module_imports_no_heavy_library_at_import_time() -> None:
    # The plugin manager imports this module at start-up; c2pa, torch and OpenCV load lazily.
    source = Path(image_detectors.__file__).read_text("utf-8")
    header = source.split("logger = ", 1)[0]
    assert "import c2pa" not in header and "imwatermark" not in header
