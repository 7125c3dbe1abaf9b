"""aiohttp application of the emulated Content Server REST API under ``{base_path}/api`` (plus the
emulated OTDS token endpoint at ``/otdsws``, the admin API at ``/admin`` and the outbound
server-side event hooks, ``hook_sender``: started with the app, cancelled when it shuts down).

One middleware does what every real call goes through, in order: count the call by operation,
inject configured faults (before any effect: latency, hang, error), check the ticket or bearer
token, run the handler, turn :class:`ApiError` into ``{"error": ...}``, return a refreshed
``OTCSTicket`` header, with a database save what the call changed and, last, maybe lose the answer
of a successful mutating call (fault ``lost_answer_rate``: the effect is saved, the client sees a
reset connection or no answer at all). Handlers (``routes_*``)
only read parameters, call the pure state modules and render the pure views.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from xstream_emulators.opentext import (
    routes_auth,
    routes_documents,
    routes_multipart,
    routes_nodes,
    routes_workflows,
    routes_workspaces,
)
from xstream_emulators.opentext.admin import add_admin_routes
from xstream_emulators.opentext.config import OpenTextEmulatorConfig
from xstream_emulators.opentext.hook_sender import HookDispatcher
from xstream_emulators.opentext.model import ApiError
from xstream_emulators.opentext.state import OpenTextState
from xstream_emulators.opentext.tickets import Session
from xstream_emulators.opentext.web_common import CONFIG, HOOKS, SESSION, STATE, error
from xstream_emulators.serving import hang, lose_answer, release_hangs_on_shutdown

log = logging.getLogger(__name__)

PUBLIC_OPERATIONS = frozenset({"ping", "serverinfo", "auth.login", "otds.token"})
AUTH_OPERATIONS = frozenset({"auth.login", "auth.logout", "otds.token"})
"""Mutating in HTTP terms but creating nothing a user would count: their answers are lost only when
named in the ``operations`` filter."""
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HTML_ERROR = ("<html><head><title>Content Server Error</title></head><body><h1>Error Processing Request</h1>"
              "<p>Content Server Client Error. Please try again.</p></body></html>")
CLIENT_MAX_SIZE = 64 * 1024 * 1024
"""Largest urlencoded/JSON body; multipart uploads stream and are not bounded by it."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
__all__ = ["CONFIG", "HOOKS", "SESSION", "STATE", "build_opentext_app", "error"]


def build_opentext_app(config: OpenTextEmulatorConfig, state: OpenTextState | None = None) -> web.Application:
    state = state or OpenTextState.from_config(config)
    app = web.Application(middlewares=[_api_middleware(state, config.base_path)], client_max_size=CLIENT_MAX_SIZE)
    app[STATE] = state
    app[CONFIG] = config
    release_hangs_on_shutdown(app)
    app[HOOKS] = HookDispatcher(state, config.hooks)
    app.on_startup.append(_start_hooks)
    app.on_shutdown.append(_stop_hooks)
    api = f"{config.base_path}/api"
    for module in (routes_auth, routes_workspaces, routes_nodes, routes_documents, routes_multipart, routes_workflows):
        module.add_routes(app.router, api)
    add_admin_routes(app, state)
    return app


async def _start_hooks(app: web.Application) -> None:
    app[HOOKS].attach()


async def _stop_hooks(app: web.Application) -> None:
    await app[HOOKS].close()


def _is_api(path: str, base_path: str) -> bool:
    return path.startswith((f"{base_path}/api/", "/otdsws/"))


def _api_middleware(state: OpenTextState, base_path: str) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _is_api(request.path, base_path):
            return await handler(request)
        unmatched = request.match_info.http_exception
        # resource names are unique, so calls sharing an operation name differ after a "-"
        operation = (request.match_info.route.name or "unknown").partition("-")[0]
        state.calls[operation] += 1
        if isinstance(unmatched, web.HTTPMethodNotAllowed):
            raise unmatched
        fault = await _inject_fault(state, request, operation)
        if fault is not None:
            return fault
        session: Session | None = None
        try:
            if unmatched is not None:
                raise ApiError(400, "The REST API URL could not be found in the mappings registry.")
            if operation not in PUBLIC_OPERATIONS:
                bearer = request.headers.get("Authorization", "")
                token = bearer[7:].strip() if bearer[:7].lower() == "bearer " else None
                session = request[SESSION] = state.session_for(request.headers.get("OTCSTicket"), token)
            response = await handler(request)
        except ApiError as exc:
            response = error(exc.status, exc.message)
        except web.HTTPException:
            raise
        except Exception:  # a bug in the emulator must not look like a crashed server
            log.exception("opentext emulator: %s failed", operation)
            response = error(500, "Internal server error in the emulator.")
        finally:
            if request.method not in READ_METHODS:
                state.flush()
        if session is not None and response.status != 401 and state.tickets.is_open(session):
            response.headers["OTCSTicket"] = state.tickets.issue(session)
        faults = state.faults
        if faults.loses_answer(state.rng, operation, request.method, response.status, exempt=AUTH_OPERATIONS):
            state.lost_answers += 1
            await lose_answer(request, faults.lost_answer_kind)
        return response

    return middleware


async def _inject_fault(state: OpenTextState, request: web.Request, operation: str) -> web.StreamResponse | None:
    faults = state.faults
    if not faults.applies_to(operation):
        return None
    delay = faults.delay_s(state.rng)
    if delay:
        await asyncio.sleep(delay)
    if faults.should_hang(state.rng):
        state.injected_faults += 1
        await hang(request)
        return web.Response(status=503, text="<html><body>Service Unavailable</body></html>",
                            content_type="text/html")
    if not faults.should_fail(state.rng):
        return None
    state.injected_faults += 1
    if faults.error_kind == "500":
        return error(500, "Internal server error (injected fault).")
    if faults.error_kind == "html500":
        return web.Response(status=500, text=HTML_ERROR, content_type="text/html")
    headers = {} if faults.retry_after_s is None else {"Retry-After": str(math.ceil(faults.retry_after_s))}
    return web.Response(status=503, text="<html><body>Service Unavailable</body></html>",
                        content_type="text/html", headers=headers)

