"""``yrdgw app | apply | applications | approve | reject | revoke | grant | grants``.

App verbs go to the app's home node with its credential; operator verbs go to ``--node`` with
that node's operator token.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from gateway._pb.yrd.v1 import sharing_pb2, sharing_pb2_grpc
from gateway.cli.exchange_cmds import _app_args, app_session
from gateway.cli.render import message_dict, table
from gateway.client import open_channel
from gateway.config import load_federation
from gateway.credentials import app_secret_path, operator_token, write_private
from gateway.ids import province_of_app
from gateway.server.identity import MD_OPERATOR


def register(sub) -> None:
    app = sub.add_parser("app", help="create or revoke an app (operator of its home node)")
    app_sub = app.add_subparsers(dest="app_command", required=True)
    create = app_sub.add_parser("create", help="create an app and store its secret locally")
    create.add_argument("app", help="e.g. js/rsj/pension-transfer")
    create.add_argument("--name", default="", help="Chinese name of the app")
    _operator_args(create, node_required=False)
    create.add_argument(
        "--json", action="store_true", help="app, node and secret file (not the secret)"
    )
    create.set_defaults(func=app_create)
    revoke = app_sub.add_parser("revoke", help="revoke an app's credential")
    revoke.add_argument("app")
    _operator_args(revoke, node_required=False)
    revoke.set_defaults(func=app_revoke)

    apply = sub.add_parser("apply", help="apply for access to an interface (申请)")
    apply.add_argument("interface")
    _app_args(apply)
    apply.add_argument("--field", action="append", default=[])
    apply.add_argument("--purpose", required=True)
    apply.add_argument("--days", type=int, default=365, help="validity in days from now")
    apply.add_argument("--per-minute", type=int, default=600)
    apply.add_argument("--per-day", type=int, default=100_000)
    apply.add_argument("--json", action="store_true")
    apply.set_defaults(func=apply_cmd)

    apps = sub.add_parser(
        "applications",
        help="list applications: an app's (--app) or those received by a node (--node, operator)",
    )
    apps.add_argument("--app")
    apps.add_argument("--secret")
    apps.add_argument("--node")
    apps.add_argument("--operator-token")
    apps.add_argument("--state", default="", choices=["", "pending", "approved", "rejected"])
    apps.add_argument("--json", action="store_true")
    apps.set_defaults(func=applications)

    approve = sub.add_parser("approve", help="approve an application (审核), possibly narrowed")
    approve.add_argument("application_id")
    _operator_args(approve)
    approve.add_argument("--field", action="append", default=[], help="narrow to these fields")
    approve.add_argument("--per-minute", type=int)
    approve.add_argument("--per-day", type=int)
    approve.add_argument("--days", type=int, help="narrow validity to this many days from now")
    approve.add_argument("--max-grade", default="")
    approve.add_argument("--reason", default="")
    approve.add_argument("--json", action="store_true")
    approve.set_defaults(func=approve_cmd)

    reject = sub.add_parser("reject", help="reject an application with a reason")
    reject.add_argument("application_id")
    _operator_args(reject)
    reject.add_argument("--reason", required=True)
    reject.add_argument("--json", action="store_true")
    reject.set_defaults(func=reject_cmd)

    revoke_g = sub.add_parser("revoke", help="revoke a grant")
    revoke_g.add_argument("grant_id")
    _operator_args(revoke_g)
    revoke_g.add_argument("--reason", default="")
    revoke_g.add_argument("--json", action="store_true")
    revoke_g.set_defaults(func=revoke_cmd)

    grant = sub.add_parser("grant", help="blanket grant (整体授权) to a whole province")
    grant.add_argument("--province", required=True, help="consumer province")
    grant.add_argument("--interface", required=True)
    _operator_args(grant)
    grant.add_argument("--field", action="append", default=[])
    grant.add_argument("--purpose", action="append", default=[], required=True)
    grant.add_argument("--max-grade", default="L2")
    grant.add_argument("--days", type=int, default=365)
    grant.add_argument("--per-minute", type=int, default=600)
    grant.add_argument("--per-day", type=int, default=100_000)
    grant.add_argument("--json", action="store_true")
    grant.set_defaults(func=grant_cmd)

    grants = sub.add_parser("grants", help="list a node's grants (operator)")
    _operator_args(grants)
    grants.add_argument("--all", action="store_true", help="include revoked and expired")
    grants.add_argument("--json", action="store_true")
    grants.set_defaults(func=grants_cmd)


def _operator_args(p, node_required: bool = True) -> None:
    p.add_argument("--node", required=node_required, help="node whose operator acts")
    p.add_argument("--operator-token", help="default: <data_dir>/<node>/operator.token")


def _admin(args, node: str):
    fed = load_federation(args.federation)
    metadata = ((MD_OPERATOR, operator_token(fed, node, args.operator_token)),)
    channel = open_channel(fed, node, insecure=args.insecure)
    return fed, channel, sharing_pb2_grpc.AdminStub(channel), metadata


def _until(days: int) -> str:
    return (
        (datetime.now(UTC) + timedelta(days=days))
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z")
    )


def _print(args, message, text: str) -> None:
    print(json.dumps(message_dict(message), ensure_ascii=False, indent=2) if args.json else text)


def app_create(args) -> int:
    node = args.node or province_of_app(args.app) or ""
    fed, channel, admin, md = _admin(args, node)
    with channel:
        reply = admin.CreateApp(
            sharing_pb2.CreateAppRequest(app=args.app, name=args.name), timeout=10, metadata=md
        )
    path = app_secret_path(fed, reply.app)
    write_private(path, reply.secret)
    if args.json:
        doc = {"app": reply.app, "node": node, "secret_file": str(path)}
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return 0
    print(f"created app {reply.app} on {node}; secret saved to {path} (shown once: {reply.secret})")
    return 0


def app_revoke(args) -> int:
    node = args.node or province_of_app(args.app) or ""
    _, channel, admin, md = _admin(args, node)
    with channel:
        admin.RevokeApp(sharing_pb2.RevokeAppRequest(app=args.app), timeout=10, metadata=md)
    print(f"revoked app {args.app}")
    return 0


def apply_cmd(args) -> int:
    fed, home, md = app_session(args)
    request = sharing_pb2.ApplyRequest(
        interface_id=args.interface,
        fields=args.field,
        purpose=args.purpose,
        valid_until=_until(args.days),
        quota=sharing_pb2.Quota(per_minute=args.per_minute, per_day=args.per_day),
    )
    with open_channel(fed, home, insecure=args.insecure) as channel:
        reply = sharing_pb2_grpc.SharingStub(channel).Apply(request, timeout=10, metadata=md)
    _print(args, reply, f"application {reply.id} filed with {reply.owner}: {reply.state}")
    return 0


def _fields(a: sharing_pb2.Application) -> str:
    """An approved application's granted fields, and what it asked for if that was more."""
    asked = ",".join(a.fields)
    if a.state != "approved" or not a.granted_fields:
        return asked
    granted = ",".join(a.granted_fields)
    return granted if list(a.granted_fields) == list(a.fields) else f"{granted} (asked: {asked})"


def applications(args) -> int:
    if args.app:
        fed, home, md = app_session(args)
        with open_channel(fed, home, insecure=args.insecure) as channel:
            reply = sharing_pb2_grpc.SharingStub(channel).ListApplications(
                sharing_pb2.ListApplicationsRequest(state=args.state), timeout=10, metadata=md
            )
    elif args.node:
        _, channel, admin, md = _admin(args, args.node)
        with channel:
            reply = admin.ListApplications(
                sharing_pb2.ListApplicationsRequest(state=args.state), timeout=10, metadata=md
            )
    else:
        raise SystemExit("error: give --app (as an app) or --node (as that node's operator)")
    if args.json:
        _print(args, reply, "")
        return 0
    rows = [
        (a.id, a.app, a.interface_id, a.state, _fields(a), a.purpose, a.reason)
        for a in reply.applications
    ]
    print(
        table(
            ("id", "app", "interface", "state", "fields", "purpose", "reason"),
            rows,
            (40, 30, 34, 9, 60, 20, 30),
        )
        if rows
        else "(no applications)"
    )
    if reply.unavailable:
        print(f"did not answer: {', '.join(reply.unavailable)}")
    return 0


def approve_cmd(args) -> int:
    _, channel, admin, md = _admin(args, args.node)
    request = sharing_pb2.DecideRequest(
        application_id=args.application_id,
        fields=args.field,
        max_grade=args.max_grade,
        reason=args.reason,
        valid_until=_until(args.days) if args.days else "",
    )
    if args.per_minute is not None or args.per_day is not None:
        request.quota.CopyFrom(
            sharing_pb2.Quota(per_minute=args.per_minute or 0, per_day=args.per_day or 0)
        )
    with channel:
        grant = admin.Approve(request, timeout=10, metadata=md)
    _print(
        args,
        grant,
        f"approved: grant {grant.id} to {grant.grantee} for "
        f"{grant.interface_id} fields {','.join(grant.fields)} until {grant.valid_until}",
    )
    return 0


def reject_cmd(args) -> int:
    _, channel, admin, md = _admin(args, args.node)
    with channel:
        reply = admin.Reject(
            sharing_pb2.DecideRequest(application_id=args.application_id, reason=args.reason),
            timeout=10,
            metadata=md,
        )
    _print(args, reply, f"rejected application {reply.id}: {reply.reason}")
    return 0


def revoke_cmd(args) -> int:
    _, channel, admin, md = _admin(args, args.node)
    with channel:
        grant = admin.RevokeGrant(
            sharing_pb2.RevokeGrantRequest(grant_id=args.grant_id, reason=args.reason),
            timeout=10,
            metadata=md,
        )
    _print(args, grant, f"revoked grant {grant.id} ({grant.grantee}, {grant.interface_id})")
    return 0


def grant_cmd(args) -> int:
    _, channel, admin, md = _admin(args, args.node)
    request = sharing_pb2.BlanketGrantRequest(
        province=args.province,
        interface_id=args.interface,
        fields=args.field,
        purposes=args.purpose,
        max_grade=args.max_grade,
        valid_until=_until(args.days),
        quota=sharing_pb2.Quota(per_minute=args.per_minute, per_day=args.per_day),
    )
    with channel:
        grant = admin.GrantProvince(request, timeout=10, metadata=md)
    _print(
        args,
        grant,
        f"blanket grant {grant.id}: province {grant.grantee} may call "
        f"{grant.interface_id} (fields {','.join(grant.fields)}, up to {grant.max_grade})",
    )
    return 0


def grants_cmd(args) -> int:
    _, channel, admin, md = _admin(args, args.node)
    with channel:
        reply = admin.ListGrants(
            sharing_pb2.ListGrantsRequest(include_inactive=args.all), timeout=10, metadata=md
        )
    if args.json:
        _print(args, reply, "")
        return 0
    rows = [
        (
            g.id,
            g.grantee,
            "blanket" if g.blanket else "app",
            g.interface_id,
            g.state,
            ",".join(g.fields),
            g.max_grade,
            g.valid_until,
        )
        for g in reply.grants
    ]
    print(
        table(
            ("id", "grantee", "kind", "interface", "state", "fields", "max", "until"),
            rows,
            (40, 30, 7, 34, 8, 40, 3, 20),
        )
        if rows
        else "(no grants)"
    )
    return 0
