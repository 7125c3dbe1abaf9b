"""Category names -> attribute keys, from the workspace create form. Pure: no I/O, no aiohttp.

Operators write rules with the names they see in OpenText ("Customer" / "Account Number"); the
API wants ``{"23228": {"23228_2": value}}``. The create form of a template
(GET /api/v2/forms/businessworkspaces/create) carries both: ``schema.properties[cat_id].title``
and ``schema.properties[cat_id].properties[key].title``. Keys without a title (``{cat}_1``, which
holds the metadata token) are not attributes. Set attributes resolve to the set's key; their
inner row attributes are not addressed by name here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from xstream.errors import DeadLetterReason, MappingError


@dataclass(frozen=True)
class CategoryInfo:
    id: str
    title: str
    attributes: dict[str, str] = field(default_factory=dict)
    """Attribute title -> key, e.g. {"Account Number": "23228_2"}."""


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
        info = self.category(category)
        key = _pick(attribute, list(info.attributes.items()), {k: k for k in info.attributes.values()},
                    what=f"attribute of category {info.title!r}:")
        return info.id, key


def parse_create_form(form: Any) -> CategoryKeyMap:
    """Read the categories form out of a create-form response; tolerant of missing parts."""
    forms = form.get("forms") if isinstance(form, Mapping) else None
    categories: list[CategoryInfo] = []
    for entry in forms if isinstance(forms, list) else []:
        if not isinstance(entry, Mapping) or entry.get("role_name") != "categories":
            continue
        schema = entry.get("schema")
        props = schema.get("properties") if isinstance(schema, Mapping) else None
        for cat_id, cat_schema in (props or {}).items():
            if not isinstance(cat_schema, Mapping):
                continue
            attrs = {
                str(attr["title"]): str(key)
                for key, attr in (cat_schema.get("properties") or {}).items()
                if isinstance(attr, Mapping) and attr.get("title")
            }
            categories.append(CategoryInfo(str(cat_id), str(cat_schema.get("title") or cat_id), attrs))
    return CategoryKeyMap(tuple(categories))


def resolve_categories(
    key_map: CategoryKeyMap, values_by_name: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``{"Customer": {"Account Number": "A1"}}`` -> ``{"23228": {"23228_2": "A1"}}``."""
    resolved: dict[str, dict[str, Any]] = {}
    for category, values in values_by_name.items():
        for attribute, value in values.items():
            cat_id, key = key_map.resolve(category, attribute)
            resolved.setdefault(cat_id, {})[key] = value
    return resolved


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
