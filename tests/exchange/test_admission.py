"""Forwarded-call admission on the owner node, without a server: hop limit, namespace, owner."""

from __future__ import annotations

import pytest

from gateway.errors import FailedPrecondition, PermissionDenied
from gateway.exchange.admission import HOPS_HEADER, MAX_HOPS, Admission
from gateway.exchange.provider import Caller
from gateway.peers import MD_HOPS

SH = Admission("sh")
OWN = "sh/gaj/resident-basic/v1"


def test_a_call_forwarded_once_by_the_apps_home_node_is_admitted() -> None:
    caller = SH.forwarded(via="js", hops="1", app="js/rsj/pension", interface_id=OWN, trace_id="t")
    assert caller == Caller(app="js/rsj/pension", via="js", trace_id="t")


def test_no_hop_count_means_one() -> None:
    assert SH.forwarded(via="js", hops=None, app="js/a/b", interface_id=OWN).via == "js"


@pytest.mark.parametrize("hops", [str(MAX_HOPS + 1), "7", "999"])
def test_more_hops_are_refused(hops: str) -> None:
    with pytest.raises(FailedPrecondition) as refused:
        SH.forwarded(via="js", hops=hops, app="js/a/b", interface_id=OWN)
    assert refused.value.reason == "HOP_LIMIT_EXCEEDED"


@pytest.mark.parametrize("hops", ["-x", "", "1.5", "-1", "-0", "0", " 1", "+1", "١", "1" * 40])
def test_a_negative_zero_or_garbled_count_is_refused_naming_the_header(hops: str) -> None:
    with pytest.raises(FailedPrecondition) as refused:
        SH.forwarded(via="js", hops=hops, app="js/a/b", interface_id=OWN)
    assert refused.value.reason == "BAD_HOP_COUNT"
    assert refused.value.metadata == {"header": HOPS_HEADER} and HOPS_HEADER == MD_HOPS
    assert refused.value.message.startswith(f"{MD_HOPS}: ")


@pytest.mark.parametrize("app", ["zj/a/b", "sh/a/b", "not-an-app", ""])
def test_a_node_may_act_only_for_apps_of_its_own_namespace(app: str) -> None:
    with pytest.raises(PermissionDenied) as refused:
        SH.forwarded(via="js", hops="1", app=app, interface_id=OWN)
    assert refused.value.reason == "NAMESPACE_VIOLATION"


@pytest.mark.parametrize("interface_id", ["js/rsj/insured-roster/v1", "garbage"])
def test_an_interface_this_node_does_not_own_is_refused(interface_id: str) -> None:
    with pytest.raises(FailedPrecondition) as refused:
        SH.forwarded(via="js", hops="1", app="js/a/b", interface_id=interface_id)
    assert refused.value.reason == "NOT_OWNER"


def test_verbs_without_an_interface_skip_the_owner_check() -> None:
    assert SH.forwarded(via="js", hops="1", app="js/a/b", interface_id=None).app == "js/a/b"


def test_listing_checks_the_namespace_only_when_an_app_is_named() -> None:
    SH.listing(via="js", app="")
    SH.listing(via="js", app="js/a/b")
    with pytest.raises(PermissionDenied) as refused:
        SH.listing(via="js", app="zj/a/b")
    assert refused.value.reason == "NAMESPACE_VIOLATION"
