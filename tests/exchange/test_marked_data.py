"""Important data (重要数据, GB/T 43697-2024) on the owner: a blanket grant never covers an
interface over marked data, an app grant naming it does, and the owner's audit records the mark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from gateway.audit.log import AuditLog
from gateway.errors import PermissionDenied
from gateway.exchange.backends import BackendPool
from gateway.exchange.calls import Call
from gateway.exchange.dataset import ensure_dataset, sample_values
from gateway.exchange.provider import Caller, Provider
from gateway.sharing.model import Quota
from gateway.sharing.store import SharingStore
from tests.support.federation import shipped_interfaces

VERIFY = "sh/gaj/hukou-verify/v1"
APP = "js/gaj/hukou-check"
PURPOSE = "户籍业务跨省通办核验"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sh-data") / "dataset.db"
    ensure_dataset(path, "sh", people=200, seed=5)
    return path


@pytest_asyncio.fixture
async def owner(tmp_path, dataset):
    standard, interfaces = shipped_interfaces("sh")
    store = SharingStore(tmp_path / "sharing.db")
    audit = AuditLog(tmp_path / "audit.db", "sh")
    pool = BackendPool(dataset_path=dataset)
    provider = Provider(
        "sh",
        interfaces,
        store,
        pool.for_interfaces(interfaces.values()),
        standard,
        audit,
        clock=lambda: NOW,
    )
    yield provider, store, audit
    await pool.close()
    audit.close()
    store.close()


def verify_call(dataset: Path) -> Call:
    person = sample_values(dataset)
    return Call(VERIFY, {"id_number": person["id_number"], "name": person["name"]}, PURPOSE)


def test_the_population_register_verify_interface_is_marked() -> None:
    standard, interfaces = shipped_interfaces("sh")
    assert interfaces[VERIFY].data_mark == "important"
    assert standard.data_marks["important"].name == "重要数据"


async def test_a_blanket_grant_never_covers_marked_data(owner, dataset) -> None:
    provider, store, audit = owner
    store.create_blanket_grant(
        "js",
        VERIFY,
        ["id_number", "name"],
        [PURPOSE],
        "L3",
        NOW + timedelta(days=30),
        Quota(100, 10_000),
        NOW,
    )
    with pytest.raises(PermissionDenied) as refused:
        await provider.invoke(Caller(APP, "js", trace_id="cd" * 16), verify_call(dataset))
    assert refused.value.reason == "MARKED_DATA_NEEDS_APP_GRANT"
    [denied] = audit.query(decision="deny")
    assert denied.record.reason == "MARKED_DATA_NEEDS_APP_GRANT"
    assert denied.record.extra == {"data_mark": "important"}


async def test_an_app_grant_naming_it_covers_marked_data_and_the_audit_says_so(
    owner, dataset
) -> None:
    provider, store, audit = owner
    application = store.add_application(
        APP,
        VERIFY,
        ["id_number", "name"],
        PURPOSE,
        NOW,
        NOW + timedelta(days=30),
        Quota(100, 10_000),
        now=NOW,
    )
    store.approve(application.id, now=NOW)
    result = await provider.invoke(Caller(APP, "js", trace_id="ef" * 16), verify_call(dataset))
    assert result.verify_only and result.match
    [allowed] = audit.query(decision="allow")
    assert allowed.record.extra == {"match": True, "data_mark": "important"}
    assert audit.verify().ok
