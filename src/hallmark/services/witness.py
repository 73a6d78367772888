"""Witness cosignatures, on the instance's side: accept, check, store and publish them.

A witness follows the log (``hallmark monitor --witness-key``), checks each new checkpoint is
consistent with the last it saw, and posts the checkpoint back with its cosignature line added
(C2SP tlog-cosignature; :mod:`hallmark.ledger.cosignature`). The instance accepts lines only
from the witnesses in the ``witnesses`` setting, checks each one, and appends it to the stored
checkpoint note, so ``GET /api/v1/log/checkpoint`` and the bundles built afterwards carry the
witnesses' statements beside the log's own signature. Nothing else about the checkpoint
changes: its text and the log's signature line stay byte for byte as signed, and the audit and
every verifier ignore signature lines by keys they do not know.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hallmark.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    VerificationError,
)
from hallmark.ledger.checkpoint import Checkpoint
from hallmark.ledger.cosignature import (
    Cosignature,
    CosignerKey,
    parse_cosigner_key,
    verify_cosignatures,
)
from hallmark.ledger.note import MAX_SIGNATURES, split_note
from hallmark.services.instance import Instance
from hallmark.storage.log_store import LogStore

logger = logging.getLogger(__name__)

#: Cosignatures dated further ahead than this are refused (the spec lets verifiers refuse
#: future timestamps); a little slack covers clocks that are not quite in step.
MAX_CLOCK_SKEW_SECONDS = 300
#: A cosigned checkpoint is a few hundred bytes; anything far larger is not one.
MAX_COSIGNED_NOTE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Accepted:
    """What a witness's post changed: the checkpoint's size, who cosigned, the note now served."""

    size: int
    witnesses: list[str]
    note: str


def witness_keys(inst: Instance) -> list[CosignerKey]:
    """The witnesses this instance accepts, from the (already validated) settings."""
    return [parse_cosigner_key(vkey) for vkey in inst.settings.witnesses]


def add_cosignatures(inst: Instance, cosigned: str) -> Accepted:
    """Check the cosignatures on ``cosigned`` and add them to the stored checkpoint.

    ``cosigned`` is one of this log's checkpoints, as published, with one or more witness lines
    added. It must be the very checkpoint this instance signed at that size: a witness holding
    a different one at the same size has seen a fork, which is refused (409) and logged, not
    stored. A newer cosignature by the same witness replaces its older one; an older one is
    ignored.
    """
    if len(cosigned.encode("utf-8", errors="replace")) > MAX_COSIGNED_NOTE_BYTES:
        raise InputError("That is far too long to be a cosigned checkpoint.")
    try:
        text, _ = split_note(cosigned)
        checkpoint = Checkpoint.parse(text)
    except VerificationError as exc:
        raise InputError(
            exc.detail, hint="Send the checkpoint note with its cosignature line."
        ) from None
    if checkpoint.origin != inst.origin:
        raise InputError(
            f"This is a checkpoint of the log {checkpoint.origin!r}, not of this instance's log "
            f"{inst.origin!r}."
        )
    known = witness_keys(inst)
    if not known:
        raise PermissionDeniedError(
            "This instance accepts no witness cosignatures.",
            hint="The operator lists the witnesses it accepts in the 'witnesses' setting.",
        )
    found = verify_cosignatures(cosigned, known)
    if not found:
        raise PermissionDeniedError(
            "None of the signatures is by a witness this instance accepts.",
            hint="The operator adds the witness's key (from 'hallmark keys witness') to the "
            "'witnesses' setting.",
        )
    latest = int(inst.clock().timestamp()) + MAX_CLOCK_SKEW_SECONDS
    for cosignature in found:
        if cosignature.timestamp > latest:
            raise InputError(
                f"The cosignature by {cosignature.cosigner.name} is dated in the future "
                f"(POSIX time {cosignature.timestamp}).",
                hint="Check the witness's clock.",
            )
    with inst.db.log_writer() as session:
        store = LogStore(session)
        row = store.checkpoint_at(checkpoint.size)
        if row is None:
            raise NotFoundError(
                f"This instance has published no checkpoint at size {checkpoint.size}."
            )
        stored_text, _ = split_note(row.note)
        if stored_text != text:
            logger.warning(
                "witness sent a checkpoint at size %d that differs from the stored one",
                checkpoint.size,
            )
            raise ConflictError(
                f"This is not the checkpoint this instance published at size {checkpoint.size}: "
                "the witness holds a different tree head for the same size.",
                hint="Keep both checkpoints: two signed tree heads for one size are evidence "
                "that the log was forked or rewritten.",
            )
        note = _merge(row.note, found, known)
        row.note = note
    names = sorted({c.cosigner.name for c in found})
    logger.info("checkpoint %d cosigned by %s", checkpoint.size, ", ".join(names))
    return Accepted(checkpoint.size, names, note)


def _merge(stored: str, new: list[Cosignature], known: list[CosignerKey]) -> str:
    """The stored note with each witness's newest cosignature, after the log's own lines."""
    text, signatures = split_note(stored)
    current = {(c.cosigner.name, c.cosigner.key_id): c for c in verify_cosignatures(stored, known)}
    for cosignature in new:
        key = (cosignature.cosigner.name, cosignature.cosigner.key_id)
        held = current.get(key)
        if held is None or cosignature.timestamp > held.timestamp:
            current[key] = cosignature
    # Lines that are not (current) cosignatures of known witnesses are kept as they are: the
    # log's own signature first, then anything else it already published.
    kept = [
        signature.line
        for signature in signatures
        if (signature.name, signature.key_id) not in current
    ]
    lines = kept + [current[key].line for key in sorted(current)]
    if len(lines) > MAX_SIGNATURES:
        raise ConflictError(
            f"The checkpoint already carries {MAX_SIGNATURES} signatures, the most a note may."
        )
    return text + "\n" + "".join(f"{line}\n" for line in lines)
