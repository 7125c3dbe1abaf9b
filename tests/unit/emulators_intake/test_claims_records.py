"""The ERP emulator as the claims system and the CRM for flow F5: cases, payments and policies are
record collections whose creates reach the change log as Debezium events keyed ``{"id": ...}``.
A field sent as null (a payment without a claim) is absent from ``after``: creates are merge patches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from xstream_emulators.erp import ENTITIES, ErpEmulatorConfig, RunningErpEmulator, start_erp_emulator

CASE = {"id": "CLM-2026-00042", "case_type": "claim", "customer_id": "CUS-000007", "customer_name": "Ann Lee",
        "customer_email": "ann@example.com", "status": "open", "handler": "b.meier", "policy_number": "PN-1001",
        "opened_at": "2026-03-02T08:00:00Z"}
PAYMENT = {"id": "PAY-2026-0001", "customer_id": "CUS-000007", "claim_id": "CLM-2026-00042", "amount": 1250.5,
           "currency": "EUR", "paid_at": "2026-03-05T12:00:00Z"}
POLICY = {"id": "PN-1001", "customer_id": "CUS-000007", "region": "EMEA", "product": "home", "insured_sum": 250000}
SYSTEM = {"version", "created_at", "updated_at", "last_changed_by", "last_causation"}


@pytest.fixture
async def erp() -> AsyncIterator[RunningErpEmulator]:
    async with await start_erp_emulator(ErpEmulatorConfig()) as emu:
        yield emu


async def test_the_f5_entities_are_there() -> None:
    assert {"cases", "payments", "policies"} <= set(ENTITIES)


@pytest.mark.parametrize(("entity", "fields"), [("cases", CASE), ("payments", PAYMENT), ("policies", POLICY),
                                                ("payments", PAYMENT | {"id": "PAY-2026-0002", "claim_id": None})])
async def test_a_record_made_by_an_erp_user_is_one_create_event_keyed_by_its_id(
        erp: RunningErpEmulator, entity: str, fields: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{erp.admin_url}/records/{entity}", json=fields) as r:
            assert r.status == 201
        async with http.get(f"{erp.admin_url}/changes", params={"since": "0", "entity": entity}) as r:
            change, = (await r.json())["changes"]
    assert change["entity"] == entity and change["key"] == {"id": fields["id"]}
    value = change["value"]
    assert (value["op"], value["before"], value["source"]["table"]) == ("c", None, entity)
    after = value["after"]
    given = {k: v for k, v in fields.items() if v is not None}  # a create is a merge patch: null means absent
    assert set(after) == set(given) | {"status", "links"} | SYSTEM
    assert {k: after[k] for k in given} == given and after["links"] == {}
    assert after["status"] == fields.get("status", "active")
    assert (after["version"], after["last_changed_by"], after["last_causation"]) == (1, "erp-user", None)
