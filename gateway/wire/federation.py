"""The federation's handshake on the wire: the standard a node speaks, as ``StandardRef``."""

from __future__ import annotations

from gateway._pb.yrd.v1 import federation_pb2
from gateway.standard import Standard


def standard_ref(standard: Standard) -> federation_pb2.StandardRef:
    return federation_pb2.StandardRef(
        id=standard.id, version=standard.version, digest=standard.digest
    )


def describe_ref(ref: federation_pb2.StandardRef) -> str:
    return f"{ref.id}@{ref.version}#{ref.digest[:12]}"


def same_standard(a: federation_pb2.StandardRef, b: federation_pb2.StandardRef) -> bool:
    return (a.id, a.version, a.digest) == (b.id, b.version, b.digest)
