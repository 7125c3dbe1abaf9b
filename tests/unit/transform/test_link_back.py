"""Link back: the id and URL of a workspace in place go back into its source record, one key per link."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from xstream.model.business import BusinessObject
from xstream.model.commands import Causation
from xstream.model.status import Outcome, StatusEvent, WorkspaceLink
from xstream.transform.link_back import link_back_command, link_back_key
from xstream.transform.rule_files import RULES_DIR, load_rule_files

RULES = load_rule_files([RULES_DIR])


def status(outcome: Outcome = Outcome.APPLIED, kind: str = "ensure_workspace", *, op: str = "c",
           topic: str = "erp.cdc.customers", entity: str = "customers", system: str = "erp",
           bo: BusinessObject | None = None, workspace: bool = True, created: bool = True) -> StatusEvent:
    return StatusEvent(
        outcome=outcome, command_kind=kind, idempotency_key="k" * 40, target="opentext", workspace_created=created,
        business_object=bo or BusinessObject(ext_system_id="SAP_PRD", bo_type="KNA1", bo_id="0000100042"),
        workspace=WorkspaceLink(node_id=100001, url="http://ot/app/nodes/100001") if workspace else None,
        causation=Causation(origin="somebody", source_system=system, entity=entity, op=op,
                            source_position="lsn:1", topic=topic, partition=0, offset=7),
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
    )


def test_an_applied_workspace_is_linked_back_to_its_erp_record() -> None:
    command = link_back_command(RULES, status())
    assert command is not None
    assert (command.target, command.entity, command.record_id) == ("erp", "customers", "0000100042")
    assert command.fields == {"workspace_id": "100001", "workspace_url": "http://ot/app/nodes/100001"}
    assert command.idempotency_key == link_back_key("erp", "customers", "0000100042", command.fields) != "k" * 40
    assert command.causation.origin == "xstream" and command.causation.offset == 7
    assert command.kafka_key == "SAP_PRD/KNA1/0000100042"


def test_whoever_finds_the_workspace_in_place_links_back_with_the_same_key() -> None:
    """The link is what the source record must hold, not a by-product of the attempt that created the
    workspace: after a crash or a lost answer the retry finds the workspace (already_applied,
    created=False) and must still write the link; every such repeat is the same command."""
    created = link_back_command(RULES, status())
    for repeat in (status(Outcome.ALREADY_APPLIED, created=False),
                   status(kind="update_workspace", op="u", created=False),
                   status(kind="update_workspace", op="u").model_copy(update={"idempotency_key": "z" * 40}),
                   status(op="r", created=False)):
        again = link_back_command(RULES, repeat)
        assert created is not None and again is not None
        assert (again.idempotency_key, again.fields, again.record_id) == \
            (created.idempotency_key, created.fields, created.record_id)
    moved = link_back_command(RULES, status().model_copy(
        update={"workspace": WorkspaceLink(node_id=100001, url="https://ecm.example.com/app/nodes/100001")}))
    assert moved is not None and created is not None
    assert moved.idempotency_key != created.idempotency_key  # a new link: a new key, written once more


def test_prefixed_topics_and_other_rules_match() -> None:
    staged = link_back_command(RULES, status(topic="staging.erp.cdc.customers"))
    assert staged is not None and staged.entity == "customers"
    crm = link_back_command(RULES, status(topic="crm.cdc.accounts", entity="accounts", system="crm",
                                          bo=BusinessObject(ext_system_id="SFDC", bo_type="Account", bo_id="001")))
    assert crm is not None and (crm.target, crm.entity, crm.record_id) == ("crm", "accounts", "001")
    assert crm.fields == {"opentext_workspace_url": "http://ot/app/nodes/100001"}


@pytest.mark.parametrize(
    "event",
    [
        status(Outcome.REJECTED),
        status(Outcome.DEAD_LETTERED),
        status(kind="update_record"),  # a link-back's own status: no loop
        status(op="d"),  # the source record is gone
        status(workspace=False),
        status(bo=BusinessObject(ext_system_id="OTHER", bo_type="KNA1", bo_id="1")),
        status(topic="unknown.topic"),
    ],
)
def test_no_link_back(event: StatusEvent) -> None:
    assert link_back_command(RULES, event) is None


def test_a_causation_with_an_upper_case_entity_finds_its_rule() -> None:
    """The causation carries the entity as the connector reported it (Oracle: CUSTOMERS)."""
    upper, lower = link_back_command(RULES, status(entity="CUSTOMERS")), link_back_command(RULES, status())
    assert upper is not None and lower is not None
    assert (upper.target, upper.entity, upper.record_id, upper.idempotency_key) == \
        (lower.target, lower.entity, lower.record_id, lower.idempotency_key)
