"""The dry-run catalog matches the emulator's seed; rules load from files and directories with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from xstream_emulators.opentext.state import OpenTextState

from xstream.errors import ConfigError, MappingError
from xstream.transform.catalog import load_catalog, parse_catalog
from xstream.transform.rule_files import CATALOG_FILE, RULES_DIR, load_rule_files, rule_file_paths


def test_the_shipped_catalog_has_the_ids_of_the_emulator_seed() -> None:
    catalog, state = load_catalog(), OpenTextState()
    assert "emulator seed" in catalog.source
    for ws_type in state.types.values():
        entry = catalog.workspace_type(ws_type.name)
        assert (entry.id, entry.location_id) == (ws_type.id, ws_type.location_id)
        assert {state.templates[t].name: t for t in ws_type.template_ids} == entry.templates
    for category in state.categories.values():
        entry = catalog.category_keys(category.name)
        assert entry.id == str(category.id)
        assert {a.title: a.key for a in category.attributes} == {a.name: a.key for a in entry.attributes}
        for attr in category.attributes:
            members = entry.attribute(attr.title).members
            assert {s.title: s.key for s in attr.set_attributes} == {m.name: m.key for m in members or ()}


def test_catalog_lookups() -> None:
    catalog = load_catalog()
    assert catalog.template_id("Customer", None) == catalog.template_id("customer", "customer template") == 2011
    customer = catalog.category_keys("customer")
    assert (customer.id, customer.name, customer.attribute("status").key) == ("2006", "Customer", "2006_6")
    assert [m.key for m in customer.attribute("Contacts").members or ()] == ["2006_7_x_8", "2006_7_x_9"]
    with pytest.raises(MappingError, match="unknown attribute of category 'Customer': 'Credit Limit'; the catalog"):
        customer.attribute("Credit Limit")
    with pytest.raises(ConfigError) as caught:  # reported like rules: file, line, field
        parse_catalog("source: mine\nworkspace_types:\n  Customer: {id: one}\n", "x.yaml")
    assert "invalid OpenText catalog:\n  x.yaml:3: workspace_types.Customer.id: Input should be a valid integer" \
        in str(caught.value)
    with pytest.raises(ConfigError, match="x.yaml:1: set_row_key: Extra inputs are not permitted"):
        parse_catalog("set_row_key: '{set_key}-{row}'\n", "x.yaml")


def test_sample_rules_use_only_names_the_seed_has() -> None:
    catalog = load_catalog()
    for rule in load_rule_files([RULES_DIR]).rules:
        catalog.template_id(rule.workspace.type, rule.workspace.template)
        for category, attrs in [*rule.categories.items(), *(rule.delete_action or {}).items()]:
            for attr in attrs:
                catalog.category_keys(category).attribute(attr)


def test_a_directory_loads_every_rules_file_but_the_catalog(tmp_path: Path) -> None:
    files = rule_file_paths([RULES_DIR])
    assert CATALOG_FILE not in files and len(files) == 4
    rules = load_rule_files([RULES_DIR])
    assert rules.topics == ["crm.cdc.accounts", "erp.cdc.customers", "erp.cdc.suppliers", "projects.cdc.projects"]
    with pytest.raises(ConfigError, match="no such rules file or directory"):
        load_rule_files([tmp_path / "missing.yaml"])
    with pytest.raises(ConfigError, match="no rules files"):
        load_rule_files([tmp_path])


def test_the_same_file_twice_is_a_clear_duplicate(tmp_path: Path) -> None:
    copy = tmp_path / "copy.yaml"
    copy.write_text((RULES_DIR / "erp_customers.yaml").read_text())
    with pytest.raises(ConfigError) as caught:
        load_rule_files([RULES_DIR, copy])
    assert f"{copy}:6: rules.0: rule names must be unique: erp-customers is also defined at " in str(caught.value)
