"""Backing an instance up, and restoring it, checked end to end (issue #9, item 5).

A backup is two folders, kept apart on purpose (docs/operations.md, "Backup and restore"):

- the **data backup**: the database, every blob the database names, and the instance's
  settings file with its secrets taken out, plus ``manifest.json`` listing every file with its
  SHA-256 and size. It holds nothing that can sign or forge: it can be handed to an auditor, a
  mirror or an off-site store that is not trusted with the instance's identity.
- the **keys backup**: the signing key, the Content Credentials keys and certificates, and the
  settings' secrets (``secret_key``, a database password, S3 credentials), with its own
  manifest. Whoever holds it can sign certificates and checkpoints as the instance, so it
  belongs somewhere safer than the data, and usually somewhere different.

The database is copied without stopping the instance: SQLite through its online backup API
(never by copying a live file, whose WAL may hold committed pages the main file does not);
PostgreSQL with ``pg_dump`` when it is on the PATH (one consistent snapshot), else as a
portable dump written through SQLAlchemy in one repeatable-read transaction.

A restore first checks every file of both backups against their manifests, so a damaged backup
is refused before anything is written; then restores keys, database and blobs; then checks the
result as an operator would: the log is recomputed from its leaves (``hallmark log audit``),
every blob the database names is read back and hashed, the row counts must equal the dump's,
and the log must hold the signed checkpoint recorded when the backup began.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Final

from sqlalchemy import MetaData, inspect, select, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from hallmark import __version__
from hallmark.errors import ConfigError, HallmarkError, InputError
from hallmark.services import log as log_service
from hallmark.services.instance import Instance, open_instance
from hallmark.settings import CONFIG_FILE, Settings
from hallmark.storage.database import Database
from hallmark.storage.log_store import LogStore
from hallmark.storage.migrate import upgrade

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
DATA_FORMAT: Final = "hallmark-backup"
KEYS_FORMAT: Final = "hallmark-keys-backup"
PORTABLE_FORMAT: Final = "hallmark-portable-dump"
FORMAT_VERSION: Final = 1
#: What ``--keys`` defaults to: a folder beside the data backup, never inside it.
KEYS_SUFFIX = "-keys"
SECRETS_FILE = "secrets.toml"

_SQLITE_FILE = "database/hallmark.db"
_PG_DUMP_FILE = "database/pg_dump.sql"
_PORTABLE_FILE = "database/portable.jsonl"
_PG_DUMP_FOOTER = "-- PostgreSQL database dump complete"
#: Settings whose values let someone act as the instance; they go to the keys backup.
_SECRET_SETTING = re.compile(r"secret|password|token|access_key")
#: Settings that name key files; the files go to the keys backup, and a restored config names
#: the restored copies in the new instance folder.
_KEY_FILE_SETTINGS = ("signing_key", "c2pa_certificate_chain", "c2pa_private_key")
#: Tables whose row counts must survive a restore unchanged.
_COUNTED = ("users", "works", "certificates", "revocations", "log_entries", "checkpoints")
_CHUNK = 1024 * 1024
_INSERT_BATCH = 500

#: ``progress(stage, done, total)``: stage is one of "database", "blobs", "check", "audit",
#: "verify blobs"; total is None while it is not known yet.
Progress = Callable[[str, int, int | None], None]


def _no_progress(_stage: str, _done: int, _total: int | None) -> None:
    return None


def default_keys_folder(folder: Path) -> Path:
    return folder.with_name(folder.name + KEYS_SUFFIX)


# Reading and checking a backup -------------------------------------------------------------


def _damaged(folder: Path, detail: str) -> InputError:
    return InputError(
        f"The backup in {folder} is damaged: {detail}",
        hint="Restore from another copy of the backup; nothing was written.",
    )


def _sha256_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _safe_relative(folder: Path, name: str) -> Path:
    """``folder / name`` for a name from a manifest, refusing names that climb out of it."""
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise _damaged(folder, f"the manifest names a file outside the backup ({name!r}).")
    return folder / relative


@dataclass
class BackupManifest:
    """A backup folder's manifest, read and checked against the files beside it."""

    folder: Path
    document: dict[str, Any]

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        files: dict[str, dict[str, Any]] = self.document["files"]
        return files

    def path(self, name: str) -> Path:
        return _safe_relative(self.folder, name)


def read_manifest(folder: Path, kind: str, what: str) -> BackupManifest:
    """The manifest of a data (``kind`` = DATA_FORMAT) or keys backup, or a clear error."""
    if not folder.is_dir():
        raise InputError(f"There is no {what} at {folder}.")
    path = folder / MANIFEST
    if not path.is_file():
        raise _damaged(folder, f"it has no {MANIFEST}, so nothing in it can be checked.")
    try:
        document = json.loads(path.read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _damaged(folder, f"{MANIFEST} is not valid JSON ({exc}).") from None
    if not isinstance(document, dict) or document.get("format") not in (DATA_FORMAT, KEYS_FORMAT):
        raise _damaged(folder, f"{MANIFEST} is not a Hallmark backup manifest.")
    if document["format"] != kind:
        other = "keys backup" if document["format"] == KEYS_FORMAT else "data backup"
        raise InputError(f"{folder} is a {other}, not a {what}.")
    if document.get("version") != FORMAT_VERSION:
        raise InputError(
            f"The backup in {folder} is format version {document.get('version')!r}; this "
            f"Hallmark reads version {FORMAT_VERSION}.",
            hint="Restore it with the Hallmark version that made it.",
        )
    files = document.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(entry, dict)
        and isinstance(entry.get("sha256"), str)
        and isinstance(entry.get("size"), int)
        for entry in files.values()
    ):
        raise _damaged(folder, f"{MANIFEST} does not list its files with digests and sizes.")
    return BackupManifest(folder, document)


def check_files(manifest: BackupManifest, progress: Progress = _no_progress) -> None:
    """Every file the manifest lists is there, with its size and SHA-256; nothing else is."""
    folder = manifest.folder
    listed = manifest.files
    total = len(listed)
    for done, (name, entry) in enumerate(sorted(listed.items()), start=1):
        path = manifest.path(name)
        if not path.is_file():
            raise _damaged(folder, f"{name} is missing.")
        digest, size = _sha256_file(path)
        if size != entry["size"]:
            raise _damaged(
                folder,
                f"{name} is {size:,} bytes, but was {entry['size']:,} when backed up "
                "(truncated or changed).",
            )
        if digest != entry["sha256"]:
            raise _damaged(folder, f"{name} does not have the SHA-256 it was backed up with.")
        progress("check", done, total)
    extra = sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and path.name != MANIFEST
    )
    unlisted = [name for name in extra if name not in listed]
    if unlisted:
        raise _damaged(
            folder, f"{unlisted[0]} is not in the manifest ({len(unlisted)} such file(s))."
        )


# Making a backup --------------------------------------------------------------------------------


@dataclass
class BackupResult:
    folder: Path
    keys_folder: Path
    method: str
    log_size: int
    blobs: int
    blob_bytes: int
    #: Blobs the database names that the store does not have: the instance is damaged.
    missing_blobs: list[str] = field(default_factory=list)


def _prepare_target(folder: Path, what: str) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError(
            f"{folder} already exists and is not an empty folder; a {what} is never written "
            "over anything.",
            hint="Give a new folder for each backup.",
        )
    folder.mkdir(parents=True, exist_ok=True)


def _inside(inner: Path, outer: Path) -> bool:
    inner, outer = inner.resolve(), outer.resolve()
    return inner == outer or outer in inner.parents


class _Writer:
    """Collects the manifest's file list while files are written into a backup folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[str, dict[str, Any]] = {}

    def record(self, name: str) -> None:
        digest, size = _sha256_file(self.folder / name)
        self.files[name] = {"sha256": digest, "size": size}

    def write_bytes(self, name: str, data: bytes, mode: int = 0o644) -> None:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        self.files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}

    def finish(self, document: dict[str, Any]) -> None:
        document["files"] = dict(sorted(self.files.items()))
        # The manifest is written last: a backup without one was interrupted.
        (self.folder / MANIFEST).write_text(json.dumps(document, indent=2) + "\n", "utf-8")


def backup(
    inst: Instance,
    folder: Path,
    keys_folder: Path | None = None,
    *,
    progress: Progress = _no_progress,
) -> BackupResult:
    """Write the data backup into ``folder`` and the keys backup into ``keys_folder``."""
    keys_folder = keys_folder or default_keys_folder(folder)
    if _inside(keys_folder, folder) or _inside(folder, keys_folder):
        raise InputError(
            "The keys backup must be a folder of its own, not inside the data backup (or the "
            "other way round).",
            hint="The point of keeping them apart is that the data can be handed on without "
            "the keys; give --keys a folder elsewhere.",
        )
    settings = inst.settings
    _prepare_target(folder, "backup")
    _prepare_target(keys_folder, "keys backup")
    keys_folder.chmod(0o700)
    data = _Writer(folder)
    keys = _Writer(keys_folder)

    config, secrets = _split_config(settings)
    data.write_bytes(CONFIG_FILE, config.encode("utf-8"))
    keys.write_bytes(SECRETS_FILE, secrets.encode("utf-8"), 0o600)
    key_files = _backup_key_files(settings, keys)

    # The checkpoint is read before the dump, so the dump holds it (and maybe more): the
    # instance keeps registering while it is backed up.
    checkpoint = log_service.latest_checkpoint(inst)
    method, revision, counts = _backup_database(inst, data, progress)
    blob_keys = sorted(_blob_keys(inst.db.engine))
    missing: list[str] = []
    blob_bytes = 0
    for done, key in enumerate(blob_keys, start=1):
        name = f"blobs/{key[:2]}/{key[2:4]}/{key}"
        try:
            blob_bytes += _copy_blob(inst, key, folder / name)
        except HallmarkError as exc:
            logger.error("blob %s not backed up: %s", key, exc.detail)
            missing.append(key)
            continue
        data.record(name)
        progress("blobs", done, len(blob_keys))
    common = {
        "version": FORMAT_VERSION,
        "created_at": inst.clock().isoformat(),
        "hallmark_version": __version__,
        "origin": settings.origin,
        "verifier_key": inst.verifier_key,
    }
    data.finish(
        {
            "format": DATA_FORMAT,
            **common,
            "database": {"dialect": inst.db.dialect, "method": method, "revision": revision},
            "counts": counts,
            "log": {
                "size": counts.get("log_entries", 0),
                "checkpoint": {
                    "size": checkpoint.size,
                    "root_hash": base64.b64encode(bytes(checkpoint.root_hash)).decode(),
                    "note": checkpoint.note,
                },
            },
            "blobs": {"count": len(blob_keys) - len(missing), "missing": missing},
        }
    )
    keys.finish({"format": KEYS_FORMAT, **common, "key_files": key_files})
    return BackupResult(
        folder,
        keys_folder,
        method,
        counts.get("log_entries", 0),
        len(blob_keys) - len(missing),
        blob_bytes,
        missing,
    )


def _split_config(settings: Settings) -> tuple[str, str]:
    """The settings file without its secrets, and the secrets, both as TOML."""
    path = settings.home / CONFIG_FILE
    try:
        values = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The settings file {path} cannot be read: {exc}") from None
    public: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for key, value in values.items():
        if _SECRET_SETTING.search(key):
            secret[key] = value
        elif key == "database_url" and make_url(str(value)).password is not None:
            # The URL without its password stays readable in the data backup; the whole URL
            # goes with the secrets, which win on restore.
            public[key] = make_url(str(value)).set(password=None).render_as_string()
            secret[key] = value
        else:
            public[key] = value
    head = "# Hallmark instance settings, from a backup; secrets are in the keys backup.\n"
    return head + _toml(public), "# Secrets of the instance's settings.\n" + _toml(secret)


def _toml(values: dict[str, Any]) -> str:
    return "".join(f"{key} = {_toml_value(key, value)}\n" for key, value in values.items())


def _toml_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string (the same escapes).
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(key, item) for item in value) + "]"
    raise ConfigError(f"The setting {key} holds a {type(value).__name__}, which no setting takes.")


def _backup_key_files(settings: Settings, keys: _Writer) -> dict[str, str]:
    """Copy ``<home>/keys`` and any key files the settings name elsewhere."""
    folder = settings.home / "keys"
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            # Lock files (".c2pa.lock") are state of a running process, not keys.
            if path.is_file() and not path.name.startswith("."):
                keys.write_bytes(f"keys/{path.relative_to(folder)}", path.read_bytes(), 0o600)
    elsewhere: dict[str, str] = {}
    for name in _KEY_FILE_SETTINGS:
        value = getattr(settings, name)
        if value is None:
            continue
        path = Path(value)
        if not path.is_absolute():
            path = Path.cwd() / path
        if path.is_file() and not _inside(path, folder):
            stored = f"settings/{name}"
            keys.write_bytes(stored, path.read_bytes(), 0o600)
            elsewhere[name] = stored
    if not keys.files.get("keys/signing.pem") and "signing_key" not in elsewhere:
        logger.warning("no signing key file found to back up (a KMS signer keeps its own)")
    return elsewhere


def _copy_blob(inst: Instance, key: str, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with inst.blobs.stream(key) as blob, path.open("xb") as handle:
        for chunk in blob:
            digest.update(chunk)
            handle.write(chunk)
            size += len(chunk)
    if digest.hexdigest() != key:
        path.unlink()
        raise InputError(f"The stored blob {key} does not hash to its key: it was damaged.")
    return size


def _blob_keys(engine: Engine) -> set[str]:
    """Every blob key the database names: the columns called ``blob_key`` or ``*_blob_key``.

    Blob stores cannot list what they hold (an S3 bucket may be shared), so the database is
    the list of what must be kept; a blob no row names is not needed to restore the instance.
    """
    inspector = inspect(engine)
    keys: set[str] = set()
    with engine.connect() as conn:
        for table in inspector.get_table_names():
            for column in inspector.get_columns(table):
                name = column["name"]
                if name == "blob_key" or name.endswith("_blob_key"):
                    rows = conn.execute(
                        text(f'SELECT DISTINCT "{name}" FROM "{table}" WHERE "{name}" IS NOT NULL')
                    )
                    keys.update(str(value) for (value,) in rows)
    return keys


def _counts(engine: Engine) -> dict[str, int]:
    names = set(inspect(engine).get_table_names())
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in _COUNTED:
            if table in names:
                counts[table] = int(conn.scalar(text(f'SELECT count(*) FROM "{table}"')) or 0)
    return counts


def _revision(conn: Connection) -> str | None:
    if "alembic_version" not in inspect(conn).get_table_names():
        return None
    value = conn.scalar(text("SELECT version_num FROM alembic_version"))
    return None if value is None else str(value)


# The database, per dialect ---------------------------------------------------------------------


def _backup_database(
    inst: Instance, data: _Writer, progress: Progress
) -> tuple[str, str | None, dict[str, int]]:
    """Dump the database; return the method, the schema revision and the dump's row counts.

    The counts come from the dump itself (the same snapshot), so a restore can be held to them
    exactly even though the instance kept working while it was backed up.
    """
    engine = inst.db.engine
    with engine.connect() as conn:
        revision = _revision(conn)
    if inst.db.dialect == "sqlite":
        path = data.folder / _SQLITE_FILE
        _sqlite_backup(engine.url, path, progress)
        data.record(_SQLITE_FILE)
        return "sqlite-backup", revision, _sqlite_counts(path)
    if shutil.which("pg_dump"):
        try:
            _pg_dump(engine.url, data.folder / _PG_DUMP_FILE)
        except InputError as exc:
            # A pg_dump older than the server refuses to dump it; the portable dump still
            # works, through the driver the instance already uses.
            logger.warning("pg_dump failed, writing a portable dump instead: %s", exc.detail)
            (data.folder / _PG_DUMP_FILE).unlink(missing_ok=True)
        else:
            data.record(_PG_DUMP_FILE)
            return "pg_dump", revision, _pg_dump_counts(data.folder / _PG_DUMP_FILE)
    counts = _portable_dump(engine, data.folder / _PORTABLE_FILE, revision, progress)
    data.record(_PORTABLE_FILE)
    return "portable", revision, counts


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise ConfigError("An in-memory SQLite database cannot be backed up.")
    return Path(url.database)


def _sqlite_backup(url: URL, target: Path, progress: Progress) -> None:
    """Copy a live SQLite database with its online backup API, then check the copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(_sqlite_path(url), timeout=60)
    copy = sqlite3.connect(target)
    try:

        def step(_status: int, remaining: int, total: int) -> None:
            progress("database", total - remaining, total)

        # A few hundred pages at a time, so writers are not held off for the whole copy.
        source.backup(copy, pages=256, progress=step)
        # One self-contained file: no write-ahead log beside it.
        copy.execute("PRAGMA journal_mode=DELETE")
        _sqlite_integrity(copy, target)
    finally:
        copy.close()
        source.close()


def _sqlite_counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        return {
            table: int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
            for table in _COUNTED
            if table in names
        }
    finally:
        conn.close()


def _sqlite_integrity(conn: sqlite3.Connection, path: Path) -> None:
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"The SQLite database {path} cannot be read: {exc}.") from None
    if not result or result[0] != "ok":
        raise InputError(f"The SQLite database {path} fails its integrity check: {result}.")


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URL for pg_dump and psql, and the environment with the password.

    The password travels in ``PGPASSWORD``, never on a command line other users can read.
    """
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise InputError(f"{what} could not be started: {exc}.") from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        detail = "; ".join(lines[:3]) or f"exit code {result.returncode}"
        raise InputError(f"{what} failed: {detail}")


def _pg_dump(url: URL, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    address, env = _libpq(url)
    # Plain SQL, without owners or grants, so it restores into a database another role owns.
    _run(
        [
            "pg_dump",
            "--format=plain",
            "--no-owner",
            "--no-privileges",
            f"--file={target}",
            f"--dbname={address}",
        ],
        env,
        "pg_dump",
    )


_COPY = re.compile(r'^COPY public\.("?)([A-Za-z0-9_]+)\1 \(.*\) FROM stdin;$')


def _pg_dump_counts(path: Path) -> dict[str, int]:
    """Rows per counted table in a plain pg_dump: the lines of each ``COPY`` block."""
    counts: dict[str, int] = {}
    table: str | None = None
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if table is not None:
                if line.rstrip("\n") == "\\.":
                    table = None
                else:
                    counts[table] += 1
                continue
            match = _COPY.match(line.rstrip("\n"))
            if match and match.group(2) in _COUNTED:
                table = match.group(2)
                counts[table] = 0
    return counts


def _encode(value: Any) -> Any:
    """A column value as JSON: natives as they are, the rest tagged so they come back typed."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, dict | list):
        return {"json": value}
    raise ConfigError(f"A value of type {type(value).__name__} cannot go into a portable dump.")


def _decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    ((tag, inner),) = value.items()
    if tag == "b64":
        return base64.b64decode(inner)
    if tag == "datetime":
        return datetime.fromisoformat(inner)
    if tag == "date":
        return date.fromisoformat(inner)
    if tag == "decimal":
        return Decimal(inner)
    if tag == "json":
        return inner
    raise ValueError(f"unknown tag {tag!r}")


def _portable_dump(
    engine: Engine, target: Path, revision: str | None, progress: Progress
) -> dict[str, int]:
    """Every table's rows as JSON lines, in one consistent snapshot, parents before children.

    Returns the rows written per counted table.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    metadata = MetaData()
    rows_written = 0
    counts: dict[str, int] = {}
    with (
        engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
        target.open("x", encoding="utf-8") as out,
    ):
        metadata.reflect(conn)
        tables = [t for t in metadata.sorted_tables if t.name != "alembic_version"]
        header = {
            "format": PORTABLE_FORMAT,
            "version": FORMAT_VERSION,
            "dialect": engine.dialect.name,
            "revision": revision,
        }
        out.write(json.dumps(header) + "\n")
        for number, table in enumerate(tables, start=1):
            columns = [column.name for column in table.columns]
            out.write(json.dumps({"table": table.name, "columns": columns}) + "\n")
            order = list(table.primary_key.columns) or list(table.columns)
            before = rows_written
            for row in conn.execute(select(table).order_by(*order)):
                out.write(json.dumps([_encode(value) for value in row]) + "\n")
                rows_written += 1
            if table.name in _COUNTED:
                counts[table.name] = rows_written - before
            progress("database", number, len(tables))
        # The end line: a dump cut short lacks it, whatever else survived.
        out.write(json.dumps({"end": True, "tables": len(tables), "rows": rows_written}) + "\n")
    return counts


def _read_portable(path: Path) -> Iterator[tuple[str, list[str], list[list[Any]]]]:
    """The tables of a portable dump, with their rows; a clear error on a damaged dump."""
    with path.open(encoding="utf-8") as lines:
        try:
            header = json.loads(next(lines))
        except (StopIteration, ValueError):
            raise InputError(f"The portable dump {path} has no header line.") from None
        if not isinstance(header, dict) or header.get("format") != PORTABLE_FORMAT:
            raise InputError(f"{path} is not a Hallmark portable dump.")
        table: str | None = None
        columns: list[str] = []
        rows: list[list[Any]] = []
        for number, line in enumerate(lines, start=2):
            try:
                item = json.loads(line)
            except ValueError:
                raise InputError(f"Line {number} of the portable dump {path} is damaged.") from None
            if isinstance(item, list):
                if table is None or len(item) != len(columns):
                    raise InputError(f"Line {number} of the portable dump {path} is out of place.")
                rows.append([_decode(value) for value in item])
                continue
            if not isinstance(item, dict) or not (
                item.get("end") is True
                or (isinstance(item.get("table"), str) and isinstance(item.get("columns"), list))
            ):
                raise InputError(f"Line {number} of the portable dump {path} is damaged.")
            if table is not None:
                yield table, columns, rows
            if item.get("end") is True:
                return
            table, columns, rows = item["table"], [str(c) for c in item["columns"]], []
    raise InputError(f"The portable dump {path} is truncated: its end line is missing.")


# Restoring --------------------------------------------------------------------------------------


@dataclass
class RestoreReport:
    home: Path
    method: str
    log_size: int = 0
    checkpoints: int = 0
    blobs_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def restore(
    folder: Path,
    home: Path,
    keys_folder: Path | None = None,
    *,
    database_url: str | None = None,
    force: bool = False,
    progress: Progress = _no_progress,
) -> RestoreReport:
    """Restore the backup in ``folder`` (and its keys) into the instance folder ``home``."""
    keys_folder = keys_folder or default_keys_folder(folder)
    data = read_manifest(folder, DATA_FORMAT, "Hallmark backup")
    if not keys_folder.is_dir():
        raise InputError(
            f"There is no keys backup at {keys_folder}.",
            hint="Give the folder that 'hallmark backup' wrote the keys to with --keys.",
        )
    keys = read_manifest(keys_folder, KEYS_FORMAT, "keys backup")
    check_files(data, progress)
    check_files(keys, progress)
    if keys.document.get("verifier_key") != data.document.get("verifier_key"):
        raise InputError(
            "The keys backup belongs to another instance than the data backup: their verifier "
            "keys differ.",
            hint="Give the keys backup made with this data backup.",
        )
    database = data.document.get("database") or {}
    method = str(database.get("method"))
    dump_file = {
        "sqlite-backup": _SQLITE_FILE,
        "pg_dump": _PG_DUMP_FILE,
        "portable": _PORTABLE_FILE,
    }.get(method)
    if dump_file is None or dump_file not in data.files:
        raise _damaged(folder, "its manifest names no database dump that it holds.")

    values = _restored_settings(data, keys, database, database_url, home)
    settings = Settings.load(home, **values)
    target_url = make_url(settings.resolved_database_url)
    backend = target_url.get_backend_name()
    wanted = "sqlite" if method == "sqlite-backup" else "postgresql"
    if backend != wanted:
        raise InputError(
            f"The backup holds a {wanted} database; it cannot be restored into {backend}.",
            hint="Give --database-url of an empty "
            + ("PostgreSQL database." if wanted == "postgresql" else "SQLite file, or omit it."),
        )
    _refuse_non_empty(settings, force)

    _restore_keys(keys, home)
    db = Database(settings.resolved_database_url)
    try:
        _clear_database(db, settings, force)
        if method == "sqlite-backup":
            _sqlite_restore(data.path(_SQLITE_FILE), target_url, progress)
        elif method == "pg_dump":
            _psql_restore(data.path(_PG_DUMP_FILE), target_url)
        else:
            _portable_restore(db, data.path(_PORTABLE_FILE), progress)
    finally:
        db.dispose()
    inst = open_instance(settings)
    try:
        _restore_blobs(inst, data, progress)
        # A backup from an older Hallmark is brought up to this one's schema.
        upgrade(inst.db, blobs=inst.blobs)
        _write_config(home, values)
        report = RestoreReport(home, method)
        _check_restored(inst, data, report, progress)
    finally:
        inst.close()
    return report


def _restored_settings(
    data: BackupManifest,
    keys: BackupManifest,
    database: dict[str, Any],
    database_url: str | None,
    home: Path,
) -> dict[str, Any]:
    """The restored instance's settings file: the data backup's, its secrets, the overrides."""
    values: dict[str, Any] = {}
    for manifest, name in ((data, CONFIG_FILE), (keys, SECRETS_FILE)):
        try:
            values.update(tomllib.loads(manifest.path(name).read_text("utf-8")))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise _damaged(manifest.folder, f"{name} cannot be read ({exc}).") from None
    if database_url is not None:
        values["database_url"] = database_url
    elif database.get("dialect") == "sqlite":
        # A SQLite database is restored into the new instance folder, never over the file the
        # old instance used.
        values.pop("database_url", None)
    for name in _KEY_FILE_SETTINGS:
        values.pop(name, None)
    for name in keys.document.get("key_files") or {}:
        if name in _KEY_FILE_SETTINGS:
            values[name] = str((home / "keys" / f"restored-{name}.pem").resolve())
    values.pop("home", None)
    return values


def _refuse_non_empty(settings: Settings, force: bool) -> None:
    if force:
        return
    home = settings.home
    reasons: list[str] = []
    if (home / CONFIG_FILE).exists():
        reasons.append(f"{home} holds an instance")
    if (home / "keys").is_dir() and any((home / "keys").iterdir()):
        reasons.append(f"{home / 'keys'} holds keys")
    if table_names(settings.resolved_database_url):
        reasons.append("its database has tables")
    blobs = settings.blob_path
    if settings.blob_store == "local" and blobs.is_dir() and any(blobs.iterdir()):
        reasons.append(f"{blobs} holds blobs")
    if reasons:
        raise InputError(
            f"The target is not empty: {'; '.join(reasons)}. A restore never overwrites an "
            "instance unasked.",
            hint="Restore into a new --home (and an empty database), or pass --force to "
            "replace what is there.",
        )


def table_names(url: str) -> list[str]:
    """The tables of the database at ``url``; a clear error when it cannot be reached."""
    db = Database(url)
    try:
        return sorted(inspect(db.engine).get_table_names())
    except SQLAlchemyError as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        raise ConfigError(
            f"Cannot open the database {shown}: {str(exc).splitlines()[0]}",
            hint="Create the (empty) database first, and check the URL.",
        ) from None
    finally:
        db.dispose()


def _restore_keys(keys: BackupManifest, home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    for name in keys.files:
        source = keys.path(name)
        if name.startswith("keys/"):
            target = home / name
        elif name.startswith("settings/"):
            target = home / "keys" / f"restored-{name.removeprefix('settings/')}.pem"
        else:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.parent.chmod(0o700)
        target.unlink(missing_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(source.read_bytes())


def _write_config(home: Path, values: dict[str, Any]) -> None:
    # Written last, as 'hallmark init' does: its presence marks a complete instance.
    path = home / CONFIG_FILE
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(
            "# Hallmark instance settings, restored from a backup; see docs/settings.md.\n"
        )
        handle.write(_toml(values))


def _clear_database(db: Database, settings: Settings, force: bool) -> None:
    """With --force, empty the target database first; without it, it was checked empty."""
    if not force:
        return
    if db.dialect == "sqlite":
        db.dispose()
        path = _sqlite_path(db.engine.url)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


def _sqlite_restore(source: Path, url: URL, progress: Progress) -> None:
    target = _sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The backup file is opened read-only, so restoring never changes the backup.
    copy = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    live = sqlite3.connect(target, timeout=60)
    try:
        _sqlite_integrity(copy, source)

        def step(_status: int, remaining: int, total: int) -> None:
            progress("database", total - remaining, total)

        copy.backup(live, pages=1024, progress=step)
        live.execute("PRAGMA journal_mode=WAL")
    finally:
        live.close()
        copy.close()


def _psql_restore(source: Path, url: URL) -> None:
    with source.open("rb") as handle:
        handle.seek(max(0, source.stat().st_size - 4096))
        tail = handle.read().decode("utf-8", "replace")
    # pg_dump ends with this comment (newer ones add a "\unrestrict" line after it).
    if _PG_DUMP_FOOTER not in tail:
        raise InputError(f"The PostgreSQL dump {source} is truncated: its closing line is missing.")
    if shutil.which("psql") is None:
        raise ConfigError(
            "Restoring a pg_dump backup needs psql, which is not on the PATH.",
            hint="Install the PostgreSQL client (e.g. apt install postgresql-client).",
        )
    address, env = _libpq(url)
    # One transaction that stops at the first error: a failed restore leaves nothing behind.
    _run(
        [
            "psql",
            "--no-psqlrc",
            "--quiet",
            "--set=ON_ERROR_STOP=1",
            "--single-transaction",
            f"--file={source}",
            f"--dbname={address}",
        ],
        env,
        "psql",
    )


def _portable_restore(db: Database, source: Path, progress: Progress) -> None:
    with source.open(encoding="utf-8") as handle:
        try:
            header = json.loads(handle.readline() or "{}")
        except ValueError:
            header = None
    revision = header.get("revision") if isinstance(header, dict) else None
    if not revision:
        raise InputError(f"The portable dump {source} does not say which schema it holds.")
    # The schema comes from the migrations, at the dump's revision, so indexes, constraints
    # and the search table are exactly what that revision makes; then the rows go in.
    upgrade(db, str(revision))
    metadata = MetaData()
    with db.engine.begin() as conn:
        metadata.reflect(conn)
        for table in reversed(metadata.sorted_tables):
            if table.name != "alembic_version":
                conn.execute(table.delete())
        tables = {t.name: t for t in metadata.tables.values()}
        for count, (name, columns, rows) in enumerate(_read_portable(source), start=1):
            table = tables.get(name)
            if table is None or not set(columns) <= set(table.columns.keys()):
                raise InputError(
                    f"The portable dump's table {name} does not fit schema revision {revision}."
                )
            for start in range(0, len(rows), _INSERT_BATCH):
                batch = rows[start : start + _INSERT_BATCH]
                conn.execute(
                    table.insert(), [dict(zip(columns, row, strict=True)) for row in batch]
                )
            progress("database", count, None)
        if db.dialect == "postgresql":
            _reset_sequences(conn, metadata)


def _reset_sequences(conn: Connection, metadata: MetaData) -> None:
    """Serial columns continue after the restored rows, not from 1."""
    for table in metadata.sorted_tables:
        for column in table.primary_key.columns:
            sequence = conn.scalar(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": table.name, "column": column.name},
            )
            if sequence:
                conn.execute(
                    text(
                        f'SELECT setval(:sequence, COALESCE((SELECT max("{column.name}") '
                        f'FROM "{table.name}"), 0) + 1, false)'
                    ),
                    {"sequence": sequence},
                )


def _restore_blobs(inst: Instance, data: BackupManifest, progress: Progress) -> None:
    names = sorted(name for name in data.files if name.startswith("blobs/"))
    for done, name in enumerate(names, start=1):
        key = name.rsplit("/", 1)[-1]
        with data.path(name).open("rb") as handle:
            stored = _put(inst, handle)
        if stored != key:
            raise _damaged(data.folder, f"{name} does not hash to its name.")
        progress("blobs", done, len(names))


def _put(inst: Instance, handle: IO[bytes]) -> str:
    put_stream = getattr(inst.blobs, "put_stream", None)
    if put_stream is not None:
        return str(put_stream(handle))
    return inst.blobs.put(handle.read())


def _check_restored(
    inst: Instance, data: BackupManifest, report: RestoreReport, progress: Progress
) -> None:
    """The restored instance checked as an operator would, every mismatch a problem."""
    document = data.document
    if inst.verifier_key != document.get("verifier_key"):
        report.problems.append("The restored signing key is not the one the backup was made with.")

    def audit_progress(done: int, total: int) -> None:
        progress("audit", done, total)

    audit = log_service.audit(inst, progress=audit_progress)
    report.log_size = audit.size
    report.checkpoints = audit.checkpoints
    report.problems.extend(f"log audit: {problem}" for problem in audit.problems)
    if audit.unlisted:
        report.problems.append(f"log audit: {audit.unlisted:,} more problem(s), not listed")
    log = document.get("log") or {}
    if audit.size != log.get("size"):
        report.problems.append(
            f"The restored log has {audit.size} entries; the backup had {log.get('size')}."
        )
    recorded = log.get("checkpoint") or {}
    with inst.db.session() as session:
        row = LogStore(session).checkpoint_at(int(recorded.get("size", -1)))
        root = base64.b64encode(bytes(row.root_hash)).decode() if row is not None else None
    if root is None or root != recorded.get("root_hash"):
        report.problems.append(
            f"The restored log does not hold the checkpoint the backup recorded (size "
            f"{recorded.get('size')}, root {recorded.get('root_hash')})."
        )
    counts = _counts(inst.db.engine)
    for table, expected in (document.get("counts") or {}).items():
        if counts.get(table) != expected:
            report.problems.append(
                f"The restored database has {counts.get(table)} rows in {table}; the backup "
                f"had {expected}."
            )
    keys = sorted(_blob_keys(inst.db.engine))
    for done, key in enumerate(keys, start=1):
        digest = hashlib.sha256()
        try:
            with inst.blobs.stream(key) as blob:
                for chunk in blob:
                    digest.update(chunk)
        except HallmarkError as exc:
            report.problems.append(f"blob {key}: {exc.detail}")
            continue
        if digest.hexdigest() != key:
            report.problems.append(f"blob {key} does not hash to its key")
        report.blobs_checked += 1
        progress("verify blobs", done, len(keys))
    if document.get("blobs", {}).get("missing"):
        report.problems.append(
            f"{len(document['blobs']['missing'])} blob(s) were already missing when the backup "
            "was made."
        )


__all__ = [
    "BackupManifest",
    "BackupResult",
    "RestoreReport",
    "backup",
    "check_files",
    "default_keys_folder",
    "read_manifest",
    "restore",
]
