"""The HTTP request each downstream command becomes (the sink and the dry-run share it)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xstream.model.business import BusinessObject
from xstream.model.commands import (
    AnyDownstream,
    Causation,
    DocumentLink,
    Notify,
    RecordPointer,
    StartApproval,
    UpdateRecord,
)
from xstream.transform.downstream_requests import request_for

KEY = "0123456789abcdef0123456789abcdef01234567"
SUPPLIER = BusinessObject(ext_system_id="SAP_PRD", bo_type="LFA1", bo_id="0000300001")
CONTRACT = DocumentLink(node_id=100123, name="Supply agreement.pdf",
                        url="https://ecm.example.com/otcs/cs/app/nodes/100123", version=3)


def causation(**overrides: Any) -> Causation:
    fields: dict[str, Any] = {"source_system": "opentext", "entity": "documents", "op": "u",
                              "source_position": "audit:4711", "topic": "xstream.opentext.events",
                              "partition": 0, "offset": 3}
    return Causation(**(fields | overrides))


def common(**overrides: Any) -> dict[str, Any]:
    return {"idempotency_key": KEY, "target": "erp", "business_object": SUPPLIER, "causation": causation()} | overrides


def update_record(**overrides: Any) -> UpdateRecord:
    return UpdateRecord(**(common(entity="suppliers", record_id="0000300001",
                                  fields={"contract_status": "signed"}) | overrides))


def start_approval(**overrides: Any) -> StartApproval:
    return StartApproval(**(common(process="commercial_approval", subject="Approve: Supply agreement.pdf",
                                   rule="legal_review_done", document=CONTRACT,
                                   record=RecordPointer(entity="suppliers", id="0000300001"),
                                   fields={"amount": 125000, "currency": "EUR"}) | overrides))


def notify(**overrides: Any) -> Notify:
    return Notify(**(common(target="chat", channel="legal", title="Contract signed", text="Supply agreement.pdf",
                            link_url=CONTRACT.url) | overrides))


COMMANDS = [update_record, start_approval, notify]


def parse_sf_string(header: str) -> str:
    """RFC 8941 section 4.2.5, written out here: DQUOTE *( unescaped / "\\" ( DQUOTE / "\\" ) ) DQUOTE."""
    match = re.fullmatch(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"', header)
    assert match is not None, f"not an sf-string: {header!r}"
    return re.sub(r'\\(["\\])', r"\1", match.group(1))


# --- update_record ------------------------------------------------------------------------------------

def test_an_update_is_a_patch_of_the_record_with_its_fields() -> None:
    request = request_for(update_record())
    assert (request.method, request.path) == ("PATCH", "suppliers/0000300001")
    assert request.body == {"contract_status": "signed"}
    assert request.operation == "records.patch"


def test_entity_and_record_id_are_url_quoted_as_single_segments() -> None:
    request = request_for(update_record(entity="sales orders", record_id="4711/01?x=1#frag"))
    assert request.path == "sales%20orders/4711%2F01%3Fx%3D1%23frag"


# --- start_approval -----------------------------------------------------------------------------------

def test_an_approval_is_a_post_to_the_approvals_path() -> None:
    request = request_for(start_approval())
    assert (request.method, request.path, request.operation) == ("POST", "approvals", "approvals.create")


@pytest.mark.parametrize("configured", ["api/v2/approvals", "/api/v2/approvals/"])
def test_the_approvals_path_is_relative_to_the_base_url(configured: str) -> None:
    assert request_for(start_approval(), approvals_path=configured).path == "api/v2/approvals"


def test_the_approval_body_says_what_it_is_about_and_where_it_came_from() -> None:
    body = request_for(start_approval()).body
    assert set(body) == {"process", "subject", "reference", "requested_by", "fields", "record"}
    assert body["process"] == "commercial_approval"
    assert body["subject"] == "Approve: Supply agreement.pdf"
    assert body["requested_by"] == "xstream"
    assert body["fields"] == {"amount": 125000, "currency": "EUR"}
    assert body["record"] == {"entity": "suppliers", "id": "0000300001"}
    expected_reference = {"business_object": "SAP_PRD/LFA1/0000300001", "document_id": 100123,
                          "document_name": "Supply agreement.pdf",
                          "document_url": "https://ecm.example.com/otcs/cs/app/nodes/100123", "version": 3,
                          "rule": "legal_review_done"}
    assert expected_reference.items() <= body["reference"].items()


def test_an_approval_without_a_record_sends_no_record() -> None:
    body = request_for(start_approval(record=None, document=None, rule=None, fields={})).body
    assert "record" not in body
    assert body["fields"] == {}
    assert body["reference"]["business_object"] == "SAP_PRD/LFA1/0000300001"
    assert not {"document_id", "document_name", "document_url", "rule"} & set(body["reference"])


# --- notify -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["slack", "teams"])
def test_a_notification_is_a_post_to_its_channel_in_the_targets_format(fmt: str) -> None:
    request = request_for(notify(), fmt=fmt)  # type: ignore[arg-type]
    assert (request.method, request.path, request.operation) == ("POST", "legal", f"{fmt}.post")
    if fmt == "slack":
        assert request.body["blocks"][0]["text"]["text"] == "Contract signed"
    else:
        card = request.body["attachments"][0]["content"]
        assert card["type"] == "AdaptiveCard" and card["body"][0]["text"] == "Contract signed"


# --- headers ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", COMMANDS, ids=lambda m: m.__name__)
def test_every_request_carries_key_origin_and_causation(make: Any) -> None:
    headers = request_for(make()).headers
    assert headers["Idempotency-Key"] == f'"{KEY}"'
    assert headers["X-Xstream-Origin"] == "xstream"
    assert headers["X-Xstream-Causation"] == "opentext/documents/audit:4711"


def test_the_origin_header_is_the_commands_origin() -> None:
    command = update_record(causation=causation(origin="xstream-staging"))
    assert request_for(command).headers["X-Xstream-Origin"] == "xstream-staging"


def test_the_causation_parts_are_url_quoted() -> None:
    command = update_record(causation=causation(source_system="erp prod", entity="sales/orders",
                                                source_position="mysql-bin.000003:4711 ü"))
    assert request_for(command).headers["X-Xstream-Causation"] == "erp%20prod/sales%2Forders/mysql-bin.000003:4711%20%C3%BC"


def test_quotes_and_backslashes_in_the_key_are_escaped() -> None:
    command = update_record(idempotency_key='key-with-"quote"-and-\\back')
    assert request_for(command).headers["Idempotency-Key"] == '"key-with-\\"quote\\"-and-\\\\back"'


@given(key=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=16, max_size=80))
def test_any_printable_key_travels_as_an_sf_string_that_reads_back_unchanged(key: str) -> None:
    header = request_for(update_record(idempotency_key=key)).headers["Idempotency-Key"]
    assert parse_sf_string(header) == key


@pytest.mark.parametrize("bad", ["\n", "\t", "\x7f", "\x00", "é", "€"], ids=repr)
@pytest.mark.parametrize("make", COMMANDS, ids=lambda m: m.__name__)
def test_a_key_that_cannot_be_a_header_is_refused(make: Any, bad: str) -> None:
    command: AnyDownstream = make(idempotency_key="0123456789abcdef" + bad)
    with pytest.raises(ValueError):
        request_for(command)
