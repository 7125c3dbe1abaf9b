"""Flow F1 on Apache Kafka with the production client profile (idempotent producer, acks=all).

Tansu cannot run these settings (InitProducerId fails), so this module brings its own Apache Kafka
in a container, or uses ``XSTREAM_TEST_BOOTSTRAP`` when it names Apache Kafka, and skips with the
reason where neither is available.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import APACHE_KAFKA_IMAGE, Broker, docker_unavailable_reason
from tests.integration.conftest import Stack
from tests.integration.test_f1_workspaces import run_scenario, workspaces_by_bo
from xstream.demo import scenario as sc

pytestmark = [pytest.mark.integration, pytest.mark.kafka_only]


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    external = os.environ.get("XSTREAM_TEST_BOOTSTRAP")
    if external and os.environ.get("XSTREAM_TEST_FLAVOUR", "kafka") == "kafka":
        yield Broker(external, "kafka")
        return
    reason = docker_unavailable_reason()
    if reason:
        pytest.skip(f"needs Apache Kafka: {reason}")
    from testcontainers.community.kafka import KafkaContainer

    with KafkaContainer(APACHE_KAFKA_IMAGE).with_kraft() as kafka:
        yield Broker(kafka.get_bootstrap_server(), "kafka")


async def test_f1_with_idempotent_producers_on_apache_kafka(stack: Stack) -> None:
    assert stack.broker.flavour == "kafka"
    scenario = sc.build(customers=20, snapshot_reads=5, updates=10, replays=5)
    await run_scenario(stack, scenario)
    state = await stack.admin("state")
    assert len(state["workspaces"]) == 20
    assert all(len(found) == 1 for found in workspaces_by_bo(state).values())
