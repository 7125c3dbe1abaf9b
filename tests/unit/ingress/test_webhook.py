"""The webhook server against the OpenText emulator, with an in-memory publisher in place of Kafka:
how each kind of failure is answered, so a hook knows whether to send again."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import pytest
from aiokafka.errors import KafkaConnectionError
from pydantic import SecretStr
from xstream_emulators.opentext import OpenTextEmulatorConfig, RunningEmulator, start_opentext_emulator

from xstream.clients.opentext import BusinessObjectRef, OpenTextClient
from xstream.demo.opentext_user import file_document, workspace_for
from xstream.errors import DeadLetterReason
from xstream.ingress.observe import Observer
from xstream.ingress.signature import sign
from xstream.ingress.webhook import WebhookServer
from xstream.model.opentext import OpenTextEvent
from xstream.observability import Metrics
from xstream.settings import OpenTextSettings, WebhookSettings

SECRET = "unit-test-webhook-secret"


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class MemoryPublisher:
    def __init__(self) -> None:
        self.events: list[OpenTextEvent] = []
        self.letters: list[tuple[bytes, DeadLetterReason, str]] = []
        self.down = False

    async def publish(self, events: list[OpenTextEvent]) -> None:
        if self.down:
            raise KafkaConnectionError("broker unavailable")
        self.events += events

    async def dead_letter(self, raw: bytes, reason: DeadLetterReason, detail: str, *, received: str) -> None:
        self.letters.append((raw, reason, detail))


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    async with await start_opentext_emulator(OpenTextEmulatorConfig()) as emu:
        yield emu


@pytest.fixture
async def hook(emulator: RunningEmulator) -> AsyncIterator[tuple[str, MemoryPublisher, OpenTextClient]]:
    settings = OpenTextSettings(base_url=emulator.url)  # type: ignore[arg-type]
    async with OpenTextClient(settings) as client:
        publisher = MemoryPublisher()
        server = WebhookServer(WebhookSettings(enabled=True, host="127.0.0.1", port=0, secret=SecretStr(SECRET)),
                               Observer(client, settings, Clock()), publisher, Metrics())  # type: ignore[arg-type]
        await server.start()
        yield f"http://127.0.0.1:{server.port}/hooks/opentext", publisher, client
        await server.stop()


async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as resp:
        return resp.status, orjson.loads(await resp.read() or b"{}")


def signed(body: bytes, at: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if at is None else at
    return {"X-Xstream-Timestamp": str(timestamp), "X-Xstream-Signature": sign(SECRET, timestamp, body)}


async def contract(client: OpenTextClient) -> int:
    workspace = await workspace_for(client, "Supplier", BusinessObjectRef(ext_system_id="SAP_PRD", bo_type="LFA1",
                                                                          bo_id="1"), "Supplier 1")
    return await file_document(client, workspace, "Contract.pdf", document_type="Contract", status="Draft")


async def test_a_request_answered_503_may_be_sent_again_as_it_was(
        hook: tuple[str, MemoryPublisher, OpenTextClient], emulator: RunningEmulator) -> None:
    url, publisher, client = hook
    doc = await contract(client)
    body = orjson.dumps({"event": "document.attributes_changed", "node_id": doc})
    headers = signed(body)
    publisher.down = True
    status, answer = await post(url, body, headers)
    assert status == 503 and answer["error"] == "unavailable"
    publisher.down = False
    status, answer = await post(url, body, headers)  # the hook's retry of the very same request
    assert status == 202 and answer["accepted"] == 1
    assert (await post(url, body, headers))[0] == 401  # now it was processed: a third copy is a replay


async def test_opentext_down_is_503_and_what_opentext_refuses_is_422_with_a_dead_letter(
        hook: tuple[str, MemoryPublisher, OpenTextClient], emulator: RunningEmulator) -> None:
    url, publisher, _ = hook
    unknown = orjson.dumps({"event": "workflow.finished", "process_id": 999_999})
    status, answer = await post(url, unknown, signed(unknown))
    assert status == 422 and answer["error"] == "unprocessable"
    ((raw, reason, detail),) = publisher.letters
    assert raw == unknown and reason is DeadLetterReason.REJECTED_BY_TARGET and "OpenText refused" in detail
    async with aiohttp.ClientSession() as http, http.post(f"{emulator.admin_url}/faults",
                                                          json={"error_rate": 1.0, "error_kind": "503"}) as resp:
        assert resp.status == 200
    body = orjson.dumps({"event": "document.added", "node_id": 100_001})
    assert (await post(url, body, signed(body)))[0] == 503


async def test_a_gone_node_is_accepted_with_nothing_to_report(hook: tuple[str, MemoryPublisher, OpenTextClient]) -> None:
    url, publisher, _ = hook
    body = orjson.dumps({"event": "document.added", "node_id": 424_242})
    status, answer = await post(url, body, signed(body))
    assert status == 202 and answer["accepted"] == 0 and "ignored" in answer and publisher.events == []


@pytest.mark.parametrize("signature", ["v1=\u00e9\u00e9", "v1=zz", "v1=", "sha256=abc"])
async def test_a_malformed_signature_is_401_not_a_crash(hook: tuple[str, MemoryPublisher, OpenTextClient],
                                                        signature: str) -> None:
    url, _, _ = hook
    body = b'{"event": "document.added", "node_id": 1}'
    headers = {"X-Xstream-Timestamp": str(int(time.time())), "X-Xstream-Signature": signature}
    status, answer = await post(url, body, headers)
    assert status == 401 and answer["error"] == "bad_signature"
