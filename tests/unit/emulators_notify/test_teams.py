"""Microsoft Teams workflow webhooks as a sender sees them: Adaptive Card messages accepted with 202,
everything else refused with Azure-style JSON errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.unit.emulators_notify.conftest import Notify, card


async def test_a_card_is_accepted_with_202_and_recorded(notify: Notify) -> None:
    message = card("Legal review done", "Supply agreement for Acme")
    reply = await notify.teams("legal", message)
    assert (reply.status, reply.text) == (202, "")
    run_id = reply.headers["x-ms-workflow-run-id"]
    [recorded] = await notify.messages()
    assert recorded == {"seq": 1, "channel": "legal", "format": "teams", "payload": message,
                        "text": "Legal review done\nSupply agreement for Acme", "headers": {},
                        "received_at": recorded["received_at"], "run_id": run_id}
    second = await notify.teams("legal", message)
    assert second.headers["x-ms-workflow-run-id"] != run_id


async def test_texts_inside_containers_and_of_every_card_are_summarised(notify: Notify) -> None:
    message = card("Title")
    body = message["attachments"][0]["content"]["body"]
    body.append({"type": "Container", "items": [{"type": "TextBlock", "text": "in a container"},
                                                {"type": "Image", "url": "https://x/y.png"}]})
    body.append({"type": "ColumnSet", "columns": [{"type": "Column", "items": [
        {"type": "TextBlock", "text": "in a column"}]}]})
    body.append({"type": "FactSet", "facts": [{"title": "Amount", "value": "125000 EUR"}]})
    message["attachments"].append(card("Second card", version="1.5")["attachments"][0])
    assert (await notify.teams("commercial", message)).status == 202
    assert (await notify.messages())[0]["text"] == "Title\nin a container\nin a column\nSecond card"


async def test_json_with_a_charset_or_a_json_suffix_type_is_json(notify: Notify) -> None:
    assert (await notify.teams("legal", card("a"), content_type="application/json; charset=utf-8")).status == 202
    assert (await notify.teams("legal", card("b"), content_type="application/vnd.xstream+json")).status == 202


def _broken(change: str) -> Any:
    message = card("text")
    attachment = message["attachments"][0]
    content = attachment["content"]
    if change == "type":
        message["type"] = "card"
    elif change == "no attachments":
        message["attachments"] = []
    elif change == "attachment not an object":
        message["attachments"] = ["card"]
    elif change == "content type":
        attachment["contentType"] = "application/vnd.microsoft.card.hero"
    elif change == "no content":
        del attachment["content"]
    elif change == "not an adaptive card":
        content["type"] = "HeroCard"
    elif change == "version 2":
        content["version"] = "2.0"
    elif change == "version number":
        content["version"] = 1.4
    elif change == "empty body":
        content["body"] = []
    elif change == "element without type":
        content["body"] = [{"text": "t"}]
    return message


@pytest.mark.parametrize(("change", "named"), [
    ("type", "'message'"),
    ("no attachments", "attachments"),
    ("attachment not an object", "attachments[0]"),
    ("content type", "attachments[0].contentType"),
    ("no content", "attachments[0].content"),
    ("not an adaptive card", "attachments[0].content.type"),
    ("version 2", "attachments[0].content.version"),
    ("version number", "attachments[0].content.version"),
    ("empty body", "attachments[0].content.body"),
    ("element without type", "attachments[0].content.body[0]"),
])
async def test_wrong_shapes_are_400_invalid_request_content(notify: Notify, change: str, named: str) -> None:
    reply = await notify.teams("legal", _broken(change))
    assert reply.status == 400 and reply.headers["Content-Type"].startswith("application/json")
    error = reply.json()["error"]
    assert error["code"] == "InvalidRequestContent" and named in error["message"]
    assert await notify.messages() == []


@pytest.mark.parametrize(("body", "content_type", "says"), [
    (b"not json", "application/json", "not valid JSON"),
    (b"", "application/json", "not valid JSON"),
    (b"[1]", "application/json", "JSON object"),
    (b'{"type": "message"}', "text/plain", "must be of type JSON, but was of type 'text/plain'"),
])
async def test_bodies_that_are_not_json_messages_are_400(notify: Notify, body: bytes, content_type: str,
                                                        says: str) -> None:
    reply = await notify.teams("legal", None, raw=body, content_type=content_type)
    assert reply.status == 400
    assert reply.json()["error"]["code"] == "InvalidRequestContent" and says in reply.json()["error"]["message"]


async def test_unknown_channel_is_404_and_a_wrong_token_401(notify: Notify) -> None:
    origin = notify.emu.origin
    reply = await notify.post(f"{origin}/teams/marketing/x", card("t"))
    assert (reply.status, reply.json()["error"]["code"]) == (404, "WorkflowNotFound")
    reply = await notify.post(f"{origin}/teams/legal/legal-tokenX", card("t"))
    assert (reply.status, reply.json()["error"]["code"]) == (401, "DirectApiAuthorizationRequired")
    assert reply.json()["error"]["message"]
    assert await notify.messages() == []


async def test_a_body_over_the_limit_is_413(notify: Notify) -> None:
    message = copy.deepcopy(card("x" * (1024 * 1024)))
    reply = await notify.teams("legal", message)
    assert (reply.status, reply.json()["error"]["code"]) == (413, "RequestEntityTooLarge")


async def test_other_urls_and_methods(notify: Notify) -> None:
    async with notify.http.put(notify.emu.channel_url("legal", "teams"), json=card("t")) as r:
        assert (r.status, (await r.json())["error"]["code"], r.headers["Allow"]) == (405, "MethodNotAllowed", "POST")
    reply = await notify.post(f"{notify.emu.origin}/teams/legal/legal-token/extra", card("t"))
    assert (reply.status, reply.json()["error"]["code"]) == (404, "WorkflowNotFound")
