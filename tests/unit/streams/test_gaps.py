"""A missing offset is fetched again before it is believed; a real gap is believed after the recheck time."""

from __future__ import annotations

from dataclasses import dataclass

from xstream.streams.gaps import GapGuard


@dataclass(frozen=True)
class R:
    offset: int


def test_contiguous_records_pass_and_repeats_are_dropped() -> None:
    guard = GapGuard(0, recheck_s=5)
    assert [r.offset for r in guard.check([R(0), R(1), R(2)]).deliver] == [0, 1, 2]
    assert [r.offset for r in guard.check([R(1), R(2), R(3)]).deliver] == [3]


def test_a_skipped_offset_is_fetched_again_until_it_shows() -> None:
    now = [0.0]
    guard = GapGuard(0, recheck_s=5, clock=lambda: now[0])
    first = guard.check([R(0), R(2), R(3)])
    assert [r.offset for r in first.deliver] == [0] and first.refetch_from == 1
    now[0] = 0.05
    again = guard.check([R(1), R(2), R(3)])  # the record shows on the next fetch
    assert [r.offset for r in again.deliver] == [1, 2, 3] and again.refetch_from is None


def test_a_gap_that_stays_is_accepted_after_the_recheck_time() -> None:
    now = [0.0]
    guard = GapGuard(4, recheck_s=2, clock=lambda: now[0])
    assert guard.check([R(7)]).refetch_from == 4
    now[0] = 1.0
    assert guard.check([R(7)]).refetch_from == 4
    now[0] = 2.5
    accepted = guard.check([R(7), R(8)])
    assert [r.offset for r in accepted.deliver] == [7, 8] and accepted.accepted_gap == (4, 6)


def test_without_recheck_a_gap_is_believed_at_once() -> None:
    guard = GapGuard(0, recheck_s=0)
    checked = guard.check([R(0), R(5)])
    assert [r.offset for r in checked.deliver] == [0, 5] and checked.accepted_gap == (1, 4)
