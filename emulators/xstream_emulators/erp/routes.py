"""The emulated ERP REST API: records per entity and the OAuth2 token endpoint.

    GET   {base}/{entity}?status=..&<field>=..&limit=..&offset=..   records.list
    POST  {base}/{entity}                                            records.create  (201 + Location)
    GET   {base}/{entity}/{id}                                       records.get     (ETag "<version>")
    PATCH {base}/{entity}/{id}                                       records.patch   (JSON Merge Patch)
    POST  /oauth/token                                               oauth.token

Who changed a record is taken from ``X-Xstream-Origin`` (default "api") and
``X-Xstream-Causation`` and stored as ``last_changed_by`` / ``last_causation``.

``{entity}`` never matches ``approvals``: that collection has its own routes (``routes_approvals``)
with their validation, so e.g. ``PATCH {base}/approvals/{id}`` finds only the approval resource,
which allows GET, and is answered 405 with ``Allow: GET`` instead of merging fields into it.
"""

from __future__ import annotations

import re

from aiohttp import web

from xstream_emulators.erp.auth import OAuthError
from xstream_emulators.erp.config import TOKEN_PATH
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

ENTITY = rf"{{entity:(?!{re.escape(APPROVALS)}(?:/|\Z))[^/]+}}"
"""The ``{entity}`` path segment: any collection name but the approvals one."""


def add_routes(r: web.UrlDispatcher, base: str) -> None:
    r.add_get(f"{base}/{ENTITY}", list_records, name="records.list", allow_head=False)
    r.add_post(f"{base}/{ENTITY}", create_record, name="records.create")
    r.add_get(f"{base}/{ENTITY}/{{id}}", get_record, name="records.get", allow_head=False)
    r.add_patch(f"{base}/{ENTITY}/{{id}}", patch_record, name="records.patch")
    r.add_post(TOKEN_PATH, token, name="oauth.token")


async def list_records(request: web.Request) -> web.Response:
    entity = request.match_info["entity"]
    offset, limit = paging(request)
    return page(entity, request.app[STATE].records.query(entity, filters(request)), offset, limit)


async def get_record(request: web.Request) -> web.Response:
    record = request.app[STATE].records.get(request.match_info["entity"], request.match_info["id"])
    return json_response(record, headers=version_headers(record))


async def create_record(request: web.Request) -> web.Response:
    entity = request.match_info["entity"]
    changed_by, causation = who(request)
    record = request.app[STATE].records.create(entity, request[BODY], changed_by=changed_by, causation=causation)
    location = f"{request.app[CONFIG].base_path}/{entity}/{record['id']}"
    return json_response(record, 201, version_headers(record) | {"Location": location})


async def patch_record(request: web.Request) -> web.Response:
    changed_by, causation = who(request)
    record, _ = request.app[STATE].records.update(request.match_info["entity"], request.match_info["id"],
                                                  request[BODY], changed_by=changed_by, causation=causation)
    return json_response(record, headers=version_headers(record))


async def token(request: web.Request) -> web.Response:
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    try:
        answer = request.app[STATE].auth.issue_token(form, request.headers.get("Authorization"))
    except OAuthError as exc:
        return json_response({"error": exc.code, "error_description": exc.description}, exc.status,
                             {"Cache-Control": "no-store"})
    return json_response(answer, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
