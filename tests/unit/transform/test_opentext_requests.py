"""The one builder of OpenText requests: names looked up one way, set rows keyed by member key on a create
and by row key on a PUT, whoever gave the keys (the sink's server, the dry-run's catalog)."""

from __future__ import annotations

import orjson
import pytest

from xstream.dryrun.mapping import opentext_requests
from xstream.errors import DeadLetterReason, MappingError
from xstream.model.business import BusinessObject
from xstream.model.commands import Causation, EnsureWorkspace
from xstream.transform.catalog import load_catalog
from xstream.transform.opentext_requests import (
    AttributeKey,
    CategoryKeys,
    create_categories,
    create_request,
    lookup_params,
    pick,
    pick_template,
    put_body,
    row_key,
)

BO = BusinessObject(ext_system_id="SAP_PRD", bo_type="KNA1", bo_id="42")
CONTACTS = [{"Name": "Ada", "Email": "a@x"}, {"name": "Grace"}]


def ensure(**categories: dict) -> EnsureWorkspace:
    return EnsureWorkspace(
        idempotency_key="k" * 16, business_object=BO, workspace_type="Customer", template=None, name=" Globex ",
        categories=categories, causation=Causation(source_system="erp", entity="customers", op="c",
                                                   source_position="lsn:1", topic="erp.cdc.customers", partition=0,
                                                   offset=0))


def test_names_are_found_exactly_then_ignoring_case_then_by_key() -> None:
    named = [("Status", 1), ("status", 2), ("Region", 3)]
    assert pick(named, "Status", what="attribute", where="x") == 1
    assert pick(named, " region ", what="attribute", where="x") == 3
    assert pick(named, "2006_5", what="attribute", where="x", keys={"2006_5": 3}) == 3
    with pytest.raises(MappingError, match=r"ambiguous attribute 'STATUS'; the template has \['Region', 'Status', "):
        pick(named, "STATUS", what="attribute", where="the template")
    with pytest.raises(MappingError) as caught:
        pick(named, "Owner", what="attribute of category 'Customer':", where="the catalog")
    assert caught.value.reason is DeadLetterReason.MAPPING_FAILED
    assert caught.value.detail == "unknown attribute of category 'Customer': 'Owner'; the catalog has " \
                                  "['Region', 'Status', 'status']"


def test_a_command_without_a_template_takes_its_types_first() -> None:
    templates = [("Customer Template", 2011), ("Key Account", 2021)]
    assert pick_template(templates, None, type_name="Customer", where="OpenText") == 2011
    assert pick_template(templates, "key account", type_name="Customer", where="OpenText") == 2021
    with pytest.raises(MappingError, match="workspace type 'Customer' has no template in OpenText"):
        pick_template([], None, type_name="Customer", where="OpenText")


def test_the_create_body_from_the_catalog() -> None:
    catalog = load_catalog()
    command = ensure(Customer={"Account Number": "42", "Contacts": CONTACTS})
    request = create_request(command, type_id=1, template_id=2011,
                             categories=create_categories(catalog, command.create_categories))
    assert request.to_body() == {
        "template_id": 2011, "wksp_type_id": 1, "name": "Globex", "description": "", "ext_system_id": "SAP_PRD",
        "bo_type": "KNA1", "bo_id": "42",
        "roles": {"categories": {"2006": {"2006_2": "42", "2006_7": [{"2006_7_x_8": "Ada", "2006_7_x_9": "a@x"},
                                                                     {"2006_7_x_8": "Grace"}]}}}}
    assert lookup_params(BO) == {"where_ext_system_id": "SAP_PRD", "where_bo_type": "KNA1", "where_bo_id": "42",
                                 "expanded_view": "true", "page": "1", "limit": "10"}


def test_the_dry_run_prints_set_rows_of_a_create_by_member_key() -> None:
    text = "\n".join(opentext_requests(ensure(Customer={"Contacts": CONTACTS}), load_catalog()))
    body = orjson.loads(text.split("holding this JSON:\n", 1)[1])
    assert body["roles"]["categories"]["2006"]["2006_7"] == [{"2006_7_x_8": "Ada", "2006_7_x_9": "a@x"},
                                                             {"2006_7_x_8": "Grace"}]


class Untyped:
    def problem(self, value: object) -> str | None:
        return "an object" if isinstance(value, dict) else None

    def describe(self) -> str:
        return "String"


def test_a_put_replaces_a_sets_rows_and_empties_the_rows_beyond() -> None:
    contacts = AttributeKey("9_3", "Contacts", members=(AttributeKey("9_3_x_4", "Name", Untyped()),
                                                        AttributeKey("9_3_x_5", "Email")))
    category = CategoryKeys("9", "Customer", (AttributeKey("9_2", "Status", Untyped()), contacts), where="the node",
                            rows={"9_3": 3})
    assert put_body(category, {"status": "Open", "Contacts": [{"Name": "A"}]}) == {
        "9_2": "Open", "9_3_1_4": "A", "9_3_2_4": None, "9_3_2_5": None, "9_3_3_4": None, "9_3_3_5": None}
    assert put_body(category, {"Contacts": {"Email": "e@x"}}) == {"9_3_1_5": "e@x"}  # one row: the first
    with pytest.raises(MappingError) as caught:
        put_body(category, {"Contacts": [{"Name": "A"}, {"Name": {"first": "B"}}]})
    assert caught.value.reason is DeadLetterReason.WRONG_TYPE
    assert caught.value.detail == ("OpenText says Customer.Contacts[2].Name (9_3_x_4) is String: "
                                   "it cannot take an object")
    assert row_key("2006_7", 12, "2006_7_x_9") == "2006_7_12_9"
