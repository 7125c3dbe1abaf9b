"""The one Kafka producer of a worker and the one way records are produced with xstream's headers.

Every record xstream writes (commands, status events, dead letters, OpenText events, state) goes
through :class:`KafkaPublisher`: one producer per process batches across all of them, and the
headers are written in one place. A record larger than the producer's request limit is refused
here, before it is queued, with :class:`RecordTooLarge`; the broker's own refusal of a large
record (its limit may be lower) surfaces the same way from the delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordTooLargeError

from xstream.errors import BrokerUnreachable, XStreamError
from xstream.kafka import make_producer, reach_brokers
from xstream.model.commands import ORIGIN
from xstream.ports import Header
from xstream.settings import KafkaSettings

ORIGIN_HEADER = "xstream-origin"
IDEMPOTENCY_HEADER = "xstream-idempotency-key"
SIZE_ERRORS = (MessageSizeTooLargeError, RecordTooLargeError)
"""The record itself is too large: a property of the input, never a broker outage."""


class RecordTooLarge(XStreamError):
    """A record the producer or the broker refuses for its size: the input that made it goes to the
    dead-letter topic (reason ``oversize``); it is never retried and never crashes the worker."""


def too_large(exc: BaseException) -> bool:
    return isinstance(exc, RecordTooLarge | SIZE_ERRORS)


class KafkaPublisher:
    def __init__(self, kafka: KafkaSettings, client_suffix: str = "publisher",
                 producer: AIOKafkaProducer | None = None) -> None:
        self._producer = producer or make_producer(kafka, client_suffix)
        self._bootstrap = kafka.bootstrap
        self._timeout_s = kafka.connect_timeout_s
        self._started = False

    async def start(self) -> None:
        """Reach the brokers, then start the producer, each within ``kafka.connect_timeout_s``: the first
        contact of a worker with Kafka, so an unreachable broker stops it here with BrokerUnreachable."""
        if self._started:
            return
        try:
            await reach_brokers(self._bootstrap, self._timeout_s)
            await asyncio.wait_for(self._producer.start(), self._timeout_s)
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await self._producer.stop()  # never started or half started: release its client
            if not isinstance(exc, KafkaError | OSError | TimeoutError):
                raise
            why = (f"did not answer as Kafka within {self._timeout_s:g} s" if isinstance(exc, TimeoutError)
                   else f"{type(exc).__name__}: {exc}")
            raise BrokerUnreachable(f"the Kafka broker(s) at XSTREAM_KAFKA__BOOTSTRAP={self._bootstrap} "
                                    f"accepted a connection but the producer could not start: {why}") from exc
        self._started = True

    async def stop(self) -> None:
        if self._started:
            await self._producer.stop()
            self._started = False

    async def publish(self, topic: str, key: bytes | None, value: bytes | None, *, partition: int | None = None,
                      idempotency_key: str | None = None, headers: Sequence[Header] = ()) -> Awaitable[Any]:
        sent = [(ORIGIN_HEADER, ORIGIN.encode()), *headers]
        if idempotency_key:
            sent.append((IDEMPOTENCY_HEADER, idempotency_key.encode()))
        try:
            delivery: asyncio.Future[Any] = await self._producer.send(topic, value=value, key=key,
                                                                      partition=partition, headers=sent)
        except SIZE_ERRORS as exc:
            raise RecordTooLarge(f"{topic}: {exc}") from exc
        return delivery

    async def partitions(self, topic: str) -> int:
        return len(await self._producer.partitions_for(topic))

    async def flush(self) -> None:
        await self._producer.flush()
