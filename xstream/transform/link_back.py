"""Link back: once a workspace is applied, write its id and URL into the source record.

Runs on status events (the only place the workspace node id is known). The downstream command
carries origin "xstream" and the source's CDC echo of this write is dropped by :mod:`echo`. The
idempotency key derives from the status's key, so a replayed status sends the same key.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from xstream.model.commands import ORIGIN, UpdateRecord
from xstream.model.status import Outcome, StatusEvent
from xstream.transform.rules import PLACEHOLDER, LinkBackSpec, RuleSet

LINKED_KINDS = ("ensure_workspace", "update_workspace")


def link_back_command(rules: RuleSet, status: StatusEvent) -> UpdateRecord | None:
    """The downstream command writing a new workspace's link back, or None.

    Only when the command *created* the workspace: its link is new. Linking back on every update
    would write to the source on each of its own changes, and a source that does not record who
    changed a record would see that write come back as a change: a loop.
    """
    if status.outcome is not Outcome.APPLIED or not status.workspace_created:
        return None
    if status.command_kind not in LINKED_KINDS:
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
    record_id, fields = fill(spec.record_id, values), render_fields(spec, values)
    return UpdateRecord(
        idempotency_key=link_back_key(spec.target, spec.entity, record_id, fields),
        target=spec.target,
        entity=spec.entity,
        record_id=record_id,
        fields=fields,
        business_object=bo,
        causation=cause.model_copy(update={"origin": ORIGIN}),
    )


def link_back_key(target: str, entity: str, record_id: str, fields: dict[str, Any]) -> str:
    """From what is written: a replay sends the same key and body; a changed link (say a new public
    URL) a new key, never a reused key with another body (which the target refuses with 422)."""
    canonical = json.dumps([target, entity, record_id, fields], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"link_back:{canonical}".encode()).hexdigest()[:40]


def render_fields(spec: LinkBackSpec, values: dict[str, str]) -> dict[str, Any]:
    return {name: fill(v, values) if isinstance(v, str) else v for name, v in spec.fields.items()}


def fill(template: str, values: dict[str, str]) -> str:
    """Placeholders were checked against LINK_BACK_PLACEHOLDERS when the rules were parsed."""
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
