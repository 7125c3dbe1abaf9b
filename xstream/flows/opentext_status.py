"""Flows F3 and F6 (out of OpenText): OpenText events -> status rules -> downstream commands.

The events topic is keyed by document, and so is the flow's state: each document's last observation
and the workflow outcomes handled (:class:`DocumentMemory`, on the state topic, co-partitioned with
the events). The pure ``process_opentext`` judges the event against that memory; the runner sends
the commands and writes the new memory only *after* the commands were acked, so a crash in between
re-evaluates the event with the old memory and sends the same commands (same idempotency keys)
again rather than losing them. Actions that could not become commands dead-letter the event.
"""

from __future__ import annotations

import logging

from xstream.codec import encode
from xstream.errors import DeadLetterReason
from xstream.observability import Metrics
from xstream.pipeline import Reject, process_opentext
from xstream.routing import Router
from xstream.streams.dead_letters import record_ref
from xstream.streams.flow import Output, Rejected, StateView, Step, StepResult
from xstream.streams.loop import Record
from xstream.transform.status_engine import DocumentMemory
from xstream.transform.status_rules import StatusRuleSet

log = logging.getLogger(__name__)
FLOW = "opentext_status"
TABLE = "opentext_documents"


def make_step(*, rules: StatusRuleSet, router: Router, max_record_bytes: int,
              metrics: Metrics) -> Step[DocumentMemory]:
    def step(record: Record, state: StateView[DocumentMemory] | None) -> StepResult[DocumentMemory]:
        key = record.key.decode("utf-8", "replace") if record.key is not None else None
        known = state.get(key) if state is not None and key is not None else None
        outcome = process_opentext(record.key, record.value, record_ref(record), rules, known,
                                   max_bytes=max_record_bytes)
        if isinstance(outcome, Reject):
            return StepResult("dead_lettered", rejected=Rejected(outcome.reason, outcome.detail, outcome.stage))
        evaluation = outcome.evaluation
        outputs = []
        for command in evaluation.commands:
            outputs.append(Output(router.topic_for(command), command.kafka_key.encode(), encode(command),
                                  command.idempotency_key, what=f"{command.kind} command"))
            metrics.rule_commands.labels(command.rule or "", command.kind).inc()
        if evaluation.skipped is not None:
            metrics.opentext_skipped.labels(evaluation.skipped.split(":", 1)[0]).inc()
        log.info("opentext event", extra={
            "document": outcome.event.kafka_key, "kind": outcome.event.kind.value,
            "ingress": outcome.event.ingress.value, "event_id": outcome.event.event_id,
            "commands": len(evaluation.commands), "skipped": evaluation.skipped,
            "rules": [v.rule for v in evaluation.verdicts if v.matched]})
        memory = [(key, evaluation.memory)] if evaluation.memory is not None and key is not None else []
        if evaluation.problems:
            return StepResult("dead_lettered", outputs=outputs, state=memory, rejected=Rejected(
                DeadLetterReason.MAPPING_FAILED, "; ".join(evaluation.problems), "map"))
        return StepResult("command" if outputs else "skipped", outputs=outputs, state=memory)

    return step
