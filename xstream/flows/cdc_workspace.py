"""Flows F1/F4 (into OpenText): CDC topics of ERP/CRM records -> workspace commands.

The agent does I/O only: it hands each record to the pure ``process_cdc`` and sends what comes
back, a command keyed by business object or a dead letter keyed by the original key. Skips are
counted (tombstones, ignored deletes, unchanged updates, and echoes of xstream's own writes).
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
from xstream.pipeline import Emit, Reject, Skip, process_cdc
from xstream.transform.rules import RuleSet

log = logging.getLogger(__name__)
FLOW = "cdc_to_workspace"


def register(app: faust.App, *, rules: RuleSet, commands_topic: str, dead_letters: DeadLetters,
             max_record_bytes: int, metrics: Metrics, topic_prefix: str = "") -> None:
    source = raw_topic(app, *(topic_prefix + topic for topic in rules.topics))
    commands = raw_topic(app, commands_topic)

    @app.agent(source, name=FLOW)
    async def cdc_to_workspace(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            record = record_of(message)
            try:
                outcome = process_cdc(message.key, message.value, record, rules, max_bytes=max_record_bytes,
                                      topic_prefix=topic_prefix)
                if isinstance(outcome, Emit):
                    metrics.events.labels(FLOW, "command").inc()
                    command = outcome.command
                    await deliver(commands, command.kafka_key.encode(), encode(command),
                                  idempotency_key=command.idempotency_key)
                elif isinstance(outcome, Skip):
                    metrics.events.labels(FLOW, "skipped").inc()
                    if outcome.tombstone is not None:
                        metrics.tombstones.labels(record.topic).inc()
                    if outcome.echo:
                        metrics.echoes.labels(FLOW).inc()
                elif isinstance(outcome, Reject):
                    metrics.events.labels(FLOW, "dead_lettered").inc()
                    await dead_letters.send(message, outcome.stage, outcome.reason, outcome.detail)
            except BROKER_ERRORS as exc:
                await stop_unacknowledged(app, exc, record_of(message))
            except Exception as exc:  # noqa: BLE001 - an agent must never raise (faust would ack and drop)
                log.exception("unexpected error in flow", extra={"record": str(record)})
                metrics.events.labels(FLOW, "dead_lettered").inc()
                await dead_letters.send(message, "map", DeadLetterReason.MAPPING_FAILED,
                                        f"unexpected {type(exc).__name__}: {exc}")
