"""Workspace relations (related items) and workspace roles with their members. Pure (no aiohttp).

A relation is one edge (parent, child) seen from both ends (reference 6 and pyxecm): POST on A with
``rel_bw_id=B&rel_type=child`` makes B a child of A, so A lists B as ``child`` and B lists A as
``parent``; ``rel_type=parent`` is the same edge the other way round. An existing relation cannot
be added again. Roles are created from the workspace type's role names when a workspace is
created (the first role is the team leader); role ids are member ids, not node ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from xstream_emulators.opentext.model import ApiError, Node, Role

if TYPE_CHECKING:
    from xstream_emulators.opentext.state import OpenTextState

REL_TYPES = ("child", "parent")


def create_roles(state: OpenTextState, workspace: Node) -> None:
    wtype = state.types[workspace.wksp_type_id or 0]
    for index, name in enumerate(wtype.role_names):
        role = Role(state.next_member_id(), workspace.id, name, leader=index == 0)
        state.roles[role.id] = role
        state.dirty.roles.add(role.id)


def forget_workspace(state: OpenTextState, workspace: Node) -> None:
    """A deleted workspace loses its BO links, relations and roles."""
    for bo in workspace.business_objects:
        if state.bo_index.get(bo) == workspace.id:
            del state.bo_index[bo]
    state.relations = {r for r in state.relations if workspace.id not in r}
    for role in [r for r in state.roles.values() if r.workspace_id == workspace.id]:
        del state.roles[role.id]
        state.dirty.roles.add(role.id)
    for recent in state.recent.values():
        if workspace.id in recent:
            recent.remove(workspace.id)


# --- related items ----------------------------------------------------------------------------


def _edge(workspace_id: int, other_id: int, rel_type: str) -> tuple[int, int]:
    if rel_type not in REL_TYPES:
        raise ApiError(400, f"Invalid relation type '{rel_type}': use child or parent.")
    return (workspace_id, other_id) if rel_type == "child" else (other_id, workspace_id)


def add_relation(state: OpenTextState, workspace: Node, fields: Mapping[str, Any]) -> None:
    raw = fields.get("rel_bw_id")
    if raw in (None, ""):
        raise ApiError(400, "Missing required parameter 'rel_bw_id'")
    try:
        other_id = int(raw)
    except (TypeError, ValueError):
        raise ApiError(400, "Invalid value for parameter 'rel_bw_id'.") from None
    other = state.workspace(other_id)
    if other.id == workspace.id:
        raise ApiError(400, "A business workspace cannot be related to itself.")
    edge = _edge(workspace.id, other.id, str(fields.get("rel_type") or "child"))
    if edge in state.relations:
        raise ApiError(400, f"The relationship between {workspace.id} and {other.id} already exists.")
    state.relations.add(edge)


def remove_relation(state: OpenTextState, workspace: Node, other_id: int, rel_type: str) -> None:
    edge = _edge(workspace.id, other_id, rel_type or "child")
    if edge not in state.relations:
        raise ApiError(404, f"The relationship between {workspace.id} and {other_id} does not exist.")
    state.relations.discard(edge)


def related(state: OpenTextState, workspace: Node, *, rel_types: list[str], type_ids: list[int],
            name: str | None) -> list[tuple[Node, str]]:
    """(related workspace, rel_type seen from ``workspace``) filtered like the real query parameters."""
    found: list[tuple[Node, str]] = []
    for parent_id, child_id in sorted(state.relations):
        if parent_id == workspace.id and child_id in state.nodes:
            found.append((state.nodes[child_id], "child"))
        elif child_id == workspace.id and parent_id in state.nodes:
            found.append((state.nodes[parent_id], "parent"))
    return [
        (n, rel) for n, rel in found
        if (not rel_types or rel in rel_types)
        and (not type_ids or n.wksp_type_id in type_ids)
        and (not name or n.name.casefold().startswith(name.casefold()))
    ]


# --- roles and members ------------------------------------------------------------------------


def roles_of(state: OpenTextState, workspace: Node) -> list[Role]:
    return sorted((r for r in state.roles.values() if r.workspace_id == workspace.id), key=lambda r: r.id)


def role(state: OpenTextState, workspace: Node, role_id: int) -> Role:
    found = state.roles.get(role_id)
    if found is None or found.workspace_id != workspace.id:
        raise ApiError(404, f"The role {role_id} could not be found in business workspace {workspace.id}.")
    return found


def add_member(state: OpenTextState, role_: Role, fields: Mapping[str, Any]) -> int:
    raw = fields.get("id")
    if raw in (None, ""):
        raise ApiError(400, "Missing required parameter 'id'")
    try:
        member_id = int(raw)
    except (TypeError, ValueError):
        raise ApiError(400, "Invalid value for parameter 'id'.") from None
    if state.username_for(member_id) is None:
        raise ApiError(400, f"The member {member_id} could not be found.")
    if member_id in role_.members:
        raise ApiError(400, f"The member {member_id} is already a member of the role '{role_.name}'.")
    role_.members.append(member_id)
    state.dirty.roles.add(role_.id)
    return member_id


def remove_member(state: OpenTextState, role_: Role, member_id: int) -> None:
    if member_id not in role_.members:
        raise ApiError(400, f"The member {member_id} is not a member of the role '{role_.name}'.")
    role_.members.remove(member_id)
    state.dirty.roles.add(role_.id)
