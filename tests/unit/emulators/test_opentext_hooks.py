"""Server-side event hooks: signed POSTs of document and workflow changes, retries, the admin API.

The receiver here checks every signature with its own HMAC code (not the emulator's), as the real
webhook ingress will.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from xstream_emulators.opentext import (
    HookTarget,
    OpenTextEmulatorConfig,
    RunningEmulator,
    start_opentext_emulator,
)
from xstream_emulators.opentext import hooks as hook_rules

from tests.support.wait import until
from tests.unit.emulators.conftest import (
    CONTRACT_APPROVAL,
    CUSTOMER_CATEGORY,
    DOCUMENT_CATEGORY,
    ENTERPRISE,
    INVOICE_APPROVAL,
    Api,
    login,
)

SECRET = "s3cr3t-ü"
DOC = DOCUMENT_CATEGORY


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    raw: bytes
    body: dict[str, Any]
    signed_ok: bool


@dataclass
class Receiver:
    """An HTTP endpoint that records hook deliveries and answers as scripted per path."""

    base: str = ""
    hits: list[Hit] = field(default_factory=list)
    script: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    """path -> answers to give in turn (status, headers); status 0 = never answer; then 200."""

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def on(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        timestamp = request.headers.get("X-Xstream-Timestamp", "")
        expected = "v1=" + hmac.new(SECRET.encode("utf-8"), timestamp.encode("ascii") + b"." + raw,
                                    hashlib.sha256).hexdigest()
        signed_ok = (hmac.compare_digest(expected, request.headers.get("X-Xstream-Signature", ""))
                     and abs(int(timestamp) - time.time()) < 30)
        self.hits.append(Hit(request.path, dict(request.headers), raw, json.loads(raw), signed_ok))
        plan = self.script.get(request.path)
        status, headers = plan.pop(0) if plan else (200, {})
        if status == 0:
            await asyncio.sleep(3600)
        return web.Response(status=status, headers=headers)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/{path:.*}", found.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield found
    await runner.cleanup()


@pytest.fixture
async def hooked(receiver: Receiver, http: aiohttp.ClientSession) -> AsyncIterator[Api]:
    """An emulator with one configured hook (all events) posting to /all."""
    emu = await start_opentext_emulator(OpenTextEmulatorConfig(hooks=(HookTarget(receiver.url("/all"), SECRET),)))
    yield Api(http, emu, await login(http, emu))
    await emu.stop()


async def settled(api: Api, count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """The delivery log once it holds ``count`` entries and none is pending."""
    deadline = time.monotonic() + timeout_s
    while True:
        deliveries = (await api.admin("GET", "hooks"))["deliveries"]
        if len(deliveries) >= count and not any(d["pending"] for d in deliveries):
            return list(deliveries)
        assert time.monotonic() < deadline, deliveries
        await asyncio.sleep(0.02)


async def add_version(api: Api, doc: int, data: bytes, **fields: Any) -> None:
    form = aiohttp.FormData()
    form.add_field("file", data, filename="v.pdf", content_type="application/pdf")
    for key, value in fields.items():
        form.add_field(key, json.dumps(value) if isinstance(value, dict) else str(value))
    assert (await api.call("POST", f"/v2/nodes/{doc}/versions", data=form)).status == 200


async def start_draft(api: Api, doc_ids: str) -> int:
    draft = (await api.body("POST", "/v2/draftprocesses", {"workflow_id": CONTRACT_APPROVAL, "doc_ids": doc_ids,
                                                            "AttachDocuments": "true"})).body["results"]
    started = await api.body("PUT", f"/v2/draftprocesses/{draft['draftprocess_id']}", {"action": "Initiate"})
    return int(started.body["results"]["process_id"])


async def test_each_change_fires_its_hook_once_signed(hooked: Api, receiver: Receiver) -> None:
    api = hooked
    folder = await api.folder("Contracts")
    first = await api.document(folder, "a.pdf")
    second = await api.document(folder, "b.pdf", roles={"categories": {f"{DOC}_2": "Invoice"}})
    await add_version(api, first, b"two")
    await add_version(api, first, b"three", roles={"categories": {f"{DOC}_3": "Approved"}})
    assert (await api.call("POST", f"/v2/nodes/{first}/categories", data={"category_id": str(DOC)})).status == 400
    await api.call("PUT", f"/v2/nodes/{second}/categories/{DOC}", data={f"{DOC}_2": "Contract"})
    await api.call("PUT", f"/v2/nodes/{second}/categories/{DOC}", data={f"{DOC}_2": "Contract"})  # no change
    await api.call("DELETE", f"/v2/nodes/{second}/categories/{DOC}")
    await api.call("POST", f"/v2/nodes/{second}/categories", data={"category_id": str(DOC), f"{DOC}_2": "Memo"})
    await api.body("PUT", f"/v2/nodes/{first}", {"name": "a renamed.pdf"})  # a rename is no hook
    completed = await start_draft(api, f"{first},{second}")
    await api.admin("POST", f"workflows/{completed}/complete")
    started = await api.body("POST", "/v2/draftprocesses/startwf", {"workflow_id": INVOICE_APPROVAL,
                                                                     "doc_ids": str(first)})
    stopped = started.body["process_id"]
    await api.admin("POST", f"workflows/{stopped}/stop")

    deliveries = await settled(api, 10)
    hits = receiver.on("/all")
    assert [(h.body["event"], h.body["node_id"], h.body["process_id"]) for h in hits] == [
        ("document.added", first, None),
        ("document.added", second, None),
        ("document.version_added", first, None),
        ("document.version_added", first, None),
        ("document.attributes_changed", first, None),
        ("document.attributes_changed", second, None),
        ("document.attributes_changed", second, None),
        ("document.attributes_changed", second, None),
        ("workflow.finished", None, completed),
        ("workflow.finished", None, stopped),
    ]
    assert len(deliveries) == len(hits) == 10  # folders, shortcuts, renames, workflow starts fire nothing
    assert all(h.signed_ok for h in hits)
    assert len({h.body["event_id"] for h in hits}) == len(hits)
    assert [h.body["event_id"] for h in hits[-2:]] == [f"wf-{completed}-completed", f"wf-{stopped}-stopped"]
    audit = {f"audit-{e['seq']}": e for e in await api.admin("GET", "audit")}
    for hit in hits[:-2]:
        event = audit[hit.body["event_id"]]
        assert (event["id"], event["audit_date"]) == (hit.body["node_id"], hit.body["occurred_at"])
    for hit in hits:
        assert hit.headers["Content-Type"] == "application/json"
        assert hit.headers["User-Agent"] == "OpenText-ContentServer-Hook/emulator"
        assert list(hit.body) == ["event_id", "event", "node_id", "process_id", "occurred_at", "user_id"]
        assert hit.raw == json.dumps(hit.body, separators=(",", ":")).encode()  # compact JSON
        assert hit.body["occurred_at"].endswith("Z") and hit.body["user_id"] == 1000
    assert all(d["delivered"] and d["attempts"] == 1 and d["status"] == 200 and d["hook_id"] == 1
               for d in deliveries)


async def test_no_hook_for_folders_and_workspaces(hooked: Api, receiver: Receiver) -> None:
    api = hooked
    folder = await api.folder("Plain")
    await api.call("POST", f"/v2/nodes/{folder}/categories", data={"category_id": str(DOC), f"{DOC}_2": "x"})
    ws = await api.workspace("Hookless Co", bo_id="9")
    await api.call("PUT", f"/v2/nodes/{ws}/categories/{CUSTOMER_CATEGORY}",
                   data={f"{CUSTOMER_CATEGORY}_2": "K-9"})
    await api.body("PUT", "/v2/businessworkspaces", {"bws_infos": [{
        "template_id": 2011, "name": "Hookless Co", "ext_system_id": "SAP", "bo_type": "KNA1", "bo_id": "9",
        "roles": {"categories": {str(CUSTOMER_CATEGORY): {f"{CUSTOMER_CATEGORY}_3": "Renamed"}}}}]})
    await api.call("DELETE", f"/v2/nodes/{folder}")
    doc = await api.document(ENTERPRISE, "marker.pdf")  # one sender per hook: everything before arrived first
    deliveries = await settled(api, 1)
    assert [(d["event"], d["node_id"]) for d in deliveries] == [("document.added", doc)]
    assert [h.body["node_id"] for h in receiver.hits] == [doc]


async def test_events_filter_per_registration(hooked: Api, receiver: Receiver) -> None:
    api = hooked
    only = await api.admin("POST", "hooks", json={"url": receiver.url("/workflows"), "secret": SECRET,
                                                   "events": ["workflow.finished"]})
    assert only == {"id": 2, "url": receiver.url("/workflows"), "events": ["workflow.finished"]}
    doc = await api.document(ENTERPRISE, "filtered.pdf")
    process_id = await start_draft(api, str(doc))
    await api.admin("POST", f"workflows/{process_id}/stop")
    deliveries = await settled(api, 3)
    assert [(d["hook_id"], d["event"]) for d in deliveries] == [
        (1, "document.added"), (1, "workflow.finished"), (2, "workflow.finished")]
    assert [h.body["event"] for h in receiver.on("/workflows")] == ["workflow.finished"]
    assert receiver.on("/workflows")[0].raw == receiver.on("/all")[1].raw  # the same notification


async def test_retries_are_signed_anew_until_2xx(hooked: Api, receiver: Receiver) -> None:
    receiver.script["/all"] = [(503, {"Retry-After": "1"}), (429, {}), (200, {})]
    doc = await hooked.document(ENTERPRISE, "retried.pdf")
    (delivery,) = await settled(hooked, 1)
    assert (delivery["attempts"], delivery["status"], delivery["delivered"]) == (3, 200, True)
    hits = receiver.on("/all")
    assert len(hits) == 3 and all(h.signed_ok for h in hits)
    assert {h.body["node_id"] for h in hits} == {doc} and len({h.raw for h in hits}) == 1
    stamps = [int(h.headers["X-Xstream-Timestamp"]) for h in hits]
    assert stamps[0] < stamps[1] < stamps[2]  # every attempt is signed anew, at a later second
    assert hits[1].headers["X-Xstream-Signature"] != hits[0].headers["X-Xstream-Signature"]


async def test_a_4xx_gives_up_and_the_next_change_still_goes(hooked: Api, receiver: Receiver) -> None:
    receiver.script["/all"] = [(400, {})]
    await hooked.document(ENTERPRISE, "refused.pdf")
    later = await hooked.document(ENTERPRISE, "accepted.pdf")
    refused, accepted = await settled(hooked, 2)
    assert (refused["attempts"], refused["status"], refused["delivered"], refused["pending"]) == (1, 400, False, False)
    assert (accepted["node_id"], accepted["delivered"]) == (later, True)
    assert len(receiver.hits) == 2


async def test_five_attempts_at_most(hooked: Api, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hook_rules, "BASE_DELAY_S", 0.01)
    seconds = itertools.count()
    hooked.emu.hooks.clock = lambda: time.time() + next(seconds)  # a second passes per reading: no waiting for it
    receiver.script["/all"] = [(500, {})] * 6
    unreachable = await hooked.admin("POST", "hooks", json={"url": "http://127.0.0.1:9/down", "secret": "x"})
    await hooked.document(ENTERPRISE, "failing.pdf")
    failing, down = await settled(hooked, 2)
    assert (failing["attempts"], failing["status"], failing["delivered"]) == (5, 500, False)
    assert (down["hook_id"], down["attempts"], down["status"], down["delivered"]) == (unreachable["id"], 5, None, False)
    assert down["error"]
    assert len(receiver.hits) == 5
    assert hook_rules.backoff_s(1) == 0.01 and hook_rules.backoff_s(3, "9") == 5.0


async def test_admin_lists_deletes_and_resets_hooks(hooked: Api, receiver: Receiver) -> None:
    api = hooked
    listed = await api.admin("GET", "hooks")
    assert listed == {"hooks": [{"id": 1, "url": receiver.url("/all"), "events": None}], "deliveries": []}
    bad_bodies: list[Any] = [b"not json", {"url": receiver.url("/x")}, {"url": "ftp://x", "secret": "s"},
                             {"url": receiver.url("/x"), "secret": "s", "events": ["node.moved"]},
                             {"url": receiver.url("/x"), "secret": "s", "event": ["workflow.finished"]},
                             {"url": receiver.url("/x"), "secret": "s", "events": "workflow.finished"}, [1]]
    for bad in bad_bodies:
        async with api.http.post(f"{api.emu.admin_url}/hooks",
                                 **({"data": bad} if isinstance(bad, bytes) else {"json": bad})) as reply:
            assert reply.status == 400, bad
            assert (await reply.json())["error"]
    second = await api.admin("POST", "hooks", json={"url": receiver.url("/second"), "secret": SECRET})
    assert second == {"id": 2, "url": receiver.url("/second"), "events": None}
    await api.document(ENTERPRISE, "before.pdf")
    assert len(await settled(api, 2)) == 2
    assert [h["id"] for h in (await api.admin("GET", "hooks"))["hooks"]] == [1, 2]

    assert await api.admin("DELETE", "hooks") == {"deleted": 2}
    await api.document(ENTERPRISE, "unheard.pdf")
    # a change is logged (and queued) for every registration that wants it inside the call that made
    # it, so once the call has answered the log is final: no new entry, none pending, nothing to send
    after = await api.admin("GET", "hooks")
    assert after["hooks"] == [] and len(after["deliveries"]) == 2
    assert not any(d["pending"] for d in after["deliveries"]) and len(receiver.hits) == 2

    await api.admin("POST", "reset")
    assert await api.admin("GET", "hooks") == {"hooks": [{"id": 1, "url": receiver.url("/all"), "events": None}],
                                               "deliveries": []}
    api.ticket = await login(api.http, api.emu)
    doc = await api.document(ENTERPRISE, "after reset.pdf")
    (delivery,) = await settled(api, 1)
    assert (delivery["hook_id"], delivery["node_id"], delivery["delivered"]) == (1, doc, True)


async def test_a_hanging_receiver_delays_neither_the_api_nor_stopping(
    receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    receiver.script["/hang"] = [(0, {})]
    emu: RunningEmulator = await start_opentext_emulator(
        OpenTextEmulatorConfig(hooks=(HookTarget(receiver.url("/hang"), SECRET, frozenset({"document.added"})),)))
    api = Api(http, emu, await login(http, emu))
    await api.document(ENTERPRISE, "quick.pdf")  # answered although its hook will never be
    await until(lambda: bool(receiver.hits))  # the hook reached the receiver, which does not answer
    (delivery,) = (await api.admin("GET", "hooks"))["deliveries"]
    assert delivery["pending"] and delivery["attempts"] == 1
    began = time.monotonic()
    await emu.stop()
    assert time.monotonic() - began < 2


def test_targets_are_checked_when_configured() -> None:
    with pytest.raises(ValueError, match="unknown events"):
        HookTarget("http://127.0.0.1/hook", "s", frozenset({"document.deleted"}))
    with pytest.raises(ValueError, match="secret"):
        HookTarget("http://127.0.0.1/hook", "")
    with pytest.raises(ValueError, match="url"):
        HookTarget("127.0.0.1/hook", "s")
    config = OpenTextEmulatorConfig(hooks=[HookTarget("http://127.0.0.1/hook", "s")])  # type: ignore[arg-type]
    assert config.hooks == (HookTarget("http://127.0.0.1/hook", "s"),)
