"""Puts OpenText events (and refused webhook bodies) on Kafka, and waits for the broker's acks.

The ingress answers a hook or moves its checkpoint only after ``publish`` returned: an event the
broker did not take is reported (503 to the hook, no checkpoint) and seen again, never lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from xstream.codec import encode
from xstream.errors import DeadLetterReason
from xstream.kafka import make_producer
from xstream.model.commands import ORIGIN
from xstream.model.dead_letter import DeadLetter, Payload
from xstream.model.opentext import OpenTextEvent
from xstream.model.record import RecordRef
from xstream.observability import Metrics
from xstream.ports import Clock
from xstream.settings import KafkaSettings

log = logging.getLogger(__name__)


class EventPublisher:
    def __init__(self, kafka: KafkaSettings, *, events_topic: str, dead_letter_topic: str, metrics: Metrics,
                 clock: Clock, client_suffix: str) -> None:
        self._producer = make_producer(kafka, client_suffix)
        self.events_topic = events_topic
        self._dead_letter_topic = dead_letter_topic
        self._metrics = metrics
        self._clock = clock

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, events: Sequence[OpenTextEvent]) -> None:
        """Send in order (per document order holds) and return once the broker acked every one."""
        headers = [("xstream-origin", ORIGIN.encode())]
        deliveries = [await self._producer.send(self.events_topic, key=e.kafka_key.encode(), value=encode(e),
                                                headers=headers) for e in events]
        await asyncio.gather(*deliveries)
        for event in events:
            self._metrics.ingress_events.labels(event.ingress.value, event.kind.value).inc()

    async def dead_letter(self, raw: bytes, reason: DeadLetterReason, detail: str, *, received: str) -> None:
        """A body an ingress accepted as authentic but could not read: kept with its reason, not dropped."""
        self._metrics.dead_letters.labels("decode", reason.value).inc()
        letter = DeadLetter(reason=reason, detail=detail, stage="decode", received=received,
                            source=RecordRef(topic=self.events_topic, partition=-1, offset=-1),
                            value=Payload.of(raw), occurred_at=self._clock.now())
        log.warning("dead letter", extra={"reason": reason.value, "detail": detail, "received": received})
        await self._producer.send_and_wait(self._dead_letter_topic, key=None, value=encode(letter),
                                           headers=[("xstream-origin", ORIGIN.encode())])
