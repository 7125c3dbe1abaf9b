"""Topic specs and the schema-drift check that protects consumers of the status topic."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from xstream.errors import ConfigError
from xstream.topics import Role, default_topics_dir, load_catalog


def test_the_committed_schemas_match_the_models() -> None:
    assert load_catalog().stale_schemas() == []


def test_a_changed_schema_is_reported_stale(tmp_path: Path) -> None:
    root = tmp_path / "topics"
    shutil.copytree(default_topics_dir(), root)
    path = root / "schemas" / "xstream.status.value.json"
    schema = orjson.loads(path.read_bytes())
    schema["required"].remove("outcome")
    path.write_bytes(orjson.dumps(schema))
    assert load_catalog(root).stale_schemas() == ["schemas/xstream.status.value.json (topic xstream.status)"]
    load_catalog(root).write_schemas()
    assert load_catalog(root).stale_schemas() == []


def test_prefix_applies_to_every_topic() -> None:
    catalog = load_catalog(prefix="staging.")
    assert all(spec.name.startswith("staging.") for spec in catalog.specs)
    assert catalog.one(Role.STATUS).name == "staging.xstream.status"


def test_an_invalid_spec_names_its_file(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: x\nrole: status\n")
    with pytest.raises(ConfigError, match="bad.yaml: invalid topic spec"):
        load_catalog(tmp_path)
