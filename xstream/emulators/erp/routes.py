"""The emulated ERP REST API: records per entity and the OAuth2 token endpoint.

    GET   {base}/{entity}?status=..&<field>=..&limit=..&offset=..   records.list
    POST  {base}/{entity}                                            records.create  (201 + Location)
    GET   {base}/{entity}/{id}                                       records.get     (ETag "<version>")
    PATCH {base}/{entity}/{id}                                       records.patch   (JSON Merge Patch)
    POST  /oauth/token                                               oauth.token

Who changed a record is taken from ``X-Xstream-Origin`` (default "api") and
``X-Xstream-Causation`` and stored as ``last_changed_by`` / ``last_causation``.
"""

from __future__ import annotations

from aiohttp import web

from xstream.emulators.erp.auth import OAuthError
from xstream.emulators.erp.config import TOKEN_PATH
from xstream.emulators.erp.web_common import BODY, CONFIG, STATE, int_query, json_response

ORIGIN_HEADER = "X-Xstream-Origin"
CAUSATION_HEADER = "X-Xstream-Causation"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
PAGING = ("limit", "offset")


def add_routes(r: web.UrlDispatcher, base: str) -> None:
    r.add_get(f"{base}/{{entity}}", list_records, name="records.list", allow_head=False)
    r.add_post(f"{base}/{{entity}}", create_record, name="records.create")
    r.add_get(f"{base}/{{entity}}/{{id}}", get_record, name="records.get", allow_head=False)
    r.add_patch(f"{base}/{{entity}}/{{id}}", patch_record, name="records.patch")
    r.add_post(TOKEN_PATH, token, name="oauth.token")


def _record_headers(record: dict[str, object]) -> dict[str, str]:
    return {"ETag": f'"{record["version"]}"'}


def _who(request: web.Request) -> tuple[str, str | None]:
    return request.headers.get(ORIGIN_HEADER) or "api", request.headers.get(CAUSATION_HEADER)


async def list_records(request: web.Request) -> web.Response:
    entity = request.match_info["entity"]
    limit = min(int_query(request, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT, MAX_LIMIT)
    offset = int_query(request, "offset", 0) or 0
    filters = {k: v for k, v in request.query.items() if k not in PAGING}
    found = request.app[STATE].records.query(entity, filters)
    return json_response({"entity": entity, "total": len(found), "offset": offset, "limit": limit,
                          "records": found[offset:offset + limit]})


async def get_record(request: web.Request) -> web.Response:
    record = request.app[STATE].records.get(request.match_info["entity"], request.match_info["id"])
    return json_response(record, headers=_record_headers(record))


async def create_record(request: web.Request) -> web.Response:
    entity = request.match_info["entity"]
    changed_by, causation = _who(request)
    record = request.app[STATE].records.create(entity, request[BODY], changed_by=changed_by, causation=causation)
    location = f"{request.app[CONFIG].base_path}/{entity}/{record['id']}"
    return json_response(record, 201, _record_headers(record) | {"Location": location})


async def patch_record(request: web.Request) -> web.Response:
    changed_by, causation = _who(request)
    record, _ = request.app[STATE].records.update(request.match_info["entity"], request.match_info["id"],
                                                  request[BODY], changed_by=changed_by, causation=causation)
    return json_response(record, headers=_record_headers(record))


async def token(request: web.Request) -> web.Response:
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    try:
        answer = request.app[STATE].auth.issue_token(form, request.headers.get("Authorization"))
    except OAuthError as exc:
        return json_response({"error": exc.code, "error_description": exc.description}, exc.status,
                             {"Cache-Control": "no-store"})
    return json_response(answer, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
