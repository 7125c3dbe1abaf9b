"""Category names -> attribute keys and types, from the workspace create form. Pure: no I/O, no aiohttp.

Operators write rules with the names they see in OpenText ("Customer" / "Account Number"); the
API wants ``{"23228": {"23228_2": value}}``. The create form of a template
(GET /api/v2/forms/businessworkspaces/create) carries both: ``schema.properties[cat_id].title``
and ``schema.properties[cat_id].properties[key].title``. Keys without a title (``{cat}_1``, which
holds the metadata token) are not attributes. Set attributes resolve to the set's key; their
inner row attributes are not addressed by name here.

The form also types each attribute, the way the category metadata does for an update
(:mod:`.category_meta`): the schema's ``type`` (``string``, ``integer``, ``number``, ``boolean``;
``otcs_user_picker`` / ``otcs_member_picker`` for a user; ``array`` with ``items.type`` for a
multi-value attribute), ``maxLength`` for text, and for a date a ``string`` whose field options say
``date``. :func:`resolve_categories` checks every value against that type with the same
:func:`~.category_meta.value_problem` before the create is sent: a value the attribute cannot take
is a permanent MappingError ``wrong_type``, never a workspace created with it. Sets (``array`` of
row objects, or ``object`` with properties) and attributes the form gives no type are not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from xstream.clients.opentext.category_meta import value_problem
from xstream.errors import DeadLetterReason, MappingError

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
    is_set: bool = False

    def problem(self, value: Any) -> str | None:
        """Why ``value`` cannot be this attribute's value; None when it can or nothing is known."""
        if self.is_set or (self.type is None and not self.persona):
            return None
        return value_problem(self.type, value, multi_value=self.multi_value, persona=self.persona,
                             max_length=self.max_length)

    def describe(self) -> str:
        described = self.type or "untyped"
        if self.persona == "user":
            described += " (user)"
        if self.multi_value:
            described += ", multi-value"
        return described


@dataclass(frozen=True)
class CategoryInfo:
    id: str
    title: str
    attributes: dict[str, str] = field(default_factory=dict)
    """Attribute title -> key, e.g. {"Account Number": "23228_2"}."""
    types: dict[str, FormAttribute] = field(default_factory=dict)
    """Attribute key -> its type in the form, e.g. {"23228_2": FormAttribute("string", max_length=32)}."""


@dataclass(frozen=True)
class CategoryKeyMap:
    categories: tuple[CategoryInfo, ...] = ()

    def category(self, name: str) -> CategoryInfo:
        """By exact title, else by case-insensitive title, else by id; unknown or ambiguous -> MappingError."""
        found: CategoryInfo = _pick(name, [(c.title, c) for c in self.categories], {c.id: c for c in self.categories},
                                    what="category")
        return found

    def resolve(self, category: str, attribute: str) -> tuple[str, str]:
        """(category title, attribute title) -> (cat_id, attribute key); MappingError if unknown."""
        info, key = self._attribute(category, attribute)
        return info.id, key

    def checked(self, category: str, attribute: str, value: Any) -> tuple[str, str]:
        """:meth:`resolve`, with ``value`` checked against the attribute's type in the form:
        MappingError ``wrong_type`` when it cannot be a value of that type."""
        info, key = self._attribute(category, attribute)
        kind = info.types.get(key)
        problem = kind.problem(value) if kind is not None else None
        if kind is not None and problem is not None:
            title = next((t for t, k in info.attributes.items() if k == key), key)
            raise MappingError(DeadLetterReason.WRONG_TYPE,
                               f"OpenText says {info.title}.{title} ({key}) is {kind.describe()}: "
                               f"it cannot take {problem}")
        return info.id, key

    def _attribute(self, category: str, attribute: str) -> tuple[CategoryInfo, str]:
        info = self.category(category)
        key: str = _pick(attribute, list(info.attributes.items()), {k: k for k in info.attributes.values()},
                         what=f"attribute of category {info.title!r}:")
        return info, key


def parse_create_form(form: Any) -> CategoryKeyMap:
    """Read the categories form out of a create-form response; tolerant of missing parts."""
    forms = form.get("forms") if isinstance(form, Mapping) else None
    categories: list[CategoryInfo] = []
    for entry in forms if isinstance(forms, list) else []:
        if not isinstance(entry, Mapping) or entry.get("role_name") != "categories":
            continue
        schema = entry.get("schema")
        props = schema.get("properties") if isinstance(schema, Mapping) else None
        option_fields = _mapping(_mapping(entry.get("options")).get("fields"))
        for cat_id, cat_schema in (props if isinstance(props, Mapping) else {}).items():
            if not isinstance(cat_schema, Mapping):
                continue
            attr_schemas = _mapping(cat_schema.get("properties"))
            attr_options = _mapping(_mapping(option_fields.get(cat_id)).get("fields"))
            attrs = {
                str(attr["title"]): str(key)
                for key, attr in attr_schemas.items()
                if isinstance(attr, Mapping) and attr.get("title")
            }
            types = {key: _form_attribute(attr_schemas[key], _mapping(attr_options.get(key)))
                     for key in attrs.values()}
            categories.append(CategoryInfo(str(cat_id), str(cat_schema.get("title") or cat_id), attrs, types))
    return CategoryKeyMap(tuple(categories))


def resolve_categories(
    key_map: CategoryKeyMap, values_by_name: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``{"Customer": {"Account Number": "A1"}}`` -> ``{"23228": {"23228_2": "A1"}}``.

    Every value is checked against its attribute's type in the form before anything is returned: a
    value that cannot be one is MappingError ``wrong_type`` (unknown names are ``mapping_failed``)."""
    resolved: dict[str, dict[str, Any]] = {}
    for category, values in values_by_name.items():
        for attribute, value in values.items():
            cat_id, key = key_map.checked(category, attribute, value)
            resolved.setdefault(cat_id, {})[key] = value
    return resolved


def _form_attribute(schema: Mapping[str, Any], options: Mapping[str, Any]) -> FormAttribute:
    kind = _text(schema.get("type"))
    items = _mapping(schema.get("items"))
    rows = kind == "array" and (isinstance(items.get("properties"), Mapping) or items.get("type") == "object")
    if kind == "object" or rows or isinstance(schema.get("properties"), Mapping):
        return FormAttribute(kind, is_set=True)
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


def _pick(name: str, pairs: list[tuple[str, Any]], by_id: Mapping[str, Any], *, what: str) -> Any:
    matches = [v for title, v in pairs if title == name] or [
        v for title, v in pairs if title.casefold() == name.strip().casefold()
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches and name in by_id:
        return by_id[name]
    problem = "ambiguous" if matches else "unknown"
    available = sorted({title for title, _ in pairs})
    raise MappingError(DeadLetterReason.MAPPING_FAILED, f"{problem} {what} {name!r}; the template has {available}")
