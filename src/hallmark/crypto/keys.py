"""Ed25519 keys: generating, saving, loading, and the public forms people pass around.

The instance signs certificates and checkpoints with one Ed25519 key. Its public form is the
C2SP signed-note verifier key (``<origin>+<key id>+<base64 key>``), which names the log origin
too, so ``hallmark verify --key`` needs nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hallmark.errors import ConfigError, InputError

__all__ = [
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "generate_private_key",
    "load_private_key",
    "private_key_from_seed",
    "public_raw",
    "save_private_key",
    "verify_signature",
]


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """A key from a 32-byte seed: for tests and golden vectors, where keys are passed in."""
    if len(seed) != 32:
        raise InputError("An Ed25519 seed is exactly 32 bytes.")
    return Ed25519PrivateKey.from_private_bytes(seed)


def save_private_key(key: Ed25519PrivateKey, path: Path) -> None:
    """Write the key as unencrypted PKCS#8 PEM, readable by the owner only."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Create with 0600 from the start, so the key is never readable by others even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"No signing key at {path}.", hint="Run 'hallmark init' to create one."
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"The signing key at {path} cannot be read: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"The signing key at {path} is not an Ed25519 key.")
    return key


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def verify_signature(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    """True when ``signature`` is ``key``'s Ed25519 signature over ``data``; never raises."""
    try:
        key.verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True
