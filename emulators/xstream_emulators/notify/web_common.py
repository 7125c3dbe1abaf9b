"""What the aiohttp modules of the notification emulator share: app keys and the two ways of answering."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from xstream_emulators.notify.config import NotifyEmulatorConfig
from xstream_emulators.notify.model import FORMATS, Format, WebhookError
from xstream_emulators.notify.state import NotifyState

STATE = web.AppKey("notify_state", NotifyState)
CONFIG = web.AppKey("notify_config", NotifyEmulatorConfig)


def format_of(path: str) -> Format | None:
    """The service a path belongs to (``/slack/...``, ``/teams/...``), or None (admin, unknown)."""
    head = path.lstrip("/").partition("/")[0]
    return next((fmt for fmt in FORMATS if fmt == head), None)


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json",
                        headers=headers)


def error_response(exc: WebhookError, fmt: Format | None) -> web.Response:
    """Slack: the code as plain text; Teams and the admin API: ``{"error": {"code", "message"}}``."""
    if fmt == "slack":
        return web.Response(text=exc.code, status=exc.status, content_type="text/plain", headers=exc.headers)
    return json_response({"error": {"code": exc.code, "message": exc.message}}, exc.status, exc.headers)
