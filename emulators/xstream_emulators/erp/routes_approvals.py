"""The approvals API of the emulated ERP: start an approval workflow and follow it.

    POST  {base}/approvals                                          approvals.create  (201 + Location, ETag)
    GET   {base}/approvals?status=..&process=..&limit=..&offset=..  approvals.list
    GET   {base}/approvals/{id}                                     approvals.get     (ETag "<version>")

Validation and shapes are in ``approvals``; decisions are taken by ERP users (``POST
/admin/approvals/{id}/decide``), not through this API. approvals.create takes an Idempotency-Key like
records.create (the middleware applies it). Any other method on these paths is 405 with ``Allow``.
"""

from __future__ import annotations

from aiohttp import web

from xstream_emulators.erp.model import APPROVALS
from xstream_emulators.erp.web_common import (
    BODY,
    CONFIG,
    STATE,
    filters,
    json_response,
    page,
    paging,
    version_headers,
    who,
)


def add_routes(r: web.UrlDispatcher, base: str) -> None:
    r.add_get(f"{base}/{APPROVALS}", list_approvals, name="approvals.list", allow_head=False)
    r.add_post(f"{base}/{APPROVALS}", create_approval, name="approvals.create")
    r.add_get(f"{base}/{APPROVALS}/{{id}}", get_approval, name="approvals.get", allow_head=False)


async def list_approvals(request: web.Request) -> web.Response:
    offset, limit = paging(request)
    return page(APPROVALS, request.app[STATE].approvals.query(filters(request)), offset, limit)


async def get_approval(request: web.Request) -> web.Response:
    approval = request.app[STATE].approvals.get(request.match_info["id"])
    return json_response(approval, headers=version_headers(approval))


async def create_approval(request: web.Request) -> web.Response:
    changed_by, causation = who(request)
    approval = request.app[STATE].approvals.create(request[BODY], changed_by=changed_by, causation=causation)
    location = f"{request.app[CONFIG].base_path}/{APPROVALS}/{approval['id']}"
    return json_response(approval, 201, version_headers(approval) | {"Location": location})
