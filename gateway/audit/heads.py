"""Signed audit chain heads: what a node tells its peers about its own chain, and how a witness
checks that the head came from that node.

A head is (seq, hash, time) signed with the node's key: the private key of its federation
certificate. The signed bytes also name the node, so a head cannot be replayed as another
node's, though the head itself carries nothing but seq, hash, time and signature (the signer is
the mutual-TLS caller). A witness checks the signature against the caller's certificate, which
the handshake has already checked against the federation CA: no key is distributed beyond the
certificates the federation already trusts.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from gateway.errors import PermissionDenied

__all__ = ["HEAD_CONTEXT", "HeadSigner", "SignedHead", "check_head", "head_message"]

#: Names the signed bytes' purpose and layout, so a node key's signature over a head can never
#: be mistaken for one over anything else.
HEAD_CONTEXT = b"yrd-audit-head/v1"

_HASH_CHARS = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class SignedHead:
    """One head as sent: exactly these four things (tests assert nothing else is carried)."""

    seq: int
    hash: str
    time: str
    signature: bytes


def head_message(node: str, seq: int, digest: str, time: str) -> bytes:
    """The bytes a head's signature covers."""
    return b"\n".join((HEAD_CONTEXT, *(str(v).encode() for v in (node, seq, digest, time))))


class HeadSigner:
    """Signs ``node``'s heads with its private key (PEM, as in ``<node>.key``)."""

    def __init__(self, node: str, key_pem: bytes) -> None:
        self.node = node
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ValueError(f"node key of {node}: {type(key).__name__} cannot sign heads")
        self._key = key

    def sign(self, seq: int, digest: str, time: str) -> SignedHead:
        message = head_message(self.node, seq, digest, time)
        key = self._key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, ed25519.Ed25519PrivateKey):
            signature = key.sign(message)
        else:
            signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return SignedHead(seq, digest, time, signature)


def check_head(node: str, head: SignedHead, cert_pem: bytes) -> None:
    """Refuse (``PermissionDenied``, reason ``HEAD_SIGNATURE_INVALID``) a head that ``node``'s
    certificate does not verify, or one that is not a head at all (``HEAD_MALFORMED``)."""
    if head.seq < 1 or len(head.hash) != 64 or not set(head.hash) <= _HASH_CHARS:
        raise PermissionDenied(
            f"head from {node} is not a chain head (seq {head.seq})", reason="HEAD_MALFORMED"
        )
    if not head.time or len(head.time) > 40 or len(head.signature) > 1024:
        raise PermissionDenied(f"head from {node} is malformed", reason="HEAD_MALFORMED")
    try:
        key = x509.load_pem_x509_certificate(cert_pem).public_key()
    except ValueError:
        raise PermissionDenied(
            f"no usable certificate for {node}", reason="HEAD_SIGNATURE_INVALID"
        ) from None
    message = head_message(node, head.seq, head.hash, head.time)
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(head.signature, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(head.signature, message)
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(head.signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise InvalidSignature
    except InvalidSignature:
        raise PermissionDenied(
            f"head {head.seq} is not signed by {node}'s key", reason="HEAD_SIGNATURE_INVALID"
        ) from None
