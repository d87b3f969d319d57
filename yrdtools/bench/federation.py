"""The benchmark's federation: four real node processes on loopback, one app and its grants.

Everything lives in one temp dir: certificates, the federation file (free loopback ports), each
node's SQLite files and logs; the provinces, the standard and the node configs come from the
template federation (``yrdtools.loopback``). Set-up goes through the public gRPC API like any app
and operator would (create app → apply → approve), so the benchmark exercises what production
runs.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc

from gateway._pb.yrd.v1 import exchange_pb2, exchange_pb2_grpc, sharing_pb2, sharing_pb2_grpc
from gateway.certs import CA_CERT_FILE, create_federation_certs, tls_name
from gateway.client import open_channel
from gateway.config import FederationConfig, load_federation
from gateway.credentials import app_secret_path, operator_token, write_private
from gateway.exchange.dataset import dataset_path, sample_values
from gateway.server.identity import MD_APP_ID, MD_APP_SECRET, MD_OPERATOR
from gateway.supervisor import NodeProcesses
from yrdtools.bench.loadgen import Target
from yrdtools.loopback import loopback_addresses, write_federation

__all__ = [
    "APP",
    "BenchFederation",
    "Grant",
    "PURPOSE",
    "create_app",
    "grant",
    "start_federation",
]

APP = "js/rst/yrd-bench"
PURPOSE = "养老保险关系转移接续"
# The bench must measure the pipeline, not run into its own grant's rate limit: the largest
# quota a node accepts (16,000 calls/s), far above what two cores can serve.
UNLIMITED = sharing_pb2.Quota(per_minute=1_000_000, per_day=100_000_000)
SAMPLE_KEYS = 64


@dataclass(frozen=True, slots=True)
class Grant:
    """An approved interface the bench app may call, and keys that exist behind it."""

    interface_id: str
    owner: str
    fields: tuple[str, ...]
    ids: tuple[str, ...]
    """Resident IDs present in the owner's dataset (the interface's lookup key)."""


@dataclass
class BenchFederation:
    root: Path
    fed: FederationConfig
    procs: NodeProcesses
    ca_pem: bytes
    app: str = APP
    secret: str = ""
    grants: dict[str, Grant] = field(default_factory=dict)
    """'local' and 'cross' -> the grant that case calls."""
    startup_seconds: float = 0.0

    def client_target(self, node: str) -> Target:
        return Target(self.fed.node(node).client, self.ca_pem, tls_name(node))

    def app_metadata(self) -> tuple[tuple[str, str], ...]:
        return ((MD_APP_ID, self.app), (MD_APP_SECRET, self.secret))

    def node_pids(self) -> dict[str, int]:
        return {node: proc.pid for node, proc in self.procs.procs.items()}

    def dataset(self, node: str) -> Path:
        return dataset_path(self.fed.data_dir / node)

    def stop(self) -> None:
        self.procs.stop_all()


def start_federation(
    root: Path, template: FederationConfig, *, entries: int, say=print
) -> BenchFederation:
    """Start the template's nodes (the four provinces) on fresh loopback ports under ``root``,
    create the bench app and its two grants; stops the nodes on error."""
    certs_dir = root / "certs"
    create_federation_certs(certs_dir, template.nodes)
    path = write_federation(
        root / "federation.yaml",
        template,
        name="yrd-bench",
        addresses=loopback_addresses(template.nodes),
        certs_dir=certs_dir,
        data_dir=root / "var",
    )
    fed = load_federation(path)
    procs = NodeProcesses(fed, entries=entries)
    started = time.perf_counter()
    say(
        f"starting {len(fed.nodes)} nodes with {entries:,} catalog entries each "
        f"(logs: {fed.data_dir}/<node>/)"
    )
    procs.start_all()
    try:
        procs.wait_ready(timeout=1800)
        bench = BenchFederation(root, fed, procs, (certs_dir / CA_CERT_FILE).read_bytes())
        bench.startup_seconds = time.perf_counter() - started
        say(f"federation up in {bench.startup_seconds:.1f} s")
        create_app(bench)
        bench.grants["local"] = grant(bench, "js/gat/resident-basic/v1")
        bench.grants["cross"] = grant(bench, "sh/gaj/resident-basic/v1")
        return bench
    except BaseException:
        procs.stop_all()
        raise


def create_app(bench: BenchFederation) -> None:
    with open_channel(bench.fed, "js", insecure=False) as channel:
        reply = sharing_pb2_grpc.AdminStub(channel).CreateApp(
            sharing_pb2.CreateAppRequest(app=APP, name="基准测试"),
            timeout=10,
            metadata=((MD_OPERATOR, operator_token(bench.fed, "js")),),
        )
    bench.secret = reply.secret
    # Where `yrdgw call --app` looks for it, so a --keep federation can be called by hand.
    write_private(app_secret_path(bench.fed, APP), reply.secret)


def grant(bench: BenchFederation, interface_id: str) -> Grant:
    """Apply through js, approve at the owner, and find keys the interface answers for."""
    owner = interface_id.split("/", 1)[0]
    md = bench.app_metadata()
    with open_channel(bench.fed, "js", insecure=False) as channel:
        listing = exchange_pb2_grpc.ExchangeStub(channel).ListInterfaces(
            exchange_pb2.ListInterfacesRequest(provinces=[owner]), timeout=10, metadata=md
        )
        info = next((i for i in listing.interfaces if i.id == interface_id), None)
        if info is None:
            raise RuntimeError(f"{interface_id} is not offered by {owner}")
        fields = tuple(f.name for f in info.fields)
        until = (datetime.now(UTC) + timedelta(days=30)).isoformat(timespec="seconds")
        application = sharing_pb2_grpc.SharingStub(channel).Apply(
            sharing_pb2.ApplyRequest(
                interface_id=interface_id,
                fields=fields,
                purpose=PURPOSE,
                valid_until=until.replace("+00:00", "Z"),
                quota=UNLIMITED,
            ),
            timeout=10,
            metadata=md,
        )
    with open_channel(bench.fed, owner, insecure=False) as channel:
        sharing_pb2_grpc.AdminStub(channel).Approve(
            sharing_pb2.DecideRequest(application_id=application.id, reason="benchmark"),
            timeout=10,
            metadata=((MD_OPERATOR, operator_token(bench.fed, owner)),),
        )
    ids = _valid_ids(bench, interface_id, _dataset_ids(bench.dataset(owner)))
    return Grant(interface_id, owner, fields, ids)


def _dataset_ids(path: Path) -> list[str]:
    first = sample_values(path)["id_number"]
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT id_number FROM person ORDER BY seq LIMIT ?", (SAMPLE_KEYS,)
        ).fetchall()
    finally:
        conn.close()
    return list(dict.fromkeys([first, *(r[0] for r in rows)]))


def _valid_ids(bench: BenchFederation, interface_id: str, ids: list[str]) -> tuple[str, ...]:
    """The keys a real call through js answers with a record (the probe of the lookup cases)."""
    good, last_error = [], "no record"
    with open_channel(bench.fed, "js", insecure=False) as channel:
        invoke = exchange_pb2_grpc.ExchangeStub(channel).Invoke
        for id_number in ids:
            try:
                reply = invoke(
                    exchange_pb2.InvokeRequest(
                        interface_id=interface_id, params={"id_number": id_number}, purpose=PURPOSE
                    ),
                    timeout=10,
                    metadata=bench.app_metadata(),
                )
            except grpc.RpcError as exc:
                last_error = f"{exc.code().name}: {exc.details()}"
                continue
            if reply.records:
                good.append(id_number)
    if not good:
        raise RuntimeError(f"no sample key of {interface_id} answers with a record ({last_error})")
    return tuple(good)
