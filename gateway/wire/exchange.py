"""Exchange messages <-> interface calls, results, batches and interface listings (client port
``Exchange`` and the peer port's forwarded calls).

A home node relays the owner's ``InvokeResponse`` without decoding its records (``RelayedResult``):
the app gets the very message the owner built, with this node's trace id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway._pb.yrd.v1 import exchange_pb2, federation_pb2
from gateway.exchange.calls import Batch, Call, CallResult, FieldNote
from gateway.exchange.catalogue import InterfaceOffer
from gateway.exchange.model import Field, Param


@dataclass(frozen=True, slots=True)
class RelayedResult(CallResult):
    """The owner's answer as a home node received it: what the home node's audit needs, decoded;
    the records left in ``message`` (``records`` is empty) and passed on as they came."""

    message: Any = None
    """The owner's ``exchange_pb2.InvokeResponse``."""

    @property
    def record_count(self) -> int:
        return len(self.message.records)


def call_from_pb(m: exchange_pb2.InvokeRequest) -> Call:
    return Call(
        interface_id=m.interface_id,
        params=dict(m.params),
        purpose=m.purpose,
        fields=tuple(m.fields),
    )


def call_to_pb(c: Call) -> exchange_pb2.InvokeRequest:
    return exchange_pb2.InvokeRequest(
        interface_id=c.interface_id, params=dict(c.params), purpose=c.purpose, fields=c.fields
    )


def forwarded_invoke(app: str, call: Call) -> federation_pb2.ForwardedInvoke:
    return federation_pb2.ForwardedInvoke(app=app, call=call_to_pb(call))


def forwarded_stream(
    app: str, call: Call, resume_token: str, batch_size: int
) -> federation_pb2.ForwardedInvokeStream:
    return federation_pb2.ForwardedInvokeStream(
        app=app,
        call=exchange_pb2.InvokeStreamRequest(
            call=call_to_pb(call), resume_token=resume_token, batch_size=batch_size
        ),
    )


def _notes_to_pb(notes: Iterable[FieldNote]) -> list[exchange_pb2.FieldDecision]:
    return [
        exchange_pb2.FieldDecision(field=n.field, grade=n.grade, kind=n.kind, reason=n.reason)
        for n in notes
    ]


def _notes_from_pb(items: Iterable[Any]) -> tuple[FieldNote, ...]:
    return tuple(FieldNote(i.field, i.grade, i.kind, i.reason) for i in items)


def result_to_pb(r: CallResult, trace_id: str = "") -> exchange_pb2.InvokeResponse:
    if isinstance(r, RelayedResult):  # the owner's answer, passed on as it came
        reply = r.message
        reply.trace_id = trace_id  # our own copy, received for this call alone
        return reply
    return exchange_pb2.InvokeResponse(
        records=[exchange_pb2.Record(fields=rec) for rec in r.records],
        verify_only=r.verify_only,
        match=r.match,
        masked_fields=_notes_to_pb(r.masked),
        dropped_fields=_notes_to_pb(r.dropped),
        grade=r.grade,
        served_by=r.served_by,
        trace_id=trace_id,
        provider_audit_hash=r.provider_hash,
        record_count=len(r.records),
    )


def result_from_pb(m: exchange_pb2.InvokeResponse) -> RelayedResult:
    """What a home node needs of the owner's answer (for its audit), records left encoded."""
    return RelayedResult(
        records=(),
        verify_only=m.verify_only,
        match=m.match,
        masked=_notes_from_pb(m.masked_fields),
        dropped=_notes_from_pb(m.dropped_fields),
        grade=m.grade,
        served_by=m.served_by,
        provider_hash=m.provider_audit_hash,
        fields=tuple(m.records[0].fields) if m.records else (),
        message=m,
    )


def batch_to_pb(b: Batch, trace_id: str = "") -> exchange_pb2.RecordBatch:
    return exchange_pb2.RecordBatch(
        records=[exchange_pb2.Record(fields=rec) for rec in b.records],
        resume_token=b.resume_token,
        last=b.last,
        masked_fields=_notes_to_pb(b.masked),
        dropped_fields=_notes_to_pb(b.dropped),
        grade=b.grade,
        served_by=b.served_by,
        trace_id=trace_id,
    )


def batch_from_pb(m: exchange_pb2.RecordBatch) -> Batch:
    return Batch(
        records=tuple(dict(rec.fields) for rec in m.records),
        resume_token=m.resume_token,
        last=m.last,
        masked=_notes_from_pb(m.masked_fields),
        dropped=_notes_from_pb(m.dropped_fields),
        grade=m.grade,
        served_by=m.served_by,
    )


def offer_to_pb(o: InterfaceOffer) -> exchange_pb2.InterfaceInfo:
    return exchange_pb2.InterfaceInfo(
        id=o.id,
        province=o.province,
        department=o.department,
        department_name=o.department_name,
        name=o.name,
        resource_code=o.resource_code,
        mode=o.mode,
        params=[
            exchange_pb2.InterfaceParam(
                name=p.name, kind=p.kind, required=p.required, description=p.description
            )
            for p in o.params
        ],
        fields=[
            exchange_pb2.InterfaceField(name=f.name, label=f.label, kind=f.kind, grade=f.grade)
            for f in o.fields
        ],
        streamable=o.streamable,
        callable=o.callable,
        granted_fields=o.granted_fields,
        granted_purposes=o.granted_purposes,
    )


def offer_from_pb(m: exchange_pb2.InterfaceInfo) -> InterfaceOffer:
    return InterfaceOffer(
        id=m.id,
        province=m.province,
        department=m.department,
        department_name=m.department_name,
        name=m.name,
        resource_code=m.resource_code,
        mode=m.mode,
        params=tuple(
            Param(name=p.name, kind=p.kind, required=p.required, description=p.description)
            for p in m.params
        ),
        fields=tuple(
            Field(name=f.name, label=f.label, kind=f.kind, grade=f.grade) for f in m.fields
        ),
        streamable=m.streamable,
        callable=m.callable,
        granted_fields=tuple(m.granted_fields),
        granted_purposes=tuple(m.granted_purposes),
    )


def interfaces_reply(
    offers: Iterable[InterfaceOffer], unavailable: Iterable[str] = ()
) -> exchange_pb2.ListInterfacesResponse:
    return exchange_pb2.ListInterfacesResponse(
        interfaces=[offer_to_pb(o) for o in offers], unavailable=list(unavailable)
    )
