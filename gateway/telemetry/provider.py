"""A node's tracer provider: spans go to its own span store and, when configured, to OTLP.

Each node has its own provider (not the global one), so several nodes can share a process in
tests. Storing and exporting run on their own threads (the span store's writer, the OTLP batch
processor): a slow disk or a dead collector costs a log line, never a failed call.
"""

from __future__ import annotations

import logging

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import NoOpTracer, Tracer

from gateway.telemetry.ids import TimeOrderedIdGenerator
from gateway.telemetry.spanstore import WRITE_INTERVAL, SpanStore, SpanStoreProcessor

log = logging.getLogger(__name__)


class Telemetry:
    def __init__(
        self, node: str, store: SpanStore, *, otlp_endpoint: str = "", enabled: bool = True
    ) -> None:
        self.node = node
        self.store = store
        self.enabled = enabled
        self.provider = TracerProvider(
            resource=Resource.create(
                {"service.name": "yrd-gateway", "service.instance.id": node, "yrd.node": node}
            ),
            id_generator=TimeOrderedIdGenerator(),
        )
        if enabled:
            self.provider.add_span_processor(SpanStoreProcessor(store))
            if otlp_endpoint:
                self.provider.add_span_processor(
                    BatchSpanProcessor(
                        _otlp_exporter(otlp_endpoint),
                        max_queue_size=8192,
                        schedule_delay_millis=1000,
                        export_timeout_millis=2000,
                    )
                )

    def tracer(self, name: str) -> Tracer:
        """The node's tracer; a no-op one when tracing is off, so a node started without
        tracing creates no spans at all (its internal steps included)."""
        if not self.enabled:
            return NoOpTracer()
        return self.provider.get_tracer(name)

    @property
    def write_interval(self) -> float:
        """Seconds a finished span may wait before it is in the span store."""
        return WRITE_INTERVAL if self.enabled else 0.0

    def flush(self, timeout_ms: int = 5000) -> bool:
        return self.provider.force_flush(timeout_ms)

    def shutdown(self) -> None:
        self.provider.shutdown()


def _otlp_exporter(endpoint: str):
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    # Loopback collectors in tests and local set-ups speak plaintext; a real deployment puts
    # the collector behind TLS and sets an https:// endpoint.
    insecure = not endpoint.startswith("https://")
    return OTLPSpanExporter(endpoint=endpoint, insecure=insecure, timeout=2)
