"""Mapping rules: the operator's YAML that says how a source record becomes a workspace command.

Parsed and validated once at start. A mistake is reported with the file, line and field path, so
the operator fixes the YAML instead of reading a stack trace. Attribute values are either a field
name (``Owner: owner``) or a spec with ``field``/``value``/``template``, a value ``map`` and a
``default``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from xstream.errors import ConfigError

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def template_fields(template: str) -> list[str]:
    return PLACEHOLDER.findall(template)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ValueSpec(_Strict):
    field: str | None = None
    value: Any = None
    template: str | None = None
    map: dict[str, Any] | None = None
    """Source value (as text) -> target value; unmapped values fall back to ``default`` or pass through."""
    default: Any = None

    @model_validator(mode="after")
    def _one_source(self) -> ValueSpec:
        given = [n for n in ("field", "value", "template") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of field, value, template (got {', '.join(given)})")
        if not given and self.default is None:
            raise ValueError("give one of field, value, template or default")
        return self


def _as_spec(raw: Any) -> Any:
    return {"field": raw} if isinstance(raw, str) else raw


AttributeSpec = Annotated[ValueSpec, Field()]


class SourceMatch(_Strict):
    system: str = Field(min_length=1)
    """Logical source system ("erp", "crm"): part of every idempotency key and causation."""
    topics: list[str] = Field(min_length=1)
    entity: str | None = None
    """Match only events of this table/entity when a topic carries several."""


class BusinessObjectSpec(_Strict):
    ext_system_id: str = Field(min_length=1)
    bo_type: str = Field(min_length=1)
    bo_id: str = Field(min_length=1)
    """A template over the row, e.g. "{customer_id}"."""


class WorkspaceSpec(_Strict):
    type: str = Field(min_length=1)
    template: str | None = None
    parent_id: int | None = None
    name: str = Field(min_length=1)
    description: str = ""


class Rule(_Strict):
    name: str = Field(min_length=1)
    source: SourceMatch
    business_object: BusinessObjectSpec
    workspace: WorkspaceSpec
    categories: dict[str, dict[str, AttributeSpec]] = Field(default_factory=dict)
    on_delete: Literal["ignore"] = "ignore"
    """What a delete in the source means. Never deletes a workspace."""

    @field_validator("categories", mode="before")
    @classmethod
    def _shorthand(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        return {c: {a: _as_spec(v) for a, v in attrs.items()} if isinstance(attrs, dict) else attrs
                for c, attrs in raw.items()}


class RuleSet(_Strict):
    version: Literal[1] = 1
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> RuleSet:
        names = [r.name for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rule names must be unique: {', '.join(dupes)}")
        return self

    @property
    def topics(self) -> list[str]:
        return sorted({t for r in self.rules for t in r.source.topics})

    def match(self, topic: str, entity: str) -> Rule | None:
        for rule in self.rules:
            if topic in rule.source.topics and rule.source.entity in (None, entity):
                return rule
        return None


def parse_rules(text: str, source_name: str) -> RuleSet:
    """Parse rules YAML; raises ConfigError naming ``source_name``, the line and the field of each mistake."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source_name}: not valid YAML: {exc}") from exc
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
            line = _line_of(root, loc)
            path = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(f"{source_name}:{line}: {path}: {err['msg']}")
        raise ConfigError("invalid mapping rules:\n  " + "\n  ".join(problems)) from exc


def _line_of(node: yaml.Node | None, loc: list[Any]) -> int:
    """1-based line of the deepest YAML node on the error's path (the parent when the key is missing)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        else:
            child = None
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line
