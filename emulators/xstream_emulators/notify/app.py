"""aiohttp application of the emulated chat webhooks: Slack at ``/slack``, Teams at ``/teams``, the
admin API at ``/admin``.

One middleware does what every webhook call goes through, in order: count the call by operation,
answer unknown URLs and methods as the service would, inject configured errors or hangs (before
any effect: nothing is recorded), spend the configured latency, run the handler, turn
:class:`WebhookError` into the service's answer (Slack plain text, Teams ``{"error"}`` JSON) and,
last, maybe lose the answer of an accepted message (fault ``lost_answer_rate``: the message is
recorded, the client sees a reset connection or no answer).
There is no Idempotency-Key handling: neither service has any.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from xstream_emulators.notify import routes
from xstream_emulators.notify.admin import add_admin_routes
from xstream_emulators.notify.config import NotifyEmulatorConfig
from xstream_emulators.notify.model import Format, Refusal, WebhookError, refusal
from xstream_emulators.notify.state import NotifyState
from xstream_emulators.notify.web_common import CONFIG, STATE, error_response, format_of
from xstream_emulators.serving import hang, lose_answer, release_hangs_on_shutdown

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FAULTS: dict[str, Refusal] = {"500": "internal_error", "503": "unavailable", "429": "rate_limited"}


def build_notify_app(config: NotifyEmulatorConfig, state: NotifyState | None = None) -> web.Application:
    state = state or NotifyState(config)
    # aiohttp refuses bodies above client_max_size while reading; routes turns that into the service's 413
    app = web.Application(middlewares=[_webhook_middleware(state)], client_max_size=config.max_body_bytes)
    app[STATE] = state
    app[CONFIG] = config
    release_hangs_on_shutdown(app)
    routes.add_routes(app.router)
    add_admin_routes(app, state)
    return app



def _webhook_middleware(state: NotifyState) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        fmt = format_of(request.path)
        if fmt is None:
            return await handler(request)
        operation = request.match_info.route.name or "unknown"
        state.calls[operation] += 1
        try:
            unmatched = request.match_info.http_exception
            if isinstance(unmatched, web.HTTPMethodNotAllowed):
                allow = ", ".join(sorted(unmatched.allowed_methods))
                raise refusal(fmt, "method_not_allowed", headers={"Allow": allow})
            if unmatched is not None:
                raise refusal(fmt, "no_route")
            fault = await _inject_fault(state, request, operation, fmt)
            if fault is not None:
                raise fault
            delay = state.faults.delay_s(state.rng)
            if delay:
                await asyncio.sleep(delay)
            response = await handler(request)
            faults = state.faults
            if faults.loses_answer(state.rng, operation, request.method, response.status):
                state.lost_answers += 1
                await lose_answer(request, faults.lost_answer_kind)
            return response
        except WebhookError as exc:
            return error_response(exc, fmt)
        except web.HTTPException:
            raise
        except Exception:  # a bug in the emulator must not look like a crashed server
            log.exception("notify emulator: %s failed", operation)
            return error_response(refusal(fmt, "internal_error", "Internal server error in the emulator."), fmt)

    return middleware


async def _inject_fault(state: NotifyState, request: web.Request, operation: str,
                        fmt: Format) -> WebhookError | None:
    faults = state.faults
    if not faults.applies_to(operation):
        return None
    if faults.should_hang(state.rng):
        state.injected_faults += 1
        await hang(request)
        return refusal(fmt, "unavailable")
    if not faults.should_fail(state.rng):
        return None
    state.injected_faults += 1
    kind = FAULTS[faults.error_kind]
    retry = {} if faults.retry_after_s is None or kind == "internal_error" else {
        "Retry-After": str(math.ceil(faults.retry_after_s))}
    return refusal(fmt, kind, headers=retry)

