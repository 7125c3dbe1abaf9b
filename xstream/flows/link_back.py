"""Flow F4 (links back): workspace outcomes -> ``update_record`` commands for the source system.

Reads the status topic; for each applied (or already applied) workspace command whose rule has a
``link_back`` section, the pure ``link_back_command`` builds the downstream command (the workspace
URL and id for the source record) and this agent sends it, keyed by business object, to the
downstream command topic. A replayed status gives the same idempotency key, so the target answers
it from its Idempotency-Key store without changing anything.
"""

from __future__ import annotations

import logging

import faust
from pydantic import ValidationError

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
from xstream.model.status import StatusEvent
from xstream.observability import Metrics
from xstream.transform.link_back import link_back_command
from xstream.transform.rules import RuleSet

log = logging.getLogger(__name__)
FLOW = "link_back"


def register(app: faust.App, *, rules: RuleSet, status_topic: str, downstream_topic: str,
             dead_letters: DeadLetters, metrics: Metrics) -> None:
    statuses, downstream = raw_topic(app, status_topic), raw_topic(app, downstream_topic)

    @app.agent(statuses, name=FLOW)
    async def link_back(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            try:
                status = StatusEvent.model_validate_json(message.value or b"")
                command = link_back_command(rules, status)
                if command is None:
                    metrics.events.labels(FLOW, "skipped").inc()
                    continue
                metrics.events.labels(FLOW, "command").inc()
                await deliver(downstream, command.kafka_key.encode(), encode(command),
                              idempotency_key=command.idempotency_key)
            except ValidationError as exc:
                metrics.events.labels(FLOW, "dead_lettered").inc()
                await dead_letters.send(message, "map", DeadLetterReason.WRONG_ENVELOPE,
                                        f"not a status event: {exc.errors()[0]['msg']}")
            except BROKER_ERRORS as exc:
                await stop_unacknowledged(app, exc, record_of(message))
            except Exception as exc:  # noqa: BLE001 - an agent must never raise (faust would ack and drop)
                log.exception("unexpected error in link-back flow", extra={"record": str(record_of(message))})
                metrics.events.labels(FLOW, "dead_lettered").inc()
                await dead_letters.send(message, "map", DeadLetterReason.MAPPING_FAILED,
                                        f"unexpected {type(exc).__name__}: {exc}")
