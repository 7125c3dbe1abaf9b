"""Test fixtures. The broker is chosen once per session:

1. ``XSTREAM_TEST_BOOTSTRAP=host:port``: an external broker (``XSTREAM_TEST_FLAVOUR``: kafka|tansu, default kafka);
2. ``XSTREAM_TEST_KAFKA=testcontainers``: Apache Kafka in a container, skipped with the reason when no
   Docker engine answers;
3. otherwise the embedded Tansu broker, started here and stopped at the end of the session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from xstream_emulators.embedded import EmbeddedBroker

APACHE_KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"  # Apache Kafka 3.6 in KRaft mode


@dataclass(frozen=True)
class Broker:
    bootstrap: str
    flavour: str  # "tansu" | "kafka"


def docker_unavailable_reason() -> str | None:
    """None when a Docker engine answers a ping, else why not (fails fast: about 1 ms without an engine)."""
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "no engine here"
        return f"no Docker engine answers ({type(exc).__name__}: {str(exc)[:120]})"
    return None


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    external = os.environ.get("XSTREAM_TEST_BOOTSTRAP")
    if external:
        yield Broker(external, os.environ.get("XSTREAM_TEST_FLAVOUR", "kafka"))
    elif os.environ.get("XSTREAM_TEST_KAFKA") == "testcontainers":
        reason = docker_unavailable_reason()
        if reason:
            pytest.skip(f"XSTREAM_TEST_KAFKA=testcontainers but {reason}")
        from testcontainers.community.kafka import KafkaContainer

        with KafkaContainer(APACHE_KAFKA_IMAGE).with_kraft() as kafka:
            yield Broker(kafka.get_bootstrap_server(), "kafka")
    else:
        with EmbeddedBroker() as embedded:
            yield Broker(embedded.bootstrap, "tansu")
