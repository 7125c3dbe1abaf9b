"""aiohttp application of the emulated ERP/CRM: records and approvals under ``{base_path}``, the OAuth2
token endpoint at ``/oauth/token``, the SAP attachment service at
``/sap/opu/odata/sap/API_CV_ATTACHMENT_SRV``, the Salesforce Files API at ``/services/data/v60.0`` and
the admin API at ``/admin``.

One middleware does what every real call goes through, in order: count the call by operation,
inject configured errors or hangs (before any effect), check the credentials, for the SAP service
check the CSRF token of a write, then for a keyed write receive its body (:mod:`.uploads`: JSON, or
a streamed body spooled to disk) and apply the Idempotency-Key rules (:mod:`.idempotency`: replay
with ``Idempotent-Replayed: true``, 422 for another body, 409 while in flight), spend the configured
latency (the work takes time while the key is claimed; tests can hold a call there with the hook
``ErpState.hold_work``), run the handler, write an :class:`ApiError` in the API's dialect
(:mod:`.dialects`), hand out a CSRF token to a SAP read that asks for one and, last, maybe lose the
answer of a successful mutating call (fault ``lost_answer_rate``): the change is in the change log
and its answer stored under its Idempotency-Key, then the client sees a reset connection or no answer.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from xstream_emulators.erp import csrf, routes, routes_approvals, routes_salesforce, routes_sap, uploads
from xstream_emulators.erp.admin import add_admin_routes
from xstream_emulators.erp.admin_attachments import add_attachment_admin_routes
from xstream_emulators.erp.config import ErpEmulatorConfig
from xstream_emulators.erp.dialects import CSRF_REFUSED, SAP, Dialect, dialect_for
from xstream_emulators.erp.idempotency import StoredAnswer, fingerprint, parse_key
from xstream_emulators.erp.model import ApiError
from xstream_emulators.erp.state import ErpState
from xstream_emulators.erp.web_common import CONFIG, STATE
from xstream_emulators.serving import hang, lose_answer, release_hangs_on_shutdown

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RECEIVERS: dict[str, uploads.Receiver] = {
    "records.create": uploads.json_body, "records.patch": uploads.json_body, "approvals.create": uploads.json_body,
    "sap.attachments.upload": uploads.raw_body, "sap.attachments.create_url": uploads.query_only,
    "sap.attachments.delete": uploads.query_only,
    "sf.content_versions.create": uploads.content_version_body, "sf.content_documents.delete": uploads.query_only,
}
"""The keyed writes (Idempotency-Key) and how each one's body is received and fingerprinted."""
PUBLIC_OPERATIONS = frozenset({"oauth.token"})
NEVER_LOST = PUBLIC_OPERATIONS
"""Token calls create nothing a user would count: their answers are lost only when named in ``operations``."""
REPLAYED_HEADER = "Idempotent-Replayed"
STORED_HEADERS = ("ETag", "Location")
IN_FLIGHT_RETRY_AFTER = "1"
READS = frozenset({"GET", "HEAD"})


def build_erp_app(config: ErpEmulatorConfig, state: ErpState | None = None) -> web.Application:
    state = state or ErpState(config)
    app = web.Application(middlewares=[_api_middleware(state, config)])
    app[STATE] = state
    app[CONFIG] = config
    release_hangs_on_shutdown(app)
    routes_approvals.add_routes(app.router, config.base_path)  # first: {base}/approvals is not an {entity}
    routes.add_routes(app.router, config.base_path)
    routes_sap.add_routes(app.router)
    routes_salesforce.add_routes(app.router)
    add_admin_routes(app, state)
    add_attachment_admin_routes(app, state)
    return app


def _api_middleware(state: ErpState, config: ErpEmulatorConfig) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        dialect = dialect_for(request.path, config)
        if dialect is None:
            return await handler(request)
        operation = request.match_info.route.name or "unknown"
        state.calls[operation] += 1
        try:
            unmatched = request.match_info.http_exception
            if isinstance(unmatched, web.HTTPMethodNotAllowed):
                raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed here.",
                               {"Allow": ", ".join(sorted(unmatched.allowed_methods))})
            if unmatched is not None:
                raise ApiError(404, "not_found", f"No resource at {request.path}.")
            fault = await _inject_fault(state, request, operation, dialect)
            if fault is not None:
                return fault
            if operation not in PUBLIC_OPERATIONS:
                state.auth.check(request.headers.get("Authorization"))
            if dialect is SAP and request.method not in READS:
                _check_csrf(state, request)
            receive = RECEIVERS.get(operation)
            if receive is None:
                await _work(state, operation)
                response = await _run(handler, request, operation, dialect)
            else:
                response = await _keyed(state, config, handler, request, operation, receive, dialect)
        except ApiError as exc:
            await uploads.drain(request)
            return dialect.render(exc)
        finally:
            uploads.discard(request)
        if dialect is SAP and request.method in READS:
            _hand_out_csrf(state, request, response)
        await _maybe_lose_answer(state, request, operation, response)
        return response

    return middleware


def _check_csrf(state: ErpState, request: web.Request) -> None:
    if not state.csrf.valid(request.cookies.get(csrf.SESSION_COOKIE), request.headers.get(csrf.HEADER)):
        raise ApiError(403, CSRF_REFUSED, csrf.REFUSED_TEXT)


def _hand_out_csrf(state: ErpState, request: web.Request, response: web.StreamResponse) -> None:
    if (request.headers.get(csrf.HEADER) or "").lower() != csrf.FETCH or response.status >= 400:
        return
    session, token, new = state.csrf.fetch(request.cookies.get(csrf.SESSION_COOKIE))
    response.headers[csrf.HEADER] = token
    if new:
        response.set_cookie(csrf.SESSION_COOKIE, session, path="/", httponly=True)


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
                 operation: str, receive: uploads.Receiver, dialect: Dialect) -> web.StreamResponse:
    received = await receive(request)
    header = request.headers.get("Idempotency-Key")
    if header is None:
        if config.require_idempotency_key:
            raise ApiError(400, "idempotency_key_required", "This call needs an Idempotency-Key header.")
        await _work(state, operation)
        return await _run(handler, request, operation, dialect)
    key = parse_key(header)
    claim = state.keys.claim(key, fingerprint(request.method, request.path, received))
    if claim.kind == "mismatch":
        raise ApiError(422, "idempotency_key_reused",
                       "This Idempotency-Key was already used with a different request.")
    if claim.kind == "in_flight":
        raise ApiError(409, "idempotency_key_in_use",
                       "A request with this Idempotency-Key is still being processed.",
                       {"Retry-After": IN_FLIGHT_RETRY_AFTER})
    if claim.answer is not None:
        return _replay(claim.answer)
    try:
        await _work(state, operation)
        response = await _run(handler, request, operation, dialect)
    except BaseException:
        state.keys.release(key)
        raise
    stored = _stored(response)
    if stored is None:
        state.keys.release(key)
    else:
        state.keys.complete(key, stored)
    return response


def _stored(response: web.StreamResponse) -> StoredAnswer | None:
    """What a replay answers: status, body and content type, ETag/Location (None: nothing storable)."""
    if not isinstance(response, web.Response):
        return None
    body = response.body
    if body is None and response.status == 204:
        body = b""
    if not isinstance(body, bytes):
        return None
    kept = {name: response.headers[name] for name in STORED_HEADERS if name in response.headers}
    return StoredAnswer(response.status, body, kept, response.content_type if body else None)


def _replay(answer: StoredAnswer) -> web.Response:
    headers = answer.headers | {REPLAYED_HEADER: "true"}
    if answer.content_type is None:
        return web.Response(status=answer.status, headers=headers)
    return web.Response(body=answer.body, status=answer.status, content_type=answer.content_type, headers=headers)


async def _run(handler: Handler, request: web.Request, operation: str, dialect: Dialect) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return dialect.render(exc)
    except web.HTTPException:
        raise
    except Exception:  # a bug in the emulator must not look like a crashed server
        log.exception("erp emulator: %s failed", operation)
        return dialect.render(ApiError(500, "internal_error", "Internal server error in the emulator."))


async def _work(state: ErpState, operation: str) -> None:
    """The time the work takes: the test hook ``state.hold_work`` (if set), then the configured latency."""
    if state.hold_work is not None:
        await state.hold_work(operation)
    delay = state.faults.delay_s(state.rng)
    if delay:
        await asyncio.sleep(delay)


async def _inject_fault(state: ErpState, request: web.Request, operation: str,
                        dialect: Dialect) -> web.StreamResponse | None:
    faults = state.faults
    if not faults.applies_to(operation):
        return None
    if faults.should_hang(state.rng):
        state.injected_faults += 1
        await hang(request)
        return dialect.render(ApiError(503, "service_unavailable", "The service is unavailable."))
    if not faults.should_fail(state.rng):
        return None
    state.injected_faults += 1
    await uploads.drain(request)
    retry = {} if faults.retry_after_s is None else {"Retry-After": str(math.ceil(faults.retry_after_s))}
    if faults.error_kind == "429":
        return dialect.render(ApiError(429, "rate_limited", "Too many requests (injected fault).", retry))
    if faults.error_kind == "503":
        return dialect.render(ApiError(503, "service_unavailable", "Service unavailable (injected fault).", retry))
    return dialect.render(ApiError(500, "internal_error", "Internal server error (injected fault)."))
