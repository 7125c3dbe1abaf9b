"""Link back: once a workspace is applied, write its id and URL into the source record.

Runs on status events (the only place the workspace node id is known). The downstream command
carries origin "xstream" and the source's CDC echo of this write is dropped by :mod:`echo`. The
idempotency key derives from the status's key, so a replayed status sends the same key.
"""

from __future__ import annotations

import hashlib
from typing import Any

from xstream.model.commands import ORIGIN, DownstreamCommand
from xstream.model.status import Outcome, StatusEvent
from xstream.transform.rules import PLACEHOLDER, LinkBackSpec, RuleSet

LINKED_KINDS = ("ensure_workspace", "update_workspace")


def link_back_command(rules: RuleSet, status: StatusEvent) -> DownstreamCommand | None:
    """The downstream command writing the workspace link back, or None (no link_back, not applied, a delete)."""
    if status.outcome not in (Outcome.APPLIED, Outcome.ALREADY_APPLIED) or status.command_kind not in LINKED_KINDS:
        return None
    if status.workspace is None or status.causation.op == "d":  # the source record is gone
        return None
    bo, cause = status.business_object, status.causation
    rule = rules.for_causation(cause.source_system, cause.entity, cause.topic, bo.ext_system_id, bo.bo_type)
    if rule is None or rule.link_back is None:
        return None
    values = {"bo_id": bo.bo_id, "bo_type": bo.bo_type, "ext_system_id": bo.ext_system_id,
              "workspace_id": str(status.workspace.node_id), "workspace_url": status.workspace.url}
    spec = rule.link_back
    return DownstreamCommand(
        idempotency_key=link_back_key(status.idempotency_key),
        target=spec.target,
        entity=spec.entity,
        record_id=fill(spec.record_id, values),
        fields=render_fields(spec, values),
        business_object=bo,
        causation=cause.model_copy(update={"origin": ORIGIN}),
    )


def link_back_key(status_key: str) -> str:
    return hashlib.sha256(f"{status_key}:link_back".encode()).hexdigest()[:40]


def render_fields(spec: LinkBackSpec, values: dict[str, str]) -> dict[str, Any]:
    return {name: fill(v, values) if isinstance(v, str) else v for name, v in spec.fields.items()}


def fill(template: str, values: dict[str, str]) -> str:
    """Placeholders were checked against LINK_BACK_PLACEHOLDERS when the rules were parsed."""
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
