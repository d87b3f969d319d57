"""Client-side connections to a node's client port: the CLI, the supervisor's health checks, the
tools and the tests open them here."""

from __future__ import annotations

from pathlib import Path

import grpc

from gateway.certs import CA_CERT_FILE
from gateway.config import FederationConfig
from gateway.errors import ConfigError
from gateway.tls import channel_options_for, client_channel_credentials


def open_channel(
    fed: FederationConfig, node_id: str, *, insecure: bool, address: str = ""
) -> grpc.Channel:
    """A channel to ``node_id``'s client port (all its replicas; or one, at ``address``),
    verifying it against the federation CA."""
    address = address or fed.node(node_id).client
    if insecure:
        return grpc.insecure_channel(address, options=channel_options_for(node_id, address)[1:])
    ca_path = Path(fed.certs_dir) / CA_CERT_FILE
    try:
        ca = ca_path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(ca_path, "ca", "the federation CA (run `yrdgw certs`)") from None
    return grpc.secure_channel(
        address, client_channel_credentials(ca), options=channel_options_for(node_id, address)
    )
