"""Flow F2 (documents both ways): attachment notifications and approval decisions -> document commands
(``documents_in``), and OpenText document observations -> publish commands (``documents_out``).

Each record goes to the pure core (``transform/documents.py``) and what comes back is routed; bodies
are never here: the document sink streams them.
"""

from __future__ import annotations

from pydantic import ValidationError

from xstream.codec import decode_change, decode_opentext_event, encode
from xstream.errors import DeadLetterReason, DecodeError, MappingError
from xstream.model.change import Tombstone
from xstream.model.documents import MarkDocument, SetDocumentAttributes, StoreDocument
from xstream.observability import Metrics
from xstream.routing import Router
from xstream.streams.dead_letters import record_ref
from xstream.streams.flow import Output, Rejected, StateView, Step, StepResult
from xstream.streams.loop import Record
from xstream.transform.document_rules import DocumentRuleSet
from xstream.transform.documents import NoDocument, plan_approval, plan_inbound, plan_outbound

FLOW_IN, FLOW_OUT = "documents_in", "documents_out"


def inbound_topics(rules: DocumentRuleSet, topic_prefix: str = "") -> list[str]:
    return [topic_prefix + topic for topic in rules.topics]


def make_inbound_step(*, rules: DocumentRuleSet, router: Router, max_record_bytes: int, metrics: Metrics,
                      topic_prefix: str = "") -> Step[None]:
    def step(record: Record, state: StateView[None] | None) -> StepResult[None]:
        ref = record_ref(record)
        topic = record.topic.removeprefix(topic_prefix)
        try:
            event = decode_change(record.key, record.value, ref, max_bytes=max_record_bytes)
            if isinstance(event, Tombstone):
                metrics.tombstones.labels(record.topic).inc()
                return StepResult("skipped")
            inbound, approvals = rules.inbound_for(topic), rules.approvals_for(topic)
            system = topic.split(".", 1)[0]
            planned: StoreDocument | MarkDocument | SetDocumentAttributes | NoDocument
            if inbound is not None:
                planned = plan_inbound(event, inbound, rules.attributes, system)
            elif approvals is not None:
                planned = plan_approval(event, approvals, rules.attributes, system)
            else:  # pragma: no cover - the flow reads only the rules' topics
                return StepResult("skipped")
        except DecodeError as exc:
            return StepResult("dead_lettered", rejected=Rejected(exc.reason, exc.detail, "decode"))
        except MappingError as exc:
            return StepResult("dead_lettered", rejected=Rejected(exc.reason, exc.detail, "map"))
        except ValidationError as exc:  # a value the command cannot hold (e.g. a file name over 248 characters)
            return StepResult("dead_lettered", rejected=Rejected(DeadLetterReason.INVALID_COMMAND,
                                                                 exc.errors()[0]["msg"], "map"))
        if isinstance(planned, NoDocument):
            if planned.echo:
                metrics.echoes.labels(FLOW_IN).inc()
            return StepResult("skipped")
        return StepResult("command", outputs=[Output(router.topic_for(planned), planned.kafka_key.encode(),
                                                     encode(planned), planned.idempotency_key,
                                                     what=f"{planned.kind} command")])

    return step


def make_outbound_step(*, rules: DocumentRuleSet, router: Router, max_record_bytes: int) -> Step[None]:
    def step(record: Record, state: StateView[None] | None) -> StepResult[None]:
        try:
            event = decode_opentext_event(record.value, max_bytes=max_record_bytes)
        except DecodeError:
            return StepResult("skipped")  # the status flow, which reads the same topic, dead-letters it once
        try:
            commands = plan_outbound(event, rules, record_ref(record))
        except MappingError as exc:
            return StepResult("dead_lettered", rejected=Rejected(exc.reason, exc.detail, "map"))
        except ValidationError as exc:
            return StepResult("dead_lettered", rejected=Rejected(DeadLetterReason.INVALID_COMMAND,
                                                                 exc.errors()[0]["msg"], "map"))
        if not commands:
            return StepResult("skipped")
        return StepResult("command", outputs=[Output(router.topic_for(c), c.kafka_key.encode(), encode(c),
                                                     c.idempotency_key, what="publish command") for c in commands])

    return step
