"""OpenText names -> ids, for showing the exact requests of a command without asking a server.

Commands name types, templates, categories and attributes; the sink resolves the names at run time
against the server it talks to. A dry-run has no server, so it reads the ids from a catalog: by
default the emulator's seed (``xstream/rules/opentext_catalog.yaml``), or the operator's own copy.
The catalog is a key source of the request builders (:mod:`.opentext_requests`), which look names
up the way they do for the sink: exact, then ignoring case. It knows no attribute types, so a
dry-run does not check values against OpenText's types (the sink does).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from xstream.transform.opentext_requests import AttributeKey, CategoryKeys, pick, pick_template
from xstream.transform.rule_base import StrictModel, invalid, validate_sources
from xstream.transform.rule_files import CATALOG_FILE

WHERE = "the catalog"


class CatalogType(StrictModel):
    id: int
    location_id: int | None = None
    """The type's fixed creation folder."""
    location: str | None = None
    """Its path, for people."""
    templates: dict[str, int] = Field(default_factory=dict)


class CatalogCategory(StrictModel):
    id: int
    attributes: dict[str, str] = Field(default_factory=dict)
    """Attribute name -> key, e.g. {"Status": "2006_6"}."""
    sets: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Set attribute name -> row attribute name -> key with ``x`` for the row, e.g. "2006_7_x_8"."""


class OpenTextCatalog(StrictModel):
    source: str = "catalog"
    """Where the ids came from; printed with every dry-run."""
    workspace_types: dict[str, CatalogType] = Field(default_factory=dict)
    categories: dict[str, CatalogCategory] = Field(default_factory=dict)

    def workspace_type(self, name: str) -> CatalogType:
        return pick(self.workspace_types.items(), name, what="workspace type", where=WHERE)

    def template_id(self, type_name: str, template: str | None) -> int:
        """The template's id; None: the type's first template, as the sink takes it."""
        return pick_template(list(self.workspace_type(type_name).templates.items()), template, type_name=type_name,
                           where=WHERE)

    def category_keys(self, name: str) -> CategoryKeys:
        """The category called ``name`` with its attributes and set members, as the request builders take it."""
        title, category = pick([(n, (n, c)) for n, c in self.categories.items()], name, what="category", where=WHERE)
        sets = {set_name.casefold(): tuple(AttributeKey(key, member) for member, key in members.items())
                for set_name, members in category.sets.items()}
        attributes = tuple(AttributeKey(key, attribute, members=sets.get(attribute.casefold()))
                           for attribute, key in category.attributes.items())
        return CategoryKeys(str(category.id), title, attributes, where=WHERE)


def parse_catalog(text: str, source_name: str) -> OpenTextCatalog:
    """A catalog from YAML; mistakes are reported as ``file:line: field: message``, like those of rules."""
    parsed, problems = validate_sources([(source_name, text)], OpenTextCatalog)
    if problems:
        raise invalid("OpenText catalog", problems)
    return parsed[0][1]


def load_catalog(path: Path | None = None) -> OpenTextCatalog:
    """The catalog in ``path``; the emulator-seed catalog shipped with xstream by default."""
    path = path or CATALOG_FILE
    return parse_catalog(path.read_text(encoding="utf-8"), str(path))
