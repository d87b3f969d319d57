"""The sharing store: apps and credentials, 申请-审核-授权, grants, quota, durability."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gateway.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unauthenticated,
)
from gateway.postgres import Postgres
from gateway.sharing.model import Grant, Quota
from gateway.sharing.store import SharingStore
from tests.support.applications import QUOTA, apply
from tests.support.federation import ROOT
from tests.support.names import APP, FIELDS, IFACE, OTHER, PURPOSE, T0


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SharingStore]:
    """The store on each backend: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        s = SharingStore(tmp_path / "sharing.db")
        yield s
        s.close()
        return
    pg = Postgres(request.getfixturevalue("pg_dsn"))
    s = SharingStore(pg)
    yield s
    s.close()
    pg.close()


def granted(store: SharingStore, quota: Quota = QUOTA) -> Grant:
    return store.approve(apply(store, quota=quota).id, now=T0)


def db_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))


# --------------------------------------------------------------------------- apps


def test_app_secret_authenticates(store: SharingStore) -> None:
    secret = store.create_app(APP, "养老保险关系转移", now=T0)
    app = store.authenticate_app(APP, secret)
    assert (app.id, app.name, app.created_at, app.revoked_at) == (APP, "养老保险关系转移", T0, None)


@pytest.mark.parametrize("case", ["wrong secret", "unknown app", "revoked app", "empty secret"])
def test_bad_credentials_look_alike(store: SharingStore, case: str) -> None:
    secret = store.create_app(APP, "app", now=T0)
    app_id = APP
    if case == "wrong secret":
        secret = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    elif case == "unknown app":
        app_id = "js/rsj/no-such-app"
    elif case == "revoked app":
        store.revoke_app(APP, now=T0)
    else:
        secret = ""
    with pytest.raises(Unauthenticated) as info:
        store.authenticate_app(app_id, secret)
    # Same reason and message for all: the answer never reveals which apps exist.
    assert (info.value.reason, info.value.message) == ("BAD_CREDENTIAL", "bad app credential")


def test_duplicate_app_refused_even_after_revocation(store: SharingStore) -> None:
    store.create_app(APP, "app", now=T0)
    with pytest.raises(FailedPrecondition) as info:
        store.create_app(APP, "again", now=T0)
    assert info.value.reason == "APP_EXISTS"
    store.revoke_app(APP, now=T0)
    with pytest.raises(FailedPrecondition):
        store.create_app(APP, "again", now=T0)


def test_revoke_app(store: SharingStore) -> None:
    store.create_app(APP, "app", now=T0)
    assert store.revoke_app(APP, now=T0).revoked_at == T0
    # Revoking twice keeps the first time.
    assert store.revoke_app(APP, now=T0 + timedelta(hours=1)).revoked_at == T0
    assert store.get_app(APP).revoked
    with pytest.raises(NotFound) as info:
        store.revoke_app("js/rsj/ghost")
    assert info.value.reason == "APP_NOT_FOUND"


@pytest.mark.parametrize("app_id", ["", "js", "js/rsj", "JS/rsj/x", "js/rsj/x/y", "js/rsj/x y"])
def test_bad_app_id(store: SharingStore, app_id: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        store.create_app(app_id, "x")
    assert (info.value.reason, info.value.field) == ("BAD_APP_ID", "app")


def test_secrets_are_hashed_at_rest(tmp_path: Path) -> None:
    path = tmp_path / "sharing.db"
    with SharingStore(path) as store:
        secrets = [store.create_app(f"js/rsj/app-{i}", "app", now=T0) for i in range(5)]
        token = store.ensure_operator_token(now=T0)
        assert token is not None
        # While open (WAL not yet checkpointed) ...
        raw = db_bytes(path)
        assert all(s.encode() not in raw for s in [*secrets, token])
    # ... and after close (checkpointed into the main file).
    raw = db_bytes(path)
    assert all(s.encode() not in raw for s in [*secrets, token])
    with SharingStore(path) as store:
        assert store.authenticate_app("js/rsj/app-3", secrets[3]).id == "js/rsj/app-3"
        assert store.authenticate_operator(token)


# --------------------------------------------------------------------------- operators


def test_operator_token_created_once(store: SharingStore) -> None:
    assert not store.authenticate_operator("anything")  # no token yet: nobody is an operator
    token = store.ensure_operator_token(now=T0)
    assert token is not None and len(token) >= 32
    assert store.ensure_operator_token(now=T0) is None
    assert store.authenticate_operator(token)
    assert not store.authenticate_operator(token[:-1])
    assert not store.authenticate_operator("")


def test_operator_token_rotation(store: SharingStore) -> None:
    old = store.ensure_operator_token(now=T0)
    new = "n" * 32 + "-rotated-operator-token"
    store.set_operator_token(new, now=T0)
    assert store.authenticate_operator(new)
    assert old is not None and not store.authenticate_operator(old)
    with pytest.raises(InvalidArgument) as info:
        store.set_operator_token("short")
    assert info.value.reason == "WEAK_TOKEN"


def test_app_and_operator_credentials_never_cross(store: SharingStore) -> None:
    token = store.ensure_operator_token(now=T0)
    secret = store.create_app(APP, "app", now=T0)
    assert token is not None
    assert not store.authenticate_operator(secret)
    with pytest.raises(Unauthenticated):
        store.authenticate_app(APP, token)
    # Even the same string set as both stays two different digests in two tables.
    store.set_operator_token(secret)
    assert store.authenticate_operator(secret)
    assert store.authenticate_app(APP, secret).id == APP


# --------------------------------------------------------------------------- applications


def test_application_is_persisted_pending(store: SharingStore) -> None:
    a = apply(store)
    assert a.id.startswith("app-") and len(a.id) == 30
    assert (a.state, a.owner, a.fields, a.grant_id, a.decided_at) == (
        "pending",
        "sh",
        FIELDS,
        "",
        None,
    )
    assert store.get_application(a.id) == a


def test_list_applications(store: SharingStore) -> None:
    a = apply(store, now=T0)
    b = apply(store, app=OTHER, now=T0 + timedelta(seconds=1))
    c = apply(store, app="zj/rsj/x", now=T0 + timedelta(seconds=2))
    store.reject(b.id, "用途不明确", now=T0)
    assert [x.id for x in store.list_applications()] == [a.id, b.id, c.id]
    assert [x.id for x in store.list_applications(state="pending")] == [a.id, c.id]
    assert [x.id for x in store.list_applications(apps=[OTHER])] == [b.id]
    assert store.list_applications(apps=[]) == []
    assert [x.id for x in store.list_applications(province="js")] == [a.id, b.id]
    assert [x.id for x in store.list_applications("pending", [APP, OTHER])] == [a.id]
    with pytest.raises(InvalidArgument) as info:
        store.list_applications(state="done")
    assert info.value.reason == "BAD_STATE"


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"interface_id": "not-an-interface"}, "interface_id", "BAD_INTERFACE_ID"),
        ({"purpose": "  "}, "purpose", "MISSING_PURPOSE"),
        ({"fields": ("name", "name")}, "fields[1]", "DUPLICATE_FIELD"),
        ({"fields": ("bad field",)}, "fields[0]", "BAD_FIELD"),
        ({"valid_until": T0}, "valid_until", "BAD_VALIDITY"),
        ({"valid_until": datetime(2026, 1, 1)}, "valid_until", "BAD_TIME"),  # naive
        ({"quota": Quota(0, 10)}, "quota.per_minute", "BAD_QUOTA"),
        ({"quota": Quota(1, -1)}, "quota.per_day", "BAD_QUOTA"),
    ],
)
def test_application_validation(store: SharingStore, change: dict, field: str, reason: str) -> None:
    args = {
        "app": APP,
        "interface_id": IFACE,
        "fields": FIELDS,
        "purpose": PURPOSE,
        "valid_from": T0,
        "valid_until": T0 + timedelta(days=1),
        "quota": Quota(1, 1),
        "now": T0,
    } | change
    with pytest.raises(InvalidArgument) as info:
        store.add_application(**args)
    assert (info.value.field, info.value.reason) == (field, reason)
    assert store.list_applications() == []


def test_approve_as_asked(store: SharingStore) -> None:
    a = apply(store)
    g = store.approve(a.id, reason="同意", now=T0 + timedelta(hours=1))
    assert g.id.startswith("grant-")
    assert (g.grantee, g.blanket, g.interface_id, g.fields, g.purposes) == (
        APP,
        False,
        IFACE,
        FIELDS,
        (PURPOSE,),
    )
    assert (g.max_grade, g.valid_from, g.valid_until, g.quota) == (
        "L3",
        a.valid_from,
        a.valid_until,
        a.quota,
    )
    assert (g.state, g.application_id, g.status(T0 + timedelta(hours=1))) == (
        "active",
        a.id,
        "active",
    )
    decided = store.get_application(a.id)
    assert (decided.state, decided.grant_id, decided.reason) == ("approved", g.id, "同意")
    assert decided.decided_at == T0 + timedelta(hours=1)
    assert store.get_grant(g.id) == g


def test_approve_narrowing(store: SharingStore) -> None:
    a = apply(store, quota=Quota(10, 100))
    until = T0 + timedelta(days=7)
    g = store.approve(
        a.id,
        fields=["mobile", "name"],
        quota=Quota(5, 0),  # 0: an unset part keeps what was asked
        valid_until=until,
        max_grade="L2",
        now=T0,
    )
    assert g.fields == ("name", "mobile")  # the applicant's order
    assert (g.quota, g.valid_until, g.max_grade) == (Quota(5, 100), until, "L2")


@pytest.mark.parametrize(
    ("narrowing", "field"),
    [
        ({"fields": ["name", "bank_card"]}, "fields[1]"),
        ({"quota": Quota(11, 100)}, "quota.per_minute"),
        ({"quota": Quota(10, 101)}, "quota.per_day"),
        ({"valid_until": T0 + timedelta(days=31)}, "valid_until"),
    ],
)
def test_approve_refuses_widening(store: SharingStore, narrowing: dict, field: str) -> None:
    a = apply(store, quota=Quota(10, 100), days=30)
    with pytest.raises(InvalidArgument) as info:
        store.approve(a.id, now=T0, **narrowing)
    assert (info.value.reason, info.value.field) == ("NOT_A_NARROWING", field)
    # Nothing changed: still pending, no grant.
    assert store.get_application(a.id).state == "pending"
    assert store.list_grants(include_inactive=True) == []


def test_approve_refuses_a_past_validity(store: SharingStore) -> None:
    a = apply(store, days=30)
    with pytest.raises(InvalidArgument) as info:
        store.approve(a.id, valid_until=T0 - timedelta(days=1), now=T0)
    assert info.value.reason == "BAD_VALIDITY"
    with pytest.raises(FailedPrecondition) as expired:
        store.approve(a.id, now=T0 + timedelta(days=31))
    assert expired.value.reason == "APPLICATION_EXPIRED"
    with pytest.raises(InvalidArgument) as grade:
        store.approve(a.id, max_grade="high", now=T0)
    assert grade.value.reason == "BAD_GRADE"


def test_reject_needs_reason(store: SharingStore) -> None:
    a = apply(store)
    for reason in ("", "   "):
        with pytest.raises(InvalidArgument) as info:
            store.reject(a.id, reason, now=T0)
        assert (info.value.field, info.value.reason) == ("reason", "MISSING_REASON")
    assert store.get_application(a.id).state == "pending"
    rejected = store.reject(a.id, " 用途与接口不符 ", now=T0)
    assert (rejected.state, rejected.reason, rejected.decided_at) == (
        "rejected",
        "用途与接口不符",
        T0,
    )
    assert store.get_application(a.id) == rejected


@pytest.mark.parametrize("first", ["approve", "reject"])
@pytest.mark.parametrize("second", ["approve", "reject"])
def test_decided_application_cannot_be_decided_again(
    store: SharingStore, first: str, second: str
) -> None:
    a = apply(store)
    decide = {
        "approve": lambda: store.approve(a.id, now=T0),
        "reject": lambda: store.reject(a.id, "不同意", now=T0),
    }
    decide[first]()
    before = store.get_application(a.id)
    with pytest.raises(FailedPrecondition) as info:
        decide[second]()
    assert info.value.reason == "APPLICATION_DECIDED"
    assert store.get_application(a.id) == before
    assert len(store.list_grants(include_inactive=True)) == (1 if first == "approve" else 0)


def test_unknown_application(store: SharingStore) -> None:
    for call in (
        lambda: store.get_application("app-NOPE"),
        lambda: store.approve("app-NOPE", now=T0),
        lambda: store.reject("app-NOPE", "x", now=T0),
    ):
        with pytest.raises(NotFound) as info:
            call()
        assert info.value.reason == "APPLICATION_NOT_FOUND"


# --------------------------------------------------------------------------- grants


def test_find_grant_window(store: SharingStore) -> None:
    a = store.add_application(
        APP,
        IFACE,
        FIELDS,
        PURPOSE,
        T0 + timedelta(days=1),
        T0 + timedelta(days=2),
        Quota(1, 1),
        now=T0,
    )
    g = store.approve(a.id, now=T0)
    assert store.find_grant(APP, IFACE, T0) is None  # not yet valid
    assert store.find_grant(APP, IFACE, T0 + timedelta(days=1)) == g
    assert store.find_grant(APP, IFACE, T0 + timedelta(days=2, microseconds=-1)) == g
    assert store.find_grant(APP, IFACE, T0 + timedelta(days=2)) is None  # expired
    assert store.find_grant(OTHER, IFACE, T0 + timedelta(days=1)) is None
    assert store.find_grant(APP, "sh/rsj/other/v1", T0 + timedelta(days=1)) is None
    # The expired grant still explains a refusal.
    late = T0 + timedelta(days=3)
    assert store.latest_grant(APP, IFACE) == g and g.status(late) == "expired"


def test_revoke_stops_find_grant_immediately(store: SharingStore) -> None:
    g = granted(store)
    assert store.find_grant(APP, IFACE, T0) == g
    revoked = store.revoke_grant(g.id, "应用已下线", now=T0)
    assert (revoked.state, revoked.revoked_reason, revoked.status(T0)) == (
        "revoked",
        "应用已下线",
        "revoked",
    )
    assert store.find_grant(APP, IFACE, T0) is None
    assert store.latest_grant(APP, IFACE) == revoked
    assert store.get_grant(g.id) == revoked
    with pytest.raises(FailedPrecondition) as info:
        store.revoke_grant(g.id, "again", now=T0)
    assert info.value.reason == "GRANT_ALREADY_REVOKED"
    with pytest.raises(NotFound) as missing:
        store.revoke_grant("grant-NOPE", "x", now=T0)
    assert missing.value.reason == "GRANT_NOT_FOUND"


def blanket(store: SharingStore, province: str = "js", **kw) -> Grant:
    args = {
        "fields": ("district",),
        "purposes": ("跨省通办", "  人才 引进 "),
        "max_grade": "L2",
        "valid_until": T0 + timedelta(days=365),
        "quota": Quota(100, 10_000),
        "now": T0,
    } | kw
    return store.create_blanket_grant(province, IFACE, **args)


def test_blanket_grant(store: SharingStore) -> None:
    g = blanket(store)
    assert (g.grantee, g.blanket, g.application_id, g.valid_from) == ("js", True, "", T0)
    assert g.purposes == ("跨省通办", "人才 引进")  # stored normalised
    # Any app of the province falls back to it; apps of other provinces do not.
    assert store.find_grant(APP, IFACE, T0) == g
    assert store.find_grant("js/gaj/any-app", IFACE, T0) == g
    assert store.find_grant("zj/rsj/pension-transfer", IFACE, T0) is None


def test_own_grant_preferred_over_blanket(store: SharingStore) -> None:
    b = blanket(store)
    own = granted(store)
    assert store.find_grant(APP, IFACE, T0) == own
    assert store.find_grant(OTHER, IFACE, T0) == b
    store.revoke_grant(own.id, "收回", now=T0)
    assert store.find_grant(APP, IFACE, T0) == b
    store.revoke_grant(b.id, "收回", now=T0)
    assert store.find_grant(APP, IFACE, T0) is None
    assert store.latest_grant(APP, IFACE) == store.get_grant(own.id)  # own before blanket
    assert store.latest_grant(OTHER, IFACE) == store.get_grant(b.id)


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"province": "Jiangsu"}, "province", "BAD_PROVINCE"),
        ({"purposes": ()}, "purposes", "MISSING_PURPOSE"),
        ({"purposes": ("ok", " ")}, "purposes[1]", "MISSING_PURPOSE"),
        ({"max_grade": ""}, "max_grade", "BAD_GRADE"),
        ({"valid_until": T0}, "valid_until", "BAD_VALIDITY"),
        ({"quota": Quota(0, 0)}, "quota.per_minute", "BAD_QUOTA"),
    ],
)
def test_blanket_validation(store: SharingStore, change: dict, field: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        blanket(store, **change)
    assert (info.value.field, info.value.reason) == (field, reason)


def test_list_grants(store: SharingStore) -> None:
    own = granted(store)
    b = blanket(store, now=T0 + timedelta(seconds=1))
    gone = store.approve(apply(store).id, now=T0 + timedelta(seconds=2))
    store.revoke_grant(gone.id, "x", now=T0)
    later = T0 + timedelta(seconds=3)
    assert store.list_grants(now=later) == [own, b]  # oldest first
    assert store.list_grants(grantee="js", now=later) == [b]
    assert [g.id for g in store.list_grants(include_inactive=True)] == [own.id, b.id, gone.id]
    assert store.list_grants(interface_id="sh/x/y/v1", include_inactive=True) == []
    assert store.list_grants(now=T0 + timedelta(days=31)) == [b]  # own expired


# --------------------------------------------------------------------------- quota


def test_quota_per_minute_and_day(store: SharingStore) -> None:
    g = granted(store, quota=Quota(3, 5))
    for _ in range(3):
        store.consume_quota(g, APP, T0)
    with pytest.raises(ResourceExhausted) as minute:
        store.consume_quota(g, APP, T0 + timedelta(seconds=59))
    assert minute.value.reason == "QUOTA_MINUTE_EXCEEDED"
    nxt = T0 + timedelta(minutes=1)
    store.consume_quota(g, APP, nxt)
    store.consume_quota(g, APP, nxt)
    with pytest.raises(ResourceExhausted) as day:
        store.consume_quota(g, APP, nxt)
    assert day.value.reason == "QUOTA_DAY_EXCEEDED"
    with pytest.raises(ResourceExhausted):
        store.consume_quota(g, APP, T0 + timedelta(hours=13, minutes=59))  # 23:59 Shanghai
    store.consume_quota(g, APP, T0 + timedelta(hours=14))  # midnight in Shanghai: a new day


def test_refused_calls_do_not_consume(store: SharingStore) -> None:
    g = granted(store, quota=Quota(2, 3))
    store.consume_quota(g, APP, T0)
    store.consume_quota(g, APP, T0)
    for _ in range(10):
        with pytest.raises(ResourceExhausted):
            store.consume_quota(g, APP, T0)
    # Had the ten refusals counted, the day would be used up.
    store.consume_quota(g, APP, T0 + timedelta(minutes=1))
    with pytest.raises(ResourceExhausted) as info:
        store.consume_quota(g, APP, T0 + timedelta(minutes=2))
    assert info.value.reason == "QUOTA_DAY_EXCEEDED"


def test_quota_counts_per_app_and_grant(store: SharingStore) -> None:
    b = blanket(store, quota=Quota(1, 10))
    store.consume_quota(b, APP, T0)
    store.consume_quota(b, OTHER, T0)  # the same blanket grant, another app of js
    with pytest.raises(ResourceExhausted):
        store.consume_quota(b, APP, T0)
    own = granted(store, quota=Quota(1, 10))
    store.consume_quota(own, APP, T0)  # another grant, its own count


def test_quota_is_atomic_across_threads(store: SharingStore) -> None:
    g = granted(store, quota=Quota(50, 1000))
    results: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            try:
                store.consume_quota(g, APP, T0)
                ok = True
            except ResourceExhausted:
                ok = False
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) == 200 and results.count(True) == 50


def test_quota_counts_are_written_behind_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "sharing.db"
    with SharingStore(path) as store:
        g = granted(store, quota=Quota(3, 100))
        store.consume_quota(g, APP, T0)
        store.consume_quota(g, APP, T0)
        assert store.flush_quota() == 2  # the minute and the day counter
        assert store.flush_quota() == 0
        store.consume_quota(g, APP, T0)  # flushed by close()
    with SharingStore(path) as store:
        with pytest.raises(ResourceExhausted):
            store.consume_quota(g, APP, T0)


def test_prune_quota(store: SharingStore) -> None:
    g = granted(store, quota=Quota(100, 1000))
    for minute in range(5):
        store.consume_quota(g, APP, T0 + timedelta(minutes=minute))
    later = T0 + timedelta(days=3)
    # 5 minute windows + 1 day window, all finished three days later.
    assert store.prune_quota(later) == 6
    assert store.prune_quota(later) == 0
    store.consume_quota(g, APP, later)  # fresh windows


# --------------------------------------------------------------------------- durability

CHILD = r"""
import json, os, signal, sys
from datetime import UTC, datetime, timedelta
from gateway.postgres import Postgres
from gateway.sharing.model import Quota
from gateway.sharing.store import SharingStore

t0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
store = SharingStore(sys.argv[1])
secret = store.create_app("js/rsj/pension-transfer", "养老", now=t0)
token = store.ensure_operator_token(now=t0)
a = store.add_application("js/rsj/pension-transfer", "sh/rsj/insured-person/v1", ["name"],
                          "养老保险关系转移接续", t0, t0 + timedelta(days=30), Quota(5, 2), now=t0)
g = store.approve(a.id, now=t0)
store.consume_quota(g, "js/rsj/pension-transfer", t0)
store.flush_quota()  # the node flushes counters every second; a crash loses at most that much
rejected = store.add_application("js/rsj/pension-transfer", "sh/rsj/insured-person/v1", ["name"],
                                 "其他", t0, t0 + timedelta(days=1), Quota(1, 1), now=t0)
store.reject(rejected.id, "用途不符", now=t0)
print(json.dumps({"secret": secret, "token": token, "grant": g.id, "application": a.id,
                  "rejected": rejected.id}), flush=True)
# No close, no checkpoint, no atexit: the process dies as a killed node would.
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_state_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "var" / "sharing.db"
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    acked = json.loads(proc.stdout)
    with SharingStore(path) as store:
        assert store.authenticate_app(APP, acked["secret"]).id == APP
        assert store.authenticate_operator(acked["token"])
        assert store.ensure_operator_token() is None
        assert store.get_application(acked["application"]).grant_id == acked["grant"]
        assert store.get_application(acked["rejected"]).reason == "用途不符"
        g = store.find_grant(APP, IFACE, T0)
        assert g is not None and g.id == acked["grant"]
        # The consumed (and flushed) call counted: one of the two daily calls is left.
        store.consume_quota(g, APP, T0)
        with pytest.raises(ResourceExhausted):
            store.consume_quota(g, APP, T0 + timedelta(minutes=1))


def test_file_is_wal_and_reopens_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "sharing.db"
    with SharingStore(path) as store:
        g = granted(store)
    with SharingStore(path) as store:
        assert store.get_grant(g.id) == g
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        conn.close()
