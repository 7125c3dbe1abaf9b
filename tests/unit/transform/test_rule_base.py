"""The strict base every rule language is built on: what a new one (the partner-exchange policies) gets."""

from __future__ import annotations

import pytest
from pydantic import Field, ValidationError

from xstream.errors import ConfigError
from xstream.transform.catalog import OpenTextCatalog
from xstream.transform.rule_base import StrictModel, invalid, read_yaml, validate_sources
from xstream.transform.rules import RuleFile
from xstream.transform.status_rules import StatusRuleFile


class Policy(StrictModel):
    name: str = Field(min_length=1)
    partners: list[str] = Field(min_length=1)


class PolicyFile(StrictModel):
    version: int = 1
    policies: list[Policy]


def test_every_rule_language_is_on_the_one_base() -> None:
    for model in (RuleFile, StatusRuleFile, OpenTextCatalog):
        assert issubclass(model, StrictModel)


def test_unknown_keys_are_mistakes_and_parsed_files_do_not_change() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Policy.model_validate({"name": "a", "partners": ["x"], "partner": "y"})
    policy = Policy(name="a", partners=["x"])
    with pytest.raises(ValidationError, match="frozen"):
        policy.name = "b"  # type: ignore[misc]


def test_mistakes_of_all_files_are_reported_at_their_line() -> None:
    good = "version: 1\npolicies:\n  - {name: a, partners: [x]}\n"
    bad = "version: 1\npolicies:\n  - name: a\n    partners: []\n  - {name: '', partners: [y], owner: z}\n"
    parsed, problems = validate_sources([("good.yaml", good), ("bad.yaml", bad)], PolicyFile)
    assert [(source.name, policies.policies[0].name) for source, policies in parsed] == [("good.yaml", "a")]
    assert problems == [
        "bad.yaml:4: policies.0.partners: List should have at least 1 item after validation, not 0",
        "bad.yaml:5: policies.1.name: String should have at least 1 character",
        "bad.yaml:5: policies.1.owner: Extra inputs are not permitted",
    ]
    source = parsed[0][0]
    assert source.where(["policies", 0, "partners"]) == "good.yaml:3"
    assert source.where(["policies", 7]) == "good.yaml:2"  # a missing item: its nearest parent, by its key
    assert str(invalid("partner policies", problems[:1])) == (
        "invalid partner policies:\n  bad.yaml:4: policies.0.partners: List should have at least 1 item after "
        "validation, not 0")


def test_yaml_is_read_once_with_its_lines_and_broken_yaml_names_the_file() -> None:
    data, root = read_yaml("a: [1, 2]\nb: {c: x}\n", "f.yaml")
    assert data == {"a": [1, 2], "b": {"c": "x"}} and root is not None and root.start_mark.line == 0
    assert read_yaml("", "empty.yaml") == (None, None)
    with pytest.raises(ConfigError, match="f.yaml: not valid YAML"):
        read_yaml("a: [", "f.yaml")
