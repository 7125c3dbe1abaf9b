"""aiohttp application of the emulated ERP: records and approvals under ``{base_path}``, the OAuth2 token
endpoint at ``/oauth/token`` and the admin API at ``/admin``.

One middleware does what every real call goes through, in order: count the call by operation,
inject configured errors or hangs (before any effect), check the credentials, then for POST/PATCH
read the JSON body and apply the Idempotency-Key rules (:mod:`.idempotency`: replay with
``Idempotent-Replayed: true``, 422 for another body, 409 while in flight), spend the configured
latency (the work takes time while the key is claimed; tests can hold a call there with the hook
``ErpState.hold_work``), run the handler, turn
:class:`ApiError` into ``{"error": {"code", "message"}}`` and, last, maybe lose the answer of a
successful mutating call (fault ``lost_answer_rate``): the change is in the change log and its
answer stored under its Idempotency-Key, then the client sees a reset connection or no answer.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from xstream_emulators.erp import routes, routes_approvals
from xstream_emulators.erp.admin import add_admin_routes
from xstream_emulators.erp.config import TOKEN_PATH, ErpEmulatorConfig
from xstream_emulators.erp.idempotency import StoredAnswer, fingerprint, parse_key
from xstream_emulators.erp.model import ApiError
from xstream_emulators.erp.state import ErpState
from xstream_emulators.erp.web_common import BODY, CONFIG, STATE, error_response, read_json
from xstream_emulators.serving import hang, lose_answer, release_hangs_on_shutdown

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
KEYED_OPERATIONS = frozenset({"records.create", "records.patch", "approvals.create"})
PUBLIC_OPERATIONS = frozenset({"oauth.token"})
NEVER_LOST = PUBLIC_OPERATIONS
"""Token calls create nothing a user would count: their answers are lost only when named in ``operations``."""
REPLAYED_HEADER = "Idempotent-Replayed"
STORED_HEADERS = ("ETag", "Location")
IN_FLIGHT_RETRY_AFTER = "1"


def build_erp_app(config: ErpEmulatorConfig, state: ErpState | None = None) -> web.Application:
    state = state or ErpState(config)
    app = web.Application(middlewares=[_api_middleware(state, config)])
    app[STATE] = state
    app[CONFIG] = config
    release_hangs_on_shutdown(app)
    routes_approvals.add_routes(app.router, config.base_path)  # first: {base}/approvals is not an {entity}
    routes.add_routes(app.router, config.base_path)
    add_admin_routes(app, state)
    return app



def _api_middleware(state: ErpState, config: ErpEmulatorConfig) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if not (path.startswith(f"{config.base_path}/") or path == TOKEN_PATH):
            return await handler(request)
        operation = request.match_info.route.name or "unknown"
        state.calls[operation] += 1
        try:
            unmatched = request.match_info.http_exception
            if isinstance(unmatched, web.HTTPMethodNotAllowed):
                raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed here.",
                               {"Allow": ", ".join(sorted(unmatched.allowed_methods))})
            if unmatched is not None:
                raise ApiError(404, "not_found", f"No resource at {path}.")
            fault = await _inject_fault(state, request, operation)
            if fault is not None:
                return fault
            if operation not in PUBLIC_OPERATIONS:
                state.auth.check(request.headers.get("Authorization"))
            if operation not in KEYED_OPERATIONS:
                await _work(state, operation)
                response = await _run(handler, request, operation)
            else:
                response = await _keyed(state, config, handler, request, operation)
        except ApiError as exc:
            return error_response(exc)
        await _maybe_lose_answer(state, request, operation, response)
        return response

    return middleware


async def _maybe_lose_answer(state: ErpState, request: web.Request, operation: str,
                             response: web.StreamResponse) -> None:
    """Lose the answer of a call that acted (a replay from the Idempotency-Key store did not act)."""
    if response.headers.get(REPLAYED_HEADER) == "true":
        return
    faults = state.faults
    if faults.loses_answer(state.rng, operation, request.method, response.status, exempt=NEVER_LOST):
        state.lost_answers += 1
        await lose_answer(request, faults.lost_answer_kind)


async def _keyed(state: ErpState, config: ErpEmulatorConfig, handler: Handler, request: web.Request,
                 operation: str) -> web.StreamResponse:
    body = await read_json(request)
    request[BODY] = body
    header = request.headers.get("Idempotency-Key")
    if header is None:
        if config.require_idempotency_key:
            raise ApiError(400, "idempotency_key_required", "This call needs an Idempotency-Key header.")
        await _work(state, operation)
        return await _run(handler, request, operation)
    key = parse_key(header)
    claim = state.keys.claim(key, fingerprint(request.method, request.path, body))
    if claim.kind == "mismatch":
        raise ApiError(422, "idempotency_key_reused",
                       "This Idempotency-Key was already used with a different request.")
    if claim.kind == "in_flight":
        raise ApiError(409, "idempotency_key_in_use",
                       "A request with this Idempotency-Key is still being processed.",
                       {"Retry-After": IN_FLIGHT_RETRY_AFTER})
    if claim.answer is not None:
        return web.Response(body=claim.answer.body, status=claim.answer.status, content_type="application/json",
                            headers=claim.answer.headers | {REPLAYED_HEADER: "true"})
    try:
        await _work(state, operation)
        response = await _run(handler, request, operation)
    except BaseException:
        state.keys.release(key)
        raise
    raw = response.body if isinstance(response, web.Response) and isinstance(response.body, bytes) else None
    if raw is None:
        state.keys.release(key)
    else:
        kept = {name: response.headers[name] for name in STORED_HEADERS if name in response.headers}
        state.keys.complete(key, StoredAnswer(response.status, raw, kept))
    return response


async def _run(handler: Handler, request: web.Request, operation: str) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc)
    except web.HTTPException:
        raise
    except Exception:  # a bug in the emulator must not look like a crashed server
        log.exception("erp emulator: %s failed", operation)
        return error_response(ApiError(500, "internal_error", "Internal server error in the emulator."))


async def _work(state: ErpState, operation: str) -> None:
    """The time the work takes: the test hook ``state.hold_work`` (if set), then the configured latency."""
    if state.hold_work is not None:
        await state.hold_work(operation)
    delay = state.faults.delay_s(state.rng)
    if delay:
        await asyncio.sleep(delay)


async def _inject_fault(state: ErpState, request: web.Request, operation: str) -> web.StreamResponse | None:
    faults = state.faults
    if not faults.applies_to(operation):
        return None
    if faults.should_hang(state.rng):
        state.injected_faults += 1
        await hang(request)
        return error_response(ApiError(503, "service_unavailable", "The service is unavailable."))
    if not faults.should_fail(state.rng):
        return None
    state.injected_faults += 1
    retry = {} if faults.retry_after_s is None else {"Retry-After": str(math.ceil(faults.retry_after_s))}
    if faults.error_kind == "429":
        return error_response(ApiError(429, "rate_limited", "Too many requests (injected fault).", retry))
    if faults.error_kind == "503":
        return error_response(ApiError(503, "service_unavailable", "Service unavailable (injected fault).", retry))
    return error_response(ApiError(500, "internal_error", "Internal server error (injected fault)."))

