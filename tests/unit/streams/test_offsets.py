"""The commit point: never past a record whose outcome is not durable, whatever order records finish in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from xstream.streams.offsets import OffsetTracker


def test_the_commit_point_is_the_first_unfinished_offset() -> None:
    tracker = OffsetTracker()
    tracker.committed(10)
    for offset in (10, 11, 12):
        tracker.take(offset)
    assert tracker.to_commit() is None  # nothing finished: still 10
    tracker.finish(11)
    assert tracker.committable() == 10 and tracker.to_commit() is None
    tracker.finish(10)
    assert tracker.to_commit() == 12
    tracker.committed(12)
    tracker.finish(12)
    assert tracker.to_commit() == 13 and tracker.idle


def test_an_offset_never_taken_does_not_hold_the_commit_back() -> None:
    tracker = OffsetTracker()
    tracker.take(5)
    tracker.take(9)  # 6..8 are absent from the log (an accepted gap)
    tracker.finish(5)
    assert tracker.committable() == 9
    tracker.finish(9)
    assert tracker.committable() == 10


@given(st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=60), st.randoms())
def test_whatever_order_records_finish_in_the_commit_never_passes_an_unfinished_one(
        steps: list[int], rng) -> None:  # type: ignore[no-untyped-def]
    tracker, offset, pending = OffsetTracker(), 0, set()
    for step in steps:
        offset += step  # gaps of step - 1 absent offsets
        tracker.take(offset)
        pending.add(offset)
        if pending and rng.random() < 0.6:
            done = rng.choice(sorted(pending))
            tracker.finish(done)
            pending.discard(done)
        point = tracker.committable()
        assert point is not None
        assert all(p >= point for p in pending), "committed past an unfinished record"
        if not pending:
            assert point == offset + 1
