"""The ledger of applied idempotency keys: a replayed command is answered without calling the target.

This first cut is per process and bounded (least recently used keys are forgotten); a forgotten or
never-seen key still cannot cause a duplicate, because the sink looks the workspace up by business
object before creating it. A changelog-backed ledger shared by all workers replaces it when more
command kinds (documents, approvals) need it.
"""

from __future__ import annotations

from collections import OrderedDict

from xstream.model.status import WorkspaceLink


class Ledger:
    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, WorkspaceLink] = OrderedDict()

    def get(self, key: str) -> WorkspaceLink | None:
        link = self._entries.get(key)
        if link is not None:
            self._entries.move_to_end(key)
        return link

    def put(self, key: str, link: WorkspaceLink) -> None:
        self._entries[key] = link
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
