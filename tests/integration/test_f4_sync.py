"""Flows F1 + F4 driven by the source systems: ERP, CRM and project tool records (emulators with a
Debezium-like change feed) -> workspaces -> links written back -> their CDC echoes dropped -> status
changes in the source reach the workspace."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.integration.conftest import Stack
from tests.integration.test_f1_workspaces import TIMEOUT_S, quiet, statuses, workspaces_by_bo
from xstream.topics import Role

pytestmark = pytest.mark.integration

SUPPLIERS = [
    {"id": f"00003000{i:02d}", "supplier_id": f"00003000{i:02d}", "name": f"Supplier {i}", "purchaser": "k.tanaka",
     "country": country, "posting_block": False}
    for i, country in enumerate(["DE", "US", "JP"])
]
ACCOUNTS = [
    {"id": "001A0000001", "account_id": "001A0000001", "account_number": "CRM-1", "name": "Hooli Europe",
     "type": "Customer", "owner_email": "a.schmidt@example.com", "billing_region": "EMEA", "stage": "Active"},
    {"id": "001A0000002", "account_id": "001A0000002", "account_number": "CRM-2", "name": "Pied Piper",
     "type": "Prospect", "owner_email": "j.doe@example.com", "billing_region": "AMER", "stage": "Lead"},
]
PROJECTS = [
    {"id": "PRJ-2025-017", "project_key": "PRJ-2025-017", "title": "Warehouse Automation",
     "programme": "Logistics 2025", "manager": "m.rossi", "region": "Europe", "state": "open"},
]


async def metric(stack: Stack, name: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"{stack.workers[-1].base_url}/metrics") as resp:
        text = await resp.text()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


async def records(stack: Stack, target: str, entity: str) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in (await stack.admin("state", target=target))["records"][entity]}


async def test_source_records_get_workspaces_links_back_and_status_changes_without_echo_loops(stack: Stack) -> None:
    for row in SUPPLIERS:
        await stack.admin("records/suppliers", "POST", row, target="erp")
    for row in ACCOUNTS:
        await stack.admin("records/accounts", "POST", row, target="crm")
    for row in PROJECTS:
        await stack.admin("records/projects", "POST", row, target="project_tool")
    seeded = (await stack.admin("calls", target="erp"))["state_changing"]
    await stack.forward_cdc("erp", lambda entity: f"erp.cdc.{entity}")
    await stack.forward_cdc("crm", lambda entity: f"crm.cdc.{entity}")
    await stack.forward_cdc("project_tool", lambda entity: f"projects.cdc.{entity}")
    collector = await stack.collect(Role.STATUS, Role.DEAD_LETTER)
    stack.start_worker()
    linked = {"erp": len(SUPPLIERS), "crm": 1, "project_tool": len(PROJECTS)}  # the CRM prospect gets none

    def links_written() -> bool:
        return all(sum(s["outcome"] == "applied" for s in statuses(collector, stack, target)) >= n
                   for target, n in linked.items())

    assert await collector.wait_for(links_written, TIMEOUT_S), stack.logs()
    await quiet(collector, stack.topic(Role.STATUS))

    by_bo = workspaces_by_bo(await stack.admin("state"))
    assert set(by_bo) == {f"SAP_PRD/LFA1/{s['supplier_id']}" for s in SUPPLIERS} | {
        "SFDC/Account/001A0000001", f"PROJ/Project/{PROJECTS[0]['project_key']}"}
    assert all(len(found) == 1 for found in by_bo.values())
    suppliers = await records(stack, "erp", "suppliers")
    for row in SUPPLIERS:
        record = suppliers[row["id"]]
        assert record["workspace_url"].endswith(f"/app/nodes/{record['workspace_id']}")
        assert record["last_changed_by"] == "xstream"
    accounts = await records(stack, "crm", "accounts")
    assert accounts["001A0000001"]["opentext_workspace_url"]
    assert "opentext_workspace_url" not in accounts["001A0000002"]  # a prospect: the rule's condition is false
    projects = await records(stack, "project_tool", "projects")
    assert projects["PRJ-2025-017"]["workspace_url"]

    # Each link write comes back as a CDC update; it is recognised as xstream's own and dropped.
    assert await metric(stack, "xstream_echoes_suppressed_total") >= sum(linked.values())
    erp_writes = (await stack.admin("calls", target="erp"))["state_changing"]
    assert erp_writes - seeded == len(SUPPLIERS)  # one link write per record, no loop

    # A purchaser blocks a supplier in the ERP: the workspace's Status follows, nothing else is re-sent.
    blocked = SUPPLIERS[1]["id"]
    creates = (await stack.admin("calls")).get("workspaces.create", 0)
    await stack.admin(f"records/suppliers/{blocked}", "PATCH", {"posting_block": True}, target="erp")

    async def status_of(bo_key: str) -> set[str]:
        (ws,) = workspaces_by_bo(await stack.admin("state"))[bo_key]
        return set(map(str, ws["categories"].values()))

    for _ in range(int(TIMEOUT_S / 0.5)):
        if "blocked" in await status_of(f"SAP_PRD/LFA1/{blocked}"):
            break
        await collector.wait_for(lambda: False, 0.5)
    assert "blocked" in await status_of(f"SAP_PRD/LFA1/{blocked}"), stack.logs()
    assert (await stack.admin("calls")).get("workspaces.create", 0) == creates
    await quiet(collector, stack.topic(Role.STATUS))
    # only the purchaser's own change: re-sending the (unchanged) link after the update changed nothing
    assert (await stack.admin("calls", target="erp"))["state_changing"] == erp_writes + 1
