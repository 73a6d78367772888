"""The library face: verify a work from Python, as ``hallmark verify`` does (issue #6, item 7).

:func:`verify` is what the top-level package exports as ``hallmark.verify``. It reads a file and
its bundle, checks them with :func:`hallmark.core.verify.verify_bundle` and answers a frozen
:class:`Verdict`. With a verifier key it needs only the base install and no network; without
one it uses the local instance's key, as the command line does, which needs the server extras.

A verification that runs and says "not valid" is a :class:`Verdict` with ``valid=False``, never
an exception; exceptions (:class:`~hallmark.errors.InputError`,
:class:`~hallmark.errors.ConfigError`) mean the check could not run at all. The guide, with the
same example as :func:`verify`, is ``docs/verify.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hallmark.core.bundle import BUNDLE_SUFFIX, Bundle
from hallmark.core.verify import VerificationResult, verify_bundle
from hallmark.errors import ConfigError, InputError
from hallmark.ledger.note import Verifier, parse_verifier_key

__all__ = ["Verdict", "verify"]

#: Larger inputs are refused rather than read into memory; the same cap as the command line.
MAX_INPUT_BYTES = 512 * 1024 * 1024
#: The file whose presence marks an instance folder (``hallmark.settings.CONFIG_FILE``),
#: repeated here so that verifying with a key never imports the server extras.
_CONFIG_FILE = "hallmark.toml"

_BUNDLE_HINT = (
    "Pass bundle=PATH; 'hallmark register' and the work page's 'Download bundle' give it, "
    f"and it is looked for next to the work as <file>{BUNDLE_SUFFIX}."
)
_KEY_HINT = (
    "Pass public_key= the issuer's verifier key (what 'hallmark keys public' prints) or a file "
    "holding it, or home= the folder of the instance that issued the certificate."
)

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Verdict:
    """The outcome of :func:`verify`.

    Attributes:
        valid: True only when the certificate and log proof check out, the content matches,
            and no revocation is known.
        reason: A stable code: ``valid``, ``content-changed``, ``bad-signature``,
            ``bad-checkpoint-signature``, ``wrong-issuer``, ``proof-mismatch`` or ``revoked``
            (see :data:`hallmark.core.verify.REASONS`).
        detail: The same in plain words, for people.
        matched: Which certified digest the file matched: ``sha256`` (the exact bytes),
            ``normalized-text`` (the same text once line endings, trailing spaces and Unicode
            form are made uniform), or None when it matched neither or was not reached.
        label: The origin label: ``human-made``, ``ai-assisted`` or ``ai-generated``.
        level: The assurance level: ``declared``, ``analyzed``, ``process-verified`` or
            ``reviewed``.
        ai_share: The declared percentage of AI-generated content.
        certificate_id: The certificate's id.
        work_id: The work's id on the issuing instance.
        title: The work's title as certified.
        creator: The creator's handle.
        issuer: The log origin that issued the certificate.
        issued_at: When it was issued (RFC 3339).
        log_index: The certificate's entry in the issuer's log.
        tree_size: The size of the signed checkpoint the proof was checked against, or None
            when the check stopped before the checkpoint was opened.
        revocation_reason: The reason published with a revocation, when ``reason`` is
            ``revoked``.

    The certificate fields come from the bundle and are worth only as much as ``valid``
    says: when a signature fails, they are what the bundle claims, not what was certified.
    """

    valid: bool
    reason: str
    detail: str
    matched: str | None = None
    label: str | None = None
    level: str | None = None
    ai_share: float | None = None
    certificate_id: str | None = None
    work_id: str | None = None
    title: str | None = None
    creator: str | None = None
    issuer: str | None = None
    issued_at: str | None = None
    log_index: int | None = None
    tree_size: int | None = None
    revocation_reason: str | None = None

    @classmethod
    def from_result(cls, result: VerificationResult) -> Verdict:
        """The verdict for a result of :func:`hallmark.core.verify.verify_bundle`."""
        facts = result.to_json()
        revocation = result.revocation or {}
        return cls(
            valid=result.valid,
            reason=result.reason,
            detail=result.detail,
            matched=result.matched,
            label=_text(facts["label"]),
            level=_text(facts["level"]),
            ai_share=_number(facts["ai_share"]),
            certificate_id=_text(facts["certificate_id"]),
            work_id=_text(facts["work_id"]),
            title=_text(facts["title"]),
            creator=_text(facts["creator"]),
            issuer=_text(facts["issuer"]),
            issued_at=_text(facts["issued_at"]),
            log_index=facts["log_index"] if isinstance(facts["log_index"], int) else None,
            tree_size=result.checkpoint.size if result.checkpoint else None,
            revocation_reason=_text(revocation.get("reason")) if result.revocation else None,
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    # bool is an int subclass; a bundle that says "ai_share": true has no share.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def verify(
    path: PathLike,
    bundle: PathLike | None = None,
    public_key: PathLike | None = None,
    *,
    home: PathLike | None = None,
) -> Verdict:
    """Verify the work at ``path`` against its bundle, offline.

    Args:
        path: The work (a text or an image file).
        bundle: Its bundle; by default ``PATH.hallmark.json`` next to the work, where
            ``hallmark register`` writes it.
        public_key: The issuer's verifier key, ``origin+keyid+base64`` as
            ``hallmark keys public`` prints it, or the path of a file holding it. With a key
            and no ``home``, nothing but the two files and the key is read.
        home: The folder of a local instance. Without ``public_key`` its key is used, taken
            from ``home``, else ``HALLMARK_HOME``, else ``./.hallmark``, as with
            ``hallmark verify`` without ``--key``. Whenever an instance is used, its own
            revocations are checked too, since a bundle saved before a revocation does not
            carry it. Opening an instance needs ``pip install 'hallmark[server]'``.

    Returns:
        A :class:`Verdict`; ``verdict.valid`` is the answer and ``verdict.reason`` why.

    Raises:
        InputError: The file, bundle or key is missing, unreadable or malformed, or there
            is no key to verify with.
        ConfigError: The instance in ``home`` cannot be opened.

    Example, with an instance created in a temporary folder:

    >>> import json, tempfile
    >>> from pathlib import Path
    >>> import hallmark
    >>> from hallmark.services.accounts import ensure_creator
    >>> from hallmark.services.instance import init_instance, open_instance
    >>> from hallmark.services.registry import register_work
    >>> folder = tempfile.TemporaryDirectory()
    >>> inst = open_instance(init_instance(Path(folder.name, "instance")))
    >>> with inst.db.session() as session:
    ...     mara = ensure_creator(inst, session, "mara").id
    >>> poem = Path(folder.name, "poem.txt")
    >>> _ = poem.write_text("Salt on the window,\\nthe harbour still asleep.\\n")
    >>> registration = register_work(
    ...     inst, creator_id=mara, data=poem.read_bytes(), title="Harbour", declare="human-made"
    ... )
    >>> _ = Path(folder.name, "poem.txt.hallmark.json").write_text(json.dumps(registration.bundle))
    >>> key = inst.verifier_key  # what 'hallmark keys public' prints
    >>> inst.close()
    >>> verdict = hallmark.verify(poem, public_key=key)
    >>> verdict.valid, verdict.reason, verdict.label, verdict.level, verdict.matched
    (True, 'valid', 'human-made', 'declared', 'sha256')
    >>> _ = poem.write_text("Salt on the window,\\nthe harbour wide awake.\\n")
    >>> verdict = hallmark.verify(poem, public_key=key)
    >>> verdict.valid, verdict.reason
    (False, 'content-changed')
    >>> folder.cleanup()
    """
    work_path = Path(path)
    content = read_input(work_path, "file")
    bundle_path = Path(bundle) if bundle is not None else _bundle_beside(work_path)
    parsed = Bundle.parse(read_input(bundle_path, "bundle", hint=_BUNDLE_HINT))
    verifier = _verifier(public_key) if public_key is not None else None
    if verifier is not None and home is None:
        return Verdict.from_result(verify_bundle(content, parsed, verifier))
    return Verdict.from_result(_verify_with_instance(home, content, parsed, verifier))


def _bundle_beside(path: Path) -> Path:
    return path.with_name(path.name + BUNDLE_SUFFIX)


def read_input(path: Path, what: str, *, hint: str | None = None) -> bytes:
    """The bytes of a file the caller named, or an :class:`InputError` saying why not (the CLI
    reads its inputs through this too)."""
    if not path.exists():
        raise InputError(f"The {what} {path} does not exist.", hint=hint)
    if path.is_dir():
        raise InputError(f"The {what} {path} is a folder, not a file.", hint=hint)
    try:
        if path.stat().st_size > MAX_INPUT_BYTES:
            raise InputError(f"The {what} {path} is larger than {MAX_INPUT_BYTES:,} bytes.")
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"The {what} {path} cannot be read: {exc.strerror or exc}.") from None


def _verifier(public_key: PathLike) -> Verifier:
    """The key itself, or the key in the file it names.

    A verifier key always holds two plus signs and is never an existing file's name in
    practice, so an existing file wins and anything else is read as a key.
    """
    candidate = Path(public_key)
    if isinstance(public_key, os.PathLike) or _is_file(candidate):
        raw = read_input(candidate, "key file")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"The key file {candidate} is not UTF-8 text.") from None
        return parse_verifier_key(text.strip())
    if "+" not in public_key:
        # Neither a file nor anything shaped like a key: most likely a mistyped path.
        raise InputError(f"The key file {public_key} does not exist.", hint=_KEY_HINT)
    return parse_verifier_key(public_key.strip())


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        # A key string can be longer than a file name may be; then it is no file's name.
        return False


def _instance_home(home: PathLike | None) -> Path:
    # The same order as the command line and hallmark.settings.Settings.load.
    return Path(home or os.environ.get("HALLMARK_HOME") or ".hallmark")


def _verify_with_instance(
    home: PathLike | None, content: bytes, bundle: Bundle, verifier: Verifier | None
) -> VerificationResult:
    folder = _instance_home(home)
    if not (folder / _CONFIG_FILE).is_file():
        if verifier is None:
            raise InputError(
                f"No key to verify with: there is no Hallmark instance in {folder}.",
                hint=_KEY_HINT,
            )
        raise ConfigError(
            f"There is no Hallmark instance in {folder}.",
            hint="Point home= at an instance folder, or leave it out to verify with the key alone.",
        )
    try:
        from hallmark.services.instance import open_instance
        from hallmark.services.verify import apply_revocation
        from hallmark.settings import Settings
    except ImportError as exc:
        raise ConfigError(
            f"Using a local instance needs the server extras ({exc.name or exc} is missing).",
            hint="Install them with: pip install 'hallmark[server]', or pass public_key= to "
            "verify with the base install alone.",
        ) from None
    inst = open_instance(Settings.load(folder))
    try:
        result = verify_bundle(content, bundle, verifier or inst.verifier)
        apply_revocation(inst, bundle, result)
    finally:
        inst.close()
    return result
