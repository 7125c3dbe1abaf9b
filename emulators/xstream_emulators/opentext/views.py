"""JSON shapes of the Content Server REST answers, built from state. Pure (no aiohttp).

The shapes follow the official OpenAPI files and pyxecm's captured examples
(docs: reference/opentext-api.md sections 2-4): v2 envelopes ``{"links", "results"}``, workspace
lists with top-level ``paging``, categories with ``metadata``/``metadata_map``/``metadata_order``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from xstream_emulators.opentext import nodes as node_rules
from xstream_emulators.opentext.model import (
    CATEGORY,
    MAX_NAME_LENGTH,
    WORKSPACE,
    Attribute,
    CategoryDef,
    Node,
    Template,
)
from xstream_emulators.opentext.state import OpenTextState

TYPE_NAMES_FOR_METADATA = {"string": "String", "integer": "Integer", "boolean": "Boolean", "date": "Date"}
WKSP_INFO = {"wksp_type_icon": "/appimg/ot_bws/icons/16634.svg"}


def node_properties(state: OpenTextState, node: Node) -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": node.id,
        "parent_id": node.parent_id,
        "name": node.name,
        "type": node.type,
        "type_name": node.type_name,
        "description": node.description,
        "create_date": node.create_date,
        "modify_date": node.modify_date,
        "create_user_id": node.create_user_id,
        "modify_user_id": node.modify_user_id,
        "owner_user_id": node.create_user_id,
        "container": node.is_container,
        "container_size": len(state.children.get(node.id, {})) if node.is_container else 0,
        "size": node_rules.size(state, node),
        "mime_type": node.latest.mime_type if node.latest else None,
        "original_id": node.original_id,
        "reserved": bool(node.reserved_user_id),
        "reserved_user_id": node.reserved_user_id,
        "reserved_date": node.reserved_date,
        "status": None,
        "volume_id": -2000,
        "external_create_date": node.external.get("external_create_date"),
        "external_modify_date": node.external.get("external_modify_date"),
        "external_source": node.external.get("external_source", ""),
        "external_identity": node.external.get("external_identity", ""),
        "external_identity_type": node.external.get("external_identity_type", ""),
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
        metadata[attr.key] = _attribute_metadata(attr.key, attr)
        if attr.is_set:  # pyxecm reads sets this way: persona "set", members keyed {cat}_{set}_x_{attr}
            metadata[attr.key] |= {"persona": "set", "type_name": "Assoc", "multi_value": True,
                                   "multi_value_length_default": 1, "multi_value_length_max": attr.max_rows}
            for sub in attr.set_attributes:
                metadata[sub.key] = _attribute_metadata(sub.key, sub)
    return {
        "data": {"categories": dict(values)},
        "metadata": {"categories": metadata},
        "metadata_map": {"categories": {cat: category.keys()}},
        "metadata_order": {"categories": [cat]},
    }


def _attribute_metadata(key: str, attr: Attribute) -> dict[str, Any]:
    return {"key": key, "name": attr.title, "persona": "", "type_name": TYPE_NAMES_FOR_METADATA.get(attr.type, "String"),
            "multi_value": False, "multi_value_length_default": 1, "multi_value_length_max": 1,
            "required": False, "hidden": False, "read_only": False}


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
    return {"forms": [general, categories_form(state, template.category_ids)]}


def categories_form(state: OpenTextState, category_ids: Iterable[int]) -> dict[str, Any]:
    """The ``categories`` form of a create form: per category its keys, titles and types."""
    data: dict[str, Any] = {}
    schema: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for cat_id in category_ids:
        category = state.categories[cat_id]
        cat = str(cat_id)
        data[cat] = {f"{cat}_1": {"metadata_token": ""}}
        props: dict[str, Any] = {f"{cat}_1": {"type": "object", "readonly": True}}
        for attr in category.attributes:
            if attr.is_set:  # multi-row set: rows use the x placeholder (reference 2.2)
                data[cat][attr.key] = [dict.fromkeys(s.key for s in attr.set_attributes)]
                props[attr.key] = {"title": attr.title, "type": "array", "readonly": False, "required": False,
                                   "items": {"type": "object", "maxItems": attr.max_rows, "properties": {
                                       s.key: {"title": s.title, "type": s.type, "readonly": False, "required": False}
                                       for s in attr.set_attributes}}}
            else:
                data[cat][attr.key] = None
                props[attr.key] = {"title": attr.title, "type": attr.type, "readonly": False, "required": False}
        schema[cat] = {"title": category.name, "type": "object", "properties": props}
        options[cat] = {"fields": {a.key: {"label": a.title, "type": "array" if a.is_set else "text"}
                                   for a in category.attributes}}
    return {"role_name": "categories", "data": data, "options": {"fields": options},
            "schema": {"type": "object", "properties": schema}}


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
