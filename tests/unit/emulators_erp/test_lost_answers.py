"""Lost answers of the ERP emulator: the call acted (change logged, answer stored under its
Idempotency-Key), then its answer never came."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest
from xstream_emulators.erp import (
    ErpEmulatorConfig,
    Faults,
    FaultSpecError,
    parse_fault_flags,
    start_erp_emulator,
)

from tests.unit.emulators_erp.conftest import Erp

APPROVAL = {"process": "commercial_approval", "subject": "Supply agreement", "reference": {"document_id": 7},
            "record": {"entity": "suppliers", "id": "0000300001"}}


async def lose(erp: Erp, **spec: Any) -> None:
    await erp.admin("POST", "faults", {"lost_answer_rate": 1.0} | spec)


async def lost_answers(erp: Erp) -> int:
    return int((await erp.admin("GET", "faults"))["lost_answers"])


async def ops(erp: Erp) -> list[tuple[str, str]]:
    return [(c["entity"], c["value"]["op"]) for c in (await erp.admin("GET", "changes"))["changes"]]


async def test_a_lost_create_is_replayed_from_the_idempotency_store(erp: Erp) -> None:
    await lose(erp, operations=["records.create"])
    with pytest.raises(aiohttp.ClientConnectionError):
        await erp.call("POST", "/customers", {"name": "Acme"}, key="create-1")
    assert await ops(erp) == [("customers", "c")]  # the change is in the log before the answer was lost
    retry = await erp.call("POST", "/customers", {"name": "Acme"}, key="create-1")  # a replay is never lost
    assert (retry.status, retry.headers["Idempotent-Replayed"]) == (201, "true")
    state = await erp.admin("GET", "state")
    assert [r["id"] for r in state["records"]["customers"]] == [retry.body["id"]]
    assert retry.headers["Location"].endswith(f"/customers/{retry.body['id']}")
    assert await ops(erp) == [("customers", "c")]
    assert await lost_answers(erp) == 1


async def test_a_lost_patch_is_replayed_and_logged_once(erp: Erp) -> None:
    created = await erp.customer()
    await lose(erp, operations=["records.patch"])
    with pytest.raises(aiohttp.ClientConnectionError):
        await erp.call("PATCH", f"/customers/{created['id']}", {"owner": "jdoe"}, key="patch-1")
    retry = await erp.call("PATCH", f"/customers/{created['id']}", {"owner": "jdoe"}, key="patch-1")
    assert (retry.status, retry.headers["Idempotent-Replayed"]) == (200, "true")
    assert (retry.body["owner"], retry.body["version"], retry.headers["ETag"]) == ("jdoe", 2, '"2"')
    assert await ops(erp) == [("customers", "c"), ("customers", "u")]
    assert await lost_answers(erp) == 1


async def test_a_lost_create_without_a_key_is_run_again_by_a_retry(erp: Erp) -> None:
    await lose(erp, operations=["records.create"])
    with pytest.raises(aiohttp.ClientConnectionError):
        await erp.call("POST", "/suppliers", {"name": "S"})
    await erp.admin("POST", "faults", {})
    assert (await erp.call("POST", "/suppliers", {"name": "S"})).status == 201
    assert await ops(erp) == [("suppliers", "c"), ("suppliers", "c")]  # what a key is for


async def test_a_hang_after_the_effect_never_answers(erp: Erp) -> None:
    await lose(erp, lost_answer_kind="hang", operations=["approvals.create"])
    with pytest.raises(asyncio.TimeoutError):
        await erp.call("POST", "/approvals", APPROVAL, key="apr-1", timeout=aiohttp.ClientTimeout(total=0.3))
    retry = await erp.call("POST", "/approvals", APPROVAL, key="apr-1")
    assert (retry.status, retry.headers["Idempotent-Replayed"], retry.body["id"]) == (201, "true", "APR-000001")
    assert (await erp.admin("GET", "state"))["counts"]["approvals"] == 1
    assert await lost_answers(erp) == 1


async def test_only_successful_mutating_calls_of_the_named_operations_are_lost(erp: Erp) -> None:
    created = await erp.customer()
    await lose(erp)
    assert (await erp.call("GET", f"/customers/{created['id']}")).status == 200  # reads are never lost
    assert (await erp.call("GET", "/customers")).status == 200
    assert (await erp.call("PATCH", "/customers/nobody", {"owner": "x"})).status == 404  # refusals did nothing
    assert (await erp.call("POST", "/customers", ["not", "an", "object"], key="bad")).status == 400
    assert (await erp.call("POST", "/planets", {"name": "x"})).status == 404
    assert await lost_answers(erp) == 0
    await lose(erp, operations=["records.patch"])
    assert (await erp.call("POST", "/customers", {"name": "Answered"})).status == 201
    with pytest.raises(aiohttp.ClientConnectionError):
        await erp.call("PATCH", f"/customers/{created['id']}", {"owner": "x"})
    assert await lost_answers(erp) == 1


async def test_token_calls_are_never_lost_unless_named(http: aiohttp.ClientSession) -> None:
    form = {"grant_type": "client_credentials", "client_id": "xstream", "client_secret": "erp-secret"}
    async with await start_erp_emulator(ErpEmulatorConfig(auth="oauth2")) as emu:
        erp = Erp(http, emu, {})
        await lose(erp)
        async with http.post(emu.token_url, data=form) as r:
            assert r.status == 200
        await lose(erp, operations=["oauth.token"])
        with pytest.raises(aiohttp.ClientConnectionError):
            async with http.post(emu.token_url, data=form):
                pass
        assert await lost_answers(erp) == 1


async def test_lost_answers_are_reported_and_reset(erp: Erp) -> None:
    await lose(erp, operations=["records.create"])
    for _ in range(3):
        with pytest.raises(aiohttp.ClientConnectionError):
            await erp.call("POST", "/customers", {"name": "Acme"})
    faults = await erp.admin("GET", "faults")
    assert (faults["lost_answers"], faults["injected"], faults["lost_answer_kind"]) == (3, 0, "reset")
    assert (await erp.admin("GET", "state"))["counts"]["customers"] == 3
    await erp.admin("POST", "reset")
    assert await lost_answers(erp) == 0


def test_lost_answer_flags() -> None:
    assert parse_fault_flags("lost_answer_rate=0.1,lost_answer_kind=hang") == Faults(
        lost_answer_rate=0.1, lost_answer_kind="hang")
    assert parse_fault_flags("lost_answer_rate=1,operations=records.create|records.patch") == Faults(
        operations=("records.create", "records.patch"), lost_answer_rate=1.0)
    for bad, message in [("lost_answer_rate=1.5", "lost_answer_rate must be a number between 0 and 1"),
                         ("lost_answer_rate=x", "invalid value for lost_answer_rate: 'x'"),
                         ("lost_answer_kind=close", "lost_answer_kind must be one of ['reset', 'hang']")]:
        with pytest.raises(FaultSpecError, match=re.escape(message)):
            parse_fault_flags(bad)


async def test_bad_lost_answer_specs_are_400(erp: Erp) -> None:
    for spec in ({"lost_answer_rate": 2}, {"lost_answer_rate": "0.5"}, {"lost_answer_kind": "drop"}):
        async with erp.http.post(f"{erp.emu.admin_url}/faults", json=spec) as r:
            assert r.status == 400, spec
            assert "lost_answer" in (await r.json())["error"]["message"]
