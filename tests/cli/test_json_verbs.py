"""Every ``--json`` verb of ``yrdgw`` against two real nodes: the JSON says what happened (not
just that it parses), counts are numbers, refusals exit non-zero naming the reason and node."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import pytest

from gateway._pb.yrd.v1 import exchange_pb2, exchange_pb2_grpc
from gateway.checkdigits import is_valid_credit_code, is_valid_resident_id
from gateway.client import open_channel
from gateway.credentials import app_secret
from gateway.server.identity import MD_APP_ID, MD_APP_SECRET
from tests.support.cli import CliFederation
from tests.support.names import PURPOSE, RESIDENT, ROSTER

in_module_loop = pytest.mark.asyncio(loop_scope="module")

LICENSE = "sh/scjgj/business-license/v1"


async def create_app(cli: CliFederation, app: str) -> dict:
    doc = (await cli.yrdgw("app", "create", app, "--name", "测试应用", "--json")).json()
    assert doc["app"] == app and doc["node"] == app[:2]
    return doc


async def apply(cli: CliFederation, app: str, interface: str, *fields: str, **quota) -> dict:
    args = ["apply", interface, "--app", app, "--purpose", PURPOSE, "--json"]
    for f in fields:
        args += ["--field", f]
    for key, value in quota.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return (await cli.yrdgw(*args)).json()


def first_tokens(cli: CliFederation, app: str, secret: str, district: str, n: int) -> list[str]:
    """The resume tokens of a roster stream's first ``n`` batches (then the app hangs up)."""
    with open_channel(cli.fed, "js", insecure=False) as channel:
        stream = exchange_pb2_grpc.ExchangeStub(channel).InvokeStream(
            exchange_pb2.InvokeStreamRequest(
                call=exchange_pb2.InvokeRequest(
                    interface_id=ROSTER, params={"district": district}, purpose=PURPOSE
                ),
                batch_size=4,
            ),
            metadata=((MD_APP_ID, app), (MD_APP_SECRET, secret)),
            timeout=30,
        )
        tokens = [batch.resume_token for _, batch in zip(range(n), stream, strict=False)]
        stream.cancel()
    return tokens


@in_module_loop
async def test_app_create_json_names_the_secret_file_which_is_private(cli_federation):
    doc = await create_app(cli_federation, "js/rsj/cli-create")
    assert set(doc) == {"app", "node", "secret_file"}
    mode = stat.S_IMODE(os.stat(doc["secret_file"]).st_mode)
    assert mode == 0o600
    secret = app_secret(cli_federation.fed, "js/rsj/cli-create")
    assert len(secret) >= 32 and secret not in json.dumps(doc)


@in_module_loop
async def test_apply_approve_grants_call_revoke_as_json(cli_federation):
    cli = cli_federation
    app = "js/rsj/cli-workflow"
    await create_app(cli, app)

    application = await apply(
        cli, app, RESIDENT, "id_number", "name", "gender", per_minute=50, per_day=500
    )
    assert application["state"] == "pending" and application["owner"] == "sh"
    assert application["app"] == app and application["interface_id"] == RESIDENT
    assert application["fields"] == ["id_number", "name", "gender"]
    assert application["quota"] == {"per_minute": 50, "per_day": 500}
    assert application["purpose"] == PURPOSE and application["grant_id"] == ""

    grant = (
        await cli.yrdgw(
            "approve", application["id"], "--node", "sh", "--field", "id_number",
            "--field", "name", "--per-minute", "20", "--max-grade", "L3", "--json",
        )
    ).json()  # fmt: skip
    assert grant["grantee"] == app and grant["state"] == "active" and not grant["blanket"]
    assert grant["fields"] == ["id_number", "name"] and grant["max_grade"] == "L3"
    assert grant["quota"] == {"per_minute": 20, "per_day": 500}
    assert grant["application_id"] == application["id"] and grant["purposes"] == [PURPOSE]

    listed = (await cli.yrdgw("grants", "--node", "sh", "--json")).json()
    assert grant["id"] in [g["id"] for g in listed["grants"]]
    assert [g for g in listed["grants"] if g["id"] == grant["id"]] == [grant]

    # The application shows what was granted, and what was asked where the approval narrowed it:
    # to the app (through its home node) and to the owner's operator, as JSON and as text.
    mine = (await cli.yrdgw("applications", "--app", app, "--json")).json()["applications"]
    [approved] = [a for a in mine if a["id"] == application["id"]]
    assert approved["state"] == "approved" and approved["grant_id"] == grant["id"]
    assert approved["granted_fields"] == ["id_number", "name"]
    assert approved["fields"] == ["id_number", "name", "gender"]
    text = await cli.yrdgw("applications", "--node", "sh")
    [line] = [x for x in text.out.splitlines() if x.startswith(application["id"])]
    assert "id_number,name (asked: id_number,name,gender)" in line, line

    person = cli.samples("sh")
    called = (
        await cli.yrdgw(
            "call", RESIDENT, "--app", app, "--param", f"id_number={person['id_number']}",
            "--purpose", PURPOSE, "--json",
        )
    ).json()  # fmt: skip
    assert called["served_by"] == "sh" and called["grade"] == "L3"
    [record] = called["records"]
    assert set(record) == {"id_number", "name"}
    assert record["id_number"][:6] == person["id_number"][:6] and "*" in record["id_number"]
    assert {m["field"] for m in called["masked_fields"]} == {"id_number", "name"}
    assert len(called["trace_id"]) == 32 and len(called["provider_audit_hash"]) == 64

    revoked = (
        await cli.yrdgw("revoke", grant["id"], "--node", "sh", "--reason", "到期清理", "--json")
    ).json()
    assert (revoked["id"], revoked["state"], revoked["revoked_reason"]) == (
        grant["id"],
        "revoked",
        "到期清理",
    )
    refused = await cli.yrdgw(
        "call", RESIDENT, "--app", app, "--param", f"id_number={person['id_number']}",
        "--purpose", PURPOSE, "--json",
    )  # fmt: skip
    assert refused.code == 1 and refused.out == ""
    assert "PERMISSION_DENIED GRANT_REVOKED (refused by sh)" in refused.err

    again = await cli.yrdgw("revoke", grant["id"], "--node", "sh", "--json")
    assert again.code == 1 and "GRANT_ALREADY_REVOKED" in again.err and again.out == ""


@in_module_loop
async def test_reject_json_carries_the_reason_and_ends_the_application(cli_federation):
    cli = cli_federation
    app = "js/rsj/cli-reject"
    await create_app(cli, app)
    application = await apply(cli, app, RESIDENT, "gender")
    rejected = (
        await cli.yrdgw(
            "reject", application["id"], "--node", "sh", "--reason", "用途不明确", "--json"
        )
    ).json()
    assert (rejected["id"], rejected["state"], rejected["reason"]) == (
        application["id"],
        "rejected",
        "用途不明确",
    )
    assert rejected["decided_at"] and rejected["grant_id"] == ""
    for who in (["--node", "sh"], ["--app", app]):  # the owner's operator, then the app
        listed = (await cli.yrdgw("applications", *who, "--state", "rejected", "--json")).json()
        assert rejected in listed["applications"], who
        assert listed["unavailable"] == []
    late = await cli.yrdgw("approve", application["id"], "--node", "sh", "--json")
    assert late.code == 1 and late.out == "" and "FAILED_PRECONDITION" in late.err


@in_module_loop
async def test_blanket_grant_json(cli_federation):
    cli = cli_federation
    grant = (
        await cli.yrdgw(
            "grant", "--province", "js", "--interface", LICENSE, "--node", "sh",
            "--field", "name", "--field", "enterprise_type", "--purpose", "跨省通办",
            "--max-grade", "L1", "--per-minute", "30", "--json",
        )
    ).json()  # fmt: skip
    assert grant["blanket"] is True and grant["grantee"] == "js"
    assert grant["interface_id"] == LICENSE and grant["fields"] == ["name", "enterprise_type"]
    assert grant["max_grade"] == "L1" and grant["purposes"] == ["跨省通办"]
    assert grant["quota"] == {"per_minute": 30, "per_day": 100_000}
    assert grant["application_id"] == "" and grant["state"] == "active"

    bad = await cli.yrdgw(
        "grant", "--province", "js", "--interface", LICENSE, "--node", "sh",
        "--purpose", "跨省通办", "--max-grade", "L9", "--json",
    )  # fmt: skip
    assert bad.code == 1 and bad.out == "" and "INVALID_ARGUMENT UNKNOWN_GRADE" in bad.err


@in_module_loop
async def test_fetch_resume_token_continues_exactly_where_a_batch_ended(cli_federation):
    cli = cli_federation
    app = "js/rsj/cli-fetch"
    doc = await create_app(cli, app)
    application = await apply(cli, app, ROSTER, "record_id", "name", "district")
    await cli.yrdgw("approve", application["id"], "--node", "sh", "--json")
    district = cli.samples("sh")["district"]
    base = ["fetch", ROSTER, "--app", app, "--param", f"district={district}"]
    base += ["--purpose", PURPOSE, "--batch-size", "4", "--json"]

    whole = await cli.yrdgw(*base)
    assert whole.code == 0, whole.err
    records = [json.loads(line) for line in whole.out.splitlines()]
    summary = json.loads(whole.err.strip().splitlines()[-1])
    assert summary["count"] == len(records) > 8
    assert summary["batches"] == -(-len(records) // 4)
    ids = [r["record_id"] for r in records]
    assert len(set(ids)) == len(ids)

    # The token after the second batch, as an interrupted transfer would have kept it.
    secret = Path(doc["secret_file"]).read_text().strip()
    tokens = await asyncio.to_thread(first_tokens, cli, app, secret, district, 2)
    resumed = await cli.yrdgw(*base, "--resume-token", tokens[1])
    assert resumed.code == 0, resumed.err
    rest = [json.loads(line)["record_id"] for line in resumed.out.splitlines()]
    assert rest == ids[8:]
    assert json.loads(resumed.err.strip().splitlines()[-1]) == {
        "count": len(ids) - 8,
        "batches": summary["batches"] - 2,
        "resume_token": summary["resume_token"],
    }

    at_end = await cli.yrdgw(*base, "--resume-token", summary["resume_token"])
    assert at_end.code == 0 and at_end.out == ""
    assert json.loads(at_end.err.strip().splitlines()[-1])["count"] == 0

    other = ["fetch", ROSTER, "--app", app, "--param", "district=不存在区"]
    wrong = await cli.yrdgw(*other, "--purpose", PURPOSE, "--json", "--resume-token", tokens[1])
    assert wrong.code == 1 and "INVALID_ARGUMENT BAD_RESUME_TOKEN (refused by sh)" in wrong.err
    # A refused fetch prints the refusal alone: no summary of nothing received.
    assert "resume token" not in wrong.err and "count" not in wrong.err, wrong.err
    plain = await cli.yrdgw(*other, "--purpose", PURPOSE, "--resume-token", tokens[1])
    assert plain.code == 1 and plain.err.strip().splitlines()[0].startswith("error:"), plain.err
    assert "0 records" not in plain.err, plain.err


@in_module_loop
async def test_search_json_counts_are_numbers(cli_federation):
    doc = (await cli_federation.yrdgw("search", "户籍", "--via", "sh", "--json")).json()
    assert isinstance(doc["total"], int) and doc["total"] > 0
    assert {p["province"]: p["state"] for p in doc["provinces"]} == {
        "js": "answered",
        "sh": "answered",
    }
    assert sum(p["total"] for p in doc["provinces"]) == doc["total"]
    counts = [v["count"] for values in doc["facets"].values() for v in values]
    assert counts and all(isinstance(c, int) and c > 0 for c in counts)
    assert sum(v["count"] for v in doc["facets"]["province"]) == doc["total"]


@in_module_loop
async def test_get_shows_a_grade_without_an_empty_label_and_the_data_mark(cli_federation):
    # A published interface's resource has no provincial grade label: "grade: L3", never "L3 ()".
    verify = await cli_federation.yrdgw("get", "101001/310002", "--via", "js")
    assert verify.code == 0, verify.err
    assert "  grade: L3\n" in verify.out and "()" not in verify.out, verify.out
    assert "  data mark: 重要数据 (important)\n" in verify.out, verify.out
    doc = (await cli_federation.yrdgw("get", "101001/310002", "--via", "js", "--json")).json()
    assert (doc["data_mark"], doc["data_mark_name"]) == ("important", "重要数据")
    plain = await cli_federation.yrdgw("get", "101001/310001", "--via", "js")
    assert "data mark" not in plain.out and "()" not in plain.out, plain.out
    # A seeded entry keeps its province's own label beside the grade.
    found = (await cli_federation.yrdgw("search", "户籍", "--via", "sh", "--json")).json()
    seeded = next(r for r in found["results"] if r["local_grade"])
    shown = await cli_federation.yrdgw("get", seeded["code"], "--via", "js")
    assert f"  grade: {seeded['grade']} ({seeded['local_grade']})\n" in shown.out, shown.out


@in_module_loop
async def test_interfaces_examples_give_valid_parameters_for_every_interface(cli_federation):
    # A valid credit code, district and ID number are discoverable without opening a dataset.
    cli = cli_federation
    app = "js/rsj/cli-examples"
    await create_app(cli, app)
    doc = (
        await cli.yrdgw("interfaces", "--app", app, "--province", "sh", "--examples", "--json")
    ).json()
    examples = doc["examples"]
    assert {i["id"] for i in doc["interfaces"]} == set(examples)
    for interface in doc["interfaces"]:
        required = {p["name"] for p in interface["params"] if p["required"]}
        assert required <= set(examples[interface["id"]]), interface["id"]
    values = {k: v for params in examples.values() for k, v in params.items()}
    assert is_valid_credit_code(values["credit_code"]), values
    assert is_valid_resident_id(values["id_number"]), values
    assert values["district"] == cli.samples("sh")["district"]
    text = await cli.yrdgw("interfaces", "--app", app, "--province", "sh", "--examples")
    assert f"--param credit_code={values['credit_code']}" in text.out, text.out
    assert "district=" in text.out
