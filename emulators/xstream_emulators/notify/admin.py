"""Unauthenticated ``/admin`` API of the notification emulator, for tests and the demo.

    GET   /admin/messages[?channel=..&format=slack|teams]  {"messages": [...], "count": n}, oldest first
    GET   /admin/state                                    channels (webhook paths, message counts), totals
    GET   /admin/calls                                    webhook calls by operation, plus ``state_changing``
    GET   /admin/faults, POST /admin/faults               fault injection (see ``faults``), plus ``injected``
                                                          and ``lost_answers`` (messages recorded, answer lost)
    POST  /admin/reset                                    no messages, no counts, the initial faults

A message is ``{"seq", "channel", "format", "payload", "text", "headers", "received_at", "run_id"}``
(see ``state.Message``). Admin calls are not counted and never faulted; errors are
``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from xstream_emulators.notify.faults import FaultSpecError, parse_faults
from xstream_emulators.notify.model import FORMATS, WebhookError
from xstream_emulators.notify.state import NotifyState
from xstream_emulators.notify.web_common import error_response, json_response


def add_admin_routes(app: web.Application, state: NotifyState) -> None:
    async def get_messages(request: web.Request) -> web.Response:
        channel = request.query.get("channel") or None
        asked = request.query.get("format") or None
        fmt = next((f for f in FORMATS if f == asked), None)
        if channel is not None and channel not in state.config.channels:
            return error_response(WebhookError(404, "unknown_channel", f"There is no channel {channel!r}."), None)
        if asked is not None and fmt is None:
            return error_response(WebhookError(400, "invalid_parameter", f"format must be one of {list(FORMATS)}."),
                                  None)
        found = state.find(channel, fmt)
        return json_response({"messages": [m.as_json() for m in found], "count": len(found)})

    async def get_state(request: web.Request) -> web.Response:
        return json_response(state.snapshot())

    async def get_calls(request: web.Request) -> web.Response:
        return json_response(state.calls_view())

    async def reset(request: web.Request) -> web.Response:
        state.reset()
        return json_response({"reset": True})

    async def get_faults(request: web.Request) -> web.Response:
        return json_response(state.faults.as_json() | {"injected": state.injected_faults,
                                                       "lost_answers": state.lost_answers})

    async def set_faults(request: web.Request) -> web.Response:
        try:
            faults, _ = parse_faults(orjson.loads(await request.read() or b"{}"))
        except (orjson.JSONDecodeError, FaultSpecError) as exc:
            return error_response(WebhookError(400, "invalid_faults", str(exc)), None)
        state.faults = faults
        return json_response(faults.as_json() | {"injected": state.injected_faults,
                                                 "lost_answers": state.lost_answers})

    r = app.router
    r.add_get("/admin/messages", get_messages, name="admin.messages")
    r.add_get("/admin/state", get_state, name="admin.state")
    r.add_get("/admin/calls", get_calls, name="admin.calls")
    r.add_post("/admin/reset", reset, name="admin.reset")
    r.add_get("/admin/faults", get_faults, name="admin.faults")
    r.add_post("/admin/faults", set_faults, name="admin.faults.set")
