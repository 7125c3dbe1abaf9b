"""Slack incoming webhooks as a sender sees them: what is accepted, what is refused, and how."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest

from tests.unit.emulators_notify.conftest import Notify

BLOCKS = [{"type": "header", "text": {"type": "plain_text", "text": "Approval needed"}},
          {"type": "section", "text": {"type": "mrkdwn", "text": "*Supply agreement* for Acme"},
           "fields": [{"type": "mrkdwn", "text": "Amount: 125000 EUR"}]},
          {"type": "context", "elements": [{"type": "mrkdwn", "text": "from xstream"}]},
          {"type": "divider"}]


async def test_text_is_accepted_and_recorded(notify: Notify) -> None:
    reply = await notify.slack("legal", {"text": "Legal review done", "username": "xstream"})
    assert (reply.status, reply.text) == (200, "ok")
    assert reply.headers["Content-Type"].startswith("text/plain")
    [message] = await notify.messages()
    assert message == {"seq": 1, "channel": "legal", "format": "slack",
                       "payload": {"text": "Legal review done", "username": "xstream"},
                       "text": "Legal review done", "headers": {}, "received_at": message["received_at"],
                       "run_id": None}
    assert message["received_at"].endswith("Z")


async def test_blocks_alone_are_accepted_and_their_texts_summarised(notify: Notify) -> None:
    reply = await notify.slack("commercial", {"blocks": BLOCKS})
    assert (reply.status, reply.text) == (200, "ok")
    [message] = await notify.messages()
    assert message["text"] == "Approval needed\n*Supply agreement* for Acme\nAmount: 125000 EUR\nfrom xstream"
    assert message["payload"] == {"blocks": BLOCKS}


async def test_text_wins_over_blocks_as_the_summary(notify: Notify) -> None:
    assert (await notify.slack("commercial", {"text": "fallback", "blocks": BLOCKS})).status == 200
    assert (await notify.messages())[0]["text"] == "fallback"


async def test_a_form_with_the_json_in_payload_is_accepted(notify: Notify) -> None:
    body = urlencode({"payload": json.dumps({"text": "from a form"})}).encode()
    reply = await notify.slack("finance", None, raw=body, content_type="application/x-www-form-urlencoded")
    assert (reply.status, reply.text) == (200, "ok")
    assert (await notify.messages())[0]["payload"] == {"text": "from a form"}


async def test_json_is_parsed_whatever_the_content_type(notify: Notify) -> None:
    assert (await notify.slack("finance", {"text": "t"}, content_type="text/plain")).status == 200


@pytest.mark.parametrize(("body", "content_type", "code"), [
    (b"not json", "application/json", "invalid_payload"),
    (b"", "application/json", "invalid_payload"),
    (b'["text"]', "application/json", "invalid_payload"),
    (b'{"text": 5}', "application/json", "invalid_payload"),
    (b"text=hello", "application/x-www-form-urlencoded", "invalid_payload"),
    (b"payload=%7Bnope", "application/x-www-form-urlencoded", "invalid_payload"),
    (b"{}", "application/json", "no_text"),
    (b'{"text": ""}', "application/json", "no_text"),
    (b'{"text": "   "}', "application/json", "no_text"),
    (b'{"blocks": []}', "application/json", "no_text"),
    (b'{"username": "xstream"}', "application/json", "no_text"),
    (b'{"blocks": "section"}', "application/json", "invalid_blocks_format"),
    (b'{"blocks": [{"text": "no type"}]}', "application/json", "invalid_blocks"),
    (b'{"blocks": [' + b",".join([b'{"type": "divider"}'] * 51) + b"]}", "application/json", "invalid_blocks"),
])
async def test_bad_payloads_are_400_in_plain_text(notify: Notify, body: bytes, content_type: str,
                                                  code: str) -> None:
    reply = await notify.slack("legal", None, raw=body, content_type=content_type)
    assert (reply.status, reply.text) == (400, code)
    assert reply.headers["Content-Type"].startswith("text/plain")
    assert await notify.messages() == []


async def test_unknown_channel_is_404_and_a_wrong_token_403(notify: Notify) -> None:
    origin = notify.emu.origin
    reply = await notify.post(f"{origin}/slack/marketing/marketing-token", {"text": "t"})
    assert (reply.status, reply.text) == (404, "channel_not_found")
    reply = await notify.post(f"{origin}/slack/legal/commercial-token", {"text": "t"})
    assert (reply.status, reply.text) == (403, "invalid_token")
    assert await notify.messages() == []


async def test_the_channel_is_checked_before_the_payload(notify: Notify) -> None:
    reply = await notify.post(f"{notify.emu.origin}/slack/legal/wrong", raw=b"not json")
    assert (reply.status, reply.text) == (403, "invalid_token")


async def test_a_body_over_1_mib_is_413(notify: Notify) -> None:
    big = {"text": "x" * (1024 * 1024)}
    reply = await notify.slack("legal", big)
    assert (reply.status, reply.text) == (413, "request_too_large")
    just = {"text": "x" * (1024 * 1024 - len('{"text": ""}'))}
    assert (await notify.slack("legal", just)).status == 200


async def test_a_chunked_body_over_the_limit_is_413_too(notify: Notify) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(17):
            yield b"x" * 65536
        yield b'"}'

    reply = await notify.post(notify.emu.channel_url("legal", "slack"), raw=None, data=chunks())
    assert (reply.status, reply.text) == (413, "request_too_large")
    assert await notify.messages() == []


async def test_other_urls_and_methods(notify: Notify) -> None:
    async with notify.http.get(notify.emu.channel_url("legal", "slack")) as r:
        assert (r.status, await r.text(), r.headers["Allow"]) == (405, "method_not_allowed", "POST")
    reply = await notify.post(f"{notify.emu.origin}/slack/legal", {"text": "t"})
    assert (reply.status, reply.text) == (404, "no_service")
