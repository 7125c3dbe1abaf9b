"""Flows F3 and F6 (out of OpenText): OpenText events -> status rules -> downstream commands.

The events topic is keyed by document, and so is the table that remembers each document's last
observation and handled workflow outcomes (its changelog restores it on another worker). The
agent hands record and memory to the pure ``process_opentext`` and does the I/O: it sends the
commands and waits for the broker's acks *before* it stores the new memory, so a crash in between
re-evaluates the event with the old memory and sends the same commands (same idempotency keys)
again rather than losing them. Actions that could not become commands dead-letter the event.
"""

from __future__ import annotations

import logging

import faust

from xstream.codec import encode
from xstream.errors import DeadLetterReason
from xstream.flows.common import (
    BROKER_ERRORS,
    DeadLetters,
    deliver,
    raw_topic,
    record_of,
    stop_unacknowledged,
)
from xstream.observability import Metrics
from xstream.pipeline import Reject, process_opentext
from xstream.transform.status_engine import DocumentMemory
from xstream.transform.status_rules import StatusRuleSet

log = logging.getLogger(__name__)
FLOW = "opentext_status"
TABLE = "opentext_documents"


def register(app: faust.App, *, rules: StatusRuleSet, events_topic: str, downstream_topic: str,
             dead_letters: DeadLetters, max_record_bytes: int, metrics: Metrics) -> None:
    events, downstream = raw_topic(app, events_topic), raw_topic(app, downstream_topic)
    memory = app.Table(TABLE, schema=faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw",
                                                  value_serializer="raw"),
                       help="per OpenText document: the last observation and the workflow outcomes handled")

    @app.agent(events, name=FLOW)
    async def opentext_status(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            record = record_of(message)
            try:
                stored = memory.get(message.key) if message.key is not None else None
                known = DocumentMemory.model_validate_json(stored) if stored else None
                outcome = process_opentext(message.key, message.value, record, rules, known,
                                           max_bytes=max_record_bytes)
                if isinstance(outcome, Reject):
                    metrics.events.labels(FLOW, "dead_lettered").inc()
                    await dead_letters.send(message, outcome.stage, outcome.reason, outcome.detail)
                    continue
                evaluation = outcome.evaluation
                for command in evaluation.commands:
                    await deliver(downstream, command.kafka_key.encode(), encode(command),
                                  idempotency_key=command.idempotency_key)
                    metrics.rule_commands.labels(command.rule or "", command.kind).inc()
                if evaluation.problems:
                    metrics.events.labels(FLOW, "dead_lettered").inc()
                    await dead_letters.send(message, "map", DeadLetterReason.MAPPING_FAILED,
                                            "; ".join(evaluation.problems))
                elif evaluation.commands:
                    metrics.events.labels(FLOW, "command").inc()
                else:
                    metrics.events.labels(FLOW, "skipped").inc()
                if evaluation.skipped is not None:
                    metrics.opentext_skipped.labels(evaluation.skipped.split(":", 1)[0]).inc()
                if evaluation.memory is not None and message.key is not None:
                    memory[message.key] = evaluation.memory.model_dump_json().encode()
                log.info("opentext event", extra={
                    "document": outcome.event.kafka_key, "kind": outcome.event.kind.value,
                    "ingress": outcome.event.ingress.value, "event_id": outcome.event.event_id,
                    "commands": len(evaluation.commands), "skipped": evaluation.skipped,
                    "rules": [v.rule for v in evaluation.verdicts if v.matched]})
            except BROKER_ERRORS as exc:
                await stop_unacknowledged(app, exc, record_of(message))
            except Exception as exc:  # noqa: BLE001 - an agent must never raise (faust would ack and drop)
                log.exception("unexpected error in the OpenText status flow", extra={"record": str(record)})
                metrics.events.labels(FLOW, "dead_lettered").inc()
                await dead_letters.send(message, "map", DeadLetterReason.MAPPING_FAILED,
                                        f"unexpected {type(exc).__name__}: {exc}")
