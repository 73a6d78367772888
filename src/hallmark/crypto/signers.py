"""Signers: the seam between Hallmark and wherever its private key lives.

A signer is chosen by name in settings (``HALLMARK_SIGNER``) and found through the plugin
hook ``hallmark_signers``; the built-in ``file`` signer keeps an Ed25519 key in the instance
folder. A KMS or HSM signer implements the same :class:`Signer` protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from hallmark.crypto.keys import Ed25519PublicKey, load_private_key
from hallmark.plugins.hookspecs import hookimpl


@runtime_checkable
class Signer(Protocol):
    """Signs bytes with the instance's Ed25519 key."""

    def public_key(self) -> Ed25519PublicKey: ...

    def sign(self, data: bytes) -> bytes: ...


class FileSigner:
    """An Ed25519 key in a PEM file (``<home>/keys/signing.pem`` by default)."""

    def __init__(self, path: Path) -> None:
        self._key = load_private_key(path)

    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


class KeySigner:
    """A signer over an in-memory key: for tests and golden vectors."""

    def __init__(self, key: Any) -> None:
        self._key = key

    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()  # type: ignore[no-any-return]

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)  # type: ignore[no-any-return]


@hookimpl
def hallmark_signers() -> dict[str, Any]:
    def file_signer(settings: Any) -> Signer:
        return FileSigner(settings.signing_key_path)

    return {"file": file_signer}
