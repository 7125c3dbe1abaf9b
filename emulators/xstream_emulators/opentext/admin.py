"""Unauthenticated ``/admin`` API of the emulator, for tests and the demo, never part of the real API.

GET /admin/state (workspaces, folders, documents with version hashes, workflows, counts),
GET /admin/calls (API calls by operation), POST /admin/reset (back to the seed, the configured
hooks and an empty delivery log), GET|POST /admin/faults (latency, errors, hangs, Retry-After,
operations filter, lost answers; one-shot ``expire_tickets`` / ``expire_tokens``; the answer adds
``injected``, the faults injected before a call, and ``lost_answers``, the calls whose effect was
saved and whose answer was then lost), GET /admin/audit (every audit
event, deleted nodes too), POST /admin/workflows/{process_id}/advance|complete|stop (``reject`` =
``stop``): move a process on (finishing it fires ``workflow.finished``).
Server-side event hooks (``hooks``): POST /admin/hooks ``{"url", "secret", "events": [...]}``
(events optional, default all) registers one and answers ``{"id", "url", "events"}`` (never the
secret; 400 on a bad body); GET /admin/hooks answers ``{"hooks": [...], "deliveries": [...]}`` (per
delivery: hook_id, event_id, event, node_id, process_id, attempts, status, error, delivered,
pending); DELETE /admin/hooks removes every registration (``{"deleted": n}``) and cancels what
they still had to send. Admin calls are not counted and never faulted.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from xstream_emulators.opentext import workflows
from xstream_emulators.opentext.audit import entry
from xstream_emulators.opentext.faults import FaultSpecError, parse_faults
from xstream_emulators.opentext.hooks import HookSpecError, parse_target
from xstream_emulators.opentext.model import ApiError
from xstream_emulators.opentext.state import OpenTextState
from xstream_emulators.opentext.web_common import HOOKS


def add_admin_routes(app: web.Application, state: OpenTextState) -> None:
    async def get_state(request: web.Request) -> web.Response:
        return web.json_response(state.snapshot())

    async def get_calls(request: web.Request) -> web.Response:
        return web.json_response(dict(sorted(state.calls.items())))

    async def reset(request: web.Request) -> web.Response:
        state.reset()
        await app[HOOKS].reset()
        return web.json_response({"reset": True})

    async def get_hooks(request: web.Request) -> web.Response:
        return web.json_response(app[HOOKS].book.as_json())

    async def add_hook(request: web.Request) -> web.Response:
        try:
            target = parse_target(orjson.loads(await request.read() or b"null"))
        except (orjson.JSONDecodeError, HookSpecError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(app[HOOKS].register(target).as_json())

    async def delete_hooks(request: web.Request) -> web.Response:
        return web.json_response({"deleted": await app[HOOKS].remove_all()})

    async def get_faults(request: web.Request) -> web.Response:
        return web.json_response(state.faults.as_json() | {"injected": state.injected_faults,
                                                           "lost_answers": state.lost_answers})

    async def set_faults(request: web.Request) -> web.Response:
        try:
            faults, actions = parse_faults(orjson.loads(await request.read() or b"{}"))
        except (orjson.JSONDecodeError, FaultSpecError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        state.faults = faults
        if actions["expire_tickets"]:
            state.tickets.expire_all()
            state.bearer_sessions.clear()
        if actions["expire_tokens"]:
            state.expire_otds_tokens()
        return web.json_response(faults.as_json() | {"injected": state.injected_faults,
                                                     "lost_answers": state.lost_answers,
                                                     "expired_tickets": actions["expire_tickets"],
                                                     "expired_tokens": actions["expire_tokens"]})

    async def get_audit(request: web.Request) -> web.Response:
        return web.json_response([entry(e) | {"seq": e.seq} for e in state.audit])

    async def move_workflow(request: web.Request) -> web.Response:
        action = request.match_info["action"]
        try:
            process = workflows.process(state, int(request.match_info["process_id"]))
            if action == "advance":
                workflows.advance(state, process)
            elif action == "complete":
                workflows.advance(state, process, all_steps=True)
            elif action in ("stop", "reject"):
                workflows.stop(state, process)
            else:
                return web.json_response({"error": f"unknown action {action!r}"}, status=404)
        except ApiError as exc:
            return web.json_response({"error": exc.message}, status=exc.status)
        state.flush()
        return web.json_response(workflows.status_view(state, process)["wf_details"])

    app.router.add_get("/admin/state", get_state, name="admin.state")
    app.router.add_get("/admin/calls", get_calls, name="admin.calls")
    app.router.add_post("/admin/reset", reset, name="admin.reset")
    app.router.add_get("/admin/faults", get_faults, name="admin.faults")
    app.router.add_post("/admin/faults", set_faults, name="admin.faults.set")
    app.router.add_get("/admin/audit", get_audit, name="admin.audit")
    app.router.add_post(r"/admin/workflows/{process_id:\d+}/{action}", move_workflow, name="admin.workflows")
    app.router.add_get("/admin/hooks", get_hooks, name="admin.hooks")
    app.router.add_post("/admin/hooks", add_hook, name="admin.hooks.add")
    app.router.add_delete("/admin/hooks", delete_hooks, name="admin.hooks.delete")
