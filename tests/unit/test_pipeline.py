"""The pure CDC path gives every record an outcome: a command, a counted skip, or a typed dead-letter reason."""

from __future__ import annotations

import orjson

from xstream.app import SAMPLE_RULES
from xstream.demo import scenario
from xstream.errors import DeadLetterReason
from xstream.model.record import RecordRef
from xstream.pipeline import Emit, Reject, Skip, process_cdc
from xstream.transform.rules import parse_rules

RULES = parse_rules(SAMPLE_RULES.read_text(), "sample")


def run(key, value, topic="erp.cdc.customers", prefix=""):
    return process_cdc(key, value, RecordRef(topic=topic, partition=0, offset=3), RULES, max_bytes=100_000,
                       topic_prefix=prefix)


def test_demo_scenario_outcomes_match_its_promises() -> None:
    sc = scenario.build()
    outcomes = [run(r.key, r.value) for r in sc.records]
    emitted = [o for o in outcomes if isinstance(o, Emit)]
    assert len(emitted) == sc.expected_commands
    assert sum(isinstance(o, Reject) for o in outcomes) == sc.expected_dead_letters
    assert sum(isinstance(o, Skip) and o.tombstone is not None for o in outcomes) == sc.expected_tombstones
    assert {c.command.business_object.bo_id for c in emitted} == set(sc.customers)


def test_unknown_topic_or_entity_is_dead_lettered_as_no_rule() -> None:
    value = orjson.dumps({"op": "c", "after": {"customer_id": "1"}, "source": {"table": "customers"}})
    outcome = run(None, value, topic="erp.cdc.vendors")
    assert isinstance(outcome, Reject) and outcome.reason is DeadLetterReason.NO_RULE and outcome.stage == "map"


def test_topic_prefix_is_stripped_before_matching() -> None:
    value = orjson.dumps({"op": "c", "after": scenario.build().customers["0000100000"], "source": {"table": "customers"}})
    assert isinstance(run(None, value, topic="staging.erp.cdc.customers", prefix="staging."), Emit)


def test_a_name_too_long_for_opentext_is_an_invalid_command() -> None:
    row = {**scenario.build().customers["0000100000"], "name": "n" * 300}
    outcome = run(None, orjson.dumps({"op": "c", "after": row, "source": {"table": "customers"}}))
    assert isinstance(outcome, Reject) and outcome.reason is DeadLetterReason.INVALID_COMMAND
