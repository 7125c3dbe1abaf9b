"""aiohttp application of the emulated intake: the blob route at ``/blobs``, the admin API at ``/admin``.

One middleware turns :class:`IntakeError`, unknown routes and methods, bodies over the request limit
and emulator bugs into typed JSON errors, so a caller never sees aiohttp's HTML pages.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from xstream_emulators.intake import routes
from xstream_emulators.intake.admin import add_admin_routes
from xstream_emulators.intake.config import IntakeEmulatorConfig
from xstream_emulators.intake.model import IntakeError
from xstream_emulators.intake.state import IntakeState
from xstream_emulators.intake.web_common import STATE, error_response

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_SLACK = 1024 * 1024
"""Room for the JSON around base64 content in an admin request."""


def build_intake_app(config: IntakeEmulatorConfig, state: IntakeState | None = None) -> web.Application:
    state = state or IntakeState(config)
    # a request carries its attachments in base64 (4/3 of their size); larger ones are refused with 413
    limit = max(config.max_message_bytes, config.max_blob_bytes) * 4 // 3 + REQUEST_SLACK
    app = web.Application(middlewares=[_error_middleware()], client_max_size=limit)
    app[STATE] = state
    routes.add_routes(app.router)
    add_admin_routes(app, state)
    return app


def _error_middleware() -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            unmatched = request.match_info.http_exception
            if isinstance(unmatched, web.HTTPMethodNotAllowed):
                raise IntakeError(405, "method_not_allowed", f"{request.method} is not allowed here.",
                                  {"Allow": ", ".join(sorted(unmatched.allowed_methods))})
            if unmatched is not None:
                raise IntakeError(404, "no_route", f"There is nothing at {request.path}.")
            return await handler(request)
        except IntakeError as exc:
            return error_response(exc)
        except web.HTTPRequestEntityTooLarge:
            return error_response(IntakeError(413, "too_large", "The request body is too large."))
        except web.HTTPException:
            raise
        except Exception:  # a bug in the emulator must not look like a crashed server
            log.exception("intake emulator: %s %s failed", request.method, request.path)
            return error_response(IntakeError(500, "internal_error", "Internal server error in the emulator."))

    return middleware
