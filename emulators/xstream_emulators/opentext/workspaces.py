"""Business workspaces: create, bulk create-or-update, search, business object references. Pure.

A business object (ext_system_id, bo_type, bo_id) links to at most one workspace; a workspace may
carry several (the first is shown as ``business_properties``). The bulk call
(``PUT /v2/businessworkspaces``, reference 2.4) matches entries by business object: present ->
update name/description/categories, absent -> create; ``parent_id`` is ignored there because
every seeded type has a fixed location. Each entry answers ``{"id", "error_message"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from xstream_emulators.opentext import categories as cats
from xstream_emulators.opentext import teams
from xstream_emulators.opentext.model import (
    AUDIT_ATTRIBUTE_CHANGED,
    AUDIT_RENAME,
    ENTERPRISE_VOLUME,
    FOLDER,
    MAX_NAME_LENGTH,
    WORKSPACE,
    ApiError,
    BusinessObject,
    Node,
    Template,
)
from xstream_emulators.opentext.nodes import int_field

if TYPE_CHECKING:
    from xstream_emulators.opentext.state import OpenTextState


def create_workspace(state: OpenTextState, username: str, fields: Mapping[str, Any], *,
                     bulk: bool = False) -> Node:
    """POST /v2/businessworkspaces with the fields already decoded from any encoding."""
    template = _template_for(state, fields)
    wtype = state.types[template.type_id]
    name = _name(fields)
    parent_id = None if bulk and wtype.location_id is not None else int_field(fields, "parent_id")
    if parent_id is None:
        parent_id = wtype.location_id
    if parent_id is None:
        raise ApiError(400, "The parameter parent_id is required for this workspace type.")
    parent = state.node(parent_id)
    if parent.type not in (FOLDER, ENTERPRISE_VOLUME, WORKSPACE) or parent.id in state.templates:
        raise ApiError(400, f"Node {parent_id} cannot contain a business workspace.")
    bo = business_object(fields)
    categories = _categories_for(state, template, fields.get("roles"))
    if bo is not None and bo in state.bo_index:
        # The reference leaves this unconfirmed (docs/opentext-api.md section 8). We answer 400
        # with an error message: a client must look the workspace up again, never get a duplicate.
        raise ApiError(
            400,
            f"The business object {bo.ext_system_id}/{bo.bo_type}/{bo.bo_id} is already "
            f"linked to business workspace {state.bo_index[bo]}.",
        )
    node = state.add_node(
        name, WORKSPACE, parent_id, state.user_id(username),
        description=str(fields.get("description") or ""),
        wksp_type_id=wtype.id,
        template_id=template.id,
        categories=categories,
        business_objects=[bo] if bo else [],
    )
    node.category_tokens = {cat_id: cats.new_token() for cat_id in categories}
    if bo is not None:
        state.bo_index[bo] = node.id
    teams.create_roles(state, node)
    state.touch_recent(username, node.id)
    return node


def _name(fields: Mapping[str, Any]) -> str:
    name = str(fields.get("name") or "").strip()
    if not name:
        raise ApiError(400, "The workspace name is required: this workspace type has no naming rule.")
    if len(name) > MAX_NAME_LENGTH:
        raise ApiError(400, f"The name must not be longer than {MAX_NAME_LENGTH} characters.")
    return name


def _template_for(state: OpenTextState, fields: Mapping[str, Any]) -> Template:
    template_id = int_field(fields, "template_id")
    type_id = int_field(fields, "wksp_type_id")
    if template_id is not None:
        template = state.templates.get(template_id)
        if template is None:
            raise ApiError(404, f"The workspace template {template_id} could not be found.")
        if type_id is not None and type_id != template.type_id:
            raise ApiError(400, f"The template {template_id} does not belong to workspace type {type_id}.")
        return template
    if type_id is None:
        raise ApiError(400, "Either template_id or wksp_type_id must be provided.")
    wtype = state.types.get(type_id)
    if wtype is None or not wtype.template_ids:
        raise ApiError(404, f"The workspace type {type_id} could not be found.")
    return state.templates[wtype.template_ids[0]]


def _nested_categories(template: Template, roles: Any) -> dict[int, dict[str, Any]]:
    """``roles.categories`` of a workspace: ``{cat_id: {key: value}}``, only the template's categories."""
    if roles is None:
        return {}
    given = roles.get("categories", {}) if isinstance(roles, dict) else None
    if not isinstance(given, dict):
        raise ApiError(400, "Invalid value for parameter 'roles': expected {\"categories\": {...}}.")
    nested: dict[int, dict[str, Any]] = {}
    for raw_cat, attrs in given.items():
        cat_id = int(raw_cat) if str(raw_cat).isdigit() else -1
        if cat_id not in template.category_ids:
            raise ApiError(400, f"Category ID '{raw_cat}' is not a category of template {template.id}.")
        if not isinstance(attrs, dict):
            raise ApiError(400, f"The values of category {raw_cat} must be an object.")
        nested[cat_id] = attrs
    return nested


def _categories_for(state: OpenTextState, template: Template, roles: Any) -> dict[int, dict[str, Any]]:
    values = {c: cats.default_values(state.categories[c]) for c in template.category_ids}
    for cat_id, attrs in _nested_categories(template, roles).items():
        values[cat_id] = _merge_create(state, cat_id, values[cat_id], attrs)
    return values


def _merge_create(state: OpenTextState, cat_id: int, values: dict[str, Any], attrs: Mapping[str, Any]) -> dict[str, Any]:
    return cats.merge(state.categories[cat_id], values, attrs, action="Create")


def business_object(fields: Mapping[str, Any]) -> BusinessObject | None:
    parts = {k: fields.get(k) for k in ("ext_system_id", "bo_type", "bo_id")}
    present = {k: str(v) for k, v in parts.items() if v not in (None, "")}
    if not present:
        return None
    if len(present) < 3:
        missing = sorted(set(parts) - set(present))
        raise ApiError(400, f"A business object needs ext_system_id, bo_type and bo_id; missing {missing}.")
    return BusinessObject(present["ext_system_id"], present["bo_type"], present["bo_id"])


def search(
    state: OpenTextState,
    username: str,
    *,
    expanded: bool,
    bo: Mapping[str, str | None] | None = None,
    type_id: int | None = None,
    name: str | None = None,
) -> list[Node]:
    """The expanded view searches every workspace; the collapsed one only the user's recent list."""
    if expanded:
        candidates = sorted(state.workspaces(), key=lambda n: (n.name.casefold(), n.id))
    else:
        candidates = [state.nodes[i] for i in state.recent.get(username, []) if i in state.nodes]
    wanted = {k: v for k, v in (bo or {}).items() if v is not None}
    return [
        n for n in candidates
        if (type_id is None or n.wksp_type_id == type_id)
        and (name is None or _name_matches(n.name, name))
        and (not wanted or any(all(getattr(b, k) == v for k, v in wanted.items()) for b in n.business_objects))
    ]


def _name_matches(name: str, wanted: str) -> bool:
    if wanted.startswith("contains_"):
        return wanted.removeprefix("contains_").casefold() in name.casefold()
    if wanted.startswith("startswith_"):
        return name.casefold().startswith(wanted.removeprefix("startswith_").casefold())
    return name == wanted


# --- bulk create-or-update ----------------------------------------------------------------------


def bulk(state: OpenTextState, username: str, fields: Mapping[str, Any]) -> list[dict[str, Any]]:
    """PUT /v2/businessworkspaces: one ``{"id", "error_message"}`` per ``bws_infos`` entry, in order."""
    infos = fields.get("bws_infos")
    if infos is None or infos == "":
        raise ApiError(400, "Missing required parameter 'bws_infos'")
    if isinstance(infos, str):  # sent as a flat form field holding JSON
        try:
            infos = orjson.loads(infos)
        except orjson.JSONDecodeError:
            raise ApiError(400, "Invalid JSON in parameter 'bws_infos'.") from None
    if not isinstance(infos, list) or not all(isinstance(i, dict) for i in infos):
        raise ApiError(400, "Invalid value for parameter 'bws_infos': expected a list of objects.")
    results: list[dict[str, Any]] = []
    for info in infos:
        try:
            bo = business_object(info)
            existing = state.bo_index.get(bo) if bo is not None else None
            node = (_update_existing(state, username, state.nodes[existing], info) if existing is not None
                    else create_workspace(state, username, info, bulk=True))
            results.append({"id": node.id, "error_message": ""})
        except ApiError as exc:
            results.append({"id": None, "error_message": exc.message})
    return results


def _update_existing(state: OpenTextState, username: str, node: Node, info: Mapping[str, Any]) -> Node:
    template = state.templates[node.template_id or 0]
    user_id = state.user_id(username)
    name = _name(info) if info.get("name") not in (None, "") else node.name
    nested = _nested_categories(template, info.get("roles"))
    merged = {c: _merge_create(state, c, node.categories.get(c, {}), attrs) for c, attrs in nested.items()}
    if name != node.name and name in state.children.get(node.parent_id, {}):
        raise ApiError(500, f"An item with the name '{name}' already exists.")
    changed_values = {c: v for c, v in merged.items() if v != node.categories.get(c)}
    renamed = name != node.name
    description = info.get("description")
    redescribed = description is not None and str(description) != node.description
    if not (changed_values or renamed or redescribed):
        return node
    if renamed:
        del state.children[node.parent_id][node.name]
        state.children.setdefault(node.parent_id, {})[name] = node.id
        node.name = name
    if redescribed:
        node.description = str(description)
    for cat_id, values in changed_values.items():
        node.categories[cat_id] = values
        node.category_tokens[cat_id] = cats.new_token()
    state.touch(node, user_id)
    if renamed:
        state.record(node.id, AUDIT_RENAME, user_id)
    if changed_values:
        state.record(node.id, AUDIT_ATTRIBUTE_CHANGED, user_id)
    return node


# --- business object references -----------------------------------------------------------------


def link(state: OpenTextState, workspace: Node, fields: Mapping[str, Any]) -> None:
    """PUT …/workspacereferences: attach a further business object (idempotent for the same one)."""
    bo = _required_bo(fields)
    owner = state.bo_index.get(bo)
    if owner == workspace.id:
        return
    if owner is not None:
        raise ApiError(400, f"The business object {bo.ext_system_id}/{bo.bo_type}/{bo.bo_id} is already "
                            f"linked to business workspace {owner}.")
    workspace.business_objects.append(bo)
    state.bo_index[bo] = workspace.id
    state.changed(workspace.id)


def unlink(state: OpenTextState, workspace: Node, fields: Mapping[str, Any]) -> None:
    """DELETE …/workspacereferences with the same fields: detach that business object."""
    bo = _required_bo(fields)
    if bo not in workspace.business_objects:
        raise ApiError(400, f"The business object {bo.ext_system_id}/{bo.bo_type}/{bo.bo_id} is not "
                            f"linked to business workspace {workspace.id}.")
    workspace.business_objects.remove(bo)
    state.bo_index.pop(bo, None)
    state.changed(workspace.id)


def _required_bo(fields: Mapping[str, Any]) -> BusinessObject:
    bo = business_object(fields)
    if bo is None:
        raise ApiError(400, "Missing required parameters 'ext_system_id', 'bo_type' and 'bo_id'")
    return bo
