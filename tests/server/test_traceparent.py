"""The server interceptor's own reading of ``traceparent`` (issue 18) gives the same parent as
OpenTelemetry's W3C propagator, for well-formed headers and every way of being malformed."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway.server.interceptors import _extract

_PROPAGATOR = TraceContextTextMapPropagator()


def _parent(context) -> trace.SpanContext:
    """The span context a server span would hang under (None: the current one, none here)."""
    return trace.get_current_span(context).get_span_context()


def _same_as_propagator(metadata: tuple[tuple[str, str], ...]) -> None:
    carrier = {k: v for k, v in metadata if k in ("traceparent", "tracestate")}
    expected = _parent(_PROPAGATOR.extract(carrier)) if carrier else trace.INVALID_SPAN_CONTEXT
    got = _parent(_extract(metadata))
    assert got == expected
    assert (got.is_remote, got.trace_flags, got.trace_state) == (
        expected.is_remote,
        expected.trace_flags,
        expected.trace_state,
    )


_HEX = st.text("0123456789abcdef", min_size=1, max_size=34)
_NEAR_HEX = st.text("0123456789abcdefABCDEF_-+ \t", min_size=0, max_size=34)


@st.composite
def _traceparents(draw) -> str:
    version = draw(st.sampled_from(["00", "01", "ff", "0", "000", "0A"]))
    trace_id = draw(st.one_of(st.just("0" * 32), _HEX, _NEAR_HEX, _HEX.map(lambda h: h.zfill(32))))
    span_id = draw(st.one_of(st.just("0" * 16), _HEX, _NEAR_HEX, _HEX.map(lambda h: h.zfill(16))))
    flags = draw(st.sampled_from(["00", "01", "ff", "1", "0g", "FF"]))
    rest = draw(st.sampled_from(["", "-", "-x", " ", "\t"]))
    return f"{version}-{trace_id[-32:]}-{span_id[-16:]}-{flags}{rest}"


@settings(max_examples=600, deadline=None)
@given(
    traceparent=_traceparents(),
    tracestate=st.one_of(st.none(), st.just("a=1,b=2"), st.text(string.printable, max_size=12)),
    other=st.booleans(),
)
def test_reads_any_traceparent_as_the_propagator_does(traceparent, tracestate, other):
    metadata = [("traceparent", traceparent)]
    if tracestate is not None:
        metadata.append(("tracestate", tracestate))
    if other:
        metadata.insert(0, ("user-agent", "grpc-python"))
    _same_as_propagator(tuple(metadata))


def test_reads_what_peers_send_and_no_header_as_no_parent():
    trace_id, span_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    for flags in ("01", "00"):
        metadata = (("traceparent", f"00-{trace_id}-{span_id}-{flags}"),)
        _same_as_propagator(metadata)
        parent = _parent(_extract(metadata))
        assert (parent.trace_id, parent.span_id) == (int(trace_id, 16), int(span_id, 16))
        assert parent.is_remote and parent.trace_flags.sampled == (flags == "01")
    assert _extract(()) is None and _extract((("yrd-app", "x"),)) is None
    _same_as_propagator((("traceparent", f"00-{trace_id.upper()}-{span_id}-01"),))
