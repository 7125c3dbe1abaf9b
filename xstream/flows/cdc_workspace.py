"""Flows F1/F4 (into OpenText): CDC topics of ERP/CRM records -> workspace commands.

Each record goes to the pure ``process_cdc``; what comes back is a command keyed by business
object, a skip (tombstone, ignored delete, unchanged update, an echo of xstream's own write: counted)
or a typed reason to dead-letter the record.
"""

from __future__ import annotations

from xstream.codec import encode
from xstream.observability import Metrics
from xstream.pipeline import Emit, Reject, process_cdc
from xstream.routing import Router
from xstream.streams.dead_letters import record_ref
from xstream.streams.flow import Output, Rejected, StateView, Step, StepResult
from xstream.streams.loop import Record
from xstream.transform.rules import RuleSet

FLOW = "cdc_to_workspace"


def source_topics(rules: RuleSet, topic_prefix: str = "") -> list[str]:
    return [topic_prefix + topic for topic in rules.topics]


def make_step(*, rules: RuleSet, router: Router, max_record_bytes: int, metrics: Metrics,
              topic_prefix: str = "") -> Step[None]:
    def step(record: Record, state: StateView[None] | None) -> StepResult[None]:
        ref = record_ref(record)
        outcome = process_cdc(record.key, record.value, ref, rules, max_bytes=max_record_bytes,
                              topic_prefix=topic_prefix)
        if isinstance(outcome, Emit):
            command = outcome.command
            return StepResult("command", outputs=[Output(router.topic_for(command), command.kafka_key.encode(), encode(command),
                                                         command.idempotency_key, what="command")])
        if isinstance(outcome, Reject):
            return StepResult("dead_lettered", rejected=Rejected(outcome.reason, outcome.detail, outcome.stage))
        if outcome.tombstone is not None:
            metrics.tombstones.labels(record.topic).inc()
        if outcome.echo:
            metrics.echoes.labels(FLOW).inc()
        return StepResult("skipped")

    return step
