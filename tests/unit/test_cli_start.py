"""What an operator sees when a worker cannot start: one line, in the worker's log format, and the exit code.

Worker processes run as ``python -m xstream`` in an empty working directory (no .env) with only the
variables given; none of these needs a broker.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from xstream_emulators.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"XSTREAM_TARGETS__ERP__BASE_URL": "http://127.0.0.1:1/api", "XSTREAM_TARGETS__CRM__BASE_URL":
           "http://127.0.0.1:1/api", "XSTREAM_TARGETS__PROJECT_TOOL__BASE_URL": "http://127.0.0.1:1/api",
           "XSTREAM_TARGETS__CHAT__KIND": "notify",
           **{f"XSTREAM_TARGETS__CHAT__CHANNELS__{c.upper()}": f"http://127.0.0.1:1/slack/{c}/t"
              for c in ("commercial", "legal", "procurement", "finance")}}
"""Every target the shipped sample rules name, so that the worker gets as far as Kafka."""


def xstream(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xstream", *args], capture_output=True, text=True, timeout=60,
                          check=False, cwd=cwd,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), **env})


def only_line(stderr: str) -> dict[str, object]:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    doc: dict[str, object] = json.loads(lines[0])
    return doc


def test_invalid_settings_are_one_json_log_line_and_exit_2(tmp_path: Path) -> None:
    result = xstream("worker", env={"XSTREAM_KAFKA__BOOTSRAP": "kafka:9092"}, cwd=tmp_path)
    assert result.returncode == 2
    line = only_line(result.stderr)
    assert (line["level"], line["msg"]) == ("CRITICAL", "the worker could not start")
    assert line["error"] == "unknown setting XSTREAM_KAFKA__BOOTSRAP (did you mean XSTREAM_KAFKA__BOOTSTRAP?)"


def test_with_console_logs_invalid_settings_are_the_plain_message(tmp_path: Path) -> None:
    result = xstream("worker", env={"XSTREAM_OBSERVABILITY__LOG_FORMAT": "console",
                                    "XSTREAM_WORKER__RULES_FILE": "/nonexistent.yaml"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == ("xstream: invalid settings:\n  XSTREAM_WORKER__RULES_FILE: /nonexistent.yaml does not "
                             "exist (give a rules YAML file or a directory of them)\n")


def test_rules_the_settings_cannot_serve_are_a_json_line_after_the_start_line(tmp_path: Path) -> None:
    result = xstream("worker", env={"XSTREAM_OBSERVABILITY__PORT": "0"}, cwd=tmp_path)
    assert result.returncode == 2
    start, failure = (json.loads(line) for line in result.stderr.splitlines())
    assert start["msg"] == "worker starting"
    assert failure["level"] == "CRITICAL" and "XSTREAM_TARGETS__ERP__BASE_URL" in failure["error"]


def test_an_unreachable_broker_stops_the_worker_in_seconds_with_one_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    result = xstream("worker", env={**TARGETS, "XSTREAM_KAFKA__BOOTSTRAP": f"127.0.0.1:{port}",
                                    "XSTREAM_OBSERVABILITY__PORT": "0"}, cwd=tmp_path)
    assert time.monotonic() - started < 15
    assert result.returncode == 1
    start, *rest = result.stderr.splitlines()
    assert json.loads(start)["msg"] == "worker starting"
    failure = only_line("\n".join(rest))  # no traceback, no unclosed-client noise after it
    assert failure["level"] == "CRITICAL"
    assert failure["error"] == (f"no Kafka broker could be reached (XSTREAM_KAFKA__BOOTSTRAP=127.0.0.1:{port}): "
                                f"127.0.0.1:{port} refused the connection")


def test_version_comes_from_the_package_metadata(tmp_path: Path) -> None:
    result = xstream("--version", env={}, cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == f"xstream {importlib.metadata.version('xstream')}\n"


def test_demo_help_names_every_flow_it_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from xstream.cli import main

    with pytest.raises(SystemExit) as caught:
        main(["demo", "--help"])
    assert caught.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "F1 + F4" in out and "F3 + F6" in out
