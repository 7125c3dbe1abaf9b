"""Readiness: components must report in, and a partition with lag but no progress makes the worker unready."""

from __future__ import annotations

import logging

import orjson

from xstream.observability import Health, JsonFormatter


def test_not_ready_until_every_expected_component_reports() -> None:
    health = Health(stall_after_s=60)
    health.expect("flow:cdc_to_workspace", "sink:opentext")
    assert health.problems() == ["flow:cdc_to_workspace not ready", "sink:opentext not ready"]
    health.ready("flow:cdc_to_workspace")
    health.ready("sink:opentext")
    assert health.problems() == []


def test_a_partition_with_lag_and_no_progress_is_a_stall() -> None:
    now = [0.0]
    health = Health(stall_after_s=30, clock=lambda: now[0])
    health.progressed("cmds", 0, lag=5)
    now[0] = 20
    health.waiting("cmds", 0, lag=5)
    assert health.problems() == []
    now[0] = 31
    health.waiting("cmds", 0, lag=5)
    assert health.problems() == ["cmds/0 stalled: lag 5, no progress for 31s"]
    health.waiting("cmds", 0, lag=0)  # caught up: an idle partition is healthy
    assert health.problems() == []


def test_json_logs_carry_extra_fields() -> None:
    record = logging.makeLogRecord({"msg": "command finished", "levelname": "INFO", "name": "x",
                                    "idempotency_key": "abc", "business_object": "S/T/1"})
    doc = orjson.loads(JsonFormatter().format(record))
    assert doc["msg"] == "command finished" and doc["idempotency_key"] == "abc" and doc["business_object"] == "S/T/1"


def test_a_partition_that_waits_on_purpose_is_not_a_stall_and_says_why() -> None:
    now = [0.0]
    health = Health(stall_after_s=10, clock=lambda: now[0])
    health.progressed("cmds", 0, lag=5)
    health.hold("cmds", 0, "erp breaker open")
    now[0] = 60
    assert health.problems() == []
    assert health.status()["held"] == {"cmds/0": "erp breaker open"}
    health.hold("cmds", 0, None)  # the target is back: the stall clock starts again
    assert health.problems() == []
    now[0] = 75
    assert health.problems() == ["cmds/0 stalled: lag 5, no progress for 15s"]


def test_status_collects_the_registered_sections() -> None:
    health = Health(stall_after_s=10)
    health.expect("sink:erp")
    health.register("sink:erp", lambda: {"breaker": {"state": "open"}})
    doc = health.status()
    assert doc["ready"] is False and doc["components"] == {"sink:erp": False}
    assert doc["sink:erp"] == {"breaker": {"state": "open"}}
