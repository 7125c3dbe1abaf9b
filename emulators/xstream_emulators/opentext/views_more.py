"""JSON shapes of the document, audit, workspace-team and paging answers. Pure (no aiohttp).

Versions follow pyxecm's captured answers (``results.data.versions`` one object per version) and
the spec's ``versions_VersionInfo`` (``version_major_number``/``minor`` beside pyxecm's
``version_number_major``/``minor``; ``locked`` 0/1 with ``locked_date`` and ``locked_user_id``;
no checksum, Content Server exposes none),
paging of node browsing and audit sits in ``collection.paging`` with ``collection.sorting``; roles
and members follow the Business Workspaces OpenAPI file (reference 6).
"""

from __future__ import annotations

import math
from typing import Any

from xstream_emulators.opentext.model import Node, Role, Version
from xstream_emulators.opentext.state import OpenTextState
from xstream_emulators.opentext.views import node_result


def version_json(node: Node, version: Version) -> dict[str, Any]:
    extension = version.file_name.rsplit(".", 1)[1].lower() if "." in version.file_name else ""
    name = str(version.number) if version.major == 0 else f"{version.major}.{version.minor}"
    return {
        "create_date": version.create_date, "description": version.description,
        "external_create_date": node.external.get("external_create_date"),
        "external_identity": node.external.get("external_identity", ""),
        "external_identity_type": node.external.get("external_identity_type", ""),
        "external_modify_date": node.external.get("external_modify_date"),
        "external_source": node.external.get("external_source", ""),
        "file_create_date": version.create_date, "file_modify_date": version.create_date,
        "file_name": version.file_name, "file_size": version.size, "file_type": extension,
        "has_generation": False, "id": node.id, "locked": int(version.locked), "locked_date": version.locked_date,
        "locked_user_id": version.locked_user_id,
        "mime_type": version.mime_type, "modify_date": version.create_date, "name": node.name,
        "owner_id": version.owner_id, "provider_id": version.id,
        "version_id": version.id, "version_number": version.number,
        "version_major_number": version.major, "version_minor_number": version.minor,
        "version_number_major": version.major, "version_number_minor": version.minor, "version_number_name": name,
    }


def collection_paging(page: int, limit: int, total: int) -> dict[str, Any]:
    first = (page - 1) * limit
    return {"page": page, "limit": limit, "page_total": math.ceil(total / limit) if total else 0,
            "range_min": min(first + 1, total), "range_max": min(first + limit, total), "total_count": total}


def sorting(value: str) -> dict[str, Any]:
    return {"sort": [{"key": "sort", "value": value}]}


def select_properties(result: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """Apply ``fields=properties{a,b}``: keep only those properties (other field groups are ignored)."""
    for spec in fields:
        if spec.startswith("properties{") and spec.endswith("}"):
            wanted = {f.strip() for f in spec[len("properties{"):-1].split(",") if f.strip()}
            props = result["data"]["properties"]
            result["data"]["properties"] = {k: v for k, v in props.items() if k in wanted}
    return result


def node_state(node: Node) -> dict[str, Any]:
    """``results.state`` of ``GET /v2/nodes/{id}?state``: the node's and each category's metadata token.
    (The exact nesting is not confirmed by a captured answer; the token is sent back as
    ``{"<cat>_1": {"metadata_token": …}}`` on PUT, mirrored here as ``{"<cat>": {"metadata_token": …}}``.)"""
    return {"properties": {"metadata_token": node.metadata_token},
            "categories": {str(c): {"metadata_token": t} for c, t in node.category_tokens.items()}}


def related_result(state: OpenTextState, node: Node, rel_type: str) -> dict[str, Any]:
    result = node_result(state, node)
    result["data"]["properties"]["rel_type"] = rel_type
    return result


def user_properties(state: OpenTextState, user_id: int) -> dict[str, Any]:
    name = state.username_for(user_id) or str(user_id)
    return {"id": user_id, "name": name, "display_name": name, "first_name": "", "last_name": "",
            "middle_name": "", "group_id": 1001, "group_name": "DefaultGroup", "type": 0, "type_name": "User",
            "initials": name[:1].upper(), "business_email": None, "deleted": False}


def role_result(role: Role) -> dict[str, Any]:
    return {"actions": {"data": {}, "map": {}, "order": []},
            "data": {"properties": {"id": role.id, "name": role.name, "description": role.description,
                                    "leader": role.leader, "perms": role.perms, "inherited_from_id": None}}}


def member_result(state: OpenTextState, user_id: int) -> dict[str, Any]:
    return {"data": {"properties": user_properties(state, user_id)}}


def team_result(state: OpenTextState, role: Role) -> dict[str, Any]:
    """One entry of GET /v2/businessworkspaces/{id}/members: the role and its members."""
    members = []
    for user_id in role.members:
        props = user_properties(state, user_id)
        members.append({"id": user_id, "name": props["name"], "name_formatted": props["display_name"],
                        "initials": props["initials"], "photo_id": 0, "photo_url": None, "type": 0,
                        "type_name": "User"})
    return {"actions": {"data": {}, "map": {}, "order": []},
            "data": {"properties": {"id": role.id, "name": role.name, "leader": role.leader, "type": 848,
                                    "type_formatted": "Role", "inherited_from_id": None},
                     "members": members}}
