"""The main job's showcase: what a newcomer sees after `make demo` brings the federation up."""

from __future__ import annotations

import json

from gateway._pb.yrd.v1 import catalog_pb2, catalog_pb2_grpc
from gateway.cli.connect import open_channel
from gateway.cli.render import search_json, search_text
from gateway.config import FederationConfig
from gateway.supervisor import NodeProcesses


def _search(fed: FederationConfig, via: str, text: str, insecure: bool, **kw):
    with open_channel(fed, via, insecure=insecure) as channel:
        return catalog_pb2_grpc.CatalogStub(channel).Search(
            catalog_pb2.SearchRequest(query=text, page_size=kw.get("page_size", 8)), timeout=5)


def _banner(text: str) -> None:
    print(f"\n=== {text} " + "=" * max(0, 72 - len(text)), flush=True)


def run_demo(fed: FederationConfig, procs: NodeProcesses, *, insecure: bool) -> None:
    via = "sh" if "sh" in fed.nodes else next(iter(fed.nodes))
    _banner(f"federated search for 户籍 (household registration), asked of {via}")
    print(f"$ yrdgw search 户籍 --via {via}")
    print(search_text(_search(fed, via, "户籍", insecure)))

    _banner("two-character terms: 社保 (social insurance)")
    reply = _search(fed, via, "社保", insecure, page_size=3)
    print(search_text(reply))

    victim = "zj" if "zj" in fed.nodes and via != "zj" else next(
        n for n in fed.nodes if n != via)
    _banner(f"stopping node {victim}: the answer becomes partial, never wrong")
    procs.stop(victim)
    reply = _search(fed, via, "户籍", insecure, page_size=3)
    summary = search_json(reply)
    print(json.dumps({k: summary[k] for k in ("partial", "provinces", "total")},
                     ensure_ascii=False, indent=1))

    _banner(f"restarting {victim}")
    procs.start(victim)
    procs.wait_ready([victim])
    reply = _search(fed, via, "户籍", insecure, page_size=3)
    print(f"partial: {str(reply.partial).lower()}, total: {reply.total}, provinces answered: "
          + ", ".join(p.province for p in reply.provinces
                      if p.state == catalog_pb2.PROVINCE_STATE_ANSWERED))
