"""The federation PKI on disk: layout, permissions, idempotence, certificate contents, loading."""

from __future__ import annotations

import os
import shutil
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.certs import create_ca, create_federation_certs, issue_node_cert, tls_name
from gateway.errors import ConfigError
from gateway.tls import NodeTLS

NODES = ["js", "sh", "zj", "ah"]


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def snapshot(d: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(d.iterdir())}


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    d = tmp_path / "certs"
    create_federation_certs(d, NODES)
    return d


# --- layout and permissions -----------------------------------------------------------------


def test_layout_and_returned_paths(tmp_path: Path):
    d = tmp_path / "certs"
    written = create_federation_certs(d, NODES)
    expected = {"ca.pem", "ca.key"} | {f"{n}.{ext}" for n in NODES for ext in ("pem", "key")}
    assert {p.name for p in written} == expected
    assert {p.name for p in d.iterdir()} == expected  # no temp files left behind


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_key_files_are_0600_whatever_the_umask(tmp_path: Path, umask: int):
    old = os.umask(umask)
    try:
        create_federation_certs(tmp_path, NODES)
    finally:
        os.umask(old)
    for name in ["ca.key", *(f"{n}.key" for n in NODES)]:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    # Certificates are public: readable by the node's operators without the keys.
    assert stat.S_IMODE((tmp_path / "js.pem").stat().st_mode) == 0o644


# --- idempotence ----------------------------------------------------------------------------


def test_second_call_rewrites_nothing(certs: Path):
    before = snapshot(certs)
    assert create_federation_certs(certs, NODES) == []
    assert snapshot(certs) == before


def test_new_node_is_added_under_the_same_ca(certs: Path):
    before = snapshot(certs)
    written = create_federation_certs(certs, [*NODES, "hb"])
    assert sorted(p.name for p in written) == ["hb.key", "hb.pem"]
    assert {k: v for k, v in snapshot(certs).items() if not k.startswith("hb.")} == before
    load(certs / "hb.pem").verify_directly_issued_by(load(certs / "ca.pem"))


def test_overwrite_replaces_everything(certs: Path):
    before = snapshot(certs)
    written = create_federation_certs(certs, NODES, overwrite=True)
    assert len(written) == 2 + 2 * len(NODES)
    after = snapshot(certs)
    assert all(after[name][0] != before[name][0] for name in before)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda d: (d / "sh.key").write_bytes(b"garbage"), id="corrupt-key"),
        pytest.param(lambda d: (d / "sh.pem").unlink(), id="missing-cert"),
        pytest.param(
            lambda d: shutil.copy(d / "js.key", d / "sh.key"), id="key-does-not-match-cert"
        ),
        pytest.param(
            lambda d: [shutil.copy(d / f"js.{e}", d / f"sh.{e}") for e in ("pem", "key")],
            id="cert-of-another-node",
        ),
        pytest.param(
            lambda d: _write_pair(d, "sh", issue_node_cert(*create_ca("Other CA"), "sh")),
            id="cert-of-another-ca",
        ),
        pytest.param(
            lambda d: _write_pair(
                d,
                "sh",
                issue_node_cert(
                    (d / "ca.pem").read_bytes(),
                    (d / "ca.key").read_bytes(),
                    "sh",
                    not_before=datetime.now(UTC) - timedelta(days=10),
                    not_after=datetime.now(UTC) - timedelta(days=1),
                ),
            ),
            id="expired",
        ),
    ],
)
def test_only_the_invalid_node_is_reissued(certs: Path, damage):
    damage(certs)
    before = snapshot(certs)
    written = create_federation_certs(certs, NODES)
    assert sorted(p.name for p in written) == ["sh.key", "sh.pem"]
    after = snapshot(certs)
    assert {k: v for k, v in after.items() if not k.startswith("sh.")} == {
        k: v for k, v in before.items() if not k.startswith("sh.")
    }
    NodeTLS.load(certs, "sh")  # the reissued pair is whole again


def test_expired_ca_replaces_the_ca_and_every_node(tmp_path: Path):
    old_cert, old_key = create_ca(days=1, not_before=datetime.now(UTC) - timedelta(days=5))
    (tmp_path / "ca.pem").write_bytes(old_cert)
    (tmp_path / "ca.key").write_bytes(old_key)
    written = create_federation_certs(tmp_path, NODES)
    assert len(written) == 2 + 2 * len(NODES)
    assert (tmp_path / "ca.pem").read_bytes() != old_cert


def test_missing_ca_key_is_never_papered_over_with_a_new_ca(certs: Path):
    (certs / "ca.key").unlink()
    ca_before = (certs / "ca.pem").read_bytes()
    # Node certificates still valid under the CA: nothing to do, no key needed.
    assert create_federation_certs(certs, NODES) == []
    # A node that needs issuing cannot be: refuse, naming the missing key.
    with pytest.raises(ConfigError) as err:
        create_federation_certs(certs, [*NODES, "hb"])
    assert err.value.path == str(certs / "ca.key")
    assert (certs / "ca.pem").read_bytes() == ca_before
    assert not (certs / "hb.pem").exists()


def _write_pair(d: Path, node: str, pair: tuple[bytes, bytes]) -> None:
    (d / f"{node}.pem").write_bytes(pair[0])
    (d / f"{node}.key").write_bytes(pair[1])


# --- certificate contents -------------------------------------------------------------------


def test_ca_certificate(certs: Path):
    ca = load(certs / "ca.pem")
    assert ca.issuer == ca.subject
    ca.verify_directly_issued_by(ca)
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign


@pytest.mark.parametrize("node", NODES)
def test_node_certificate(certs: Path, node: str):
    ca, cert = load(certs / "ca.pem"), load(certs / f"{node}.pem")
    cert.verify_directly_issued_by(ca)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == node
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [f"{node}.yrd"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_cert_sign


@pytest.mark.parametrize("days", [1, 30, 825])
def test_node_validity_follows_days(tmp_path: Path, days: int):
    create_federation_certs(tmp_path, ["js"], days=days)
    cert = load(tmp_path / "js.pem")
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=days)
    assert cert.not_valid_before_utc <= datetime.now(UTC) < cert.not_valid_after_utc


def test_issue_node_cert_honours_bounds_and_names():
    ca_cert, ca_key = create_ca()
    start = datetime(2020, 1, 1, tzinfo=UTC)
    end = datetime(2020, 2, 1, tzinfo=UTC)
    pem, _ = issue_node_cert(
        ca_cert, ca_key, "js", not_before=start, not_after=end, dns_names=["sh.yrd"]
    )
    cert = x509.load_pem_x509_certificate(pem)
    assert (cert.not_valid_before_utc, cert.not_valid_after_utc) == (start, end)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["sh.yrd"]
    pem, _ = issue_node_cert(ca_cert, ca_key, "js", dns_names=[])
    with pytest.raises(x509.ExtensionNotFound):
        x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )


def test_tls_name():
    assert [tls_name(n) for n in NODES] == ["js.yrd", "sh.yrd", "zj.yrd", "ah.yrd"]


@pytest.mark.parametrize("bad", ["", "JS", "js.yrd", "../js", "j s", "1js", "-js"])
def test_bad_node_ids_are_refused(tmp_path: Path, bad: str):
    with pytest.raises(ValueError):
        tls_name(bad)
    with pytest.raises(ValueError):
        create_federation_certs(tmp_path, [bad])
    assert list(tmp_path.iterdir()) == []


# --- NodeTLS.load ---------------------------------------------------------------------------


def test_load_reads_the_node_files(certs: Path):
    tls = NodeTLS.load(certs, "zj")
    assert tls.node_id == "zj"
    assert tls.ca_pem == (certs / "ca.pem").read_bytes()
    assert tls.cert_pem == (certs / "zj.pem").read_bytes()
    assert tls.key_pem == (certs / "zj.key").read_bytes()
    assert "BEGIN" not in repr(tls)  # keys never end up in logs via repr


@pytest.mark.parametrize("missing", ["ca.pem", "sh.pem", "sh.key"])
def test_load_names_the_missing_file(certs: Path, missing: str):
    (certs / missing).unlink()
    with pytest.raises(ConfigError) as err:
        NodeTLS.load(certs, "sh")
    assert err.value.path == str(certs / missing)
    assert "not found" in err.value.expected


def test_load_works_without_the_ca_key(certs: Path):
    # A deployed node holds ca.pem only; the CA key stays with whoever issues certificates.
    (certs / "ca.key").unlink()
    assert NodeTLS.load(certs, "sh").node_id == "sh"


@pytest.mark.parametrize(
    ("damage", "bad_file"),
    [
        (lambda d: shutil.copy(d / "js.key", d / "sh.key"), "sh.key"),
        (lambda d: [shutil.copy(d / f"js.{e}", d / f"sh.{e}") for e in ("pem", "key")], "sh.pem"),
        (lambda d: _write_pair(d, "sh", issue_node_cert(*create_ca("Other"), "sh")), "sh.pem"),
        (
            lambda d: _write_pair(
                d,
                "sh",
                issue_node_cert(
                    (d / "ca.pem").read_bytes(),
                    (d / "ca.key").read_bytes(),
                    "sh",
                    not_before=datetime.now(UTC) - timedelta(days=10),
                    not_after=datetime.now(UTC) - timedelta(days=1),
                ),
            ),
            "sh.pem",
        ),
        (
            lambda d: _write_pair(
                d,
                "sh",
                issue_node_cert(
                    (d / "ca.pem").read_bytes(), (d / "ca.key").read_bytes(), "sh", dns_names=[]
                ),
            ),
            "sh.pem",
        ),
        (lambda d: (d / "sh.pem").write_bytes(b"not a pem"), "sh.pem"),
        (lambda d: (d / "ca.pem").write_bytes(b"not a pem"), "ca.pem"),
        (lambda d: (d / "sh.key").write_bytes(b"not a pem"), "sh.key"),
    ],
    ids=[
        "key-mismatch",
        "cert-of-another-node",
        "cert-of-another-ca",
        "expired",
        "no-tls-name-in-san",
        "garbage-cert",
        "garbage-ca",
        "garbage-key",
    ],
)
def test_load_refuses_material_that_would_fail_the_handshake(certs: Path, damage, bad_file):
    damage(certs)
    with pytest.raises(ConfigError) as err:
        NodeTLS.load(certs, "sh")
    assert err.value.path == str(certs / bad_file)
