"""gRPC TLS credentials for a node's two ports and its peer channels, and the mTLS peer identity.

Peer port: mutual TLS, both sides verified against the federation CA. Client port: server-auth
TLS only (apps and the CLI trust the CA and check the node's TLS name). Peer addresses are dialled
with ``grpc.ssl_target_name_override = <node>.yrd``, so the certificate must name the node we
meant to reach, whatever address it answers on.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from gateway.certs import CA_CERT_FILE, TLS_DOMAIN, cert_file, key_file, tls_name, validate_node_id
from gateway.errors import ConfigError

__all__ = [
    "NodeTLS",
    "channel_options_for",
    "client_channel_credentials",
    "peer_certificate",
    "peer_identity",
    "presented_node",
]

# Keys of grpc's auth_context, as grpc core fills them for a TLS connection.
_TRANSPORT = "transport_security_type"
_SAN = "x509_subject_alternative_name"
_CN = "x509_common_name"
_PEM = "x509_pem_cert"
_SAN_SUFFIX = "." + TLS_DOMAIN


@dataclass(frozen=True)
class NodeTLS:
    """One node's TLS material: the federation CA, its own certificate and key (all PEM)."""

    ca_pem: bytes = field(repr=False)
    cert_pem: bytes = field(repr=False)
    key_pem: bytes = field(repr=False)
    node_id: str

    @classmethod
    def load(cls, certs_dir: Path, node_id: str) -> NodeTLS:
        """Read ``ca.pem``, ``<node>.pem`` and ``<node>.key`` and check they belong together.

        Checked here so a wrong file stops the node at start-up with the file named, rather than
        failing every handshake later with a bare UNAVAILABLE.
        """
        validate_node_id(node_id)
        certs_dir = Path(certs_dir)
        ca_path = certs_dir / CA_CERT_FILE
        cert_path, key_path = cert_file(certs_dir, node_id), key_file(certs_dir, node_id)
        ca_pem = _read(ca_path, "ca", "the federation CA certificate (PEM)")
        cert_pem = _read(cert_path, "cert", f"the certificate of node {node_id!r} (PEM)")
        key_pem = _read(key_path, "key", f"the private key of node {node_id!r} (PEM)")

        try:
            ca = x509.load_pem_x509_certificate(ca_pem)
        except ValueError:
            raise ConfigError(ca_path, "ca", "a PEM X.509 certificate") from None
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
        except ValueError:
            raise ConfigError(cert_path, "cert", "a PEM X.509 certificate") from None
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError):
            raise ConfigError(key_path, "key", "an unencrypted PEM private key") from None

        if key.public_key() != cert.public_key():
            raise ConfigError(key_path, "key", f"the private key matching {cert_path.name}")
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            raise ConfigError(cert_path, "cert", f"a certificate issued by {ca_path}") from None
        # The SAN must carry the TLS name: peers check it at the handshake, not the CN.
        if tls_name(node_id) not in _dns_names(cert) or _cert_node_id(cert) != node_id:
            raise ConfigError(
                cert_path, "cert", f"a certificate for node {node_id!r} (SAN {tls_name(node_id)})"
            )
        now = datetime.now(UTC)
        if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc:
            raise ConfigError(
                cert_path,
                "cert",
                f"a certificate valid now (it is valid {cert.not_valid_before_utc:%Y-%m-%d} "
                f"to {cert.not_valid_after_utc:%Y-%m-%d})",
            )
        return cls(ca_pem=ca_pem, cert_pem=cert_pem, key_pem=key_pem, node_id=node_id)

    def peer_server_credentials(self) -> grpc.ServerCredentials:
        """The peer port: mutual TLS, client certificates must chain to the federation CA."""
        return grpc.ssl_server_credentials(
            [(self.key_pem, self.cert_pem)],
            root_certificates=self.ca_pem,
            require_client_auth=True,
        )

    def client_port_server_credentials(self) -> grpc.ServerCredentials:
        """The client port: server-auth TLS; apps authenticate at the application layer."""
        return grpc.ssl_server_credentials([(self.key_pem, self.cert_pem)])

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """Our side of mTLS when calling a peer: present our certificate, trust only the CA.

        Pair with ``channel_options_for(peer)`` so the peer's certificate is checked by name.
        """
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca_pem,
            private_key=self.key_pem,
            certificate_chain=self.cert_pem,
        )


def client_channel_credentials(ca_pem: bytes) -> grpc.ChannelCredentials:
    """For apps and the CLI: trust the federation CA (and only it), present no certificate."""
    return grpc.ssl_channel_credentials(root_certificates=ca_pem)


ROUND_ROBIN = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})
"""gRPC's own client-side balancing over every address of a target (a province's replicas)."""


def channel_options_for(node_id: str, target: str = "") -> list[tuple[str, str]]:
    """Channel options that make the TLS handshake check the server is ``node_id``; for a
    target naming several replicas (``ipv4:a,b``), also balance calls over them.

    Addresses in federation.yaml are host:port and need not match any certificate name; the
    override makes grpc verify the SAN against ``<node>.yrd`` instead, so a server presenting
    another node's (valid) certificate on this address is refused at the handshake. Every
    replica of a province presents its province's certificate, so the check holds per replica.
    """
    options = [("grpc.ssl_target_name_override", tls_name(node_id))]
    if "," in target:
        options.append(("grpc.service_config", ROUND_ROBIN))
    return options


def peer_identity(context: Any) -> str | None:
    """The node id of the mTLS peer of this call, or None when there is no verified certificate.

    Reads ``context.auth_context()``: the SAN ``<node>.yrd`` is preferred, the subject CN is the
    fallback. Meaningful only on a port served with ``peer_server_credentials`` (where grpc has
    verified the client certificate against the CA); never uses client-chosen values such as
    ``ssl_requested_server_name`` (the SNI).
    """
    auth: Mapping[str, Iterable[bytes]] = context.auth_context() or {}
    if _values(auth, _TRANSPORT) != ["ssl"]:
        return None
    nodes = {
        name[: -len(_SAN_SUFFIX)] for name in _values(auth, _SAN) if name.endswith(_SAN_SUFFIX)
    }
    if not nodes:
        nodes = set(_values(auth, _CN))
    # Several candidate nodes means a misissued certificate: identify as nobody, deny by default.
    if len(nodes) != 1:
        return None
    (node,) = nodes
    try:
        return validate_node_id(node)
    except ValueError:
        return None


def peer_certificate(context: Any) -> bytes | None:
    """The mTLS peer's certificate (PEM), as grpc verified it against the CA at the handshake;
    None without one. Pair with ``peer_identity`` for whose it is."""
    auth: Mapping[str, Iterable[bytes]] = context.auth_context() or {}
    if _values(auth, _TRANSPORT) != ["ssl"]:
        return None
    pems = list(auth.get(_PEM, ()))
    return pems[0] if len(pems) == 1 else None


def presented_node(address: str, ca_pem: bytes, timeout: float = 1.0) -> str | None:
    """The node whose certificate the TLS server at ``address`` (host:port) presents, checked
    against the federation CA but not by name; None when nothing answers there or its
    certificate is not the CA's. Names the node behind a peer address that fails grpc's name
    check (an address in federation.yaml pointing at the wrong node), which grpc's own error
    does not. The peer port asks for a client certificate; this handshake offers none, and in
    TLS 1.3 the server's certificate has arrived and been verified before the server refuses."""
    host, _, port = address.rpartition(":")
    context = ssl.create_default_context(cadata=ca_pem.decode("ascii", "replace"))
    context.check_hostname = False
    context.set_alpn_protocols(["h2"])
    try:
        with (
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as raw,
            context.wrap_socket(raw) as conn,
        ):
            der = conn.getpeercert(binary_form=True)
    except (OSError, ValueError):  # nothing there, no TLS, or not the CA's certificate
        return None
    if not der:
        return None
    return _cert_node_id(x509.load_der_x509_certificate(der))


def _values(auth: Mapping[str, Iterable[bytes]], key: str) -> list[str]:
    return [v.decode("utf-8", "replace") for v in auth.get(key, ())]


def _dns_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return san.get_values_for_type(x509.DNSName)


def _cert_node_id(cert: x509.Certificate) -> str | None:
    """The node a certificate names, by the same rule as ``peer_identity``."""
    nodes = {n[: -len(_SAN_SUFFIX)] for n in _dns_names(cert) if n.endswith(_SAN_SUFFIX)}
    if not nodes:
        nodes = {
            str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        }
    return nodes.pop() if len(nodes) == 1 else None


def _read(path: Path, key: str, expected: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, key, f"{expected}; file not found") from None
    except OSError as e:
        raise ConfigError(path, key, f"{expected}; cannot read: {e.strerror}") from None
