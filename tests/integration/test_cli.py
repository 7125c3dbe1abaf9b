"""The commands an operator types: topics apply (idempotent), topics check, mapping dry-run."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import Broker
from xstream.demo import scenario as sc

pytestmark = pytest.mark.integration


def xstream(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xstream", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_topics_apply_creates_then_reports_existing(broker: Broker) -> None:
    prefix = f"cli{uuid.uuid4().hex[:6]}."
    first = xstream("topics", "apply", "--bootstrap", broker.bootstrap, "--prefix", prefix)
    assert first.returncode == 0, first.stderr
    assert f"created  {prefix}xstream.status" in first.stdout
    second = xstream("topics", "apply", "--bootstrap", broker.bootstrap, "--prefix", prefix)
    assert second.returncode == 0 and "created" not in second.stdout
    assert f"exists   {prefix}xstream.status" in second.stdout


def test_topics_check_passes_on_the_committed_schemas() -> None:
    result = xstream("topics", "check")
    assert result.returncode == 0 and "schemas up to date" in result.stdout


def test_mapping_dry_run_prints_the_command_and_refuses_bad_events(tmp_path: Path) -> None:
    scenario = sc.build(customers=1, snapshot_reads=0, updates=0, replays=0)
    event = tmp_path / "event.json"
    event.write_bytes(scenario.records[0].value or b"")
    ambiguous = xstream("mapping", "dry-run", "--event", str(event))
    assert ambiguous.returncode == 2 and "pass --topic" in ambiguous.stderr
    result = xstream("mapping", "dry-run", "--event", str(event), "--topic", "erp.cdc.customers")
    assert result.returncode == 0, result.stderr
    assert "command: ensure_workspace for SAP_PRD/KNA1/0000100000" in result.stdout
    lookup = ("GET /api/v2/businessworkspaces?where_ext_system_id=SAP_PRD&where_bo_type=KNA1"
              "&where_bo_id=0000100000&expanded_view=true")
    assert lookup in result.stdout and "POST /api/v2/businessworkspaces" in result.stdout
    event.write_bytes(b'{"op": "x"}')
    refused = xstream("mapping", "dry-run", "--event", str(event), "--topic", "erp.cdc.customers")
    assert refused.returncode == 1 and "unknown_op" in refused.stdout


def test_invalid_settings_stop_the_worker_with_the_variable_named() -> None:
    result = subprocess.run([sys.executable, "-m", "xstream", "worker"], capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "XSTREAM_OPENTEXT__BASE_URL": "not a url"}, check=False)
    assert result.returncode == 2
    assert "XSTREAM_OPENTEXT__BASE_URL" in result.stderr
