"""The status engine: an OpenText event, and what was known of its document, -> downstream commands. Pure.

Rules fire on *changes of state*, judged against the document's memory (the status flow keeps it
in a table keyed by document): a status rule fires when the status it names is reached, i.e. it
differs from the status last seen; a workflow rule fires once per process outcome. So the same
change delivered twice (poller overlap and webhook), or a replay of the events topic, fires
nothing the second time, and every command's idempotency key derives from the observed state,
so even a deployment without memory sends the same keys again.

Order: an observation older than the memory (an earlier modify date, or the same one observed
earlier: modify dates have whole seconds) is stale and skipped, so an older state that arrives late
never winds the memory back; one equal to the memory (same ``event_id``) is a duplicate. When the
previous status is unknown (first sight of a document), "reaches" rules fire for added documents
and attribute changes but not for a new version alone, and "moves from" rules cannot fire. A
snapshot (the poller's first scan) of an unknown document only teaches the memory; a real event
that reports the very state a snapshot recorded is judged with the previous state unknown (the
snapshot saw the change's result), and a snapshot of a known document that differs is a change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from xstream.errors import DeadLetterReason, MappingError
from xstream.model.business import BusinessObject
from xstream.model.commands import (
    AnyDownstream,
    Causation,
    DocumentLink,
    Notify,
    RecordPointer,
    StartApproval,
    UpdateRecord,
    idempotency_key,
)
from xstream.model.documents import LockVersion, PublishDocument, TargetRecord
from xstream.model.opentext import (
    DOCUMENT_KINDS,
    Attributes,
    EventKind,
    OpenTextEvent,
    any_attribute,
    attribute,
    parse_otcs_date,
)
from xstream.model.record import RecordRef
from xstream.transform.rules import as_text
from xstream.transform.status_rules import TEMPLATES, Action, AttributeRef, StatusRule, StatusRuleSet
from xstream.transform.templates import Lookup, Placeholder

MAX_WORKFLOWS = 50
"""Finished processes remembered per document (a document rarely sees more)."""
UNKNOWN = "(unknown)"
"""``{previous_status}`` when the document was never seen before."""
SOURCE_SYSTEM, ENTITY = "opentext", "document"
SUBJECT_MAX, TITLE_MAX, TEXT_MAX = 500, 300, 4000
StatusCommand = AnyDownstream | LockVersion
"""What status rules send: downstream commands, and the governed copy's lock (document commands)."""
"""The longest approval subject, notification title and text a command carries (see model.commands)."""


class DocumentMemory(BaseModel):
    """What the status flow knows of one document: the last observation and the workflows handled."""

    model_config = ConfigDict(frozen=True)

    event_id: str | None = None
    modify_date: str | None = None
    observed_at: datetime | None = None
    """When that observation was made: orders observations of one modify date (whole seconds)."""
    version: int | None = None
    attributes: Attributes | None = None
    """None: no document observation yet (only workflow outcomes, or nothing)."""
    from_snapshot: bool = False
    """The observation was a snapshot: the state then, not a change (see :func:`evaluate`)."""
    workflows: list[str] = Field(default_factory=list)
    """``{process_id}:{status}`` of the finished workflows handled, newest last."""


@dataclass(frozen=True)
class Verdict:
    rule: str
    matched: bool
    why: str


@dataclass(frozen=True)
class Evaluation:
    commands: list[StatusCommand] = field(default_factory=list)
    memory: DocumentMemory | None = None
    """The memory to keep; None leaves it as it was."""
    verdicts: list[Verdict] = field(default_factory=list)
    skipped: str | None = None
    """Why nothing was evaluated (stale, duplicate, snapshot)."""
    problems: list[str] = field(default_factory=list)
    """Actions of matching rules that could not become commands (dead-lettered with the event)."""


def same(a: Any, b: Any) -> bool:
    """Statuses, types and names compare as text, ignoring case: people type them into YAML."""
    return a is not None and b is not None and as_text(a).casefold() == as_text(b).casefold()


def one_of(value: Any, wanted: list[str]) -> bool:
    return any(same(value, w) for w in wanted)


def value_of(attributes: Attributes | None, ref: AttributeRef) -> Any:
    return attribute(attributes or {}, ref.category, ref.attribute)


def evaluate(rules: StatusRuleSet, event: OpenTextEvent, memory: DocumentMemory | None,
             record: RecordRef) -> Evaluation:
    if event.kind is EventKind.WORKFLOW_FINISHED:
        return _workflow(rules, event, memory, record)
    known = memory if memory is not None and memory.attributes is not None else None
    if known is not None:
        stale = _stale(event, known)
        if stale is not None:
            return Evaluation(skipped=stale)
        if event.event_id == known.event_id and (event.snapshot or not known.from_snapshot):
            return Evaluation(skipped="duplicate: this state was already seen")
    learned = DocumentMemory(event_id=event.event_id, modify_date=event.document.modify_date,
                             observed_at=event.observed_at, version=event.document.version,
                             attributes=event.document.attributes, workflows=memory.workflows if memory else [],
                             from_snapshot=event.snapshot)
    if event.snapshot and known is None:
        return Evaluation(memory=learned, skipped="snapshot: recorded as the known state, no rules run")
    # A real event reporting the very state a snapshot recorded: that snapshot saw the change's result,
    # not what came before, so the previous state is unknown (a later snapshot of a change is a change).
    previous = None if known is None or (known.from_snapshot and event.event_id == known.event_id) \
        else known.attributes
    verdicts = [_status_verdict(rule, event, previous) for rule in rules.rules]
    commands, problems = _commands(rules, verdicts, event, previous, record)
    return Evaluation(commands=commands, memory=learned, verdicts=verdicts, problems=problems)


def _stale(event: OpenTextEvent, known: DocumentMemory) -> str | None:
    """Why the event is older than what is known: an earlier modify date, or the same one (whole
    seconds) observed earlier; an older state arriving later must never wind the memory back."""
    seen, now = parse_otcs_date(known.modify_date), parse_otcs_date(event.document.modify_date)
    if seen is None or now is None:
        return None
    if now < seen:
        return f"stale: modified {event.document.modify_date}, the last observation is from {known.modify_date}"
    if now == seen and known.observed_at is not None and event.observed_at < known.observed_at \
            and event.event_id != known.event_id:
        return (f"stale: observed at {event.observed_at.isoformat()}, before the last observation "
                f"({known.observed_at.isoformat()}) of the same modify date")
    return None


def _workflow(rules: StatusRuleSet, event: OpenTextEvent, memory: DocumentMemory | None,
              record: RecordRef) -> Evaluation:
    outcome = event.workflow
    if outcome is None:
        return Evaluation(skipped="a workflow.finished event without its workflow")
    token = f"{outcome.process_id}:{outcome.status}"
    if memory is not None and token in memory.workflows:
        return Evaluation(skipped=f"duplicate: the outcome of process {outcome.process_id} was already handled")
    base = memory or DocumentMemory()
    learned = base.model_copy(update={"workflows": [*base.workflows, token][-MAX_WORKFLOWS:]})
    verdicts = [_workflow_verdict(rule, event) for rule in rules.rules]
    commands, problems = _commands(rules, verdicts, event, base.attributes, record)
    return Evaluation(commands=commands, memory=learned, verdicts=verdicts, problems=problems)


def _scope(rule: StatusRule, event: OpenTextEvent) -> str | None:
    """Why the event is outside the rule's workspace and document types, or None."""
    when = rule.when
    if when.workspace_types is not None:
        if event.workspace is None:
            return "the document is in no business workspace"
        if not one_of(event.workspace.type_name, when.workspace_types):
            return f"workspace type is {event.workspace.type_name!r}, rule wants {', '.join(when.workspace_types)}"
    if when.document_types is not None:
        doc_type = value_of(event.document.attributes, rule.attributes.type)
        if not one_of(doc_type, when.document_types):
            return f"document type is {doc_type!r}, rule wants {', '.join(when.document_types)}"
    return None


def _status_verdict(rule: StatusRule, event: OpenTextEvent, previous: Attributes | None) -> Verdict:
    change = rule.when.status
    if change is None:
        return Verdict(rule.name, False, "reacts to finished workflows")
    kinds = rule.when.events or list(DOCUMENT_KINDS)
    if event.kind not in kinds:
        return Verdict(rule.name, False, f"event {event.kind.value} is not one of {', '.join(k.value for k in kinds)}")
    out_of_scope = _scope(rule, event)
    if out_of_scope is not None:
        return Verdict(rule.name, False, out_of_scope)
    ref = rule.attributes.status
    now = value_of(event.document.attributes, ref)
    if not one_of(now, change.to):
        return Verdict(rule.name, False, f"{ref.attribute} is {now!r}, rule wants {', '.join(change.to)}")
    if previous is None:
        if change.from_ is not None:
            return Verdict(rule.name, False, f"previous {ref.attribute} unknown, rule wants a move from "
                                             f"{', '.join(change.from_)}")
        if event.kind is EventKind.VERSION_ADDED:
            return Verdict(rule.name, False, f"previous {ref.attribute} unknown and a new version does not "
                                             f"change it")
        return Verdict(rule.name, True, f"{ref.attribute} is {now!r} (first observation of the document)")
    before = value_of(previous, ref)
    if same(before, now):
        return Verdict(rule.name, False, f"{ref.attribute} was already {now!r}")
    if change.from_ is not None and not one_of(before, change.from_):
        return Verdict(rule.name, False, f"{ref.attribute} moved from {before!r}, rule wants a move from "
                                         f"{', '.join(change.from_)}")
    return Verdict(rule.name, True, f"{ref.attribute} moved from {before!r} to {now!r}")


def _workflow_verdict(rule: StatusRule, event: OpenTextEvent) -> Verdict:
    match, outcome = rule.when.workflow, event.workflow
    if match is None or outcome is None:
        return Verdict(rule.name, False, "reacts to status changes")
    if match.name is not None and not one_of(outcome.name, match.name):
        return Verdict(rule.name, False, f"workflow is {outcome.name!r}, rule wants {', '.join(match.name)}")
    if outcome.status not in match.outcome:
        return Verdict(rule.name, False, f"workflow {outcome.status}, rule wants {', '.join(match.outcome)}")
    out_of_scope = _scope(rule, event)
    if out_of_scope is not None:
        return Verdict(rule.name, False, out_of_scope)
    return Verdict(rule.name, True, f"workflow {outcome.name!r} {outcome.status}")


def _commands(rules: StatusRuleSet, verdicts: list[Verdict], event: OpenTextEvent, previous: Attributes | None,
              record: RecordRef) -> tuple[list[StatusCommand], list[str]]:
    commands: list[StatusCommand] = []
    problems: list[str] = []
    for rule, verdict in zip(rules.rules, verdicts, strict=True):
        if not verdict.matched:
            continue
        values = template_values(rule, event, previous)
        for index, action in enumerate(rule.then):
            where = f"rule {rule.name}, action {index + 1} ({action.kind})"
            try:
                commands.append(build_command(rule, index, action, event, values, record))
            except MappingError as exc:
                problems.append(f"{where}: {exc.detail}")
            except ValidationError as exc:  # a value the command cannot carry (an empty identifier, say)
                first = exc.errors()[0]
                problems.append(f"{where}: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    return commands, problems


def template_values(rule: StatusRule, event: OpenTextEvent, previous: Attributes | None) -> Lookup:
    """What the rule's placeholders stand for in this event. An empty text or list is no value: it
    identifies nothing, so an identifier built from it fails like one built from a missing value."""
    doc, ws, flow = event.document, event.workspace, event.workflow
    bo = ws.business_object if ws is not None else None
    values: dict[str, Any] = {
        "document_id": doc.node_id, "document_name": doc.name, "document_url": doc.url,
        "document_type": value_of(doc.attributes, rule.attributes.type), "version": doc.version,
        "status": value_of(doc.attributes, rule.attributes.status),
        "previous_status": value_of(previous, rule.attributes.status) if previous is not None else UNKNOWN,
        "workspace_id": ws.node_id if ws else None, "workspace_name": ws.name if ws else None,
        "workspace_url": ws.url if ws else None, "workspace_type": ws.type_name if ws else None,
        "ext_system_id": bo.ext_system_id if bo else None, "bo_type": bo.bo_type if bo else None,
        "bo_id": bo.bo_id if bo else None, "workflow_name": flow.name if flow else None,
        "workflow_outcome": flow.status if flow else None, "rule": rule.name, "event": event.kind.value,
    }
    attributes = {"document": doc.attributes, "workspace": ws.attributes if ws else {}}

    def lookup(placeholder: Placeholder) -> Any:
        value = values.get(placeholder.name) if placeholder.attribute is None \
            else any_attribute(attributes[placeholder.name], placeholder.attribute)
        return None if value == "" or value == [] else value

    return lookup


def cut(text: str, limit: int) -> str:
    """Long OpenText names make long texts: shortened with an ellipsis, never refused."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _render_fields(fields: dict[str, Any], values: Lookup) -> dict[str, Any]:
    return {name: TEMPLATES.fill(v, values, what=f"fields.{name}", required=False) if isinstance(v, str) else v
            for name, v in fields.items()}


def business_object(event: OpenTextEvent) -> BusinessObject:
    """The source record the command concerns; else the workspace or document itself (keys the command)."""
    ws = event.workspace
    if ws is not None and ws.business_object is not None:
        return ws.business_object
    if ws is not None:
        return BusinessObject(ext_system_id=SOURCE_SYSTEM, bo_type="workspace", bo_id=str(ws.node_id))
    return BusinessObject(ext_system_id=SOURCE_SYSTEM, bo_type="document", bo_id=str(event.document.node_id))


def build_command(rule: StatusRule, index: int, action: Action, event: OpenTextEvent, values: Lookup,
                  record: RecordRef) -> StatusCommand:
    """One action as a command; its key is stable for this observation, rule and action."""
    doc = event.document
    common: dict[str, Any] = {
        "idempotency_key": idempotency_key(source_system=SOURCE_SYSTEM, entity=ENTITY, key={"document_id": doc.node_id},
                                           position=event.event_id, command_kind=f"{rule.name}/{index}/{action.kind}"),
        "target": action.spec.target,
        "business_object": business_object(event),
        "causation": Causation(source_system=SOURCE_SYSTEM, entity=ENTITY, op=event.kind.value,
                               source_position=event.event_id, topic=record.topic, partition=record.partition,
                               offset=record.offset),
        "rule": rule.name,
        "document": DocumentLink(node_id=doc.node_id, name=doc.name, url=doc.url, version=doc.version),
    }
    if action.lock_version is not None:
        return _lock_command(action, common, event, values)
    if action.start_approval is not None:
        spec = action.start_approval
        pointer = None
        if spec.record is not None:
            pointer = RecordPointer(entity=spec.record.entity,
                                    id=TEMPLATES.fill(spec.record.id, values, what="record.id"))
        subject = cut(TEMPLATES.fill(spec.subject, values, what="subject"), SUBJECT_MAX)
        return StartApproval(**common, process=spec.process, subject=subject, record=pointer,
                             fields=_render_fields(spec.fields, values))
    if action.update_record is not None:
        upd = action.update_record
        return UpdateRecord(**common, entity=upd.entity,
                            record_id=TEMPLATES.fill(upd.record_id, values, what="record_id"),
                            fields=_render_fields(upd.fields, values))
    note = action.notify
    assert note is not None
    return Notify(**common, channel=TEMPLATES.fill(note.channel, values, what="channel"),
                  title=cut(TEMPLATES.fill(note.title, values, what="title"), TITLE_MAX),
                  text=cut(TEMPLATES.fill(note.text, values, what="text", required=False), TEXT_MAX),
                  facts={label: TEMPLATES.fill(v, values, what=f"facts.{label}", required=False)
                         for label, v in note.facts.items()},
                  link_title="Open in OpenText" if note.link else None, link_url=doc.url if note.link else None)


def _lock_command(action: Action, common: dict[str, Any], event: OpenTextEvent, values: Lookup) -> LockVersion:
    """Lock the observed version; with ``link_to``, its link goes to the source record as well."""
    spec, doc = action.lock_version, event.document
    assert spec is not None
    if doc.version is None:
        raise MappingError(DeadLetterReason.MAPPING_FAILED, "the event names no version of the document to lock")
    shared = {"business_object": common["business_object"], "causation": common["causation"],
              "rule": common["rule"], "document_key": f"{SOURCE_SYSTEM}/{doc.node_id}"}
    link_to = None
    if spec.link_to is not None:
        to = spec.link_to
        link_to = PublishDocument(
            **shared, idempotency_key=common["idempotency_key"], node_id=doc.node_id, version=doc.version,
            name=f"{doc.name} (version {doc.version}, locked)", target=to.target, format=to.format, mode="link",
            record=TargetRecord(bo_type=to.bo_type, bo_key=TEMPLATES.fill(to.bo_key, values, what="link_to.bo_key")),
            document_type=TEMPLATES.fill(to.document_type, values, what="link_to.document_type", required=False)
            if to.document_type else None)
    return LockVersion(**shared, idempotency_key=common["idempotency_key"], node_id=doc.node_id,
                       version=doc.version, name=doc.name, link_to=link_to)
