"""Unauthenticated ``/admin`` API of the intake emulator, for tests, the demo and the forwarder.

    POST  /admin/mail                  deliver an inbound e-mail (see ``requests.mail_spec``) -> 201
                                       {"message_id", "seq", "size", "attachments": [{"name", "size",
                                       "sha256", "by_reference", "url"?}]}; 413 too_large above
                                       ``max_message_bytes`` (nothing is kept)
    POST  /admin/forms                 a web form submission -> 201 {"submission_id", "seq"}
    GET   /admin/outbox?since=<seq>&limit=<n>
                                       what a connector produces, oldest first: {"items": [{"seq",
                                       "kind": "mail"|"form", "key", "value_b64"}], "last_seq"}
    GET   /admin/state                 counts (outbox, mails, forms, last_seq, blobs, blob_bytes, blob_downloads)
    POST  /admin/reset                 no items (seq restarts at 1), no blobs

Blob URLs start with ``config.public_url``, else with the scheme and host this request came to.
Errors are ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

from aiohttp import web

from xstream_emulators.intake.state import IntakeState
from xstream_emulators.intake.web_common import int_query, json_response, read_json


def add_admin_routes(app: web.Application, state: IntakeState) -> None:
    async def post_mail(request: web.Request) -> web.Response:
        public_url = state.config.public_url or f"{request.scheme}://{request.host}"
        item, message_id, infos = state.submit_mail(await read_json(request), public_url=public_url)
        return json_response({"message_id": message_id, "seq": item.seq, "size": len(item.value),
                              "attachments": [i.as_json() for i in infos]}, 201)

    async def post_form(request: web.Request) -> web.Response:
        item = state.submit_form(await read_json(request))
        return json_response({"submission_id": item.key, "seq": item.seq}, 201)

    async def get_outbox(request: web.Request) -> web.Response:
        since = int_query(request, "since", 0) or 0
        items = state.since(since, int_query(request, "limit", None))
        return json_response({"items": [i.as_json() for i in items], "last_seq": state.last_seq})

    async def get_state(request: web.Request) -> web.Response:
        return json_response(state.snapshot())

    async def reset(request: web.Request) -> web.Response:
        state.reset()
        return json_response({"reset": True})

    app.router.add_post("/admin/mail", post_mail)
    app.router.add_post("/admin/forms", post_form)
    app.router.add_get("/admin/outbox", get_outbox)
    app.router.add_get("/admin/state", get_state)
    app.router.add_post("/admin/reset", reset)
