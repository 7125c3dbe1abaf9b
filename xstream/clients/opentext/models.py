"""Typed values the OpenText client takes and returns; pure pydantic, no I/O."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class BusinessObjectRef(_Frozen):
    """The ERP/CRM record a workspace belongs to; OpenText links at most one workspace to it."""

    ext_system_id: NonEmpty
    bo_type: NonEmpty
    bo_id: NonEmpty


class Template(_Frozen):
    id: int
    name: str


class WorkspaceType(_Frozen):
    id: int
    name: str
    templates: list[Template] = Field(default_factory=list)
    location_id: int | None = None
    """The fixed creation folder, or None when the type creates in the "current location"."""


class WorkspaceRef(_Frozen):
    node_id: int
    name: str
    parent_id: int | None = None
    type_id: int | None = None


class WorkspaceCreateRequest(_Frozen):
    template_id: int
    wksp_type_id: int
    name: NonEmpty
    parent_id: int | None = None
    """None: the server uses the workspace type's fixed location."""
    description: str = ""
    business_object: BusinessObjectRef
    categories: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """``{cat_id: {"{cat_id}_{attr_id}": value}}``, e.g. from :func:`forms.resolve_categories`."""

    def to_body(self) -> dict[str, Any]:
        """The JSON of the ``body`` form field of POST /api/v2/businessworkspaces."""
        body: dict[str, Any] = {
            "template_id": self.template_id,
            "wksp_type_id": self.wksp_type_id,
            "name": self.name,
            "description": self.description,
            "ext_system_id": self.business_object.ext_system_id,
            "bo_type": self.business_object.bo_type,
            "bo_id": self.business_object.bo_id,
        }
        if self.parent_id is not None:
            body["parent_id"] = self.parent_id
        if self.categories:
            body["roles"] = {"categories": self.categories}
        return body


class EnsureResult(_Frozen):
    node_id: int
    created: bool
    """False when the workspace already existed (found before or after a failed create)."""


class Node(_Frozen):
    """The properties of a Content Server node that callers use; the rest stays in ``properties``."""

    id: int
    name: str
    parent_id: int | None = None
    type: int
    type_name: str | None = None
    description: str = ""
    create_date: str | None = None
    modify_date: str | None = None
    workspace_type_id: int | None = None
    workspace_template_id: int | None = None
    properties: dict[str, Any] = Field(default_factory=dict, repr=False)

    @classmethod
    def from_properties(cls, props: dict[str, Any]) -> Node:
        return cls(
            id=props["id"],
            name=props["name"],
            parent_id=props.get("parent_id"),
            type=props["type"],
            type_name=props.get("type_name"),
            description=props.get("description") or "",
            create_date=props.get("create_date"),
            modify_date=props.get("modify_date"),
            workspace_type_id=props.get("wnf_wksp_type_id"),
            workspace_template_id=props.get("wnf_wksp_template_id"),
            properties=props,
        )
