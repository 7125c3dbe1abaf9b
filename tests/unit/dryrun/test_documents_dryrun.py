"""``xstream documents dry-run`` golden files: what the shipped document rules make of sample events.

The golden files in tests/data/golden/documents/ are the reviewed output for the events in
tests/data/document_events/: ``<entity>.<case>.json`` (with an optional ``.key.json``) is a record of
topic ``erp.cdc.<entity>``; ``opentext.<case>.json`` is an OpenText event. The attachment rows are
those of the ERP emulator's change feed. After an intended change, regenerate them with
``XSTREAM_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/dryrun/test_documents_dryrun.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from xstream.cli import main
from xstream.dryrun import documents as dryrun
from xstream.dryrun.documents import DocumentDryRun, explain, explain_opentext
from xstream.transform.document_rules import parse_document_rule_sources
from xstream.transform.rule_files import DOCUMENT_RULES_DIR, load_document_rule_files

DATA = Path(__file__).resolve().parents[2] / "data"
EVENTS, GOLDEN = DATA / "document_events", DATA / "golden" / "documents"
CASES = sorted(p.name.removesuffix(".json") for p in EVENTS.glob("*.json") if not p.name.endswith(".key.json"))
RULES = load_document_rule_files([DOCUMENT_RULES_DIR])


def run(case: str) -> DocumentDryRun:
    value = (EVENTS / f"{case}.json").read_bytes()
    entity = case.split(".")[0]
    if entity == "opentext":
        return explain_opentext(RULES, value)
    key = EVENTS / f"{case}.key.json"
    return explain(RULES, f"erp.cdc.{entity}", key.read_bytes() if key.exists() else None, value)


def requests(text: str) -> list[str]:
    """The numbered request lines, in order."""
    tail = text.split("Requests (the document sink's, in order):\n", 1)[1]
    return [line for line in tail.splitlines() if line[:1].isdigit()]


def json_after(text: str, marker: str) -> dict[str, object]:
    """The indented JSON that follows the first line containing ``marker``."""
    lines = text.split(marker, 1)[1].splitlines()[1:]
    block = []
    for line in lines:
        block.append(line)
        if line == "   }":
            break
    return dict(orjson.loads("\n".join(block)))


@pytest.mark.parametrize("case", CASES)
def test_dry_run_matches_the_reviewed_golden_file(case: str) -> None:
    golden = GOLDEN / f"{case}.txt"
    text = run(case).text
    if os.environ.get("XSTREAM_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"no golden file {golden}; create it with XSTREAM_UPDATE_GOLDEN=1"
    assert text == golden.read_text(), f"regenerate with XSTREAM_UPDATE_GOLDEN=1 and review {golden}"


def test_every_golden_file_has_its_event() -> None:
    assert {p.stem for p in GOLDEN.glob("*.txt")} == set(CASES)


def test_a_sap_purchase_order_goes_to_purchase_orders_of_its_year_with_keyed_categories() -> None:
    result = run("attachments.create")
    assert result.ok
    assert "files as <workspace>/Purchase Orders/2026/PO-4500000001.pdf (application/pdf, 48211 bytes)" in result.text
    assert ('Document: {"Document Type":"Purchase Order","Source Document Id":"ATT-000001","Source Version":"1",'
            '"Status":"Received"}') in result.text
    lines = requests(result.text)
    assert lines[0].startswith("1. GET /api/v2/businessworkspaces?where_ext_system_id=SAP_PRD&where_bo_type=LFA1"
                               "&where_bo_id=0000300007&expanded_view=true")
    assert lines[1] == "2. GET /api/v2/nodes/{workspace_id}/nodes?page=1&limit=100&where_name=Purchase+Orders&where_type=0"
    assert lines[2] == "3. GET /api/v2/nodes/{folder Purchase Orders}/nodes?page=1&limit=100&where_name=2026&where_type=0"
    assert lines[3] == "4. GET /api/v1/forms/nodes/create?type=144&parent_id={folder Purchase Orders/2026}&category_id=2015"
    assert lines[4].startswith("5. GET {erp base_url}/sap/opu/odata/sap/API_CV_ATTACHMENT_SRV/AttachmentContentSet("
                               "DocumentInfoRecordDocType='SAT',DocumentInfoRecordDocNumber='10000000001'")
    assert lines[4].endswith(")/$value")
    assert lines[5:] == ["6. GET /api/v2/multipart/settings", "7. POST /api/v2/nodes"]
    body = json_after(result.text, "part `body` holding this JSON")
    assert body == {"type": 144, "parent_id": "{folder Purchase Orders/2026}", "name": "PO-4500000001.pdf",
                    "description": "xstream: erp sap document ATT-000001 version 1",
                    "roles": {"categories": {"2015_2": "Purchase Order", "2015_5": "ATT-000001", "2015_6": "1",
                                             "2015_3": "Received"}}}
    assert "below the emulator's default threshold of 16 MiB" in result.text


def test_a_new_version_is_one_versions_post_with_the_new_source_version_and_no_folder_lookup() -> None:
    result = run("attachments.new_version")
    assert result.ok and "command: store_document for erp/sap/ATT-000001" in result.text
    lines = requests(result.text)
    assert lines[-1] == "5. POST /api/v2/nodes/{node_id}/versions"
    assert not any("/nodes?" in line for line in lines)  # the copy's folder is known: no lookups
    fields = json_after(result.text, "these form fields")
    assert fields["description"] == "xstream: erp sap document ATT-000001 version 2"
    roles = orjson.loads(str(fields["roles"]))
    # the source identity and type; not the Status, which a decision in OpenText may have moved on
    assert roles == {"categories": {"2015_2": "Purchase Order", "2015_5": "ATT-000001", "2015_6": "2"}}
    assert "DocumentInfoRecordDocVersion='01'" in lines[2]  # the new version's body


def test_a_source_delete_marks_the_governed_copy() -> None:
    result = run("attachments.delete")
    assert result.ok and "command: mark_document for erp/sap/ATT-000002" in result.text
    assert "The sink holds no copy of erp/sap/ATT-000002: nothing is sent" in result.text
    assert requests(result.text) == ["1. GET /api/v2/nodes/{node_id}/categories?metadata=true   (the node's "
                                     "categories and values)",
                                     "2. PUT /api/v2/nodes/{node_id}/categories/2015   (category Document; only "
                                     "when a value differs from what the node holds)"]
    assert json_after(result.text, "one form field `body` holding this JSON") == {"2015_3": "Deleted in source"}


def test_an_echo_of_xstreams_own_write_makes_no_command() -> None:
    result = run("attachments.echo")
    assert result.ok and "by origin xstream" in result.text
    assert "no command: echo: Supply Agreement 2027.pdf was written by xstream" in result.text
    assert "Requests" not in result.text


def test_a_document_type_no_rule_takes_says_why() -> None:
    result = run("attachments.unmatched_type")
    assert result.ok and "document type 'Brochure'" in result.text
    assert "no command: document type 'Brochure' is not one of rule erp-supplier-documents's" in result.text
    assert "document types Purchase Order, Invoice, Statement of Work" in result.text


def test_a_large_file_shows_the_large_file_upload_calls() -> None:
    text = run("attachments.large_file").text
    assert "734003200 bytes are above the emulator's default threshold of 16 MiB: there, 88 parts of 8 MiB" in text
    assert ("a. POST /api/v2/multipart   form fields file_name=PO-4500000002 scans.pdf, file_size=734003200, "
            "mime_type=application/pdf") in text
    assert "b. POST /api/v2/multipart/{upload_key}/{n}   multipart part `part_content`" in text
    assert "c. POST /api/v2/multipart/{upload_key}   completes the upload" in text
    assert 'd. POST /api/v2/nodes, form field `body`: the JSON of request 7 with "upload_key"' in text


def test_an_approval_decision_sets_the_documents_status() -> None:
    result = run("approvals.decided")
    assert result.ok and "command: set_document_attributes for opentext/100231" in result.text
    assert requests(result.text)[-1].startswith("2. PUT /api/v2/nodes/100231/categories/2015")
    assert json_after(result.text, "one form field `body` holding this JSON") == {"2015_3": "Commercially Approved"}
    pending = run("approvals.pending")
    assert pending.ok and "no command: approval status 'pending' sets no document status" in pending.text


def test_bad_input_is_one_line_and_fails() -> None:
    malformed = run("attachments.malformed")
    assert not malformed.ok and malformed.text.splitlines()[-1].startswith("dead letter (decode): malformed_json:")
    other = run("attachments.not_an_attachment")
    assert not other.ok and other.text.splitlines()[-1] == (
        "dead letter (map): missing_field: attachment row: field 'attachment_id' is missing or empty")
    missing = orjson.loads((EVENTS / "attachments.create.json").read_bytes())
    del missing["after"]["bo_key"]
    result = explain(RULES, "erp.cdc.attachments", None, orjson.dumps(missing))
    assert not result.ok and result.text.endswith("field 'bo_key' is missing or empty\n")
    assert explain(RULES, "erp.cdc.attachments", b'{"attachment_id": "ATT-1"}', None).text.endswith(
        'no command: tombstone (a null value, key {"attachment_id":"ATT-1"}): counted, not a dead letter\n')
    not_event = explain_opentext(RULES, b'{"kind": "document.added"}')
    assert not not_event.ok and not_event.text.splitlines()[-1].startswith("not an OpenText event: missing_field:")


def test_an_opentext_contract_is_published_as_a_link_and_a_copy_from_a_source_is_not_sent_back() -> None:
    link = run("opentext.contract_added")
    assert link.ok and "FIRES  supplier-contracts-to-erp" in link.text
    assert requests(link.text)[0] == "1. GET /api/v2/nodes/100231/copylink   the address users open the document at"
    assert ("3. POST {erp base_url}/sap/opu/odata/sap/API_CV_ATTACHMENT_SRV/CreateUrlAsAttachment?"
            "BusinessObjectTypeName='LFA1'&LinkedSAPObjectKey='0000300001'&MIMEType='text/url'&"
            "UrlDescription='Supply+Agreement+2027.pdf'&Url='{copy+link}'") in link.text
    back = run("opentext.from_source")
    assert back.ok and "no command: the document came from a source system (source id 'ATT-000007')" in back.text


SALESFORCE_RULES = """\
version: 1
inbound:
  - name: crm-account-files
    source: {target: crm, format: salesforce, topic: crm.cdc.content_versions}
    workspace: {ext_system_id: SFDC, bo_type: Account, bo_id: "{bo_key}"}
"""


def test_a_salesforce_file_is_read_from_its_content_version() -> None:
    rules = parse_document_rule_sources([("crm.yaml", SALESFORCE_RULES)])
    row = {"Id": "068000000000001AAA", "ContentDocumentId": "069000000000001AAA", "VersionNumber": "1",
           "Title": "NDA", "PathOnClient": "NDA.pdf", "FileType": "PDF", "ContentSize": 1000,
           "Checksum": "0123456789abcdef0123456789abcdef", "FirstPublishLocationId": "001000000000001AAA",
           "LastModifiedDate": "2026-03-01T10:00:00.000Z"}
    value = orjson.dumps({"before": None, "after": row, "op": "c", "source": {"table": "content_versions"}})
    result = explain(rules, "crm.cdc.content_versions", None, value)
    assert result.ok, result.text
    version = "{crm base_url}/services/data/v60.0/sobjects/ContentVersion/068000000000001AAA"
    assert f"3. GET {version}   (its size, checksum, and whether it is a link), then" in result.text
    assert f"   GET {version}/VersionData" in result.text
    assert "checked against the declared size (1000 bytes, and checksum)" in result.text
    assert "files as <workspace>/NDA.pdf" in result.text  # no folder path: the workspace itself
    assert "GET /api/v1/forms/nodes/create?type=144&parent_id={workspace_id}&category_id=2015" in result.text


def test_the_constants_shared_with_the_clients_agree() -> None:
    """The dry-run sits below the clients in the layers, so it restates a few of their constants."""
    from xstream.clients.opentext.models import DOCUMENT, FOLDER
    from xstream.clients.salesforce import API_VERSION
    from xstream.clients.sap import SERVICE_PATH

    assert (dryrun.SAP_SERVICE, dryrun.SALESFORCE_API, dryrun.DOCUMENT, dryrun.FOLDER) == (
        SERVICE_PATH, API_VERSION, DOCUMENT, FOLDER)


def test_the_cli_runs_the_dry_run_and_mapping_dry_run_hands_document_topics_over(
        capsys: pytest.CaptureFixture[str]) -> None:
    event, key = str(EVENTS / "attachments.create.json"), str(EVENTS / "attachments.create.key.json")
    assert main(["documents", "dry-run", "--event", event, "--key", key, "--topic", "erp.cdc.attachments"]) == 0
    direct = capsys.readouterr().out
    assert direct == run("attachments.create").text
    assert main(["mapping", "dry-run", "--event", event, "--key", key, "--topic", "erp.cdc.attachments"]) == 0
    assert capsys.readouterr().out == direct
    bad = str(EVENTS / "attachments.malformed.json")
    assert main(["documents", "dry-run", "--event", bad, "--topic", "erp.cdc.attachments"]) == 1
    assert "dead letter (decode): malformed_json" in capsys.readouterr().out
    assert main(["documents", "dry-run", "--opentext-event", str(EVENTS / "opentext.contract_added.json")]) == 0
    assert "publish_document" in capsys.readouterr().out
    assert main(["documents", "dry-run", "--event", event]) == 2  # two topics in the rules: which one?
    assert "pass --topic" in capsys.readouterr().err
    assert main(["documents", "dry-run", "--event", event, "--topic", "erp.cdc.customers"]) == 2
    assert "no document rule reads topic 'erp.cdc.customers'" in capsys.readouterr().err
