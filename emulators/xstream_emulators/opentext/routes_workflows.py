"""Workflow routes (reference 7.1): available maps for documents, draft processes, direct start,
one process's status (``attachments.attachment_folder_id`` names a folder of shortcuts to the
attached documents, see ``attachments``) and the caller's processes by status
(``GET /v2/workflows/status``, see ``workflow_status``). Tests finish processes through the admin
API (``/admin/workflows/{id}/…``)."""

from __future__ import annotations

from aiohttp import web

from xstream_emulators.opentext import workflow_status, workflows
from xstream_emulators.opentext.encoding import read_params
from xstream_emulators.opentext.web_common import json, path_int, state_of, username


def add_routes(r: web.UrlDispatcher, api: str) -> None:
    r.add_get(f"{api}/v2/docworkflows", doc_workflows, name="workflows.docworkflows")
    r.add_post(f"{api}/v2/draftprocesses", create_draft, name="workflows.draft_create")
    r.add_post(f"{api}/v2/draftprocesses/startwf", start_workflow, name="workflows.startwf")
    r.add_put(f"{api}/v2/draftprocesses/{{draft_id}}", update_draft, name="workflows.draft_update")
    r.add_get(f"{api}/v2/workflows/status/processes/{{process_id}}", status, name="workflows.status")
    r.add_get(f"{api}/v2/workflows/status", status_list, name="workflows.status_list")


async def doc_workflows(request: web.Request) -> web.Response:
    state = state_of(request)
    maps = workflows.available(state, request.query, request.query.getall("doc_id", []))
    data = [{"DataID": m.id, "Name": m.name, "WorkflowType": 100} for m in maps]
    return json(request, {"data": data, "fError": "", "fErrorDetail": "", "statusMsg": None})


async def create_draft(request: web.Request) -> web.Response:
    draft = workflows.create_draft(state_of(request), username(request), await read_params(request))
    return json(request, workflows.draft_json(draft))


async def update_draft(request: web.Request) -> web.Response:
    results = workflows.update_draft(state_of(request), username(request), path_int(request, "draft_id"),
                                     await read_params(request))
    return json(request, results)


async def start_workflow(request: web.Request) -> web.Response:
    """The OpenAPI file declares a flat ``{"process_id", "custom_message"}`` for this call."""
    state = state_of(request)
    process = workflows.start_direct(state, username(request), await read_params(request))
    name = state.workflow_maps[process.map_id].name
    return web.json_response({"process_id": process.id, "custom_message": f"{name} was initiated successfully."})


async def status(request: web.Request) -> web.Response:
    state = state_of(request)
    process = workflows.process(state, path_int(request, "process_id"))
    return json(request, workflows.status_view(state, process))


async def status_list(request: web.Request) -> web.Response:
    return json(request, workflow_status.status_list(state_of(request), username(request), request.query))
