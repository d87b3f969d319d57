"""federation.yaml may list several addresses per province, one per replica: callers dial all of
them as one balanced gRPC target, each replica binds its own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from gateway.config import load_federation
from gateway.config.federation import Replica
from gateway.errors import ConfigError
from gateway.tls import ROUND_ROBIN, channel_options_for

ROOT = Path(__file__).resolve().parents[2]


def federation(tmp_path: Path, **sh: object) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "nodes", tmp_path / "nodes")
    path = tmp_path / "config" / "federation.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["nodes"]["sh"].update(sh)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def test_one_address_is_one_replica(tmp_path: Path) -> None:
    sh = load_federation(federation(tmp_path)).node("sh")
    assert sh.replicas == (Replica(sh.client, sh.peer, sh.ops),) == (sh.replica(0),)
    assert channel_options_for("sh", sh.peer) == channel_options_for("sh")  # no balancing


def test_listed_addresses_are_replicas_behind_one_balanced_target(tmp_path: Path) -> None:
    path = federation(
        tmp_path,
        client=["127.0.0.1:50331", "127.0.0.1:50332"],
        peer=["127.0.0.1:50431", "127.0.0.1:50432"],
        ops=["127.0.0.1:50531", "127.0.0.1:50532"],
    )
    sh = load_federation(path).node("sh")
    assert sh.client == "ipv4:127.0.0.1:50331,127.0.0.1:50332"
    assert sh.peer == "ipv4:127.0.0.1:50431,127.0.0.1:50432"
    assert sh.replica(1) == Replica("127.0.0.1:50332", "127.0.0.1:50432", "127.0.0.1:50532")
    options = dict(channel_options_for("sh", sh.peer))
    assert options["grpc.service_config"] == ROUND_ROBIN
    assert options["grpc.ssl_target_name_override"] == "sh.yrd"  # identity checked per replica
    with pytest.raises(ValueError, match="2 replica"):
        sh.replica(2)


@pytest.mark.parametrize(
    ("change", "key", "says"),
    [
        ({"client": ["127.0.0.1:1", "127.0.0.1:2"]}, "nodes.sh.ops", "one per replica"),
        (
            {"client": ["a.example:1", "b.example:2"], "peer": ["127.0.0.1:3", "127.0.0.1:4"],
             "ops": ["127.0.0.1:5", "127.0.0.1:6"]},
            "nodes.sh.client", "IP addresses of one family",
        ),
        (
            {"client": ["127.0.0.1:1", "127.0.0.1:1"], "peer": ["127.0.0.1:3", "127.0.0.1:4"],
             "ops": ["127.0.0.1:5", "127.0.0.1:6"]},
            "nodes.sh.client", "distinct addresses",
        ),
        ({"peer": []}, "nodes.sh.peer", "a non-empty list"),
    ],
)  # fmt: skip
def test_bad_replica_lists_are_refused_by_name(
    tmp_path: Path, change: dict, key: str, says: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_federation(federation(tmp_path, **change))
    assert info.value.key == key
    assert says in info.value.expected
