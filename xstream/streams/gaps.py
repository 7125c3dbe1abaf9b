"""A missing offset is fetched again before it is believed.

On Apache Kafka an offset that a fetch skips is really absent (compaction, transaction markers) and
is accepted at once (``recheck_s`` 0). The embedded broker (Tansu) can hand a consumer at the tail
offset N+1 while N, written concurrently by another producer, is not visible yet; it shows up on
the next fetch (measured: one re-fetch, about 50 ms). A consumer that believed the gap would commit
past a record it never saw. So for such a broker a gap is re-fetched until ``recheck_s`` passed
since it was first seen; only then is it accepted. Pure; the clock is injected.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class HasOffset(Protocol):
    @property
    def offset(self) -> int: ...


R = TypeVar("R", bound=HasOffset)


@dataclass(frozen=True)
class Checked(Generic[R]):
    deliver: list[R]
    """The records to hand on, contiguous from the expected offset (or past an accepted gap)."""
    refetch_from: int | None = None
    """Seek here and fetch again: a gap is not believed yet."""
    accepted_gap: tuple[int, int] | None = None
    """[first, last] offsets accepted as absent, for the log."""


class GapGuard:
    def __init__(self, expected: int | None, recheck_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.expected = expected
        """The next offset this partition must deliver; None until the first record fixes it."""
        self._recheck_s = recheck_s
        self._clock = clock
        self._gap_since: float | None = None

    def check(self, records: Sequence[R]) -> Checked[R]:
        deliver: list[R] = []
        accepted: tuple[int, int] | None = None
        for record in records:
            if self.expected is not None and record.offset < self.expected:
                continue  # delivered already (a fetch that overlapped a seek)
            if self.expected is not None and record.offset > self.expected:
                now = self._clock()
                if self._gap_since is None:
                    self._gap_since = now
                if now - self._gap_since < self._recheck_s:
                    return Checked(deliver, refetch_from=self.expected)
                accepted = (self.expected, record.offset - 1)
            self._gap_since = None
            deliver.append(record)
            self.expected = record.offset + 1
        return Checked(deliver, accepted_gap=accepted)
