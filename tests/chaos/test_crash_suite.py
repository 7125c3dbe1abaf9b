"""The crash suite at CI scale: about 1,000 CDC events and a dozen contracts, 2 workers, 3 SIGKILLs.

Select it with ``pytest -m chaos`` (it also runs in the default suite); the full scale is
``python -m tests.chaos``. The report is printed (``-s`` shows it on success too) and written next
to the worker logs. ``XSTREAM_CHAOS_SEED`` changes the scenario and kill schedule;
``XSTREAM_CHAOS_WORKER_SOURCE=DIR`` runs the workers from another source tree (e.g.
``git archive HEAD | tar -x -C DIR``) against this suite and these emulators.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chaos.suite import Options, run_suite
from tests.conftest import Broker

pytestmark = [pytest.mark.chaos, pytest.mark.integration]


SOURCE = os.environ.get("XSTREAM_CHAOS_WORKER_SOURCE")  # e.g. an exported commit, to compare
WORKER_SOURCE = Path(os.path.abspath(SOURCE)) if SOURCE else None


async def test_killed_workers_lose_and_duplicate_no_effect(broker: Broker, tmp_path: Path) -> None:
    options = Options(events=1000, kills=3, workers=2, seed=int(os.environ.get("XSTREAM_CHAOS_SEED", "1")),
                      stream_seconds=25, quiet_s=15, settle_timeout_s=90, log_dir=tmp_path / "logs", progress=print,
                      worker_source=WORKER_SOURCE)
    report = await run_suite(options, broker.bootstrap, broker.flavour)
    text = report.text()
    (tmp_path / "report.txt").write_text(text)
    print(text)
    assert report.suite_ok, f"the suite's self-check failed: its counts cannot be trusted\n{text}"
    assert report.ok, text
