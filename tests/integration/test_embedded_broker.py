"""The embedded broker answers Kafka clients and never outlives its owner, whatever way the owner ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from xstream_emulators.embedded import EmbeddedBroker, port_open


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead for our purposes
        return stat.read().split()[2] != "Z"


async def test_round_trip_then_stop_leaves_nothing_behind() -> None:
    with EmbeddedBroker() as broker:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        await producer.send_and_wait("probe", b"hello", key=b"k")
        await producer.stop()
        consumer = AIOKafkaConsumer("probe", bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        record = await consumer.getone()
        await consumer.stop()
        assert record.value == b"hello"
        pid = broker._proc.pid if broker._proc else -1
    assert not port_open(broker.host, broker.port)
    assert not pid_alive(pid)


def test_broker_stops_when_the_owner_raises() -> None:
    try:
        with EmbeddedBroker() as broker:
            pid = broker._proc.pid if broker._proc else -1
            raise RuntimeError("test failure")
    except RuntimeError:
        pass
    assert not pid_alive(pid)


def test_broker_dies_with_an_owner_that_is_killed() -> None:
    script = ("from xstream_emulators.embedded import EmbeddedBroker; import time\n"
              "b = EmbeddedBroker().start(); print(b._proc.pid, flush=True); time.sleep(60)")
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    broker_pid = int(owner.stdout.readline())  # type: ignore[union-attr]
    assert pid_alive(broker_pid)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    deadline = time.monotonic() + 5
    while pid_alive(broker_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(broker_pid)
