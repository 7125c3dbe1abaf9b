"""What a Microsoft Teams workflow webhook accepts, pure (Workflows / Power Automate "Post to a channel
when a webhook request is received", the successor of Office 365 connectors).

The body is JSON (``Content-Type: application/json``; like a Logic Apps request trigger, another
type is refused) shaped as a Teams message carrying Adaptive Cards::

    {"type": "message",
     "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null,
                      "content": {"type": "AdaptiveCard", "version": "1.4",
                                  "body": [{"type": "TextBlock", "text": "..."}, ...]}}]}

Each attachment must be an Adaptive Card (version 1.x) with a non-empty ``body`` of elements with a
``type``. Anything else is 400 ``{"error": {"code": "InvalidRequestContent", "message": <what is
wrong>}}``. The trigger accepts with 202 and an empty body; the card is posted by the flow run.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from xstream_emulators.notify.model import WebhookError

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = re.compile(r"1\.\d+")
JSON_TYPE = re.compile(r"application/(?:[\w.+-]+\+)?json")


def parse(raw: bytes, content_type: str) -> tuple[dict[str, Any], str]:
    """(the decoded message, the concatenated TextBlock texts of its cards), or WebhookError 400."""
    if not JSON_TYPE.fullmatch(content_type):
        raise _bad(f"The input body for trigger 'manual' of type 'Request' must be of type JSON, "
                   f"but was of type '{content_type}'.")
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _bad("The request content is not valid JSON.") from None
    if not isinstance(message, dict):
        raise _bad("The request content must be a JSON object.")
    if message.get("type") != "message":
        raise _bad("The request content must have type 'message'.")
    attachments = message.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        raise _bad("The request content must have a non-empty array 'attachments'.")
    texts: list[str] = []
    for i, attachment in enumerate(attachments):
        texts.extend(_texts(_card(attachment, f"attachments[{i}]")))
    return message, "\n".join(texts)


def _card(attachment: Any, where: str) -> list[Any]:
    """The body of one attachment's Adaptive Card, checked."""
    if not isinstance(attachment, dict):
        raise _bad(f"{where} must be an object.")
    if attachment.get("contentType") != ADAPTIVE_CARD:
        raise _bad(f"{where}.contentType must be '{ADAPTIVE_CARD}'.")
    card = attachment.get("content")
    if not isinstance(card, dict):
        raise _bad(f"{where}.content must be an Adaptive Card object.")
    if card.get("type") != "AdaptiveCard":
        raise _bad(f"{where}.content.type must be 'AdaptiveCard'.")
    version = card.get("version")
    if not isinstance(version, str) or not CARD_VERSION.fullmatch(version):
        raise _bad(f"{where}.content.version must be an Adaptive Card version '1.x'.")
    body = card.get("body")
    if not isinstance(body, list) or not body:
        raise _bad(f"{where}.content.body must be a non-empty array.")
    for j, element in enumerate(body):
        if not isinstance(element, dict) or not isinstance(element.get("type"), str):
            raise _bad(f"{where}.content.body[{j}] must be an element object with a 'type'.")
    return body


def _texts(elements: list[Any]) -> list[str]:
    """TextBlock texts in card order, also inside containers (Container items, ColumnSet columns)."""
    texts: list[str] = []
    for element in elements:
        if not isinstance(element, dict):
            continue
        if element.get("type") == "TextBlock" and isinstance(element.get("text"), str):
            texts.append(element["text"])
        for nested in ("items", "columns"):
            if isinstance(element.get(nested), list):
                texts.extend(_texts(element[nested]))
    return texts


def _bad(message: str) -> WebhookError:
    return WebhookError(400, "InvalidRequestContent", message)
