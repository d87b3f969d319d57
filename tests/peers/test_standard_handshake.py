"""The standard handshake between real nodes: a peer whose standard differs in version, or only
in content under the same version (its digest), is refused for searches, interface calls and
applications alike, and every refusal names both standards."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
import yaml
from grpc import aio

from gateway._pb.yrd.v1 import (
    catalog_pb2,
    exchange_pb2,
    exchange_pb2_grpc,
    sharing_pb2,
    sharing_pb2_grpc,
)
from gateway.config import load_federation, load_standard
from gateway.status import failure_of
from tests.support.cluster import new_app
from tests.support.federation import ROOT, write_federation
from tests.support.names import APP, PURPOSE, RESIDENT
from tests.support.nodes import Running, start_nodes, stop_all


def federation_for_sh(tmp: Path, certs_dir: Path, change: str):
    """The js+sh federation file, and one for sh whose standard differs by ``change``."""
    fed_path = write_federation(tmp, certs_dir, node_ids=("js", "sh"))
    doc = yaml.safe_load(fed_path.read_text(encoding="utf-8"))
    standard = yaml.safe_load(Path(doc["standard"]).read_text(encoding="utf-8"))
    nodes_dir = ROOT / "nodes"
    if change == "version":
        standard["version"] = "1.1.0"
        nodes_dir = tmp / "nodes"
        for node in ("js", "sh"):
            (nodes_dir / node).mkdir(parents=True)
            for item in (ROOT / "nodes" / node).iterdir():
                text = item.read_text(encoding="utf-8")
                if item.name == "crosswalk.yaml":
                    text = text.replace('version: "1.0.0"', 'version: "1.1.0"')
                (nodes_dir / node / item.name).write_text(text, encoding="utf-8")
    else:  # same version, edited content: only the digest tells
        standard["name"] += "（修订）"
    edited = tmp / "sh-standard.yaml"
    edited.write_text(yaml.safe_dump(standard, allow_unicode=True), encoding="utf-8")
    doc.update(standard=str(edited), nodes_dir=str(nodes_dir))
    sh_path = tmp / "federation-sh.yaml"
    sh_path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_federation(fed_path), load_federation(sh_path)


@pytest.mark.parametrize("change", ["version", "digest"])
async def test_a_peer_on_another_standard_is_refused_for_calls_applications_and_search(
    tmp_path, certs_dir, change
):
    fed, sh_fed = federation_for_sh(tmp_path, certs_dir, change)
    ours = load_standard(fed.standard_path).fingerprint
    theirs = load_standard(sh_fed.standard_path).fingerprint
    assert ours != theirs
    assert (ours.split("#")[0] == theirs.split("#")[0]) == (change == "digest")

    running = Running(fed, await start_nodes(fed, ("js", "sh"), feds={"sh": sh_fed}), [])
    try:
        creds = await new_app(running, APP)

        calls = {
            "invoke": exchange_pb2_grpc.ExchangeStub(running.channel("js")).Invoke(
                exchange_pb2.InvokeRequest(
                    interface_id=RESIDENT, params={"id_number": "x"}, purpose=PURPOSE
                ),
                metadata=creds,
                timeout=10,
            ),
            "apply": sharing_pb2_grpc.SharingStub(running.channel("js")).Apply(
                sharing_pb2.ApplyRequest(interface_id=RESIDENT, fields=["gender"], purpose=PURPOSE),
                metadata=creds,
                timeout=10,
            ),
        }
        for name, call in calls.items():
            with pytest.raises(aio.AioRpcError) as refused:
                await call
            failure = failure_of(refused.value)
            assert (failure.code, failure.reason) == (
                grpc.StatusCode.FAILED_PRECONDITION,
                "STANDARD_MISMATCH",
            ), name
            assert ours in failure.message and theirs in failure.message, name

        for via, peer in (("js", "sh"), ("sh", "js")):
            reply = await running.catalog(via).Search(
                catalog_pb2.SearchRequest(query="户籍"), timeout=10
            )
            status = {p.province: p for p in reply.provinces}
            assert reply.partial and status[via].state == catalog_pb2.PROVINCE_STATE_ANSWERED
            assert status[peer].state == catalog_pb2.PROVINCE_STATE_FAILED
            assert status[peer].reason == "STANDARD_MISMATCH"
            assert ours in status[peer].message and theirs in status[peer].message
    finally:
        await stop_all(running)
