"""Turns a decoded change event into an ``ensure_workspace`` command by its rule. Pure and deterministic."""

from __future__ import annotations

from typing import Any

from xstream.errors import DeadLetterReason, MappingError
from xstream.model.business import BusinessObject
from xstream.model.change import ChangeEvent, Op
from xstream.model.commands import Causation, EnsureWorkspace, idempotency_key
from xstream.transform.rules import PLACEHOLDER, Rule, ValueSpec


def render(template: str, row: dict[str, Any], *, what: str) -> str:
    """Fill ``{field}`` placeholders from the row; a missing or null field is a mapping error, not ''."""

    def one(match: Any) -> str:
        field = match.group(1)
        if row.get(field) is None:
            raise MappingError(DeadLetterReason.MISSING_FIELD, f"{what}: field {field!r} is missing or null")
        return str(row[field])

    return PLACEHOLDER.sub(one, template)


def attribute_value(spec: ValueSpec, row: dict[str, Any], *, what: str) -> Any:
    if spec.value is not None:
        raw = spec.value
    elif spec.template is not None:
        raw = render(spec.template, row, what=what)
    elif spec.field is not None:
        raw = row.get(spec.field)
    else:
        raw = None
    if raw is not None and spec.map is not None:
        raw = spec.map.get(str(raw), spec.default if spec.default is not None else raw)
    return spec.default if raw is None else raw


def map_to_workspace(event: ChangeEvent, rule: Rule) -> EnsureWorkspace | None:
    """The command for this event, or None when the rule says the event needs no command (a delete)."""
    if event.op is Op.DELETE:
        return None
    row = event.row
    bo_spec = rule.business_object
    bo = BusinessObject(
        ext_system_id=bo_spec.ext_system_id,
        bo_type=bo_spec.bo_type,
        bo_id=render(bo_spec.bo_id, row, what=f"rule {rule.name}: business_object.bo_id"),
    )
    ws = rule.workspace
    categories = {
        category: {
            attr: attribute_value(spec, row, what=f"rule {rule.name}: {category}.{attr}")
            for attr, spec in attrs.items()
        }
        for category, attrs in rule.categories.items()
    }
    kind = "ensure_workspace"
    return EnsureWorkspace(
        idempotency_key=idempotency_key(
            source_system=rule.source.system,
            entity=event.entity,
            key=event.key or {"bo_id": bo.bo_id},
            position=event.position,
            command_kind=kind,
        ),
        business_object=bo,
        workspace_type=ws.type,
        template=ws.template,
        parent_id=ws.parent_id,
        name=render(ws.name, row, what=f"rule {rule.name}: workspace.name"),
        description=render(ws.description, row, what=f"rule {rule.name}: workspace.description"),
        categories={c: {a: v for a, v in attrs.items() if v is not None} for c, attrs in categories.items()},
        causation=Causation(
            source_system=rule.source.system,
            entity=event.entity,
            op=event.op.value,
            source_position=event.position,
            topic=event.record.topic,
            partition=event.record.partition,
            offset=event.record.offset,
        ),
    )
