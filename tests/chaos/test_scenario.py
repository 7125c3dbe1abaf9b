"""The crash suite's scenario and expectations, without a broker: deterministic, and self-consistent."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.chaos.scenario import PATHS, build_contracts, build_customers
from tests.chaos.suite import percentile
from xstream.transform.rule_files import STATUS_RULES_DIR, load_status_rule_files

pytestmark = pytest.mark.chaos


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_customer_scenario_is_deterministic_and_its_model_agrees_with_the_last_rows(seed: int) -> None:
    # build_customers asserts that the sink model and each customer's last row agree
    first, again = build_customers(1000, seed), build_customers(1000, seed)
    assert [(r.key, r.value) for r in first.records] == [(r.key, r.value) for r in again.records]
    assert 900 <= len(first.records) <= 1100
    assert {"create", "snapshot read", "update", "replay", "delete", "tombstone"} <= set(first.labels)
    assert first.dead_letters == Counter({"malformed_json": 1, "unknown_op": 1, "missing_field": 1})
    assert first.without_workspace and first.linked and not first.linked & first.without_workspace
    assert first.linked | first.without_workspace == set(first.erp_rows)


def test_every_replay_comes_after_its_original() -> None:
    records = build_customers(2000, 5).records
    first_seen: dict[bytes | None, int] = {}
    for index, record in enumerate(records):
        if record.label == "replay":
            assert record.value in first_seen and first_seen[record.value] < index
        first_seen.setdefault(record.value, index)  # type: ignore[arg-type]


def test_contract_expectations_follow_the_shipped_status_rules() -> None:
    contracts = build_contracts(len(PATHS), 1)
    for i, doc in enumerate(contracts.documents):
        doc.node_id, doc.workspace_id, doc.process_id = 1000 + i, 500 + i, 70 + i
    expected = contracts.expect(load_status_rule_files([STATUS_RULES_DIR]), "u/{id}", "u/{id}")
    by_path = {d.path: d.node_id for d in contracts.documents}
    assert set(expected.approvals) == {(by_path["signed"], "commercial_approval"),
                                       (by_path["review_rejected"], "commercial_approval")}
    assert set(expected.messages) == {
        (by_path["signed"], "commercial"), (by_path["signed"], "procurement"), (by_path["rejected"], "legal"),
        (by_path["review_rejected"], "commercial"), (by_path["review_rejected"], "legal"),
        (by_path["workflow_completed"], "procurement"), (by_path["workflow_stopped"], "legal")}
    statuses = {rid: fields["contract_status"] for (_, rid), fields in expected.record_updates.items()}
    assert sorted(statuses.values()) == ["approved", "rejected", "rejected", "rejected", "signed"]
    # a contract whose later steps were not made expects only what its made steps cause
    signed = next(d for d in contracts.documents if d.path == "signed")
    signed.performed = 1
    partial = contracts.expect(load_status_rule_files([STATUS_RULES_DIR]), "u/{id}", "u/{id}")
    assert (signed.node_id, "procurement") not in partial.messages
    assert (signed.node_id, "commercial_approval") in partial.approvals


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0
