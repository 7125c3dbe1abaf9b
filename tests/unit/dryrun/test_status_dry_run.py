"""``xstream rules dry-run`` golden files: what the shipped status rules make of sample OpenText events.

The golden files in tests/data/golden/status/ are the reviewed output for the events in
tests/data/opentext_events/ (``<case>.json``, with the previous status in an optional ``<case>.previous``).
After an intended change, regenerate them with
``XSTREAM_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/dryrun/test_status_dry_run.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from xstream.dryrun.status import explain
from xstream.transform.rule_files import STATUS_RULES_DIR, load_status_rule_files

DATA = Path(__file__).resolve().parents[2] / "data"
EVENTS, GOLDEN = DATA / "opentext_events", DATA / "golden" / "status"
CASES = sorted(p.stem for p in EVENTS.glob("*.json"))
RULES = load_status_rule_files([STATUS_RULES_DIR])


def render(case: str) -> str:
    previous = EVENTS / f"{case}.previous"
    return explain(RULES, (EVENTS / f"{case}.json").read_bytes(),
                   previous_status=previous.read_text() if previous.exists() else None).text


@pytest.mark.parametrize("case", CASES)
def test_dry_run_matches_the_reviewed_golden_file(case: str) -> None:
    golden = GOLDEN / f"{case}.txt"
    text = render(case)
    if os.environ.get("XSTREAM_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), f"regenerate with XSTREAM_UPDATE_GOLDEN=1 and review {golden}"


def test_the_samples_cover_an_approval_a_signature_a_workflow_and_a_document_no_rule_wants() -> None:
    fired = {case: [line for line in render(case).splitlines() if "FIRES" in line] for case in CASES}
    assert [len(fired[c]) for c in ("contract_legal_review_done", "contract_signed", "workflow_completed",
                                    "invoice_added")] == [1, 1, 1, 0]
    assert "commands   0" in render("invoice_added")


def test_an_earlier_event_may_stand_for_what_was_known() -> None:
    current = (EVENTS / "contract_signed.json").read_bytes()
    earlier = (EVENTS / "contract_legal_review_done.json").read_bytes()
    text = explain(RULES, current, previous=earlier).text
    assert "FIRES  supplier-contract-signed: Status moved from 'Legal Review Done' to 'Signed'" in text
    assert "skipped    stale" in explain(RULES, earlier, previous=current).text


def test_a_file_that_is_no_opentext_event_is_refused_with_the_reason() -> None:
    result = explain(RULES, orjson.dumps({"kind": "document.added"}))
    assert not result.ok and result.text.startswith("not an OpenText event: missing_field:")
