"""Content Credentials (C2PA) out and in, for certified images (issue #6, items 1 and 2).

Out: :func:`credentialed_copy` returns a certified image with a signed C2PA manifest embedded
by ``c2pa-python``. The manifest holds

- a ``c2pa.actions`` assertion whose first action carries the IPTC digital source type of the
  certificate's label (https://cv.iptc.org/newscodes/digitalsourcetype/);
- the Hallmark assertion ``org.hallmark.certificate``: certificate id, log index, log origin,
  instance URL, and where to find the work and its bundle;
- the CAWG training-and-data-mining assertion ``cawg.training-mining`` (CAWG Training and Data
  Mining Assertion 1.1) from the work's AI-training consent.

If the upload already carried Content Credentials, that manifest becomes the new manifest's
parent ingredient, so its history travels with the copy.

In: :func:`upload_credentials` summarises the manifest an upload carried (claim generator,
signer, validation state, actions and their digital source types) for the work page, read by the
same code as the ``c2pa`` image detector.

With Celery workers (issue #9), :func:`signed_copy` has a worker sign the copy and waits for
it, so signing large images does not take the web processes' CPU.

The credentialed copy's bytes differ from the certified ones (the manifest is inside the file),
so it verifies against its bundle only through the certificate id it carries, not by digest;
docs/standards.md says so.
"""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass
from typing import Any

import hallmark
from hallmark.analysis.base import WorkInput
from hallmark.analysis.image_detectors import C2paDetector
from hallmark.core.labels import OriginLabel
from hallmark.crypto.c2pa_chain import (
    SigningCredentials,
    ensure_chain,
    load_signing_credentials,
    root_pem,
)
from hallmark.errors import (
    ConfigError,
    ConflictError,
    HallmarkError,
    InputError,
    NotFoundError,
    UnavailableError,
)
from hallmark.services import log as log_service
from hallmark.services.instance import Instance, c2pa_chain_files
from hallmark.services.registry import CONSENT_CHOICES
from hallmark.settings import Settings
from hallmark.storage.models import Work
from hallmark.storage.spool import Content, stored_content

logger = logging.getLogger(__name__)

#: Image types Hallmark embeds Content Credentials in (all the image types it registers).
CREDENTIAL_MEDIA_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
#: The value of ``?credentials=`` that asks for the credentialed copy.
C2PA_FORMAT = "c2pa"
HALLMARK_ASSERTION = "org.hallmark.certificate"
TRAINING_MINING_ASSERTION = "cawg.training-mining"
#: The four uses the CAWG assertion names. Hallmark asks creators one question, about AI
#: training, and reads the answer as covering all four: data mining and inference feed the
#: same models, and TDMRep (issue #6, item 3) reserves them together too.
TRAINING_MINING_ENTRIES = (
    "cawg.ai_training",
    "cawg.ai_generative_training",
    "cawg.ai_inference",
    "cawg.data_mining",
)
#: Hallmark's consent values, as the CAWG ``use`` values.
CAWG_USE = {"allowed": "allowed", "not-allowed": "notAllowed", "constrained": "constrained"}
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


@dataclass(frozen=True)
class CredentialedCopy:
    """A certified image with its Content Credentials embedded."""

    data: bytes
    media_type: str
    filename: str
    certificate_id: str
    #: True when the upload's own manifest was kept as the parent ingredient.
    has_parent: bool


# --- consent ---------------------------------------------------------------------------------


def consent_of(work: Work) -> tuple[str, str | None]:
    """The work's AI-training consent (``allowed``, ``not-allowed`` or ``constrained``) and,
    when constrained, the URL of the creator's policy (None when there is none).

    This is the work's consent as it is now (``works.consent``, issue #6 item 3): the choice
    made at registration, else the creator's default, as the creator may since have changed
    it. The certificate keeps what was declared at registration; a credentialed copy carries
    the current choice, like the site's TDMRep headers.
    """
    # An unrecognised value reserves every use: the reading that never grants what the
    # creator did not.
    value = work.consent if work.consent in CONSENT_CHOICES else "not-allowed"
    return value, (work.consent_policy_url or None) if value == "constrained" else None


def training_mining_assertion(consent: str, policy_url: str | None) -> dict[str, Any]:
    """The ``cawg.training-mining`` assertion for a consent value.

    ``constraint_info`` is required by CAWG for constrained uses; ``policy_url`` is where a
    reader finds the conditions.
    """
    use = CAWG_USE[consent]
    entry: dict[str, str] = {"use": use}
    if use == "constrained" and policy_url:
        entry["constraint_info"] = policy_url
    return {
        "label": TRAINING_MINING_ASSERTION,
        "data": {"entries": {name: dict(entry) for name in TRAINING_MINING_ENTRIES}},
    }


# --- the manifest ----------------------------------------------------------------------------


def _base_url(settings: Settings) -> str:
    return settings.public_url.rstrip("/")


def manifest_definition(
    certificate: dict[str, Any],
    *,
    instance_url: str,
    consent: str,
    policy_url: str | None,
    parent_label: str | None = None,
) -> dict[str, Any]:
    """The c2pa-python manifest definition for a certified image (pure: no I/O, no c2pa).

    With ``parent_label`` (the label given to the upload's own manifest as an ingredient) the
    first action is ``c2pa.opened`` of that parent: C2PA 2.x allows a ``c2pa.created`` action
    only in a manifest without a parent ingredient. The label's digital source type is stated
    on that first action either way.
    """
    work = certificate["work"]
    work_url = f"{instance_url}/works/{work['id']}"
    source_type = certificate.get("digital_source_type") or (
        OriginLabel(certificate["label"]).digital_source_type()
    )
    first: dict[str, Any] = {"action": "c2pa.created", "digitalSourceType": source_type}
    if parent_label is not None:
        first = {
            "action": "c2pa.opened",
            "digitalSourceType": source_type,
            "parameters": {"ingredientIds": [parent_label]},
        }
    hallmark_data = {
        "certificate_id": certificate["id"],
        "log_index": certificate["log"]["index"],
        "log_origin": certificate["issuer"],
        "instance_url": instance_url,
        "work_url": work_url,
        "bundle_url": f"{instance_url}/api/v1/works/{work['id']}/bundle",
        "label": certificate["label"],
        "level": certificate["level"],
        # The digest of the bytes the certificate covers: the copy differs by its manifest.
        "certified_sha256": work["sha256"],
    }
    return {
        "claim_generator_info": [{"name": "Hallmark", "version": hallmark.__version__}],
        "title": str(work.get("title") or work["id"]),
        "format": work["media_type"],
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [first]}},
            {"label": HALLMARK_ASSERTION, "data": hallmark_data},
            # Without a policy URL, constrained uses point at the work page: the one place
            # that names the work, its creator and its certificate, and where the consent
            # of issue #6 (item 3) is published.
            training_mining_assertion(consent, policy_url or work_url),
        ],
    }


# --- signing ---------------------------------------------------------------------------------


def signing_credentials(inst: Instance) -> SigningCredentials:
    """The operator's configured chain and key, else the instance's own (created when an
    instance made before issue #6 signs for the first time)."""
    settings = inst.settings
    chain, key = settings.c2pa_certificate_chain, settings.c2pa_private_key
    if (chain is None) != (key is None):
        raise ConfigError(
            "Only one of c2pa_certificate_chain and c2pa_private_key is set.",
            hint="Set both (a certificate chain from a CA and its key), or neither to use the "
            "instance's own chain.",
        )
    if chain is None or key is None:
        files = c2pa_chain_files(settings)
        ensure_chain(files, origin=settings.origin, now=inst.clock())
        chain, key = files.chain, files.key
    return load_signing_credentials(chain, key, now=inst.clock())


def root_certificate(inst: Instance) -> str:
    """The instance root (PEM) that anchors trust in its Content Credentials."""
    settings = inst.settings
    if settings.c2pa_certificate_chain is not None:
        raise ConfigError(
            "This instance signs Content Credentials with the operator's certificate "
            f"({settings.c2pa_certificate_chain}), so their trust anchor is that CA's root, "
            "not an instance root.",
            hint="Use the root certificate of the CA that issued c2pa_certificate_chain.",
        )
    files = c2pa_chain_files(settings)
    ensure_chain(files, origin=settings.origin, now=inst.clock())
    return root_pem(files)


def _check_certifiable(work: Work) -> None:
    if work.kind != "image" or work.media_type not in CREDENTIAL_MEDIA_TYPES:
        raise InputError(
            f"Content Credentials are embedded in images only; '{work.id}' is a {work.kind} "
            f"work ({work.media_type}).",
            hint="Download the work as it is, and its bundle (.hallmark.json) to verify it.",
        )
    cert = work.certificate
    if cert is None:
        raise ConflictError(
            f"The work '{work.id}' has no current certificate, so there is nothing to embed.",
            hint="Content Credentials are issued for certified works only.",
        )
    if cert.revocation is not None:
        raise ConflictError(
            f"The certificate of '{work.id}' was revoked, so no Content Credentials are "
            "issued for it.",
            hint="The work page and the log show the revocation and its reason.",
        )


def _offline_context() -> Any:
    """A c2pa context that never goes online: no remote manifests, no OCSP. A download must
    not wait on, or be steered by, a URL an uploaded file names."""
    import c2pa

    verify = {"remote_manifest_fetch": False, "ocsp_fetch": False}
    return c2pa.Context(c2pa.Settings.from_dict({"verify": verify}))


def _has_manifest(source: Content, media_type: str) -> bool:
    """True when ``source`` carries a C2PA manifest store that c2pa can read."""
    import c2pa

    try:
        with c2pa.Reader(media_type, source.stream(), context=_offline_context()) as reader:
            return reader.get_active_manifest() is not None
    except c2pa.C2paError as exc:
        if "ManifestNotFound" not in type(exc).__name__ + str(exc):
            # A damaged store cannot be kept as an ingredient; the copy is still signed.
            logger.warning("the upload's Content Credentials cannot be read: %r", exc)
        return False


def credentialed_copy(inst: Instance, work: Work) -> CredentialedCopy:
    """The work's file with signed Content Credentials embedded.

    ``work`` must be attached to an open session (its certificate is read). Raises
    :class:`InputError` for works that are not PNG, JPEG, WebP or GIF images and
    :class:`ConflictError` for works without a valid certificate.
    """
    import c2pa

    _check_certifiable(work)
    assert work.certificate is not None  # checked above; narrows the type for mypy
    certificate = log_service.statement_json(work.certificate.body)
    consent, policy_url = consent_of(work)
    media_type = work.media_type
    credentials = signing_credentials(inst)
    info = c2pa.C2paSignerInfo(
        c2pa.C2paSigningAlg[credentials.algorithm.upper()],
        credentials.chain_pem,
        credentials.key_pem,
        None,  # no time-stamp authority: signing must work offline
    )
    # The upload is spooled (to disk when large) and c2pa reads it from there; the signed copy
    # itself is built in memory (the upload plus the manifest, so about max_upload_bytes).
    output = io.BytesIO()
    with stored_content(inst.blobs, work.blob_key) as source:
        parent_label = "upload" if _has_manifest(source, media_type) else None
        definition = manifest_definition(
            certificate,
            instance_url=_base_url(inst.settings),
            consent=consent,
            policy_url=policy_url,
            parent_label=parent_label,
        )
        try:
            signer = c2pa.Signer.from_info(info)
            try:
                with c2pa.Builder(definition, context=_offline_context()) as builder:
                    if parent_label is not None:
                        ingredient = {
                            "title": work.title,
                            "relationship": "parentOf",
                            "label": parent_label,
                        }
                        builder.add_ingredient(ingredient, media_type, source.stream())
                    builder.sign(signer, media_type, source.stream(), output)
            finally:
                signer.close()
        except c2pa.C2paError as exc:
            logger.warning("signing Content Credentials for %s failed: %r", work.id, exc)
            if "Signature" in type(exc).__name__:
                raise ConfigError(
                    f"The Content Credentials signer was refused by c2pa: {exc}",
                    hint="Check c2pa_certificate_chain and c2pa_private_key (docs/standards.md).",
                ) from None
            raise InputError(
                f"This image cannot carry Content Credentials: c2pa could not embed them ({exc}).",
                hint="Download the work as it is, with its bundle.",
            ) from None
    return CredentialedCopy(
        data=output.getvalue(),
        media_type=media_type,
        filename=f"{work.id}.c2pa.{_EXTENSIONS[media_type]}",
        certificate_id=certificate["id"],
        has_parent=parent_label is not None,
    )


def signed_copy(inst: Instance, work: Work) -> CredentialedCopy:
    """:func:`credentialed_copy`, signed on a worker when the instance has Celery workers
    (issue #9, item 1), else here. ``work`` must be attached to an open session.

    The work is checked here first, so a request for a text or a revoked work gets its answer
    without a round trip. When the job queue cannot be reached the copy is signed here: the
    web process holds the same keys, and a download should not fail for want of a worker.
    """
    from hallmark.workers.celery_app import SIGN_CREDENTIALS, BrokerUnavailable, call, can_call

    if not can_call(inst.settings):
        return credentialed_copy(inst, work)
    _check_certifiable(work)
    try:
        answer = call(
            inst.settings,
            SIGN_CREDENTIALS,
            [work.id],
            timeout=inst.settings.job_result_timeout_seconds,
        )
    except BrokerUnavailable as exc:
        logger.warning("signing %s here, as the job queue is down: %s", work.id, exc.detail)
        return credentialed_copy(inst, work)
    return copy_from_json(answer)


#: The errors a worker's answer may carry back, by name.
_ANSWER_ERRORS: dict[str, type[HallmarkError]] = {
    kind.__name__: kind
    for kind in (ConfigError, ConflictError, InputError, NotFoundError, UnavailableError)
}


def sign_as_worker(inst: Instance, work_id: str) -> dict[str, Any]:
    """The ``hallmark.sign_credentials`` task: the credentialed copy of a work as JSON, or the
    error that prevented it (shown by the web process that asked, as if signed there)."""
    try:
        with inst.db.session() as session:
            work = session.get(Work, work_id)
            if work is None:
                raise NotFoundError(f"There is no work '{work_id[:40]}'.")
            return copy_json(credentialed_copy(inst, work))
    except HallmarkError as exc:
        name = type(exc).__name__ if type(exc).__name__ in _ANSWER_ERRORS else "InputError"
        return {"error": {"kind": name, "detail": exc.detail, "hint": exc.hint}}


def copy_json(copy: CredentialedCopy) -> dict[str, Any]:
    return {
        "data": base64.b64encode(copy.data).decode("ascii"),
        "media_type": copy.media_type,
        "filename": copy.filename,
        "certificate_id": copy.certificate_id,
        "has_parent": copy.has_parent,
    }


def copy_from_json(answer: dict[str, Any]) -> CredentialedCopy:
    error = answer.get("error")
    if error:
        kind = _ANSWER_ERRORS.get(str(error.get("kind")), InputError)
        raise kind(str(error.get("detail")), hint=error.get("hint"))
    return CredentialedCopy(
        data=base64.b64decode(answer["data"]),
        media_type=str(answer["media_type"]),
        filename=str(answer["filename"]),
        certificate_id=str(answer["certificate_id"]),
        has_parent=bool(answer["has_parent"]),
    )


def offers_credentials(work: Work) -> bool:
    """Whether the work page offers the credentialed download (``work`` attached)."""
    try:
        _check_certifiable(work)
    except (InputError, ConflictError):
        return False
    return True


# --- reading the upload's own credentials ----------------------------------------------------


def _reader_anchors(inst: Instance) -> str | None:
    """Trust anchors for reading uploads: the configured ones plus the instance's own root,
    so a copy this instance signed reads as trusted here."""
    settings = inst.settings
    configured = C2paDetector.from_settings(settings).trust_anchors_pem or ""
    files = c2pa_chain_files(settings)
    own = root_pem(files) if files.root_certificate.exists() else ""
    return (configured + "\n" + own).strip() or None


def upload_credentials(inst: Instance, work: Work) -> dict[str, Any] | None:
    """What the Content Credentials in the stored upload claim, or None when it has none.

    The summary is for the work page: validation state, claim generator, signer, and the
    actions of the active manifest with their IPTC digital source types.
    """
    if work.kind != "image":
        return None
    detector = C2paDetector(_reader_anchors(inst))
    with stored_content(inst.blobs, work.blob_key) as content:
        finding = detector.analyze(
            WorkInput(
                kind=work.kind,
                media_type=work.media_type,
                data=content.stream(),
                declared=OriginLabel(work.label),
            )
        )
    details = finding.details
    if details.get("error"):
        return {"readable": False, "explanation": finding.explanation}
    if not details.get("manifest"):
        return None
    signer = details.get("signer") or {}
    actions = [
        {
            "action": a.get("action"),
            "source_type": _term(a.get("digital_source_type")),
            "source_type_name": SOURCE_TYPE_NAMES.get(
                _term(a.get("digital_source_type")) or "", "a source type not listed here"
            ),
            "software_agent": _agent(a.get("software_agent")),
        }
        for a in details.get("actions") or []
        if a.get("active")
    ]
    return {
        "readable": True,
        "state": details.get("validation_state"),
        "trusted": bool(details.get("trusted")),
        "failures": [str(code) for code in details.get("failures") or [] if code],
        "claim_generator": details.get("claim_generator") or None,
        "issuer": signer.get("issuer"),
        "common_name": signer.get("common_name"),
        "signed_at": signer.get("time"),
        "actions": actions,
    }


#: Plain words for the IPTC digital source types people meet most often.
SOURCE_TYPE_NAMES = {
    "digitalCapture": "captured by a camera or scanner",
    "computationalCapture": "captured with computational photography",
    "digitalCreation": "made by a person with digital tools",
    "humanEdits": "edited by a person",
    "minorHumanEdits": "lightly edited by a person",
    "compositeCapture": "a composite of captures",
    "compositeSynthetic": "a composite including synthetic elements",
    "compositeWithTrainedAlgorithmicMedia": "combines AI-generated material with other content",
    "trainedAlgorithmicMedia": "generated by an AI model",
    "algorithmicMedia": "generated by an algorithm",
}


def _term(uri: Any) -> str | None:
    return str(uri).rstrip("/").rsplit("/", 1)[-1] if uri else None


def _agent(agent: Any) -> str | None:
    if isinstance(agent, dict):
        return " ".join(str(agent[k]) for k in ("name", "version") if agent.get(k)) or None
    return str(agent) if agent else None
