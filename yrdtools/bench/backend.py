"""The benchmark's backend data service: the floor every other lookup case is measured against.

A minimal grpc.aio server speaking ``yrd.v1.Exchange/Invoke`` that answers the same lookup the
gateway's sqlite backend makes (one row of the node-local dataset by its lookup column), with no
auth, no grant, no masking, no audit. The query runs inline on the event loop: an indexed
lookup on a local file takes microseconds, and a thread hop would be overhead the floor should
not carry. Run it as its own process::

    python -m yrdtools.bench.backend --dataset var/sh/dataset.db --table person \\
        --lookup id_number --columns id_number,name,gender [--tls-dir certs --tls-node sh]

With ``--tls-dir`` it serves mutual TLS with that node's certificate, exactly like a node's peer
port, so the TLS variant of the raw-forward case pays the same handshake and record costs.

It prints ``READY <port>`` on stdout once serving.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sqlite3
from pathlib import Path

import grpc
from grpc import aio

from gateway._pb.yrd.v1 import exchange_pb2, exchange_pb2_grpc
from gateway.exchange.dataset import SCHEMA
from gateway.tls import NodeTLS
from yrdtools.loopback import HOST, require_loopback

__all__ = ["BackendServicer", "main"]


class BackendServicer(exchange_pb2_grpc.ExchangeServicer):
    """Looks one key up in one table; answers NOT_FOUND like a data service would."""

    def __init__(self, dataset: str, table: str, lookup: str, columns: list[str]) -> None:
        spec = SCHEMA.get(table)
        if spec is None:
            raise SystemExit(f"error: unknown dataset table {table!r}")
        # The same allow-list as the gateway's sqlite backend, so names are safe to quote.
        for column in (lookup, *columns):
            if column not in spec.columns:
                raise SystemExit(f"error: {column!r} is not a column of {table}")
        self._lookup = lookup
        self._columns = columns
        self._conn = sqlite3.connect(f"file:{dataset}?mode=ro", uri=True)
        self._conn.execute("PRAGMA query_only = ON")
        cols = ", ".join(f'"{c}"' for c in columns)
        self._sql = f'SELECT {cols} FROM "{table}" WHERE "{lookup}" = ? LIMIT 1'

    async def Invoke(self, request, context):
        key = request.params.get(self._lookup)
        if not key:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"params.{self._lookup}")
        row = self._conn.execute(self._sql, (key,)).fetchone()
        if row is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such record")
        record = exchange_pb2.Record(
            fields={c: "" if v is None else str(v) for c, v in zip(self._columns, row, strict=True)}
        )
        return exchange_pb2.InvokeResponse(records=[record], served_by="backend", record_count=1)


async def serve(args: argparse.Namespace) -> None:
    server = aio.server()
    exchange_pb2_grpc.add_ExchangeServicer_to_server(
        BackendServicer(args.dataset, args.table, args.lookup, args.columns.split(",")), server
    )
    address = f"{require_loopback(args.host)}:{args.port}"
    if args.tls_dir:
        tls = NodeTLS.load(Path(args.tls_dir), args.tls_node)
        port = server.add_secure_port(address, tls.peer_server_credentials())
    else:
        port = server.add_insecure_port(address)
    await server.start()
    print(f"READY {port}", flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    await server.stop(0.5)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m yrdtools.bench.backend", description=__doc__)
    p.add_argument("--dataset", required=True, help="a node's dataset.db")
    p.add_argument("--table", default="person")
    p.add_argument("--lookup", default="id_number", help="parameter = column looked up")
    p.add_argument("--columns", required=True, help="comma-separated columns returned")
    p.add_argument("--host", default=HOST)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls-dir", help="federation certificates dir: serve mutual TLS")
    p.add_argument("--tls-node", default="sh", help="whose certificate to serve with")
    asyncio.run(serve(p.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
