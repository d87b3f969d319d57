"""Calling the other nodes of the federation: channels, breaker, version handshake, the one call
policy (``policy.py``) and a small typed client per API on top (catalog, exchange, sharing,
spans). The domain never imports this package: it sees peers through Protocols of its own, which
these clients implement; ``node.py`` wires them in.
"""

from gateway.peers.channels import (
    CHANNEL_OPTIONS,
    MAX_MESSAGE_BYTES,
    MD_HOPS,
    MD_NODE,
    MD_STANDARD,
    Peer,
    Peers,
)

__all__ = [
    "CHANNEL_OPTIONS",
    "MAX_MESSAGE_BYTES",
    "MD_HOPS",
    "MD_NODE",
    "MD_STANDARD",
    "Peer",
    "Peers",
]
