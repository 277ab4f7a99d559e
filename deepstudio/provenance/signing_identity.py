"""The installation's local signing identity: an EC P-256 CA and a leaf certificate.

Generated once per installation and kept in the user config folder (``DEEPSTUDIO_CONFIG_DIR``
if set, else platformdirs' ``user_config_dir("DeepStudio")``), under ``signing/``. Private
keys are written with mode 0600. The CA is local, so validators report the signature as valid
but not on a public trust list; that is the honest state of a desktop app without a vendor CA.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True)
class SigningIdentity:
    """PEM bytes: the leaf + CA chain and the leaf's private key."""

    chain_pem: bytes
    key_pem: bytes
    folder: Path


def config_dir() -> Path:
    """The user config folder of DeepStudio."""
    env = os.environ.get("DEEPSTUDIO_CONFIG_DIR")
    return Path(env) if env else Path(platformdirs.user_config_dir("DeepStudio"))


def load_or_create_identity(folder: Path | None = None) -> SigningIdentity:
    """The signing identity in ``folder`` (default ``config_dir()/signing``), made if absent."""
    folder = folder or config_dir() / "signing"
    leaf, ca, key = folder / "leaf.pem", folder / "ca.pem", folder / "leaf-key.pem"
    if not (leaf.is_file() and ca.is_file() and key.is_file()):
        _create(folder)
    return SigningIdentity(leaf.read_bytes() + ca.read_bytes(), key.read_bytes(), folder)


def _create(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    install = uuid.uuid4().hex[:8]
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "DeepStudio local installation"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"DeepStudio local CA {install}"),
    ])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "DeepStudio local installation"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"DeepStudio renderer {install}"),
        ]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    _write(folder / "ca-key.pem", _key_pem(ca_key), private=True)
    _write(folder / "leaf-key.pem", _key_pem(leaf_key), private=True)
    _write(folder / "ca.pem", ca_cert.public_bytes(pem), private=False)
    _write(folder / "leaf.pem", leaf_cert.public_bytes(pem), private=False)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, private: bool) -> None:
    """Atomic write; private files are created 0600 before any byte is written."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
