"""Dead letters: the one builder of the dead-letter record, for flows, sink runners and ingress.

The original key and value are kept (bounded, see :class:`~xstream.model.dead_letter.Payload`) with
the typed reason and where the record was read, so an operator can fix the cause and re-drive it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from aiokafka import ConsumerRecord

from xstream.codec import encode
from xstream.errors import DeadLetterReason
from xstream.model.dead_letter import DeadLetter, Payload, Stage
from xstream.model.record import RecordRef
from xstream.observability import Metrics
from xstream.ports import Clock, Publisher

log = logging.getLogger(__name__)


def record_ref(record: ConsumerRecord[bytes, bytes]) -> RecordRef:
    return RecordRef(topic=record.topic, partition=record.partition, offset=record.offset,
                     timestamp_ms=record.timestamp)


class DeadLetters:
    def __init__(self, publisher: Publisher, topic: str, metrics: Metrics, clock: Clock) -> None:
        self._publisher = publisher
        self.topic = topic
        self._metrics = metrics
        self._clock = clock

    async def send(self, record: ConsumerRecord[bytes, bytes], stage: Stage, reason: DeadLetterReason, detail: str,
                   *, idempotency_key: str | None = None) -> Awaitable[Any]:
        """Queue the dead letter of ``record``; the returned delivery resolves once the broker has it."""
        ref = record_ref(record)
        self._metrics.dead_letters.labels(stage, reason.value).inc()
        if stage == "decode":
            self._metrics.decode_failures.labels(reason.value).inc()
        letter = DeadLetter(
            reason=reason, detail=detail, stage=stage, source=ref,
            key=Payload.of(record.key) if record.key is not None else None,
            value=Payload.of(record.value) if record.value is not None else None,
            idempotency_key=idempotency_key, occurred_at=self._clock.now(),
        )
        log.warning("dead letter", extra={"reason": reason.value, "detail": detail[:500], "record": str(ref),
                                          "stage": stage, "idempotency_key": idempotency_key})
        return await self._publisher.publish(self.topic, record.key, encode(letter), idempotency_key=idempotency_key)

    async def send_received(self, raw: bytes, topic: str, reason: DeadLetterReason, detail: str, *,
                            received: str) -> Awaitable[Any]:
        """Dead-letter a body refused at an ingress before it reached ``topic`` (say how it came in)."""
        self._metrics.dead_letters.labels("decode", reason.value).inc()
        letter = DeadLetter(reason=reason, detail=detail, stage="decode", received=received,
                            source=RecordRef(topic=topic, partition=-1, offset=-1), value=Payload.of(raw),
                            occurred_at=self._clock.now())
        log.warning("dead letter", extra={"reason": reason.value, "detail": detail[:500], "received": received})
        return await self._publisher.publish(self.topic, None, encode(letter))
