"""What ``GET /admin/state`` shows: workspaces (shape kept stable for the demo and tests), folders,
documents with their versions (incl. size, SHA-256, which the real API never shows, and lock),
workflows (with their attachments folder), Large File Upload sessions not used up yet and counts.
Pure (no aiohttp)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from xstream_emulators.opentext.model import DOCUMENT, FOLDER, Node

if TYPE_CHECKING:
    from xstream_emulators.opentext.state import OpenTextState


def flat_categories(node: Node) -> dict[str, Any]:
    return {k: v for values in node.categories.values() for k, v in values.items()}


def snapshot(state: OpenTextState) -> dict[str, Any]:
    workspaces = [
        {
            "id": n.id,
            "name": n.name,
            "parent_id": n.parent_id,
            "wksp_type_id": n.wksp_type_id,
            "wksp_type_name": state.types[n.wksp_type_id].name if n.wksp_type_id in state.types else None,
            "template_id": n.template_id,
            "business_objects": [asdict(b) for b in n.business_objects],
            "categories": flat_categories(n),
            "create_date": n.create_date,
        }
        for n in sorted(state.workspaces(), key=lambda n: n.id)
    ]
    dynamic = [n for n in sorted(state.nodes.values(), key=lambda n: n.id) if not state.is_seed(n.id)]
    folders = [{"id": n.id, "name": n.name, "parent_id": n.parent_id, "modify_date": n.modify_date}
               for n in dynamic if n.type == FOLDER]
    documents = [document(n) for n in dynamic if n.type == DOCUMENT]
    workflows = [
        {"process_id": p.id, "workflow_id": p.map_id, "workflow_name": state.workflow_maps[p.map_id].name,
         "title": p.title, "doc_ids": p.doc_ids, "status": p.status, "completed_steps": p.completed_steps,
         "date_initiated": p.date_initiated, "finished_date": p.finished_date or None,
         "attachment_folder_id": p.attachment_folder_id}
        for p in sorted(state.processes.values(), key=lambda p: p.id)
    ]
    uploads = [session.as_json() for session in state.uploads.values()]
    counts = {"workspaces": len(workspaces), "nodes": len(state.nodes), "sessions": state.tickets.session_count,
              "calls": sum(state.calls.values()), "folders": len(folders), "documents": len(documents),
              "versions": sum(len(d["versions"]) for d in documents), "workflows": len(workflows),
              "audit_events": len(state.audit), "uploads": len(uploads)}
    return {"workspaces": workspaces, "folders": folders, "documents": documents, "workflows": workflows,
            "uploads": uploads, "counts": counts}


def document(node: Node) -> dict[str, Any]:
    return {
        "id": node.id,
        "name": node.name,
        "parent_id": node.parent_id,
        "modify_date": node.modify_date,
        "categories": flat_categories(node),
        "versions": [
            {"version_number": v.number, "file_name": v.file_name, "mime_type": v.mime_type, "size": v.size,
             "sha256": v.sha256, "description": v.description, "create_date": v.create_date, "locked": v.locked}
            for v in node.versions
        ],
    }
