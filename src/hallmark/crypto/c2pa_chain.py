"""The instance's own X.509 chain for signing Content Credentials (issue #6, item 1).

C2PA validators refuse a self-signed signing certificate (C2PA 2.1, section 14.5, "X.509
Certificates"), so every instance gets the smallest chain they accept: a root CA that only
issues certificates, and a signing certificate it issued, with ``CA:false``, the
``digitalSignature`` key usage and the documentSigning extended key usage
(1.3.6.1.5.5.7.3.36, RFC 9336). Both keys are ECDSA P-256 (ES256 in C2PA terms).

The root's private key is kept beside the others, readable by the owner only: it is needed
again only to issue a new signing certificate when the old one is deleted. An operator who
has a certificate from a real CA points the ``c2pa_certificate_chain`` and
``c2pa_private_key`` settings at it instead; :func:`load_signing_credentials` reads either.

Only ``cryptography`` is used here, so this module belongs to the base install; signing a
manifest with the result is :mod:`hallmark.services.credentials`' job.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hallmark.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = [
    "DOCUMENT_SIGNING",
    "ChainFiles",
    "SigningCredentials",
    "ensure_chain",
    "issue_root",
    "issue_signer",
    "load_signing_credentials",
]

#: The documentSigning extended key usage (RFC 9336), which C2PA requires of a signer.
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
#: Manifests are signed without a time-stamp authority (an instance must work offline), so a
#: validator checks the signing certificate against today's date: when it expires, every copy
#: it signed stops validating. Hence long lifetimes; the root outlives several signers.
ROOT_LIFETIME = timedelta(days=365 * 30)
SIGNER_LIFETIME = timedelta(days=365 * 10)
#: Certificates start a little in the past, so a validator whose clock runs behind ours does
#: not see a certificate that is "not yet valid".
CLOCK_SKEW = timedelta(hours=1)
#: RFC 5280 upper bounds for the common and organization names.
_MAX_NAME = 64

_PEM = serialization.Encoding.PEM


@dataclass(frozen=True)
class ChainFiles:
    """Where an instance keeps its generated chain (all in ``<home>/keys/``)."""

    root_certificate: Path
    root_key: Path
    chain: Path
    key: Path

    @classmethod
    def in_folder(cls, folder: Path) -> ChainFiles:
        return cls(
            root_certificate=folder / "c2pa-root.pem",
            root_key=folder / "c2pa-root.key",
            chain=folder / "c2pa-chain.pem",
            key=folder / "c2pa-signer.key",
        )

    @property
    def complete(self) -> bool:
        # The chain file is written last, so its presence marks a usable chain.
        return all(p.exists() for p in (self.root_certificate, self.chain, self.key))


@dataclass(frozen=True)
class SigningCredentials:
    """What a C2PA signer needs: PEM bytes (c2pa refuses ``str``) and the algorithm."""

    #: The signing certificate first, then any intermediates; never the root.
    chain_pem: bytes
    key_pem: bytes
    #: The C2PA algorithm name for the key: ``es256``, ``es384``, ``es512``, ``ps256`` or
    #: ``ed25519``.
    algorithm: str
    certificate: x509.Certificate


def _name(common_name: str, origin: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:_MAX_NAME]),
            # C2PA viewers show the signer's organization as "issued by", so it names the
            # instance: its log origin, the name its checkpoints and verifier key carry.
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, origin[:_MAX_NAME] or "Hallmark"),
        ]
    )


def _key_usage(*, sign_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not sign_certificates,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign_certificates,
        crl_sign=sign_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def issue_root(key: ec.EllipticCurvePrivateKey, *, origin: str, now: datetime) -> x509.Certificate:
    """A self-signed root CA for ``origin``: it may issue certificates and nothing else."""
    name = _name("Hallmark Content Credentials root", origin)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + ROOT_LIFETIME)
        # Path length 0: the root issues the signer directly, never another CA.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign_certificates=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )


def issue_signer(
    root: x509.Certificate,
    root_key: CertificateIssuerPrivateKeyTypes,
    key: CertificateIssuerPrivateKeyTypes,
    *,
    origin: str,
    now: datetime,
) -> x509.Certificate:
    """The signing certificate for ``key``, issued by ``root``, valid for C2PA claims."""
    not_after = min(now + SIGNER_LIFETIME, root.not_valid_after_utc)
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(_name("Hallmark Content Credentials", origin))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign_certificates=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )


# --- files -----------------------------------------------------------------------------------


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``data``; never replace an existing file (keys are not rotated
    by accident). Private keys get mode 0600 from the first byte on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` so that two processes (two web workers serving
    their first credentialed download at once) never create two different chains."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX: the O_EXCL writes still refuse to overwrite anything
        yield
        return
    with open(folder / ".c2pa.lock", "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def ensure_chain(files: ChainFiles, *, origin: str, now: datetime) -> bool:
    """Create whatever part of the instance chain is missing; return True when anything was.

    Nothing existing is ever replaced. A missing root means a new root and signer. A root
    whose signer was deleted (to renew it before it expires) gets a new signer from the kept
    root key, so copies signed before stay trusted by the same anchor.
    """
    if files.complete:
        return False
    with _locked(files.chain.parent):
        if files.complete:  # another process finished it while we waited for the lock
            return False
        if files.root_certificate.exists():
            root = _load_certificates(files.root_certificate, "c2pa root certificate")[0]
            if not files.root_key.exists():
                raise ConfigError(
                    f"The c2pa signing certificate is missing and so is the root key "
                    f"{files.root_key} that could issue a new one.",
                    hint="Restore c2pa-chain.pem and c2pa-signer.key (or the root key) from a "
                    "backup.",
                )
            root_key: CertificateIssuerPrivateKeyTypes = _load_private_key(
                files.root_key, "c2pa root key"
            )
        else:
            if files.root_key.exists() or files.key.exists():
                raise ConfigError(
                    f"The c2pa root certificate {files.root_certificate} is missing, but keys "
                    "of an earlier chain are still there.",
                    hint="Restore the certificate from a backup, or move the c2pa-* files away "
                    "to create a new chain (copies signed before will no longer be trusted "
                    "by the new root).",
                )
            new_root_key = ec.generate_private_key(ec.SECP256R1())
            root = issue_root(new_root_key, origin=origin, now=now)
            root_key = new_root_key
            _write_new(files.root_key, _private_pem(new_root_key), 0o600)
            _write_new(files.root_certificate, root.public_bytes(_PEM), 0o644)
            logger.info("created the Content Credentials root CA %s", files.root_certificate)
        if files.key.exists():
            # A signer key without its certificate: an interrupted earlier run. Moving it
            # aside keeps the rule that no key file is ever overwritten.
            files.key.rename(files.key.with_name(f"{files.key.name}.orphaned-{now:%Y%m%d%H%M%S}"))
        key = ec.generate_private_key(ec.SECP256R1())
        signer = issue_signer(root, root_key, key, origin=origin, now=now)
        _write_new(files.key, _private_pem(key), 0o600)
        _write_new(files.chain, signer.public_bytes(_PEM), 0o644)
        logger.info("issued the Content Credentials signing certificate %s", files.chain)
    return True


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"The {what} {path} does not exist.",
            hint="Run 'hallmark init --if-missing' to create the instance's chain, or fix the "
            "c2pa_certificate_chain and c2pa_private_key settings.",
        ) from None
    except OSError as exc:
        raise ConfigError(f"The {what} {path} cannot be read: {exc.strerror or exc}.") from None


def _load_certificates(path: Path, what: str) -> list[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(_read(path, what))
    except ValueError:
        raise ConfigError(
            f"The {what} {path} holds no readable PEM certificate.",
            hint="It must be PEM text: '-----BEGIN CERTIFICATE-----' blocks.",
        ) from None
    return certificates


def _load_private_key(path: Path, what: str) -> CertificateIssuerPrivateKeyTypes:
    try:
        key = serialization.load_pem_private_key(_read(path, what), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"The {what} {path} cannot be read: {exc}",
            hint="It must be an unencrypted PEM private key (PKCS#8 or traditional).",
        ) from None
    if not isinstance(
        key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise ConfigError(
            f"The {what} {path} is a {type(key).__name__}; C2PA signs with EC, RSA or Ed25519.",
        )
    return key


def _algorithm(key: CertificateIssuerPrivateKeyTypes, path: Path) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        # C2PA allows RSA only with PSS padding (C2PA 2.1, section 13.2).
        return "ps256"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        curves = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name in curves:
            return curves[key.curve.name]
    raise ConfigError(
        f"The key {path} uses an algorithm C2PA does not sign with.",
        hint="Use an ECDSA P-256, P-384 or P-521 key, an RSA key, or an Ed25519 key.",
    )


def _same_public_key(certificate: x509.Certificate, key: CertificateIssuerPrivateKeyTypes) -> bool:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    ours = key.public_key().public_bytes(serialization.Encoding.DER, spki)
    theirs = certificate.public_key().public_bytes(serialization.Encoding.DER, spki)
    return ours == theirs


def load_signing_credentials(
    chain_path: Path, key_path: Path, *, now: datetime
) -> SigningCredentials:
    """The chain and key at these paths, checked enough that signing will not fail obscurely.

    The checks cover what an operator most often gets wrong: a key that belongs to another
    certificate, the root included in or in front of the chain, an expired certificate, a
    certificate without the documentSigning usage. c2pa still validates everything itself.
    """
    certificates = _load_certificates(chain_path, "c2pa certificate chain")
    key = _load_private_key(key_path, "c2pa private key")
    leaf = certificates[0]
    if not _same_public_key(leaf, key):
        raise ConfigError(
            f"The c2pa private key {key_path} does not belong to the first certificate in "
            f"{chain_path}.",
            hint="The chain file lists the signing certificate first, then its intermediates.",
        )
    try:
        constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = constraints.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if is_ca or leaf.issuer == leaf.subject:
        raise ConfigError(
            f"The first certificate in {chain_path} is a CA or self-signed; C2PA signs with "
            "an end-entity certificate.",
            hint="Put the signing certificate first, and leave the root out of the chain.",
        )
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = x509.ExtendedKeyUsage([])
    if DOCUMENT_SIGNING not in usages and ExtendedKeyUsageOID.EMAIL_PROTECTION not in usages:
        raise ConfigError(
            f"The signing certificate in {chain_path} lacks the documentSigning extended key "
            "usage (1.3.6.1.5.5.7.3.36) that C2PA requires.",
            hint="Ask the CA for a document-signing certificate.",
        )
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise ConfigError(
            f"The signing certificate in {chain_path} is valid from "
            f"{leaf.not_valid_before_utc:%Y-%m-%d} to {leaf.not_valid_after_utc:%Y-%m-%d}, "
            "not today.",
            hint="Configure a current certificate; for the instance's own chain, move "
            "c2pa-chain.pem and c2pa-signer.key away and run 'hallmark init --if-missing' to "
            "issue a new one from the kept root.",
        )
    return SigningCredentials(
        chain_pem=b"".join(c.public_bytes(_PEM) for c in certificates),
        key_pem=key.private_bytes(
            _PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        algorithm=_algorithm(key, key_path),
        certificate=leaf,
    )


def root_pem(files: ChainFiles) -> str:
    """The instance root certificate as PEM text: the trust anchor for its Content
    Credentials."""
    root = _load_certificates(files.root_certificate, "c2pa root certificate")[0]
    return root.public_bytes(_PEM).decode("ascii")
