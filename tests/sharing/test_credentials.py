"""Secrets: random, stored as digests separated by kind and subject, compared in constant time."""

from __future__ import annotations

import hashlib

import pytest

from gateway.sharing import credentials
from gateway.sharing.credentials import SecretKind


def test_issue_is_random_and_url_safe() -> None:
    secrets = {credentials.issue() for _ in range(200)}
    assert len(secrets) == 200
    for s in secrets:
        assert len(s) == 43  # 32 bytes, url-safe base64 without padding
        assert set(s) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        assert len(s) >= credentials.MIN_SECRET_LENGTH


def test_digest_is_sha256_hex_and_not_the_secret() -> None:
    secret = credentials.issue()
    d = credentials.digest(SecretKind.APP, secret, "js/rsj/pension-transfer")
    assert len(d) == 64 and int(d, 16) >= 0
    assert secret not in d
    # Not a bare sha256 of the secret: kind and subject are bound in.
    assert d != hashlib.sha256(secret.encode()).hexdigest()


def test_matches_only_the_right_secret() -> None:
    secret = credentials.issue()
    stored = credentials.digest(SecretKind.APP, secret, "js/rsj/a")
    assert credentials.matches(SecretKind.APP, secret, stored, "js/rsj/a")
    assert not credentials.matches(SecretKind.APP, secret + "x", stored, "js/rsj/a")
    assert not credentials.matches(SecretKind.APP, secret[:-1], stored, "js/rsj/a")
    assert not credentials.matches(SecretKind.APP, "", stored, "js/rsj/a")


@pytest.mark.parametrize(
    ("kind", "subject"),
    [
        (SecretKind.OPERATOR, ""),  # an app's digest never verifies as an operator's
        (SecretKind.OPERATOR, "js/rsj/a"),
        (SecretKind.APP, "js/rsj/b"),  # nor as another app's
        (SecretKind.APP, ""),
    ],
)
def test_digest_is_bound_to_kind_and_subject(kind: SecretKind, subject: str) -> None:
    secret = credentials.issue()
    stored = credentials.digest(SecretKind.APP, secret, "js/rsj/a")
    assert not credentials.matches(kind, secret, stored, subject)


def test_operator_digest_never_verifies_as_app() -> None:
    token = credentials.issue()
    stored = credentials.digest(SecretKind.OPERATOR, token)
    assert credentials.matches(SecretKind.OPERATOR, token, stored)
    assert not credentials.matches(SecretKind.APP, token, stored)


def test_matches_tolerates_garbage_stored_values() -> None:
    assert not credentials.matches(SecretKind.APP, "x", "", "js/rsj/a")
    assert not credentials.matches(SecretKind.APP, "x", "not hex at all", "js/rsj/a")
