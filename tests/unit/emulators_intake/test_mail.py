"""Inbound e-mails: what the emulator builds parses in xstream's own mail decoder (``parse_email``), with
the threading headers, the inline attachments' bytes and the by-reference attachments' URLs."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.parser import BytesParser

import pytest
from xstream_emulators.intake import IntakeEmulatorConfig, pseudo_random_bytes, start_intake_emulator

from tests.unit.emulators_intake.conftest import INLINE_LIMIT, Intake, mail
from xstream.model.record import RecordRef
from xstream.transform.mail import ParsedEmail, attachment_bytes, parse_email

RECORD = RecordRef(topic="mail.inbound", partition=0, offset=7, timestamp_ms=1_700_000_000_000)
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 4


def parsed(raw: bytes) -> ParsedEmail:
    return parse_email(raw, record=RECORD, max_bytes=50 * 1024 * 1024)


async def test_a_reply_with_attachments_parses_into_an_email_part_and_its_attachments(intake: Intake) -> None:
    answer = await intake.mail(
        message_id="<reply-2@mail.example.com>", in_reply_to="first-1@mail.example.com",
        references=["<root-0@insurer.example>", "first-1@mail.example.com"], thread_index="AdoTUx5XcK0wQ8rH",
        date="Mon, 02 Mar 2026 09:15:00 +0100",
        attachments=[{"name": "claim.pdf", "media_type": "application/pdf", "content_b64": base64.b64encode(PDF).decode()},
                     {"name": "kitchen.jpg", "media_type": "image/jpeg", "size": 3000},
                     {"name": "video.mp4", "media_type": "video/mp4", "size": INLINE_LIMIT + 1}])
    assert answer["message_id"] == "<reply-2@mail.example.com>" and answer["seq"] == 1
    raw = await intake.raw(1)
    assert answer["size"] == len(raw)
    result = parsed(raw)

    email = result.email
    assert (email.message_id, email.in_reply_to, email.references, email.thread_index) == (
        "reply-2@mail.example.com", "first-1@mail.example.com", ("root-0@insurer.example", "first-1@mail.example.com"),
        "AdoTUx5XcK0wQ8rH")
    assert (email.sender, email.name, email.size) == ("ann@example.com", "Water damage, policy PN-1001", len(raw))
    assert email.text is not None and "the kitchen is flooded." in email.text
    assert email.received_at == datetime(2026, 3, 2, 8, 15, tzinfo=UTC)
    assert email.sha256 == hashlib.sha256(raw).hexdigest() and result.tolerated == ()

    pdf, jpg, video = result.attachments
    jpg_bytes = pseudo_random_bytes("kitchen.jpg", 3000)
    assert [(a.name, a.media_type, a.size) for a in result.attachments] == [
        ("claim.pdf", "application/pdf", len(PDF)), ("kitchen.jpg", "image/jpeg", 3000),
        ("video.mp4", "video/mp4", INLINE_LIMIT + 1)]
    for part, data, reported in ((pdf, PDF, answer["attachments"][0]), (jpg, jpg_bytes, answer["attachments"][1])):
        assert part.content is not None and part.content.kind == "record" and part.content.path is not None
        assert part.sha256 == reported["sha256"] == hashlib.sha256(data).hexdigest()
        assert attachment_bytes(raw, part.content.path) == data and reported["by_reference"] is False
        assert "url" not in reported
    assert (pdf.content and pdf.content.path, jpg.content and jpg.content.path) == ("mime:2", "mime:3")

    reported = answer["attachments"][2]
    assert reported["by_reference"] is True and video.sha256 is None and video.content is not None
    assert video.content.kind == "url" and video.content.url == reported["url"]
    assert reported["url"].startswith(f"{intake.emu.url}/blobs/")
    async with intake.http.get(reported["url"]) as r:
        body = await r.read()
    assert len(body) == reported["size"] == INLINE_LIMIT + 1
    assert hashlib.sha256(body).hexdigest() == reported["sha256"]


async def test_the_message_is_multipart_mixed_with_crlf_and_the_connector_key_is_the_bare_message_id(
        intake: Intake) -> None:
    answer = await intake.mail()
    assert answer["message_id"].startswith("<") and answer["message_id"].endswith("@intake.example>")
    item, = await intake.outbox()
    assert (item["kind"], item["key"]) == ("mail", answer["message_id"][1:-1])
    raw = base64.b64decode(item["value_b64"])
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert msg.get_content_type() == "multipart/mixed"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain"]
    result = parsed(raw)
    assert result.email.message_id == item["key"] and result.attachments == ()


async def test_non_ascii_names_and_a_long_public_url_survive() -> None:
    public = "https://files.insurer.example/mail-gateway/large-attachments/download/for/claims/department"
    config = IntakeEmulatorConfig(inline_limit=10, public_url=public)
    async with await start_intake_emulator(config) as emu:
        import aiohttp

        async with aiohttp.ClientSession() as http:
            intake = Intake(http, emu)
            answer = await intake.mail(subject="Schaden – Küche überflutet", attachments=[
                {"name": "Schadensmeldung für Versicherung.pdf", "media_type": "application/pdf", "size": 100}])
            result = parsed(await intake.raw(1))
    url = answer["attachments"][0]["url"]
    assert url.startswith(f"{public}/blobs/") and url == emu.blob_url(url.rsplit("/", 1)[1])
    assert result.email.name == "Schaden – Küche überflutet"
    part, = result.attachments
    assert (part.name, part.size, part.content and part.content.url) == ("Schadensmeldung für Versicherung.pdf", 100, url)


@pytest.mark.parametrize(("date", "expected"), [
    ("2026-03-02T09:15:00+01:00", datetime(2026, 3, 2, 9, 15, tzinfo=timezone(timedelta(hours=1)))),
    ("2026-03-02T08:15:00Z", datetime(2026, 3, 2, 8, 15, tzinfo=UTC)),
    ("2026-03-02T08:15:00", datetime(2026, 3, 2, 8, 15, tzinfo=UTC)),
    ("Mon, 2 Mar 2026 08:15:00 GMT", datetime(2026, 3, 2, 8, 15, tzinfo=UTC)),
])
async def test_dates_are_taken_in_rfc_2822_or_iso_8601(intake: Intake, date: str, expected: datetime) -> None:
    await intake.mail(date=date)
    assert parsed(await intake.raw(1)).email.received_at == expected


async def test_without_a_date_the_message_is_dated_now(intake: Intake) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    await intake.mail()
    assert before <= parsed(await intake.raw(1)).email.received_at <= datetime.now(UTC)


async def test_generated_content_is_the_same_for_the_same_name_and_size(intake: Intake) -> None:
    attachment = {"name": "scan.tif", "media_type": "image/tiff", "size": 1234}
    first = await intake.mail(attachments=[attachment])
    second = await intake.mail(attachments=[attachment])
    assert first["attachments"][0]["sha256"] == second["attachments"][0]["sha256"] == hashlib.sha256(
        pseudo_random_bytes("scan.tif", 1234)).hexdigest()


@pytest.mark.parametrize(("change", "code"), [
    ({"from": "nobody"}, "invalid_field"),
    ({"to": []}, "invalid_field"),
    ({"text": None}, "invalid_field"),
    ({"subject": "hi\r\nBcc: everyone@example.com"}, "invalid_field"),
    ({"message_id": "<no-domain>"}, "invalid_field"),
    ({"references": "<a@b>"}, "invalid_field"),
    ({"date": "yesterday"}, "invalid_field"),
    ({"attachments": [{"name": "a.pdf", "media_type": "pdf", "size": 1}]}, "invalid_field"),
    ({"attachments": [{"name": "a.pdf", "media_type": "application/pdf", "content_b64": "%%%"}]}, "invalid_field"),
    ({"attachments": [{"name": "a.pdf", "media_type": "application/pdf"}]}, "invalid_field"),
    ({"attachments": [{"name": "", "media_type": "application/pdf", "size": 1}]}, "invalid_field"),
])
async def test_bad_mail_requests_are_refused_and_nothing_is_queued(intake: Intake, change: dict[str, object],
                                                                   code: str) -> None:
    reply = await intake.admin("POST", "mail", mail(**change))
    assert (reply.status, reply.body["error"]["code"]) == (422, code)
    assert await intake.outbox() == []


async def test_a_body_that_is_not_a_json_object_is_400(intake: Intake) -> None:
    for raw in (b"[1, 2]", b"not json"):
        async with intake.http.post(f"{intake.emu.admin_url}/mail", data=raw) as r:
            assert (r.status, (await r.json())["error"]["code"]) == (400, "invalid_body")


async def test_a_message_over_the_limit_is_413_and_leaves_no_blob_behind() -> None:
    config = IntakeEmulatorConfig(inline_limit=1000, max_message_bytes=5000, max_blob_bytes=20_000)
    async with await start_intake_emulator(config) as emu:
        import aiohttp

        async with aiohttp.ClientSession() as http:
            intake = Intake(http, emu)
            too_big = [{"name": "big.bin", "media_type": "application/octet-stream", "size": 10_000}] + [
                {"name": f"p{i}.png", "media_type": "image/png", "size": 900} for i in range(6)]
            reply = await intake.admin("POST", "mail", mail(attachments=too_big))
            assert (reply.status, reply.body["error"]["code"]) == (413, "too_large")
            reply = await intake.admin("POST", "mail", mail(attachments=[
                {"name": "huge.bin", "media_type": "application/octet-stream", "size": 20_001}]))
            assert (reply.status, reply.body["error"]["code"]) == (413, "too_large")
            state = (await intake.admin("GET", "state")).body
    assert (state["outbox"], state["blobs"]) == (0, 0)
