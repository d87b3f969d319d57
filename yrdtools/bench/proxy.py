"""The benchmark's raw-forward proxy: one grpc.aio hop with no logic, the Python gRPC limit.

A generic handler takes any unary method as bytes, forwards the bytes and the caller's metadata
to one upstream over one shared channel, and returns the reply bytes (or the upstream status).
No protobuf decoding, no auth, no audit: whatever the gateway spends above this is the price of
its pipeline. Run it as its own process::

    python -m yrdtools.bench.proxy --upstream 127.0.0.1:5001 [--tls-dir certs --tls-node js \\
        --upstream-node sh]

With ``--tls-dir`` it terminates server-auth TLS like a node's client port and dials the
upstream over mutual TLS with its node certificate like a node dials a peer: the same transport
work as the gateway's home hop, and none of its logic.

It prints ``READY <port>`` on stdout once serving.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

import grpc
from grpc import aio

from gateway.tls import NodeTLS, channel_options_for
from yrdtools.loopback import HOST, require_loopback

__all__ = ["ForwardHandler", "main"]

# Set by grpc itself on the outgoing call; copying them would duplicate or contradict it.
_HOP_HEADERS = ("grpc-", ":", "user-agent", "content-type", "te")


class ForwardHandler(grpc.GenericRpcHandler):
    def __init__(self, channel: aio.Channel) -> None:
        self._channel = channel
        self._methods: dict[str, aio.UnaryUnaryMultiCallable] = {}

    def service(self, handler_call_details):
        method = handler_call_details.method
        call = self._methods.get(method)
        if call is None:
            # No serializers: the request and reply stay opaque bytes end to end.
            call = self._methods[method] = self._channel.unary_unary(method)

        async def forward(request: bytes, context: aio.ServicerContext) -> bytes:
            metadata = tuple(
                (k, v)
                for k, v in (context.invocation_metadata() or ())
                if not k.startswith(_HOP_HEADERS)
            )
            try:
                return await call(request, metadata=metadata, timeout=context.time_remaining())
            except aio.AioRpcError as exc:
                await context.abort(exc.code(), exc.details() or "")
                raise  # not reached: abort() raises

        return grpc.unary_unary_rpc_method_handler(forward)


async def serve(args: argparse.Namespace) -> None:
    host, _, _ = args.upstream.rpartition(":")
    require_loopback(host)
    address = f"{require_loopback(args.host)}:{args.port}"
    server = aio.server()
    if args.tls_dir:
        tls = NodeTLS.load(Path(args.tls_dir), args.tls_node)
        channel = aio.secure_channel(
            args.upstream,
            tls.channel_credentials(),
            options=channel_options_for(args.upstream_node),
        )
        port = server.add_secure_port(address, tls.client_port_server_credentials())
    else:
        channel = aio.insecure_channel(args.upstream)
        port = server.add_insecure_port(address)
    server.add_generic_rpc_handlers((ForwardHandler(channel),))
    await server.start()
    print(f"READY {port}", flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    await server.stop(0.5)
    await channel.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m yrdtools.bench.proxy", description=__doc__)
    p.add_argument("--upstream", required=True, help="host:port of the backend (loopback)")
    p.add_argument("--host", default=HOST)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls-dir", help="federation certificates dir: TLS in, mutual TLS out")
    p.add_argument("--tls-node", default="js", help="whose certificate to use")
    p.add_argument("--upstream-node", default="sh", help="TLS name to expect upstream")
    asyncio.run(serve(p.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
