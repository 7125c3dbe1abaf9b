"""The pure core of flow F2: which attachment notices become which document commands, and the rule files.

Property tests: whatever an attachment row says, the plan is either no document (with a reason) or a
command whose folder, key and categories follow from the rule; the same row always gives the same
idempotency key (a replay is recognised), versions of one attachment share the document key (they
apply in order) and never share an idempotency key; what xstream wrote itself is never planned.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xstream.errors import ConfigError, MappingError
from xstream.model.change import ChangeEvent, Op, SourceInfo
from xstream.model.documents import MarkDocument, StoreDocument
from xstream.model.record import RecordRef
from xstream.transform.document_rules import DocumentRuleSet, parse_document_rule_sources
from xstream.transform.documents import NoDocument, attachment_of, plan_approval, plan_inbound
from xstream.transform.rule_files import DOCUMENT_RULES_DIR, load_document_rule_files

RULES: DocumentRuleSet = load_document_rule_files([DOCUMENT_RULES_DIR])
INBOUND = RULES.inbound_for("erp.cdc.attachments")
APPROVALS = RULES.approvals_for("erp.cdc.approvals")
assert INBOUND is not None and APPROVALS is not None
FOLDERS = INBOUND.folders


def row(**changes: Any) -> dict[str, Any]:
    base = {"attachment_id": "ATT-000001", "doc_type": "ZPO", "doc_number": "0000000001", "doc_part": "000",
            "doc_version": "00", "bo_type": "LFA1", "bo_key": "0000300001", "file_name": "PO-4500000001.pdf",
            "mime_type": "application/pdf", "file_size": 2048, "version": 1, "kind": "file", "url": None,
            "document_type": "Purchase Order", "created_by": "ERP_USER", "created_at": "2026-11-02T08:00:00Z",
            "changed_by": "ERP_USER", "changed_at": "2026-11-02T08:00:00Z", "changed_by_origin": None, "sha256": None}
    return base | changes


def event(data: dict[str, Any], op: Op = Op.CREATE, lsn: int = 100, entity: str = "attachments") -> ChangeEvent:
    return ChangeEvent(entity=entity, op=op, key={"attachment_id": data.get("attachment_id")},
                       before=data if op is Op.DELETE else None, after=None if op is Op.DELETE else data,
                       source=SourceInfo(table=entity, position=f"lsn:{lsn}"),
                       record=RecordRef(topic=f"erp.cdc.{entity}", partition=0, offset=lsn))


def plan(data: dict[str, Any], op: Op = Op.CREATE, lsn: int = 100) -> StoreDocument | MarkDocument | NoDocument:
    assert INBOUND is not None
    return plan_inbound(event(data, op, lsn), INBOUND, RULES.attributes, "erp")


def test_a_purchase_order_goes_to_its_folder_by_type_and_year_with_its_source_identity() -> None:
    command = plan(row())
    assert isinstance(command, StoreDocument)
    assert command.folder_path == "Purchase Orders/2026" and command.name == "PO-4500000001.pdf"
    assert command.business_object.kafka_key == "SAP_PRD/LFA1/0000300001"
    assert command.document_key == "erp/sap/ATT-000001" and command.size == 2048 and command.checksum is None
    assert command.categories == {"Document": {"Document Type": "Purchase Order", "Source Document Id": "ATT-000001",
                                               "Source Version": "1", "Status": "Received"}}
    assert command.source.target == "erp" and command.source.version == 1


def test_a_source_delete_marks_the_governed_copy_and_a_link_or_an_echo_is_no_document() -> None:
    marked = plan(row(), Op.DELETE)
    assert isinstance(marked, MarkDocument)
    assert marked.categories == {"Document": {"Status": "Deleted in source"}}
    echo = plan(row(changed_by_origin="xstream"))
    assert isinstance(echo, NoDocument) and echo.echo
    link = plan(row(kind="url", url="https://otcs/app/nodes/1"))
    assert isinstance(link, NoDocument) and not link.echo and "link" in link.why


def test_a_declared_sha256_is_carried_and_an_oversize_notice_is_refused() -> None:
    command = plan(row(sha256="ab" * 32))
    assert isinstance(command, StoreDocument) and command.checksum is not None
    assert command.checksum.algorithm == "sha256"
    with pytest.raises(MappingError) as refused:
        plan(row(file_size=3 * 1024 ** 3))
    assert refused.value.reason.value == "oversize"


@pytest.mark.parametrize("missing", ["attachment_id", "file_name", "bo_key"])
def test_a_row_without_what_names_the_attachment_is_a_missing_field(missing: str) -> None:
    data = row()
    del data[missing]
    with pytest.raises(MappingError) as refused:
        plan(data)
    assert refused.value.reason.value == "missing_field" and missing in refused.value.detail


def test_an_approval_decided_in_the_erp_sets_the_document_status_once() -> None:
    assert APPROVALS is not None
    decided = {"id": "APR-1", "status": "approved", "process": "commercial_approval",
               "record": {"entity": "suppliers", "id": "0000300001"}, "reference": {"document_id": 4711}}
    command = plan_approval(event(decided, Op.UPDATE, entity="approvals").model_copy(
        update={"before": {**decided, "status": "pending"}}), APPROVALS, RULES.attributes, "erp")
    assert not isinstance(command, NoDocument)
    assert command.node_id == 4711 and command.categories == {"Document": {"Status": "Commercially Approved"}}
    assert command.business_object.kafka_key == "SAP_PRD/LFA1/0000300001"
    same = plan_approval(event(decided, Op.UPDATE, entity="approvals").model_copy(
        update={"before": decided}), APPROVALS, RULES.attributes, "erp")
    assert isinstance(same, NoDocument)  # not a decision: the status did not change


rows = st.fixed_dictionaries({
    "bo_type": st.sampled_from(["LFA1", "KNA1", "BUS2012"]),
    "document_type": st.one_of(st.none(), st.sampled_from(["Purchase Order", "Invoice", "Statement of Work",
                                                           "Brochure", "purchase order"])),
    "mime_type": st.sampled_from(["application/pdf", "image/tiff", "text/plain"]),
    "file_size": st.one_of(st.none(), st.integers(0, 3 * 1024 ** 3)),
    "version": st.integers(1, 50),
    "changed_by_origin": st.sampled_from([None, "xstream"]),
    "kind": st.sampled_from(["file", "url"]),
    "changed_at": st.sampled_from(["2025-12-31T23:59:59Z", "2026-01-01T00:00:00Z", None]),
})


@settings(max_examples=300, deadline=None)
@given(changes=rows, lsn=st.integers(1, 10 ** 9), op=st.sampled_from([Op.CREATE, Op.UPDATE, Op.READ]))
def test_any_attachment_row_plans_by_the_rule_and_the_same_row_always_plans_the_same(
        changes: dict[str, Any], lsn: int, op: Op) -> None:
    data = row(**changes)
    try:
        first = plan(data, op, lsn)
    except MappingError as refused:
        assert refused.reason.value == "oversize" and data["file_size"] > 2048 * 1024 ** 2
        return
    again = plan(data, op, lsn)
    assert first == again  # a replay plans the same command, with the same idempotency key
    wanted_type = str(data["document_type"]).casefold() in {t.casefold() for t in FOLDERS}
    takes = (data["changed_by_origin"] is None and data["bo_type"] == "LFA1" and wanted_type
             and data["kind"] == "file")
    if not takes:
        assert isinstance(first, NoDocument)
        assert first.echo == (data["changed_by_origin"] == "xstream")
        return
    assert isinstance(first, StoreDocument)
    year = (data["changed_at"] or "")[:4]
    folder = next(f for t, f in FOLDERS.items() if t.casefold() == str(data["document_type"]).casefold())
    assert first.folder_path == (f"{folder}/{year}" if year else folder)
    assert first.categories["Document"]["Source Version"] == str(data["version"])
    assert first.document_key == "erp/sap/ATT-000001"
    later = plan(row(**(changes | {"version": data["version"] + 1})), op, lsn + 1)
    assert isinstance(later, StoreDocument)
    assert later.document_key == first.document_key and later.idempotency_key != first.idempotency_key


def test_rule_files_are_checked_with_file_and_line() -> None:
    text = ("version: 1\ninbound:\n  - name: a\n    source: {target: erp, format: sap, topic: t}\n"
            "    workspace: {ext_system_id: S, bo_type: LFA1, bo_id: '{nope}'}\n")
    with pytest.raises(ConfigError) as refused:
        parse_document_rule_sources([("docs.yaml", text)])
    assert "docs.yaml:5" in str(refused.value) and "nope" in str(refused.value)
    twice = ("version: 1\ninbound:\n  - name: a\n    source: {target: erp, format: sap, topic: t}\n"
             "    workspace: {ext_system_id: S, bo_type: LFA1, bo_id: '{bo_key}'}\n")
    with pytest.raises(ConfigError) as refused:
        parse_document_rule_sources([("one.yaml", twice), ("two.yaml", twice)])
    assert "two.yaml:3" in str(refused.value) and "given twice" in str(refused.value)


def test_attachment_rows_of_both_formats_read_alike() -> None:
    sap = attachment_of(event(row()), "sap")
    salesforce = attachment_of(event({"Id": "068A", "ContentDocumentId": "069A", "VersionNumber": "3",
                                      "Title": "Invoice", "PathOnClient": "INV.pdf", "FileType": "PDF",
                                      "ContentSize": 10, "Checksum": "d41d8cd98f00b204e9800998ecf8427e",
                                      "FirstPublishLocationId": "001A"}, entity="content_versions"), "salesforce")
    assert (sap.document_id, sap.version, sap.bo_key) == ("ATT-000001", 1, "0000300001")
    assert (salesforce.document_id, salesforce.version, salesforce.ref, salesforce.bo_key) == ("069A", 3, "068A", "001A")
    assert salesforce.checksum is not None and salesforce.checksum.algorithm == "md5"


def test_on_a_system_without_an_origin_column_the_technical_user_marks_the_echo() -> None:
    assert INBOUND is not None
    rule = INBOUND.model_copy(update={"source": INBOUND.source.model_copy(update={"echo_users": ["XSTREAM_TECH"]})})
    ours = plan_inbound(event(row(changed_by="XSTREAM_TECH", changed_by_origin=None)), rule, RULES.attributes, "erp")
    assert isinstance(ours, NoDocument) and ours.echo and "XSTREAM_TECH" in ours.why
    theirs = plan_inbound(event(row(changed_by="ERP_USER")), rule, RULES.attributes, "erp")
    assert isinstance(theirs, StoreDocument)
    text = ("version: 1\ninbound:\n  - name: a\n    source: {target: erp, format: sap, topic: t, echo_users: [X]}\n"
            "    workspace: {ext_system_id: S, bo_type: LFA1, bo_id: '{bo_key}'}\n")
    assert parse_document_rule_sources([("docs.yaml", text)]).inbound[0].source.echo_users == ["X"]
