"""The pure paths: record bytes -> decoded event -> rules -> commands, or a typed reason why not.

The flows call these for every record and only do the I/O around them (send the commands,
send the dead letter, keep the memory, count). Nothing here raises for bad input: every record gets
an outcome.

- CDC (:func:`process_cdc`): decode, match a rule, drop echoes of xstream's own writes, map
  (conditions, changed attributes, on_delete).
- OpenText events (:func:`process_opentext`): decode, check the key, evaluate the status rules
  against the document's memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from xstream.codec import decode_change, decode_opentext_event
from xstream.errors import DeadLetterReason, DecodeError, MappingError
from xstream.model.change import ChangeEvent, Tombstone
from xstream.model.commands import WorkspaceCommand
from xstream.model.dead_letter import Stage
from xstream.model.opentext import OpenTextEvent
from xstream.model.record import RecordRef
from xstream.transform.echo import echo_reason
from xstream.transform.rules import RuleSet
from xstream.transform.status_engine import DocumentMemory, Evaluation, evaluate
from xstream.transform.status_rules import StatusRuleSet
from xstream.transform.workspace_mapping import NoCommand, map_change


@dataclass(frozen=True)
class Emit:
    command: WorkspaceCommand
    event: ChangeEvent


@dataclass(frozen=True)
class Skip:
    """An event that needs no command (a tombstone, a delete the rule ignores, a false condition, an
    update of no mapped attribute, an echo): counted, not an error."""

    why: str
    tombstone: Tombstone | None = None
    echo: bool = False
    """The CDC echo of xstream's own write (``why`` starts with "echo"); the flow counts these apart."""


@dataclass(frozen=True)
class Reject:
    reason: DeadLetterReason
    detail: str
    stage: Stage


CdcOutcome = Emit | Skip | Reject


def process_cdc(
    key: bytes | None, value: bytes | None, record: RecordRef, rules: RuleSet, *, max_bytes: int,
    topic_prefix: str = "",
) -> CdcOutcome:
    """``topic_prefix`` is stripped before rules match: rules name topics without the environment prefix."""
    try:
        decoded = decode_change(key, value, record, max_bytes=max_bytes)
    except DecodeError as exc:
        return Reject(exc.reason, exc.detail, "decode")
    if isinstance(decoded, Tombstone):
        return Skip("tombstone", tombstone=decoded)
    topic = record.topic.removeprefix(topic_prefix)
    rule = rules.match(topic, decoded.entity)
    if rule is None:
        return Reject(DeadLetterReason.NO_RULE, f"no rule for topic {topic!r}, entity {decoded.entity!r}", "map")
    echo = echo_reason(decoded, rule)
    if echo is not None:
        return Skip(echo, echo=True)
    try:
        outcome = map_change(decoded, rule)
    except MappingError as exc:
        return Reject(exc.reason, exc.detail, "map")
    except ValidationError as exc:
        return Reject(DeadLetterReason.INVALID_COMMAND, f"rule {rule.name}: {exc.errors()[0]['msg']}", "map")
    if isinstance(outcome, NoCommand):
        return Skip(outcome.why)
    return Emit(outcome, decoded)


@dataclass(frozen=True)
class Evaluated:
    """An OpenText event judged by the status rules: commands to send, then the memory to keep."""

    event: OpenTextEvent
    evaluation: Evaluation


def process_opentext(key: bytes | None, value: bytes | None, record: RecordRef, rules: StatusRuleSet,
                     memory: DocumentMemory | None, *, max_bytes: int) -> Evaluated | Reject:
    """``memory`` is what the status flow knows of the document the record's key names."""
    try:
        event = decode_opentext_event(value, max_bytes=max_bytes)
    except DecodeError as exc:
        return Reject(exc.reason, exc.detail, "decode")
    if key is None or key.decode("utf-8", "replace") != event.kafka_key:
        return Reject(DeadLetterReason.WRONG_ENVELOPE,
                      f"record key {key!r} is not the document id {event.kafka_key}: events are keyed by document",
                      "decode")
    return Evaluated(event, evaluate(rules, event, memory, record))
