"""aiokafka clients built from settings, and topic creation. Broker-specific choices come from the profile."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code
from pydantic import BaseModel

from xstream.errors import ConfigError
from xstream.settings import KafkaSettings
from xstream.topics import TopicSpec

M = TypeVar("M", bound=BaseModel)

log = logging.getLogger(__name__)


def make_producer(kafka: KafkaSettings, client_suffix: str) -> AIOKafkaProducer:
    profile = kafka.profile
    return AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap,
        client_id=f"{kafka.client_id}-{client_suffix}",
        acks=profile.acks,
        enable_idempotence=profile.enable_idempotence,
        linger_ms=profile.producer_linger_ms,
    )


MAX_POLL_INTERVAL_MS = 300_000


def make_consumer(kafka: KafkaSettings, group_id: str) -> AIOKafkaConsumer:
    """A consumer with manual commits; the caller subscribes (with its rebalance listener)."""
    profile = kafka.profile
    return AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap,
        client_id=f"{kafka.client_id}-{group_id}",
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=profile.session_timeout_ms,
        heartbeat_interval_ms=profile.heartbeat_interval_ms,
        rebalance_timeout_ms=profile.rebalance_timeout_ms,
        isolation_level="read_uncommitted",
        max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
        fetch_max_wait_ms=profile.fetch_max_wait_ms,
    )


@dataclass(frozen=True)
class ApplyResult:
    created: list[str]
    existing: list[str]


async def apply_topics(kafka: KafkaSettings, specs: list[TopicSpec]) -> ApplyResult:
    """Create the declared topics that do not exist yet; existing topics are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap, client_id=f"{kafka.client_id}-admin")
    await admin.start()
    try:
        present = set(await admin.list_topics())
        created, existing = [], []
        for spec in specs:
            if spec.name in present:
                existing.append(spec.name)
                continue
            topic = NewTopic(spec.name, spec.partitions, kafka.replication_factor, topic_configs=spec.config())
            response = await admin.create_topics([topic])
            # create_topics reports per-topic errors in the response instead of raising them.
            for name, code, *detail in response.topic_errors:
                if code == 0:
                    created.append(name)
                elif code == TopicAlreadyExistsError.errno:
                    existing.append(name)
                else:
                    error = for_code(code)
                    raise ConfigError(f"cannot create topic {name}: {error.__name__} {detail[0] if detail else ''}")
        return ApplyResult(created, existing)
    finally:
        await admin.close()
