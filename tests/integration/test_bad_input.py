"""Bad input on every input topic of a real worker: each bad record is dead-lettered once with the reason
the pure core gives it, every good record is applied, and the worker never stops.

The bad records are the fuzz corpus's mutations (tests/unit/fuzz/corpus.py): truncations, byte flips,
wrong JSON types, deep nesting, invalid UTF-8 and lone surrogates, NaN, duplicate keys, oversize and
null values, drawn with a fixed seed and kept only where the pure entry point refuses them (a mutation
that is still a valid record is not bad input).
"""

from __future__ import annotations

import random
from collections import Counter

import orjson
import pytest
from pydantic import TypeAdapter

from tests.integration.conftest import Stack
from tests.unit.fuzz import corpus
from xstream.codec import decode_command
from xstream.demo import scenario as sc
from xstream.demo.harness import produce
from xstream.demo.scenario import CdcRecord
from xstream.errors import DecodeError
from xstream.model.commands import DownstreamCommand, WorkspaceCommand
from xstream.model.record import RecordRef
from xstream.pipeline import Reject, process_cdc, process_opentext
from xstream.topics import Role
from xstream.transform.rule_files import RULES_DIR, STATUS_RULES_DIR, load_rule_files, load_status_rule_files

pytestmark = pytest.mark.integration
MAX_BYTES = 65_536
PER_TOPIC = 60


def mutated(valid: bytes, rng: random.Random) -> bytes:
    doc = orjson.loads(valid)
    path = rng.choice(list(corpus.paths(doc)))
    kind = rng.randrange(6)
    if kind == 0:
        return valid[:rng.randrange(len(valid))]
    if kind == 1:
        at = rng.randrange(len(valid))
        return valid[:at] + bytes([rng.randrange(256)]) + valid[at + 1:]
    if kind == 2:
        return orjson.dumps(corpus.replaced(doc, path, rng.choice(corpus.WRONG_TYPES)))
    if kind == 3:
        return corpus.splice(doc, path, rng.choice(corpus.RAW_FRAGMENTS))
    if kind == 4:
        return corpus.sized(valid, MAX_BYTES + 1 + rng.randrange(100))
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))


async def test_bad_records_on_every_input_are_dead_lettered_and_good_ones_applied(stack: Stack) -> None:
    rng = random.Random(20261203)
    rules, status_rules = load_rule_files([RULES_DIR]), load_status_rule_files([STATUS_RULES_DIR])
    ref = RecordRef(topic="t", partition=0, offset=0)
    samples = [s for s in corpus.cdc_samples() if s.topic == "erp.cdc.customers"]
    bad_cdc: list[CdcRecord] = []
    while len(bad_cdc) < PER_TOPIC:
        sample = rng.choice(samples)
        value = mutated(sample.value, rng)
        key = sample.key if rng.random() < 0.8 else rng.choice([None, b"", b"\xff", b"[[[", sample.key])
        if isinstance(process_cdc(key, value, ref.model_copy(update={"topic": sample.topic}), rules,
                                  max_bytes=MAX_BYTES), Reject):
            bad_cdc.append(CdcRecord(key, value, "bad"))
    events = corpus.opentext_samples()
    bad_events: list[tuple[bytes | None, bytes]] = []
    while len(bad_events) < PER_TOPIC:
        _, valid, _ = rng.choice(events)
        doc = orjson.loads(valid)
        key = str(doc["document"]["node_id"]).encode() if rng.random() < 0.8 else rng.choice([None, b"1", b"\xff"])
        value = mutated(valid, rng)
        if isinstance(process_opentext(key, value, ref, status_rules, None, max_bytes=MAX_BYTES), Reject):
            bad_events.append((key, value))
    bad_commands: dict[str, list[bytes]] = {}
    erp_commands = stack.catalog.for_target(Role.DOWNSTREAM_COMMANDS, "erp").name
    for topic, adapter in ((stack.topic(Role.COMMANDS), TypeAdapter(WorkspaceCommand)),
                           (erp_commands, TypeAdapter(DownstreamCommand))):
        found = bad_commands.setdefault(topic, [])
        valid = orjson.dumps({"kind": "update_record", "idempotency_key": "k" * 20, "target": "erp"})
        while len(found) < PER_TOPIC // 2:
            value = mutated(valid, rng)
            try:
                decode_command(value, adapter, max_bytes=MAX_BYTES)
            except DecodeError:
                found.append(value)

    scenario = sc.build(customers=20, snapshot_reads=0, updates=0, replays=0)
    for bo_id, row in scenario.customers.items():
        await stack.admin("records/customers", "POST", {**row, "id": bo_id}, target="erp")
    collector = await stack.collect(Role.STATUS, Role.DEAD_LETTER)
    worker = stack.start_worker(XSTREAM_WORKER__MAX_RECORD_BYTES=str(MAX_BYTES))
    mixed = list(scenario.records) + bad_cdc
    rng.shuffle(mixed)
    await produce(stack.broker.bootstrap, stack.cdc_topic, mixed)
    await produce(stack.broker.bootstrap, stack.topic(Role.OPENTEXT_EVENTS),
                  [CdcRecord(k, v, "bad") for k, v in bad_events])
    for topic, values in bad_commands.items():
        await produce(stack.broker.bootstrap, topic, [CdcRecord(b"SAP/KNA1/bad", v, "bad") for v in values])
    expected = {stack.cdc_topic: PER_TOPIC + scenario.expected_dead_letters, stack.topic(Role.OPENTEXT_EVENTS): PER_TOPIC,
                stack.topic(Role.COMMANDS): PER_TOPIC // 2, erp_commands: PER_TOPIC // 2}
    dlq, status = stack.topic(Role.DEAD_LETTER), stack.topic(Role.STATUS)

    def letters() -> Counter[str]:
        return Counter(orjson.loads(r.value)["source"]["topic"] for r in collector.records[dlq])

    def applied() -> int:
        return sum(orjson.loads(r.value)["target"] == "opentext" for r in collector.records[status])

    done = await collector.wait_for(lambda: (letters() == expected and applied() >= len(scenario.customers))
                                    or not worker.running, 120)
    assert done and worker.running, (letters(), expected, applied(), stack.logs())
    workspaces = (await stack.admin("state"))["workspaces"]
    assert len(workspaces) == len(scenario.customers)
    for record in collector.records[dlq]:
        letter = orjson.loads(record.value)
        assert letter["reason"] and letter["detail"], letter
    # one dead letter per bad record: their offsets on each topic are distinct
    offsets = Counter((orjson.loads(r.value)["source"]["topic"], orjson.loads(r.value)["source"]["partition"],
                       orjson.loads(r.value)["source"]["offset"]) for r in collector.records[dlq])
    assert max(offsets.values()) == 1
    assert "component stopped" not in stack.logs()
