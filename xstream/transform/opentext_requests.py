"""The OpenText requests a workspace command becomes: one definition for the sink and the dry-run. Pure.

- lookup: ``GET /api/v2/businessworkspaces`` with :func:`lookup_params` (the business object, all
  workspaces, expanded view);
- create: ``POST /api/v2/businessworkspaces``, the form field ``body`` holding
  :meth:`WorkspaceCreateRequest.to_body` (:func:`create_request`, categories by :func:`create_categories`);
- category update: ``PUT /api/v2/nodes/{id}/categories/{cat_id}``, ``body`` holding :func:`put_body`.

Commands name workspace types, templates, categories and attributes; OpenText wants ids and keys.
Where they come from differs: the sink reads them from the server (the workspace types, the
template's create form, the node's category metadata), ``xstream mapping dry-run`` from its catalog.
What is built from them is defined here once, so the dry-run prints the bytes the sink sends, and
every name is looked up the same way (:func:`pick`: exact, then ignoring case, then as a key).

Set attributes hold rows of member attributes. A create sends a set the way the create form shows
it, the set's key with its rows keyed by *member key* (``{"2006_7": [{"2006_7_x_8": "Ada"}]}``); a
PUT sends each member of each row as ``{cat}_{set}_{row}_{attr}`` (``2006_7_1_8``) and empties the
rows the node holds beyond a list. Members are named like attributes, by the names people see.
Where the source knows an attribute's type (the form, the node's metadata), every value is checked
against it before any request is built: a value the attribute cannot take is ``wrong_type``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from xstream.errors import DeadLetterReason, MappingError
from xstream.model.business import BusinessObject
from xstream.model.commands import EnsureWorkspace, UpdateWorkspace

WORKSPACES = "/api/v2/businessworkspaces"
T = TypeVar("T")


def pick(named: Iterable[tuple[str, T]], name: str, *, what: str, where: str,
         keys: Mapping[str, T] | None = None) -> T:
    """The one item called ``name``: by exact name, else by name ignoring case and surrounding blanks,
    else by its key or id (``keys``). Unknown or ambiguous is a MappingError ``mapping_failed`` that says
    what ``where`` (the catalog, OpenText, the template) has, so the operator sees what would have worked."""
    pairs = list(named)
    matches = [item for n, item in pairs if n == name] or [
        item for n, item in pairs if n.casefold() == name.strip().casefold()]
    if len(matches) == 1:
        return matches[0]
    if not matches and keys is not None and name.strip() in keys:
        return keys[name.strip()]
    problem = "ambiguous" if matches else "unknown"
    raise MappingError(DeadLetterReason.MAPPING_FAILED,
                       f"{problem} {what} {name!r}; {where} has {sorted({n for n, _ in pairs})}")


def pick_template(templates: Sequence[tuple[str, int]], wanted: str | None, *, type_name: str, where: str) -> int:
    """The template a command names (name, id pairs of its workspace type); none named: the type's first."""
    if wanted is not None:
        return pick(templates, wanted, what=f"template of workspace type {type_name!r}:", where=where)
    if not templates:
        raise MappingError(DeadLetterReason.MAPPING_FAILED, f"workspace type {type_name!r} has no template in {where}")
    return templates[0][1]


class ValueCheck(Protocol):
    """An attribute's type as OpenText describes it (the create form, a node's category metadata)."""

    def problem(self, value: Any) -> str | None:
        """Why ``value`` cannot be a value of the attribute; None when it can (or nothing is known)."""

    def describe(self) -> str:
        """The type as a refusal names it, e.g. ``Integer, multi-value``."""


@dataclass(frozen=True)
class AttributeKey:
    """One attribute of a category: its name, its key and, where the source knows it, its type."""

    key: str
    """``{cat}_{attr}``; a set member ``{cat}_{set}_x_{attr}`` (or with a row number, as the form has it)."""
    name: str
    check: ValueCheck | None = None
    """None: the source gives no type; the value is sent unchecked."""
    members: tuple[AttributeKey, ...] | None = None
    """A set: the attributes of its rows; None for any other attribute."""


@dataclass(frozen=True)
class CategoryKeys:
    """A category as one source names it: what the request builders turn names into."""

    id: str
    name: str
    attributes: tuple[AttributeKey, ...] = ()
    where: str = "OpenText"
    """Who gave the keys (``the template``, ``the node``, ``the catalog``): refusals say what it has."""
    rows: Mapping[str, int] = field(default_factory=dict)
    """Set key -> rows the node holds now, so a PUT with fewer rows empties the rest (known to the sink only)."""

    def attribute(self, name: str) -> AttributeKey:
        """An attribute by name (or key); MappingError naming the category and what it has."""
        return pick([(a.name, a) for a in self.attributes], name, what=f"attribute of category {self.name!r}:",
                    where=self.where, keys={a.key: a for a in self.attributes})

    def member(self, set_attribute: AttributeKey, name: str) -> AttributeKey:
        """A member attribute of a set by name (or key); MappingError naming the set."""
        members = set_attribute.members or ()
        return pick([(m.name, m) for m in members], name, what=f"attribute of set {set_attribute.name!r}:",
                    where=self.where, keys={m.key: m for m in members})


class KeySource(Protocol):
    """Category names -> keys: the template's create form (the sink) or the catalog (a dry-run)."""

    def category_keys(self, name: str) -> CategoryKeys:
        """The category called ``name``; MappingError when the source has no such category."""


def lookup_params(bo: BusinessObject) -> dict[str, str]:
    """The query that finds a business object's workspace among all workspaces (expanded view)."""
    return {"where_ext_system_id": bo.ext_system_id, "where_bo_type": bo.bo_type, "where_bo_id": bo.bo_id,
            "expanded_view": "true", "page": "1", "limit": "10"}


class WorkspaceCreateRequest(BaseModel):
    """A workspace to create: what POST /api/v2/businessworkspaces carries, with ids and keys resolved."""

    model_config = ConfigDict(frozen=True)

    template_id: int
    wksp_type_id: int
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    parent_id: int | str | None = None
    """None: the server uses the workspace type's fixed location. A dry-run shows a folder it cannot
    resolve without the server as the text ``{parent_id}``."""
    description: str = ""
    business_object: BusinessObject
    categories: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """``{cat_id: {"{cat_id}_{attr_id}": value}}``, e.g. from :func:`create_categories`."""

    def to_body(self) -> dict[str, Any]:
        """The JSON of the ``body`` form field of POST /api/v2/businessworkspaces (and of a bulk upsert entry)."""
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


def create_request(command: EnsureWorkspace | UpdateWorkspace, *, type_id: int, template_id: int,
                   categories: dict[str, dict[str, Any]], folder_id: int | str | None = None) -> WorkspaceCreateRequest:
    """The workspace a command creates, from the ids its names resolved to: ``categories`` from
    :func:`create_categories`, ``folder_id`` the folder its ``parent_path`` resolved to (the command's
    own ``parent_id`` wins). A name OpenText cannot take (blank) is a pydantic ValidationError."""
    return WorkspaceCreateRequest(
        template_id=template_id,
        wksp_type_id=type_id,
        name=command.name,
        parent_id=command.parent_id if command.parent_id is not None else folder_id,
        description=command.description,
        business_object=command.business_object,
        categories=categories,
    )


def create_categories(source: KeySource, values_by_name: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{"Customer": {"Account Number": "A1", "Contacts": [{"Name": "Ada"}]}}`` ->
    ``{"2006": {"2006_2": "A1", "2006_7": [{"2006_7_x_8": "Ada"}]}}``: the ``roles.categories`` of a create.

    A set keeps its shape (a list of rows, or one row as an object) with its members keyed by key.
    Every value is checked against its attribute's type before anything is returned."""
    resolved: dict[str, dict[str, Any]] = {}
    for category_name, values in values_by_name.items():
        category = source.category_keys(category_name)
        for name, value in values.items():
            attribute = category.attribute(name)
            if attribute.members is None:
                keyed: Any = _checked(category, attribute, value)
            else:
                keyed = [{member.key: _checked(category, member, v, within=f"{attribute.name}[{number}].")
                          for member, v in _members(category, attribute, row)}
                         for number, row in enumerate(_rows(category, attribute, value), start=1)]
                keyed = keyed[0] if isinstance(value, Mapping) else keyed
            resolved.setdefault(category.id, {})[attribute.key] = keyed
    return resolved


def put_body(category: CategoryKeys, values: Mapping[str, Any]) -> dict[str, Any]:
    """Attribute names -> the flat ``{key: value}`` body of a PUT on this category: only its keys.

    A list for a set replaces its rows (members of rows the node holds beyond the list are emptied,
    ``None``); an object for a set fills its first row. Every value is checked first."""
    body: dict[str, Any] = {}
    for name, value in values.items():
        attribute = category.attribute(name)
        if attribute.members is None:
            body[attribute.key] = _checked(category, attribute, value)
            continue
        rows = _rows(category, attribute, value)
        for number, row in enumerate(rows, start=1):
            for member, member_value in _members(category, attribute, row):
                body[row_key(attribute.key, number, member.key)] = _checked(
                    category, member, member_value, within=f"{attribute.name}[{number}].")
        if not isinstance(value, Mapping):
            for number in range(len(rows) + 1, category.rows.get(attribute.key, 0) + 1):
                body |= {row_key(attribute.key, number, member.key): None for member in attribute.members}
    return body


def row_key(set_key: str, row: int, member_key: str) -> str:
    """The key of one member in one row of a set: ``("2006_7", 2, "2006_7_x_8")`` -> ``2006_7_2_8``."""
    return f"{set_key}_{row}_{member_key.rsplit('_', 1)[-1]}"


def _rows(category: CategoryKeys, attribute: AttributeKey, value: Any) -> list[Mapping[str, Any]]:
    rows = [value] if isinstance(value, Mapping) else value
    if not isinstance(rows, list | tuple) or not all(isinstance(r, Mapping) for r in rows):
        raise MappingError(DeadLetterReason.MAPPING_FAILED,
                           f"set {attribute.name!r} of category {category.name!r} takes a list of rows "
                           f"(objects by attribute name), got {type(value).__name__}")
    return list(rows)


def _members(category: CategoryKeys, attribute: AttributeKey,
             row: Mapping[str, Any]) -> list[tuple[AttributeKey, Any]]:
    return [(category.member(attribute, str(name)), value) for name, value in row.items()]


def _checked(category: CategoryKeys, attribute: AttributeKey, value: Any, *, within: str = "") -> Any:
    problem = attribute.check.problem(value) if attribute.check is not None else None
    if attribute.check is not None and problem is not None:
        raise MappingError(DeadLetterReason.WRONG_TYPE,
                           f"OpenText says {category.name}.{within}{attribute.name} ({attribute.key}) is "
                           f"{attribute.check.describe()}: it cannot take {problem}")
    return value
