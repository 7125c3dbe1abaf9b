"""JSON shapes of the Content Server REST answers, built from state. Pure (no aiohttp).

The shapes follow the official OpenAPI files and pyxecm's captured examples
(docs: reference/opentext-api.md sections 2-4): v2 envelopes ``{"links", "results"}``, workspace
lists with top-level ``paging``, categories with ``metadata``/``metadata_map``/``metadata_order``.
"""

from __future__ import annotations

import math
from typing import Any

from xstream.emulators.opentext.state import (
    CATEGORY,
    FOLDER,
    MAX_NAME_LENGTH,
    WORKSPACE,
    CategoryDef,
    Node,
    OpenTextState,
    Template,
)

CONTAINER_TYPES = frozenset({FOLDER, 132, 141, WORKSPACE})
TYPE_NAMES_FOR_METADATA = {"string": "String", "integer": "Integer", "boolean": "Boolean", "date": "Date"}
WKSP_INFO = {"wksp_type_icon": "/appimg/ot_bws/icons/16634.svg"}


def links(href: str, method: str = "GET") -> dict[str, Any]:
    return {"data": {"self": {"body": "", "content_type": "", "href": href, "method": method, "name": ""}}}


def node_properties(state: OpenTextState, node: Node) -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": node.id,
        "parent_id": node.parent_id,
        "name": node.name,
        "type": node.type,
        "type_name": node.type_name,
        "description": node.description,
        "create_date": node.create_date,
        "modify_date": node.create_date,
        "create_user_id": node.create_user_id,
        "modify_user_id": node.create_user_id,
        "owner_user_id": node.create_user_id,
        "container": node.type in CONTAINER_TYPES,
        "container_size": len(state.children.get(node.id, {})),
        "size": len(state.children.get(node.id, {})),
        "mime_type": None,
        "reserved": False,
        "reserved_user_id": 0,
        "reserved_date": None,
        "status": None,
        "volume_id": -2000,
        "external_create_date": None,
        "external_modify_date": None,
        "external_source": "",
        "external_identity": "",
        "external_identity_type": "",
    }
    if node.type == WORKSPACE and node.wksp_type_id is not None:
        props["wnf_wksp_type_id"] = node.wksp_type_id
        props["wnf_wksp_template_id"] = node.template_id
        props["wksp_type_name"] = state.types[node.wksp_type_id].name
    return props


def node_result(state: OpenTextState, node: Node) -> dict[str, Any]:
    return {
        "actions": {"data": {"open": {"href": f"/api/v2/nodes/{node.id}/nodes", "method": "GET"}},
                    "map": {}, "order": []},
        "data": {"properties": node_properties(state, node)},
    }


def workspace_detail(state: OpenTextState, node: Node) -> dict[str, Any]:
    """``results`` of GET /v2/businessworkspaces/{id}: properties, first BO, all BOs, categories."""
    wtype = state.types[node.wksp_type_id or 0]
    references = [
        {"business_object_id": b.bo_id, "business_object_type": b.bo_type, "ext_system_id": b.ext_system_id,
         "ext_system_name": b.ext_system_id, "has_default_display": True, "has_default_search": True}
        for b in node.business_objects
    ]
    business: dict[str, Any] = {
        "has_default_display": bool(references),
        "has_default_search": bool(references),
        "isEarly": not references,
        "workspace_type_id": wtype.id,
        "workspace_type_name": wtype.name,
        "workspace_type_name_multilingual": {"en": wtype.name},
    }
    if node.business_objects:
        first = node.business_objects[0]
        business |= {"business_object_id": first.bo_id, "business_object_type": first.bo_type,
                     "external_system_id": first.ext_system_id, "external_system_name": first.ext_system_id}
    result = node_result(state, node)
    result["data"] |= {
        "business_properties": business,
        "categories": [dict(values) for values in node.categories.values()],
        "workspace_references": references,
        "wksp_info": WKSP_INFO,
    }
    return result


def category_result(category: CategoryDef, values: dict[str, Any]) -> dict[str, Any]:
    """One entry of GET /v2/nodes/{id}/categories: flat values plus the metadata that names them."""
    cat = str(category.id)
    metadata: dict[str, Any] = {cat: {"key": cat, "name": category.name, "persona": "category",
                                      "type": CATEGORY, "type_name": "Category"}}
    for attr in category.attributes:
        metadata[attr.key] = {"key": attr.key, "name": attr.title, "persona": "",
                              "type_name": TYPE_NAMES_FOR_METADATA.get(attr.type, "String"),
                              "multi_value": False, "required": False, "hidden": False, "read_only": False}
    return {
        "data": {"categories": dict(values)},
        "metadata": {"categories": metadata},
        "metadata_map": {"categories": {cat: category.keys()}},
        "metadata_order": {"categories": [cat]},
    }


def workspace_type_result(state: OpenTextState, type_id: int, *, expand_templates: bool) -> dict[str, Any]:
    wtype = state.types[type_id]
    props: dict[str, Any] = {
        "wksp_type_id": wtype.id,
        "wksp_type_name": wtype.name,
        "wksp_type_names": {"en": wtype.name},
        "rm_enabled": False,
        "wksp_creation_enabled": True,
        "wksp_creation": (
            {"location": "StaticNodeId", "location_value": str(wtype.location_id)}
            if wtype.location_id is not None else {"location": "CurrentLocation", "location_value": ""}
        ),
    }
    if expand_templates:
        props["templates"] = [{"id": t, "name": state.templates[t].name, "subtype": WORKSPACE}
                              for t in wtype.template_ids]
    return {"data": {"properties": props,
                     "wksp_info": {"in_use": True, "perspective_folder_id": None, **WKSP_INFO}}}


def create_form(state: OpenTextState, template: Template, parent_id: int | None) -> dict[str, Any]:
    """GET /v2/forms/businessworkspaces/create: the general form and the categories form."""
    general = {
        "data": {"name": "", "description": "", "type": WORKSPACE, "parent_id": parent_id,
                 "template_id": template.id, "wksp_type_id": template.type_id},
        "options": {"fields": {"name": {"label": "Name"}, "description": {"label": "Description"}}},
        "schema": {"type": "object", "properties": {
            "name": {"title": "Name", "type": "string", "maxLength": MAX_NAME_LENGTH},
            "description": {"title": "Description", "type": "string"},
            "type": {"type": "integer"}, "parent_id": {"type": "integer"},
            "template_id": {"type": "integer"}, "wksp_type_id": {"type": "integer"}}},
    }
    data: dict[str, Any] = {}
    schema: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for cat_id in template.category_ids:
        category = state.categories[cat_id]
        cat = str(cat_id)
        data[cat] = {f"{cat}_1": {"metadata_token": ""}} | dict.fromkeys(category.keys())
        props: dict[str, Any] = {f"{cat}_1": {"type": "object", "readonly": True}}
        for attr in category.attributes:
            props[attr.key] = {"title": attr.title, "type": attr.type, "readonly": False, "required": False}
        schema[cat] = {"title": category.name, "type": "object", "properties": props}
        options[cat] = {"fields": {a.key: {"label": a.title, "type": "text"} for a in category.attributes}}
    categories = {"role_name": "categories", "data": data, "options": {"fields": options},
                  "schema": {"type": "object", "properties": schema}}
    return {"forms": [general, categories]}


def paging(page: int, limit: int, total: int, next_href: str | None) -> dict[str, Any]:
    first = (page - 1) * limit
    return {
        "limit": limit,
        "page": page,
        "page_total": math.ceil(total / limit),
        "range_min": min(first + 1, total),
        "range_max": min(first + limit, total),
        "total_count": total,
        "actions": {"next": {"href": next_href, "method": "GET", "name": "Next"} if next_href else None},
    }
