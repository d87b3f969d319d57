"""The federation PKI: a federation CA and one certificate per node (made with ``cryptography``).

A node certificate names the node twice: subject CN = node id and SAN DNS = ``<node>.yrd`` (its
TLS name). It carries serverAuth and clientAuth, because a node presents the same certificate as
server on its peer port and as client when it calls a peer. Layout of a certs dir::

    ca.pem  ca.key  <node>.pem  <node>.key      (keys 0600)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.errors import ConfigError

__all__ = [
    "CA_CERT_FILE",
    "CA_KEY_FILE",
    "TLS_DOMAIN",
    "cert_file",
    "create_ca",
    "create_federation_certs",
    "issue_node_cert",
    "key_file",
    "tls_name",
    "validate_node_id",
]

#: Node TLS names live under this pseudo top-level domain; they are never resolved through DNS,
#: only checked against the certificate (``grpc.ssl_target_name_override``).
TLS_DOMAIN = "yrd"
CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"

#: A node id is also a DNS label in its TLS name, so it must be one.
_NODE_ID = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
#: Backdate notBefore so a peer whose clock runs a little behind still accepts a fresh cert.
_CLOCK_SKEW = timedelta(minutes=5)
_DEFAULT_NODE_DAYS = 825


def validate_node_id(node_id: str) -> str:
    """Return ``node_id`` if it can be a node id (lowercase DNS label), else raise ValueError."""
    if not isinstance(node_id, str) or not _NODE_ID.match(node_id):
        raise ValueError(f"node id {node_id!r}: expected a lowercase DNS label such as 'js'")
    return node_id


def tls_name(node_id: str) -> str:
    """The name a node's certificate is issued for and that peers check: ``<node>.yrd``."""
    return f"{validate_node_id(node_id)}.{TLS_DOMAIN}"


def cert_file(certs_dir: Path, node_id: str) -> Path:
    return Path(certs_dir) / f"{validate_node_id(node_id)}.pem"


def key_file(certs_dir: Path, node_id: str) -> Path:
    return Path(certs_dir) / f"{validate_node_id(node_id)}.key"


def create_ca(
    common_name: str = "YRD Federation CA",
    *,
    days: int = 3650,
    not_before: datetime | None = None,
) -> tuple[bytes, bytes]:
    """Create a self-signed federation CA; returns ``(cert_pem, key_pem)``."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or datetime.now(UTC) - _CLOCK_SKEW
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "YRD Federation"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        # path_length=0: the CA signs node certificates only, never another CA.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return _cert_pem(cert), _key_pem(key)


def issue_node_cert(
    ca_cert_pem: bytes,
    ca_key_pem: bytes,
    node_id: str,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    dns_names: Sequence[str] | None = None,
) -> tuple[bytes, bytes]:
    """Issue a node certificate signed by the CA; returns ``(cert_pem, key_pem)``.

    ``dns_names`` replaces the default SAN ``[tls_name(node_id)]`` (an empty list leaves the SAN
    out); with the validity bounds it lets tests mint wrong-name and expired certificates.
    """
    validate_node_id(node_id)
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("CA key: expected an EC private key")
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or datetime.now(UTC) - _CLOCK_SKEW
    end = not_after or start + timedelta(days=_DEFAULT_NODE_DAYS)
    names = [tls_name(node_id)] if dns_names is None else list(dns_names)
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "YRD Federation"),
                    x509.NameAttribute(NameOID.COMMON_NAME, node_id),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
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
        # Both purposes: the same certificate serves the peer port and dials peers.
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    return _cert_pem(cert), _key_pem(key)


def create_federation_certs(
    certs_dir: Path,
    node_ids: Iterable[str],
    *,
    days: int = _DEFAULT_NODE_DAYS,
    overwrite: bool = False,
) -> list[Path]:
    """Create the CA and node certificates in ``certs_dir``; returns the files it wrote.

    Idempotent: files that are present and valid (parseable, matching key, in their validity
    window, nodes issued by this CA for the right name) are kept, so a second call writes nothing
    and returns ``[]``. ``overwrite=True`` replaces everything. A new CA means every node
    certificate is reissued. With ``ca.pem`` present but ``ca.key`` missing the CA is never
    silently replaced: issuing a node certificate then raises ConfigError.
    """
    certs_dir = Path(certs_dir)
    nodes = [validate_node_id(n) for n in dict.fromkeys(node_ids)]
    certs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_cert_path, ca_key_path = certs_dir / CA_CERT_FILE, certs_dir / CA_KEY_FILE
    written: list[Path] = []

    ca_ok = not overwrite and _valid_ca(ca_cert_path, ca_key_path)
    if not ca_ok and not overwrite and ca_cert_path.exists() and not ca_key_path.exists():
        ca_ok = _valid_ca(ca_cert_path, None)
    if not ca_ok:
        ca_cert_pem, ca_key_pem = create_ca(days=max(3650, days))
        _write(ca_cert_path, ca_cert_pem, 0o644)
        _write(ca_key_path, ca_key_pem, 0o600)
        written += [ca_cert_path, ca_key_path]
    ca_cert_pem = ca_cert_path.read_bytes()
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)

    for node in nodes:
        cert_path, key_path = cert_file(certs_dir, node), key_file(certs_dir, node)
        if ca_ok and _valid_node(cert_path, key_path, node, ca_cert):
            continue
        if not ca_key_path.exists():
            raise ConfigError(
                ca_key_path,
                CA_KEY_FILE,
                f"the CA private key, needed to issue the certificate of node {node!r} "
                "(or pass overwrite=True to start a new federation CA)",
            )
        start = datetime.now(UTC) - _CLOCK_SKEW
        cert_pem, key_pem = issue_node_cert(
            ca_cert_pem,
            ca_key_path.read_bytes(),
            node,
            not_before=start,
            not_after=start + timedelta(days=days),
        )
        # Key first: a cert on disk without its key would look half-valid to the next run.
        _write(key_path, key_pem, 0o600)
        _write(cert_path, cert_pem, 0o644)
        written += [cert_path, key_path]
    return written


# --- validity checks used for idempotence ---------------------------------------------------


def _in_window(cert: x509.Certificate) -> bool:
    now = datetime.now(UTC)
    return cert.not_valid_before_utc <= now + _CLOCK_SKEW and now < cert.not_valid_after_utc


def _valid_ca(cert_path: Path, key_path: Path | None) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        if not bc.ca or not _in_window(cert):
            return False
        if key_path is not None:
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if key.public_key() != cert.public_key():
                return False
        return True
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False


def _valid_node(cert_path: Path, key_path: Path, node_id: str, ca_cert: x509.Certificate) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert.verify_directly_issued_by(ca_cert)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return (
            key.public_key() == cert.public_key()
            and _in_window(cert)
            and tls_name(node_id) in san.get_values_for_type(x509.DNSName)
        )
    except (OSError, ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False


# --- PEM encoding and file writing ----------------------------------------------------------


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write atomically, with ``mode`` from the start: a key is never briefly world-readable."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    # fchmod because os.open's mode is filtered by the umask and ignored for a leftover tmp file.
    os.fchmod(fd, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
