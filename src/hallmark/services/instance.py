"""An instance of Hallmark: its settings, database, signer and blob store, wired once.

``init_instance`` creates a new instance folder (config, signing key, database);
``open_instance`` builds the objects every use case needs from a :class:`Settings`. The clock
and the id generator are passed in, so tests produce byte-exact certificates.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hallmark.crypto.c2pa_chain import ChainFiles, ensure_chain
from hallmark.crypto.keys import generate_private_key, public_raw, save_private_key
from hallmark.crypto.signers import Signer
from hallmark.errors import ConfigError
from hallmark.ledger.note import Verifier, parse_verifier_key, verifier_key
from hallmark.plugins.manager import choose
from hallmark.settings import CONFIG_FILE, Settings
from hallmark.storage.blobs import BlobStore
from hallmark.storage.database import Database
from hallmark.storage.migrate import upgrade

logger = logging.getLogger(__name__)

_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def utc_now() -> datetime:
    return datetime.now(UTC)


def random_id(prefix: str) -> str:
    """A short, URL-safe, unguessable id such as ``w_8kq3...``: 80 random bits."""
    return prefix + "_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


@dataclass
class Instance:
    settings: Settings
    db: Database
    signer: Signer
    blobs: BlobStore
    clock: Callable[[], datetime] = utc_now
    new_id: Callable[[str], str] = random_id
    _verifier: Verifier | None = field(default=None, repr=False)

    @property
    def origin(self) -> str:
        return self.settings.origin

    @property
    def verifier_key(self) -> str:
        """The public key in C2SP verifier-key form: what ``hallmark verify --key`` takes."""
        return verifier_key(self.origin, self.signer.public_key())

    @property
    def verifier(self) -> Verifier:
        if self._verifier is None:
            self._verifier = parse_verifier_key(self.verifier_key)
        return self._verifier

    def close(self) -> None:
        self.db.dispose()


def open_instance(
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    new_id: Callable[[str], str] | None = None,
    signer: Signer | None = None,
) -> Instance:
    db = Database(settings.resolved_database_url)
    return Instance(
        settings=settings,
        db=db,
        signer=signer or choose("hallmark_signers", settings.signer)(settings),
        blobs=choose("hallmark_blob_stores", settings.blob_store)(settings),
        clock=clock or utc_now,
        new_id=new_id or random_id,
    )


def c2pa_chain_files(settings: Settings) -> ChainFiles:
    """Where the instance keeps its own Content Credentials chain: ``<home>/keys/``."""
    return ChainFiles.in_folder(settings.home / "keys")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def init_instance(
    home: Path,
    *,
    origin: str | None = None,
    database_url: str | None = None,
    public_url: str | None = None,
    if_missing: bool = False,
) -> Settings:
    """Create the instance folder: config with a fresh secret, signing key, Content
    Credentials chain (issue #6), migrated database.

    With ``if_missing`` an existing instance is left as it is (its database is still brought up
    to the latest migration); otherwise an existing one is an error, so keys are never replaced.
    """
    config_path = home / CONFIG_FILE
    if config_path.exists():
        if not if_missing:
            raise ConfigError(
                f"An instance already exists in {home}.",
                hint="Use another --home, or pass --if-missing to keep it.",
            )
        settings = Settings.load(home)
        db = Database(settings.resolved_database_url)
        try:
            # Migrations that index stored works (0006, search) read them from the blob store.
            upgrade(db, blobs=choose("hallmark_blob_stores", settings.blob_store)(settings))
        finally:
            db.dispose()
        # Instances made before issue #6 have no Content Credentials chain yet.
        ensure_chain(c2pa_chain_files(settings), origin=settings.origin, now=utc_now())
        return settings
    values: dict[str, Any] = {
        "origin": origin or "hallmark.localhost/log",
        "public_url": public_url or "http://127.0.0.1:8000",
        "secret_key": secrets.token_urlsafe(48),
    }
    if database_url:
        values["database_url"] = database_url
    lines = ["# Hallmark instance settings; see docs/settings.md. Environment variables win."]
    lines += [f"{key} = {_toml_value(val)}" for key, val in values.items()]
    settings = Settings.load(home, **{k: v for k, v in values.items() if k != "secret_key"})
    # Settings are validated before anything is written, so a bad value leaves no folder.
    home.mkdir(parents=True, exist_ok=True)
    key_path = settings.signing_key_path
    if not key_path.exists():
        key = generate_private_key()
        save_private_key(key, key_path)
        logger.info("created signing key %s (%s)", key_path, public_raw(key.public_key()).hex())
    ensure_chain(c2pa_chain_files(settings), origin=settings.origin, now=utc_now())
    db = Database(settings.resolved_database_url)
    try:
        upgrade(db)
    finally:
        db.dispose()
    # The config is written last: its presence marks a complete instance.
    config_path.write_text("\n".join(lines) + "\n", "utf-8")
    config_path.chmod(0o600)
    return Settings.load(home)
