"""Large File Upload of the OpenText emulator (``/v2/multipart``): settings, sessions, parts, completion,
cancel, the ``upload_key`` taken by create and add-version, every documented error, expiry on the
server's clock and lost answers (over real HTTP)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from xstream_emulators.opentext import (
    LargeFileSettings,
    OpenTextEmulatorConfig,
    OpenTextState,
    parse_large_file_flags,
    start_opentext_emulator,
)

from tests.unit.emulators.conftest import ENTERPRISE, Api, login

PART = 1000
LIFETIME_S = 60.0
SETTINGS = LargeFileSettings(min_size=1024, max_size=10_000, part_size=PART, session_lifetime_s=LIFETIME_S)
DATA = bytes(range(256)) * 10  # 2560 bytes: parts of 1000, 1000 and 560
INVALID_KEY = ("Failed to complete request. Either the UploadKey is invalid, or you do not have permission to "
               "access this upload session")
CANNOT_CLOSE = "Invalid status. Cannot close an empty or already closed upload."
FILE_NOT_FOUND = "Error: File could not be found within the upload directory."


@dataclass
class Clock:
    now: float = 1_767_225_600.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Lfu:
    api: Api
    clock: Clock

    async def start(self, size: int = len(DATA), name: str = "big.pdf", **extra: str) -> Any:
        fields = {"file_name": name, "file_size": str(size), "mime_type": "application/pdf"} | extra
        return await self.api.call("POST", "/v2/multipart", data=fields)

    async def key(self, size: int = len(DATA)) -> str:
        reply = await self.start(size)
        assert reply.status == 200, reply.body
        return str(reply.body["upload_key"])

    async def part(self, key: str, number: int | str, data: bytes, *, filename: str | None = "blob",
                   ticket: str | None = None) -> Any:
        form: aiohttp.FormData | aiohttp.MultipartWriter
        if filename is None:  # FormData names a file for every bytes value; a writer need not
            form = aiohttp.MultipartWriter("form-data")
            form.append(data, {"Content-Type": "application/octet-stream"}).set_content_disposition(
                "form-data", name="part_content")
        else:
            form = aiohttp.FormData()
            form.add_field("part_content", data, filename=filename, content_type="application/octet-stream")
        return await self.api.call("POST", f"/v2/multipart/{key}/{number}", data=form, ticket=ticket)

    async def all_parts(self, key: str, data: bytes = DATA) -> None:
        for number, start in enumerate(range(0, len(data), PART), 1):
            reply = await self.part(key, number, data[start:start + PART])
            assert reply.status == 200, reply.body

    async def complete(self, key: str) -> Any:
        return await self.api.call("POST", f"/v2/multipart/{key}")

    async def uploaded(self, key: str, data: bytes = DATA) -> str:
        await self.all_parts(key, data)
        reply = await self.complete(key)
        assert reply.status == 200, reply.body
        return key

    async def create(self, key: str, name: str = "big.pdf", parent_id: int = ENTERPRISE) -> Any:
        return await self.api.body("POST", "/v2/nodes", {"type": 144, "parent_id": parent_id, "name": name,
                                                         "upload_key": key})


@pytest.fixture
async def lfu(http: aiohttp.ClientSession) -> AsyncIterator[Lfu]:
    clock = Clock()
    config = OpenTextEmulatorConfig(users={"Admin": "livelink", "jdoe": "pw"}, large_files=SETTINGS)
    async with await start_opentext_emulator(config, OpenTextState.from_config(config, clock=clock)) as emu:
        yield Lfu(Api(http, emu, await login(http, emu)), clock)


def error(reply: Any) -> tuple[int, str]:
    return reply.status, reply.body["error"]


async def test_settings_say_enabled_and_the_size_range(lfu: Lfu) -> None:
    reply = await lfu.api.get("/v2/multipart/settings")
    assert reply.status == 200 and reply.body == {"is_enabled": True, "min_size": 1024, "max_size": 10_000}


async def test_a_file_in_parts_becomes_a_document_by_its_upload_key(lfu: Lfu) -> None:
    started = await lfu.start()
    assert started.status == 200
    body = started.body
    assert (body["num_parts"], body["part_size"], body["max_retries"]) == (3, PART, 3)
    assert isinstance(body["upload_key"], str) and body["upload_key"]
    key = await lfu.uploaded(body["upload_key"])
    state = await lfu.api.admin("GET", "state")
    assert state["uploads"] == [{"upload_key": key, "file_name": "big.pdf", "file_size": len(DATA), "num_parts": 3,
                                 "parts_received": [1, 2, 3], "status": "complete"}]
    created = await lfu.create(key, name="Big document")
    assert created.status == 200, created.body
    props = created.body["results"]["data"]["properties"]
    assert (props["type"], props["size"], props["mime_type"]) == (144, len(DATA), "application/pdf")
    assert (await lfu.api.get(f"/v2/nodes/{props['id']}/content")).raw == DATA
    version = (await lfu.api.get(f"/v2/nodes/{props['id']}/versions/1")).body["results"]["data"]["versions"]
    assert (version["file_name"], version["file_size"]) == ("big.pdf", len(DATA))
    state = await lfu.api.admin("GET", "state")
    [doc] = state["documents"]
    assert doc["versions"][0]["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert state["uploads"] == [] and state["counts"]["uploads"] == 0  # the key is used up
    again = await lfu.create(key, name="Second")
    assert error(again) == (400, FILE_NOT_FOUND)


async def test_a_new_version_by_upload_key(lfu: Lfu) -> None:
    doc = await lfu.api.document(ENTERPRISE, "Contract.pdf", b"small first version")
    key = await lfu.uploaded(await lfu.key())
    reply = await lfu.api.call("POST", f"/v2/nodes/{doc}/versions", data={"upload_key": key, "description": "big"})
    assert reply.status == 200, reply.body
    assert reply.body["results"]["data"]["versions"]["version_number"] == 2
    assert (await lfu.api.get(f"/v2/nodes/{doc}/content")).raw == DATA
    again = await lfu.api.call("POST", f"/v2/nodes/{doc}/versions", data={"upload_key": key})
    assert error(again) == (400, FILE_NOT_FOUND)


async def test_a_part_without_a_file_name_is_taken_too(lfu: Lfu) -> None:
    key = await lfu.key(1500)
    assert (await lfu.part(key, 1, DATA[:PART], filename=None)).status == 200
    assert (await lfu.part(key, 2, DATA[:500], filename=None)).status == 200
    assert (await lfu.complete(key)).status == 200


@pytest.mark.parametrize("size", [1023, 10_001])
async def test_a_file_outside_the_size_range_is_refused(lfu: Lfu, size: int) -> None:
    assert error(await lfu.start(size)) == (
        500, "Invalid block size: File size must be between 1024 and 10000 bytes.")


@pytest.mark.parametrize(("fields", "message"), [
    ({"file_name": ""}, "Missing required parameter 'file_name'"),
    ({"mime_type": ""}, "Missing required parameter 'mime_type'"),
    ({"file_size": "lots"}, "Pattern of argument was not recognized."),
])
async def test_a_start_without_what_it_needs_is_refused(lfu: Lfu, fields: dict[str, str], message: str) -> None:
    reply = await lfu.api.call("POST", "/v2/multipart", data={"file_name": "a.pdf", "file_size": "2000",
                                                              "mime_type": "application/pdf"} | fields)
    assert error(reply) == (400, message)


@pytest.mark.parametrize("number", [0, 4])
async def test_a_part_number_out_of_range_is_refused(lfu: Lfu, number: int) -> None:
    key = await lfu.key()
    assert error(await lfu.part(key, number, DATA[:PART])) == (500, "Invalid BlockID: Expected BlockID between 1 and 3")
    assert (await lfu.part(key, "one", DATA[:PART])).status == 400


async def test_a_part_sent_twice_is_answered_already_uploaded(lfu: Lfu) -> None:
    key = await lfu.key()
    assert (await lfu.part(key, 1, DATA[:PART])).status == 200
    assert error(await lfu.part(key, 1, DATA[:PART])) == (500, "Invalid BlockID: BlockID 1 has already been uploaded.")
    for number in (2, 3):
        assert (await lfu.part(key, number, DATA[(number - 1) * PART:number * PART])).status == 200
    assert (await lfu.complete(key)).status == 200
    # once complete, every part "has already been uploaded": a client resending one may take it as done
    assert error(await lfu.part(key, 2, DATA[PART:2 * PART])) == (
        500, "Invalid BlockID: BlockID 2 has already been uploaded.")


@pytest.mark.parametrize(("number", "length"), [(1, PART - 1), (1, PART + 1), (3, 561), (3, 559)])
async def test_a_part_of_the_wrong_length_is_refused_and_not_kept(lfu: Lfu, number: int, length: int) -> None:
    key = await lfu.key()
    reply = await lfu.part(key, number, b"x" * length)
    assert reply.status == 500 and reply.body["error"].startswith("Invalid block size: ")
    expected = PART if number == 1 else 560
    assert reply.body["error"] == (f"Invalid block size: part {number} of 3 must have {expected} bytes, "
                                   f"it has {length}.")
    assert (await lfu.api.admin("GET", "state"))["uploads"][0]["parts_received"] == []
    assert (await lfu.part(key, number, b"x" * expected)).status == 200  # the right one is still welcome


async def test_a_part_without_content_is_refused(lfu: Lfu) -> None:
    key = await lfu.key()
    reply = await lfu.api.call("POST", f"/v2/multipart/{key}/1", data={"other": "x"})
    assert error(reply) == (400, "Missing required parameter 'part_content'")


async def test_completing_an_empty_a_closed_or_an_incomplete_session_is_refused(lfu: Lfu) -> None:
    key = await lfu.key()
    assert error(await lfu.complete(key)) == (500, CANNOT_CLOSE)
    assert (await lfu.part(key, 2, DATA[PART:2 * PART])).status == 200
    incomplete = await lfu.complete(key)
    assert incomplete.status == 500
    assert incomplete.body["error"] == ("Invalid status. Cannot close the upload: 2 of 3 parts have not been "
                                        "uploaded (first missing: 1).")
    await lfu.part(key, 1, DATA[:PART])
    await lfu.part(key, 3, DATA[2 * PART:])
    assert (await lfu.complete(key)).status == 200
    assert error(await lfu.complete(key)) == (500, CANNOT_CLOSE)


async def test_an_unknown_key_or_another_users_session_is_refused(lfu: Lfu) -> None:
    for reply in (await lfu.part("nope", 1, DATA[:PART]), await lfu.complete("nope"),
                  await lfu.api.call("DELETE", "/v2/multipart/nope")):
        assert error(reply) == (500, INVALID_KEY)
    key = await lfu.key()
    other = await login(lfu.api.http, lfu.api.emu, "jdoe", "pw")
    assert error(await lfu.part(key, 1, DATA[:PART], ticket=other)) == (500, INVALID_KEY)
    await lfu.uploaded(key)
    theirs = await lfu.api.call("POST", "/v2/nodes", ticket=other, data={"body": json.dumps(
        {"type": 144, "parent_id": ENTERPRISE, "name": "theirs.pdf", "upload_key": key})})
    assert error(theirs) == (400, FILE_NOT_FOUND)


async def test_a_key_whose_session_is_not_complete_cannot_be_used(lfu: Lfu) -> None:
    key = await lfu.key()
    await lfu.all_parts(key)
    assert error(await lfu.create(key)) == (400, FILE_NOT_FOUND)
    assert (await lfu.complete(key)).status == 200  # the failed create left the session as it was
    assert (await lfu.create(key)).status == 200


async def test_a_failed_create_leaves_the_key_usable(lfu: Lfu) -> None:
    await lfu.api.document(ENTERPRISE, "taken.pdf", b"x")
    key = await lfu.uploaded(await lfu.key())
    assert error(await lfu.create(key, name="taken.pdf")) == (500, "An item with the name 'taken.pdf' already exists.")
    assert (await lfu.create(key, name="free.pdf")).status == 200


async def test_a_session_expires_on_the_servers_clock(lfu: Lfu) -> None:
    key = await lfu.key()
    assert (await lfu.part(key, 1, DATA[:PART])).status == 200
    lfu.clock.now += LIFETIME_S + 1
    assert error(await lfu.part(key, 2, DATA[PART:2 * PART])) == (500, "Multipart Upload session expired")
    assert error(await lfu.complete(key)) == (500, "Multipart Upload session expired")
    [session] = (await lfu.api.admin("GET", "state"))["uploads"]
    assert (session["status"], session["parts_received"]) == ("expired", [])  # its parts are gone
    assert (await lfu.api.call("DELETE", f"/v2/multipart/{key}")).status == 200
    assert (await lfu.api.admin("GET", "state"))["uploads"] == []


async def test_a_complete_session_expires_too(lfu: Lfu) -> None:
    key = await lfu.uploaded(await lfu.key())
    lfu.clock.now += LIFETIME_S + 1
    assert error(await lfu.create(key)) == (400, FILE_NOT_FOUND)


async def test_cancel_removes_the_session_and_its_parts(lfu: Lfu) -> None:
    key = await lfu.key()
    await lfu.part(key, 1, DATA[:PART])
    incoming = lfu.api.emu.state.content.root / "incoming"
    assert len(list(incoming.iterdir())) == 1
    reply = await lfu.api.call("DELETE", f"/v2/multipart/{key}")
    assert reply.status == 200 and reply.body["results"] == {}
    assert list(incoming.iterdir()) == []
    assert error(await lfu.part(key, 2, DATA[PART:2 * PART])) == (500, INVALID_KEY)
    completed = await lfu.uploaded(await lfu.key())
    assert (await lfu.api.call("DELETE", f"/v2/multipart/{completed}")).status == 200
    assert error(await lfu.create(completed)) == (400, FILE_NOT_FOUND)
    assert list(incoming.iterdir()) == []


async def test_a_reset_forgets_the_sessions(lfu: Lfu) -> None:
    key = await lfu.key()
    await lfu.part(key, 1, DATA[:PART])
    await lfu.api.admin("POST", "reset")
    ticket = await login(lfu.api.http, lfu.api.emu)
    lfu.api.ticket = ticket
    assert error(await lfu.part(key, 2, DATA[PART:2 * PART])) == (500, INVALID_KEY)


async def test_disabled_large_file_upload(http: aiohttp.ClientSession) -> None:
    config = OpenTextEmulatorConfig(large_files=LargeFileSettings(enabled=False))
    async with await start_opentext_emulator(config) as emu:
        api = Api(http, emu, await login(http, emu))
        assert (await api.get("/v2/multipart/settings")).body["is_enabled"] is False
        reply = await api.call("POST", "/v2/multipart", data={"file_name": "a", "file_size": "1", "mime_type": "x/y"})
        assert error(reply) == (400, "Large File Upload is not enabled on this server.")


async def test_lost_answers_of_a_part_and_of_complete_leave_them_done(lfu: Lfu) -> None:
    key = await lfu.key()
    await lfu.api.admin("POST", "faults", json={"lost_answer_rate": 1.0,
                                                "operations": ["multipart.part", "multipart.complete"]})
    with pytest.raises(aiohttp.ClientConnectionError):
        await lfu.part(key, 1, DATA[:PART])
    assert error(await lfu.part(key, 1, DATA[:PART])) == (500, "Invalid BlockID: BlockID 1 has already been uploaded.")
    await lfu.api.admin("POST", "faults", json={})
    for number in (2, 3):
        await lfu.part(key, number, DATA[(number - 1) * PART:number * PART])
    await lfu.api.admin("POST", "faults", json={"lost_answer_rate": 1.0, "operations": ["multipart.complete"]})
    with pytest.raises(aiohttp.ClientConnectionError):
        await lfu.complete(key)
    assert error(await lfu.complete(key)) == (500, CANNOT_CLOSE)  # a refusal is never lost
    await lfu.api.admin("POST", "faults", json={})
    assert (await lfu.create(key)).status == 200
    calls = await lfu.api.admin("GET", "calls")
    assert {k: v for k, v in calls.items() if k.startswith("multipart.")} == {
        "multipart.start": 1, "multipart.part": 4, "multipart.complete": 2}
    assert (await lfu.api.admin("GET", "faults"))["lost_answers"] == 2


async def test_a_lost_cancel_is_resent_by_aiohttp_and_refused(lfu: Lfu) -> None:
    key = await lfu.key()
    await lfu.api.admin("POST", "faults", json={"lost_answer_rate": 1.0, "operations": ["multipart.cancel"]})
    resent = await lfu.api.call("DELETE", f"/v2/multipart/{key}")  # aiohttp resends a DELETE by itself
    assert error(resent) == (500, INVALID_KEY)
    assert (await lfu.api.admin("GET", "calls"))["multipart.cancel"] == 2
    assert (await lfu.api.admin("GET", "state"))["uploads"] == []


@pytest.mark.parametrize(("flags", "expected"), [
    ("min_size=1MiB,part_size=256KiB", LargeFileSettings(min_size=1 << 20, part_size=256 << 10)),
    ("enabled=false,max_size=2GiB,session_lifetime_s=30,max_retries=5",
     LargeFileSettings(enabled=False, max_size=2 << 30, session_lifetime_s=30.0, max_retries=5)),
    ("min_size=1048576", LargeFileSettings(min_size=1 << 20)),
    ("", LargeFileSettings()),
])
def test_large_file_flags(flags: str, expected: LargeFileSettings) -> None:
    assert parse_large_file_flags(flags) == expected


@pytest.mark.parametrize("flags", ["min_size=lots", "part_size=0", "colour=red", "enabled=maybe", "min_size"])
def test_bad_large_file_flags_are_refused(flags: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the messages differ per flag
        parse_large_file_flags(flags)
