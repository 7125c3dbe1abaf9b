"""Lost answers of the OpenText emulator: the call acted (and was saved), then its answer never came."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from xstream_emulators.opentext import (
    Faults,
    FaultSpecError,
    OpenTextEmulatorConfig,
    parse_fault_flags,
    start_opentext_emulator,
)

from tests.unit.emulators.conftest import CUSTOMER_TEMPLATE, ENTERPRISE, Api, login

BO = {"where_ext_system_id": "SAP", "where_bo_type": "KNA1", "where_bo_id": "4711"}
WORKSPACE = {"template_id": CUSTOMER_TEMPLATE, "name": "Lost Co", "ext_system_id": "SAP", "bo_type": "KNA1",
             "bo_id": "4711"}


async def lose(api: Api, **spec: Any) -> None:
    await api.admin("POST", "faults", json={"lost_answer_rate": 1.0} | spec)


async def lost_answers(api: Api) -> int:
    return int((await api.admin("GET", "faults"))["lost_answers"])


async def test_a_lost_workspace_create_leaves_exactly_one_workspace(api: Api) -> None:
    await lose(api, operations=["workspaces.create"])
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.body("POST", "/v2/businessworkspaces", WORKSPACE)
    found = await api.get("/v2/businessworkspaces", expanded_view="true", **BO)  # a GET is never lost
    assert found.status == 200 and len(found.body["results"]) == 1
    assert found.body["results"][0]["data"]["properties"]["name"] == "Lost Co"
    retry = await api.body("POST", "/v2/businessworkspaces", WORKSPACE)  # the client's retry is refused...
    assert retry.status == 400  # ...(the business object has its workspace) and a refusal is never lost
    assert [w["name"] for w in (await api.admin("GET", "state"))["workspaces"]] == ["Lost Co"]
    faults = await api.admin("GET", "faults")
    assert (faults["lost_answers"], faults["injected"], faults["lost_answer_kind"]) == (1, 0, "reset")


async def test_a_lost_upload_is_fully_stored_and_saved(http: aiohttp.ClientSession, tmp_path: Path) -> None:
    db = tmp_path / "otcs.sqlite"
    data = bytes(range(256)) * 12_288  # 3 MiB, streamed to disk in chunks
    async with await start_opentext_emulator(OpenTextEmulatorConfig(db_path=db)) as emu:
        api = Api(http, emu, await login(http, emu))
        await lose(api, operations=["nodes.create"])
        with pytest.raises(aiohttp.ClientConnectionError):
            await api.upload(ENTERPRISE, "lost.pdf", data)
        with closing(sqlite3.connect(db)) as saved:  # saved before the answer was dropped, not at stop
            names = [json.loads(row[0])["name"] for row in saved.execute("SELECT data FROM nodes")]
        assert names.count("lost.pdf") == 1
        children = await api.get(f"/v2/nodes/{ENTERPRISE}/nodes", where_name="lost.pdf")
        [doc] = [c["data"]["properties"] for c in children.body["results"]]
        assert doc["size"] == len(data)
        assert (await api.get(f"/v2/nodes/{doc['id']}/content")).raw == data
        assert await lost_answers(api) == 1


async def test_a_lost_new_version_is_stored(api: Api) -> None:
    doc = await api.document(ENTERPRISE, "Contract.pdf", b"version one")
    await lose(api, operations=["versions.add"])
    form = aiohttp.FormData()
    form.add_field("file", b"version two", filename="Contract.pdf", content_type="application/pdf")
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.call("POST", f"/v2/nodes/{doc}/versions", data=form)
    versions = (await api.get(f"/v2/nodes/{doc}/versions")).body["results"]
    assert [v["data"]["versions"]["version_number"] for v in versions] == [1, 2]
    assert (await api.get(f"/v2/nodes/{doc}/content")).raw == b"version two"


async def test_a_hang_after_the_effect_never_answers(api: Api) -> None:
    await lose(api, lost_answer_kind="hang")
    with pytest.raises(asyncio.TimeoutError):
        await api.call("POST", "/v2/nodes", data={"type": "0", "parent_id": str(ENTERPRISE), "name": "Hung folder"},
                       timeout=aiohttp.ClientTimeout(total=0.3))
    children = await api.get(f"/v2/nodes/{ENTERPRISE}/nodes", where_name="Hung folder")
    assert len(children.body["results"]) == 1
    assert await lost_answers(api) == 1


async def test_only_successful_mutating_calls_of_the_named_operations_are_lost(api: Api) -> None:
    await lose(api)
    assert (await api.get(f"/v2/nodes/{ENTERPRISE}")).status == 200  # reads are never lost
    refused = await api.body("POST", "/v2/nodes", {"type": 0, "parent_id": 999_999, "name": "Nowhere"})
    assert refused.status >= 400 and "error" in refused.body  # a refused call did nothing: answered
    unauthenticated = await api.call("POST", "/v2/nodes", ticket="forged", data={"type": "0", "name": "x"})
    assert unauthenticated.status == 401
    await lose(api, operations=["workspaces.create"])
    assert await api.folder("Answered")  # nodes.create is not among the operations
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.body("POST", "/v2/businessworkspaces", WORKSPACE)
    assert await lost_answers(api) == 1


async def test_a_lost_delete_is_resent_by_aiohttp_and_the_resend_is_refused(api: Api) -> None:
    """aiohttp's client resends an idempotent request (PUT, DELETE) once by itself after a reset: the
    caller sees the answer of the resend, here "not found" for a delete that did happen."""
    folder = await api.folder("Deleted once")
    await lose(api, operations=["nodes.delete"])
    resent = await api.call("DELETE", f"/v2/nodes/{folder}")
    assert resent.status == 500 and "error" in resent.body
    assert (await api.get(f"/v2/nodes/{folder}")).status == 400
    assert (await api.admin("GET", "calls"))["nodes.delete"] == 2
    assert await lost_answers(api) == 1


async def test_logins_and_tokens_are_never_lost_unless_named(api: Api, http: aiohttp.ClientSession) -> None:
    emu = api.emu
    await lose(api)
    assert await login(http, emu)
    async with http.post(f"{emu.otds_url}/otdsws/oauth2/token",
                         data={"grant_type": "client_credentials", "client_id": "xstream",
                               "client_secret": "xstream-secret"}) as r:
        assert r.status == 200
    assert await lost_answers(api) == 0
    await lose(api, operations=["auth.login"])
    with pytest.raises(aiohttp.ClientConnectionError):
        await login(http, emu)
    assert await lost_answers(api) == 1


async def test_losing_answers_logs_no_error_and_leaks_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    before = asyncio.all_tasks()  # the loop is shared by the session
    emu = await start_opentext_emulator(OpenTextEmulatorConfig(faults=parse_fault_flags(
        "lost_answer_rate=1,operations=nodes.create")))
    async with aiohttp.ClientSession() as http:
        api = Api(http, emu, await login(http, emu))
        others = [api.get(f"/v2/nodes/{ENTERPRISE}") for _ in range(5)]
        creates = [api.call("POST", "/v2/nodes", data={"type": "0", "parent_id": str(ENTERPRISE), "name": f"F{i}"})
                   for i in range(5)]
        results = await asyncio.gather(*others, *creates, return_exceptions=True)
        assert [getattr(r, "status", None) for r in results[:5]] == [200] * 5  # other connections are served
        assert all(isinstance(r, aiohttp.ClientConnectionError) for r in results[5:])
        assert (await api.admin("GET", "faults"))["lost_answers"] == 5
        assert len((await api.get(f"/v2/nodes/{ENTERPRISE}/nodes", where_name="F")).body["results"]) == 5
    await emu.stop()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert asyncio.all_tasks() - before == set()  # every connection handler ended


async def test_lost_answers_are_reset_with_the_state(api: Api) -> None:
    await lose(api, operations=["nodes.create"])
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.folder("Lost")
    assert await lost_answers(api) == 1
    await api.admin("POST", "reset")
    faults = await api.admin("GET", "faults")
    assert (faults["lost_answers"], faults["lost_answer_rate"]) == (0, 0.0)


@pytest.mark.parametrize(("flags", "expected"), [
    ("lost_answer_rate=0.1,lost_answer_kind=hang", Faults(lost_answer_rate=0.1, lost_answer_kind="hang")),
    ("lost_answer_rate=0.05", Faults(lost_answer_rate=0.05, lost_answer_kind="reset")),
    ("lost_answer_rate=1,operations=workspaces.create", Faults(operations=("workspaces.create",),
                                                               lost_answer_rate=1.0)),
])
def test_lost_answer_flags(flags: str, expected: Faults) -> None:
    assert parse_fault_flags(flags) == expected


@pytest.mark.parametrize(("flags", "message"), [
    ("lost_answer_rate=2", "lost_answer_rate must be a number between 0 and 1"),
    ("lost_answer_rate=often", "invalid value for lost_answer_rate"),
    ("lost_answer_kind=drop", "lost_answer_kind must be one of ['reset', 'hang']"),
])
def test_bad_lost_answer_flags_are_refused_with_a_clear_message(flags: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=re.escape(message)):
        parse_fault_flags(flags)


@pytest.mark.parametrize("spec", [{"lost_answer_rate": -0.1}, {"lost_answer_rate": True},
                                  {"lost_answer_kind": "timeout"}, {"lost_answer_kind": None}])
async def test_bad_lost_answer_specs_are_400(api: Api, spec: dict[str, Any]) -> None:
    async with api.http.post(f"{api.emu.admin_url}/faults", json=spec) as r:
        assert r.status == 400 and "lost_answer" in (await r.json())["error"]
