"""Dry-run golden files: what each shipped rule makes of its sample events, down to the OpenText requests.

The golden files in tests/data/golden/ are the reviewed output of ``dry_run`` for the sample events in
tests/data/events/ (``<rules file stem>.<case>.json`` with an optional ``.key.json``). After an intended
change, regenerate them with ``XSTREAM_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/dryrun/test_mapping_dry_run.py``
and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from xstream.dryrun.mapping import dry_run, explain
from xstream.transform.catalog import OpenTextCatalog, load_catalog
from xstream.transform.rule_files import RULES_DIR, SAMPLE_RULES, load_rule_files

DATA = Path(__file__).resolve().parents[2] / "data"
EVENTS, GOLDEN = DATA / "events", DATA / "golden"
CASES = sorted(p.name.removesuffix(".json") for p in EVENTS.glob("*.json") if not p.name.endswith(".key.json"))


def render(case: str) -> str:
    rules_file = RULES_DIR / f"{case.split('.')[0]}.yaml"
    rules = load_rule_files([rules_file])
    key = EVENTS / f"{case}.key.json"
    return dry_run(rules, rules.topics[0], key.read_bytes() if key.exists() else None,
                   (EVENTS / f"{case}.json").read_bytes())


def test_every_shipped_rules_file_has_a_create_update_and_delete_sample() -> None:
    stems = {p.stem for p in RULES_DIR.glob("*.yaml") if p.name != "opentext_catalog.yaml"}
    assert stems == {"erp_customers", "erp_suppliers", "crm_accounts", "project_projects"}
    for stem in stems:
        assert {f"{stem}.c", f"{stem}.u", f"{stem}.d"} <= set(CASES), stem


@pytest.mark.parametrize("case", CASES)
def test_dry_run_matches_the_golden_file(case: str) -> None:
    text = render(case)
    golden = GOLDEN / f"{case}.txt"
    if os.environ.get("XSTREAM_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"no golden file {golden}; create it with XSTREAM_UPDATE_GOLDEN=1"
    assert text == golden.read_text(), f"dry-run output of {case} changed; see the module docstring"


def test_every_golden_file_has_its_event() -> None:
    assert {p.stem for p in GOLDEN.glob("*.txt")} == set(CASES)


def test_the_create_request_is_the_form_field_body_holding_json() -> None:
    text = render("erp_customers.c")
    assert "1. GET /api/v2/businessworkspaces?where_ext_system_id=SAP_PRD&where_bo_type=KNA1" in text
    assert "&expanded_view=true" in text
    assert "2. POST /api/v2/businessworkspaces" in text and "one form field `body` holding this JSON" in text
    body = text.split("holding this JSON:\n", 1)[1].split("\n\n", 1)[0]
    parsed = orjson.loads(body)
    assert parsed["template_id"] == 2011 and parsed["wksp_type_id"] == 1
    assert parsed["roles"]["categories"]["2006"]["2006_6"] == "active"


def test_updates_put_only_the_changed_keys_of_an_unknown_node() -> None:
    text = render("erp_customers.u")
    assert "2. PUT /api/v2/nodes/{workspace_id}/categories/2006" in text
    put_body = orjson.loads(text.split("categories/2006", 1)[1].split("JSON:\n", 1)[1].split("\n   (", 1)[0])
    assert put_body == {"2006_4": "m.rossi", "2006_6": "on_hold"}


def test_unknown_names_and_bad_records_are_reported_not_raised() -> None:
    rules = load_rule_files([SAMPLE_RULES])
    catalog = load_catalog()
    empty = OpenTextCatalog(source="an empty catalog")
    value = (EVENTS / "erp_customers.c.json").read_bytes()
    result = explain(rules, "erp.cdc.customers", None, value, empty)
    assert not result.ok and "error: cannot build the OpenText request: unknown workspace type 'Customer'" in result.text
    assert "ids from: an empty catalog" in result.text
    bad = explain(rules, "erp.cdc.customers", None, b"{not json", catalog)
    assert not bad.ok and "dead letter (decode): malformed_json" in bad.text
    tombstone = explain(rules, "erp.cdc.customers", b'{"customer_id": "1"}', None, catalog)
    assert tombstone.ok and "no command: tombstone" in tombstone.text


def test_set_rows_use_the_row_key_format() -> None:
    from xstream.transform.opentext_requests import put_body
    body = put_body(load_catalog().category_keys("Customer"),
                    {"Contacts": [{"Name": "Jane", "Email": "j@x"}, {"Name": "Li"}], "Owner": "j.doe"})
    assert body == {"2006_7_1_8": "Jane", "2006_7_1_9": "j@x", "2006_7_2_8": "Li", "2006_4": "j.doe"}


def test_a_wrong_typed_event_shows_its_refusal() -> None:
    rules = load_rule_files([SAMPLE_RULES])
    doc = orjson.loads((EVENTS / "erp_customers.c.json").read_bytes())
    doc["payload"]["after"]["name"] = {"first": "Ada", "last": "Lovelace", "notes": "x" * 500}
    result = explain(rules, "erp.cdc.customers", None, orjson.dumps(doc), load_catalog())
    assert not result.ok
    refusal = next(line for line in result.text.splitlines() if line.startswith("dead letter"))
    assert refusal.startswith("dead letter (map): wrong_type: rule erp-customers: Customer.Customer Name "
                              "(field 'name'): expected string, found object {\"first\":\"Ada\"")
    assert len(refusal) < 250 and "x" * 100 not in refusal  # the value is bounded, not dumped
    assert "the value does not fit the attribute's type" in result.text
    assert "OpenText requests" not in result.text  # no command, so no request


def test_the_declared_types_are_shown() -> None:
    from xstream.dryrun.mapping import declared_types
    from xstream.transform.rules import parse_rules
    assert "types: Customer.Owner user; every other attribute string" in render("erp_customers.c")
    rule = parse_rules(VALID_TYPED, "r.yaml").rules[0]
    assert declared_types(rule) == "Case.Amount decimal; Case.Tags list of string of at most 5 characters"
    assert declared_types(rule.model_copy(update={"categories": {}})) == "no attributes"


VALID_TYPED = """\
version: 1
rules:
  - name: cases
    source: {system: erp, topics: [erp.cdc.cases]}
    business_object: {ext_system_id: SAP, bo_type: CASE, bo_id: "{id}"}
    workspace: {type: Case, name: "{id}"}
    categories:
      Case:
        Amount: {field: amount, type: decimal}
        Tags: {field: tags, multi_value: true, max_length: 5}
"""


def test_an_empty_event_file_is_a_tombstone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file cannot hold Kafka's null value: an empty one (or blanks only) stands for it."""
    from xstream.cli import main
    from xstream.dryrun.mapping import value_of_file

    assert value_of_file(b"") is None and value_of_file(b" \n") is None
    assert value_of_file(b'{"op": "c"}') == b'{"op": "c"}'
    event, key = tmp_path / "empty.json", tmp_path / "key.json"
    event.write_bytes(b"")
    key.write_bytes(b'{"customer_id": "0000100042"}')
    code = main(["mapping", "dry-run", "--event", str(event), "--key", str(key), "--topic", "erp.cdc.customers"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert 'no command: tombstone (a null value, key {"customer_id":"0000100042"})' in out
    assert "malformed_json" not in out and "dead letter (" not in out
