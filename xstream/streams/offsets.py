"""Which offsets of one partition are finished, and how far the group's offset may be committed.

Records are taken in offset order and may finish in any order (different business objects run
concurrently). The committable offset is one past the longest finished prefix: a record is never
committed before every record before it has its outcome, so a crash re-reads every unfinished one.
An offset that was never taken (a gap accepted by :mod:`.gaps`) does not hold the prefix back.
Pure; the loop calls it from one event loop.
"""

from __future__ import annotations

import heapq


class OffsetTracker:
    def __init__(self) -> None:
        self._pending: set[int] = set()
        self._heap: list[int] = []
        self._next: int | None = None
        """One past the last record taken."""
        self._committed: int | None = None

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    @property
    def idle(self) -> bool:
        return not self._pending

    def take(self, offset: int) -> None:
        """A record handed to the processor; offsets arrive ascending."""
        self._pending.add(offset)
        heapq.heappush(self._heap, offset)
        self._next = offset + 1

    def finish(self, offset: int) -> None:
        """The record's outcome is durable (published and acked)."""
        self._pending.discard(offset)

    def committable(self) -> int | None:
        """One past the finished prefix (the lowest unfinished offset), or None before any record."""
        while self._heap and self._heap[0] not in self._pending:
            heapq.heappop(self._heap)
        return self._heap[0] if self._heap else self._next

    def to_commit(self) -> int | None:
        """The committable offset when it moved past the last one committed, else None."""
        offset = self.committable()
        if offset is None or (self._committed is not None and offset <= self._committed):
            return None
        return offset

    def committed(self, offset: int) -> None:
        self._committed = offset if self._committed is None else max(self._committed, offset)

    @property
    def last_committed(self) -> int | None:
        return self._committed
