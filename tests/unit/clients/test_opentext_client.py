"""The OpenText client against the emulator: idempotent ensure, re-login, error classes."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pydantic import HttpUrl, SecretStr
from xstream_emulators.opentext import OpenTextEmulatorConfig, RunningEmulator, start_opentext_emulator

from tests.unit.clients.support import admin, settings_for
from xstream.clients.opentext import BusinessObjectRef, OpenTextClient, WorkspaceCreateRequest
from xstream.errors import (
    AlreadyExists,
    AuthenticationFailed,
    EditConflict,
    MappingError,
    SinkBackpressure,
    SinkRejected,
    SinkUnavailable,
    TargetNotFound,
)
from xstream.http.status import CONTENT_SERVER, classify
from xstream.settings import OpenTextSettings
from xstream.transform.opentext_requests import create_categories

BO = BusinessObjectRef(ext_system_id="SAP", bo_type="KNA1", bo_id="0000050031")


async def customer_request(client: OpenTextClient, name: str = "ACME Corp", bo: BusinessObjectRef = BO,
                           ) -> WorkspaceCreateRequest:
    (customer,) = [t for t in await client.workspace_types() if t.name == "Customer"]
    template = customer.templates[0]
    keys = await client.category_keys(template.id)
    categories = create_categories(keys, {"Customer": {"Account Number": bo.bo_id, "Region": "EMEA"}})
    return WorkspaceCreateRequest(template_id=template.id, wksp_type_id=customer.id, name=name,
                                  business_object=bo, categories=categories)


async def test_ensure_workspace_creates_once_then_finds_it(client, emulator) -> None:
    request = await customer_request(client)
    first = await client.ensure_workspace(request)
    second = await client.ensure_workspace(request)
    assert first.created and not second.created
    assert second.node_id == first.node_id
    (ws,) = (await admin(emulator, "GET", "state"))["workspaces"]
    assert ws["id"] == first.node_id and ws["parent_id"] == 2001  # the type's fixed location
    assert ws["business_objects"] == [BO.model_dump()]
    node = await client.get_node(first.node_id)
    assert (node.name, node.type, node.workspace_type_id) == ("ACME Corp", 848, 1)
    values = await client.get_categories(first.node_id)
    assert values["2006_2"] == "0000050031" and values["2006_5"] == "EMEA"
    found = await client.find_workspace(BO)
    assert found is not None and (found.node_id, found.parent_id, found.type_id) == (first.node_id, 2001, 1)


async def test_fifty_concurrent_ensures_for_one_business_object_create_exactly_one(client, emulator) -> None:
    request = await customer_request(client)
    results = await asyncio.gather(*(client.ensure_workspace(request) for _ in range(50)))
    assert sum(r.created for r in results) == 1
    assert len({r.node_id for r in results}) == 1
    state = await admin(emulator, "GET", "state")
    assert state["counts"]["workspaces"] == 1
    assert (await admin(emulator, "GET", "calls"))["auth.login"] == 1


async def test_workspace_types_and_category_keys_are_cached(client, emulator) -> None:
    types = await client.workspace_types()
    assert {t.name: (t.templates[0].name, t.location_id) for t in types} == {
        "Customer": ("Customer Template", 2001), "Supplier": ("Supplier Template", 2002),
        "Project": ("Project Template", 2003), "Case": ("Case Template", 2004)}
    await client.workspace_types()
    await client.category_keys(2011)
    await client.category_keys(2011)
    calls = await admin(emulator, "GET", "calls")
    assert calls["workspacetypes.list"] == 1 and calls["forms.workspace_create"] == 1


async def test_unknown_attribute_name_fails_before_any_create(client, emulator) -> None:
    keys = await client.category_keys(2011)
    with pytest.raises(MappingError, match="Colour"):
        create_categories(keys, {"Customer": {"Colour": "red"}})


async def test_expired_tickets_cause_one_relogin_even_for_concurrent_calls(client, emulator) -> None:
    await client.get_node(2000)
    await admin(emulator, "POST", "faults", json={"expire_tickets": True})
    nodes = await asyncio.gather(*(client.get_node(2000) for _ in range(20)))
    assert {n.name for n in nodes} == {"Enterprise"}
    assert (await admin(emulator, "GET", "calls"))["auth.login"] == 2


async def test_adopting_the_refreshed_ticket_avoids_relogins(http_free_clock_emulator) -> None:
    emu, clock = http_free_clock_emulator
    async with OpenTextClient(settings_for(emu)) as client:
        for _ in range(4):  # 24 s of activity with a 10 s ticket lifetime
            await client.get_node(2000)
            clock.now += 6
    assert emu.state.calls["auth.login"] == 1


@pytest.fixture
async def http_free_clock_emulator() -> AsyncIterator[tuple[RunningEmulator, Any]]:
    from xstream_emulators.opentext import OpenTextState

    class Clock:
        now = 1_700_000_000.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    state = OpenTextState({"Admin": "livelink"}, ticket_lifetime_s=10, clock=clock)
    emu = await start_opentext_emulator(OpenTextEmulatorConfig(), state)
    yield emu, clock
    await emu.stop()


async def test_a_401_after_a_fresh_login_is_authentication_failed() -> None:
    emu = await start_opentext_emulator(OpenTextEmulatorConfig(ticket_lifetime_s=0))  # tickets die at once
    try:
        async with OpenTextClient(settings_for(emu)) as client:
            with pytest.raises(AuthenticationFailed) as err:
                await client.get_node(2000)
        assert err.value.status == 401 and err.value.target == "opentext"
        assert emu.state.calls["auth.login"] == 2 and emu.state.calls["nodes.get"] == 2
    finally:
        await emu.stop()


async def test_wrong_password_is_authentication_failed_without_retry(emulator) -> None:
    async with OpenTextClient(settings_for(emulator, password=SecretStr("nope"))) as client:
        with pytest.raises(AuthenticationFailed):
            await client.get_node(2000)
    assert emulator.state.calls["auth.login"] == 1


async def test_password_and_ticket_are_never_logged(client, emulator, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    await client.get_node(2000)
    await admin(emulator, "POST", "faults", json={"expire_tickets": True})
    await client.get_node(2000)
    assert "opentext: logged in as Admin" in caplog.text
    assert "livelink" not in caplog.text
    ticket = client._transport.auth.ticket
    assert ticket and ticket not in caplog.text


@pytest.mark.parametrize(
    ("spec", "error", "retry_after"),
    [
        ({"error_rate": 1, "error_kind": "500"}, SinkUnavailable, None),
        ({"error_rate": 1, "error_kind": "html500"}, SinkUnavailable, None),
        ({"error_rate": 1, "error_kind": "503"}, SinkUnavailable, None),
        ({"error_rate": 1, "error_kind": "503", "retry_after_s": 7}, SinkBackpressure, 7.0),
    ],
)
async def test_injected_server_failures_map_to_retriable_errors(client, emulator, spec, error, retry_after) -> None:
    await client.login()
    await admin(emulator, "POST", "faults", json=spec)
    with pytest.raises(SinkUnavailable) as err:
        await client.get_node(2000)
    assert type(err.value) is error and err.value.retriable
    assert err.value.target == "opentext" and err.value.status in (500, 503)
    assert getattr(err.value, "retry_after", None) == retry_after


async def test_duplicate_name_is_already_exists_and_not_masked_by_ensure(client) -> None:
    await client.ensure_workspace(await customer_request(client, name="Same Name"))
    other = await customer_request(client, name="Same Name", bo=BO.model_copy(update={"bo_id": "2"}))
    with pytest.raises(AlreadyExists):
        await client.create_workspace(other)
    with pytest.raises(AlreadyExists):  # the lookup after the failed create finds nothing for this BO
        await client.ensure_workspace(other)


async def test_missing_things_are_target_not_found(client) -> None:
    with pytest.raises(TargetNotFound):
        await client.get_node(999)
    with pytest.raises(TargetNotFound):
        await client.get_categories(999)
    with pytest.raises(TargetNotFound):
        await client.category_keys(31337)
    assert await client.find_workspace(BO) is None


async def test_timeouts_and_refused_connections_are_sink_unavailable(emulator) -> None:
    await admin(emulator, "POST", "faults", json={"latency_ms": [300, 300]})
    async with OpenTextClient(settings_for(emulator, request_timeout_s=0.05)) as client:
        with pytest.raises(SinkUnavailable) as err:
            await client.login()
    assert isinstance(err.value.__cause__, TimeoutError)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with OpenTextClient(OpenTextSettings(base_url=HttpUrl(f"http://127.0.0.1:{port}/otcs/cs"))) as client:
        with pytest.raises(SinkUnavailable) as err:
            await client.get_node(2000)
    assert isinstance(err.value.__cause__, aiohttp.ClientError)


async def test_a_shared_session_is_left_open(emulator) -> None:
    async with aiohttp.ClientSession() as http:
        async with OpenTextClient(settings_for(emulator), session=http) as client:
            await client.get_node(2000)
        assert not http.closed


# --- the boundary mapping, without a server ---------------------------------------------------


def parse_response(operation: str, status: int, headers: dict[str, str], body: bytes) -> Any:
    """The one classifier in Content Server's dialect, as the client applies it."""
    return classify("opentext", operation, status, headers, body, policy=CONTENT_SERVER)


@pytest.mark.parametrize(
    ("status", "headers", "body", "error"),
    [
        (200, {}, b"<html>Please try again</html>", SinkUnavailable),
        (200, {}, b"", SinkUnavailable),
        (502, {}, b"Bad Gateway", SinkUnavailable),
        (500, {}, b'{"error": "An item with the name \'X\' already exists."}', AlreadyExists),
        (500, {}, b"<html>An item with the name already exists</html>", SinkUnavailable),
        (500, {}, b'{"error": "Could not get a node for 5"}', TargetNotFound),
        (400, {}, b'{"error": "Could not get a node for 5"}', TargetNotFound),
        (400, {}, b'{"error": "Sorry, the item you requested could not be accessed."}', TargetNotFound),
        (500, {}, b'{"error": "Sorry, the item you requested could not be accessed."}', TargetNotFound),
        (400, {}, b'{"error": "The attribute group \'Customer\' already exists"}', SinkRejected),
        (400, {}, b'{"error": "Invalid value for parameter \'x\'"}', SinkRejected),
        (404, {}, b'{"error": "not found"}', TargetNotFound),
        (409, {}, b'{"error": "Could not update metadata (edit conflict)"}', EditConflict),
        (422, {}, b"{}", SinkRejected),
        (429, {"Retry-After": "3"}, b"", SinkBackpressure),
        (429, {}, b"", SinkUnavailable),
        (503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, b"", SinkBackpressure),
        # Large File Upload and promote refusals are 500s that sending again cannot cure
        (500, {}, b'{"error": "Invalid block size: File size must be between 1 and 9 bytes."}', SinkRejected),
        (500, {}, b'{"error": "Invalid BlockID: Expected BlockID between 1 and 3"}', SinkRejected),
        (500, {}, b'{"error": "Invalid BlockID: BlockID 2 has already been uploaded."}', SinkRejected),
        (500, {}, b'{"error": "Invalid status. Cannot close an empty or already closed upload."}', SinkRejected),
        (500, {}, b'{"error": "Failed to complete request. Either the UploadKey is invalid, or you do not have '
                  b'permission to access this upload session"}', SinkRejected),
        (500, {}, b'{"error": "You cannot promote a version for A which is using standard versioning"}',
         SinkRejected),
        (500, {}, b'{"error": "Multipart Upload session expired"}', SinkUnavailable),  # a new session will do
        (500, {}, b"<html>Invalid block size</html>", SinkUnavailable),  # an HTML page is a front end's
    ],
)
def test_parse_response_classifies_outcomes(status, headers, body, error) -> None:
    with pytest.raises(error) as err:
        parse_response("op", status, headers, body)
    assert type(err.value) is error and err.value.status == status and err.value.target == "opentext"


def test_parse_response_returns_json_and_leaves_401_to_the_client() -> None:
    assert parse_response("op", 200, {}, b'{"results": []}') == {"results": []}
    with pytest.raises(AuthenticationFailed):  # the client re-authenticates once (xstream.http.auth)
        parse_response("op", 401, {}, b'{"error": "Authentication Required"}')
    with pytest.raises(SinkBackpressure) as err:
        parse_response("op", 503, {"Retry-After": "2.5"}, b"")
    assert err.value.retry_after == 2.5
