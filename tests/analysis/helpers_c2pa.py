"""Test-only Content Credentials: a root CA, a leaf signer, and images signed with them.

c2pa refuses a self-signed leaf, so the tests build the smallest chain it accepts (see
/work/shared/KNOWN-GOOD.md, "Content Credentials with your own CA"): a root CA and a leaf with
``CA:false``, ``digitalSignature`` and the documentSigning extended key usage
(1.3.6.1.5.5.7.3.36). The clock is fixed so runs are reproducible; the keys are fresh each run.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from c2pa import Builder, C2paSignerInfo, C2paSigningAlg, Signer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
NOT_BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


@dataclass(frozen=True)
class TestCA:
    root_pem: bytes
    chain_pem: bytes  # the leaf followed by nothing else: c2pa wants the chain without the root
    key_pem: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Hallmark tests"),
        ]
    )


def make_ca() -> TestCA:
    """A fresh root CA and a leaf signing certificate it issued (ES256, valid ten years)."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    not_after = NOT_BEFORE + timedelta(days=3650)
    root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
    root = (
        x509.CertificateBuilder()
        .subject_name(_name("Hallmark test root"))
        .issuer_name(_name("Hallmark test root"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(root_ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("Hallmark test signer"))
        .issuer_name(root.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]),
            critical=False,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return TestCA(
        root_pem=root.public_bytes(pem),
        chain_pem=leaf.public_bytes(pem),
        key_pem=leaf_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


def manifest(source_type: str, *, generator: str = "Hallmark tests/1.0") -> dict[str, Any]:
    """A minimal manifest whose one ``c2pa.created`` action names ``source_type`` (IPTC term)."""
    return {
        "claim_generator_info": [{"name": generator.split("/")[0], "version": "1.0"}],
        "title": "test image",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [{"action": "c2pa.created", "digitalSourceType": IPTC + source_type}]
                },
            }
        ],
    }


def sign(ca: TestCA, media_type: str, data: bytes, source_type: str) -> bytes:
    """``data`` with Content Credentials embedded, signed by the test leaf."""
    info = C2paSignerInfo(C2paSigningAlg.ES256, ca.chain_pem, ca.key_pem, None)
    signer = Signer.from_info(info)
    src, dst = io.BytesIO(data), io.BytesIO()
    try:
        with Builder(manifest(source_type)) as builder:
            builder.sign(signer, media_type, src, dst)
    finally:
        signer.close()
    return dst.getvalue()
