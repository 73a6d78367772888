"""``hallmark credentials``, ``hallmark keys c2pa-root`` and the chain ``hallmark init`` creates
(issue #6, items 1 and 6)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from typer.testing import CliRunner, Result

from hallmark.cli.main import app
from tests.services.helpers_credentials import active, assertion, image_bytes, read

# Registration here needs neither detectors nor prior-art checks.
ENV = {"HALLMARK_DETECTORS": "[]", "HALLMARK_SIMILARITY_INDEX": ""}
KEYS = ("c2pa-root.pem", "c2pa-root.key", "c2pa-chain.pem", "c2pa-signer.key")


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--home", str(home), *args], env=ENV)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    result = run(home, "init")
    assert result.exit_code == 0, result.output
    return home


def register(home: Path, path: Path, *extra: str) -> dict[str, str]:
    result = run(
        home,
        "register", str(path), "--title", "Gulls", "--creator", "ines",
        "--declare", "ai-generated", "--json", *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document: dict[str, str] = json.loads(result.stdout)
    return document


def test_init_creates_the_chain_and_names_the_root(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    result = run(home, "init")
    assert result.exit_code == 0, result.output
    assert "c2pa-root.pem" in result.stdout
    for name in KEYS:
        assert (home / "keys" / name).is_file(), name
    for secret in ("c2pa-root.key", "c2pa-signer.key"):
        assert stat.S_IMODE((home / "keys" / secret).stat().st_mode) == 0o600


def test_init_if_missing_adds_a_chain_to_an_older_instance_and_keeps_one(home: Path) -> None:
    root = home / "keys" / "c2pa-root.pem"
    kept = root.read_bytes()
    assert run(home, "init", "--if-missing").exit_code == 0
    assert root.read_bytes() == kept, "an existing chain is never replaced"
    for name in KEYS:  # an instance made before issue #6 has none of these
        (home / "keys" / name).unlink()
    assert run(home, "init", "--if-missing").exit_code == 0
    assert all((home / "keys" / name).is_file() for name in KEYS)
    assert root.read_bytes() != kept


def test_keys_c2pa_root_prints_the_root_pem(home: Path) -> None:
    result = run(home, "keys", "c2pa-root")
    assert result.exit_code == 0, result.output
    assert result.stdout == (home / "keys" / "c2pa-root.pem").read_text("ascii")
    root = x509.load_pem_x509_certificate(result.stdout.encode("ascii"))
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_credentials_writes_a_trusted_copy(home: Path, tmp_path: Path) -> None:
    data = image_bytes("image/jpeg", seed=41)
    photo = tmp_path / "gulls.jpg"
    photo.write_bytes(data)
    registered = register(home, photo)
    out = tmp_path / "gulls.c2pa.jpg"
    result = run(home, "credentials", registered["work_id"], "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"Wrote {out}" in result.stdout and registered["certificate_id"] in result.stdout

    root = run(home, "keys", "c2pa-root").stdout
    state, store = read(out.read_bytes(), "image/jpeg", root)
    assert state == "Trusted"
    manifest = active(store)
    action = assertion(manifest, "c2pa.actions")["actions"][0]
    assert action["digitalSourceType"].endswith("/trainedAlgorithmicMedia")
    assert assertion(manifest, "org.hallmark.certificate")["log_index"] == registered["log_index"]


def test_credentials_into_a_folder_uses_the_copys_name(home: Path, tmp_path: Path) -> None:
    photo = tmp_path / "gulls.png"
    photo.write_bytes(image_bytes("image/png", seed=42))
    work_id = register(home, photo, "--visibility", "private")["work_id"]
    folder = tmp_path / "out"
    folder.mkdir()
    # The operator's command line sees private works, as 'hallmark revoke' does.
    result = run(home, "credentials", work_id, "--out", str(folder))
    assert result.exit_code == 0, result.output
    assert (folder / f"{work_id}.c2pa.png").is_file()


@pytest.mark.parametrize(
    ("work", "message"),
    [("w_doesnotexist", "There is no work 'w_doesnotexist'"), ("text", "images only")],
)
def test_credentials_errors_are_clear_with_exit_code_2(
    home: Path, tmp_path: Path, work: str, message: str
) -> None:
    if work == "text":
        poem = tmp_path / "poem.txt"
        poem.write_text("Gulls over the harbour,\nsalt in the wind.\n")
        work = register(home, poem)["work_id"]
    result = run(home, "credentials", work, "--out", str(tmp_path / "x.png"))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert "Hint:" in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_credentials_refuses_a_folder_that_does_not_exist(home: Path, tmp_path: Path) -> None:
    photo = tmp_path / "gulls.webp"
    photo.write_bytes(image_bytes("image/webp", seed=43))
    work_id = register(home, photo)["work_id"]
    result = run(home, "credentials", work_id, "--out", str(tmp_path / "none" / "x.webp"))
    assert result.exit_code == 2
    assert "Cannot write into" in result.stderr


def test_without_an_instance_both_commands_say_so(tmp_path: Path) -> None:
    for args in (("keys", "c2pa-root"), ("credentials", "w_x", "--out", "x.png")):
        result = run(tmp_path / "nowhere", *args)
        assert result.exit_code == 2
        assert "There is no Hallmark instance" in result.stderr
