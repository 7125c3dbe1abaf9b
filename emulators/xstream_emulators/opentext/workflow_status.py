"""GET /v2/workflows/status: the caller's workflow processes by status, kind and age. Pure (no aiohttp).

Parameters (operationId getWorkflowStatus): ``wstatus`` = workflowlate | ontime | completed |
stopped (the words of ``wf_details.status``, so completed and stopped stay apart), ``Kind`` (the
file's spelling; pyxecm sends ``kind``) = Managed | Initiated | Both, ``sort`` = "<key> asc|desc"
for status_key, due_date, wf_name, date_initiated, and ``wfretention`` = days: finished processes
are listed only when they finished within that many days (day granularity; running ones are
unaffected, as in Smart View's workflow tracking, whose setting it is). The emulator has no
separate workflow managers: the initiator manages their processes, so every kind lists the
processes the caller started. Without ``sort`` the newest come first. A bad value is 400.

Each entry follows pyxecm's captured answer: ``data.wfstatus`` (current step, its assignees,
``parallel_steps`` = the current tasks), ``definitions``/``definitions_map``/``definitions_order``
and ``permissions``. A finished process names the step it ended at and has no current task.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from xstream_emulators.opentext import workflows
from xstream_emulators.opentext.model import ApiError, Process

if TYPE_CHECKING:
    from xstream_emulators.opentext.state import OpenTextState

STATUSES = ("workflowlate", "ontime", "completed", "stopped")
KINDS = ("managed", "initiated", "both")
SORT_KEYS = ("status_key", "due_date", "wf_name", "date_initiated")
DEFAULT_SORT = ("date_initiated", True)
ORDER = ("status_key", "due_date", "wf_name", "step_name", "assignee", "date_initiated")
COLUMNS = {"status_key": ("Status", -1, "String"), "due_date": ("Step Due Date", -7, "Date"),
           "wf_name": ("Workflow", -1, "String"), "step_name": ("Current Step", -1, "String"),
           "assignee": ("Assigned to", 2, "Integer"), "date_initiated": ("Start Date", -7, "Date")}


def status_list(state: OpenTextState, username: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``results`` of GET /v2/workflows/status for ``username``."""
    wanted = _choice(params, "wstatus", STATUSES)
    kind = params.get("Kind", params.get("kind"))
    if kind not in (None, "") and str(kind).lower() not in KINDS:
        raise _invalid("Kind")
    retention = _retention(params.get("wfretention"))
    key, descending = _sort(params.get("sort"))
    user_id = state.user_id(username)
    found = [p for p in state.processes.values() if p.initiator_id == user_id]
    if wanted is not None:
        found = [p for p in found if workflows.current_status(state, p) == wanted]
    if retention is not None:
        since = (date.fromisoformat(state.now()[:10]) - timedelta(days=retention)).isoformat()
        found = [p for p in found if p.status == "ontime" or p.finished_date[:10] >= since]
    found.sort(key=lambda p: (_sort_value(state, p, key), p.id), reverse=descending)
    return [_entry(state, p) for p in found]


def _entry(state: OpenTextState, process: Process) -> dict[str, Any]:
    steps = state.workflow_maps[process.map_id].steps
    step = steps[min(len(process.completed_steps), len(steps) - 1)]
    status = workflows.current_status(state, process)
    current = [workflows.task(state, process, s, status) for s in workflows.current_steps(state, process)]
    assignees = [a for t in current for a in t["task_assignees"]["assignee"]]
    wfstatus = {
        "assignee": assignees,
        "assignee_count": len(assignees),
        "comments_on": True,
        "current_assignee": current[0]["task_assignees"]["currentAssignee"] if current else "",
        "date_initiated": process.date_initiated,
        "due_date": process.due_date,
        "parallel_steps": current,
        "process_id": process.id,
        "status_key": status,
        "step_name": step,
        "steps_count": len(current),
        "subprocess_id": process.id,
        "task_id": steps.index(step) + 1,
        "wf_name": process.title,
    }
    return {"data": {"wfstatus": wfstatus}, "definitions": {"wfstatus": DEFINITIONS},
            "definitions_map": {"wfstatus": {}}, "definitions_order": {"wfstatus": list(ORDER)},
            "permissions": dict(workflows.PERMISSIONS)}


def _definition(key: str) -> dict[str, Any]:
    name, type_, type_name = COLUMNS[key]
    return {"allow_undefined": False, "bulk_shared": False, "default_value": None, "description": None,
            "hidden": False, "key": key, "multi_value": False, "name": name, "persona": "", "read_only": True,
            "required": False, "type": type_, "type_name": type_name, "valid_values": [], "valid_values_name": []}


DEFINITIONS = {key: _definition(key) for key in COLUMNS}


def _sort_value(state: OpenTextState, process: Process, key: str) -> str:
    if key == "status_key":
        return workflows.current_status(state, process)
    if key == "wf_name":
        return process.title.casefold()
    return str(getattr(process, key))


def _sort(raw: Any) -> tuple[str, bool]:
    if raw in (None, ""):
        return DEFAULT_SORT
    key, _, direction = str(raw).strip().partition(" ")
    direction = direction.strip().lower() or "asc"
    if key not in SORT_KEYS or direction not in ("asc", "desc"):
        raise _invalid("sort")
    return key, direction == "desc"


def _choice(params: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    if str(value).lower() not in allowed:
        raise _invalid(name)
    return str(value).lower()


def _retention(raw: Any) -> int | None:
    if raw in (None, ""):
        return None
    try:
        days = int(raw)
    except (TypeError, ValueError):
        raise _invalid("wfretention") from None
    if days < 0:
        raise _invalid("wfretention")
    return days


def _invalid(name: str) -> ApiError:
    return ApiError(400, f"Invalid value for parameter '{name}'.")
