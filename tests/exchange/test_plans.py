"""The owner's plan cache answers exactly what ``plan_release`` answers, and never outlives the
grant terms it was worked out for."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.errors import PermissionDenied
from gateway.exchange.plans import ReleasePlans
from gateway.exchange.policy import plan_release
from gateway.standard import Standard
from tests.exchange.test_policy import GRANTS, QUERY, VERIFY, grant, standard  # noqa: F401


@pytest.mark.parametrize("grant_name", sorted(GRANTS))
@pytest.mark.parametrize("requested", [(), ("name", "mobile"), ("gender",)])
def test_a_cached_plan_is_the_plan(standard: Standard, grant_name: str, requested) -> None:  # noqa: F811
    plans = ReleasePlans(standard)
    g = GRANTS[grant_name]
    try:
        expected = plan_release(QUERY, g, requested, standard)
    except PermissionDenied as exc:
        with pytest.raises(PermissionDenied) as again:
            plans.prepare(QUERY, g, requested)
        assert again.value.reason == exc.reason
        return
    first = plans.prepare(QUERY, g, requested)
    assert first.plan == expected
    assert plans.prepare(QUERY, g, list(requested)) is first  # the second call: no new work
    assert [n.field for n in first.masked] == [a.field for a in expected.masked]
    assert [n.field for n in first.dropped] == [a.field for a in expected.dropped]
    assert first.allowed == {
        "yrd.decision": "allow",
        "yrd.grant": g.id,
        "yrd.grade": expected.grade or "-",
    }


def test_changed_grant_terms_get_a_new_plan(standard: Standard) -> None:  # noqa: F811
    plans = ReleasePlans(standard)
    wide = grant(max_grade="L3")
    assert "name" in plans.prepare(QUERY, wide, ()).plan.fields
    # The same grant id with narrower terms (a view rebuilt after a change): planned afresh.
    narrow = replace(wide, max_grade="L1")
    assert plans.prepare(QUERY, narrow, ()).plan == plan_release(QUERY, narrow, (), standard)
    assert "name" not in plans.prepare(QUERY, narrow, ()).plan.fields
    # An equal grant rebuilt as a new object reuses the plan and is remembered.
    again = replace(wide)
    assert plans.prepare(QUERY, again, ()).grant is again


def test_refusals_are_not_cached_and_the_cache_is_bounded(standard: Standard) -> None:  # noqa: F811
    plans = ReleasePlans(standard, limit=2)
    with pytest.raises(PermissionDenied):
        plans.prepare(QUERY, grant(fields=("gender",)), ("name",))
    assert plans.prepare(QUERY, grant(), ("name",)).plan.fields == ("name",)
    for fields in [("gender",), ("mobile",), ("district",)]:
        plans.prepare(QUERY, grant(), fields)
    assert len(plans._plans) <= 2
    assert plans.prepare(VERIFY, grant(interface_id=VERIFY.id), ()).plan.released == ()
