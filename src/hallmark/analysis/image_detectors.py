"""Image detectors: Content Credentials, generator metadata, and Stable Diffusion watermarks.

Three built-in :class:`~hallmark.analysis.base.Detector` plugins (issue #4, item 3), registered
through the ``hallmark_detectors`` hook like any third-party detector:

``c2pa``
    Reads Content Credentials (C2PA 2.x manifests) with ``c2pa-python`` and checks them against
    the trust anchors named by the ``c2pa_trust_anchors`` setting. The IPTC digital source types
    in the manifests' actions (https://cv.iptc.org/newscodes/digitalsourcetype/) are compared
    with the declaration.
``image-metadata``
    Looks for what diffusion front-ends write into the file: PNG text chunks (AUTOMATIC1111 /
    Forge ``parameters``, ComfyUI ``prompt``/``workflow``, InvokeAI, NovelAI, Fooocus), EXIF
    ``Software`` and ``UserComment``, and an XMP ``Iptc4xmpExt:DigitalSourceType``.
``watermark``
    Decodes the invisible ``dwtDct`` watermark that the Stable Diffusion reference scripts embed
    with ``invisible-watermark`` (the 136-bit message ``StableDiffusionV1``; SDXL's 48-bit
    message too).

All three only ever find evidence *of* AI involvement: the absence of credentials, metadata or a
watermark proves nothing, because each is stripped by a screenshot or a re-save, so absence is
always ``inconclusive``. None of them raises on a bad file; each answers ``inconclusive`` with
the reason instead.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hallmark.analysis.base import Finding, Verdict, WorkInput
from hallmark.core.labels import OriginLabel
from hallmark.errors import ConfigError
from hallmark.plugins.hookspecs import hookimpl

logger = logging.getLogger(__name__)

#: IPTC digital source types (the last path segment of the NewsCodes URI) that mean the whole
#: image was made by an algorithm, and those that mean part of it was.
AI_SOURCE_TYPES = frozenset({"trainedAlgorithmicMedia", "algorithmicMedia"})
PARTLY_AI_SOURCE_TYPES = frozenset({"compositeWithTrainedAlgorithmicMedia", "compositeSynthetic"})
HUMAN_SOURCE_TYPES = frozenset(
    {
        "digitalCapture",
        "digitalCreation",
        "computationalCapture",
        "negativeFilm",
        "positiveFilm",
        "print",
        "minorHumanEdits",
        "humanEdits",
        "compositeCapture",
    }
)

#: The default limit when no settings are given (the same as the ``max_image_pixels`` default).
DEFAULT_MAX_PIXELS = 40_000_000


# --- shared helpers ------------------------------------------------------------------------


def _source_term(uri: str) -> str:
    """``trainedAlgorithmicMedia`` from its IPTC URI (or from the bare term)."""
    return uri.strip().rstrip("/").rsplit("/", 1)[-1]


def _ai_extent(terms: list[str]) -> str | None:
    """``"full"``, ``"partial"`` or None: how much AI the strongest source type claims."""
    if any(term in AI_SOURCE_TYPES for term in terms):
        return "full"
    if any(term in PARTLY_AI_SOURCE_TYPES for term in terms):
        return "partial"
    return None


def _verdict_for_ai(declared: OriginLabel) -> Verdict:
    # Evidence of any AI involvement contradicts only a human-made declaration. An ai-assisted
    # work may start from a generated image, and a creator who declares more AI than the file
    # shows has not misled anyone, so both ai-* labels are consistent.
    return Verdict.CONTRADICTS if declared is OriginLabel.HUMAN_MADE else Verdict.CONSISTENT


def _finding(detector: Any, verdict: Verdict, explanation: str, **kwargs: Any) -> Finding:
    return Finding(
        detector=detector.name,
        version=detector.version,
        verdict=verdict,
        explanation=explanation,
        **kwargs,
    )


def _unreadable(detector: Any, reason: str) -> Finding:
    return _finding(
        detector,
        Verdict.INCONCLUSIVE,
        f"The image could not be checked: {reason}.",
        details={"error": reason},
    )


def _open_image(work: WorkInput, max_pixels: int) -> Any:
    """The work's Pillow image (not yet decoded), or raises ValueError with a plain reason."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(work.open())
    except UnidentifiedImageError:
        raise ValueError("the file is not an image format Hallmark can read") from None
    except Exception as exc:  # Pillow raises many types for broken headers
        raise ValueError(f"the file is damaged ({type(exc).__name__})") from None
    width, height = img.size
    if width * height > max_pixels:
        raise ValueError(f"the image is {width}x{height}, larger than {max_pixels} pixels")
    return img


# --- c2pa ----------------------------------------------------------------------------------


class C2paDetector:
    """Content Credentials: who signed the image, whether the signature holds, what it claims."""

    name = "c2pa"
    version = "1.0"
    kinds = ("image",)

    def __init__(self, trust_anchors_pem: str | None = None) -> None:
        self._trust_anchors_pem = trust_anchors_pem

    @property
    def trust_anchors_pem(self) -> str | None:
        """The PEM root certificates this detector trusts (None: c2pa's defaults only)."""
        return self._trust_anchors_pem

    @classmethod
    def from_settings(cls, settings: Any) -> C2paDetector:
        path: Path | None = getattr(settings, "c2pa_trust_anchors", None)
        if path is None:
            return cls(None)
        try:
            pem = Path(path).read_text("ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"c2pa_trust_anchors: cannot read the PEM bundle {path}: {exc}",
                hint="Point it at a file of PEM certificates, or unset it.",
            ) from None
        if "-----BEGIN CERTIFICATE-----" not in pem:
            raise ConfigError(
                f"c2pa_trust_anchors: {path} holds no PEM certificate.",
                hint="Point it at a file of PEM certificates, or unset it.",
            )
        return cls(pem)

    def _context(self) -> Any:
        from c2pa import Context, Settings

        # Never fetch remote manifests or OCSP answers: analysis must be offline and bounded.
        verify = {"verify_trust": True, "remote_manifest_fetch": False, "ocsp_fetch": False}
        values: dict[str, Any] = {"verify": verify}
        if self._trust_anchors_pem:
            values["trust"] = {"trust_anchors": self._trust_anchors_pem}
        return Context(Settings.from_dict(values))

    def analyze(self, work: WorkInput) -> Finding:
        try:
            return self._analyze(work)
        except Exception as exc:  # a detector never takes the analysis job down
            logger.warning("c2pa detector failed on %s: %r", work.filename, exc)
            return _unreadable(self, f"its Content Credentials could not be read ({exc})")

    def _analyze(self, work: WorkInput) -> Finding:
        import c2pa

        media_type = work.media_type.lower()
        if media_type not in {m.lower() for m in c2pa.Reader.get_supported_mime_types()}:
            return _finding(
                self,
                Verdict.INCONCLUSIVE,
                f"Content Credentials cannot be read from {work.media_type} files.",
                details={"manifest": False},
            )
        try:
            with c2pa.Reader(media_type, work.open(), context=self._context()) as reader:
                state = reader.get_validation_state()
                store = json.loads(reader.json())
        except c2pa.C2paError as exc:
            if "ManifestNotFound" in type(exc).__name__ or "ManifestNotFound" in str(exc):
                return _finding(
                    self,
                    Verdict.INCONCLUSIVE,
                    "The image has no Content Credentials. Most images have none, so this "
                    "says nothing either way about how it was made.",
                    details={"manifest": False},
                )
            raise
        return self._judge(work.declared, str(state), store)

    def _judge(self, declared: OriginLabel, state: str, store: dict[str, Any]) -> Finding:
        manifests: dict[str, Any] = store.get("manifests") or {}
        active_label = store.get("active_manifest")
        active = manifests.get(active_label, {}) if active_label else {}
        actions: list[dict[str, Any]] = []
        for label, manifest in manifests.items():
            for assertion in manifest.get("assertions") or []:
                if str(assertion.get("label", "")).startswith("c2pa.actions"):
                    for action in (assertion.get("data") or {}).get("actions") or []:
                        actions.append(
                            {
                                "manifest": label,
                                "active": label == active_label,
                                "action": action.get("action"),
                                "digital_source_type": action.get("digitalSourceType"),
                                "software_agent": action.get("softwareAgent"),
                            }
                        )
        results = (store.get("validation_results") or {}).get("activeManifest") or {}
        failures = [f.get("code") for f in results.get("failure") or []]
        signature = active.get("signature_info") or {}
        generators = active.get("claim_generator_info") or []
        details: dict[str, Any] = {
            "manifest": True,
            "validation_state": state,
            "trusted": state == "Trusted",
            "failures": failures,
            "claim_generator": active.get("claim_generator")
            or ", ".join(
                " ".join(str(g.get(k)) for k in ("name", "version") if g.get(k))
                for g in generators
                if isinstance(g, dict)
            ),
            "signer": {
                "issuer": signature.get("issuer"),
                "common_name": signature.get("common_name"),
                "time": signature.get("time"),
                "alg": signature.get("alg"),
            },
            "actions": actions,
        }
        terms = [
            _source_term(a["digital_source_type"]) for a in actions if a["digital_source_type"]
        ]
        details["source_types"] = sorted(set(terms))
        signed_by = signature.get("issuer") or signature.get("common_name") or "an unknown signer"

        if state == "Invalid":
            reason = ", ".join(str(f) for f in failures) or "the signature or hashes do not match"
            return _finding(
                self,
                Verdict.INCONCLUSIVE,
                "The image carries Content Credentials, but they are not valid "
                f"({reason}): the file was changed after signing, or the credentials are "
                "damaged. Invalid credentials are not used as evidence either way.",
                details=details,
            )
        trust = (
            "signed by a trusted issuer"
            if state == "Trusted"
            else "validly signed, but by an issuer Hallmark does not have on its trust list"
        )
        extent = _ai_extent(terms)
        if extent is not None:
            what = (
                "was generated by an AI model"
                if extent == "full"
                else "combines AI-generated material with other content"
            )
            return _finding(
                self,
                _verdict_for_ai(declared),
                f"The image's Content Credentials ({trust}; {signed_by}) state that it {what}.",
                score=1.0 if extent == "full" else 0.5,
                details=details,
            )
        human = [t for t in terms if t in HUMAN_SOURCE_TYPES]
        if human:
            verdict = (
                Verdict.CONSISTENT if declared is OriginLabel.HUMAN_MADE else Verdict.INCONCLUSIVE
            )
            return _finding(
                self,
                verdict,
                f"The image's Content Credentials ({trust}; {signed_by}) record it as "
                f"{' and '.join(sorted(set(human)))}, with no AI-generated source.",
                score=0.0,
                details=details,
            )
        return _finding(
            self,
            Verdict.INCONCLUSIVE,
            f"The image's Content Credentials ({trust}; {signed_by}) do not say how it was made.",
            details=details,
        )


# --- generator metadata --------------------------------------------------------------------

#: Words in an AUTOMATIC1111/Forge/SD.Next ``parameters`` text that only a generator writes.
_A1111_KEYS = ("Steps:", "Sampler:", "CFG scale:", "Seed:", "Model hash:", "Model:")
#: PNG text keys that diffusion front-ends write and nothing else does.
_GENERATOR_CHUNKS = {
    "invokeai_metadata": "InvokeAI",
    "invokeai_graph": "InvokeAI",
    "sd-metadata": "InvokeAI",
    "dream": "InvokeAI (legacy)",
    "fooocus_scheme": "Fooocus",
    "generation_data": "a diffusion web service",
}
#: Substrings of EXIF ``Software`` (or a PNG ``Software``/``Source`` text) naming a generator.
_GENERATOR_SOFTWARE = (
    "stable diffusion",
    "stablediffusion",
    "automatic1111",
    "comfyui",
    "invokeai",
    "novelai",
    "midjourney",
    "dall-e",
    "dall·e",
    "dalle",
    "fooocus",
    "diffusionbee",
    "draw things",
    "leonardo.ai",
    "nightcafe",
    "dreamstudio",
    "imagen",
    "adobe firefly",
    "stability ai",
)
_DST_RE = re.compile(
    r"DigitalSourceType\s*(?:=\s*[\"']([^\"']+)[\"']|>\s*([^<\s]+)\s*<"
    r"|\s+rdf:resource\s*=\s*[\"']([^\"']+)[\"'])",
    re.IGNORECASE,
)
_XMP_RE = re.compile(rb"<x:xmpmeta.*?</x:xmpmeta>", re.DOTALL)
#: How far into the file to look for a raw XMP packet that Pillow did not expose.
_XMP_SCAN_BYTES = 4 * 1024 * 1024


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _user_comment(raw: Any) -> str:
    """EXIF UserComment: an 8-byte character-code prefix, then the text (JEITA CP-3451 4.6.5)."""
    if not isinstance(raw, bytes):
        return _text(raw)
    prefix, body = raw[:8], raw[8:]
    if prefix.startswith(b"UNICODE"):
        # A1111 writes UTF-16 big-endian; some tools write little-endian with the same prefix.
        big = body.decode("utf-16-be", "replace")
        return big if big.isprintable() or "\n" in big else body.decode("utf-16-le", "replace")
    return body.decode("utf-8", "replace")


def _looks_like_a1111(text: str) -> bool:
    return sum(key in text for key in _A1111_KEYS) >= 2


def _looks_like_comfyui(text: str) -> bool:
    try:
        graph = json.loads(text)
    except ValueError:
        return False
    if isinstance(graph, dict):
        if "nodes" in graph and "links" in graph:  # the UI's "workflow"
            return True
        return any(isinstance(n, dict) and "class_type" in n for n in graph.values())
    return False


class ImageMetadataDetector:
    """Traces that image generators leave in the file's own metadata."""

    name = "image-metadata"
    version = "1.0"
    kinds = ("image",)

    def __init__(self, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self._max_pixels = max_pixels

    def analyze(self, work: WorkInput) -> Finding:
        try:
            # Read before the image: Pillow reads the same file lazily while decoding.
            head = work.head(_XMP_SCAN_BYTES)
            img = _open_image(work, self._max_pixels)
        except ValueError as exc:
            return _unreadable(self, str(exc))
        try:
            signs, seen = self._signs(img, head)
        except Exception as exc:  # broken EXIF/XMP must not take the analysis down
            logger.warning("image-metadata detector failed on %s: %r", work.filename, exc)
            return _unreadable(self, f"its metadata is damaged ({type(exc).__name__})")
        details: dict[str, Any] = {"signs": signs, "metadata_seen": seen}
        ai = [s for s in signs if s["extent"] in ("full", "partial")]
        if ai:
            extent = "full" if any(s["extent"] == "full" for s in ai) else "partial"
            listed = "; ".join(s["description"] for s in ai)
            return _finding(
                self,
                _verdict_for_ai(work.declared),
                f"The image's metadata was written by image-generation software: {listed}.",
                score=1.0 if extent == "full" else 0.5,
                details=details,
            )
        human = [s["description"] for s in signs if s["extent"] == "none"]
        note = (
            f" It does state {'; '.join(human)}, but unsigned metadata is easy to edit, so "
            "that is not taken as evidence."
            if human
            else ""
        )
        return _finding(
            self,
            Verdict.INCONCLUSIVE,
            "No image-generator metadata was found. Metadata is removed by screenshots, "
            "re-saving and most uploads, so its absence proves nothing." + note,
            details=details,
        )

    def _signs(self, img: Any, head: bytes) -> tuple[list[dict[str, Any]], list[str]]:
        signs: list[dict[str, Any]] = []
        info: dict[str, Any] = dict(img.info or {})
        seen = sorted(str(k) for k in info if k not in ("icc_profile", "exif", "xmp"))

        def add(source: str, extent: str, description: str, excerpt: str = "") -> None:
            signs.append(
                {
                    "source": source,
                    "extent": extent,
                    "description": description,
                    "excerpt": excerpt[:300],
                }
            )

        lowered = {str(k).lower(): k for k in info}
        for key_lower, key in lowered.items():
            value = _text(info[key])
            if key_lower == "parameters":
                if _looks_like_a1111(value):
                    add(
                        f"png:{key}",
                        "full",
                        "a 'parameters' text with generation settings (AUTOMATIC1111 style)",
                        value,
                    )
                elif "fooocus" in value.lower():
                    add(f"png:{key}", "full", "a Fooocus 'parameters' record", value)
            elif key_lower in ("prompt", "workflow") and _looks_like_comfyui(value):
                add(f"png:{key}", "full", f"a ComfyUI '{key}' graph", value)
            elif key_lower in _GENERATOR_CHUNKS:
                add(f"png:{key}", "full", f"a '{key}' record from {_GENERATOR_CHUNKS[key_lower]}")
            elif key_lower == "comment" and _looks_like_novelai(value):
                add(f"png:{key}", "full", "a NovelAI generation record", value)
            elif key_lower in ("software", "source"):
                name = _generator_named(value)
                if name:
                    add(f"png:{key}", "full", f"'{key}' names {value.strip()!r}", value)

        exif = img.getexif()
        software = exif.get(0x0131)
        if software:
            seen.append("exif:Software")
            name = _generator_named(_text(software))
            if name:
                add("exif:Software", "full", f"EXIF Software is {_text(software).strip()!r}")
        comment = exif.get_ifd(0x8769).get(0x9286)
        if comment:
            seen.append("exif:UserComment")
            text = _user_comment(comment)
            if _looks_like_a1111(text):
                add(
                    "exif:UserComment",
                    "full",
                    "an EXIF comment with generation settings (AUTOMATIC1111 style)",
                    text,
                )

        xmp = self._xmp(info, head)
        if xmp:
            seen.append("xmp")
            for match in _DST_RE.finditer(xmp):
                uri = next(g for g in match.groups() if g)
                term = _source_term(uri)
                extent = _ai_extent([term])
                if extent is not None:
                    add("xmp:DigitalSourceType", extent, f"XMP DigitalSourceType is {term}", uri)
                elif term in HUMAN_SOURCE_TYPES:
                    add("xmp:DigitalSourceType", "none", f"XMP DigitalSourceType {term}", uri)
        return signs, seen

    @staticmethod
    def _xmp(info: dict[str, Any], head: bytes) -> str:
        for key in ("xmp", "XML:com.adobe.xmp"):
            if info.get(key):
                return _text(info[key])
        # Formats where Pillow does not expose XMP (or an older Pillow): find the packet itself.
        match = _XMP_RE.search(head)
        return match.group(0).decode("utf-8", "replace") if match else ""


def _generator_named(value: str) -> str | None:
    lowered = value.lower()
    return next((name for name in _GENERATOR_SOFTWARE if name in lowered), None)


def _looks_like_novelai(value: str) -> bool:
    try:
        record = json.loads(value)
    except ValueError:
        return False
    return isinstance(record, dict) and {"steps", "sampler"} <= set(record)


# --- invisible watermark -------------------------------------------------------------------

#: The messages the reference scripts embed with ``dwtDct``: SD 1.x/2.x ``scripts/txt2img.py``
#: embeds the bytes of "StableDiffusionV1"; SDXL (``generative-models`` and ``diffusers``)
#: embeds this 48-bit integer.
SD_MESSAGE = b"StableDiffusionV1"
SDXL_MESSAGE = 0b101100111110110010010000011110111011000110011110


def _bits(message: bytes | int, length: int) -> list[int]:
    if isinstance(message, bytes):
        return [(byte >> (7 - i)) & 1 for byte in message for i in range(8)]
    return [(message >> (length - 1 - i)) & 1 for i in range(length)]


WATERMARKS: tuple[tuple[str, list[int]], ...] = (
    ("StableDiffusionV1", _bits(SD_MESSAGE, 136)),
    ("SDXL", _bits(SDXL_MESSAGE, 48)),
)
#: A message counts as found when so many bits match that an unmarked image would match as many
#: by chance with probability below this (a fair-coin binomial tail): at most 40 of 136 bits
#: wrong for "StableDiffusionV1", at most 7 of 48 for SDXL. Unmarked images decode near half
#: wrong (measured 53-74 of 136); a lossless marked image 19-35 (the encoder truncates to 8 bits,
#: which costs bits); after JPEG q95 27-53, so found in about half; after q90 42-60, so a q90
#: re-save removes it. Figures and method: docs/detection.md, "Image detectors".
CHANCE_LIMIT = 1e-6
#: The decoder reads 4x4 blocks of the half-size wavelet band in row order, so cropping whole
#: rows from the top keeps every block's bit position; scaling would destroy it. Huge images are
#: cropped to this many pixels, which keeps a decode well under a second.
WATERMARK_PIXEL_BUDGET = 1_048_576
#: ``invisible-watermark`` refuses images below 256x256 pixels.
MIN_WATERMARK_PIXELS = 256 * 256

_decoder_lock = threading.Lock()


def _chance(errors: int, bits: int) -> float:
    """The probability that ``bits`` fair coins match a message with ``errors`` or fewer misses."""
    return math.fsum(math.comb(bits, k) for k in range(errors + 1)) / math.pow(2, bits)


class WatermarkDetector:
    """The invisible watermark the Stable Diffusion reference pipelines embed in their output."""

    name = "watermark"
    version = "1.0"
    kinds = ("image",)

    def __init__(self, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self._max_pixels = max_pixels

    def analyze(self, work: WorkInput) -> Finding:
        try:
            img = _open_image(work, self._max_pixels)
            width, height = img.size
            if width * height < MIN_WATERMARK_PIXELS:
                return _finding(
                    self,
                    Verdict.INCONCLUSIVE,
                    f"The image ({width}x{height}) is too small to carry the watermark that "
                    "Stable Diffusion embeds, so it was not checked.",
                    details={"checked": False, "size": [width, height]},
                )
            results, cropped = self._decode(img)
        except ValueError as exc:
            return _unreadable(self, str(exc))
        except Exception as exc:  # odd modes, truncated data: never take the analysis down
            logger.warning("watermark detector failed on %s: %r", work.filename, exc)
            return _unreadable(self, f"it could not be decoded ({type(exc).__name__})")
        best = min(results, key=lambda r: r["chance"])
        details: dict[str, Any] = {
            "checked": True,
            "decodes": results,
            "cropped_to_rows": cropped,
        }
        if best["chance"] < CHANCE_LIMIT:
            return _finding(
                self,
                _verdict_for_ai(work.declared),
                f"The image carries the invisible '{best['message']}' watermark that Stable "
                f"Diffusion's reference software adds to every image it generates "
                f"({best['bits'] - best['errors']} of {best['bits']} bits match).",
                score=1.0 - best["error_rate"],
                details=details,
            )
        return _finding(
            self,
            Verdict.INCONCLUSIVE,
            "No Stable Diffusion watermark was found. Many generators add none, and resizing "
            "or cropping removes it, so its absence proves nothing.",
            score=1.0 - best["error_rate"],
            details=details,
        )

    def _decode(self, img: Any) -> tuple[list[dict[str, Any]], int | None]:
        import numpy as np

        with _decoder_lock:
            # Importing imwatermark pulls in torch (for its RivaGAN model) the first time.
            from imwatermark import WatermarkDecoder

        width, height = img.size
        cropped: int | None = None
        if width * height > WATERMARK_PIXEL_BUDGET:
            # Whole 8-pixel row bands from the top, full width: see WATERMARK_PIXEL_BUDGET.
            rows = max(8, WATERMARK_PIXEL_BUDGET // width // 8 * 8)
            rows = max(rows, -(-MIN_WATERMARK_PIXELS // width) // 8 * 8 + 8)
            if rows < height:
                img = img.crop((0, 0, width, rows))
                cropped = rows
        rgb = np.asarray(img.convert("RGB"))
        # The SD scripts hand the encoder BGR (OpenCV order); diffusers hands it RGB as if it
        # were BGR. Decoding both orders finds either.
        orders = {"bgr": np.ascontiguousarray(rgb[:, :, ::-1]), "rgb": rgb}
        results: list[dict[str, Any]] = []
        for message, expected in WATERMARKS:
            decoder = WatermarkDecoder("bits", len(expected))
            for order, pixels in orders.items():
                decoded = [int(b) for b in decoder.decode(pixels, "dwtDct")]
                errors = sum(a != b for a, b in zip(decoded, expected, strict=True))
                results.append(
                    {
                        "message": message,
                        "channel_order": order,
                        "bits": len(expected),
                        "errors": errors,
                        "error_rate": round(errors / len(expected), 4),
                        "chance": _chance(errors, len(expected)),
                    }
                )
        return results, cropped


# --- registration --------------------------------------------------------------------------


def _max_pixels(settings: Any) -> int:
    return int(getattr(settings, "max_image_pixels", None) or DEFAULT_MAX_PIXELS)


FACTORIES: dict[str, Callable[[Any], Any]] = {
    "c2pa": C2paDetector.from_settings,
    "image-metadata": lambda settings: ImageMetadataDetector(_max_pixels(settings)),
    "watermark": lambda settings: WatermarkDetector(_max_pixels(settings)),
}


@hookimpl
def hallmark_detectors() -> dict[str, Any]:
    """The built-in image detectors, by name."""
    return dict(FACTORIES)
