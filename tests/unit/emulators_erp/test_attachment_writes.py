"""Attachment writes under the emulator's Idempotency-Key semantics and fault injection (incl. lost answers)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.unit.emulators_erp.conftest import Hold, Sap, changes


async def faults(sap: Sap, **spec: Any) -> dict[str, Any]:
    async with sap.http.post(f"{sap.emu.admin_url}/faults", json=spec) as r:
        return dict(await r.json())


async def count(sap: Sap) -> int:
    async with sap.http.get(f"{sap.emu.admin_url}/state") as r:
        return int((await r.json())["counts"]["attachments"])


async def test_an_upload_replayed_with_its_key_attaches_nothing_more(sap: Sap) -> None:
    first = await sap.upload(b"po body", key="upload-1")
    again = await sap.upload(b"po body", key="upload-1")
    assert (first.status, again.status, again.headers["Idempotent-Replayed"]) == (201, 201, "true")
    assert again.body == first.body and again.headers["Location"] == first.headers["Location"]
    assert await count(sap) == 1 and len(await changes(sap.http, sap.emu, "attachments")) == 1
    other_body = await sap.upload(b"another body", key="upload-1")
    assert (other_body.status, other_body.body["error"]["code"]) == (422, "idempotency_key_reused")
    other_name = await sap.upload(b"po body", key="upload-1", name="renamed.pdf")
    assert other_name.status == 422
    assert await count(sap) == 1


async def test_a_second_upload_with_the_key_of_one_in_flight_is_409(sap: Sap) -> None:
    hold = Hold(sap.emu, "sap.attachments.upload")
    await sap.fetch_token()
    first = asyncio.create_task(sap.upload(b"body", key="upload-2"))
    await hold.held()
    second = await sap.upload(b"body", key="upload-2")
    assert (second.status, second.headers["Retry-After"]) == (409, "1")
    hold.release()
    assert (await first).status == 201
    assert await count(sap) == 1


async def test_a_lost_upload_answer_is_stored_once_and_replayed(sap: Sap) -> None:
    await faults(sap, lost_answer_rate=1.0, operations=["sap.attachments.upload"])
    with pytest.raises(aiohttp.ClientConnectionError):
        await sap.upload(b"lost answer body", key="upload-3")
    assert await count(sap) == 1  # stored before the answer was lost
    retry = await sap.upload(b"lost answer body", key="upload-3")  # a replay is never lost
    assert (retry.status, retry.headers["Idempotent-Replayed"]) == (201, "true")
    assert await count(sap) == 1 and (await faults(sap))["lost_answers"] == 1
    async with sap.http.get(retry.body["d"]["__metadata"]["media_src"]) as r:
        assert await r.read() == b"lost answer body"


async def test_an_injected_error_stores_nothing_and_is_read_by_the_client(sap: Sap) -> None:
    await faults(sap, error_rate=1.0, error_kind="503", retry_after_s=2, operations=["sap.attachments.upload"])
    refused = await sap.upload(b"x" * (1 << 20), key="upload-4")
    assert (refused.status, refused.headers["Retry-After"]) == (503, "2")
    assert refused.body["error"]["code"] == "service_unavailable"  # OData form
    await faults(sap)
    assert (await sap.upload(b"x" * (1 << 20), key="upload-4")).status == 201  # the key was never claimed
    assert await count(sap) == 1


async def test_deletes_and_links_honour_the_key(sap: Sap) -> None:
    params = {"BusinessObjectTypeName": "'BUS2012'", "LinkedSAPObjectKey": "'4500000001'", "MIMEType": "'text/url'",
              "UrlDescription": "'ws'", "Url": "'https://otcs.example/ws'"}
    link = await sap.call("POST", "/CreateUrlAsAttachment", params=params, key="link-1")
    again = await sap.call("POST", "/CreateUrlAsAttachment", params=params, key="link-1")
    assert (again.headers["Idempotent-Replayed"], again.body) == ("true", link.body)
    assert await count(sap) == 1
    uri = link.body["d"]["__metadata"]["uri"]
    await faults(sap, lost_answer_rate=1.0, operations=["sap.attachments.delete"])
    # aiohttp resends a DELETE once by itself after a reset: the resend is answered from the key store
    replay = await sap.call("DELETE", uri, key="delete-1")
    assert (replay.status, replay.headers["Idempotent-Replayed"], replay.body) == (204, "true", "")
    assert (await faults(sap))["lost_answers"] == 1
    assert [c["value"]["op"] for c in await changes(sap.http, sap.emu, "attachments")] == ["c", "d"]
