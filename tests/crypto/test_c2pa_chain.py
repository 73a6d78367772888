"""The instance's Content Credentials chain: what the certificates say, how the files are kept,
and what the loader refuses (issue #6, item 1)."""

from __future__ import annotations

import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hallmark.crypto.c2pa_chain import (
    DOCUMENT_SIGNING,
    ChainFiles,
    ensure_chain,
    issue_root,
    issue_signer,
    load_signing_credentials,
    root_pem,
)
from hallmark.errors import ConfigError

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ORIGIN = "hallmark.example/log"
E = TypeVar("E", bound=x509.ExtensionType)


@pytest.fixture
def files(tmp_path: Path) -> ChainFiles:
    chain = ChainFiles.in_folder(tmp_path / "keys")
    assert ensure_chain(chain, origin=ORIGIN, now=NOW) is True
    return chain


def _certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _ext(cert: x509.Certificate, kind: type[E]) -> x509.Extension[E]:
    return cert.extensions.get_extension_for_class(kind)


def test_root_may_only_issue_certificates(files: ChainFiles) -> None:
    root = _certificate(files.root_certificate)
    constraints = _ext(root, x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca is True
    usage = _ext(root, x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    ski = _ext(root, x509.SubjectKeyIdentifier).value
    aki = _ext(root, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert root.subject == root.issuer
    assert root.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ORIGIN
    root.verify_directly_issued_by(root)


def test_signer_is_an_es256_document_signing_leaf_issued_by_the_root(files: ChainFiles) -> None:
    root = _certificate(files.root_certificate)
    chain = x509.load_pem_x509_certificates(files.chain.read_bytes())
    assert len(chain) == 1, "the chain file holds the signer only, never the root"
    leaf = chain[0]
    leaf.verify_directly_issued_by(root)
    constraints = _ext(leaf, x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca is False
    usage = _ext(leaf, x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature
    assert not usage.value.key_cert_sign
    usages = _ext(leaf, x509.ExtendedKeyUsage).value
    assert DOCUMENT_SIGNING in usages
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in usages
    aki = _ext(leaf, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == _ext(root, x509.SubjectKeyIdentifier).value.digest
    key = leaf.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ORIGIN
    # Valid from a little before now (clock skew) for years, and never beyond the root.
    assert leaf.not_valid_before_utc < NOW < leaf.not_valid_after_utc
    assert leaf.not_valid_after_utc - NOW > timedelta(days=365 * 5)
    assert leaf.not_valid_after_utc <= root.not_valid_after_utc


def test_private_keys_are_readable_by_the_owner_only(files: ChainFiles) -> None:
    for key in (files.root_key, files.key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


def test_an_existing_chain_is_never_replaced(files: ChainFiles) -> None:
    before = {p: p.read_bytes() for p in (files.root_certificate, files.root_key, files.chain)}
    assert ensure_chain(files, origin="other.example/log", now=NOW + timedelta(days=1)) is False
    assert {p: p.read_bytes() for p in before} == before


def test_a_deleted_signer_is_reissued_by_the_kept_root(files: ChainFiles) -> None:
    root_before = files.root_certificate.read_bytes()
    old_leaf = _certificate(files.chain)
    files.chain.unlink()
    files.key.unlink()
    assert ensure_chain(files, origin=ORIGIN, now=NOW + timedelta(days=30)) is True
    assert files.root_certificate.read_bytes() == root_before
    new_leaf = _certificate(files.chain)
    assert new_leaf.serial_number != old_leaf.serial_number
    new_leaf.verify_directly_issued_by(_certificate(files.root_certificate))


def test_a_signer_key_without_its_certificate_is_moved_aside_not_overwritten(
    files: ChainFiles,
) -> None:
    stale = files.key.read_bytes()
    files.chain.unlink()
    ensure_chain(files, origin=ORIGIN, now=NOW)
    kept = list(files.key.parent.glob("c2pa-signer.key.orphaned-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == stale
    assert files.key.read_bytes() != stale


def test_keys_without_their_root_certificate_are_not_silently_replaced(
    files: ChainFiles,
) -> None:
    files.root_certificate.unlink()
    files.chain.unlink()
    with pytest.raises(ConfigError, match=r"root certificate .* is missing"):
        ensure_chain(files, origin=ORIGIN, now=NOW)


def test_the_generated_chain_loads_as_es256(files: ChainFiles) -> None:
    credentials = load_signing_credentials(files.chain, files.key, now=NOW)
    assert credentials.algorithm == "es256"
    assert credentials.chain_pem == files.chain.read_bytes()
    assert b"PRIVATE KEY" in credentials.key_pem
    assert root_pem(files) == files.root_certificate.read_text("ascii")


# --- what the loader refuses -------------------------------------------------------------------


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _write_certs(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return path


def test_a_key_of_another_certificate_is_refused(files: ChainFiles, tmp_path: Path) -> None:
    other = _write_key(tmp_path / "other.key", ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(ConfigError, match="does not belong to the first certificate"):
        load_signing_credentials(files.chain, other, now=NOW)


def test_the_root_in_front_of_the_chain_is_refused(files: ChainFiles, tmp_path: Path) -> None:
    root = _certificate(files.root_certificate)
    chain = _write_certs(tmp_path / "chain.pem", root, _certificate(files.chain))
    with pytest.raises(ConfigError, match="CA or self-signed"):
        load_signing_credentials(chain, files.root_key, now=NOW)


def test_an_expired_signer_is_refused_with_the_renewal_hint(files: ChainFiles) -> None:
    with pytest.raises(ConfigError, match="valid from") as caught:
        load_signing_credentials(files.chain, files.key, now=NOW + timedelta(days=365 * 11))
    assert "init --if-missing" in (caught.value.hint or "")


def test_a_signer_without_document_signing_is_refused(tmp_path: Path) -> None:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = issue_root(root_key, origin=ORIGIN, now=NOW)
    key = ec.generate_private_key(ec.SECP256R1())
    plain = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "web server")]))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(root_key, root.signature_hash_algorithm)  # type: ignore[arg-type]
    )
    chain = _write_certs(tmp_path / "chain.pem", plain)
    with pytest.raises(ConfigError, match="documentSigning"):
        load_signing_credentials(chain, _write_key(tmp_path / "k.pem", key), now=NOW)


def test_missing_and_unreadable_files_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as caught:
        load_signing_credentials(tmp_path / "none.pem", tmp_path / "none.key", now=NOW)
    assert "init --if-missing" in (caught.value.hint or "")
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="no readable PEM certificate"):
        load_signing_credentials(tmp_path / "junk.pem", tmp_path / "none.key", now=NOW)


@pytest.mark.parametrize(
    ("make_key", "algorithm"),
    [
        (lambda: ec.generate_private_key(ec.SECP384R1()), "es384"),
        (ed25519.Ed25519PrivateKey.generate, "ed25519"),
    ],
)
def test_an_operator_key_gets_its_c2pa_algorithm(
    tmp_path: Path,
    make_key: Callable[[], ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey],
    algorithm: str,
) -> None:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = issue_root(root_key, origin=ORIGIN, now=NOW)
    key = make_key()
    leaf = issue_signer(root, root_key, key, origin=ORIGIN, now=NOW)
    chain = _write_certs(tmp_path / "chain.pem", leaf)
    credentials = load_signing_credentials(chain, _write_key(tmp_path / "k.pem", key), now=NOW)
    assert credentials.algorithm == algorithm


def test_long_origins_fit_the_rfc_5280_name_limits() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    root = issue_root(key, origin="a" * 200 + ".example/log", now=NOW)
    organization = root.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert len(str(organization)) == 64
