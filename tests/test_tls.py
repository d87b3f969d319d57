"""Mutual TLS between real grpc.aio servers and channels on loopback: who gets in, who is seen."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from gateway.certs import create_ca, create_federation_certs, issue_node_cert
from gateway.tls import (
    NodeTLS,
    channel_options_for,
    client_channel_credentials,
    peer_identity,
)

NODES = ["js", "sh", "zj", "ah"]
TIMEOUT = 3.0
NOBODY = b"<none>"


# --- the federation under test --------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    """The federation's CA and nodes, plus a foreign CA, to mint good and bad identities."""

    certs_dir: Path
    ca_pem: bytes
    ca_key: bytes
    other_ca_pem: bytes
    other_ca_key: bytes

    def node(self, node_id: str) -> NodeTLS:
        return NodeTLS.load(self.certs_dir, node_id)

    def minted(self, node_id: str, *, foreign: bool = False, **kw) -> NodeTLS:
        """A certificate for ``node_id`` outside the on-disk set (expired, foreign CA, odd SAN).

        The CA in the result is always the federation CA: it is what the holder trusts.
        """
        ca_pem, ca_key = (
            (self.other_ca_pem, self.other_ca_key) if foreign else (self.ca_pem, self.ca_key)
        )
        cert, key = issue_node_cert(ca_pem, ca_key, node_id, **kw)
        return NodeTLS(ca_pem=self.ca_pem, cert_pem=cert, key_pem=key, node_id=node_id)

    def expired(self, node_id: str) -> NodeTLS:
        now = datetime.now(UTC)
        return self.minted(
            node_id, not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
        )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("certs")
    create_federation_certs(d, NODES)
    other_cert, other_key = create_ca("Some Other CA")
    return Pki(
        certs_dir=d,
        ca_pem=(d / "ca.pem").read_bytes(),
        ca_key=(d / "ca.key").read_bytes(),
        other_ca_pem=other_cert,
        other_ca_key=other_key,
    )


# --- a real server that reports who it saw --------------------------------------------------


class Echo:
    """One method that answers with the node id the server sees via ``peer_identity``."""

    def __init__(self) -> None:
        self.calls = 0

    async def who(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        self.calls += 1
        node = peer_identity(context)
        return node.encode() if node else NOBODY

    def handler(self) -> grpc.GenericRpcHandler:
        # No serializers: requests and replies stay raw bytes, so no protos are needed.
        return grpc.method_handlers_generic_handler(
            "yrd.test.Echo", {"Who": grpc.unary_unary_rpc_method_handler(self.who)}
        )


@asynccontextmanager
async def serve(creds: grpc.ServerCredentials | None) -> AsyncIterator[tuple[str, Echo]]:
    echo = Echo()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((echo.handler(),))
    if creds is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", creds)
    await server.start()
    try:
        yield f"127.0.0.1:{port}", echo
    finally:
        await server.stop(None)


async def call(
    address: str,
    creds: grpc.ChannelCredentials | None,
    options: list[tuple[str, str]] | None = None,
) -> bytes:
    if creds is None:
        channel = grpc.aio.insecure_channel(address)
    else:
        channel = grpc.aio.secure_channel(address, creds, options=options)
    async with channel:
        return await channel.unary_unary("/yrd.test.Echo/Who")(b"", timeout=TIMEOUT)


# --- accepted -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client", "server"), [("js", "sh"), ("sh", "zj"), ("zj", "ah"), ("ah", "js")]
)
async def test_mtls_between_nodes_and_server_sees_client_node(pki: Pki, client: str, server: str):
    async with serve(pki.node(server).peer_server_credentials()) as (address, echo):
        seen = await call(
            address, pki.node(client).channel_credentials(), channel_options_for(server)
        )
    assert seen == client.encode()
    assert echo.calls == 1


async def test_client_port_accepts_ca_only_client_with_no_peer_identity(pki: Pki):
    async with serve(pki.node("sh").client_port_server_credentials()) as (address, _):
        seen = await call(
            address, client_channel_credentials(pki.ca_pem), channel_options_for("sh")
        )
    assert seen == NOBODY


async def test_plaintext_has_no_peer_identity():
    async with serve(None) as (address, _):
        assert await call(address, None) == NOBODY


@pytest.mark.parametrize(
    ("dns_names", "expected"),
    [
        pytest.param([], b"zj", id="no-san-falls-back-to-cn"),
        pytest.param(["ah.yrd"], b"ah", id="san-wins-over-cn"),
        pytest.param(["zj.example.org"], b"zj", id="non-yrd-san-falls-back-to-cn"),
        pytest.param(["js.yrd", "ah.yrd"], NOBODY, id="two-nodes-is-nobody"),
    ],
)
async def test_peer_identity_rule_on_real_handshake(pki: Pki, dns_names, expected):
    # The server never checks the client's name: identity is whatever peer_identity derives.
    client = pki.minted("zj", dns_names=dns_names)
    async with serve(pki.node("sh").peer_server_credentials()) as (address, _):
        seen = await call(address, client.channel_credentials(), channel_options_for("sh"))
    assert seen == expected


# --- refused at the handshake ---------------------------------------------------------------

# Each case: pki -> (server credentials, client credentials, client channel options).
Setup = Callable[[Pki], tuple[grpc.ServerCredentials, grpc.ChannelCredentials, list]]

REFUSED: dict[str, Setup] = {
    "client-cert-from-unknown-ca": lambda p: (
        p.node("sh").peer_server_credentials(),
        p.minted("js", foreign=True).channel_credentials(),
        channel_options_for("sh"),
    ),
    "client-cert-expired": lambda p: (
        p.node("sh").peer_server_credentials(),
        p.expired("js").channel_credentials(),
        channel_options_for("sh"),
    ),
    "client-cert-not-yet-valid": lambda p: (
        p.node("sh").peer_server_credentials(),
        p.minted(
            "js",
            not_before=datetime.now(UTC) + timedelta(days=1),
            not_after=datetime.now(UTC) + timedelta(days=30),
        ).channel_credentials(),
        channel_options_for("sh"),
    ),
    "client-without-cert-on-mtls-port": lambda p: (
        p.node("sh").peer_server_credentials(),
        client_channel_credentials(p.ca_pem),
        channel_options_for("sh"),
    ),
    "server-cert-expired": lambda p: (
        p.expired("sh").peer_server_credentials(),
        p.node("js").channel_credentials(),
        channel_options_for("sh"),
    ),
    "server-cert-from-unknown-ca": lambda p: (
        p.minted("sh", foreign=True).peer_server_credentials(),
        p.node("js").channel_credentials(),
        channel_options_for("sh"),
    ),
    "server-presents-another-nodes-cert": lambda p: (
        p.node("js").peer_server_credentials(),
        p.node("zj").channel_credentials(),
        channel_options_for("sh"),
    ),
    "cli-expects-sh-but-client-port-is-js": lambda p: (
        p.node("js").client_port_server_credentials(),
        client_channel_credentials(p.ca_pem),
        channel_options_for("sh"),
    ),
    "cli-trusting-another-ca": lambda p: (
        p.node("sh").client_port_server_credentials(),
        client_channel_credentials(p.other_ca_pem),
        channel_options_for("sh"),
    ),
}


@pytest.mark.parametrize("setup", REFUSED.values(), ids=REFUSED.keys())
async def test_refused_at_handshake_as_unavailable(pki: Pki, setup: Setup):
    server_creds, client_creds, options = setup(pki)
    async with serve(server_creds) as (address, echo):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call(address, client_creds, options)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert echo.calls == 0


# --- peer_identity on crafted auth contexts --------------------------------------------------


class FakeContext:
    def __init__(self, auth: dict[str, list[bytes]]) -> None:
        self._auth = auth

    def auth_context(self) -> dict[str, list[bytes]]:
        return self._auth


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (
            {
                "transport_security_type": [b"ssl"],
                "x509_subject_alternative_name": [b"sh.yrd"],
                "x509_common_name": [b"js"],
            },
            "sh",
        ),
        ({"transport_security_type": [b"ssl"], "x509_common_name": [b"ah"]}, "ah"),
        ({"transport_security_type": [b"ssl"]}, None),
        ({"transport_security_type": [b"insecure"], "x509_common_name": [b"js"]}, None),
        ({}, None),
        ({"transport_security_type": [b"ssl"], "x509_common_name": [b"Not A Node"]}, None),
        # The SNI is chosen by the client: it must never count as identity.
        ({"transport_security_type": [b"ssl"], "ssl_requested_server_name": [b"js.yrd"]}, None),
    ],
    ids=["san", "cn-fallback", "no-cert", "insecure", "empty", "cn-not-a-node-id", "sni-ignored"],
)
def test_peer_identity_from_auth_context(auth, expected):
    assert peer_identity(FakeContext(auth)) == expected


def test_channel_options_pin_the_tls_name():
    assert channel_options_for("zj") == [("grpc.ssl_target_name_override", "zj.yrd")]
