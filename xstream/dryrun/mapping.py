"""``xstream mapping dry-run``: what one CDC record becomes, down to the exact OpenText requests. No I/O.

An operator writing rules wants to see the command *and* what reaches OpenText: method, path, query,
encoding and body, with the ids of the catalog (the emulator's seed unless they pass their own).
Ids only the server knows (the node id of an existing workspace) are shown as ``{workspace_id}``.
The requests are the OpenText sink's, built by the same builders (:mod:`.opentext_requests`) from
the catalog's ids instead of the server's: look the workspace up by business object first, then
create it, or PUT the changed category values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from pydantic import ValidationError

from xstream.errors import DeadLetterReason, MappingError
from xstream.model.commands import EnsureWorkspace, UpdateWorkspace
from xstream.model.record import RecordRef
from xstream.pipeline import Reject, Skip, process_cdc
from xstream.transform.catalog import OpenTextCatalog, load_catalog
from xstream.transform.link_back import written
from xstream.transform.opentext_requests import (
    WORKSPACES,
    WorkspaceCreateRequest,
    create_categories,
    create_request,
    lookup_params,
    put_body,
)
from xstream.transform.rules import Rule, RuleSet

MAX_BYTES = 10 * 1024 * 1024
FORM = "Content-Type: application/x-www-form-urlencoded; one form field `body` holding this JSON:"
_OPS = {"c": "create", "u": "update", "d": "delete", "r": "snapshot read"}
WRONG_TYPE_HINT = ("   no command is built: the value does not fit the attribute's type (README \"Attribute types\"); "
                   "fix the record, or the attribute's type in the rule if the record is right")


@dataclass(frozen=True)
class DryRun:
    text: str
    ok: bool
    """False when the record would be dead-lettered or its request cannot be built."""


def value_of_file(content: bytes) -> bytes | None:
    """An event file's content as the record value. A file cannot hold Kafka's null value, so an empty
    file (or one of blanks only: ``echo > f``) stands for it: the tombstone Debezium sends after a
    delete, shown as the worker treats it, never as malformed JSON."""
    return content if content.strip() else None


def dry_run(rules: RuleSet, topic: str, key: bytes | None, value: bytes | None,
            opentext: OpenTextCatalog | None = None) -> str:
    """Human-readable: the record's outcome, the command and the exact OpenText request(s)."""
    return explain(rules, topic, key, value, opentext).text


def explain(rules: RuleSet, topic: str, key: bytes | None, value: bytes | None,
            opentext: OpenTextCatalog | None = None) -> DryRun:
    """:func:`dry_run` with a verdict, for the CLI's exit code."""
    catalog = opentext or load_catalog()
    record = RecordRef(topic=topic, partition=0, offset=0)
    out = [f"dry-run (no I/O); OpenText ids from: {catalog.source}", f"record: {record}"]
    outcome = process_cdc(key, value, record, rules, max_bytes=MAX_BYTES)
    if isinstance(outcome, Reject):
        out.append(f"dead letter ({outcome.stage}): {outcome.reason.value}: {outcome.detail}")
        if outcome.reason is DeadLetterReason.WRONG_TYPE:
            out.append(WRONG_TYPE_HINT)
        return DryRun(_text(out), ok=False)
    if isinstance(outcome, Skip) and outcome.tombstone is not None:
        out += [f"no command: tombstone (a null value, key {_json(outcome.tombstone.key)}): what Debezium sends "
                "after a delete so that compaction can drop the key; the worker counts it "
                "(xstream_tombstones_total), it is not a dead letter"]
        return DryRun(_text(out), ok=True)
    if isinstance(outcome, Skip):
        out.append(f"no command: {outcome.why}")
        return DryRun(_text(out), ok=True)
    event, command = outcome.event, outcome.command
    rule = rules.match(topic, event.entity)
    out += [
        f"event: op {event.op.value} ({_OPS[event.op.value]}), entity {event.entity}, position {event.position}, "
        f"key {_json(event.key)}",
        f"rule: {rule.name if rule else '?'}",
        *([f"types: {declared_types(rule)}"] if rule is not None else []),
        f"command: {command.kind} for {command.kafka_key} (idempotency key {command.idempotency_key})",
        _json(command.model_dump(mode="json"), indent=True),
        "",
        "OpenText requests:",
    ]
    try:
        out += opentext_requests(command, catalog)
    except MappingError as exc:
        out.append(f"error: cannot build the OpenText request: {exc.detail}")
        return DryRun(_text(out), ok=False)
    except ValidationError as exc:  # a value OpenText cannot take (a blank name): the sink's invalid_command
        out.append(f"error: cannot build the OpenText request: {exc}")
        return DryRun(_text(out), ok=False)
    if rule is not None and rule.link_back is not None and event.op.value != "d":
        out += ["", *_link_back(rule, command)]
    return DryRun(_text(out), ok=True)


def declared_types(rule: Rule) -> str:
    """The attribute types values were checked against, e.g. ``Customer.Owner user; every other attribute
    string``: a dry-run shows why a value was accepted (or converted) as it was."""
    typed = [f"{category}.{attr} {spec.value_type.name}" for category, attrs in rule.categories.items()
             for attr, spec in attrs.items() if spec.value_type.name != "string"]
    total = sum(len(attrs) for attrs in rule.categories.values())
    if total > len(typed):
        typed.append(f"every {'other ' if typed else ''}attribute string")
    return "; ".join(typed) or "no attributes"


def opentext_requests(command: EnsureWorkspace | UpdateWorkspace, catalog: OpenTextCatalog) -> list[str]:
    """The numbered requests the OpenText sink sends for a command (lookup, then create or update)."""
    out = [f"1. {lookup_request(command)}",
           "   Looks the workspace up by business object (all workspaces, expanded view)."]
    create = _json(create_request_of(command, catalog).to_body(), indent=True, pad=3)
    folder = _folder(command, catalog)
    if isinstance(command, EnsureWorkspace):
        out += ["   Found: nothing more is sent (already_applied).",
                *folder, f"2. POST {WORKSPACES}   (when not found)", f"   {FORM}", create]
        return out
    not_found = ("Not found: step 3 creates it from the complete metadata." if command.create_if_absent
                 else "Not found: nothing is sent (there is no workspace to mark; already_applied).")
    out += [f"   Found (node {{workspace_id}}): step 2. {not_found}"]
    for category, values in command.changed.items():
        keys = catalog.category_keys(category)
        out += [f"2. PUT /api/v2/nodes/{{workspace_id}}/categories/{keys.id}   (category {category})",
                f"   {FORM}", _json(put_body(keys, values), indent=True, pad=3)]
    out.append("   (The sink reads the node's categories first, applies a missing category, and skips a PUT "
               "whose values the node already holds.)")
    if command.create_if_absent:
        out += [*folder, f"3. POST {WORKSPACES}   (when not found)", f"   {FORM}", create]
    return out


def lookup_request(command: EnsureWorkspace | UpdateWorkspace) -> str:
    """The sink's first call for every command (find before create), as one request line."""
    return f"GET {WORKSPACES}?{urlencode(lookup_params(command.business_object), safe='?/:@')}"


def create_request_of(command: EnsureWorkspace | UpdateWorkspace, catalog: OpenTextCatalog) -> WorkspaceCreateRequest:
    """The create the sink sends, with the catalog's ids; a folder path's folder, which only the server
    can find or make, is ``{parent_id}``."""
    return create_request(
        command, type_id=catalog.workspace_type(command.workspace_type).id,
        template_id=catalog.template_id(command.workspace_type, command.template),
        categories=create_categories(catalog, command.create_categories),
        folder_id="{parent_id}" if command.parent_path is not None else None)


def _folder(command: EnsureWorkspace | UpdateWorkspace, catalog: OpenTextCatalog) -> list[str]:
    if command.parent_path is None:
        return []
    ws_type = catalog.workspace_type(command.workspace_type)
    where = f"node {ws_type.location_id} ({ws_type.location})" if ws_type.location_id else "the type's location"
    return [f"   Before creating: folder path {command.parent_path!r} under {where}, each folder found by name "
            "(GET /api/v2/nodes/{parent}/nodes?where_name=...&where_type=0) or created; its id is {parent_id}."]


def _link_back(rule: Rule, command: EnsureWorkspace | UpdateWorkspace) -> list[str]:
    spec = rule.link_back
    assert spec is not None
    bo = command.business_object
    values = {"bo_id": bo.bo_id, "bo_type": bo.bo_type, "ext_system_id": bo.ext_system_id,
              "workspace_id": "{workspace_id}", "workspace_url": "{workspace_url}"}
    record_id, fields = written(spec, values)
    return [f"Then, once OpenText has applied it, link back (downstream command update_record to target "
            f"{spec.target}): {spec.entity}/{record_id}",
            f"   fields: {_json(fields)}"]


def _json(value: Any, *, indent: bool = False, pad: int = 0) -> str:
    option = orjson.OPT_INDENT_2 if indent else 0
    text = orjson.dumps(value, option=option).decode()
    return "\n".join(" " * pad + line for line in text.splitlines())


def _text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"
