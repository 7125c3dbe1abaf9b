"""aiokafka clients built from settings, and topic creation. Broker-specific choices come from the profile."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import collect_hosts
from aiokafka.errors import TopicAlreadyExistsError, for_code

from xstream.errors import BrokerUnreachable, ConfigError
from xstream.settings import KafkaSettings
from xstream.topics import TopicSpec

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


async def reach_brokers(bootstrap: str, timeout_s: float) -> None:
    """Open a TCP connection to every bootstrap broker at once; when none connects within ``timeout_s``,
    raise BrokerUnreachable naming each broker and why (refused, name not found, no answer).

    aiokafka alone logs an error per broker and fails with a traceback, or, for an address that drops
    packets, only after its 40 s request timeout; this says in one line which brokers and why.
    """
    try:
        hosts = [(host, port) for host, port, _ in collect_hosts(bootstrap, randomize=False)]
    except ValueError as exc:
        raise ConfigError(f"XSTREAM_KAFKA__BOOTSTRAP {bootstrap!r}: not a list of HOST:PORT ({exc})") from exc
    reasons = await asyncio.gather(*(_reach(host, port, timeout_s) for host, port in hosts))
    if hosts and all(reason is not None for reason in reasons):
        detail = "; ".join(f"{host}:{port} {reason}" for (host, port), reason in zip(hosts, reasons, strict=True))
        raise BrokerUnreachable(f"no Kafka broker could be reached (XSTREAM_KAFKA__BOOTSTRAP={bootstrap}): {detail}")


async def _reach(host: str, port: int, timeout_s: float) -> str | None:
    """None when a TCP connection to the broker opens within the timeout, else why not."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except TimeoutError:
        return f"did not answer within {timeout_s:g} s"
    except socket.gaierror:
        return "is not a known host name"
    except ConnectionRefusedError:
        return "refused the connection"
    except OSError as exc:
        return f"could not be reached ({exc.strerror or type(exc).__name__})"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None


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
