"""Secrets for apps and operators: issued once, stored only as a digest, compared in constant time.

A plain sha256 is the right digest here, not a password hash (bcrypt, scrypt, argon2): every
secret is ``secrets.token_urlsafe(32)``, 256 random bits, so there is no dictionary to attack and
a slow hash would buy nothing but latency on every call. That argument holds only for random
secrets, which is why operator tokens set from outside must be at least ``MIN_SECRET_LENGTH``
characters. Digests are separated by kind and bound to their subject, so a digest copied from the
app table to the operator table (or from one app to another) never verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum

__all__ = ["MIN_SECRET_LENGTH", "SecretKind", "digest", "issue", "matches"]

#: 32 characters of url-safe base64 carry 192 bits; anything shorter may be guessable.
MIN_SECRET_LENGTH = 32


class SecretKind(StrEnum):
    APP = "app"
    OPERATOR = "operator"


def issue() -> str:
    """A new secret: 256 random bits, url-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def digest(kind: SecretKind, secret: str, subject: str = "") -> str:
    """The hex digest stored at rest for ``secret`` of ``kind`` belonging to ``subject``."""
    # NUL cannot occur in a kind or an app id, so the parts cannot be shifted into each other.
    material = f"yrd-gateway/{kind.value}\0{subject}\0{secret}".encode()
    return hashlib.sha256(material).hexdigest()


def matches(kind: SecretKind, secret: str, stored: str, subject: str = "") -> bool:
    """Whether ``secret`` is the one whose digest is ``stored``, compared in constant time."""
    return hmac.compare_digest(digest(kind, secret, subject).encode(), stored.encode())
