"""Link back: once a workspace is in place, write its id and URL into the source record.

Runs on status events (the only place the workspace node id is known). The link back is an effect
of the *state* the source wants (this record holds this workspace's link), not of which attempt
happened to create the workspace: a retry that finds the workspace already there (after a crash,
a lost answer, a replay) writes the link as well. Its idempotency key derives from what is written,
so every repeat is the same command and the downstream sink's effect ledger applies it once; the
command carries origin "xstream" and the source's CDC echo of the write is dropped by :mod:`echo`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from xstream.model.commands import ORIGIN, UpdateRecord
from xstream.model.status import Outcome, StatusEvent
from xstream.transform.rules import LINK_BACK, LinkBackSpec, RuleSet
from xstream.transform.templates import by_name

LINKED_KINDS = ("ensure_workspace", "update_workspace")


def link_back_command(rules: RuleSet, status: StatusEvent) -> UpdateRecord | None:
    """The downstream command writing the workspace's link into the source record, or None.

    For every workspace command that ended with the workspace in place (applied or already applied),
    except deletes. Repeats are harmless: the same link gives the same key, which the effect ledger
    answers ``already_applied`` without writing to the source again, so the source never sees a
    change of its own record caused by its own change (no loop).
    """
    if status.outcome not in (Outcome.APPLIED, Outcome.ALREADY_APPLIED):
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
    record_id, fields = written(spec, values)
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


def written(spec: LinkBackSpec, values: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """The record id and the fields a link back writes: its templates filled from ``values`` (the business
    object and the workspace link; every placeholder was checked against :data:`.rules.LINK_BACK` when the
    rules loaded). The dry-run shows the same with ``{workspace_id}`` standing for the id to come."""
    lookup = by_name(values)
    record_id = LINK_BACK.fill(spec.record_id, lookup, what="link_back.record_id")
    fields = {name: LINK_BACK.fill(v, lookup, what=f"link_back.fields.{name}") if isinstance(v, str) else v
              for name, v in spec.fields.items()}
    return record_id, fields
