"""Idempotency-Key semantics (IETF httpapi draft): replay, reuse with another body, in flight, expiry."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from xstream_emulators.erp import ApiError, ErpEmulatorConfig, ErpState, start_erp_emulator
from xstream_emulators.erp.idempotency import IdempotencyStore, StoredAnswer, fingerprint, parse_key

from tests.unit.emulators_erp.conftest import Erp, Hold


async def test_same_key_and_body_replays_the_first_answer_without_a_second_change(erp: Erp) -> None:
    created = await erp.customer()
    path = f"/customers/{created['id']}"
    first = await erp.call("PATCH", path, {"owner": "j.doe", "status": "on_hold"}, key='"k-1"')
    assert first.status == 200 and "Idempotent-Replayed" not in first.headers
    calls = await erp.calls()
    # the same fields in another order are the same request
    again = await erp.call("PATCH", path, {"status": "on_hold", "owner": "j.doe"}, key='"k-1"')
    assert again.status == 200 and again.body == first.body
    assert again.headers["Idempotent-Replayed"] == "true"
    after = await erp.calls()
    assert after["state_changing"] == calls["state_changing"]
    assert after["records.patch"] == calls["records.patch"] + 1
    assert (await erp.call("GET", path)).body["version"] == 2


async def test_a_replay_answers_even_after_the_record_changed_since(erp: Erp) -> None:
    created = await erp.customer()
    path = f"/customers/{created['id']}"
    first = await erp.call("PATCH", path, {"owner": "a"}, key="k-2")
    await erp.call("PATCH", path, {"owner": "b"}, key="k-3")
    replay = await erp.call("PATCH", path, {"owner": "a"}, key="k-2")
    assert replay.body == first.body and replay.headers["Idempotent-Replayed"] == "true"
    assert (await erp.call("GET", path)).body["owner"] == "b"  # the replay did not set "a" again


async def test_a_replayed_create_returns_the_same_record_and_creates_nothing(erp: Erp) -> None:
    first = await erp.call("POST", "/customers", {"name": "Acme"}, key="create-1")
    again = await erp.call("POST", "/customers", {"name": "Acme"}, key="create-1")
    assert (again.status, again.body["id"]) == (201, first.body["id"])
    assert again.headers["Location"] == first.headers["Location"]
    assert (await erp.admin("GET", "state"))["counts"]["customers"] == 1


async def test_same_key_other_body_or_path_is_422(erp: Erp) -> None:
    created = await erp.customer()
    other = await erp.customer()
    await erp.call("PATCH", f"/customers/{created['id']}", {"owner": "a"}, key="k-4")
    reply = await erp.call("PATCH", f"/customers/{created['id']}", {"owner": "b"}, key="k-4")
    assert reply.status == 422 and reply.body["error"]["code"] == "idempotency_key_reused"
    reply = await erp.call("PATCH", f"/customers/{other['id']}", {"owner": "a"}, key="k-4")
    assert reply.status == 422
    assert (await erp.call("GET", f"/customers/{created['id']}")).body["owner"] == "a"


async def test_concurrent_requests_with_one_key_get_one_409_and_make_one_change(erp: Erp) -> None:
    created = await erp.customer()
    before = (await erp.calls())["state_changing"]
    hold = Hold(erp.emu, "records.patch")
    path = f"/customers/{created['id']}"
    first = asyncio.create_task(erp.call("PATCH", path, {"owner": "x"}, key="k-5"))
    await hold.held()  # the first patch has claimed the key and is doing its work
    second = await erp.call("PATCH", path, {"owner": "x"}, key="k-5")
    assert second.status == 409 and second.body["error"]["code"] == "idempotency_key_in_use"
    assert second.headers["Retry-After"] == "1"
    assert not first.done()
    hold.release()
    assert (await first).status == 200
    third = await erp.call("PATCH", path, {"owner": "x"}, key="k-5")
    assert third.headers["Idempotent-Replayed"] == "true"
    assert (await erp.calls())["state_changing"] == before + 1


async def test_sf_string_and_bare_keys_name_the_same_key_and_malformed_keys_are_400(erp: Erp) -> None:
    created = await erp.customer()
    path = f"/customers/{created['id']}"
    await erp.call("PATCH", path, {"owner": "a"}, key='"abc"')
    assert (await erp.call("PATCH", path, {"owner": "a"}, key="abc")).headers["Idempotent-Replayed"] == "true"
    for bad in ('"unterminated', '""', '"a"b"'):
        reply = await erp.call("PATCH", path, {"owner": "a"}, key=bad)
        assert reply.status == 400 and reply.body["error"]["code"] == "invalid_idempotency_key", bad


async def test_a_rejected_request_keeps_its_answer_but_a_faulted_one_does_not_claim_the_key(erp: Erp) -> None:
    missing = await erp.call("PATCH", "/customers/nope", {"owner": "a"}, key="k-6")
    again = await erp.call("PATCH", "/customers/nope", {"owner": "a"}, key="k-6")
    assert (missing.status, again.status) == (404, 404) and again.headers["Idempotent-Replayed"] == "true"
    created = await erp.customer()
    await erp.admin("POST", "faults", {"error_rate": 1.0, "error_kind": "503"})
    assert (await erp.call("PATCH", f"/customers/{created['id']}", {"owner": "b"}, key="k-7")).status == 503
    await erp.admin("POST", "faults", {})
    reply = await erp.call("PATCH", f"/customers/{created['id']}", {"owner": "b"}, key="k-7")
    assert reply.status == 200 and "Idempotent-Replayed" not in reply.headers


async def test_keys_are_forgotten_after_the_ttl(http: aiohttp.ClientSession) -> None:
    now = [0.0]
    config = ErpEmulatorConfig(idempotency_ttl_s=60)
    async with await start_erp_emulator(config, ErpState(config, clock=lambda: now[0])) as emu:
        erp = Erp(http, emu, {})
        created = await erp.customer()
        path = f"/customers/{created['id']}"
        await erp.call("PATCH", path, {"owner": "a"}, key="k")
        now[0] = 59
        assert (await erp.call("PATCH", path, {"owner": "b"}, key="k")).status == 422
        now[0] = 60
        reply = await erp.call("PATCH", path, {"owner": "b"}, key="k")
        assert reply.status == 200 and reply.body["owner"] == "b"


async def test_require_idempotency_key(http: aiohttp.ClientSession) -> None:
    async with await start_erp_emulator(ErpEmulatorConfig(require_idempotency_key=True)) as emu:
        erp = Erp(http, emu, {})
        reply = await erp.call("POST", "/customers", {"name": "A"})
        assert reply.status == 400 and reply.body["error"]["code"] == "idempotency_key_required"
        assert (await erp.call("POST", "/customers", {"name": "A"}, key="x")).status == 201


def test_store_releases_keys_of_failed_requests_and_fingerprints_are_canonical() -> None:
    store = IdempotencyStore(ttl_s=10, clock=lambda: 0.0)
    print_a = fingerprint("PATCH", "/api/c/1", {"a": 1, "b": [1, 2]})
    assert print_a == fingerprint("patch", "/api/c/1", {"b": [1, 2], "a": 1})
    assert print_a != fingerprint("PATCH", "/api/c/2", {"a": 1, "b": [1, 2]})
    assert store.claim("k", print_a).kind == "new"
    assert store.claim("k", print_a).kind == "in_flight"
    store.complete("k", StoredAnswer(500, b"{}"))
    assert store.claim("k", print_a).kind == "new"
    store.complete("k", StoredAnswer(200, b'{"ok":true}'))
    claim = store.claim("k", print_a)
    assert claim.kind == "replay" and claim.answer is not None and claim.answer.body == b'{"ok":true}'
    assert store.claim("k", "other").kind == "mismatch"


def test_parse_key() -> None:
    assert parse_key('"a\\"b\\\\c"') == 'a"b\\c'
    assert parse_key(" plain ") == "plain"
    with pytest.raises(ApiError):
        parse_key('"a\\x"')
