"""Folders and documents: create, rename/move, reserve, delete, browse. Pure (no aiohttp).

Rules: names unique per parent (500 "An item with the name '…' already exists."), required
``type``/``parent_id``/``name`` (400 "Missing required parameter '…'"), documents need a file. Seed
nodes (volumes, type folders, templates, categories, workflow maps) cannot be changed or deleted:
the emulator's types and templates depend on them. Deleting a container deletes its subtree;
deleting an item also deletes the shortcuts that point to it (a workflow's attachments included).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from xstream_emulators.opentext import categories as cats
from xstream_emulators.opentext.documents import add_first_version, flag
from xstream_emulators.opentext.model import (
    AUDIT_DELETE,
    AUDIT_MOVE,
    AUDIT_RENAME,
    DOCUMENT,
    FOLDER,
    MAX_NAME_LENGTH,
    SHORTCUT,
    WORKSPACE,
    ApiError,
    Node,
)

if TYPE_CHECKING:
    from xstream_emulators.opentext.content import Upload
    from xstream_emulators.opentext.state import OpenTextState

CREATABLE = {FOLDER: "Folder", DOCUMENT: "Document"}
EXTERNAL_FIELDS = ("external_create_date", "external_modify_date", "external_source", "external_identity",
                   "external_identity_type")
SORT_KEYS = ("name", "modify_date", "create_date", "size", "type", "id")


def check_name(value: Any) -> str:
    name = str(value if value is not None else "").strip()
    if not name:
        raise ApiError(400, "Missing required parameter 'name'")
    if len(name) > MAX_NAME_LENGTH:
        raise ApiError(400, f"The name must not be longer than {MAX_NAME_LENGTH} characters.")
    return name


def int_field(fields: Mapping[str, Any], name: str, *, required: bool = False) -> int | None:
    value = fields.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(400, f"Missing required parameter '{name}'")
        return None
    if isinstance(value, bool):
        raise ApiError(400, f"Invalid value for parameter '{name}'.")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Invalid value for parameter '{name}'.") from None


def container(state: OpenTextState, parent_id: int) -> Node:
    parent = state.nodes.get(parent_id)
    if parent is None or not parent.is_container or parent.id in state.templates:
        raise ApiError(400, "Sorry, the item you requested could not be accessed. Either it does not exist or you "
                            "do not have permission to access it.")
    return parent


def create(state: OpenTextState, username: str, fields: Mapping[str, Any], upload: Upload | None) -> Node:
    """POST /v2/nodes: a folder (type 0) or a document (type 144, with a file, or the file of a Large
    File Upload that the caller looked up by ``upload_key``)."""
    if fields.get("original_id") not in (None, ""):
        raise ApiError(400, "Copying nodes is not supported by this emulator.")
    type_ = int_field(fields, "type", required=True)
    assert type_ is not None
    if type_ not in CREATABLE:
        raise ApiError(400, f"Subtype {type_} not registered")
    parent_id = int_field(fields, "parent_id", required=True)
    assert parent_id is not None
    container(state, parent_id)
    name = check_name(fields.get("name"))
    if type_ == DOCUMENT and upload is None:
        raise ApiError(400, "Missing required parameter 'file'")
    advanced = type_ == DOCUMENT and flag(fields.get("advanced_versioning"))
    grouped = cats.group_flat(state, _role_categories(fields))
    if name in state.children.get(parent_id, {}):
        raise ApiError(500, f"An item with the name '{name}' already exists.")
    user_id = state.user_id(username)
    node = state.add_node(name, type_, parent_id, user_id, description=str(fields.get("description") or ""),
                          external={k: fields[k] for k in EXTERNAL_FIELDS if fields.get(k) not in (None, "")},
                          advanced_versioning=advanced)
    cats.apply_initial(state, node, grouped)
    if upload is not None and type_ == DOCUMENT:
        add_first_version(state, node, upload, user_id, str(fields.get("version_description") or ""))
    return node


def _role_categories(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    roles = fields.get("roles")
    if roles in (None, ""):
        return {}
    if not isinstance(roles, dict):
        raise ApiError(400, "Invalid value for parameter 'roles'.")
    given = roles.get("categories", {})
    if not isinstance(given, dict):
        raise ApiError(400, "Invalid value for parameter 'roles': categories must be an object.")
    for key, value in given.items():
        if isinstance(value, dict) and not str(key).endswith("_1"):
            raise ApiError(400, f"Invalid attribute entry found: '{key}' (nodes take a flat category map).")
    return given


def update(state: OpenTextState, username: str, node: Node, fields: Mapping[str, Any]) -> None:
    """PUT /v2/nodes/{id}: rename, describe, move, reserve; ``metadata_token`` checks for edit conflicts."""
    _check_mutable(state, node, "update")
    token = fields.get("metadata_token")
    if token and str(token) != node.metadata_token:
        raise ApiError(409, cats.EDIT_CONFLICT)
    name = check_name(fields["name"]) if "name" in fields else node.name
    parent_id = int_field(fields, "parent_id")
    target = node.parent_id if parent_id is None else parent_id
    if target != node.parent_id:
        container(state, target)
        if target == node.id or _is_descendant(state, target, node.id):
            raise ApiError(400, "A node cannot be moved into itself or one of its sub-items.")
    if (target, name) != (node.parent_id, node.name) and name in state.children.get(target, {}):
        raise ApiError(500, f"An item with the name '{name}' already exists.")
    user_id = state.user_id(username)
    events = []
    if target != node.parent_id:
        events.append(AUDIT_MOVE)
    if name != node.name:
        events.append(AUDIT_RENAME)
    del state.children[node.parent_id][node.name]
    node.name, node.parent_id = name, target
    state.children.setdefault(target, {})[name] = node.id
    if "description" in fields:
        node.description = str(fields.get("description") or "")
    if "reserved_user_id" in fields:
        _reserve(state, node, fields["reserved_user_id"])
    state.touch(node, user_id)
    for event in events:
        state.record(node.id, event, user_id)


def _reserve(state: OpenTextState, node: Node, value: Any) -> None:
    if value in (None, "", 0, "0"):
        node.reserved_user_id, node.reserved_date = 0, None
        return
    user_id = int_field({"reserved_user_id": value}, "reserved_user_id")
    if user_id is None or state.username_for(user_id) is None:
        raise ApiError(400, "Invalid value for parameter 'reserved_user_id'.")
    node.reserved_user_id, node.reserved_date = user_id, state.now()


def delete(state: OpenTextState, username: str, node: Node) -> None:
    """DELETE /v2/nodes/{id}: the node and everything below it."""
    _check_mutable(state, node, "delete")
    user_id = state.user_id(username)
    subtree = _subtree(state, node)
    gone_ids = {n.id for n in subtree}
    shortcuts = [n for n in state.nodes.values()
                 if n.type == SHORTCUT and n.original_id in gone_ids and n.id not in gone_ids]
    for top in (node, *shortcuts):
        del state.children[top.parent_id][top.name]
    for gone in (*subtree, *shortcuts):
        state.nodes.pop(gone.id, None)
        state.children.pop(gone.id, None)
        state.changed(gone.id)
        state.record(gone.id, AUDIT_DELETE, user_id)
        if gone.type == WORKSPACE:
            from xstream_emulators.opentext import teams

            teams.forget_workspace(state, gone)


def _check_mutable(state: OpenTextState, node: Node, action: str) -> None:
    if state.is_seed(node.id):
        raise ApiError(400, f"Could not process object, invalid action '{action}'")


def _subtree(state: OpenTextState, node: Node) -> list[Node]:
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(state.nodes[i] for i in state.children.get(current.id, {}).values() if i in state.nodes)
    return found


def _is_descendant(state: OpenTextState, node_id: int, ancestor_id: int) -> bool:
    current = state.nodes.get(node_id)
    while current is not None and current.parent_id > 0:
        if current.parent_id == ancestor_id:
            return True
        current = state.nodes.get(current.parent_id)
    return False


def children(state: OpenTextState, parent: Node, *, where_types: list[int], where_name: str | None,
             sort: str | None) -> tuple[list[Node], str]:
    """Children filtered by where_type (-1 containers, -2 searchable, -3 non-containers, else a subtype)
    and where_name (case-insensitive substring), sorted; returns them and the effective sort value."""
    nodes = [state.nodes[i] for i in state.children.get(parent.id, {}).values() if i in state.nodes]
    if where_types:
        nodes = [n for n in nodes if any(_type_matches(n, t) for t in where_types)]
    if where_name:
        wanted = where_name.casefold()
        nodes = [n for n in nodes if wanted in n.name.casefold()]
    sort = sort or "asc_name"
    direction, _, column = sort.partition("_") if sort.startswith(("asc_", "desc_")) else ("asc", "", sort)
    if column not in SORT_KEYS:
        raise ApiError(400, "One or more parameters are invalid")
    nodes.sort(key=lambda n: (_sort_value(state, n, column), n.id), reverse=direction == "desc")
    return nodes, f"{direction}_{column}"


def size(state: OpenTextState, node: Node) -> int:
    """``size``: bytes of the latest version for documents, number of items for containers."""
    latest = node.latest
    if latest is not None:
        return latest.size
    return len(state.children.get(node.id, {})) if node.is_container else 0


def _type_matches(node: Node, wanted: int) -> bool:
    if wanted == -1:
        return node.is_container
    if wanted == -2:
        return True
    if wanted == -3:
        return not node.is_container
    return node.type == wanted


def _sort_value(state: OpenTextState, node: Node, column: str) -> Any:
    if column == "name":
        return node.name.casefold()
    if column == "size":
        return size(state, node)
    return getattr(node, column)
