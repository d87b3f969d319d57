"""``yrdgw``: entry point and argument parsing; each verb lives in its own module."""

from __future__ import annotations

import argparse
import logging
import sys

import grpc

from gateway.cli import catalog_cmds, exchange_cmds, ops_cmds, run_cmds, sharing_cmds, tool_cmds
from gateway.errors import ConfigError
from gateway.status import failure_of


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="yrdgw", description="yrd-gateway: the Yangtze River Delta federated data gateway"
    )
    parser.add_argument(
        "--federation", help="federation file (default: config/federation.yaml or $YRD_FEDERATION)"
    )
    parser.add_argument(
        "--insecure", action="store_true", help="plaintext gRPC, no TLS: local experiments only"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_cmds.register(sub)
    catalog_cmds.register(sub)
    exchange_cmds.register(sub)
    sharing_cmds.register(sub)
    ops_cmds.register(sub)
    tool_cmds.register(sub)
    # The demo runs yrdgw verbs in-process through this entry point; passing it in keeps
    # cli/demo.py from importing this module (no import loop).
    parser.set_defaults(yrdgw=main)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    # Tool verbs (bench, soak) parse their own options, --help included: they get the rest.
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "passes_args", False):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.tool_args = rest
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"error: configuration: {exc}", file=sys.stderr)
        return 2
    except grpc.RpcError as exc:
        failure = failure_of(exc)
        node = f" (refused by {failure.node})" if failure.node else ""
        print(
            f"error: {failure.code.name} {failure.reason}{node}: {failure.message}", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
