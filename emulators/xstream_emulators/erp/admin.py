"""Unauthenticated ``/admin`` API of the ERP emulator, for tests, the demo and the CDC harness.

    GET   /admin/state                         records per entity (approvals too), counts, last lsn, keys remembered
    GET   /admin/calls                         API calls by operation, plus ``state_changing``
    GET   /admin/changes?since=<lsn>&entity=<e>&limit=<n>
                                               change events with lsn > since, oldest first:
                                               ``{"changes": [{"lsn", "entity", "key", "value"}], "last_lsn"}``;
                                               entities: the records', approvals, ``attachments`` (SAP)
                                               and ``content_versions`` (Salesforce)
    POST  /admin/records/{entity}              create a record as an ERP user would ("erp-user"; 201)
    PATCH /admin/records/{entity}/{id}         change a record as an ERP user would (merge patch);
                                               approvals are not records here: 422 managed_entity
    POST  /admin/approvals/{id}/decide         an ERP user approves or rejects: ``{"decision":
                                               "approved"|"rejected", "comment", "by"}`` (by default
                                               "erp-user") -> the approval; 404 not_found, 422
                                               invalid_field, 409 already_decided when not pending
    GET   /admin/faults, POST /admin/faults    fault injection (see ``faults``), one-shot ``expire_tokens``
                                               and ``expire_csrf_tokens``;
                                               the answer adds ``injected`` (faults before a call) and
                                               ``lost_answers`` (calls that acted, answer then lost)
    POST  /admin/reset                         back to the seed
    /admin/attachments...                      SAP attachments as ERP users make them (``admin_attachments``)

Admin calls are not counted and never faulted; records made here go through the change log like
every other change (that is how the source system's own edits, and approval decisions, reach Kafka).
"""

from __future__ import annotations

import orjson
from aiohttp import web

from xstream_emulators.erp.attachments import ATTACHMENTS
from xstream_emulators.erp.faults import FaultSpecError, parse_faults
from xstream_emulators.erp.files import CONTENT_VERSIONS
from xstream_emulators.erp.model import ApiError
from xstream_emulators.erp.state import SEED_USER, ErpState
from xstream_emulators.erp.web_common import (
    error_response,
    int_query,
    json_response,
    read_json,
    version_headers,
)


def add_admin_routes(app: web.Application, state: ErpState) -> None:
    async def get_state(request: web.Request) -> web.Response:
        return json_response(state.snapshot())

    async def get_calls(request: web.Request) -> web.Response:
        return json_response(state.calls_view())

    async def get_changes(request: web.Request) -> web.Response:
        try:
            since = int_query(request, "since", 0) or 0
            limit = int_query(request, "limit", None)
            entity = request.query.get("entity") or None
            if entity is not None and entity not in (ATTACHMENTS, CONTENT_VERSIONS):
                state.records.collection(entity)
        except ApiError as exc:
            return error_response(exc)
        changes = state.changes.since(since, entity, limit)
        return json_response({"changes": [c.as_json() for c in changes], "last_lsn": state.changes.last_lsn})

    async def create_record(request: web.Request) -> web.Response:
        try:
            record = state.records.create(request.match_info["entity"], await read_json(request),
                                          changed_by=SEED_USER)
        except ApiError as exc:
            return error_response(exc)
        return json_response(record, 201)

    async def patch_record(request: web.Request) -> web.Response:
        try:
            record, _ = state.records.update(request.match_info["entity"], request.match_info["id"],
                                             await read_json(request), changed_by=SEED_USER)
        except ApiError as exc:
            return error_response(exc)
        return json_response(record)

    async def decide_approval(request: web.Request) -> web.Response:
        try:
            approval = state.approvals.decide(request.match_info["id"], await read_json(request),
                                              default_by=SEED_USER)
        except ApiError as exc:
            return error_response(exc)
        return json_response(approval, headers=version_headers(approval))

    async def reset(request: web.Request) -> web.Response:
        state.reset()
        return json_response({"reset": True})

    async def get_faults(request: web.Request) -> web.Response:
        return json_response(state.faults.as_json() | {"injected": state.injected_faults,
                                                       "lost_answers": state.lost_answers})

    async def set_faults(request: web.Request) -> web.Response:
        try:
            faults, actions = parse_faults(orjson.loads(await request.read() or b"{}"))
        except (orjson.JSONDecodeError, FaultSpecError) as exc:
            return error_response(ApiError(400, "invalid_faults", str(exc)))
        state.faults = faults
        if actions["expire_tokens"]:
            state.auth.expire_tokens()
        if actions["expire_csrf_tokens"]:
            state.csrf.expire()
        return json_response(faults.as_json() | {"injected": state.injected_faults,
                                                 "lost_answers": state.lost_answers,
                                                 "expired_tokens": actions["expire_tokens"],
                                                 "expired_csrf_tokens": actions["expire_csrf_tokens"]})

    r = app.router
    r.add_get("/admin/state", get_state, name="admin.state")
    r.add_get("/admin/calls", get_calls, name="admin.calls")
    r.add_get("/admin/changes", get_changes, name="admin.changes")
    r.add_post("/admin/records/{entity}", create_record, name="admin.records.create")
    r.add_patch("/admin/records/{entity}/{id}", patch_record, name="admin.records.patch")
    r.add_post("/admin/approvals/{id}/decide", decide_approval, name="admin.approvals.decide")
    r.add_post("/admin/reset", reset, name="admin.reset")
    r.add_get("/admin/faults", get_faults, name="admin.faults")
    r.add_post("/admin/faults", set_faults, name="admin.faults.set")
