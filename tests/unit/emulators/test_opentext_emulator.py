"""The OpenText emulator answers like Content Server for what flow F1 relies on (over real HTTP)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from xstream_emulators.opentext import (
    OpenTextEmulatorConfig,
    OpenTextState,
    RunningEmulator,
    start_opentext_emulator,
)

CUSTOMER_TYPE, CUSTOMER_TEMPLATE, CUSTOMER_CATEGORY, CUSTOMERS_FOLDER = 1, 2011, 2006, 2001


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    emu = await start_opentext_emulator(OpenTextEmulatorConfig(users={"Admin": "livelink", "jdoe": "pw"}))
    yield emu
    await emu.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def login(http: aiohttp.ClientSession, emu: RunningEmulator, user: str = "Admin", pw: str = "livelink") -> str:
    async with http.post(f"{emu.url}/api/v1/auth", data={"username": user, "password": pw}) as r:
        assert r.status == 200, await r.text()
        return (await r.json())["ticket"]


async def call(
    http: aiohttp.ClientSession, method: str, url: str, ticket: str | None = None, **kw: Any
) -> tuple[int, Any, Any]:
    headers = {"OTCSTicket": ticket} if ticket else {}
    async with http.request(method, url, headers=headers, **kw) as r:
        text = await r.text()
        body = json.loads(text) if text and r.content_type == "application/json" else text
        return r.status, body, r.headers


def customer_body(name: str = "ACME", bo_id: str = "1001", **extra: Any) -> dict[str, Any]:
    return {"template_id": CUSTOMER_TEMPLATE, "wksp_type_id": CUSTOMER_TYPE, "name": name,
            "ext_system_id": "SAP", "bo_type": "KNA1", "bo_id": bo_id,
            "roles": {"categories": {str(CUSTOMER_CATEGORY): {f"{CUSTOMER_CATEGORY}_2": "A-1001"}}}} | extra


async def create(http: aiohttp.ClientSession, emu: RunningEmulator, ticket: str, **kw: Any) -> tuple[int, Any]:
    status, body, _ = await call(http, "POST", f"{emu.url}/api/v2/businessworkspaces", ticket,
                                 data={"body": json.dumps(customer_body(**kw))})
    return status, body


async def admin_state(http: aiohttp.ClientSession, emu: RunningEmulator) -> dict[str, Any]:
    async with http.get(f"{emu.admin_url}/state") as r:
        return await r.json()


# --- authentication ---------------------------------------------------------------------------


async def test_login_gives_a_ticket_and_wrong_password_is_401(emulator, http) -> None:
    assert await login(http, emulator)
    status, body, _ = await call(http, "POST", f"{emulator.url}/api/v1/auth",
                                 data={"username": "Admin", "password": "wrong"})
    assert status == 401 and "error" in body


@pytest.mark.parametrize("missing", ["username", "password"])
async def test_login_without_a_field_is_500_argument_required(emulator, http, missing) -> None:
    form = {"username": "Admin", "password": "livelink"}
    del form[missing]
    status, body, _ = await call(http, "POST", f"{emulator.url}/api/v1/auth", data=form)
    assert status == 500
    assert body == {"error": f"Argument {missing} is required"}


async def test_calls_without_or_with_a_bad_ticket_are_401_authentication_required(emulator, http) -> None:
    for ticket in (None, "garbage", "Zm9vOjA6MA==.deadbeef"):
        status, body, _ = await call(http, "GET", f"{emulator.url}/api/v2/nodes/2000", ticket)
        assert (status, body) == (401, {"error": "Authentication Required"})


@pytest.mark.parametrize("header", ["OTCSTicket", "otcsticket", "OTCSTICKET"])
async def test_ticket_header_name_is_case_insensitive(emulator, http, header) -> None:
    ticket = await login(http, emulator)
    async with http.get(f"{emulator.url}/api/v2/nodes/2000", headers={header: ticket}) as r:
        assert r.status == 200
        assert (await r.json())["results"]["data"]["properties"]["name"] == "Enterprise"


async def test_refreshed_ticket_in_the_response_header_extends_the_session(http) -> None:
    clock = FakeClock()
    state = OpenTextState({"Admin": "livelink"}, ticket_lifetime_s=10, clock=clock)
    emu = await start_opentext_emulator(OpenTextEmulatorConfig(), state)
    try:
        first = await login(http, emu)
        clock.now += 8
        status, _, headers = await call(http, "GET", f"{emu.url}/api/v2/nodes/2000", first)
        refreshed = headers["OTCSTicket"]
        assert status == 200 and refreshed != first
        clock.now += 4  # 12 s after login, 4 s after the refresh
        assert (await call(http, "GET", f"{emu.url}/api/v2/nodes/2000", first))[0] == 401
        assert (await call(http, "GET", f"{emu.url}/api/v2/nodes/2000", refreshed))[0] == 200
    finally:
        await emu.stop()


async def test_auth_head_get_and_delete(emulator, http) -> None:
    ticket = await login(http, emulator, "jdoe", "pw")
    assert (await call(http, "HEAD", f"{emulator.url}/api/v1/auth", ticket))[0] == 200
    status, body, _ = await call(http, "GET", f"{emulator.url}/api/v1/auth", ticket)
    assert status == 200 and body["data"]["name"] == "jdoe"
    assert (await call(http, "DELETE", f"{emulator.url}/api/v1/auth", ticket))[0] == 200
    assert (await call(http, "HEAD", f"{emulator.url}/api/v1/auth", ticket))[0] == 401


async def test_registered_bearer_token_is_accepted(emulator, http) -> None:
    emulator.state.bearer_tokens["tok-1"] = "Admin"
    async with http.get(f"{emulator.url}/api/v1/auth", headers={"Authorization": "Bearer tok-1"}) as r:
        assert r.status == 200 and "OTCSTicket" in r.headers
    async with http.get(f"{emulator.url}/api/v1/auth", headers={"Authorization": "Bearer other"}) as r:
        assert r.status == 401


async def test_ping_and_serverinfo_need_no_ticket(emulator, http) -> None:
    assert (await call(http, "GET", f"{emulator.url}/api/v1/ping"))[0] == 200
    status, body, _ = await call(http, "GET", f"{emulator.url}/api/v1/serverinfo")
    assert status == 200 and body["sessions"]["session_timeout"] == 1_800_000


# --- business workspaces ----------------------------------------------------------------------


async def test_workspace_types_list_templates_and_fixed_location(emulator, http) -> None:
    ticket = await login(http, emulator)
    url = f"{emulator.url}/api/v2/businessworkspacetypes"
    status, body, _ = await call(http, "GET", url, ticket, params={"expand_templates": "true"})
    assert status == 200
    by_name = {r["data"]["properties"]["wksp_type_name"]: r["data"]["properties"] for r in body["results"]}
    assert set(by_name) == {"Customer", "Supplier", "Project", "Case"}
    assert by_name["Customer"]["templates"] == [{"id": CUSTOMER_TEMPLATE, "name": "Customer Template", "subtype": 848}]
    assert by_name["Customer"]["wksp_creation"] == {"location": "StaticNodeId", "location_value": str(CUSTOMERS_FOLDER)}
    _, plain, _ = await call(http, "GET", url, ticket)
    assert "templates" not in plain["results"][0]["data"]["properties"]
    status, body, _ = await call(http, "GET", url, ticket, params={"ext_system_id": "SAP"})
    assert status == 400 and "error" in body


async def test_create_form_has_category_titles_and_keys(emulator, http) -> None:
    ticket = await login(http, emulator)
    status, body, _ = await call(http, "GET", f"{emulator.url}/api/v2/forms/businessworkspaces/create", ticket,
                                 params={"template_id": str(CUSTOMER_TEMPLATE)})
    assert status == 200
    (form,) = [f for f in body["forms"] if f.get("role_name") == "categories"]
    cat = str(CUSTOMER_CATEGORY)
    schema = form["schema"]["properties"][cat]
    assert schema["title"] == "Customer"
    titles = {k: v["title"] for k, v in schema["properties"].items() if "title" in v}
    assert titles == {f"{cat}_2": "Account Number", f"{cat}_3": "Customer Name", f"{cat}_4": "Owner",
                      f"{cat}_5": "Region", f"{cat}_6": "Status", f"{cat}_7": "Contacts"}
    assert form["data"][cat][f"{cat}_1"] == {"metadata_token": ""}
    contacts = schema["properties"][f"{cat}_7"]  # a multi-row set: rows use the x placeholder
    assert contacts["type"] == "array" and contacts["items"]["maxItems"] == 5
    assert {k: v["title"] for k, v in contacts["items"]["properties"].items()} == {
        f"{cat}_7_x_8": "Name", f"{cat}_7_x_9": "Email"}
    assert form["data"][cat][f"{cat}_7"] == [{f"{cat}_7_x_8": None, f"{cat}_7_x_9": None}]
    status, _, _ = await call(http, "GET", f"{emulator.url}/api/v2/forms/businessworkspaces/create", ticket,
                              params={"template_id": "999"})
    assert status == 404


async def test_create_then_lookup_by_business_object_honours_expanded_view(emulator, http) -> None:
    admin = await login(http, emulator)
    status, body = await create(http, emulator, admin)
    assert status == 200
    node_id = body["results"]["id"]
    assert body["results"] == {"id": node_id, "direct_open": True, "sub_folder_id": 0}

    where = {"where_ext_system_id": "SAP", "where_bo_type": "KNA1", "where_bo_id": "1001"}
    search = f"{emulator.url}/api/v2/businessworkspaces"
    other = await login(http, emulator, "jdoe", "pw")
    _, collapsed, _ = await call(http, "GET", search, other, params=where)
    assert collapsed["results"] == []  # not among jdoe's recently accessed workspaces
    _, expanded, _ = await call(http, "GET", search, other, params=where | {"expanded_view": "true"})
    props = expanded["results"][0]["data"]["properties"]
    assert (props["id"], props["parent_id"], props["type"]) == (node_id, CUSTOMERS_FOLDER, 848)
    assert (props["wnf_wksp_type_id"], props["wnf_wksp_template_id"]) == (CUSTOMER_TYPE, CUSTOMER_TEMPLATE)
    _, mine, _ = await call(http, "GET", search, admin, params=where)
    assert [r["data"]["properties"]["id"] for r in mine["results"]] == [node_id]  # the creator's recent list

    status, detail, _ = await call(http, "GET", f"{search}/{node_id}", other)
    assert status == 200
    assert detail["results"]["data"]["business_properties"]["business_object_id"] == "1001"
    assert detail["results"]["data"]["categories"][0][f"{CUSTOMER_CATEGORY}_2"] == "A-1001"
    _, collapsed, _ = await call(http, "GET", search, other, params=where)
    assert len(collapsed["results"]) == 1  # opening it put it on jdoe's recent list

    _, by_bo, _ = await call(http, "GET", f"{emulator.url}/api/v2/externalsystems/SAP/botypes/KNA1/boids/1001", other)
    assert [r["data"]["properties"]["id"] for r in by_bo["results"]] == [node_id]
    _, none, _ = await call(http, "GET", search, admin, params=where | {"where_bo_id": "9", "expanded_view": "true"})
    assert none["results"] == [] and none["paging"]["total_count"] == 0


async def test_duplicate_name_in_a_folder_is_500_already_exists(emulator, http) -> None:
    ticket = await login(http, emulator)
    assert (await create(http, emulator, ticket, name="ACME", bo_id="1"))[0] == 200
    status, body = await create(http, emulator, ticket, name="ACME", bo_id="2")
    assert (status, body) == (500, {"error": "An item with the name 'ACME' already exists."})
    assert (await admin_state(http, emulator))["counts"]["workspaces"] == 1


async def test_second_workspace_for_a_linked_business_object_is_refused(emulator, http) -> None:
    ticket = await login(http, emulator)
    assert (await create(http, emulator, ticket, name="ACME", bo_id="7"))[0] == 200
    status, body = await create(http, emulator, ticket, name="ACME again", bo_id="7")
    assert status == 400 and "already linked" in body["error"]
    assert (await admin_state(http, emulator))["counts"]["workspaces"] == 1


async def test_paging_of_the_workspace_search(emulator, http) -> None:
    ticket = await login(http, emulator)
    for n in range(5):
        assert (await create(http, emulator, ticket, name=f"WS {n}", bo_id=str(n)))[0] == 200
    url = f"{emulator.url}/api/v2/businessworkspaces"
    base = {"expanded_view": "true", "where_ext_system_id": "SAP", "limit": "2"}
    _, first, _ = await call(http, "GET", url, ticket, params=base | {"page": "1"})
    paging = first["paging"]
    assert {k: paging[k] for k in ("page", "limit", "page_total", "range_min", "range_max", "total_count")} == {
        "page": 1, "limit": 2, "page_total": 3, "range_min": 1, "range_max": 2, "total_count": 5}
    assert "page=2" in paging["actions"]["next"]["href"]
    _, last, _ = await call(http, "GET", url, ticket, params=base | {"page": "3"})
    assert [r["data"]["properties"]["name"] for r in last["results"]] == ["WS 4"]
    assert last["paging"]["actions"]["next"] is None
    _, clamped, _ = await call(http, "GET", url, ticket, params={"expanded_view": "true", "limit": "9999"})
    assert clamped["paging"]["limit"] == 500
    for bad in ({"page": "0"}, {"limit": "x"}, {"expanded_view": "maybe"}):
        status, body, _ = await call(http, "GET", url, ticket, params=bad)
        assert status == 400 and "error" in body


async def test_categories_of_a_workspace(emulator, http) -> None:
    ticket = await login(http, emulator)
    node_id = (await create(http, emulator, ticket))[1]["results"]["id"]
    cat = str(CUSTOMER_CATEGORY)
    status, body, _ = await call(http, "GET", f"{emulator.url}/api/v2/nodes/{node_id}/categories", ticket)
    assert status == 200
    (entry,) = body["results"]
    assert entry["data"]["categories"] == {f"{cat}_2": "A-1001", f"{cat}_3": None, f"{cat}_4": None,
                                           f"{cat}_5": None, f"{cat}_6": None,
                                           f"{cat}_7_1_8": None, f"{cat}_7_1_9": None}  # one empty set row
    assert entry["metadata_order"]["categories"] == [cat]
    assert entry["metadata_map"]["categories"][cat] == [f"{cat}_{n}" for n in range(2, 8)]
    contacts = entry["metadata"]["categories"][f"{cat}_7"]
    assert (contacts["persona"], contacts["multi_value"], contacts["multi_value_length_max"]) == ("set", True, 5)
    assert entry["metadata"]["categories"][f"{cat}_7_x_8"]["name"] == "Name"  # set members use the x row
    assert entry["metadata"]["categories"][cat]["name"] == "Customer"
    assert entry["metadata"]["categories"][f"{cat}_2"]["name"] == "Account Number"
    status, one, _ = await call(http, "GET", f"{emulator.url}/api/v2/nodes/{node_id}/categories/{cat}", ticket)
    assert status == 200 and one["results"]["data"]["categories"][f"{cat}_2"] == "A-1001"
    status, body, _ = await call(http, "GET", f"{emulator.url}/api/v2/nodes/{node_id}/categories/2007", ticket)
    assert status == 400 and "is not a category on node" in body["error"]


async def test_unknown_node_is_400_could_not_get_a_node(emulator, http) -> None:
    ticket = await login(http, emulator)
    status, body, _ = await call(http, "GET", f"{emulator.url}/api/v2/nodes/999", ticket)
    assert (status, body) == (400, {"error": "Could not get a node for 999"})
    status, body, _ = await call(http, "GET", f"{emulator.url}/api/v2/nodes/abc", ticket)
    assert status == 400 and "error" in body
    status, body, _ = await call(http, "GET", f"{emulator.url}/api/v2/nosuchthing", ticket)
    assert status == 400 and "mappings registry" in body["error"]


# --- request encodings ------------------------------------------------------------------------


def _encodings() -> list[tuple[str, dict[str, Any]]]:
    body = customer_body()
    multipart = aiohttp.FormData()
    multipart.add_field("body", json.dumps(body))
    multipart.add_field("file", b"%PDF-1.4", filename="ignored.pdf", content_type="application/pdf")
    flat = {k: str(v) for k, v in body.items() if k != "roles"} | {"roles": json.dumps(body["roles"])}
    return [
        ("body field", {"data": {"body": json.dumps(body)}}),
        ("flat form", {"data": flat}),
        ("multipart", {"data": multipart}),
        ("raw json", {"json": body}),
    ]


@pytest.mark.parametrize(("encoding", "kwargs"), _encodings(), ids=[e for e, _ in _encodings()])
async def test_create_accepts_every_request_encoding(emulator, http, encoding, kwargs) -> None:
    ticket = await login(http, emulator)
    status, body, _ = await call(http, "POST", f"{emulator.url}/api/v2/businessworkspaces", ticket, **kwargs)
    assert status == 200, body
    (ws,) = (await admin_state(http, emulator))["workspaces"]
    assert (ws["id"], ws["name"], ws["parent_id"]) == (body["results"]["id"], "ACME", CUSTOMERS_FOLDER)
    assert ws["business_objects"] == [{"ext_system_id": "SAP", "bo_type": "KNA1", "bo_id": "1001"}]
    assert ws["categories"][f"{CUSTOMER_CATEGORY}_2"] == "A-1001"
    assert (ws["wksp_type_name"], ws["template_id"]) == ("Customer", CUSTOMER_TEMPLATE)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"data": {"body": "{not json"}}, "Invalid JSON"),
        ({"data": {"body": "[1, 2]"}}, "body"),
        ({"data": b"{oops", "headers": {"Content-Type": "application/json"}}, "Invalid JSON"),
        ({"data": {"body": json.dumps(customer_body(template_id="x"))}}, "template_id"),
        ({"data": {"body": json.dumps({"name": "No template"})}}, "template_id"),
        ({"data": {"body": json.dumps(customer_body(bo_id=""))}}, "bo_id"),
        ({"data": {"body": json.dumps(customer_body(roles={"categories": {"2006": {"2006_99": 1}}}))}},
         "non-matching attribute"),
        ({"data": {"body": json.dumps(customer_body(roles={"categories": {"2007": {}}}))}}, "2007"),
        ({"data": {"body": json.dumps(customer_body(name=""))}}, "name"),
        ({"data": {"body": json.dumps(customer_body(parent_id=424242))}}, "Could not get a node"),
    ],
)
async def test_bad_create_requests_are_400_with_an_error_message(emulator, http, kwargs, fragment) -> None:
    ticket = await login(http, emulator)
    headers = {"OTCSTicket": ticket} | kwargs.pop("headers", {})
    async with http.post(f"{emulator.url}/api/v2/businessworkspaces", headers=headers, **kwargs) as r:
        assert r.status == 400
        assert fragment in (await r.json())["error"]
    assert (await admin_state(http, emulator))["counts"]["workspaces"] == 0


async def test_unknown_template_is_404(emulator, http) -> None:
    ticket = await login(http, emulator)
    status, body = await create(http, emulator, ticket, template_id=31337, wksp_type_id=None)
    assert status == 404 and "31337" in body["error"]


# --- admin API --------------------------------------------------------------------------------


async def test_admin_counts_calls_by_operation_and_reset_restores_the_seed(emulator, http) -> None:
    ticket = await login(http, emulator)
    await create(http, emulator, ticket)
    await call(http, "GET", f"{emulator.url}/api/v2/nodes/2000", ticket)
    await call(http, "GET", f"{emulator.url}/api/v2/nodes/2000")  # 401 still counts as a call
    async with http.get(f"{emulator.admin_url}/calls") as r:
        assert await r.json() == {"auth.login": 1, "nodes.get": 2, "workspaces.create": 1}
    async with http.post(f"{emulator.admin_url}/reset") as r:
        assert r.status == 200
    state = await admin_state(http, emulator)
    assert state["workspaces"] == [] and state["counts"]["calls"] == 0
    assert (await call(http, "GET", f"{emulator.url}/api/v2/nodes/2000", ticket))[0] == 401
    ticket = await login(http, emulator)
    assert (await create(http, emulator, ticket))[0] == 200  # the BO and the name are free again


async def set_faults(http: aiohttp.ClientSession, emu: RunningEmulator, **spec: Any) -> tuple[int, Any]:
    async with http.post(f"{emu.admin_url}/faults", json=spec) as r:
        return r.status, await r.json()


async def test_injected_faults_and_their_wire_shapes(emulator, http) -> None:
    ticket = await login(http, emulator)
    url = f"{emulator.url}/api/v2/nodes/2000"
    assert (await set_faults(http, emulator, error_rate=1.0, error_kind="500"))[0] == 200
    status, body, _ = await call(http, "GET", url, ticket)
    assert status == 500 and "error" in body
    await set_faults(http, emulator, error_rate=1.0, error_kind="html500")
    status, body, headers = await call(http, "GET", url, ticket)
    assert status == 500 and headers["Content-Type"].startswith("text/html") and "<html" in body
    await set_faults(http, emulator, error_rate=1.0, error_kind="503", retry_after_s=7)
    status, _, headers = await call(http, "GET", url, ticket)
    assert status == 503 and headers["Retry-After"] == "7"
    async with http.get(f"{emulator.admin_url}/faults") as r:
        current = await r.json()
    assert current["error_kind"] == "503" and current["injected"] == 3
    await set_faults(http, emulator)  # an empty spec turns every fault off
    assert (await call(http, "GET", url, ticket))[0] == 200
    assert (await admin_state(http, emulator))["workspaces"] == []


async def test_expire_tickets_ends_every_session(emulator, http) -> None:
    ticket = await login(http, emulator)
    await set_faults(http, emulator, expire_tickets=True)
    assert (await call(http, "GET", f"{emulator.url}/api/v2/nodes/2000", ticket))[0] == 401
    assert (await call(http, "GET", f"{emulator.url}/api/v2/nodes/2000", await login(http, emulator)))[0] == 200


@pytest.mark.parametrize(
    "spec",
    [{"error_rate": 2}, {"error_kind": "418"}, {"latency_ms": [5]}, {"latency_ms": [9, 1]}, {"nope": 1},
     {"expire_tickets": "yes"}],
)
async def test_invalid_fault_specs_are_400(emulator, http, spec) -> None:
    status, body = await set_faults(http, emulator, **spec)
    assert status == 400 and "error" in body


async def test_other_base_paths_work(http) -> None:
    emu = await start_opentext_emulator(OpenTextEmulatorConfig(base_path="/OTCS/cs.exe/"))
    try:
        assert emu.url.endswith("/OTCS/cs.exe")
        ticket = await login(http, emu)
        assert (await call(http, "GET", f"{emu.url}/api/v2/nodes/2000", ticket))[0] == 200
    finally:
        await emu.stop()


async def test_a_non_ascii_ticket_is_401_not_a_crash(emulator, http) -> None:
    async with http.get(f"{emulator.url}/api/v2/nodes/2000", headers={"OTCSTicket": "tïcket.ßig"}) as r:
        assert r.status == 401


def test_seed_ids_are_stable() -> None:
    state = OpenTextState()
    assert {t.name: (t.id, t.location_id, t.template_ids) for t in state.types.values()} == {
        "Customer": (1, 2001, [2011]), "Supplier": (2, 2002, [2012]),
        "Project": (3, 2003, [2013]), "Case": (4, 2004, [2014])}
    assert {c.id: c.name for c in state.categories.values()} == {
        2006: "Customer", 2007: "Supplier", 2008: "Project", 2009: "Case", 2015: "Document"}
    assert {m.name: (m.id, m.start_step_enabled) for m in state.workflow_maps.values()} == {
        "Contract Approval": (2017, True), "Invoice Approval": (2018, False)}
    assert [a.title for a in state.categories[2009].attributes] == [
        "Case Number", "Case Type", "Owner", "Region", "Status"]
    assert state.nodes[2000].name == "Enterprise"
    node = state.create_workspace("Admin", {"template_id": 2014, "name": "Case 1"})
    assert (node.id, node.parent_id) == (100_000, 2004)
