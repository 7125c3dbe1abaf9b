"""The pure CDC path gives every record an outcome: a command, a counted skip, or a typed dead-letter reason."""

from __future__ import annotations

from collections import Counter

import orjson

from xstream.demo import scenario
from xstream.errors import DeadLetterReason
from xstream.model.record import RecordRef
from xstream.pipeline import Emit, Reject, Skip, process_cdc
from xstream.transform.rule_files import SAMPLE_RULES
from xstream.transform.rules import parse_rules

RULES = parse_rules(SAMPLE_RULES.read_text(), "sample")


def run(key, value, topic="erp.cdc.customers", prefix=""):
    return process_cdc(key, value, RecordRef(topic=topic, partition=0, offset=3), RULES, max_bytes=100_000,
                       topic_prefix=prefix)


def test_demo_scenario_outcomes_match_its_promises() -> None:
    sc = scenario.build()
    outcomes = [run(r.key, r.value) for r in sc.records]
    emitted = [o for o in outcomes if isinstance(o, Emit)]
    assert sum(isinstance(o, Reject) for o in outcomes) == sc.expected_dead_letters
    assert sum(isinstance(o, Skip) and o.tombstone is not None for o in outcomes) == sc.expected_tombstones
    assert {c.command.business_object.bo_id for c in emitted} == set(sc.customers)
    # creates, snapshot reads and replays ensure a workspace; an update becomes update_workspace only when
    # a mapped attribute (status, owner) really changed; the delete marks its workspace "deleted".
    labels = Counter(r.label for r in sc.records)
    really_changed = sum(1 for r in sc.records if r.label == "update" and _mapped_change(r.value))
    kinds = Counter((r.label, o.command.kind) for r, o in zip(sc.records, outcomes, strict=True) if isinstance(o, Emit))
    assert kinds == Counter({
        ("create", "ensure_workspace"): labels["create"],
        ("snapshot read", "ensure_workspace"): labels["snapshot read"],
        ("replay", "ensure_workspace"): labels["replay"],
        ("update", "update_workspace"): really_changed,
        ("delete", "update_workspace"): 1,
    })
    unchanged = [o for r, o in zip(sc.records, outcomes, strict=True) if r.label == "update" and isinstance(o, Skip)]
    assert len(unchanged) == labels["update"] - really_changed
    assert all(o.why.startswith("no mapped attribute changed") for o in unchanged)
    assert len(emitted) == sc.expected_commands
    assert sc.expected_already_applied == labels["replay"]  # every other command changes something


def _mapped_change(value: bytes | None) -> bool:
    assert value is not None
    doc = orjson.loads(value)
    payload = doc.get("payload", doc)
    return any(payload["before"][f] != payload["after"][f] for f in ("status", "owner"))


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


def test_a_delete_marks_the_workspace_and_a_false_condition_skips() -> None:
    row = scenario.build().customers["0000100000"]
    deleted = run(None, orjson.dumps({"op": "d", "before": row, "after": None, "source": {"table": "customers"}}))
    assert isinstance(deleted, Emit) and deleted.command.kind == "update_workspace"
    assert deleted.command.changed == {"Customer": {"Status": "deleted"}}
    cpd = run(None, orjson.dumps({"op": "c", "after": {**row, "account_group": "CPD"}, "source": {"table": "customers"}}))
    assert isinstance(cpd, Skip) and cpd.why.startswith("condition") and not cpd.echo


def test_a_wrong_typed_row_is_dead_lettered_as_wrong_type() -> None:
    row = {**scenario.build().customers["0000100000"], "name": {"first": "Ada", "last": "Lovelace"}}
    outcome = run(None, orjson.dumps({"op": "c", "after": row, "source": {"table": "customers"}}))
    assert isinstance(outcome, Reject) and outcome.reason is DeadLetterReason.WRONG_TYPE and outcome.stage == "map"
    assert outcome.detail == ("rule erp-customers: Customer.Customer Name (field 'name'): expected string, "
                              'found object {"first":"Ada","last":"Lovelace"}')
    assert "{'first'" not in outcome.detail
    owner = {**scenario.build().customers["0000100000"], "owner": ["j.doe", "m.rossi"]}
    outcome = run(None, orjson.dumps({"op": "c", "after": owner, "source": {"table": "customers"}}))
    assert isinstance(outcome, Reject) and outcome.reason is DeadLetterReason.WRONG_TYPE
    assert "Customer.Owner (field 'owner'): expected user" in outcome.detail


def test_an_oracle_table_name_in_upper_case_matches_the_lower_case_rule() -> None:
    """Debezium's Oracle connector reports unquoted names as Oracle stores them: CUSTOMERS."""
    row = scenario.build().customers["0000100000"]
    source = {"connector": "oracle", "schema": "ERP", "table": "CUSTOMERS", "scn": "9911", "commit_scn": "9912"}
    outcome = run(None, orjson.dumps({"op": "c", "after": row, "source": source}))
    assert isinstance(outcome, Emit) and outcome.command.kind == "ensure_workspace"
    assert outcome.event.entity == "CUSTOMERS"  # kept as reported: part of the idempotency key and causation
    flattened = run(None, orjson.dumps({**row, "__op": "c", "__table": "Customers"}))
    assert isinstance(flattened, Emit)
