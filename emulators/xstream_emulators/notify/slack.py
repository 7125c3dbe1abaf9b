"""What a Slack incoming webhook accepts, pure (``POST https://hooks.slack.com/services/...``).

The body is JSON (``Content-Type: application/json``; Slack parses the body as JSON whatever the
type says) or a form with the JSON in the field ``payload``
(``application/x-www-form-urlencoded``), as Slack also accepts. A message needs a non-empty string
``text`` or a non-empty list ``blocks``. Refusals are plain-text codes, as Slack sends them:

    400 invalid_payload        not JSON, not an object, no ``payload`` field, or text not a string
    400 invalid_blocks_format  blocks not a list
    400 invalid_blocks         a block that is not an object with a string ``type``, or over 50 blocks
    400 no_text                neither text nor blocks

(the channel and token checks and the 413 come first; see ``model.REFUSALS``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import orjson

from xstream_emulators.notify.model import WebhookError

FORM = "application/x-www-form-urlencoded"
MAX_BLOCKS = 50


def parse(raw: bytes, content_type: str) -> tuple[dict[str, Any], str]:
    """(the decoded message, its text summary), or WebhookError 400 with Slack's code."""
    payload = _decode(raw, content_type)
    text = payload.get("text")
    blocks = payload.get("blocks")
    if text is not None and not isinstance(text, str):
        raise _bad("invalid_payload", "text must be a string.")
    if blocks is not None:
        if not isinstance(blocks, list):
            raise _bad("invalid_blocks_format", "blocks must be a list.")
        if len(blocks) > MAX_BLOCKS or not all(isinstance(b, dict) and isinstance(b.get("type"), str)
                                               for b in blocks):
            raise _bad("invalid_blocks", f"blocks must be at most {MAX_BLOCKS} objects with a type.")
    if not (text and text.strip()) and not blocks:
        raise _bad("no_text", "A message needs text or blocks.")
    return payload, text if text and text.strip() else "\n".join(_block_texts(blocks or []))


def _decode(raw: bytes, content_type: str) -> dict[str, Any]:
    if content_type == FORM:
        try:
            fields = parse_qs(raw.decode(), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise _bad("invalid_payload", "The form is not UTF-8.") from None
        if not fields.get("payload"):
            raise _bad("invalid_payload", "The form has no payload field.")
        raw = fields["payload"][0].encode()
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _bad("invalid_payload", "The payload is not JSON.") from None
    if not isinstance(payload, dict):
        raise _bad("invalid_payload", "The payload must be a JSON object.")
    return payload


def _block_texts(blocks: list[Any]) -> list[str]:
    """The visible texts of Block Kit blocks (section/header text, section fields, context elements)."""
    texts: list[str] = []
    for block in blocks:
        for part in [block.get("text"), *_list(block.get("fields")), *_list(block.get("elements"))]:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
    return texts


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _bad(code: str, message: str) -> WebhookError:
    return WebhookError(400, code, message)
