"""A workflow process's attachments: a folder of shortcuts to the attached documents. Pure (no aiohttp).

Content Server does not attach documents to a process directly: it keeps an attachments folder per
process (``attachments.attachment_folder_id`` and data package ``TYPE 1 / SUBTYPE 1 / USERDATA`` of
``GET /v2/workflows/status/processes/{id}``) holding an alias of each attached document. Evidence:
the OpenAPI file's startwf/Initiate errors ("An error occured creating the alias in the workflow
attachments.") and the draftprocesses text ("attaches the shortcut or copy of the document");
``POST /v2/nodes`` documents "Create shortcut ... type = 1", and ``nodes_Data``/``nodes_NodeInfo``
carry ``original_id`` ("ID of original object if this object is a shortcut"); pyxecm's
``ITEM_TYPE_SHORTCUT = 1`` and its ``create_item(original_id=...)`` ("Required if a shortcut item is
created"); its captured node listings send ``original_id: 0`` on ordinary nodes.

So a client finds a process's documents with ``GET /v2/nodes/{attachment_folder_id}/nodes``: each
child is a shortcut (``type`` 1, ``type_name`` "Shortcut") whose ``original_id`` is the document.
The folder's own subtype, 154 "Workflow Attachments", is from memory of Content Server's subtype
list and confirmed by no source here; real servers keep these folders outside the Enterprise
volume, so the emulator parents them at -1 (beside the volumes), named after the process so the
names stay unique. The folder is created for every process (empty without attached documents), so
``attachment_folder_id`` always names a real node. Its id follows the process id, as it always has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xstream_emulators.opentext.model import SHORTCUT, WORKFLOW_ATTACHMENTS, Node, Process

if TYPE_CHECKING:
    from xstream_emulators.opentext.state import OpenTextState

ROOT = -1


def create_folder(state: OpenTextState, process: Process, user_id: int) -> Node:
    """The process's attachments folder with one shortcut per attached document, in ``doc_ids`` order."""
    folder = state.add_node(f"{process.title} ({process.id})", WORKFLOW_ATTACHMENTS, ROOT, user_id)
    for doc_id in process.doc_ids:
        add_shortcut(state, state.node(doc_id), folder, user_id)
    return folder


def add_shortcut(state: OpenTextState, original: Node, parent: Node, user_id: int) -> Node:
    """A shortcut named like its original (suffixed with the original's id when that name is taken)."""
    taken = state.children.get(parent.id, {})
    name = original.name if original.name not in taken else f"{original.name} ({original.id})"
    return state.add_node(name, SHORTCUT, parent.id, user_id, original_id=original.id)

