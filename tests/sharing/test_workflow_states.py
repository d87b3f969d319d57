"""Stateful properties of the sharing workflow (申请-审核-授权) and of quota counting.

Hypothesis drives a real ``SharingService`` (temp SQLite file, audit log, injected clock) and a
real ``SharingStore``'s quota counter through random sequences of steps, checking each against a
small reference model after every step. Example counts are modest: a few seconds in all.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)

from gateway.audit.log import AuditLog
from gateway.errors import FailedPrecondition, GatewayError, ResourceExhausted
from gateway.exchange.provider import Provider
from gateway.sharing.model import Quota
from gateway.sharing.service import ApplyInput, Narrowing, SharingService
from gateway.sharing.store import SharingStore
from tests.support.federation import shipped_interfaces
from tests.support.names import PURPOSE, RESIDENT

STANDARD, INTERFACES = shipped_interfaces("sh")
FIELDS = ("name", "gender", "id_number", "household_type")
APPS = ("sh/rsj/pension-transfer", "sh/ybj/medical-transfer")
START = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None
"""Each example opens fresh SQLite files; on tmpfs their fsyncs cost nothing (41 s -> a few)."""
SETTINGS = settings(
    max_examples=20,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclass
class ModelApplication:
    app: str
    fields: tuple[str, ...]
    valid_until: datetime
    state: str = "pending"


@dataclass
class ModelGrant:
    app: str
    fields: tuple[str, ...]
    created_at: datetime
    valid_until: datetime
    revoked: bool = False

    def active(self, now: datetime) -> bool:
        return not self.revoked and now < self.valid_until


class SharingWorkflow(RuleBasedStateMachine):
    """apply / approve / reject / revoke / let time pass, against a model of who may call."""

    applications = Bundle("applications")
    grants = Bundle("grants")

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="yrd-states-", dir=SCRATCH))
        self.now = START
        self.loop = asyncio.new_event_loop()
        self.store = SharingStore(self.dir / "sharing.db")
        self.audit = AuditLog(self.dir / "audit.db", "sh")
        provider = Provider("sh", INTERFACES, self.store, {}, STANDARD, self.audit)
        self.service = SharingService(
            "sh",
            self.store,
            provider,
            {},
            self.audit,
            standard_grades=tuple(STANDARD.grades),
            clock=lambda: self.now,
        )
        self.model_apps: dict[str, ModelApplication] = {}
        self.model_grants: dict[str, ModelGrant] = {}
        self.decisions = 0

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def refused(self, coro) -> GatewayError:
        try:
            self.run(coro)
        except GatewayError as exc:
            return exc
        raise AssertionError("expected a refusal")

    def teardown(self) -> None:
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()
        self.audit.close()
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- steps ------------------------------------------------------------------------------

    @rule(
        target=applications,
        app=st.sampled_from(APPS),
        fields=st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4, unique=True),
        days=st.integers(min_value=1, max_value=10),
    )
    def apply(self, app, fields, days):
        until = self.now + timedelta(days=days)
        request = ApplyInput(
            RESIDENT, tuple(fields), PURPOSE, "", until.isoformat(), Quota(10, 100)
        )
        application = self.run(self.service.apply(app, request, time_remaining=None))
        assert (application.state, application.app, application.fields) == (
            "pending",
            app,
            tuple(fields),
        )
        self.model_apps[application.id] = ModelApplication(app, tuple(fields), until)
        return application.id

    @rule(target=grants, application_id=applications, narrow=st.booleans())
    def approve(self, application_id, narrow):
        asked = self.model_apps[application_id]
        narrowing = Narrowing(fields=asked.fields[:1] if narrow else ())
        if asked.state != "pending" or asked.valid_until <= self.now:
            error = self.refused(self.service.approve("op", application_id, narrowing))
            assert isinstance(error, FailedPrecondition)
            assert error.reason == (
                "APPLICATION_DECIDED" if asked.state != "pending" else "APPLICATION_EXPIRED"
            )
            return multiple()
        grant = self.run(self.service.approve("op", application_id, narrowing))
        asked.state = "approved"
        self.decisions += 1
        fields = narrowing.fields or asked.fields
        assert (grant.grantee, grant.fields, grant.valid_until) == (
            asked.app,
            fields,
            asked.valid_until,
        )
        self.model_grants[grant.id] = ModelGrant(asked.app, fields, self.now, asked.valid_until)
        return grant.id

    @rule(application_id=applications)
    def reject(self, application_id):
        asked = self.model_apps[application_id]
        if asked.state != "pending":
            error = self.refused(self.service.reject("op", application_id, "不予批准"))
            assert error.reason == "APPLICATION_DECIDED"
            return
        application = self.run(self.service.reject("op", application_id, "不予批准"))
        assert application.state == "rejected" and application.reason == "不予批准"
        asked.state = "rejected"
        self.decisions += 1

    @rule(grant_id=grants)
    def revoke(self, grant_id):
        model = self.model_grants[grant_id]
        if model.revoked:
            error = self.refused(self.service.revoke_grant("op", grant_id, "收回"))
            assert error.reason == "GRANT_ALREADY_REVOKED"
            return
        grant = self.run(self.service.revoke_grant("op", grant_id, "收回"))
        assert grant.state == "revoked"
        model.revoked = True
        self.decisions += 1

    @rule(hours=st.integers(min_value=1, max_value=24 * 4))
    def time_passes(self, hours):
        self.now += timedelta(hours=hours)

    # -- what must hold after every step ----------------------------------------------------

    @invariant()
    def applications_match(self):
        stored = {a.id: a.state for a in self.store.list_applications()}
        assert stored == {i: a.state for i, a in self.model_apps.items()}

    @invariant()
    def active_grants_match(self):
        active = {g.id for g in self.store.list_grants(now=self.now)}
        assert active == {i for i, g in self.model_grants.items() if g.active(self.now)}
        for grant_id, model in self.model_grants.items():
            status = self.store.get_grant(grant_id).status(self.now)
            expected = (
                "revoked" if model.revoked else "active" if model.active(self.now) else "expired"
            )
            assert status == expected, grant_id

    @invariant()
    def a_call_runs_under_the_newest_active_grant_or_none(self):
        for app in APPS:
            found = self.store.find_grant(app, RESIDENT, self.now)
            mine = {i: g for i, g in self.model_grants.items() if g.app == app}
            active = [i for i, g in mine.items() if g.active(self.now)]
            if not active:
                assert found is None
                continue
            assert found is not None and found.id in active
            assert found.created_at == max(mine[i].created_at for i in active)

    @invariant()
    def every_decision_is_audited(self):
        assert self.audit.verify().ok
        decided = [
            e
            for e in self.audit.query(limit=10_000)
            if e.record.action in ("approve", "reject", "revoke_grant")
        ]
        assert len(decided) == self.decisions


SharingWorkflow.TestCase.settings = SETTINGS
test_sharing_workflow = SharingWorkflow.TestCase


# --------------------------------------------------------------------------- quota


@dataclass
class QuotaModel:
    per_minute: int
    per_day: int
    used: dict[tuple[str, str, int], int] = field(default_factory=dict)
    """(app, "minute" | "day", window) -> calls counted."""


def windows(now: datetime) -> tuple[int, int]:
    """The minute since the epoch and the day in China Standard Time (UTC+8)."""
    seconds = int(now.timestamp())
    return seconds // 60, (seconds + 8 * 3600) // 86_400


class QuotaCounter(RuleBasedStateMachine):
    """consume / let time pass / flush and reopen the store, against plain counting."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="yrd-quota-", dir=SCRATCH))
        self.store = SharingStore(self.dir / "sharing.db")
        self.now = START
        self.grant = None
        self.model: QuotaModel | None = None

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @initialize(
        per_minute=st.integers(min_value=1, max_value=4),
        per_day=st.integers(min_value=1, max_value=12),
        start=st.integers(min_value=0, max_value=86_400 * 2),
    )
    def grant_with_quota(self, per_minute, per_day, start):
        self.now = START + timedelta(seconds=start)
        self.grant = self.store.create_blanket_grant(
            "js",
            RESIDENT,
            ["gender"],
            [PURPOSE],
            "L2",
            self.now + timedelta(days=30),
            Quota(per_minute, per_day),
            now=self.now,
        )
        self.model = QuotaModel(per_minute, per_day)

    @rule(app=st.sampled_from(("js/rsj/a", "js/rsj/b")))
    def consume(self, app):
        model = self.model
        minute, day = windows(self.now)
        in_minute = model.used.get((app, "minute", minute), 0)
        in_day = model.used.get((app, "day", day), 0)
        if in_minute >= model.per_minute or in_day >= model.per_day:
            try:
                self.store.consume_quota(self.grant, app, self.now)
            except ResourceExhausted as exc:
                expected = (
                    "QUOTA_MINUTE_EXCEEDED"
                    if in_minute >= model.per_minute
                    else "QUOTA_DAY_EXCEEDED"
                )
                assert exc.reason == expected
            else:
                raise AssertionError("over quota, yet counted")
            return
        self.store.consume_quota(self.grant, app, self.now)
        model.used[(app, "minute", minute)] = in_minute + 1
        model.used[(app, "day", day)] = in_day + 1

    @rule(seconds=st.sampled_from((1, 29, 59, 60, 61, 3600, 6 * 3600, 86_400)))
    def time_passes(self, seconds):
        self.now += timedelta(seconds=seconds)

    @rule()
    def flush_and_reopen(self):
        self.store.flush_quota(self.now)
        self.store.close()
        self.store = SharingStore(self.dir / "sharing.db")

    @rule()
    def prune(self):
        # Finished windows may go; the current ones (and the one before) must stay counted.
        self.store.prune_quota(self.now)


QuotaCounter.TestCase.settings = settings(SETTINGS, max_examples=30, stateful_step_count=30)
test_quota_counter = QuotaCounter.TestCase
