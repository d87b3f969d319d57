"""Hostile input and the checks every answer to it must pass (shared by the fuzz test modules).

``Harness`` is two in-process nodes (js, sh) with an app of js holding grants on sh; the checks
say what a proper refusal is: an expected status, ``google.rpc.ErrorInfo`` naming the refusing
node, the field for INVALID_ARGUMENT, nothing internal in the message, in bounded time, and a
node that still answers health checks afterwards.
"""

from __future__ import annotations

import asyncio
import re
import time
import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import currently_in_test_context, event
from hypothesis import strategies as st

from gateway._pb.yrd.v1 import (
    catalog_pb2_grpc,
    exchange_pb2_grpc,
    federation_pb2_grpc,
    sharing_pb2,
    sharing_pb2_grpc,
)
from gateway.config import FederationConfig
from gateway.credentials import operator_token_path
from gateway.errors import ERROR_DOMAIN
from gateway.exchange.dataset import dataset_path, sample_values
from gateway.node import Node
from gateway.peers import MAX_MESSAGE_BYTES, MD_HOPS, MD_NODE, MD_STANDARD
from gateway.server.identity import MD_OPERATOR
from gateway.status import DETAILS_KEY
from gateway.tls import NodeTLS, channel_options_for, client_channel_credentials
from tests.support.cluster import grant_via_application, new_app
from tests.support.federation import HeldClock
from tests.support.names import PURPOSE, RESIDENT, ROSTER, VERIFY

NODES = ("js", "sh")
ENTRIES = 200
PEOPLE = 300

APP = "js/rsj/fuzz-app"
LICENSE = "sh/scjgj/business-license/v1"  # never granted to APP
LOCAL_ROSTER = "js/rst/insured-roster/v1"
INTERFACES = (RESIDENT, VERIFY, ROSTER, LICENSE, LOCAL_ROSTER, "js/gat/resident-basic/v1")
RESIDENT_FIELDS = ("id_number", "name", "gender", "household_type", "ethnicity", "mobile")
ROSTER_FIELDS = ("record_id", "name", "district", "insurance_type")
BIG_QUOTA = sharing_pb2.Quota(per_minute=1_000_000, per_day=100_000_000)
VALID_ID = "11010519491231002X"
VALID_CREDIT = "91350100M000100Y43"

CALL_TIMEOUT = 10.0
"""The gRPC deadline of every hostile call: a hang shows up as DEADLINE_EXCEEDED, a failure."""
TIME_BOUND = 5.0
"""What an answer to hostile input may take at most, refusal or not."""

EXPECTED = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.FAILED_PRECONDITION,
    }
)
"""Statuses hostile input may earn. Never UNKNOWN; INTERNAL, UNAVAILABLE and DEADLINE_EXCEEDED
mean the node broke or hung (both nodes are up, so no peer can be to blame)."""

LEAK_MARKERS = (
    "Traceback",
    'File "',
    ".py",
    "sqlite",
    "SELECT",
    "/work",
    "/tmp",
    "/root",
    "/home",
    "site-packages",
    "grpc_",
    "<class ",
    "Error:",
    "OperationalError",
    "IntegrityError",
    "RecursionError",
    "OverflowError",
    "KeyError",
    "DecodeError",
    "0x7f",
)
"""Text that would betray internals (paths, SQL, stack traces, Python exception names)."""


# --------------------------------------------------------------------------- the federation


@dataclass
class Harness:
    fed: FederationConfig
    nodes: dict[str, Node]
    channels: list[aio.Channel] = field(default_factory=list)
    app_md: tuple[tuple[str, str], ...] = ()
    grants: dict[str, str] = field(default_factory=dict)
    """Interface id -> the id of APP's grant on it (never revoked by the fuzzers)."""
    samples: dict[str, str] = field(default_factory=dict)
    """Values that exist in sh's dataset (id_number, name, district ...)."""
    clock: HeldClock = field(default_factory=HeldClock)
    """The nodes' clock: held to keep a case's calls in one quota window."""
    _client: dict[str, aio.Channel] = field(default_factory=dict)
    _peer: dict[tuple[str, str], aio.Channel] = field(default_factory=dict)

    @property
    def ca(self) -> bytes:
        return (Path(self.fed.certs_dir) / "ca.pem").read_bytes()

    def client(self, node: str = "js") -> aio.Channel:
        if node not in self._client:
            channel = aio.secure_channel(
                self.fed.node(node).client,
                client_channel_credentials(self.ca),
                options=channel_options_for(node),
            )
            self.channels.append(channel)
            self._client[node] = channel
        return self._client[node]

    def peer(self, to: str = "sh", as_node: str = "js") -> aio.Channel:
        """A mutual-TLS channel to ``to``'s peer port presenting ``as_node``'s certificate."""
        key = (to, as_node)
        if key not in self._peer:
            tls = NodeTLS.load(Path(self.fed.certs_dir), as_node)
            channel = aio.secure_channel(
                self.fed.node(to).peer, tls.channel_credentials(), options=channel_options_for(to)
            )
            self.channels.append(channel)
            self._peer[key] = channel
        return self._peer[key]

    def catalog(self, node: str = "js") -> catalog_pb2_grpc.CatalogStub:
        return catalog_pb2_grpc.CatalogStub(self.client(node))

    def exchange(self, node: str = "js") -> exchange_pb2_grpc.ExchangeStub:
        return exchange_pb2_grpc.ExchangeStub(self.client(node))

    def sharing(self, node: str = "js") -> sharing_pb2_grpc.SharingStub:
        return sharing_pb2_grpc.SharingStub(self.client(node))

    def admin(self, node: str = "js") -> sharing_pb2_grpc.AdminStub:
        return sharing_pb2_grpc.AdminStub(self.client(node))

    def federation(self, to: str = "sh", as_node: str = "js") -> federation_pb2_grpc.FederationStub:
        return federation_pb2_grpc.FederationStub(self.peer(to, as_node))

    def operator_token(self, node: str) -> str:
        return operator_token_path(self.fed, node).read_text().strip()

    def op_md(self, node: str) -> tuple[tuple[str, str], ...]:
        return ((MD_OPERATOR, self.operator_token(node)),)

    def fed_md(
        self, node: str = "js", *, to: str = "sh", hops: str = "1"
    ) -> tuple[tuple[str, str], ...]:
        standard = self.nodes[to].standard.fingerprint
        return ((MD_NODE, node), (MD_STANDARD, standard), (MD_HOPS, hops))

    def channel(self, node_id: str) -> aio.Channel:
        return self.client(node_id)

    async def new_app(self, app: str) -> tuple[tuple[str, str], ...]:
        return await new_app(self, app, name="模糊测试", timeout=CALL_TIMEOUT)

    async def pending_application(
        self, creds=None, interface: str = RESIDENT, fields: Iterable[str] = ("gender", "name")
    ) -> sharing_pb2.Application:
        return await self.sharing().Apply(
            sharing_pb2.ApplyRequest(
                interface_id=interface,
                fields=list(fields),
                purpose=PURPOSE,
                valid_until=until(),
                quota=sharing_pb2.Quota(per_minute=100, per_day=1000),
            ),
            metadata=creds or self.app_md,
            timeout=CALL_TIMEOUT,
        )

    async def granted(
        self, creds, interface: str, fields: Iterable[str], quota: sharing_pb2.Quota = BIG_QUOTA
    ) -> sharing_pb2.Grant:
        return await grant_via_application(
            self,
            creds,
            list(fields),
            interface=interface,
            quota=quota,
            valid_until=until(),
            timeout=CALL_TIMEOUT,
        )

    async def blanket_grant(self, interface: str = RESIDENT) -> sharing_pb2.Grant:
        return await self.admin("sh").GrantProvince(
            sharing_pb2.BlanketGrantRequest(
                province="js",
                interface_id=interface,
                fields=["gender"],
                purposes=["整体授权"],
                max_grade="L2",
                valid_until=until(),
                quota=BIG_QUOTA,
            ),
            metadata=self.op_md("sh"),
            timeout=CALL_TIMEOUT,
        )

    async def setup(self) -> None:
        self.app_md = await self.new_app(APP)
        for interface, fields in (
            (RESIDENT, RESIDENT_FIELDS),
            (ROSTER, ROSTER_FIELDS),
            (VERIFY, ()),
        ):
            grant = await self.granted(self.app_md, interface, fields)
            self.grants[interface] = grant.id
        self.samples = sample_values(dataset_path(self.nodes["sh"].config.data_dir))

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()
        await asyncio.gather(*(node.stop(0) for node in self.nodes.values()))


def until(days: int = 200) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- the checks


@dataclass(frozen=True)
class Refusal:
    code: grpc.StatusCode
    message: str
    info: error_details_pb2.ErrorInfo | None

    @property
    def reason(self) -> str:
        return self.info.reason if self.info else ""

    @property
    def node(self) -> str:
        return self.info.metadata.get("node", "") if self.info else ""

    @property
    def field(self) -> str:
        return self.info.metadata.get("field", "") if self.info else ""


def refusal_of(exc: aio.AioRpcError) -> Refusal:
    info = None
    for key, value in exc.trailing_metadata() or ():
        if key != DETAILS_KEY:
            continue
        status = status_pb2.Status.FromString(value)
        assert status.code == exc.code().value[0], (status.code, exc.code())
        for detail in status.details:
            candidate = error_details_pb2.ErrorInfo()
            if detail.Is(candidate.DESCRIPTOR):
                detail.Unpack(candidate)
                assert info is None, "two ErrorInfo details"
                info = candidate
    return Refusal(exc.code(), exc.details() or "", info)


def strings_in(message: Message) -> list[str]:
    """Every string a request carries (scalars, repeated, map keys and values), recursively."""
    out: list[str] = []
    for fd, value in message.ListFields():
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            for k, v in value.items():
                out += [str(k), str(v)] if not isinstance(v, Message) else [str(k), *strings_in(v)]
        elif fd.message_type is not None:
            for item in value if _repeated(fd) else [value]:
                out += strings_in(item)
        elif fd.type == fd.TYPE_STRING:
            out += list(value) if _repeated(fd) else [value]
    return out


def _repeated(fd) -> bool:
    return bool(fd.is_repeated)


def field_names(message: Message | type[Message]) -> set[str]:
    """All field names of a request type, nested messages included (what ``field`` may name)."""
    names: set[str] = set()
    todo = [message.DESCRIPTOR]
    seen = set()
    while todo:
        desc = todo.pop()
        if desc.full_name in seen:
            continue
        seen.add(desc.full_name)
        for fd in desc.fields:
            names.add(fd.name)
            if fd.message_type is not None and not fd.message_type.GetOptions().map_entry:
                todo.append(fd.message_type)
    return names


def leaks(text: str, inputs: Iterable[str] = ()) -> list[str]:
    """Leak markers in ``text`` the caller did not send itself (echoing input is no leak)."""
    sent = " ".join(inputs)
    sent = (sent + " " + unicodedata.normalize("NFKC", sent)).lower()
    sent += " " + repr(sent)
    return [m for m in LEAK_MARKERS if m.lower() in text.lower() and m.lower() not in sent]


def check_refusal(
    exc: aio.AioRpcError,
    *,
    inputs: Iterable[str] = (),
    request: Message | None = None,
    allowed: frozenset[grpc.StatusCode] = EXPECTED,
) -> Refusal:
    """Assert ``exc`` is a proper refusal from one of our nodes and return it."""
    inputs = list(inputs)
    refusal = refusal_of(exc)
    where = f"{refusal.code.name} {refusal.reason}: {refusal.message[:300]!r}"
    assert refusal.code in allowed, f"unexpected status {where}"
    assert not leaks(refusal.message, inputs), f"leaks {leaks(refusal.message, inputs)}: {where}"
    for key, value in exc.trailing_metadata() or ():
        if isinstance(value, str):
            assert not leaks(value, inputs), f"trailer {key} leaks: {value[:200]!r}"
    assert refusal.info is not None, f"no google.rpc.ErrorInfo: {where}"
    assert refusal.info.domain == ERROR_DOMAIN, where
    assert re.fullmatch(r"[A-Z][A-Z0-9_]*", refusal.reason), where
    assert refusal.node in NODES, f"refusing node {refusal.node!r} not named: {where}"
    assert refusal.message.startswith(f"[{refusal.node}] "), where
    if refusal.code == grpc.StatusCode.INVALID_ARGUMENT:
        assert refusal.field, f"INVALID_ARGUMENT without a field: {where}"
        if request is not None:
            root = re.split(r"[.\[]", refusal.field, maxsplit=1)[0]
            assert root in field_names(request), f"field {refusal.field!r} not in request: {where}"
    return refusal


def oversized(request: Message) -> bool:
    return request.ByteSize() > MAX_MESSAGE_BYTES - 1024


async def healthy(h: Harness) -> None:
    """Every port of every node still answers SERVING."""
    # The peer port guards every method, health included: it wants a peer's metadata too.
    ports = [(h.client(n), ()) for n in NODES] + [
        (h.peer("sh", "js"), h.fed_md("js", to="sh")),
        (h.peer("js", "sh"), h.fed_md("sh", to="js")),
    ]
    for channel, metadata in ports:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), metadata=metadata, timeout=3
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def collect(stream, max_batches: int = 4) -> list:
    """Read a server stream; stop (cancel) after ``max_batches`` so bulk transfers stay short."""
    out = []
    async for item in stream:
        out.append(item)
        if len(out) >= max_batches:
            stream.cancel()
            break
    return out


async def exercise(
    h: Harness,
    call: Callable[[], Awaitable[object]],
    *,
    request: Message,
    metadata: Iterable[tuple[str, object]] = (),
    allowed: frozenset[grpc.StatusCode] = EXPECTED,
) -> Refusal | object:
    """Run one hostile call: a reply or a proper refusal, in bounded time, node still healthy."""
    inputs = strings_in(request) + [v for _, v in metadata if isinstance(v, str)]
    started = time.monotonic()
    try:
        outcome: Refusal | object = await call()
    except aio.AioRpcError as exc:
        if oversized(request) and exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
            outcome = refusal_of(exc)  # grpc's own message size limit: no ErrorInfo
        else:
            outcome = check_refusal(exc, inputs=inputs, request=request, allowed=allowed)
    elapsed = time.monotonic() - started
    if currently_in_test_context():
        event(f"{outcome.code.name} {outcome.reason}" if isinstance(outcome, Refusal) else "OK")
    assert elapsed < TIME_BOUND, f"answer took {elapsed:.1f} s"
    await healthy(h)
    return outcome


# --------------------------------------------------------------------------- hostile input

INJECTIONS = (
    "' OR 1=1 --",
    "' OR '1'='1",
    "'; DROP TABLE grants; --",
    "1; SELECT * FROM apps --",
    '" OR ""="',
    "\\'; --",
    '"a" NEAR b*',
    'NEAR("户籍" "人口", 2)',
    "name: * OR {tags}: x",
    "a AND OR NOT (",
    '"unterminated',
    "^户籍*",
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/etc/passwd\x00.png",
    "file:///etc/shadow",
    "%s%n%x%d%p",
    "{0.__class__.__mro__}",
    "{{7*7}}${7*7}",
    "${jndi:ldap://x/a}",
    '{"o": -1, "q": "x"}',
    '{"$ne": null, "__proto__": {}}',
    '[1, 2, {"a": [',
    "- !!python/object/apply:os.system ['id']",
    "a: &x [*x, *x]\n---\n: :",
    "<script>alert(1)</script>",
    "\r\nX-Injected: 1\r\n",
    "js/rsj/pension-transfer",
    "sh/gaj/resident-basic/v1",
    "zj/x/y/v1",
    "101001/320001",
    "L4",
    "approved",
    "",
    " ",
)

ODD = (
    "\u200f",
    "\u200e",
    "\u202e",
    "\u2066",
    "\u200d",
    "\u200b",
    "\ufeff",
    "\u0301",
    "\u0338",
    "e\u0301",
    "\u0e49" * 8,
    "Ａｂｃ",
    "ＳＥＬＥＣＴ",
    "１２３",
    "\u3000",
    "👨\u200d👩\u200d👧",
    "🇨🇳",
    "🀄",
    "\x00",
    "\x01",
    "\x1b[31m",
    "\x7f",
    "\r\n",
    "\t",
    "\u2028",
    "\u0085",
    "﷽",
    "ﬁ",
    "\ue000",
    "\uffff",
    "\U000e0041",
    "\U0010ffff",
    "上海",
    "人口",
    "户籍",
    "Ǆ",
    "ß",
    "İ",
    "\u0000" * 3,
    "𠀀",
    "〇",
)

small_text = st.one_of(
    st.text(max_size=24),
    st.sampled_from(INJECTIONS),
    st.lists(st.sampled_from(ODD), max_size=8).map("".join),
)
"""Short hostile text: for elements of repeated fields and maps."""

mixed_text = st.lists(
    st.one_of(st.sampled_from(ODD), st.sampled_from(INJECTIONS), st.text(max_size=6)), max_size=20
).map("".join)


def huge_text(max_bytes: int = 1_000_000) -> st.SearchStrategy[str]:
    """One repeated unit, up to ``max_bytes`` of UTF-8 (cheap to generate, costly to handle)."""
    units = st.sampled_from(
        ["a", "人", "x ", "' OR 1=1 --", "\u200d", "🇨🇳", "\x00", "e\u0301", "%s", "../"]
    )
    # Sizes by order of magnitude: st.integers alone would mostly stay small.
    tops = sorted({max(1, max_bytes // 1000), max(1, max_bytes // 10), max_bytes})
    sizes = st.sampled_from(tops).flatmap(lambda top: st.integers(max(1, top // 2), top))
    return st.tuples(units, sizes).map(lambda t: t[0] * max(1, t[1] // len(t[0].encode())))


def pick(*options: st.SearchStrategy) -> st.SearchStrategy:
    """One of ``options``, each about equally likely (``st.one_of`` leans hard on its first,
    simplest branches; a uniform index keeps known-good values and huge ones both frequent)."""
    return st.sampled_from(range(len(options))).flatmap(lambda i: options[i])


def text(*valid: str, huge: int = 1_000_000) -> st.SearchStrategy[str]:
    """A hostile string field: two times in three a known-good value (so the other fields get
    past the first checks too), else short hostile text, mixtures or (when ``huge``) up to
    ``huge`` bytes of one repeated unit."""
    hostile = pick(small_text, mixed_text, *([huge_text(huge)] if huge else []))
    if not valid:
        return hostile
    good = st.sampled_from(valid)
    return pick(good, good, hostile)


def many(*valid: str, huge: int = 100_000, most: int = 5000) -> st.SearchStrategy[list[str]]:
    """A repeated field: a few known-good items, a few hostile ones (each up to ``huge`` bytes,
    far past what a refusal may echo), one item (of up to 200) thousands of times, or
    thousands of distinct items."""
    options = [
        st.lists(text(*valid, huge=huge), max_size=6),
        st.tuples(text(*valid, huge=min(huge, 200)), st.integers(100, most)).map(
            lambda t: [t[0]] * t[1]
        ),
        st.tuples(small_text, st.integers(100, most)).map(
            lambda t: [f"{t[0][:20]}{i}" for i in range(t[1])]
        ),
    ]
    if valid:
        options[:0] = [st.lists(st.sampled_from(valid), max_size=4)] * 3
    return pick(*options)


def params(*valid: dict[str, str]) -> st.SearchStrategy[dict[str, str]]:
    """A map field: known-good maps, a few hostile entries, or thousands of keys."""
    good = [st.sampled_from(valid)] * 2 if valid else []
    return pick(
        *good,
        st.dictionaries(
            st.one_of(
                st.sampled_from(["id_number", "name", "district", "insurance_type", "credit_code"]),
                small_text,
            ),
            text(VALID_ID, "浦东新区", huge=200_000),
            max_size=6,
        ),
        st.tuples(small_text, small_text, st.integers(17, 3000)).map(
            lambda t: {f"{t[0][:16]}{i}": t[1] for i in range(t[2])}
        ),
    )


int32 = st.one_of(
    st.sampled_from([0, 1, -1, 7, 20, 100, 101, 500, 1000, 1001, 2000, 2001, 2**31 - 1, -(2**31)]),
    st.integers(-(2**31), 2**31 - 1),
)

printable_md = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=300)
"""Metadata values a client can send (grpc refuses non-printable ASCII client-side)."""
