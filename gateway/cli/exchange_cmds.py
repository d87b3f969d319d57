"""``yrdgw call | fetch | interfaces``: an app calling interfaces through its home node."""

from __future__ import annotations

import json
import shlex
import sqlite3
import sys

from gateway._pb.yrd.v1 import exchange_pb2, exchange_pb2_grpc
from gateway.cli.render import message_dict, table
from gateway.client import open_channel
from gateway.config import load_federation
from gateway.credentials import app_secret
from gateway.errors import ConfigError
from gateway.exchange.dataset import dataset_path, sample_values
from gateway.ids import APP_ID_RE, province_of_app
from gateway.server.identity import MD_APP_ID, MD_APP_SECRET


def register(sub) -> None:
    c = sub.add_parser("call", help="call an interface as an app, through the app's home node")
    c.add_argument("interface", help="e.g. sh/gaj/resident-basic/v1")
    _app_args(c)
    c.add_argument("--param", action="append", default=[], metavar="K=V")
    c.add_argument("--purpose", default="", help="declared purpose (用途)")
    c.add_argument("--field", action="append", default=[], help="only these fields")
    c.add_argument("--timeout", type=float, default=10.0)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=call)

    f = sub.add_parser("fetch", help="bulk transfer (回流) as JSON lines, resumable")
    f.add_argument("interface")
    _app_args(f)
    f.add_argument("--param", action="append", default=[], metavar="K=V")
    f.add_argument("--purpose", default="")
    f.add_argument("--field", action="append", default=[])
    f.add_argument("--batch-size", type=int, default=500)
    f.add_argument("--resume-token", default="", help="continue after this token")
    f.add_argument("--timeout", type=float, default=300.0)
    f.add_argument(
        "--json",
        action="store_true",
        help="the closing summary on stderr as one JSON object: count, batches, resume_token",
    )
    f.set_defaults(func=fetch)

    i = sub.add_parser("interfaces", help="interfaces across the delta and what an app may call")
    _app_args(i)
    i.add_argument("--province", action="append", default=[])
    i.add_argument("--timeout", type=float, default=10.0)
    i.add_argument(
        "--examples",
        action="store_true",
        help="print valid sample parameters for each interface (real values from the owner's "
        "dataset, when its data directory is on this machine)",
    )
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=interfaces)


def _app_args(p) -> None:
    p.add_argument("--app", required=True, help="app id, e.g. js/rsj/pension-transfer")
    p.add_argument("--secret", help="app secret (default: the file `yrdgw app create` wrote)")


def app_session(args):
    """(federation, home node, metadata) for the app named by --app."""
    fed = load_federation(args.federation)
    if not APP_ID_RE.match(args.app):
        raise ConfigError("--app", "app", "an app id like js/rsj/pension-transfer")
    home = province_of_app(args.app)
    assert home is not None  # the id matched APP_ID_RE just above
    fed.node(home)
    metadata = ((MD_APP_ID, args.app), (MD_APP_SECRET, app_secret(fed, args.app, args.secret)))
    return fed, home, metadata


def parse_params(items: list[str]) -> dict[str, str]:
    params = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: --param wants K=V, got {item!r}")
        params[key] = value
    return params


def call(args) -> int:
    fed, home, metadata = app_session(args)
    request = exchange_pb2.InvokeRequest(
        interface_id=args.interface,
        params=parse_params(args.param),
        purpose=args.purpose,
        fields=args.field,
    )
    with open_channel(fed, home, insecure=args.insecure) as channel:
        reply, rpc = exchange_pb2_grpc.ExchangeStub(channel).Invoke.with_call(
            request, timeout=args.timeout, metadata=metadata
        )
    trace_id = reply.trace_id or dict(rpc.trailing_metadata() or ()).get("yrd-trace-id", "")
    if args.json:
        out = {
            "masked_fields": [message_dict(m) for m in reply.masked_fields],
            "dropped_fields": [message_dict(d) for d in reply.dropped_fields],
            "grade": reply.grade,
            "served_by": reply.served_by,
            "trace_id": trace_id,
            "provider_audit_hash": reply.provider_audit_hash,
        }
        if reply.verify_only:
            out = {"match": reply.match, **out}
        else:
            out = {"records": [dict(r.fields) for r in reply.records], **out}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    print(
        f"{args.interface} served by {reply.served_by} via {home}; grade {reply.grade or '-'};"
        f" trace {trace_id or '-'}"
    )
    if reply.verify_only:
        print(f"match: {'yes' if reply.match else 'no'}")
    elif reply.records:
        names = list(reply.records[0].fields)
        print(table(names, [[r.fields.get(n, "") for n in names] for r in reply.records]))
    else:
        print("(no records)")
    for m in reply.masked_fields:
        print(f"  masked  {m.field} ({m.grade}, {m.kind}): {m.reason}")
    for d in reply.dropped_fields:
        print(f"  dropped {d.field} ({d.grade}): {d.reason}")
    return 0


def fetch(args) -> int:
    fed, home, metadata = app_session(args)
    request = exchange_pb2.InvokeStreamRequest(
        call=exchange_pb2.InvokeRequest(
            interface_id=args.interface,
            params=parse_params(args.param),
            purpose=args.purpose,
            fields=args.field,
        ),
        resume_token=args.resume_token,
        batch_size=args.batch_size,
    )
    count = batches = 0
    token = args.resume_token

    def summary(note: str = "") -> None:
        doc = {"count": count, "batches": batches, "resume_token": token}
        text = f"{count} records{note}; resume token: {token}"
        print(json.dumps(doc) if args.json else text, file=sys.stderr)

    with open_channel(fed, home, insecure=args.insecure) as channel:
        try:
            for batch in exchange_pb2_grpc.ExchangeStub(channel).InvokeStream(
                request, timeout=args.timeout, metadata=metadata
            ):
                for record in batch.records:
                    sys.stdout.write(json.dumps(dict(record.fields), ensure_ascii=False) + "\n")
                count += len(batch.records)
                batches += 1
                token = batch.resume_token
        except BaseException:
            # A refusal is the error alone; a transfer cut after some batches also says where
            # to resume.
            if batches:
                summary(" before the failure")
            raise
    summary()
    return 0


def interfaces(args) -> int:
    fed, home, metadata = app_session(args)
    with open_channel(fed, home, insecure=args.insecure) as channel:
        reply = exchange_pb2_grpc.ExchangeStub(channel).ListInterfaces(
            exchange_pb2.ListInterfacesRequest(provinces=args.province),
            timeout=args.timeout,
            metadata=metadata,
        )
    examples = _examples(fed, reply.interfaces) if args.examples else {}
    if args.json:
        out: dict[str, object] = {
            "interfaces": [message_dict(i) for i in reply.interfaces],
            "unavailable": list(reply.unavailable),
        }
        if args.examples:
            out["examples"] = examples
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    rows = [
        (
            i.id,
            i.name,
            i.department_name,
            i.mode,
            "yes" if i.callable else "no",
            ",".join(i.granted_fields),
        )
        for i in reply.interfaces
    ]
    print(
        table(
            ("interface", "name", "department", "mode", "callable", "granted fields"),
            rows,
            (34, 20, 20, 6, 8, 40),
        )
    )
    if reply.unavailable:
        print(f"did not answer: {', '.join(reply.unavailable)}")
    if args.examples:
        print("\nsample parameters (values that exist in each owner's dataset):")
        for interface_id, params in examples.items():
            flags = " ".join(f"--param {shlex.quote(f'{k}={v}')}" for k, v in params.items())
            print(f"  {interface_id}  {flags or '(dataset not on this machine)'}")
    return 0


def _examples(fed, infos) -> dict[str, dict[str, str]]:
    """Per interface, a value for each parameter the owner's dataset has a sample of (every
    required one for the shipped interfaces), read from the owner's local data directory."""
    samples: dict[str, dict[str, str]] = {}
    out: dict[str, dict[str, str]] = {}
    for info in infos:
        if info.province not in samples:
            try:
                samples[info.province] = sample_values(dataset_path(fed.data_dir / info.province))
            except (OSError, ValueError, KeyError, sqlite3.Error):
                samples[info.province] = {}
        values = samples[info.province]
        out[info.id] = {p.name: values[p.name] for p in info.params if p.name in values}
    return out
