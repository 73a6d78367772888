"""Following another instance's log: the monitor, and the witness that co-signs (issue #9, item 4).

A monitor keeps the last checkpoint it verified for a log and, at each check:

1. fetches the log's latest checkpoint (``GET /api/v1/log/checkpoint``) and verifies its
   signature with the instance's key, pinned on first contact (trust on first use) or given;
2. if the log grew, fetches the RFC 9162 consistency proof from the size it saw to the new one
   (``GET /api/v1/log/proof/consistency``) and checks it against the two *signed* roots, never
   against roots the instance sends beside the proof;
3. raises the alarm when the log shrank, signed two roots for one size, or cannot prove that
   the new tree extends the old: the log was rewritten or forked. Both signed checkpoints are
   kept as evidence, since together they prove it to anyone holding the instance's key.

A *witness* is a monitor that also co-signs each checkpoint it found consistent (C2SP
tlog-cosignature, :mod:`hallmark.ledger.cosignature`) and posts it back to the instance
(``POST /api/v1/log/cosignatures``), which publishes it with the checkpoint.

This module speaks HTTP with the standard library only and imports no database, so a monitor
runs on the base install (``pip install hallmark``), like offline verification.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from hallmark.errors import (
    ConfigError,
    HallmarkError,
    InputError,
    ProofError,
    UnavailableError,
    VerificationError,
)
from hallmark.ledger import merkle
from hallmark.ledger.checkpoint import Checkpoint, open_checkpoint
from hallmark.ledger.cosignature import CosignerKey, cosign, verify_cosignatures
from hallmark.ledger.note import SigningKey, Verifier, parse_verifier_key

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
#: The largest answer read from an instance: checkpoints and proofs are a few kilobytes.
MAX_RESPONSE_BYTES = 1024 * 1024
_TIMEOUT_SECONDS = 30
_USER_AGENT = "hallmark-monitor"

Status = Literal["first-contact", "unchanged", "grown", "alert"]


class LogClient(Protocol):
    """What the monitor asks of an instance; :class:`HttpLogClient` asks over HTTP."""

    url: str

    def checkpoint(self) -> str: ...

    def public_key(self) -> str: ...

    def consistency_proof(self, old: int, new: int) -> list[bytes]: ...

    def post_cosignature(self, note: str) -> None: ...


class InstanceRefused(HallmarkError):
    """The instance answered a request with an error (a 4xx or 5xx problem document)."""

    title = "The instance refused"

    def __init__(self, detail: str, *, http_status: int, hint: str | None = None) -> None:
        super().__init__(detail, hint=hint)
        self.http_status = http_status


def base_url(url: str) -> str:
    """The instance's base URL, from what a person typed: scheme and host, maybe a path."""
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InputError(
            f"{url!r} is not the http(s) address of a Hallmark instance.",
            hint="Give its base URL, e.g. https://hallmark.example.org",
        )
    path = parsed.path.rstrip("/")
    path = path.removesuffix(API_PREFIX)
    return urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, path, "", ""))


class HttpLogClient:
    """The instance's log API over HTTP(S), with the standard library's ``urllib``."""

    def __init__(self, url: str, *, timeout: float = _TIMEOUT_SECONDS) -> None:
        self.url = base_url(url)
        self.timeout = timeout

    def _request(
        self, path: str, params: dict[str, int] | None = None, body: str | None = None
    ) -> bytes:
        address = self.url + API_PREFIX + path
        if params:
            address += "?" + urllib.parse.urlencode(params)
        data = body.encode("utf-8") if body is not None else None
        request = urllib.request.Request(
            address,
            data=data,
            method="POST" if data is not None else "GET",
            headers={
                "User-Agent": _USER_AGENT,
                "Accept": "text/plain, application/json",
                **({"Content-Type": "text/plain; charset=utf-8"} if data is not None else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload: bytes = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise _refused(address, exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UnavailableError(
                f"Cannot reach {address}: {reason}.",
                hint="Check the address and that the instance is running.",
            ) from None
        if len(payload) > MAX_RESPONSE_BYTES:
            raise InputError(f"The answer from {address} is larger than a checkpoint or proof.")
        return payload

    def _text(self, path: str) -> str:
        try:
            return self._request(path).decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"The answer from {self.url}{API_PREFIX}{path} is not text.") from None

    def checkpoint(self) -> str:
        return self._text("/log/checkpoint")

    def public_key(self) -> str:
        return self._text("/keys/public")

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        raw = self._request("/log/proof/consistency", {"old": old, "new": new})
        try:
            hashes = json.loads(raw)["hashes"]
            return [base64.b64decode(value, validate=True) for value in hashes]
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise InputError(
                f"The consistency proof from {self.url} is not the JSON document the API describes."
            ) from None

    def post_cosignature(self, note: str) -> None:
        self._request("/log/cosignatures", body=note)


def _refused(address: str, exc: urllib.error.HTTPError) -> InstanceRefused:
    detail = f"HTTP {exc.code}"
    try:
        problem = json.loads(exc.read(MAX_RESPONSE_BYTES))
        if isinstance(problem, dict) and isinstance(problem.get("detail"), str):
            detail = f"{detail}: {problem['detail']}"
    except (ValueError, OSError):
        pass
    return InstanceRefused(f"{address} answered {detail}", http_status=exc.code)


# The monitor's state -------------------------------------------------------------------------


@dataclass
class LogState:
    """What the monitor remembers of one log, in ``<monitor folder>/<log>.json``."""

    url: str
    verifier_key: str
    checkpoint: str | None = None
    first_seen: str | None = None
    last_checked: str | None = None
    #: The size of the last checkpoint this monitor's witness cosigned, if it is one.
    cosigned_size: int | None = None


def state_path(folder: Path, url: str) -> Path:
    """The state file of the log at ``url``: readable name, plus a hash so URLs never clash."""
    base = base_url(url)
    readable = re.sub(r"[^A-Za-z0-9.]+", "-", base.split("://", 1)[1]).strip("-")[:60]
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    return folder / f"{readable}-{digest}.json"


def load_state(path: Path) -> LogState | None:
    if not path.exists():
        return None
    try:
        document = json.loads(path.read_text("utf-8"))
        return LogState(**document)
    except (ValueError, TypeError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"The monitor's state file {path} cannot be read ({exc}).",
            hint="It holds the pinned key and the last checkpoint seen: restore it from a "
            "backup rather than deleting it, or the next check trusts whatever it is shown.",
        ) from None


def save_state(path: Path, state: LogState) -> None:
    # Written to a temporary file and renamed, so a crash never leaves half a state behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(asdict(state), indent=2, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".state-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# Checking ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WitnessIdentity:
    """The witness's name and private key, when the monitor also co-signs."""

    name: str
    key: SigningKey

    @property
    def cosigner(self) -> CosignerKey:
        return CosignerKey.from_public_key(self.name, self.key.public_key())


@dataclass
class Observation:
    """The outcome of one check."""

    status: Status
    url: str
    message: str
    checkpoint: Checkpoint | None = None
    previous_size: int | None = None
    #: The instance's verifier key, when it was fetched and pinned by this check.
    pinned_key: str | None = None
    #: Where the conflicting checkpoints were saved, after an alert.
    evidence: Path | None = None
    cosigned: bool = False
    #: Why the witness could not deliver its cosignature (the check itself passed).
    witness_problem: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def alert(self) -> bool:
        return self.status == "alert"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Monitor:
    """Checks one log against what was seen before; keeps its state in ``folder``."""

    def __init__(
        self,
        client: LogClient,
        folder: Path,
        *,
        key: Verifier | None = None,
        witness: WitnessIdentity | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.client = client
        self.path = state_path(folder, client.url)
        self.key = key
        self.witness = witness
        self.clock = clock

    def check(self) -> Observation:
        """Fetch the latest checkpoint and compare it with the last one verified.

        Raises :class:`UnavailableError` or :class:`InstanceRefused` when the instance cannot
        be asked at all; everything the log itself got wrong is an ``alert`` observation.
        """
        state = load_state(self.path)
        now = self.clock().isoformat()
        verifier, pinned_now = self._verifier(state)
        note = self.client.checkpoint()
        try:
            checkpoint = open_checkpoint(note, verifier)
        except VerificationError as exc:
            return self._alert(
                state,
                note,
                f"The checkpoint from {self.client.url} does not verify with the pinned key "
                f"{verifier.vkey()}: {exc.detail} The instance changed its key, or something "
                "else is answering for it.",
            )
        if state is None or state.checkpoint is None:
            state = LogState(self.client.url, verifier.vkey(), first_seen=now)
            observation = Observation(
                "first-contact",
                self.client.url,
                f"First contact: {_describe(checkpoint)}.",
                checkpoint,
                pinned_key=verifier.vkey() if pinned_now else None,
            )
        else:
            previous = self._previous(state, verifier)
            problem = self._inconsistency(previous, checkpoint)
            if problem is not None:
                return self._alert(state, note, problem)
            if checkpoint.size == previous.size:
                observation = Observation(
                    "unchanged",
                    self.client.url,
                    f"Unchanged: {_describe(checkpoint)}.",
                    checkpoint,
                    previous.size,
                )
            else:
                observation = Observation(
                    "grown",
                    self.client.url,
                    f"Grew from {previous.size} to {_describe(checkpoint)}; the consistency "
                    "proof verifies.",
                    checkpoint,
                    previous.size,
                )
        state.checkpoint = note
        state.last_checked = now
        save_state(self.path, state)
        if self.witness is not None:
            self._cosign(state, note, checkpoint, observation)
        return observation

    def _verifier(self, state: LogState | None) -> tuple[Verifier, bool]:
        """The key to check with: the one pinned, the one given, or (first contact) fetched."""
        if state is not None:
            pinned = parse_verifier_key(state.verifier_key)
            if self.key is not None and self.key.vkey() != pinned.vkey():
                raise ConfigError(
                    f"The key given ({self.key.vkey()}) is not the one pinned for "
                    f"{self.client.url} ({pinned.vkey()}).",
                    hint=f"If the instance really changed its key, move {self.path} aside to "
                    "start following it afresh.",
                )
            return pinned, False
        if self.key is not None:
            return self.key, False
        return parse_verifier_key(self.client.public_key()), True

    def _previous(self, state: LogState, verifier: Verifier) -> Checkpoint:
        """The checkpoint seen last, checked again: the state file is only a file."""
        assert state.checkpoint is not None
        try:
            return open_checkpoint(state.checkpoint, verifier)
        except VerificationError as exc:
            raise ConfigError(
                f"The checkpoint kept in {self.path} does not verify ({exc.detail}).",
                hint="The state file was changed; restore it from a backup.",
            ) from None

    def _inconsistency(self, previous: Checkpoint, current: Checkpoint) -> str | None:
        """Why ``current`` cannot be the same log as ``previous`` grown, or None if it can."""
        url = self.client.url
        if current.origin != previous.origin:
            return f"The log at {url} now calls itself {current.origin!r}, not {previous.origin!r}."
        if current.size < previous.size:
            return (
                f"The log at {url} was REWRITTEN: its signed checkpoint now has "
                f"{current.size} entries, fewer than the {previous.size} of the signed "
                "checkpoint seen before. A log only ever grows."
            )
        if current.size == previous.size:
            if current.root_hash != previous.root_hash:
                return (
                    f"The log at {url} was REWRITTEN or forked: it signed two different root "
                    f"hashes for the same size {current.size}."
                )
            return None
        try:
            proof = self.client.consistency_proof(previous.size, current.size)
        except InstanceRefused as exc:
            return (
                f"The log at {url} may have been REWRITTEN: it cannot prove that its "
                f"checkpoint of size {current.size} extends the one of size {previous.size} "
                f"seen before ({exc.detail})."
            )
        try:
            merkle.verify_consistency(
                previous.size, current.size, previous.root_hash, current.root_hash, proof
            )
        except ProofError as exc:
            return (
                f"The log at {url} was REWRITTEN or forked: its checkpoint of size "
                f"{current.size} is not an extension of the one of size {previous.size} seen "
                f"before. {exc.detail}"
            )
        return None

    def _alert(self, state: LogState | None, note: str, message: str) -> Observation:
        """Save the evidence and report; the state keeps the last good checkpoint."""
        stamp = self.clock().strftime("%Y%m%dT%H%M%SZ")
        evidence = self.path.with_name(f"{self.path.stem}.alert-{stamp}.txt")
        previous = state.checkpoint if state is not None and state.checkpoint else "(none)\n"
        evidence.parent.mkdir(parents=True, exist_ok=True)
        evidence.write_text(
            f"Hallmark monitor alert, {self.clock().isoformat()}\n"
            f"log: {self.client.url}\n{message}\n\n"
            f"--- the checkpoint seen before ---\n{previous}\n"
            f"--- the checkpoint served now ---\n{note}",
            "utf-8",
        )
        logger.error("%s (evidence in %s)", message, evidence)
        return Observation("alert", self.client.url, message, evidence=evidence)

    def _cosign(
        self, state: LogState, note: str, checkpoint: Checkpoint, observation: Observation
    ) -> None:
        """Co-sign the verified checkpoint and post it, unless it already carries ours."""
        assert self.witness is not None
        cosigner = self.witness.cosigner
        try:
            if verify_cosignatures(note, [cosigner]):
                observation.notes.append("It already carries this witness's cosignature.")
                return
        except VerificationError:
            # A line claiming to be ours that does not verify: sign afresh; the instance
            # replaces it.
            pass
        timestamp = int(self.clock().timestamp())
        cosigned = cosign(note, self.witness.name, self.witness.key, timestamp)
        try:
            self.client.post_cosignature(cosigned)
        except (InstanceRefused, UnavailableError) as exc:
            observation.witness_problem = f"The cosignature was not accepted: {exc.detail}"
            return
        observation.cosigned = True
        state.cosigned_size = checkpoint.size
        save_state(self.path, state)


def _describe(checkpoint: Checkpoint) -> str:
    entries = "entry" if checkpoint.size == 1 else "entries"
    root = base64.b64encode(checkpoint.root_hash).decode()
    return f"{checkpoint.size} {entries}, root {root}"
