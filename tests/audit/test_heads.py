"""Signed heads: a node's key signs them, its certificate verifies them, and nothing else does;
and a head carries nothing beyond its sequence, hash, time and signature."""

from __future__ import annotations

import dataclasses

import grpc
import pytest

from gateway._pb.yrd.v1 import federation_pb2
from gateway.audit.heads import HeadSigner, SignedHead, check_head, head_message
from gateway.certs import cert_file, key_file
from gateway.errors import GatewayError

HASH = "ab" * 32
TIME = "2026-12-06T08:00:00.000Z"


def signer(certs_dir, node: str, *, key_of: str | None = None) -> HeadSigner:
    return HeadSigner(node, key_file(certs_dir, key_of or node).read_bytes())


def cert(certs_dir, node: str) -> bytes:
    return cert_file(certs_dir, node).read_bytes()


def test_a_head_signed_with_the_node_key_verifies_with_its_certificate(certs_dir) -> None:
    head = signer(certs_dir, "sh").sign(42, HASH, TIME)
    check_head("sh", head, cert(certs_dir, "sh"))  # no exception: accepted


def refusal(node: str, head: SignedHead, cert_pem: bytes) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        check_head(node, head, cert_pem)
    return caught.value


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 43},
        {"hash": "cd" * 32},
        {"time": "2026-12-06T08:00:01.000Z"},
    ],
    ids=["seq", "hash", "time"],
)
def test_a_changed_head_no_longer_verifies(certs_dir, change) -> None:
    head = dataclasses.replace(signer(certs_dir, "sh").sign(42, HASH, TIME), **change)
    err = refusal("sh", head, cert(certs_dir, "sh"))
    assert (err.code, err.reason) == (grpc.StatusCode.PERMISSION_DENIED, "HEAD_SIGNATURE_INVALID")


def test_a_head_signed_by_another_node_key_is_refused(certs_dir) -> None:
    # zj's key signing a head that claims to be sh's: sh's certificate refuses it.
    forged = signer(certs_dir, "sh", key_of="zj").sign(42, HASH, TIME)
    err = refusal("sh", forged, cert(certs_dir, "sh"))
    assert err.reason == "HEAD_SIGNATURE_INVALID"


def test_a_head_is_bound_to_its_node(certs_dir) -> None:
    # sh's genuine head replayed as zj's (the signed bytes name the node).
    head = signer(certs_dir, "sh").sign(42, HASH, TIME)
    assert refusal("zj", head, cert(certs_dir, "sh")).reason == "HEAD_SIGNATURE_INVALID"
    assert b"\nsh\n42\n" in head_message("sh", 42, HASH, TIME)


@pytest.mark.parametrize(
    "seq, digest", [(0, HASH), (-1, HASH), (1, "xyz"), (1, "AB" * 32)], ids=str
)
def test_what_is_not_a_head_is_refused_as_malformed(certs_dir, seq, digest) -> None:
    head = signer(certs_dir, "sh").sign(seq, digest, TIME)
    assert refusal("sh", head, cert(certs_dir, "sh")).reason == "HEAD_MALFORMED"


def test_a_head_carries_only_seq_hash_time_and_signature() -> None:
    assert [f.name for f in dataclasses.fields(SignedHead)] == ["seq", "hash", "time", "signature"]
    wire = federation_pb2.SignedHead.DESCRIPTOR
    assert [f.name for f in wire.fields] == ["seq", "hash", "time", "signature"]


def test_a_signed_head_on_the_wire_is_the_four_values_and_a_signature(certs_dir) -> None:
    from gateway.wire.federation import head_from_pb, head_to_pb

    head = signer(certs_dir, "sh").sign(7, HASH, TIME)
    message = head_to_pb(head)
    assert head_from_pb(message) == head
    # Only the signature's bytes beyond the three values: no record, no field list, no app.
    assert set(message.ListFields()[i][0].name for i in range(4)) == {
        "seq",
        "hash",
        "time",
        "signature",
    }
    assert len(message.SerializeToString()) < 200
