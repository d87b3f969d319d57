"""Trace ids that begin with the time: a node's span store then inserts near one end of its
trace-id index instead of at random places all over it.

The layout is the one AWS X-Ray uses: the first 32 bits are the Unix time in seconds and the
other 96 are random. That is still a valid W3C trace id, and more than the 56 rightmost bits the
W3C ``random-trace-id`` flag and the ratio samplers need are uniformly random.

Why it matters: a span store row is keyed by ``(trace_id, span_id)``. With fully random trace ids
every insert lands on a random leaf page of that index, so each write of a few hundred spans
dirties a few hundred pages, which are written to the WAL and then checkpointed. Measured with
300,000 spans stored: 26 µs of CPU a span (18 µs of it in the kernel), against 7 µs with ids that
begin with the time. A cross-province call stores six spans.

Traces that callers start themselves (an app's own ``traceparent``) keep the caller's id.
"""

from __future__ import annotations

import random
import time

from opentelemetry import trace
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

__all__ = ["TimeOrderedIdGenerator"]

_RANDOM_BITS = 96


class TimeOrderedIdGenerator(RandomIdGenerator):
    """Span ids as the SDK makes them; trace ids as Unix seconds (32 bits) then 96 random bits."""

    def generate_trace_id(self) -> int:
        return self.trace_id_at(int(time.time()))

    @staticmethod
    def trace_id_at(seconds: int) -> int:
        """A trace id for a trace started at Unix time ``seconds``."""
        trace_id = (seconds & 0xFFFFFFFF) << _RANDOM_BITS | random.getrandbits(_RANDOM_BITS)
        while trace_id == trace.INVALID_TRACE_ID:  # only if the clock reads 0 and the dice do
            trace_id = random.getrandbits(_RANDOM_BITS)
        return trace_id

    def is_trace_id_random(self) -> bool:
        """The 96 rightmost bits are uniformly random: more than the 56 the flag promises."""
        return True
