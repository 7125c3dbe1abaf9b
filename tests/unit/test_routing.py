"""One table from command kind to topic: each target's commands reach only its own topic."""

from __future__ import annotations

import pytest

from tests.unit.test_runner import command
from xstream.errors import ConfigError
from xstream.model.commands import Notify, StartApproval, UpdateRecord
from xstream.routing import Router
from xstream.topics import Role, load_catalog


def downstream(kind: type, target: str) -> UpdateRecord | StartApproval | Notify:
    base = {"idempotency_key": "k" * 20, "target": target, "business_object": command("1").business_object,
            "causation": command("1").causation}
    if kind is UpdateRecord:
        return UpdateRecord(**base, entity="customers", record_id="1", fields={"a": 1})
    if kind is StartApproval:
        return StartApproval(**base, process="p", subject="s")
    return Notify(**base, channel="legal", title="t", text="")


def test_each_kind_goes_to_its_topic_and_each_target_to_its_own() -> None:
    router = Router(load_catalog(prefix="staging.", targets=["erp", "chat"]))
    assert router.topic_for(command("1")) == "staging.xstream.commands.workspace"
    assert router.topic_for(downstream(UpdateRecord, "erp")) == "staging.xstream.commands.erp"
    assert router.topic_for(downstream(StartApproval, "erp")) == "staging.xstream.commands.erp"
    assert router.topic_for(downstream(Notify, "chat")) == "staging.xstream.commands.chat"
    route = router.for_sink("target")
    assert router.topic_of_sink(route, "chat") == "staging.xstream.commands.chat"
    assert route.command_type.validate_python(downstream(Notify, "chat").model_dump()).kind == "notify"


def test_a_kind_without_a_route_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="no route for command kind 'share_document'"):
        Router(load_catalog()).route("share_document")


def test_per_target_topics_are_created_for_the_configured_targets_only() -> None:
    catalog = load_catalog(targets=["erp"])
    names = {s.name for s in catalog.specs}
    assert "xstream.commands.erp" in names and "xstream.commands.chat" not in names
    assert catalog.for_target(Role.DOWNSTREAM_COMMANDS, "chat").name == "xstream.commands.chat"
    with pytest.raises(ConfigError, match="cannot be part of a topic name"):
        catalog.for_target(Role.DOWNSTREAM_COMMANDS, "bad/name")
