"""Mapping rules: the operator's YAML that says how a source record becomes a workspace command.

Parsed and validated once at start. A mistake is reported with the file, line and field path, so
the operator fixes the YAML instead of reading a stack trace. Attribute values are either a field
name (``Owner: owner``) or a spec with ``field``/``value``/``template``, a value ``map``, a
``default`` and the attribute's ``type`` (:mod:`.value_types`; ``string`` unless given, with
``max_length``, ``multi_value`` and, for dates, ``epoch``), so that a wrong-typed row is refused
before a command is built and a constant that cannot fit its type is refused here, at start. Per
rule also: ``when`` (a declarative condition, never code), ``on_delete`` (set a status, or ignore;
a workspace is never deleted), ``link_back`` (write the workspace link back into the source
record) and ``echo`` (how the CDC echo of that write is recognised). Names, descriptions, folder
paths, business object ids and attribute templates are templates over the record's fields, link
back's over the workspace link (:mod:`.templates`), checked here. The models share the strict base
of every rule file (:mod:`.rule_base`). Several files make one rule set (:func:`parse_rule_sources`);
rule names and (topic, entity) pairs must be unique across all of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from xstream.errors import ConfigError
from xstream.transform.rule_base import StrictModel, invalid, validate_sources
from xstream.transform.templates import Vocabulary
from xstream.transform.value_types import (
    EPOCH_UNITS,
    TYPE_NAMES,
    AttributeType,
    EpochUnit,
    ValueType,
    WrongType,
    is_scalar,
)

RECORD_FIELDS = Vocabulary()
"""What a mapping template (name, description, parent_path, bo_id, an attribute's ``template``) may
use: any field of the source record, e.g. ``{customer_id}``."""
LINK_BACK = Vocabulary(names=("bo_id", "bo_type", "ext_system_id", "workspace_id", "workspace_url"))
"""What a link_back template may use: the business object and the workspace link of the status event."""
DEFAULT_DELETE_ATTRIBUTE, DEFAULT_DELETE_VALUE = "Status", "deleted"

RecordTemplate = Annotated[str, AfterValidator(RECORD_FIELDS.check)]
LinkBackTemplate = Annotated[str, AfterValidator(LINK_BACK.check)]


class ValueSpec(StrictModel):
    field: str | None = None
    value: Any = None
    template: RecordTemplate | None = None
    map: dict[str, Any] | None = None
    """Source value (as text) -> target value; unmapped values fall back to ``default`` or pass through."""
    default: Any = None
    type: AttributeType = "string"
    """What the attribute holds; every mapped value is checked (and losslessly coerced) against it."""
    max_length: int | None = Field(default=None, ge=1)
    """string, user: a longer value is refused (never cut)."""
    multi_value: bool = False
    """A multi-value attribute: a list of values of ``type``."""
    epoch: EpochUnit | None = None
    """date: what an integer source value counts since 1970-01-01 (days, the default, ms or us)."""

    @field_validator("type", mode="before")
    @classmethod
    def _known_type(cls, raw: Any) -> Any:
        if raw not in TYPE_NAMES:
            raise ValueError(f"unknown type {raw!r}; use one of {', '.join(TYPE_NAMES)}")
        return raw

    @field_validator("epoch", mode="before")
    @classmethod
    def _known_epoch(cls, raw: Any) -> Any:
        if raw is not None and raw not in EPOCH_UNITS:
            raise ValueError(f"unknown epoch unit {raw!r}; use one of {', '.join(EPOCH_UNITS)}")
        return raw

    @model_validator(mode="after")
    def _one_source(self) -> ValueSpec:
        given = [n for n in ("field", "value", "template") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of field, value, template (got {', '.join(given)})")
        if not given and self.default is None:
            raise ValueError("give one of field, value, template or default")
        return self

    @model_validator(mode="after")
    def _constants_fit_the_type(self) -> ValueSpec:
        if self.max_length is not None and self.type not in ("string", "user"):
            raise ValueError(f"max_length applies to type string or user, not {self.type}")
        if self.epoch is not None and self.type != "date":
            raise ValueError(f"epoch applies to type date, not {self.type}")
        item = ValueType(self.type, self.max_length, epoch=self.epoch or "days")
        checks = [("value", self.value_type, self.value), ("default", self.value_type, self.default)]
        checks += [(f"map {k!r}", item, v) for k, v in (self.map or {}).items()]
        for what, expected, constant in checks:
            try:
                expected.coerce(constant)
            except WrongType as exc:
                raise ValueError(f"{what}: {exc}") from None
        return self

    @property
    def value_type(self) -> ValueType:
        return ValueType(self.type, self.max_length, self.multi_value, self.epoch or "days")


def _as_spec(raw: Any) -> Any:
    return {"field": raw} if isinstance(raw, str) else raw


AttributeSpec = Annotated[ValueSpec, Field()]


def as_text(value: Any) -> str:
    """How value maps and conditions see a source value: JSON booleans as ``true``/``false``."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def same_value(a: Any, b: Any) -> bool:
    """Rule values are compared as text, like value maps: YAML ``1`` matches a source ``"1"``."""
    return bool(a == b) or (a is not None and b is not None and as_text(a) == as_text(b))


class Condition(StrictModel):
    """``{field: f, equals: v}`` | ``{field: f, in: [..]}`` | ``{field: f, not_null: true}`` |
    ``{all: [..]}`` | ``{any: [..]}`` | ``{not: {..}}``. Declarative on purpose: no expressions, no eval."""

    field: str | None = Field(default=None, min_length=1)
    equals: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_null: bool | None = None
    all: list[Condition] | None = Field(default=None, min_length=1)
    any: list[Condition] | None = Field(default=None, min_length=1)
    not_: Condition | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        given = self.model_fields_set
        tests = [n for n in ("equals", "in_", "not_null") if n in given]
        groups = [n for n in ("all", "any", "not_") if n in given]
        shown = ", ".join(n.rstrip("_") for n in tests + groups)
        if groups and (tests or "field" in given or len(groups) > 1):
            raise ValueError(f"a condition is one of all, any, not, or a field test (got {shown or 'field'})")
        if not groups and ("field" not in given or self.field is None):
            raise ValueError("give field with one of equals, in, not_null (or all, any, not)")
        if not groups and len(tests) != 1:
            raise ValueError(f"give exactly one of equals, in, not_null with field (got {shown or 'none'})")
        return self

    def holds(self, row: Mapping[str, Any]) -> bool:
        if self.all is not None:
            return all(c.holds(row) for c in self.all)
        if self.any is not None:
            return any(c.holds(row) for c in self.any)
        if self.not_ is not None:
            return not self.not_.holds(row)
        value = row.get(self.field or "")
        if self.not_null is not None:
            return (value is not None) is self.not_null
        if self.in_ is not None:
            return any(same_value(value, v) for v in self.in_)
        return same_value(value, self.equals)


class OnDelete(StrictModel):
    """``ignore``, or ``{set: {Category: {Attribute: value}}}``: the attributes a source delete sets."""

    ignore: bool = False
    set: dict[str, dict[str, Any]] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one(self) -> OnDelete:
        if self.ignore == (self.set is not None):
            raise ValueError("on_delete is either 'ignore' or {set: {Category: {Attribute: value}}}")
        empty = [c for c, attrs in (self.set or {}).items() if not attrs]
        if empty:
            raise ValueError(f"on_delete.set: category {empty[0]!r} sets no attribute")
        for category, attrs in (self.set or {}).items():
            for attr, value in attrs.items():
                items = value if isinstance(value, list) else [value]
                if not all(is_scalar(item) for item in items):
                    raise ValueError(f"on_delete.set: {category}.{attr} is set to an object; give a value")
        return self


class LinkBackSpec(StrictModel):
    """After the workspace is applied, write its link into the source record (a downstream command)."""

    target: str = Field(min_length=1)
    """A target in settings.targets, e.g. "erp"."""
    entity: str = Field(min_length=1)
    """The record's collection in the target, e.g. "customers"."""
    record_id: LinkBackTemplate = Field(default="{bo_id}", min_length=1)
    fields: Annotated[dict[str, Any], AfterValidator(LINK_BACK.check_values)] = Field(min_length=1)
    """Field -> value; text values are templates over bo_id, bo_type, ext_system_id, workspace_id, workspace_url."""


class EchoSpec(StrictModel):
    """How the CDC echo of xstream's own write into the source is recognised (and dropped)."""

    fields: list[str] | None = None
    """Source fields only xstream writes; an update that changes nothing else is an echo.
    Default: the keys of link_back.fields."""
    origin_field: str | None = Field(default=None, min_length=1)
    """A source field that names who changed the record last; ``origin_value`` there marks xstream's writes."""
    origin_value: str = Field(default="xstream", min_length=1)


def same_entity(a: str, b: str) -> bool:
    """Entity (table) names compare ignoring case: Debezium reports them as the database does, and
    Oracle and Db2 fold unquoted names to upper case (``CUSTOMERS``) where Postgres folds to lower case,
    so one rule for ``customers`` serves both. Two rules whose entities differ only in case would be
    ambiguous and are refused at load time."""
    return a.casefold() == b.casefold()


class SourceMatch(StrictModel):
    system: str = Field(min_length=1)
    """Logical source system ("erp", "crm"): part of every idempotency key and causation."""
    topics: list[str] = Field(min_length=1)
    entity: str | None = None
    """Match only events of this table/entity when a topic carries several; compared ignoring case
    (:func:`same_entity`)."""

    def matches_entity(self, entity: str) -> bool:
        return self.entity is None or same_entity(self.entity, entity)


class BusinessObjectSpec(StrictModel):
    ext_system_id: str = Field(min_length=1)
    bo_type: str = Field(min_length=1)
    bo_id: RecordTemplate = Field(min_length=1)
    """A template over the row, e.g. "{customer_id}"."""


class WorkspaceSpec(StrictModel):
    type: str = Field(min_length=1)
    template: str | None = None
    parent_id: int | None = None
    """Create in this folder; default: the workspace type's location."""
    parent_path: RecordTemplate | None = None
    """Or: a folder path under the type's location, a template over the row, e.g. "{region}/{year}"."""
    name: RecordTemplate = Field(min_length=1)
    description: RecordTemplate = ""

    @field_validator("parent_path")
    @classmethod
    def _relative_path(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(not p.strip() for p in value.split("/"))):
            raise ValueError("a folder path like 'Key Accounts/{region}': no empty, leading or trailing segment")
        return value

    @model_validator(mode="after")
    def _one_parent(self) -> WorkspaceSpec:
        if self.parent_id is not None and self.parent_path is not None:
            raise ValueError("give parent_id or parent_path, not both")
        return self


class Rule(StrictModel):
    name: str = Field(min_length=1)
    source: SourceMatch
    business_object: BusinessObjectSpec
    workspace: WorkspaceSpec
    categories: dict[str, dict[str, AttributeSpec]] = Field(default_factory=dict)
    when: Condition | None = None
    """Only rows for which this holds get a command (the old row for a delete); others are skipped."""
    on_delete: OnDelete | None = None
    """What a delete in the source means; never a deleted workspace. Default: set the first category's
    Status to "deleted" when the rule maps a Status there, else ignore."""
    link_back: LinkBackSpec | None = None
    echo: EchoSpec | None = None

    @field_validator("on_delete", mode="before")
    @classmethod
    def _ignore_shorthand(cls, raw: Any) -> Any:
        if raw == "ignore":
            return {"ignore": True}
        if isinstance(raw, str):
            raise ValueError("on_delete is either 'ignore' or {set: {Category: {Attribute: value}}}")
        return raw

    @model_validator(mode="after")
    def _delete_values_fit(self) -> Rule:
        for category, attrs in (self.delete_action or {}).items():
            for attr, value in attrs.items():
                spec = self.categories.get(category, {}).get(attr)
                try:
                    if spec is not None:
                        spec.value_type.coerce(value)
                except WrongType as exc:
                    given = "on_delete" if self.on_delete is not None else "the default on_delete (give on_delete)"
                    raise ValueError(f"{given} sets {category}.{attr} to {value!r}: {exc}") from None
        return self

    @model_validator(mode="after")
    def _echo_needs_something(self) -> Rule:
        if self.echo is not None and self.echo.fields is None and self.echo.origin_field is None \
                and self.link_back is None:
            raise ValueError("echo: give fields or origin_field (the default fields come from link_back)")
        return self

    @property
    def delete_action(self) -> dict[str, dict[str, Any]] | None:
        """Category -> attribute -> value that a source delete sets; None when deletes are ignored."""
        if self.on_delete is not None:
            return self.on_delete.set
        first = next(iter(self.categories), None)
        if first is not None and DEFAULT_DELETE_ATTRIBUTE in self.categories[first]:
            return {first: {DEFAULT_DELETE_ATTRIBUTE: DEFAULT_DELETE_VALUE}}
        return None

    @property
    def echo_fields(self) -> frozenset[str]:
        """Source fields only xstream writes (echo.fields, else the keys of link_back.fields)."""
        if self.echo is not None and self.echo.fields is not None:
            return frozenset(self.echo.fields)
        return frozenset(self.link_back.fields) if self.link_back is not None else frozenset()

    @field_validator("categories", mode="before")
    @classmethod
    def _shorthand(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        return {c: {a: _as_spec(v) for a, v in attrs.items()} if isinstance(attrs, dict) else attrs
                for c, attrs in raw.items()}


class RuleFile(StrictModel):
    """One rules file as written; several make a :class:`RuleSet`."""

    version: Literal[1] = 1
    rules: list[Rule] = Field(min_length=1)


class RuleSet(RuleFile):
    @model_validator(mode="after")
    def _unique(self) -> RuleSet:
        problems = _conflicts([(r, f"rules.{i}") for i, r in enumerate(self.rules)])
        if problems:
            raise ValueError("; ".join(p for _, p in problems))
        return self

    @property
    def topics(self) -> list[str]:
        return sorted({t for r in self.rules for t in r.source.topics})

    def match(self, topic: str, entity: str) -> Rule | None:
        for rule in self.rules:
            if topic in rule.source.topics and rule.source.matches_entity(entity):
                return rule
        return None

    def for_causation(self, source_system: str, entity: str, topic: str, ext_system_id: str,
                      bo_type: str) -> Rule | None:
        """The rule that made a command (from its causation and business object), for status-driven flows."""
        for rule in self.rules:
            if (rule.source.system == source_system and rule.source.matches_entity(entity)
                    and rule.business_object.ext_system_id == ext_system_id
                    and rule.business_object.bo_type == bo_type
                    and any(topic.endswith(t) for t in rule.source.topics)):
                return rule
        return None


def _conflicts(rules: Sequence[tuple[Rule, str]]) -> list[tuple[int, str]]:
    """(index, message) for each rule whose name or (topic, entity) an earlier rule already has."""
    problems: list[tuple[int, str]] = []
    for i, (rule, _) in enumerate(rules):
        for earlier, earlier_where in rules[:i]:
            if earlier.name == rule.name:
                problems.append((i, f"rule names must be unique: {rule.name} is also defined at {earlier_where}"))
                break
            shared = sorted(set(rule.source.topics) & set(earlier.source.topics))
            if shared and (rule.source.entity is None or earlier.source.matches_entity(rule.source.entity)):
                problems.append((i, f"rule {rule.name} and rule {earlier.name} ({earlier_where}) both match topic "
                                    f"{shared[0]!r} {_entities(rule.source.entity, earlier.source.entity)}"))
                break
    return problems


def _entities(entity: str | None, earlier: str | None) -> str:
    if entity is not None and earlier is not None and entity != earlier:
        return f"entity {entity!r} and entity {earlier!r} (entity names compare ignoring case)"
    return f"entity {entity or earlier or '*'!r}"


def parse_rules(text: str, source_name: str) -> RuleSet:
    """Parse rules YAML; raises ConfigError naming ``source_name``, the line and the field of each mistake."""
    return parse_rule_sources([(source_name, text)])


def parse_rule_sources(sources: Sequence[tuple[str, str]]) -> RuleSet:
    """Several rules files (name, text) as one rule set; names and (topic, entity) pairs unique across them."""
    if not sources:
        raise ConfigError("no mapping rules: no rules file given")
    parsed, problems = validate_sources(sources, RuleFile)
    if not problems:
        located = [(rule, source, i) for source, rf in parsed for i, rule in enumerate(rf.rules)]
        for index, message in _conflicts([(rule, source.where(["rules", i])) for rule, source, i in located]):
            _, source, i = located[index]
            problems.append(f"{source.where(['rules', i, 'name'])}: rules.{i}: {message}")
    if problems:
        raise invalid("mapping rules", problems)
    return RuleSet.model_validate({"version": 1, "rules": [r for _, rf in parsed for r in rf.rules]})
