"""Unauthenticated ``/admin`` API of the emulator, for tests and the demo, never part of the real API.

GET /admin/state (workspaces and counts), GET /admin/calls (API calls by operation),
POST /admin/reset (back to the seed), GET|POST /admin/faults (latency, error rate and kind,
Retry-After, one-shot ticket expiry). Admin calls are not counted and never faulted.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from xstream.emulators.opentext.faults import FaultSpecError, parse_faults
from xstream.emulators.opentext.state import OpenTextState


def add_admin_routes(app: web.Application, state: OpenTextState) -> None:
    async def get_state(request: web.Request) -> web.Response:
        return web.json_response(state.snapshot())

    async def get_calls(request: web.Request) -> web.Response:
        return web.json_response(dict(sorted(state.calls.items())))

    async def reset(request: web.Request) -> web.Response:
        state.reset()
        return web.json_response({"reset": True})

    async def get_faults(request: web.Request) -> web.Response:
        return web.json_response(state.faults.as_json() | {"injected": state.injected_faults})

    async def set_faults(request: web.Request) -> web.Response:
        try:
            faults, expire = parse_faults(orjson.loads(await request.read() or b"{}"))
        except (orjson.JSONDecodeError, FaultSpecError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        state.faults = faults
        if expire:
            state.tickets.expire_all()
            state.bearer_sessions.clear()
        return web.json_response(faults.as_json() | {"injected": state.injected_faults, "expired_tickets": expire})

    app.router.add_get("/admin/state", get_state, name="admin.state")
    app.router.add_get("/admin/calls", get_calls, name="admin.calls")
    app.router.add_post("/admin/reset", reset, name="admin.reset")
    app.router.add_get("/admin/faults", get_faults, name="admin.faults")
    app.router.add_post("/admin/faults", set_faults, name="admin.faults.set")
