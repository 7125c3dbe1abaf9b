"""The poller's checkpoint: where the next listing starts, what must be fetched, what it remembers.

Modify dates are OpenText's: "2026-12-01T07:16:20" (no zone, read as UTC) or with "Z".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xstream.ingress.checkpoint import (
    MAX_WORKFLOWS,
    PollCheckpoint,
    SeenDocument,
    advance,
    already_reported,
    bounded,
    cutoff,
    is_baseline,
    is_settled,
    needs_observation,
)

MODIFIED = "2026-12-01T07:16:20"
MODIFIED_AT = datetime(2026, 12, 1, 7, 16, 20, tzinfo=UTC)
NOW = datetime(2026, 12, 1, 7, 20, 0, tzinfo=UTC)
START = datetime(2026, 11, 1, tzinfo=UTC)


def checkpoint(**fields: object) -> PollCheckpoint:
    return PollCheckpoint(name="opentext", **fields)  # type: ignore[arg-type]


def seen(modify_date: str = MODIFIED, *, observed_at: datetime = NOW, event_id: str = "obs-1",
         settled: bool = True) -> SeenDocument:
    return SeenDocument(event_id=event_id, modify_date=modify_date, observed_at=observed_at, settled=settled)


def utc(text: str) -> datetime:
    """The test's own reading of a modify date: no zone means UTC."""
    parsed = datetime.fromisoformat(text.removesuffix("Z"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# --- cutoff -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("start_from", ["latest", "earliest"])
def test_a_first_scan_lists_everything(start_from: str) -> None:
    assert cutoff(checkpoint(), overlap_s=120, start_from=start_from) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("high_water", [MODIFIED, MODIFIED + "Z"])
def test_the_cutoff_is_the_high_water_mark_minus_the_overlap(high_water: str) -> None:
    since = cutoff(checkpoint(high_water=high_water, baseline_done=True), overlap_s=120, start_from="latest")
    assert since == datetime(2026, 12, 1, 7, 14, 20, tzinfo=UTC)


def test_no_overlap_starts_at_the_high_water_mark() -> None:
    since = cutoff(checkpoint(high_water=MODIFIED, baseline_done=True), overlap_s=0, start_from="earliest")
    assert since == MODIFIED_AT


def test_a_start_date_bounds_the_first_scan() -> None:
    assert cutoff(checkpoint(), overlap_s=120, start_from=START) == START


@pytest.mark.parametrize("start_from", [START, datetime(2026, 12, 1, 7, 30, tzinfo=UTC)],
                         ids=["start before the mark", "start after the mark"])
def test_once_there_is_a_high_water_mark_the_start_date_no_longer_counts(start_from: datetime) -> None:
    since = cutoff(checkpoint(high_water=MODIFIED, baseline_done=True), overlap_s=60, start_from=start_from)
    assert since == MODIFIED_AT - timedelta(seconds=60)


def test_a_start_date_still_bounds_the_scan_after_an_empty_first_scan() -> None:
    after_empty_scan = advance(checkpoint(), listed={}, observed={}, workflows=[], overlap_s=120, now=NOW)
    since = cutoff(after_empty_scan, overlap_s=120, start_from=START)
    assert since is not None and since >= START - timedelta(seconds=120)


# --- is_baseline --------------------------------------------------------------------------------------

def test_only_the_first_scan_with_start_from_latest_is_a_baseline() -> None:
    assert is_baseline(checkpoint(), "latest")
    assert not is_baseline(checkpoint(), "earliest")
    assert not is_baseline(checkpoint(), START)
    assert not is_baseline(checkpoint(baseline_done=True, high_water=MODIFIED), "latest")
    assert not is_baseline(checkpoint(baseline_done=True), "latest")


# --- needs_observation / already_reported ------------------------------------------------------------

def test_a_document_new_to_the_window_is_observed() -> None:
    assert needs_observation(checkpoint(seen={"7": seen()}), 8, MODIFIED)


def test_a_document_with_a_new_modify_date_is_observed() -> None:
    cp = checkpoint(seen={"7": seen(observed_at=NOW)})
    assert needs_observation(cp, 7, "2026-12-01T07:18:05")


def test_an_unsettled_observation_is_repeated_and_a_settled_one_is_not() -> None:
    assert needs_observation(checkpoint(seen={"7": seen(settled=False)}), 7, MODIFIED)
    assert not needs_observation(checkpoint(seen={"7": seen(settled=True)}), 7, MODIFIED)


@pytest.mark.parametrize(("newest", "settled"), [("2026-12-01T07:16:21", True), ("2026-12-01T07:20:00Z", True),
                                                 ("2026-12-01T07:16:20", False), (None, False)])
def test_a_newer_second_already_visible_in_opentext_settles_an_observation(newest: str | None,
                                                                          settled: bool) -> None:
    visible = utc(newest) if newest else None
    # the worker's own clock plays no part: an hour off either way changes nothing
    for now in (MODIFIED_AT - timedelta(hours=1), MODIFIED_AT + timedelta(hours=1)):
        assert is_settled(MODIFIED, None, newest_visible=visible, now=now) is settled


@pytest.mark.parametrize(("gap_s", "settled"), [(0.0, False), (0.9, False), (1.0, True), (30.0, True)])
def test_a_second_observation_of_the_same_modify_date_a_second_later_settles_it(gap_s: float,
                                                                                settled: bool) -> None:
    first = seen(settled=False, observed_at=NOW)
    assert is_settled(MODIFIED, first, newest_visible=None, now=NOW + timedelta(seconds=gap_s)) is settled
    assert not is_settled("2026-12-01T07:16:21", first, newest_visible=None, now=NOW + timedelta(seconds=30))


def test_already_reported_compares_the_observation_id_of_that_document() -> None:
    cp = checkpoint(seen={"7": seen(event_id="obs-1")})
    assert already_reported(cp, 7, "obs-1")
    assert not already_reported(cp, 7, "obs-2")
    assert not already_reported(cp, 8, "obs-1")


# --- advance ------------------------------------------------------------------------------------------

def advanced(cp: PollCheckpoint, *, listed: dict[int, str] | None = None,
             observed: dict[int, SeenDocument] | None = None, workflows: list[str] | None = None,
             overlap_s: float = 120) -> PollCheckpoint:
    return advance(cp, listed=listed or {}, observed=observed or {}, workflows=workflows or [],
                   overlap_s=overlap_s, now=NOW)


def test_the_high_water_mark_moves_to_the_newest_listed_modify_date() -> None:
    cp = advanced(checkpoint(high_water="2026-12-01T07:00:00"),
                  listed={1: "2026-12-01T07:10:00Z", 2: MODIFIED, 3: "2026-12-01T07:05:00"})
    assert cp.high_water is not None and utc(cp.high_water) == MODIFIED_AT


def test_the_high_water_mark_never_moves_back() -> None:
    cp = advanced(checkpoint(high_water=MODIFIED), listed={1: "2026-12-01T07:00:00", 2: "2026-11-30T23:59:59Z"})
    assert cp.high_water is not None and utc(cp.high_water) == MODIFIED_AT


def test_modify_dates_are_compared_as_instants_not_as_text() -> None:
    # 08:00+01:00 is 07:00Z: older than the mark although it sorts later as text
    cp = advanced(checkpoint(high_water=MODIFIED), listed={1: "2026-12-01T08:00:00+01:00"})
    assert cp.high_water is not None and utc(cp.high_water) == MODIFIED_AT


def test_the_first_listing_sets_the_high_water_mark() -> None:
    cp = advanced(checkpoint(), listed={1: "2026-12-01T07:00:00", 2: MODIFIED})
    assert cp.high_water is not None and utc(cp.high_water) == MODIFIED_AT


moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)).map(
    lambda d: d.replace(microsecond=0))
otcs_dates = st.tuples(moments, st.booleans()).map(lambda m: m[0].isoformat() + ("Z" if m[1] else ""))


@given(mark=st.none() | otcs_dates, listed=st.lists(otcs_dates, max_size=8))
def test_the_high_water_mark_is_the_newest_of_the_old_mark_and_the_listing(mark: str | None,
                                                                           listed: list[str]) -> None:
    cp = advanced(checkpoint(high_water=mark), listed=dict(enumerate(listed)))
    everything = [utc(d) for d in [mark, *listed] if d is not None]
    if everything:
        assert cp.high_water is not None and utc(cp.high_water) == max(everything)
    else:
        assert cp.high_water is None


def test_seen_documents_older_than_the_window_are_dropped_and_newer_ones_kept() -> None:
    before = checkpoint(high_water="2026-12-01T07:00:00", seen={
        "1": seen("2026-12-01T06:00:00"),          # long before the window
        "2": seen("2026-12-01T07:14:19"),          # one second before the window's edge
        "3": seen("2026-12-01T07:14:20"),          # on the edge (mark - overlap)
        "4": seen("2026-12-01T07:15:00Z"),         # inside
    })
    after = advanced(before, listed={9: MODIFIED}, observed={9: seen(MODIFIED, event_id="obs-9")})
    assert set(after.seen) == {"3", "4", "9"}
    assert after.seen["9"].event_id == "obs-9"


def test_a_new_observation_replaces_the_last_one_of_that_document() -> None:
    before = checkpoint(high_water=MODIFIED, seen={"7": seen(MODIFIED, event_id="obs-1")})
    later = "2026-12-01T07:17:00"
    after = advanced(before, listed={7: later}, observed={7: seen(later, event_id="obs-2")})
    assert after.seen["7"].event_id == "obs-2" and after.seen["7"].modify_date == later


def test_finished_workflows_are_appended_in_order_without_duplicates() -> None:
    before = checkpoint(workflows=["501:completed", "502:stopped"])
    after = advanced(before, workflows=["502:stopped", "503:completed", "501:stopped", "503:completed"])
    assert after.workflows == ["501:completed", "502:stopped", "503:completed", "501:stopped"]


def test_the_remembered_workflows_are_bounded_and_the_oldest_go_first() -> None:
    before = checkpoint(workflows=[f"{n}:completed" for n in range(MAX_WORKFLOWS)])
    after = advanced(before, workflows=["new-1:completed", "new-2:completed"])
    assert len(after.workflows) == MAX_WORKFLOWS
    assert after.workflows[-2:] == ["new-1:completed", "new-2:completed"]
    assert "0:completed" not in after.workflows and "1:completed" not in after.workflows
    assert after.workflows[0] == "2:completed"


def test_a_cycle_ends_the_baseline_and_stamps_the_checkpoint() -> None:
    after = advanced(checkpoint())
    assert after.baseline_done
    assert after.updated_at == NOW
    assert after.high_water is None and after.name == "opentext"


def test_advance_leaves_the_old_checkpoint_as_it_was() -> None:
    before = checkpoint(high_water="2026-12-01T07:00:00", seen={"1": seen("2026-12-01T06:00:00")},
                        workflows=["501:completed"])
    snapshot = before.model_dump()
    advanced(before, listed={2: MODIFIED}, observed={2: seen()}, workflows=["502:completed"])
    assert before.model_dump() == snapshot


def test_the_checkpoint_survives_its_trip_through_the_checkpoints_topic() -> None:
    cp = advanced(checkpoint(), listed={7: MODIFIED}, observed={7: seen()}, workflows=["501:completed"])
    assert PollCheckpoint.model_validate_json(cp.model_dump_json()) == cp


def test_a_checkpoint_too_large_for_one_record_keeps_its_high_water_mark_and_newest_documents() -> None:
    many = {str(i): seen(f"2026-12-01T07:{i // 60:02d}:{i % 60:02d}", event_id=f"obs-{i}") for i in range(2000)}
    cp = checkpoint(high_water="2026-12-01T07:33:19", seen=many)
    cut = bounded(cp, 50_000)
    assert len(cut.model_dump_json()) <= 50_000 and cut.high_water == cp.high_water
    assert 0 < len(cut.seen) < len(many)
    newest_dropped = max(int(k) for k in many if k not in cut.seen)
    assert all(int(k) > newest_dropped for k in cut.seen)  # what is kept is newer than all that is dropped
    assert bounded(cp, 10_000_000) is cp
