"""The two incoming-webhook endpoints.

    POST /slack/{channel}/{token}   slack.post   200 "ok" (text/plain)
    POST /teams/{channel}/{token}   teams.post   202, empty body, x-ms-workflow-run-id

Each call is checked in the order the services do: body size (413), channel (404), token (Slack 403,
Teams 401), then the payload (400, see ``slack`` and ``teams``); an accepted call is recorded as a
message, whatever its Idempotency-Key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from xstream_emulators.notify import slack, teams
from xstream_emulators.notify.model import RECORDED_HEADERS, Format, refusal
from xstream_emulators.notify.web_common import STATE

Parser = Callable[[bytes, str], tuple[dict[str, Any], str]]
PARSERS: dict[Format, Parser] = {"slack": slack.parse, "teams": teams.parse}
RUN_ID_HEADER = "x-ms-workflow-run-id"


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_post("/slack/{channel}/{token}", _poster("slack"), name="slack.post")
    r.add_post("/teams/{channel}/{token}", _poster("teams"), name="teams.post")


def _poster(fmt: Format) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def post(request: web.Request) -> web.Response:
        state = request.app[STATE]
        raw = await _body(request, fmt, state.config.max_body_bytes)
        channel = request.match_info["channel"]
        problem = state.verify(channel, request.match_info["token"])
        if problem is not None:
            raise refusal(fmt, problem)
        payload, text = PARSERS[fmt](raw, request.content_type)
        headers = {name: request.headers[name] for name in RECORDED_HEADERS if name in request.headers}
        message = state.record(channel, fmt, payload, text, headers)
        if fmt == "slack":
            return web.Response(text="ok", content_type="text/plain")
        return web.Response(status=202, headers={RUN_ID_HEADER: message.run_id or ""})

    return post


async def _body(request: web.Request, fmt: Format, limit: int) -> bytes:
    """The request body, or the service's 413 when it is larger than ``limit`` (told or found while reading)."""
    if request.content_length is not None and request.content_length > limit:
        raise refusal(fmt, "too_large")
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise refusal(fmt, "too_large") from None
