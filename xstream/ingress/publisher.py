"""Puts OpenText events (and refused webhook bodies) on Kafka, and waits for the broker's acks.

Through the worker's one publisher (:class:`~xstream.ports.Publisher`). The ingress answers a hook
or moves its checkpoint only after ``publish`` returned: an event the broker did not take is
reported (503 to the hook, no checkpoint) and seen again, never lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from xstream.codec import encode
from xstream.errors import DeadLetterReason
from xstream.model.opentext import OpenTextEvent
from xstream.observability import Metrics
from xstream.ports import Publisher
from xstream.streams.dead_letters import DeadLetters


class EventPublisher:
    def __init__(self, publisher: Publisher, *, events_topic: str, dead_letters: DeadLetters, metrics: Metrics) -> None:
        self._publisher = publisher
        self.events_topic = events_topic
        self._dead_letters = dead_letters
        self._metrics = metrics

    async def publish(self, events: Sequence[OpenTextEvent]) -> None:
        """Send in order (per document order holds) and return once the broker acked every one."""
        deliveries = [await self._publisher.publish(self.events_topic, e.kafka_key.encode(), encode(e)) for e in events]
        await asyncio.gather(*deliveries)
        for event in events:
            self._metrics.ingress_events.labels(event.ingress.value, event.kind.value).inc()

    async def dead_letter(self, raw: bytes, reason: DeadLetterReason, detail: str, *, received: str) -> None:
        """A body an ingress accepted as authentic but could not read: kept with its reason, not dropped."""
        await (await self._dead_letters.send_received(raw, self.events_topic, reason, detail, received=received))
