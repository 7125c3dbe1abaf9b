"""A worker that cannot reach Kafka says so in seconds, naming the brokers and why, not after a 40 s timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from xstream_emulators.embedded import free_port

from xstream.errors import BrokerUnreachable, ConfigError
from xstream.kafka import reach_brokers
from xstream.publisher import KafkaPublisher
from xstream.settings import KafkaSettings


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A port that accepts TCP connections and never answers: a broker that hangs, or the wrong service."""
    held: list[asyncio.StreamWriter] = []  # kept open: a collected writer would close its connection

    def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_refused_broker_is_named_at_once() -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    with pytest.raises(BrokerUnreachable) as caught:
        await reach_brokers(f"127.0.0.1:{port}", 5.0)
    assert time.monotonic() - started < 2
    assert str(caught.value) == (f"no Kafka broker could be reached (XSTREAM_KAFKA__BOOTSTRAP=127.0.0.1:{port}): "
                                 f"127.0.0.1:{port} refused the connection")


async def test_one_reachable_broker_of_the_list_is_enough(silent_port: int) -> None:
    await reach_brokers(f"127.0.0.1:{free_port()},127.0.0.1:{silent_port}", 2.0)


async def test_a_bootstrap_that_is_no_list_of_host_port_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"XSTREAM_KAFKA__BOOTSTRAP '127.0.0.1:abc': not a list of HOST:PORT"):
        await reach_brokers("127.0.0.1:abc", 1.0)


async def test_a_broker_that_never_answers_fails_the_start_within_the_connect_timeout(silent_port: int) -> None:
    publisher = KafkaPublisher(KafkaSettings(bootstrap=f"127.0.0.1:{silent_port}", connect_timeout_s=0.5))
    started = time.monotonic()
    with pytest.raises(BrokerUnreachable) as caught:
        await publisher.start()
    assert time.monotonic() - started < 3  # aiokafka alone waits its 40 s request timeout
    assert str(caught.value) == (f"the Kafka broker(s) at XSTREAM_KAFKA__BOOTSTRAP=127.0.0.1:{silent_port} accepted "
                                 "a connection but the producer could not start: did not answer as Kafka within 0.5 s")
    await publisher.stop()  # nothing started: a no-op
