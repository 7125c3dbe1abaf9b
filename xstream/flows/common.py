"""What every Faust agent of xstream does around the pure core: deliver, dead-letter, never ack a loss.

Faust acknowledges an event whose agent raised, so agents catch everything. A record that cannot
be processed becomes a dead letter; a dead letter that cannot be delivered (the broker refuses it)
stops the worker *before* the event is acknowledged, so a restarted worker reads it again.
"""

from __future__ import annotations

import asyncio
import logging

import faust
from aiokafka.errors import KafkaError
from faust.exceptions import ProducerSendError

from xstream.codec import encode
from xstream.errors import DeadLetterReason
from xstream.model.commands import ORIGIN
from xstream.model.dead_letter import DeadLetter, Payload, Stage
from xstream.model.record import RecordRef
from xstream.observability import Metrics
from xstream.ports import Clock

log = logging.getLogger(__name__)
ORIGIN_HEADER = ("xstream-origin", ORIGIN.encode())


def raw_topic(app: faust.App, *names: str) -> faust.TopicT:
    return app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


def record_of(message: faust.types.Message) -> RecordRef:
    return RecordRef(topic=message.topic, partition=message.partition, offset=message.offset,
                     timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None)


async def deliver(topic: faust.TopicT, key: bytes | None, value: bytes, *, idempotency_key: str | None = None) -> None:
    """Send and wait for the broker's ack, so a failed send is seen before the event is acknowledged."""
    headers = [ORIGIN_HEADER]
    if idempotency_key:
        headers.append(("xstream-idempotency-key", idempotency_key.encode()))
    delivery = await topic.send(key=key, value=value, headers=headers)
    await delivery


BROKER_ERRORS = (KafkaError, ProducerSendError)
"""A send the broker did not take: the record must be read again, never dead-lettered for it."""


async def stop_unacknowledged(app: faust.App, exc: BaseException, record: RecordRef) -> None:
    """Crash the worker without acknowledging the event: a restarted worker reads it again. For broker
    failures in the middle of an event, whose commands may be half sent (their keys make a repeat safe)."""
    log.critical("the broker refused a send; stopping the worker before the event is acknowledged",
                 extra={"record": str(record), "error": repr(exc)})
    await app.crash(exc)
    await asyncio.Event().wait()


class DeadLetters:
    def __init__(self, app: faust.App, topic: str, metrics: Metrics, clock: Clock) -> None:
        self._app = app
        self._topic = raw_topic(app, topic)
        self._metrics = metrics
        self._clock = clock

    async def send(self, message: faust.types.Message, stage: Stage, reason: DeadLetterReason, detail: str) -> None:
        """Dead-letter ``message``; if even that fails, crash the worker without acknowledging it."""
        record = record_of(message)
        self._metrics.dead_letters.labels(stage, reason.value).inc()
        if stage == "decode":
            self._metrics.decode_failures.labels(reason.value).inc()
        letter = DeadLetter(
            reason=reason, detail=detail, stage=stage, source=record,
            key=Payload.of(message.key) if message.key is not None else None,
            value=Payload.of(message.value) if message.value is not None else None,
            occurred_at=self._clock.now(),
        )
        log.warning("dead letter", extra={"reason": reason.value, "detail": detail, "record": str(record)})
        try:
            await deliver(self._topic, message.key, encode(letter))
        except Exception as fatal:  # noqa: BLE001 - the broker refuses even the dead letter
            await stop_unacknowledged(self._app, fatal, record)  # never returns
