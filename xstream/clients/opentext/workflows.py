"""Workflows on documents (reference/opentext-api.md 7.1).

Starting one takes three calls, each with ``body=<JSON>``: ``POST /api/v2/draftprocesses``
(``{"workflow_id", "doc_ids": "1,2", "AttachDocuments": "true"}`` -> ``draftprocess_id``), an optional
``PUT /api/v2/draftprocesses/{id}`` ``{"action": "formUpdate", "values": {...}}`` (title, attributes),
and ``PUT /api/v2/draftprocesses/{id}`` ``{"action": "Initiate"}`` -> ``process_id``. Content Server
has no idempotency for this: a retried start starts a second process, so callers guard starts with
their own ledger. A failure between the calls leaves an unstarted draft behind (harmless).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from xstream.clients.opentext.base import ClientBase, shape
from xstream.clients.opentext.models import WorkflowInfo, WorkflowStatus, WorkflowStep
from xstream.clients.opentext.transport import json_body


class WorkflowsApi(ClientBase):
    async def find_workflows(self, doc_id: int, parent_id: int) -> list[WorkflowInfo]:
        """Workflow maps that can be started on a document (GET /api/v2/docworkflows)."""
        params = {"doc_id": str(int(doc_id)), "parent_id": str(int(parent_id))}
        payload = await self._call("workflows.for_document", "GET", "/api/v2/docworkflows", params=params)

        def read() -> list[WorkflowInfo]:
            results = payload["results"]
            entries = results["data"] if isinstance(results, Mapping) else results
            return [WorkflowInfo(id=int(e["DataID"]), name=str(e["Name"]), workflow_type=e.get("WorkflowType"))
                    for e in entries]

        return shape("workflows.for_document", read)

    async def start_workflow(self, workflow_id: int, doc_ids: Sequence[int], *, title: str | None = None,
                             values: Mapping[str, Any] | None = None, comment: str | None = None) -> int:
        """Start a workflow map with the documents attached; returns the process id.

        ``values`` are workflow form fields (``WorkflowForm_WorkflowDueDate``, ``WorkflowForm_1x4x1x2``);
        ``title`` becomes ``WorkflowForm_Title``.
        """
        body: dict[str, Any] = {"workflow_id": int(workflow_id)}
        if doc_ids:
            body["doc_ids"] = ",".join(str(int(d)) for d in doc_ids)
            body["AttachDocuments"] = "true"
        created = await self._call("workflows.draft", "POST", "/api/v2/draftprocesses", data=json_body(body))
        draft_id = shape("workflows.draft", lambda: int(created["results"]["draftprocess_id"]))
        form = dict(values or {})
        if title:
            form["WorkflowForm_Title"] = title
        if form:
            await self._call("workflows.form_update", "PUT", f"/api/v2/draftprocesses/{draft_id}",
                             data=json_body({"action": "formUpdate", "values": form}))
        initiate: dict[str, Any] = {"action": "Initiate"}
        if comment:
            initiate["comment"] = comment
        started = await self._call("workflows.initiate", "PUT", f"/api/v2/draftprocesses/{draft_id}",
                                   data=json_body(initiate))
        return shape("workflows.initiate", lambda: int(started["results"]["process_id"]))

    async def workflow_status(self, process_id: int) -> WorkflowStatus:
        """Status and steps of a running or finished process."""
        payload = await self._call("workflows.status", "GET", f"/api/v2/workflows/status/processes/{int(process_id)}")

        def read() -> WorkflowStatus:
            results = payload["results"]
            details = results.get("wf_details") or {}
            steps = results.get("step_list") or {}
            initiator = details.get("initiator")
            attachments = results.get("attachments") or {}
            return WorkflowStatus(
                process_id=int(process_id),
                attachment_folder_id=attachments.get("attachment_folder_id") or None,
                name=details.get("wf_name"),
                status=details.get("status"),
                initiated=details.get("date_initiated") or None,
                due_date=details.get("due_date") or None,
                initiator=initiator.get("loginName") if isinstance(initiator, Mapping) else None,
                current=[_step(s) for s in steps.get("current") or []],
                completed=[_step(s) for s in steps.get("completed") or []],
                next=[_step(s) for s in steps.get("next") or []],
            )

        return shape("workflows.status", read)

    async def finished_workflows(self, *, retention_days: int) -> list[WorkflowStatus]:
        """Processes of the service account that completed or stopped within ``retention_days``
        (GET /api/v2/workflows/status?wstatus=...&Kind=Both&wfretention=...), one call per status."""
        found: list[WorkflowStatus] = []
        for wanted in ("completed", "stopped"):
            params = {"wstatus": wanted, "Kind": "Both", "wfretention": str(int(retention_days))}
            payload = await self._call("workflows.status_list", "GET", "/api/v2/workflows/status", params=params)

            def read(payload: Any = payload, wanted: str = wanted) -> list[WorkflowStatus]:
                items = []
                for result in payload.get("results") or []:
                    row = result["data"]["wfstatus"]
                    items.append(WorkflowStatus(process_id=int(row["process_id"]), name=row.get("wf_name"),
                                                status=str(row.get("status_key") or wanted),
                                                initiated=row.get("date_initiated") or None))
                return items

            found += shape("workflows.status_list", read)
        return found


def _step(raw: Mapping[str, Any]) -> WorkflowStep:
    assignees = (raw.get("task_assignees") or {}).get("assignee") or []
    return WorkflowStep(
        task_id=raw.get("task_id"),
        name=str(raw.get("task_name") or ""),
        status=raw.get("task_status"),
        start_date=raw.get("task_start_date") or None,
        due_date=raw.get("task_due_date") or None,
        assignees=[str(a.get("loginName")) for a in assignees if isinstance(a, Mapping) and a.get("loginName")],
    )
