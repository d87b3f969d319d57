"""``yrdgw certs | seed | node | up``: set up and run the federation."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from dataclasses import replace

from gateway.certs import create_federation_certs
from gateway.cli import eventloop
from gateway.config import load_federation, load_node, load_province

log = logging.getLogger("yrdgw")


def register(sub) -> None:
    c = sub.add_parser("certs", help="create the federation CA and one certificate per node")
    c.add_argument("--days", type=int, default=825)
    c.add_argument("--force", action="store_true", help="replace existing certificates")
    c.set_defaults(func=certs)

    s = sub.add_parser("seed", help="fill a node's catalog with generated entries")
    s.add_argument("--node", required=True)
    s.add_argument("--entries", type=int, help="catalog size (default: the node config's)")
    s.add_argument("--force", action="store_true", help="reseed even if already seeded")
    s.set_defaults(func=seed)

    n = sub.add_parser("node", help="run one node in the foreground")
    n.add_argument("--node", required=True)
    n.add_argument("--entries", type=int, help="catalog size to seed (default: node config)")
    n.add_argument(
        "--grace",
        type=float,
        help="seconds to drain on SIGTERM (default: node.yaml's `limits.shutdown_grace_s`)",
    )
    n.add_argument(
        "--workers",
        type=int,
        help="worker processes sharing the node's ports and state (default: node.yaml's "
        "`workers`, else 1)",
    )
    n.add_argument(
        "--replica",
        type=int,
        default=0,
        help="which of the province's replicas (federation.yaml lists their addresses) this is",
    )
    n.add_argument("--worker", help=argparse.SUPPRESS)  # INDEX/COUNT: set by the primary
    n.add_argument(
        "--no-tracing",
        action="store_true",
        help="record no spans (only to measure what tracing costs)",
    )
    n.set_defaults(func=node)

    u = sub.add_parser("up", help="run all four nodes locally until Ctrl-C")
    u.add_argument("--entries", type=int, help="catalog entries per province")
    u.add_argument("--demo", action="store_true", help="show a federated search once up")
    u.add_argument("--exit-after-demo", action="store_true", help="stop after the demo")
    u.add_argument(
        "--store",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="postgresql: a throwaway PostgreSQL cluster under var/, one database per province",
    )
    u.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="replicas of every province (with --store postgresql)",
    )
    u.set_defaults(func=up)


def certs(args) -> int:
    fed = load_federation(args.federation)
    written = create_federation_certs(
        fed.certs_dir, fed.nodes, days=args.days, overwrite=args.force
    )
    if written:
        print(f"wrote {len(written)} files to {fed.certs_dir}")
    else:
        print(f"certificates in {fed.certs_dir} are present and valid")
    return 0


def seed(args) -> int:
    from gateway.catalog.store import AnyCatalogStore, CatalogStore, PgCatalogStore
    from gateway.postgres import Postgres
    from gateway.seeding import seed_catalog

    province = load_province(load_federation(args.federation), args.node)
    cfg = province.config
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    # The node's own storage: its SQLite file, or its province's PostgreSQL database.
    pg = Postgres(cfg.storage.dsn) if cfg.storage.postgresql else None
    store: AnyCatalogStore = PgCatalogStore(pg) if pg is not None else CatalogStore(cfg.catalog_db)
    try:
        entries = args.entries if args.entries is not None else cfg.seed.entries
        # The same catalog the node builds: generated entries plus its interfaces' resources.
        took = seed_catalog(store, province, entries=entries, force=args.force)
        if took is None:
            print(f"{args.node}: already seeded with {entries} entries")
        else:
            print(
                f"{args.node}: seeded {entries} entries in {took:.1f} s "
                f"({entries / max(took, 1e-9):,.0f} entries/s)"
            )
    finally:
        store.close()
        if pg is not None:
            pg.close()
    return 0


def node(args) -> int:
    from gateway.lifelines import die_with_parent, die_with_parent_if_supervised
    from gateway.node import Node, NodeOptions
    from gateway.workers import MAX_WORKERS, PRIMARY_ENV, RUN_DIR, Primary, parse_worker

    fed = load_federation(args.federation)
    cfg = load_node(fed, args.node)
    grace = args.grace if args.grace is not None else cfg.limits.shutdown_grace_s
    options = NodeOptions(
        insecure=args.insecure,
        entries=args.entries,
        tracing=not args.no_tracing,
        replica=args.replica,
    )
    try:
        fed.node(args.node).replica(args.replica)
    except ValueError as exc:
        print(f"error: --replica: {exc}", file=sys.stderr)
        return 2
    run_dir = fed.data_dir / args.node / RUN_DIR
    if args.worker:  # one worker of a node whose primary started us
        die_with_parent(PRIMARY_ENV)
        try:
            slot = parse_worker(args.worker, run_dir)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        tag = f"[{args.node} worker {slot.index}] "
        for handler in logging.getLogger().handlers:
            handler.setFormatter(
                logging.Formatter(f"%(asctime)s %(levelname)s {tag}%(name)s: %(message)s")
            )
        options = replace(options, worker=slot)
        return eventloop.run(_serve(Node(fed, args.node, options), grace))
    die_with_parent_if_supervised()
    workers = args.workers if args.workers is not None else cfg.workers
    if not 1 <= workers <= MAX_WORKERS:
        print(f"error: --workers: expected 1 to {MAX_WORKERS}, got {workers}", file=sys.stderr)
        return 2
    if workers > 1 and cfg.storage.postgresql:
        print(
            f"error: --workers: node {args.node} keeps its stores in PostgreSQL, where replicas "
            "replace workers: run more replicas (federation.yaml lists their addresses; "
            "`yrdgw up --store postgresql --replicas N`), each with one process",
            file=sys.stderr,
        )
        return 2
    if not _ports_free(fed, [args.node], replica=args.replica):
        return 1
    node = Node(fed, args.node, options)
    if workers == 1:
        return eventloop.run(_serve(node, grace))
    worker_args = [sys.executable, "-m", "gateway.cli.main", "--federation", str(fed.path)]
    if args.insecure:
        worker_args.append("--insecure")
    if args.verbose:
        worker_args.append("--verbose")
    worker_args += ["node", "--node", args.node, "--grace", str(grace)]
    if args.entries is not None:
        worker_args += ["--entries", str(args.entries)]
    if args.no_tracing:
        worker_args.append("--no-tracing")
    primary = Primary(
        fed,
        args.node,
        workers,
        worker_args,
        grace=grace,
        run_dir=run_dir,
        prepare=node.prepare,
    )
    try:
        return primary.run()
    except OSError as exc:  # a port held by something else
        print(f"error: node {args.node}: {exc.strerror or exc}", file=sys.stderr)
        return 1


async def _serve(node, grace: float) -> int:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await node.start()
    await stopping.wait()
    log.info("node %s: draining (grace %.1f s)", node.id, grace)
    await node.stop(grace)
    return 0


def _ports_free(fed, node_ids, replica: int = 0) -> bool:
    """Every port of these nodes (that replica of each) can be bound now; else say which is
    taken, and by whom."""
    from gateway.portcheck import check_ports_free

    for node_id in node_ids:
        address = fed.node(node_id).replica(replica)
        try:
            check_ports_free((address.client, address.peer, address.ops))
        except OSError as exc:
            print(f"error: node {node_id}: {exc.strerror or exc}", file=sys.stderr)
            return False
    return True


def up(args) -> int:
    from gateway.cli.demo import run_demo
    from gateway.pgdeploy import MAX_REPLICAS, ReplicaProcesses, postgres_federation, start_cluster
    from gateway.supervisor import NodeProcesses, Restarter

    fed = load_federation(args.federation)
    if args.replicas != 1 and args.store != "postgresql":
        print("error: --replicas needs --store postgresql", file=sys.stderr)
        return 2
    cluster = None
    if args.store == "postgresql":
        if not 1 <= args.replicas <= MAX_REPLICAS:
            print(f"error: --replicas: 1 to {MAX_REPLICAS}", file=sys.stderr)
            return 2
        cluster = start_cluster(fed)
        fed = load_federation(postgres_federation(fed, cluster, args.replicas))
    if not all(_ports_free(fed, fed.nodes, replica=i) for i in range(args.replicas)):
        print("error: not starting: stop whatever holds the port first", file=sys.stderr)
        if cluster is not None:
            cluster.stop()
        return 1
    if not args.insecure:
        create_federation_certs(fed.certs_dir, fed.nodes)
    if cluster is not None:
        procs: NodeProcesses = ReplicaProcesses(
            fed, args.replicas, insecure=args.insecure, entries=args.entries, tied=True
        )
    else:
        procs = NodeProcesses(fed, insecure=args.insecure, entries=args.entries, tied=True)
    stopping = False

    def on_signal(signum, frame):
        # The first Ctrl-C, SIGTERM or SIGHUP interrupts whatever runs (a wait, the demo);
        # later ones must not interrupt the stop itself.
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    started = time.perf_counter()
    try:
        _say(f"starting {len(fed.nodes)} nodes (logs in {fed.data_dir}/<node>/node.log) ...")
        try:
            if isinstance(procs, ReplicaProcesses):
                # Replica 0 of each province seeds its database first; the others find it done.
                procs.start_all(procs.keys(0))
                procs.wait_ready(timeout=1800)
                procs.start_all(procs.keys()[len(fed.nodes) :])
            else:
                procs.start_all()
            procs.wait_ready(timeout=1800)
        except (RuntimeError, TimeoutError) as exc:  # a node that could not start says why
            _say(f"error: {exc}", sys.stderr)
            return 1
        _say(f"federation {fed.federation} up in {time.perf_counter() - started:.1f} s:")
        for n in fed.nodes.values():
            _say(f"  {n.id} {n.name} ({n.region_code})  client {n.client}  peer {n.peer}")
        if args.demo:
            run_demo(fed, procs, insecure=args.insecure, yrdgw=args.yrdgw)
        if args.exit_after_demo:
            return 0
        _say("\nrunning; press Ctrl-C to stop all nodes")
        restarter = Restarter(procs, lambda text: _say(f"warning: {text}", sys.stderr))
        while True:
            restarter.check()
            time.sleep(0.2)
    except (KeyboardInterrupt, BrokenPipeError):
        return 0 if stopping else 1
    finally:
        stopping = True
        _say("stopping nodes ...")
        procs.stop_all()
        if cluster is not None:
            cluster.stop()
        _say("stopped")


def _say(text: str, stream=None) -> None:
    """Print, unless the reader has gone (``yrdgw up | tee log`` after Ctrl-C killed tee):
    stopping the nodes must not fail on a closed pipe."""
    stream = stream or sys.stdout
    try:
        print(text, file=stream, flush=True)
    except (BrokenPipeError, ValueError):
        _silence(stream)


def _silence(stream) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, stream.fileno())  # later writes, and the flush at exit, go nowhere
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)
