"""The categories of a template's create form as keys and types. Pure: no I/O, no aiohttp.

Operators write rules with the names they see in OpenText ("Customer" / "Account Number"); the
API wants ``{"23228": {"23228_2": value}}``. The create form of a template
(GET /api/v2/forms/businessworkspaces/create) carries both: ``schema.properties[cat_id].title``
and ``schema.properties[cat_id].properties[key].title``. Keys without a title (``{cat}_1``, which
holds the metadata token) are not attributes. A set is an ``array`` of row objects (or an
``object``) whose ``properties`` are its members, keyed ``{cat}_{set}_x_{attr}``: their titles
name them as well. :func:`parse_create_form` reads it into a :class:`CategoryKeyMap`, the key source
the request builders (:mod:`xstream.transform.opentext_requests`) turn a command's names into a
create with.

The form also types each attribute, the way the category metadata does for an update
(:mod:`.category_meta`): the schema's ``type`` (``string``, ``integer``, ``number``, ``boolean``;
``otcs_user_picker`` / ``otcs_member_picker`` for a user; ``array`` with ``items.type`` for a
multi-value attribute), ``maxLength`` for text, and for a date a ``string`` whose field options say
``date``. Every value of a create is checked against that type with the same
:func:`~.category_meta.value_problem` before the create is sent: a value the attribute cannot take
is a permanent MappingError ``wrong_type``, never a workspace created with it. Attributes the form
gives no type are not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xstream.clients.opentext.category_meta import type_label, value_problem
from xstream.transform.opentext_requests import AttributeKey, CategoryKeys, pick

USER_PICKERS = frozenset({"otcs_user_picker", "otcs_member_picker", "otcs_user"})
"""Schema types of a user attribute in OpenText's forms."""
DATE_FIELDS = frozenset({"date", "datetime"})
"""Field option types that make a ``string`` attribute a date (the schema says only ``string``)."""


@dataclass(frozen=True)
class FormAttribute:
    """An attribute's type as the create form gives it."""

    type: str | None = None
    """The schema ``type`` (for a multi-value attribute: its items' type); None when the form gives none."""
    multi_value: bool = False
    persona: str = ""
    """``user`` for a user picker."""
    max_length: int | None = None

    def problem(self, value: Any) -> str | None:
        """Why ``value`` cannot be this attribute's value; None when it can or nothing is known."""
        if self.type is None and not self.persona:
            return None
        return value_problem(self.type, value, multi_value=self.multi_value, persona=self.persona,
                             max_length=self.max_length)

    def describe(self) -> str:
        """The type as a refusal names it, e.g. ``otcs_user_picker (user)``."""
        return type_label(self.type, persona=self.persona, multi_value=self.multi_value)


@dataclass(frozen=True)
class CategoryKeyMap:
    """The categories of one template's create form: what a create's names resolve to."""

    categories: tuple[CategoryKeys, ...] = ()

    def category_keys(self, name: str) -> CategoryKeys:
        """By exact title, else by case-insensitive title, else by id; unknown or ambiguous -> MappingError."""
        return pick([(c.name, c) for c in self.categories], name, what="category", where="the template",
                    keys={c.id: c for c in self.categories})


def parse_create_form(form: Any) -> CategoryKeyMap:
    """Read the categories form out of a create-form response; tolerant of missing parts."""
    forms = form.get("forms") if isinstance(form, Mapping) else None
    categories: list[CategoryKeys] = []
    for entry in forms if isinstance(forms, list) else []:
        if not isinstance(entry, Mapping) or entry.get("role_name") != "categories":
            continue
        schema = entry.get("schema")
        props = schema.get("properties") if isinstance(schema, Mapping) else None
        option_fields = _mapping(_mapping(entry.get("options")).get("fields"))
        for cat_id, cat_schema in (props if isinstance(props, Mapping) else {}).items():
            if not isinstance(cat_schema, Mapping):
                continue
            attr_options = _mapping(_mapping(option_fields.get(cat_id)).get("fields"))
            attributes = tuple(_attribute(str(key), attr, _mapping(attr_options.get(key)))
                               for key, attr in _mapping(cat_schema.get("properties")).items()
                               if isinstance(attr, Mapping) and attr.get("title"))
            categories.append(CategoryKeys(str(cat_id), str(cat_schema.get("title") or cat_id), attributes,
                                           where="the template"))
    return CategoryKeyMap(tuple(categories))


def _attribute(key: str, schema: Mapping[str, Any], options: Mapping[str, Any]) -> AttributeKey:
    """One attribute of the form; a set (an ``array`` of row objects, or an ``object``) with its members."""
    kind = _text(schema.get("type"))
    items = _mapping(schema.get("items"))
    rows = kind == "array" and (isinstance(items.get("properties"), Mapping) or items.get("type") == "object")
    if kind == "object" or rows or isinstance(schema.get("properties"), Mapping):
        member_schemas = _mapping(items.get("properties") if rows else schema.get("properties"))
        members = tuple(AttributeKey(str(k), str(m.get("title") or k), _form_attribute(m, {}))
                        for k, m in member_schemas.items() if isinstance(m, Mapping))
        return AttributeKey(key, str(schema["title"]), members=members)
    return AttributeKey(key, str(schema["title"]), _form_attribute(schema, options))


def _form_attribute(schema: Mapping[str, Any], options: Mapping[str, Any]) -> FormAttribute:
    kind = _text(schema.get("type"))
    items = _mapping(schema.get("items"))
    multi_value = kind == "array"
    if multi_value:
        kind = _text(items.get("type"))
        schema, options = items, _mapping(_mapping(_mapping(options.get("fields")).get("item")))
    if kind is not None and kind.casefold() == "string" and _text(options.get("type")) in DATE_FIELDS:
        kind = "date"
    user = kind is not None and kind.casefold() in USER_PICKERS
    max_length = schema.get("maxLength", schema.get("max_length"))
    return FormAttribute(type=kind, multi_value=multi_value, persona="user" if user else "",
                         max_length=max_length if isinstance(max_length, int) and not isinstance(max_length, bool)
                         and max_length > 0 else None)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
