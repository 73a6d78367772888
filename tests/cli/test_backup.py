"""``hallmark backup`` and ``hallmark restore``, on SQLite and on PostgreSQL.

An instance with works, an earlier draft and a revocation is backed up and restored into a fresh
instance folder (and a fresh database); the restored log must audit clean, every blob must be
read back, and works and certificates must be identical row for row. Damaged backups (an
edited blob, a truncated dump, a missing manifest, keys of another instance) are refused with a
clear message before anything is written; a backup that is consistent with its manifest but
whose log was changed restores and then fails the audit, loudly.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from hallmark.cli.main import app
from hallmark.services import backup as backup_service
from hallmark.services.accounts import ensure_creator
from hallmark.services.instance import Instance, open_instance
from hallmark.services.registry import revoke
from hallmark.services.stages import StageUpload, register_with_stages
from hallmark.settings import Settings
from hallmark.storage.models import Certificate, Work, WorkStage
from tests.conftest import _postgres_admin_url, make_instance
from tests.scratch_db import postgres_database


def cli(home: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--home", str(home), *args])


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A new, empty PostgreSQL database to restore into; dropped afterwards."""
    admin = _postgres_admin_url()
    assert admin is not None
    with postgres_database(admin, "hallmark_restore") as url:
        yield url


def populate(inst: Instance) -> None:
    """Three works (one with an earlier draft) and a revocation: every kind of log entry and
    both kinds of blob."""
    with inst.db.session() as session:
        creator = ensure_creator(inst, session, "mara").id
    registered = []
    for n in range(3):
        drafts = [StageUpload(f"Draft of poem {n}\n".encode(), "draft.txt")] if n == 0 else []
        registered.append(
            register_with_stages(
                inst,
                creator_id=creator,
                stages=drafts,
                data=f"Poem {n}\nthe harbour at dawn, line {n}.\n".encode(),
                title=f"Poem {n}",
                declare="human-made",
            )
        )
    revoke(inst, certificate_id=registered[2].certificate_id, reason="A test.", actor=None)


def rows(inst: Instance) -> dict[str, list[dict[str, Any]]]:
    """Works, certificates and stages, row for row, in a stable order."""
    found: dict[str, list[dict[str, Any]]] = {}
    with inst.db.session() as session:
        for model in (Work, Certificate, WorkStage):
            table = model.__table__
            result = session.execute(select(table).order_by(*table.primary_key.columns))
            found[table.name] = [dict(row._mapping) for row in result]
    return found


def restore_args(inst: Instance, target: str | None) -> list[str]:
    return ["--database-url", target] if target else []


@pytest.fixture
def target_url(any_instance: Instance, request: pytest.FixtureRequest) -> str | None:
    """Where the restore goes: None (a SQLite file in the new home) or a fresh PostgreSQL."""
    if any_instance.db.dialect == "postgresql":
        return str(request.getfixturevalue("empty_postgres"))
    return None


def test_backup_then_restore_into_a_fresh_instance(
    any_instance: Instance, target_url: str | None, tmp_path: Path
) -> None:
    populate(any_instance)
    before = rows(any_instance)
    folder, keys = tmp_path / "backup", tmp_path / "vault" / "keys"
    made = cli(any_instance.settings.home, "backup", str(folder), "--keys", str(keys))
    assert made.exit_code == 0, made.output
    assert "4 log entries" in made.stdout and "4 blobs" in made.stdout

    # The data backup holds no key and no secret; the keys backup holds them.
    data_files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert not any("keys" in name or name.endswith(".pem") for name in data_files)
    assert "secret_key" not in (folder / "hallmark.toml").read_text()
    assert "secret_key" in (keys / "secrets.toml").read_text()
    assert (keys / "keys" / "signing.pem").exists()
    manifest = json.loads((folder / "manifest.json").read_text())
    expected = "sqlite-backup" if any_instance.db.dialect == "sqlite" else "pg_dump"
    assert manifest["database"]["method"] == expected
    assert manifest["counts"]["log_entries"] == 4

    home = tmp_path / "restored"
    restored = cli(
        home, "restore", str(folder), "--keys", str(keys), *restore_args(any_instance, target_url)
    )
    assert restored.exit_code == 0, restored.output
    assert "4 entries recomputed" in restored.stdout
    assert "4 blobs read back" in restored.stdout
    assert cli(home, "log", "audit").exit_code == 0

    again = open_instance(Settings.load(home))
    try:
        assert again.verifier_key == any_instance.verifier_key
        assert again.db.dialect == any_instance.db.dialect
        assert rows(again) == before
        for work in before["works"] + before["work_stages"]:
            data = again.blobs.get(work["blob_key"])
            assert hashlib.sha256(data).hexdigest() == work["blob_key"]
            assert data == any_instance.blobs.get(work["blob_key"])
    finally:
        again.close()

    # Once restored, the home is an instance: restoring over it again needs --force.
    refused = cli(
        home, "restore", str(folder), "--keys", str(keys), *restore_args(any_instance, target_url)
    )
    assert refused.exit_code == 2 and "not empty" in refused.stderr
    forced = cli(
        home,
        "restore",
        str(folder),
        "--keys",
        str(keys),
        "--force",
        *restore_args(any_instance, target_url),
    )
    assert forced.exit_code == 0, forced.output


@pytest.mark.postgres
def test_portable_dump_when_pg_dump_is_missing(
    postgres_url: str, empty_postgres: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import reset_postgres

    reset_postgres(postgres_url)
    inst = make_instance(tmp_path / "home", database_url=postgres_url)
    try:
        populate(inst)
        before = rows(inst)
        real_which = backup_service.shutil.which
        monkeypatch.setattr(
            backup_service.shutil,
            "which",
            lambda name: None if name == "pg_dump" else real_which(name),
        )
        result = backup_service.backup(inst, tmp_path / "b")
        assert result.method == "portable"
        report = backup_service.restore(tmp_path / "b", tmp_path / "r", database_url=empty_postgres)
        assert report.ok, report.problems
        again = open_instance(Settings.load(tmp_path / "r"))
        try:
            assert rows(again) == before
        finally:
            again.close()
    finally:
        inst.close()


# Damaged backups --------------------------------------------------------------------------------


@pytest.fixture
def backed_up(instance: Instance, tmp_path: Path) -> Path:
    populate(instance)
    folder = tmp_path / "backup"
    assert cli(instance.settings.home, "backup", str(folder)).exit_code == 0
    return folder


def refused(folder: Path, home: Path, message: str) -> None:
    result = cli(home, "restore", str(folder))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert "Traceback" not in result.output
    assert not (home / "hallmark.toml").exists() and not (home / "hallmark.db").exists()


def test_an_edited_blob_is_refused(backed_up: Path, tmp_path: Path) -> None:
    blobs = [p for p in (backed_up / "blobs").rglob("*") if p.is_file()]
    blobs[0].write_bytes(blobs[0].read_bytes().replace(b"Poem", b"Poen"))
    refused(backed_up, tmp_path / "r", "does not have the SHA-256 it was backed up with")


def test_a_truncated_database_is_refused(backed_up: Path, tmp_path: Path) -> None:
    dump = backed_up / "database" / "hallmark.db"
    dump.write_bytes(dump.read_bytes()[:4096])
    refused(backed_up, tmp_path / "r", "truncated or changed")


def test_a_missing_manifest_is_refused(backed_up: Path, tmp_path: Path) -> None:
    (backed_up / "manifest.json").unlink()
    refused(backed_up, tmp_path / "r", "has no manifest.json")


def test_a_missing_keys_backup_is_refused(backed_up: Path, tmp_path: Path) -> None:
    (backed_up.parent / "backup-keys" / "keys" / "signing.pem").unlink()
    refused(backed_up, tmp_path / "r", "keys/signing.pem is missing")


def test_keys_of_another_instance_are_refused(backed_up: Path, tmp_path: Path) -> None:
    other = make_instance(tmp_path / "other")
    try:
        assert cli(other.settings.home, "backup", str(tmp_path / "other-backup")).exit_code == 0
    finally:
        other.close()
    result = cli(
        tmp_path / "r", "restore", str(backed_up), "--keys", str(tmp_path / "other-backup-keys")
    )
    assert result.exit_code == 2 and "belongs to another instance" in result.stderr


def test_keys_inside_the_data_backup_are_refused(instance: Instance, tmp_path: Path) -> None:
    folder = tmp_path / "backup"
    result = cli(instance.settings.home, "backup", str(folder), "--keys", str(folder / "keys"))
    assert result.exit_code == 2 and "folder of its own" in result.stderr


def test_a_changed_log_restores_but_fails_loudly(backed_up: Path, tmp_path: Path) -> None:
    # Someone changes a stored tree node and rewrites the manifest to match: every file checks
    # out, so only the audit after the restore can tell.
    dump = backed_up / "database" / "hallmark.db"
    with sqlite3.connect(dump) as conn:
        conn.execute("UPDATE log_nodes SET hash = zeroblob(32) WHERE level = 0 AND idx = 1")
    conn.close()
    manifest = json.loads((backed_up / "manifest.json").read_text())
    manifest["files"]["database/hallmark.db"] = {
        "sha256": hashlib.sha256(dump.read_bytes()).hexdigest(),
        "size": dump.stat().st_size,
    }
    (backed_up / "manifest.json").write_text(json.dumps(manifest))
    result = cli(tmp_path / "r", "restore", str(backed_up))
    assert result.exit_code == 1, result.output
    assert "does NOT check out" in result.stdout
    assert "log audit: stored node (0, 1) does not match the recomputed tree" in result.stdout
