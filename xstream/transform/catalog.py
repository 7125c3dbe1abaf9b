"""OpenText names -> ids, for showing the exact requests of a command without asking a server.

Commands name types, templates, categories and attributes; the sink resolves the names at run time
against the server it talks to. A dry-run has no server, so it reads the ids from a catalog: by
default the emulator's seed (``xstream/rules/opentext_catalog.yaml``), or the operator's own copy.
Lookups are exact, then case-insensitive, like the sink's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from xstream.errors import ConfigError, DeadLetterReason, MappingError
from xstream.transform.rule_files import CATALOG_FILE

V = TypeVar("V")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CatalogType(_Strict):
    id: int
    location_id: int | None = None
    """The type's fixed creation folder."""
    location: str | None = None
    """Its path, for people."""
    templates: dict[str, int] = Field(default_factory=dict)


class CatalogCategory(_Strict):
    id: int
    attributes: dict[str, str] = Field(default_factory=dict)
    """Attribute name -> key, e.g. {"Status": "2006_6"}."""
    sets: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Set attribute name -> row attribute name -> key with ``x`` for the row, e.g. "2006_7_x_8"."""


class OpenTextCatalog(_Strict):
    source: str = "catalog"
    """Where the ids came from; printed with every dry-run."""
    set_row_key: str = "{set_key}_{row}_{attribute}"
    workspace_types: dict[str, CatalogType] = Field(default_factory=dict)
    categories: dict[str, CatalogCategory] = Field(default_factory=dict)

    def workspace_type(self, name: str) -> CatalogType:
        return _pick(self.workspace_types, name, "workspace type")

    def template_id(self, type_name: str, template: str | None) -> int:
        templates = self.workspace_type(type_name).templates
        if template is None:
            if not templates:
                raise _unknown("template of workspace type", type_name, [])
            return next(iter(templates.values()))
        return _pick(templates, template, f"template of workspace type {type_name!r}:")

    def category(self, name: str) -> CatalogCategory:
        return _pick(self.categories, name, "category")

    def attribute_key(self, category: str, attribute: str) -> str:
        return _pick(self.category(category).attributes, attribute, f"attribute of category {category!r}:")

    def row_key(self, category: str, set_name: str, row: int, attribute: str) -> str:
        """The PUT key of one set row's attribute, e.g. ("Customer", "Contacts", 1, "Name") -> "2006_7_1_8"."""
        cat = self.category(category)
        member = _pick(_pick(cat.sets, set_name, f"set of category {category!r}:"), attribute,
                       f"attribute of set {set_name!r}:")
        return self.set_row_key.format(set_key=self.attribute_key(category, set_name), row=row,
                                       attribute=member.rsplit("_", 1)[-1])


def parse_catalog(text: str, source_name: str) -> OpenTextCatalog:
    try:
        return OpenTextCatalog.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{source_name}: invalid OpenText catalog: {exc}") from exc


def load_catalog(path: Path | None = None) -> OpenTextCatalog:
    """The catalog in ``path``; the emulator-seed catalog shipped with xstream by default."""
    path = path or CATALOG_FILE
    return parse_catalog(path.read_text(encoding="utf-8"), str(path))


def _pick(items: dict[str, V], name: str, what: str) -> V:
    if name in items:
        return items[name]
    matches = [v for k, v in items.items() if k.casefold() == name.strip().casefold()]
    if len(matches) == 1:
        return matches[0]
    raise _unknown(what, name, list(items))


def _unknown(what: str, name: str, known: list[str]) -> MappingError:
    return MappingError(DeadLetterReason.MAPPING_FAILED, f"unknown {what} {name!r}; the catalog has {sorted(known)}")
