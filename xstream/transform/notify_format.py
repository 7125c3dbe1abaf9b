"""Notifications in the wire formats of chat incoming webhooks. Pure: a finished command -> JSON.

- Slack: ``{"text": <fallback>, "blocks": [header, section, fields, button]}`` (Block Kit; a header
  holds at most 150 characters, a section 3000, a field 2000; ten fields at most). Text is mrkdwn
  with ``&``, ``<``, ``>`` escaped, so names cannot turn into links or mentions.
- Teams (Workflows webhook): ``{"type": "message", "attachments": [<Adaptive Card 1.4>]}`` with a
  title, the text, a FactSet and an Action.OpenUrl.
"""

from __future__ import annotations

from typing import Any, Literal

from xstream.model.commands import Notify

Format = Literal["slack", "teams"]
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str) -> str:
    """Slack's control characters escaped: a document named ``<https://x|Open>`` stays text, not a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(command: Notify) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(command.title, 150), "emoji": False}},
    ]
    if command.text:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(_mrkdwn(command.text), 3000)}})
    facts = [(label, value) for label, value in command.facts.items() if value][:10]
    if facts:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": _cut(f"*{_mrkdwn(label)}*\n{_mrkdwn(value)}", 2000)} for label, value in facts]})
    if command.link_url:
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": _cut(command.link_title or "Open", 75)},
             "url": command.link_url}]})
    fallback = command.title + (f": {command.text}" if command.text else "")
    return {"text": _cut(_mrkdwn(fallback), 3000), "blocks": blocks}


def teams_message(command: Notify) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": command.title, "weight": "Bolder", "size": "Medium", "wrap": True},
    ]
    if command.text:
        body.append({"type": "TextBlock", "text": command.text, "wrap": True})
    facts = [{"title": label, "value": value} for label, value in command.facts.items() if value]
    if facts:
        body.append({"type": "FactSet", "facts": facts})
    card: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                            "version": "1.4", "body": body}
    if command.link_url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": command.link_title or "Open", "url": command.link_url}]
    return {"type": "message", "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}]}


def render(command: Notify, fmt: Format) -> dict[str, Any]:
    return slack_message(command) if fmt == "slack" else teams_message(command)
