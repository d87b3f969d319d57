"""``yrdgw search`` and ``yrdgw get``: the federated catalog from any node."""

from __future__ import annotations

import json

from gateway._pb.yrd.v1 import catalog_pb2, catalog_pb2_grpc
from gateway.cli.render import message_dict, replica_text, search_json, search_text
from gateway.client import open_channel
from gateway.config import load_federation


def register(sub) -> None:
    p = sub.add_parser("search", help="federated full-text search of the delta's catalog")
    p.add_argument("text", help="query text, e.g. 户籍")
    p.add_argument("--via", default="js", help="node to ask (default js)")
    p.add_argument(
        "--province", action="append", default=[], help="only this province (repeatable)"
    )
    p.add_argument("--grade", action="append", default=[], help="grade filter L1..L4")
    p.add_argument("--category", action="append", default=[], help="category code, e.g. 101 or 1")
    p.add_argument(
        "--share-type", action="append", default=[], help="unconditional | conditional | none"
    )
    p.add_argument("--department", action="append", default=[], help="e.g. sh/gaj")
    p.add_argument("--update-cycle", action="append", default=[])
    p.add_argument(
        "--mark",
        action="append",
        default=[],
        help="GB/T 43697 mark: important (重要数据) | core (核心数据)",
    )
    p.add_argument("--local", action="store_true", help="search only the --via node")
    p.add_argument(
        "--live",
        action="store_true",
        help="ask every province's node (partial answers) instead of the --via node's replicas",
    )
    p.add_argument("--page-size", type=int, default=0)
    p.add_argument("--page-token", default="")
    p.add_argument("--timeout", type=float, default=5.0, help="deadline in seconds")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=search)

    g = sub.add_parser("get", help="one catalog entry by resource code, from its owner")
    g.add_argument("code")
    g.add_argument("--via", default="js")
    g.add_argument("--timeout", type=float, default=5.0)
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=get)


def search(args) -> int:
    fed = load_federation(args.federation)
    request = catalog_pb2.SearchRequest(
        query=args.text,
        filters=catalog_pb2.SearchFilters(
            categories=args.category,
            grades=args.grade,
            share_types=args.share_type,
            provinces=args.province,
            departments=args.department,
            update_cycles=args.update_cycle,
            data_marks=args.mark,
        ),
        page_size=args.page_size,
        page_token=args.page_token,
        scope=catalog_pb2.SCOPE_LOCAL if args.local else catalog_pb2.SCOPE_ALL,
        live=args.live,
    )
    with open_channel(fed, args.via, insecure=args.insecure) as channel:
        reply, call = catalog_pb2_grpc.CatalogStub(channel).Search.with_call(
            request, timeout=args.timeout
        )
    if args.json:
        print(json.dumps(search_json(reply), ensure_ascii=False, indent=2))
    else:
        print(search_text(reply))
    return 0


def get(args) -> int:
    fed = load_federation(args.federation)
    with open_channel(fed, args.via, insecure=args.insecure) as channel:
        reply = catalog_pb2_grpc.CatalogStub(channel).Get(
            catalog_pb2.GetRequest(code=args.code), timeout=args.timeout
        )
    data = message_dict(reply.entry)
    if args.json:
        if reply.HasField("replica"):  # the owner did not answer: this is its replica's copy
            data["replica"] = message_dict(reply.replica)
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    e = reply.entry
    # The province's own label for the grade when it has one; never an empty "()".
    grade = f"{e.grade} ({e.local_grade})" if e.local_grade else e.grade
    mark = (
        f"  data mark: {e.data_mark_name or e.data_mark} ({e.data_mark})\n" if e.data_mark else ""
    )
    print(
        f"{e.code}  {e.name}\n  province: {e.province} {e.province_name}\n"
        f"  department: {e.department} ({e.province}/{e.department_code})\n"
        f"  category: {e.category} {e.category_name}\n  grade: {grade}\n{mark}"
        f"  share: {e.share_type}  open: {e.open_attribute}  update: {e.update_cycle}\n"
        f"  published: {e.publish_date}\n  abstract: {e.abstract}"
    )
    for item in e.items:
        print(
            f"    - {item.name} [{item.type}({item.length}), {item.grade}"
            f"{', ' + item.kind if item.kind else ''}]"
        )
    if reply.HasField("replica"):
        print(f"  from: {replica_text(reply.replica)} ({e.province} did not answer)")
    return 0
