"""Turns a decoded change event into a workspace command by its rule. Pure and deterministic.

- op c/r -> ``ensure_workspace`` (create if absent; an existing workspace is left as it is);
- op u -> ``update_workspace`` carrying only the attributes whose *mapped* value changed, because
  sending unchanged values would overwrite edits made in OpenText meanwhile; no mapped change, no
  command;
- op d -> per ``on_delete`` an ``update_workspace`` that sets the delete status (never a deleted
  workspace, and never a workspace created just to be marked deleted), or nothing.

A ``when`` that does not hold means no command. "No command" is a :class:`NoCommand` with the reason.

Every value is checked before a command is built: a ``{field}`` placeholder (name, description,
parent_path, bo_id, attribute templates; filled by :mod:`.templates`, a missing or null field is a
``missing_field``) takes only text, numbers and booleans, and each attribute
value must fit its declared type (:mod:`.value_types`). A misfit is a MappingError ``wrong_type``
naming the rule, the attribute or template, the field, the expected type and (a bounded preview of)
what was found: a malformed row is dead-lettered, never turned into ``{'first': ...}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xstream.errors import DeadLetterReason, MappingError
from xstream.model.business import BusinessObject
from xstream.model.change import ChangeEvent, Op
from xstream.model.commands import Causation, EnsureWorkspace, UpdateWorkspace, idempotency_key
from xstream.transform.rules import RECORD_FIELDS, Rule, ValueSpec, as_text
from xstream.transform.templates import by_name
from xstream.transform.value_types import WrongType

ENSURE, UPDATE = "ensure_workspace", "update_workspace"
DELETE_KIND = "update_workspace:on_delete"
"""The idempotency key's command kind for a delete: distinct from an update at the same position."""


@dataclass(frozen=True)
class NoCommand:
    """The event needs no command; ``why`` is counted and logged, never dead-lettered."""

    why: str


MappingOutcome = EnsureWorkspace | UpdateWorkspace | NoCommand


class _Unknown:
    """A mapped value that could not be computed from the old row: compares unequal to everything."""

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = None  # type: ignore[assignment]


UNKNOWN: Any = _Unknown()


def attribute_value(spec: ValueSpec, row: dict[str, Any], *, what: str) -> Any:
    """The attribute's value for a row, mapped, defaulted and coerced to its declared type (None: no value)."""
    expected = spec.value_type
    try:
        if spec.value is not None:
            raw = spec.value
        elif spec.template is not None:
            raw = RECORD_FIELDS.fill(spec.template, by_name(row), what=what)
        elif spec.field is not None:
            raw = row.get(spec.field)
            expected.check_source(raw)  # before a value map or a default can hide an object
        else:
            raw = None
        if raw is not None and spec.map is not None:  # a multi-value attribute maps each item
            raw = [_mapped(spec.map, spec.default, v) for v in raw] if isinstance(raw, list) \
                else _mapped(spec.map, spec.default, raw)
        return expected.coerce(spec.default if raw is None else raw)
    except WrongType as exc:
        source = f" (field {spec.field!r})" if spec.field is not None else \
            f" (template {spec.template!r})" if spec.template is not None else ""
        raise MappingError(DeadLetterReason.WRONG_TYPE, f"{what}{source}: {exc}") from None


def _mapped(mapping: dict[str, Any], default: Any, raw: Any) -> Any:
    """A value map: by the value's text; an unmapped value falls back to the default, else passes through."""
    return mapping.get(as_text(raw), default if default is not None else raw)


def mapped_values(rule: Rule, row: dict[str, Any], *, lenient: bool = False) -> dict[str, dict[str, Any]]:
    """Category -> attribute -> value for a row (None kept). ``lenient``: a value that cannot be
    computed is :data:`UNKNOWN` instead of a MappingError (for the old row of an update)."""
    values: dict[str, dict[str, Any]] = {}
    for category, attrs in rule.categories.items():
        for attr, spec in attrs.items():
            try:
                value = attribute_value(spec, row, what=f"rule {rule.name}: {category}.{attr}")
            except MappingError:
                if not lenient:
                    raise
                value = UNKNOWN
            values.setdefault(category, {})[attr] = value
    return values


def changed_values(rule: Rule, before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The mapped attributes whose value differs between the rows; all of them when ``before`` is unknown.

    A value that became None is kept (as None: clear it in OpenText).
    """
    new = mapped_values(rule, after)
    old = mapped_values(rule, before, lenient=True) if before is not None else {}
    changed: dict[str, dict[str, Any]] = {}
    for category, attrs in new.items():
        for attr, value in attrs.items():
            if before is None or old[category][attr] != value:
                changed.setdefault(category, {})[attr] = value
    return changed


def map_change(event: ChangeEvent, rule: Rule) -> MappingOutcome:
    """The command for this event, or why there is none. Raises MappingError for a row the rule cannot map."""
    if event.op is Op.DELETE:
        return _on_delete(event, rule)
    row = event.row
    if rule.when is not None and not rule.when.holds(row):
        return NoCommand(f"condition: rule {rule.name} does not apply to this row (when)")
    if event.op is Op.UPDATE and not _newly_applies(event, rule):
        return _update(event, rule, row)
    # a create, a snapshot read, or an update that makes the row meet the rule's condition for the
    # first time (e.g. a customer leaving the one-time group): the workspace must exist now
    bo = business_object(rule, row)
    return EnsureWorkspace(
        idempotency_key=_key(event, rule, bo, ENSURE),
        business_object=bo,
        categories=_without_none(mapped_values(rule, row)),
        causation=causation(event, rule),
        **_workspace_fields(rule, row),
    )


def map_to_workspace(event: ChangeEvent, rule: Rule) -> EnsureWorkspace | UpdateWorkspace | None:
    """:func:`map_change` without the reason: None when the event needs no command."""
    outcome = map_change(event, rule)
    return None if isinstance(outcome, NoCommand) else outcome


def business_object(rule: Rule, row: dict[str, Any]) -> BusinessObject:
    spec = rule.business_object
    what = f"rule {rule.name}: business_object.bo_id"
    bo_id = RECORD_FIELDS.fill(spec.bo_id, by_name(row), what=what)
    if not bo_id.strip():  # blank text identifies nothing: as missing as null
        raise MappingError(DeadLetterReason.MISSING_FIELD, f"{what}: {spec.bo_id!r} is blank for this row")
    return BusinessObject(ext_system_id=spec.ext_system_id, bo_type=spec.bo_type, bo_id=bo_id)


def causation(event: ChangeEvent, rule: Rule) -> Causation:
    return Causation(
        source_system=rule.source.system,
        entity=event.entity,
        op=event.op.value,
        source_position=event.position,
        topic=event.record.topic,
        partition=event.record.partition,
        offset=event.record.offset,
    )


def _newly_applies(event: ChangeEvent, rule: Rule) -> bool:
    return rule.when is not None and event.before is not None and not rule.when.holds(event.before)


def _update(event: ChangeEvent, rule: Rule, row: dict[str, Any]) -> MappingOutcome:
    changed = changed_values(rule, event.before, row)
    if not changed:
        return NoCommand(f"no mapped attribute changed (rule {rule.name})")
    bo = business_object(rule, row)
    return UpdateWorkspace(
        idempotency_key=_key(event, rule, bo, UPDATE),
        business_object=bo,
        categories=_without(_without_none(mapped_values(rule, row)), changed),
        changed=changed,
        causation=causation(event, rule),
        **_workspace_fields(rule, row),
    )


def _on_delete(event: ChangeEvent, rule: Rule) -> MappingOutcome:
    row = {**event.key, **(event.before or {})}  # REPLICA IDENTITY DEFAULT: the old row may be just the key
    if rule.when is not None and not rule.when.holds(row):
        return NoCommand(f"condition: rule {rule.name} does not apply to this row (when)")
    action = delete_values(rule)
    if action is None:
        return NoCommand(f"d ignored by rule {rule.name} (on_delete: ignore)")
    bo = business_object(rule, row)
    fields = _workspace_fields(rule, row, lenient=True)
    if not fields["name"]:
        fields["name"] = bo.bo_id
    return UpdateWorkspace(
        idempotency_key=_key(event, rule, bo, DELETE_KIND),
        business_object=bo,
        changed=action,
        create_if_absent=False,
        causation=causation(event, rule),
        **fields,
    )


def delete_values(rule: Rule) -> dict[str, dict[str, Any]] | None:
    """What a source delete sets, each value as its attribute's type takes it (checked when the rules loaded)."""
    action = rule.delete_action
    if action is None:
        return None
    specs = rule.categories
    return {category: {attr: specs[category][attr].value_type.coerce(value)
                       if attr in specs.get(category, {}) else value for attr, value in attrs.items()}
            for category, attrs in action.items()}


def _workspace_fields(rule: Rule, row: dict[str, Any], *, lenient: bool = False) -> dict[str, Any]:
    ws = rule.workspace

    def text(template: str, what: str) -> str:
        try:
            return RECORD_FIELDS.fill(template, by_name(row), what=f"rule {rule.name}: workspace.{what}")
        except MappingError:
            if not lenient:
                raise
            return ""

    return {
        "workspace_type": ws.type,
        "template": ws.template,
        "parent_id": ws.parent_id,
        "parent_path": text(ws.parent_path, "parent_path") or None if ws.parent_path is not None else None,
        "name": text(ws.name, "name"),
        "description": text(ws.description, "description"),
    }


def _key(event: ChangeEvent, rule: Rule, bo: BusinessObject, kind: str) -> str:
    return idempotency_key(
        source_system=rule.source.system,
        entity=event.entity,
        key=event.key or {"bo_id": bo.bo_id},
        position=event.position,
        command_kind=kind,
    )


def _without_none(values: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c: {a: v for a, v in attrs.items() if v is not None} for c, attrs in values.items()}


def _without(values: dict[str, dict[str, Any]], taken: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``values`` minus the attributes ``taken`` already carries (each value travels once)."""
    rest = {c: {a: v for a, v in attrs.items() if a not in taken.get(c, {})} for c, attrs in values.items()}
    return {c: attrs for c, attrs in rest.items() if attrs}
