"""Workflows on documents (reference 7.1): maps, draft processes, processes, status. Pure.

A draft process is created for a map and documents, optionally gets form values
(``action=formUpdate``) and is started with ``action=Initiate``. ``startwf`` starts maps whose
start step is disabled in one call and refuses the others. A process then waits at its first step
until the admin API advances, completes or stops it (there are no users working the tasks).
Status is ``ontime`` while running (``workflowlate`` after the due date), then ``completed`` or
``stopped`` (with ``finished_date``). Initiated/completed/stopped are recorded in the attached
documents' audit trails; a finished process is also announced once to the state's listeners
(:class:`ProcessFinished`, the ``workflow.finished`` hook). The attached documents are shortcuts in
the process's attachments folder (``attachments``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

import orjson

from xstream_emulators.opentext import attachments
from xstream_emulators.opentext.model import (
    AUDIT_WORKFLOW_COMPLETED,
    AUDIT_WORKFLOW_INITIATED,
    AUDIT_WORKFLOW_STOPPED,
    DOCUMENT,
    ApiError,
    DraftProcess,
    Process,
    ProcessFinished,
    WorkflowMap,
)

if TYPE_CHECKING:
    from xstream_emulators.opentext.state import OpenTextState

START_STEP_ENABLED = ("This REST API only initiates workflows with a disabled start step. The workflow's start step "
                      "is enabled. Hence this operation will not be successful.")
PERMISSIONS = {"Archive": True, "ChangeAttr": True, "ChangeRoute": True, "Delete": True, "ManagerPerms": True,
               "SeeDetail": True, "Stop": True, "Suspend": True}


def workflow_map(state: OpenTextState, fields: Mapping[str, Any]) -> WorkflowMap:
    raw = fields.get("workflow_id")
    if raw in (None, ""):
        raise ApiError(400, "Missing required parameter 'workflow_id'")
    try:
        map_id = int(raw)
    except (TypeError, ValueError):
        raise ApiError(400, "Invalid value for parameter 'workflow_id'.") from None
    found = state.workflow_maps.get(map_id)
    if found is None:
        raise ApiError(400, f"Could not get a node for {map_id}")
    return found


def doc_ids(state: OpenTextState, raw: Any) -> list[int]:
    """``doc_ids`` as "1,2" (the documented form), a list, or one id; every id must be a document."""
    if raw in (None, ""):
        return []
    items = raw if isinstance(raw, list) else str(raw).split(",")
    ids: list[int] = []
    for item in items:
        try:
            node_id = int(str(item).strip())
        except ValueError:
            raise ApiError(400, "Invalid value for parameter 'doc_ids'.") from None
        node = state.nodes.get(node_id)
        if node is None or node.type != DOCUMENT:
            raise ApiError(400, "Error getting node from ID")
        ids.append(node_id)
    return ids


def available(state: OpenTextState, params: Mapping[str, Any], doc_values: list[str]) -> list[WorkflowMap]:
    """GET /v2/docworkflows?doc_id=..&parent_id=..: the maps that can be started on those documents."""
    if not doc_values:
        raise ApiError(400, "Missing required parameter 'doc_id'")
    doc_ids(state, doc_values)
    parent = params.get("parent_id")
    if parent not in (None, ""):
        try:
            state.node(int(parent))
        except (TypeError, ValueError):
            raise ApiError(400, "Invalid value for parameter 'parent_id'.") from None
    return sorted(state.workflow_maps.values(), key=lambda m: m.id)


def create_draft(state: OpenTextState, username: str, fields: Mapping[str, Any]) -> DraftProcess:
    wf = workflow_map(state, fields)
    docs = doc_ids(state, fields.get("doc_ids"))
    attach = str(fields.get("AttachDocuments", "")).strip().lower() in ("true", "1")
    draft = DraftProcess(state.next_id(), wf.id, docs, attach, state.user_id(username))
    state.drafts[draft.id] = draft
    state.dirty.drafts.add(draft.id)
    return draft


def update_draft(state: OpenTextState, username: str, draft_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
    """PUT /v2/draftprocesses/{id}: ``formUpdate`` stores values, ``Initiate`` starts the process."""
    draft = state.drafts.get(draft_id)
    if draft is None or draft.process_id is not None:
        raise ApiError(400, "Could not GetNodeByID.")
    action = str(fields.get("action") or "")
    if not action:
        raise ApiError(400, "Could not retrieve action")
    if action.lower() == "formupdate":
        draft.values |= _values(fields.get("values"))
        state.dirty.drafts.add(draft.id)
        return {}
    if action.lower() != "initiate":
        raise ApiError(400, "The requested action is unknown. Allowed actions 'initiate','formupdate'")
    wf = state.workflow_maps[draft.map_id]
    process = _initiate(state, wf, draft.doc_ids if draft.attach else [], state.user_id(username), draft.values)
    draft.process_id = process.id
    state.dirty.drafts.add(draft.id)
    return {"custom_message": f"{wf.name} was initiated successfully.", "process_id": process.id,
            "WorkID": None, "WRID": None}


def start_direct(state: OpenTextState, username: str, fields: Mapping[str, Any]) -> Process:
    """POST /v2/draftprocesses/startwf: only for maps whose start step is disabled."""
    wf = workflow_map(state, fields)
    docs = doc_ids(state, fields.get("doc_ids"))
    if wf.start_step_enabled:
        raise ApiError(400, START_STEP_ENABLED)
    return _initiate(state, wf, docs, state.user_id(username), {})


def _values(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            raise ApiError(400, "Invalid value for parameter 'values'.") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ApiError(400, "Invalid value for parameter 'values': expected an object.")
    return raw


def _initiate(state: OpenTextState, wf: WorkflowMap, docs: list[int], user_id: int,
              values: Mapping[str, Any]) -> Process:
    process = Process(
        id=state.next_id(), map_id=wf.id, doc_ids=list(docs), initiator_id=user_id, date_initiated=state.now(),
        title=str(values.get("WorkflowForm_Title") or wf.name),
        due_date=str(values.get("WorkflowForm_WorkflowDueDate") or ""), values=dict(values),
    )
    process.attachment_folder_id = attachments.create_folder(state, process, user_id).id
    process.step_dates[wf.steps[0]] = state.now()
    state.processes[process.id] = process
    state.dirty.processes.add(process.id)
    for doc in docs:
        state.record(doc, AUDIT_WORKFLOW_INITIATED, user_id)
    return process


def process(state: OpenTextState, process_id: int) -> Process:
    found = state.processes.get(process_id)
    if found is None:
        raise ApiError(400, "Could not access task status")
    return found


def advance(state: OpenTextState, process_: Process, *, all_steps: bool = False) -> None:
    """Finish the current step (admin API); after the last one the process is completed."""
    if process_.status != "ontime":
        raise ApiError(400, f"The process {process_.id} is {process_.status}.")
    steps = state.workflow_maps[process_.map_id].steps
    while len(process_.completed_steps) < len(steps):
        process_.completed_steps.append(steps[len(process_.completed_steps)])
        if len(process_.completed_steps) < len(steps):
            process_.step_dates[steps[len(process_.completed_steps)]] = state.now()
        if not all_steps:
            break
    state.dirty.processes.add(process_.id)
    if len(process_.completed_steps) == len(steps):
        _finish(state, process_, "completed", AUDIT_WORKFLOW_COMPLETED)


def stop(state: OpenTextState, process_: Process) -> None:
    if process_.status != "ontime":
        raise ApiError(400, f"The process {process_.id} is {process_.status}.")
    _finish(state, process_, "stopped", AUDIT_WORKFLOW_STOPPED)


def _finish(state: OpenTextState, process_: Process, status: str, audit_event: int) -> None:
    process_.status = status
    process_.finished_date = state.now()
    state.dirty.processes.add(process_.id)
    for doc in process_.doc_ids:
        state.record(doc, audit_event, process_.initiator_id)
    state.notify(ProcessFinished(process_.id, status, f"{process_.finished_date}Z", process_.initiator_id))


def status_view(state: OpenTextState, process_: Process) -> dict[str, Any]:
    """``results`` of GET /v2/workflows/status/processes/{id} (shape of pyxecm's captured example)."""
    wf = state.workflow_maps[process_.map_id]
    status = current_status(state, process_)
    done = process_.completed_steps
    current = current_steps(state, process_)
    upcoming = [] if process_.status != "ontime" else list(wf.steps[len(done) + 1:])
    initiator = person(state, process_.initiator_id)
    return {
        "attachments": {"attachment_folder_id": process_.attachment_folder_id},
        "data_packages": [
            {"TYPE": 1, "SUBTYPE": 1, "USERDATA": process_.attachment_folder_id, "DESCRIPTION": ""},
        ],
        "permissions": dict(PERMISSIONS),
        "step_list": {
            "completed": [task(state, process_, s, "completed") for s in done],
            "current": [task(state, process_, s, status) for s in current],
            "next": [task(state, process_, s, "") for s in upcoming],
        },
        "wf_details": {
            "date_initiated": process_.date_initiated,
            "due_date": process_.due_date,
            "initiator": {k: initiator[k] for k in ("firstName", "lastName", "loginName", "userId")},
            "status": status,
            "wf_name": process_.title,
            "work_workID": process_.id,
        },
    }


def current_steps(state: OpenTextState, process_: Process) -> list[str]:
    """The step the process waits at (none once it finished)."""
    if process_.status != "ontime":
        return []
    steps = state.workflow_maps[process_.map_id].steps
    return list(steps[len(process_.completed_steps):len(process_.completed_steps) + 1])


def current_status(state: OpenTextState, process_: Process) -> str:
    """``wf_details.status``: ontime, workflowlate (running past its due date), completed or stopped."""
    if process_.status != "ontime" or not process_.due_date:
        return process_.status
    try:
        due = date.fromisoformat(process_.due_date[:10])
    except ValueError:
        return process_.status
    return "workflowlate" if state.now()[:10] > due.isoformat() else "ontime"


def task(state: OpenTextState, process_: Process, step: str, task_status: str) -> dict[str, Any]:
    """One task of ``step_list`` (and of the status list's ``parallel_steps``); the initiator works every step."""
    wf = state.workflow_maps[process_.map_id]
    assignee = person(state, process_.initiator_id)
    return {
        "process_id": process_.id, "subprocess_id": process_.id, "task_id": wf.steps.index(step) + 1,
        "task_name": step, "task_due_date": "", "task_start_date": process_.step_dates.get(step, ""),
        "task_status": task_status,
        "task_assignees": {"assignee": [assignee], "assigneeCount": 1, "currentAssignee": assignee["loginName"]},
    }


def person(state: OpenTextState, user_id: int) -> dict[str, Any]:
    return {"userId": user_id, "loginName": state.username_for(user_id) or str(user_id), "firstName": "",
            "lastName": "", "emailAddress": "", "phone": ""}


def draft_json(draft: DraftProcess) -> dict[str, Any]:
    return {"draftprocess_id": draft.id, "workflow_type": "1_1"}
