"""The federation's handshake on the wire (the standard a node speaks, as ``StandardRef``) and
the signed audit heads nodes witness for each other (``SignedHead``)."""

from __future__ import annotations

from gateway._pb.yrd.v1 import federation_pb2
from gateway.audit.heads import SignedHead
from gateway.standard import Standard


def standard_ref(standard: Standard) -> federation_pb2.StandardRef:
    return federation_pb2.StandardRef(
        id=standard.id, version=standard.version, digest=standard.digest
    )


def describe_ref(ref: federation_pb2.StandardRef) -> str:
    return f"{ref.id}@{ref.version}#{ref.digest[:12]}"


def same_standard(a: federation_pb2.StandardRef, b: federation_pb2.StandardRef) -> bool:
    return (a.id, a.version, a.digest) == (b.id, b.version, b.digest)


def head_to_pb(head: SignedHead) -> federation_pb2.SignedHead:
    return federation_pb2.SignedHead(
        seq=head.seq, hash=head.hash, time=head.time, signature=head.signature
    )


def head_from_pb(m: federation_pb2.SignedHead) -> SignedHead:
    return SignedHead(seq=m.seq, hash=m.hash, time=m.time, signature=m.signature)
