"""The status engine: which changes fire which rules, what the commands say, and that nothing fires twice."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from xstream.model.business import BusinessObject
from xstream.model.commands import Notify, StartApproval, UpdateRecord
from xstream.model.opentext import (
    DocumentState,
    EventKind,
    EventWorkspace,
    Ingress,
    OpenTextEvent,
    WorkflowOutcome,
    observation_id,
)
from xstream.model.record import RecordRef
from xstream.transform.rule_files import STATUS_RULES_DIR, load_status_rule_files
from xstream.transform.status_engine import DocumentMemory, Evaluation, evaluate
from xstream.transform.status_rules import StatusRuleSet, parse_status_rule_sources

RECORD = RecordRef(topic="opentext.events", partition=2, offset=41)
SAMPLES = load_status_rule_files([STATUS_RULES_DIR])
SUPPLIER = EventWorkspace(node_id=100120, name="Globex Metals (0000300001)", type_name="Supplier",
                          url="https://ecm/app/nodes/100120",
                          business_object=BusinessObject(ext_system_id="SAP_PRD", bo_type="LFA1", bo_id="0000300001"),
                          attributes={"Supplier": {"Region": "Americas", "Owner": "k.tanaka"}})


def event(status: str | None, *, kind: EventKind = EventKind.ATTRIBUTES_CHANGED, doc_type: str = "Contract",
          modified: str = "2026-12-01T07:16:20", version: int = 2, workspace: EventWorkspace | None = SUPPLIER,
          ingress: Ingress = Ingress.WEBHOOK, workflow: WorkflowOutcome | None = None, snapshot: bool = False,
          node_id: int = 100123) -> OpenTextEvent:
    document = DocumentState(node_id=node_id, name="Supply Agreement 2027.pdf", parent_id=100120,
                             url=f"https://ecm/app/nodes/{node_id}", version=version, modify_date=modified,
                             attributes={"Document": {"Document Type": doc_type, "Status": status}})
    return OpenTextEvent(event_id=observation_id(document, workflow), kind=kind, ingress=ingress, snapshot=snapshot,
                         document=document, workspace=workspace, workflow=workflow,
                         observed_at=datetime(2026, 12, 1, 7, 16, 21, tzinfo=UTC))


def remembered(ev: OpenTextEvent) -> DocumentMemory:
    result = evaluate(SAMPLES, ev.model_copy(update={"snapshot": True}), None, RECORD)
    assert result.memory is not None
    return result.memory


def fired(result: Evaluation) -> list[str]:
    return [v.rule for v in result.verdicts if v.matched]


def rules(text: str) -> StatusRuleSet:
    return parse_status_rule_sources([("rules.yaml", text)])


def test_legal_review_done_starts_the_commercial_approval_and_notifies_commercial() -> None:
    before = remembered(event("In Legal Review", modified="2026-12-01T07:10:00"))
    result = evaluate(SAMPLES, event("Legal Review Done"), before, RECORD)
    assert fired(result) == ["supplier-contract-legal-review-done"]
    approval, note = result.commands
    assert isinstance(approval, StartApproval) and isinstance(note, Notify)
    assert (approval.target, approval.process) == ("erp", "commercial_approval")
    assert approval.subject == "Commercial approval: Supply Agreement 2027.pdf (Globex Metals (0000300001))"
    assert approval.record is not None and (approval.record.entity, approval.record.id) == ("suppliers", "0000300001")
    assert approval.fields == {"document_version": "2", "legal_status": "Legal Review Done"}
    assert approval.business_object == SUPPLIER.business_object and approval.kafka_key == "SAP_PRD/LFA1/0000300001"
    assert approval.document is not None and approval.document.node_id == 100123
    assert (approval.causation.source_system, approval.causation.op) == ("opentext", "document.attributes_changed")
    assert (approval.causation.topic, approval.causation.partition, approval.causation.offset) == (
        "opentext.events", 2, 41)
    assert (note.target, note.channel) == ("chat", "commercial")
    assert note.title == "Commercial approval started: Supply Agreement 2027.pdf"
    assert note.facts == {"Document": "Supply Agreement 2027.pdf", "Status": "Legal Review Done",
                          "Workspace": "Globex Metals (0000300001)"}
    assert note.link_url == "https://ecm/app/nodes/100123"
    assert result.memory is not None and result.memory.attributes == event("Legal Review Done").document.attributes


def test_nothing_fires_when_the_status_did_not_change() -> None:
    before = remembered(event("Legal Review Done", modified="2026-12-01T07:10:00", version=1))
    result = evaluate(SAMPLES, event("Legal Review Done", kind=EventKind.VERSION_ADDED, version=2), before, RECORD)
    assert result.commands == [] and result.skipped is None
    verdict = next(v for v in result.verdicts if v.rule == "supplier-contract-legal-review-done")
    assert verdict.why == "Status was already 'Legal Review Done'"


def test_the_same_state_seen_again_is_a_duplicate_and_an_older_one_is_stale() -> None:
    first = evaluate(SAMPLES, event("Legal Review Done", ingress=Ingress.WEBHOOK),
                     remembered(event("In Legal Review", modified="2026-12-01T07:10:00")), RECORD)
    assert len(first.commands) == 2 and first.memory is not None
    again = evaluate(SAMPLES, event("Legal Review Done", ingress=Ingress.POLLER), first.memory, RECORD)
    assert again.commands == [] and again.memory is None and again.skipped is not None
    assert again.skipped.startswith("duplicate")
    older = evaluate(SAMPLES, event("In Legal Review", modified="2026-12-01T07:15:00"), first.memory, RECORD)
    assert older.commands == [] and older.skipped is not None and older.skipped.startswith("stale")


def test_a_moved_from_rule_needs_a_known_previous_status_in_its_list() -> None:
    rejected = event("Rejected", modified="2026-12-01T07:20:00")
    assert "supplier-contract-rejected" in fired(evaluate(
        SAMPLES, rejected, remembered(event("Legal Review Done")), RECORD))
    assert "supplier-contract-rejected" not in fired(evaluate(
        SAMPLES, rejected, remembered(event("Draft")), RECORD))
    unknown = evaluate(SAMPLES, rejected, None, RECORD)
    verdict = next(v for v in unknown.verdicts if v.rule == "supplier-contract-rejected")
    assert not verdict.matched and "previous Status unknown" in verdict.why


@pytest.mark.parametrize(("kind", "fires"), [(EventKind.DOCUMENT_ADDED, True), (EventKind.ATTRIBUTES_CHANGED, True),
                                             (EventKind.VERSION_ADDED, False)])
def test_first_sight_of_a_document_fires_reaches_rules_unless_only_a_version_was_added(kind: EventKind,
                                                                                        fires: bool) -> None:
    result = evaluate(SAMPLES, event("Signed", kind=kind), None, RECORD)
    assert ("supplier-contract-signed" in fired(result)) is fires


def test_a_snapshot_is_remembered_and_fires_nothing() -> None:
    result = evaluate(SAMPLES, event("Legal Review Done", snapshot=True), None, RECORD)
    assert result.commands == [] and result.memory is not None and result.skipped is not None
    assert result.skipped.startswith("snapshot")


@pytest.mark.parametrize(("workspace", "doc_type", "why"), [
    (None, "Contract", "the document is in no business workspace"),
    (SUPPLIER.model_copy(update={"type_name": "Project"}), "Contract", "workspace type is 'Project', rule wants Supplier"),
    (SUPPLIER, "Invoice", "document type is 'Invoice', rule wants Contract"),
])
def test_rules_keep_to_their_workspace_and_document_types(workspace: EventWorkspace | None, doc_type: str,
                                                          why: str) -> None:
    result = evaluate(SAMPLES, event("Signed", workspace=workspace, doc_type=doc_type), None, RECORD)
    assert result.commands == []
    assert next(v for v in result.verdicts if v.rule == "supplier-contract-signed").why == why


def test_values_compare_ignoring_case() -> None:
    result = evaluate(SAMPLES, event("signed", doc_type="CONTRACT"), remembered(event("draft")), RECORD)
    assert "supplier-contract-signed" in fired(result)


def test_a_finished_workflow_fires_once_per_process_outcome() -> None:
    completed = WorkflowOutcome(process_id=100300, name="Contract Approval", status="completed")
    ev = event("Legal Review Done", kind=EventKind.WORKFLOW_FINISHED, workflow=completed)
    first = evaluate(SAMPLES, ev, None, RECORD)
    assert fired(first) == ["supplier-contract-workflow-approved"]
    update, note = first.commands
    assert isinstance(update, UpdateRecord) and update.fields == {"contract_status": "approved"}
    assert (update.entity, update.record_id) == ("suppliers", "0000300001")
    assert isinstance(note, Notify) and note.text == ("The Contract Approval workflow completed for "
                                                      "Supply Agreement 2027.pdf (Globex Metals (0000300001)).")
    assert first.memory is not None and first.memory.workflows == ["100300:completed"]
    assert first.memory.attributes is None  # a workflow outcome is no observation of the document's state
    again = evaluate(SAMPLES, ev.model_copy(update={"ingress": Ingress.POLLER}), first.memory, RECORD)
    assert again.commands == [] and again.skipped is not None and again.skipped.startswith("duplicate")
    stopped = WorkflowOutcome(process_id=100301, name="Contract Approval", status="stopped")
    later = evaluate(SAMPLES, event("x", kind=EventKind.WORKFLOW_FINISHED, workflow=stopped), first.memory, RECORD)
    assert fired(later) == ["supplier-contract-workflow-stopped"]


def test_keys_depend_on_the_observation_rule_and_action_not_on_who_saw_it() -> None:
    before = remembered(event("In Legal Review", modified="2026-12-01T07:10:00"))
    webhook = evaluate(SAMPLES, event("Legal Review Done", ingress=Ingress.WEBHOOK), before, RECORD)
    poller = evaluate(SAMPLES, event("Legal Review Done", ingress=Ingress.POLLER),
                      before, RecordRef(topic="opentext.events", partition=2, offset=97))
    assert [c.idempotency_key for c in webhook.commands] == [c.idempotency_key for c in poller.commands]
    assert len({c.idempotency_key for c in webhook.commands}) == 2
    later = evaluate(SAMPLES, event("Legal Review Done", modified="2026-12-01T08:00:00"),
                     remembered(event("In Legal Review", modified="2026-12-01T07:59:00")), RECORD)
    assert not {c.idempotency_key for c in later.commands} & {c.idempotency_key for c in webhook.commands}


def test_a_missing_identifier_is_a_problem_not_a_command_and_text_placeholders_may_be_empty() -> None:
    ruleset = rules("""
version: 1
status_rules:
  - name: anywhere-signed
    when: {status: {to: Signed}}
    then:
      - update_record: {target: erp, entity: suppliers, fields: {contract_status: signed}}
      - notify: {target: chat, channel: legal, title: "Signed: {document_name}", text: "in {workspace_name}"}
""")
    result = evaluate(ruleset, event("Signed", workspace=None), None, RECORD)
    (note,) = result.commands
    assert isinstance(note, Notify) and note.text == "in "
    assert note.business_object == BusinessObject(ext_system_id="opentext", bo_type="document", bo_id="100123")
    assert result.problems == ["rule anywhere-signed, action 1 (update_record): record_id: {bo_id} has no value here"]


def test_qualified_placeholders_read_workspace_and_document_attributes() -> None:
    ruleset = rules("""
version: 1
status_rules:
  - name: route-by-region
    when: {status: {to: Signed}}
    then:
      - notify: {target: chat, channel: "{workspace.Region}", title: "{document.Document Type} signed",
                 text: "owner {workspace.owner}", facts: {}}
""")
    (note,) = evaluate(ruleset, event("Signed"), None, RECORD).commands
    assert isinstance(note, Notify)
    assert (note.channel, note.title, note.text, note.facts) == ("Americas", "Contract signed", "owner k.tanaka", {})


def test_events_narrow_which_document_events_a_rule_reacts_to() -> None:
    ruleset = rules("""
version: 1
status_rules:
  - name: new-signed-documents
    when: {events: [document.added], status: {to: Signed}}
    then: [{notify: {target: chat, channel: legal, title: "new signed document"}}]
""")
    assert fired(evaluate(ruleset, event("Signed", kind=EventKind.DOCUMENT_ADDED), None, RECORD))
    result = evaluate(ruleset, event("Signed"), None, RECORD)
    assert result.verdicts[0].why == "event document.attributes_changed is not one of document.added"


def test_a_rule_file_may_name_other_attributes_for_status_and_type() -> None:
    ruleset = rules("""
version: 1
document_attributes:
  status: {category: Contract Data, attribute: Stage}
  type: {category: Contract Data, attribute: Kind}
status_rules:
  - name: stage
    when: {document_types: [NDA], status: {to: Done}}
    then: [{notify: {target: chat, channel: legal, title: "{status} {document_type}"}}]
""")
    ev = event(None).model_copy(update={"document": event(None).document.model_copy(
        update={"attributes": {"Contract Data": {"Kind": "NDA", "Stage": "Done"}}})})
    (note,) = evaluate(ruleset, ev, None, RECORD).commands
    assert isinstance(note, Notify) and note.title == "Done NDA"


def _commands(result: Evaluation) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in result.commands]


def test_evaluation_is_deterministic() -> None:
    before = remembered(event("In Legal Review", modified="2026-12-01T07:10:00"))
    assert _commands(evaluate(SAMPLES, event("Legal Review Done"), before, RECORD)) == \
        _commands(evaluate(SAMPLES, event("Legal Review Done"), before, RECORD))


def _observed(ev: OpenTextEvent, second: int) -> OpenTextEvent:
    return ev.model_copy(update={"observed_at": datetime(2026, 12, 1, 7, 16, second, tzinfo=UTC)})


def test_an_older_state_of_the_same_second_arriving_late_never_winds_the_memory_back() -> None:
    done = evaluate(SAMPLES, _observed(event("Legal Review Done"), 30),
                    remembered(event("In Legal Review", modified="2026-12-01T07:10:00")), RECORD)
    assert len(done.commands) == 2 and done.memory is not None
    # the poller read the document a moment before the change (same modify second) and published later
    late = evaluate(SAMPLES, _observed(event("In Legal Review"), 29), done.memory, RECORD)
    assert late.commands == [] and late.memory is None and late.skipped is not None
    assert late.skipped.startswith("stale: observed at")
    newer = evaluate(SAMPLES, _observed(event("Signed"), 31), done.memory, RECORD)
    assert fired(newer) == ["supplier-contract-signed"]  # a later change within that second still counts


def test_a_change_the_first_scan_caught_as_a_snapshot_still_acts_when_its_event_arrives() -> None:
    snap = evaluate(SAMPLES, event("Legal Review Done", snapshot=True, ingress=Ingress.POLLER), None, RECORD)
    assert snap.commands == [] and snap.memory is not None and snap.memory.from_snapshot
    webhook = evaluate(SAMPLES, event("Legal Review Done"), snap.memory, RECORD)
    assert fired(webhook) == ["supplier-contract-legal-review-done"]  # the previous status is unknown
    assert webhook.memory is not None and not webhook.memory.from_snapshot
    again = evaluate(SAMPLES, event("Legal Review Done", ingress=Ingress.POLLER), webhook.memory, RECORD)
    assert again.commands == [] and again.skipped is not None and again.skipped.startswith("duplicate")
    late_snapshot = evaluate(SAMPLES, event("Legal Review Done", snapshot=True), webhook.memory, RECORD)
    assert late_snapshot.commands == [] and late_snapshot.skipped is not None


def test_a_snapshot_of_a_known_document_that_differs_is_a_change() -> None:
    known = evaluate(SAMPLES, event("In Legal Review", modified="2026-12-01T07:10:00"), None, RECORD).memory
    snap = evaluate(SAMPLES, event("Legal Review Done", snapshot=True), known, RECORD)
    assert fired(snap) == ["supplier-contract-legal-review-done"]


def test_long_names_are_shortened_not_refused() -> None:
    long_name = "Master Services Agreement " + "x" * 600 + ".pdf"
    ev = event("Legal Review Done")
    ev = ev.model_copy(update={"document": ev.document.model_copy(update={"name": long_name})})
    result = evaluate(SAMPLES, ev, remembered(event("In Legal Review", modified="2026-12-01T07:10:00")), RECORD)
    approval, note = result.commands
    assert result.problems == []
    assert isinstance(approval, StartApproval) and len(approval.subject) == 500 and approval.subject.endswith("…")
    assert isinstance(note, Notify) and len(note.title) == 300
