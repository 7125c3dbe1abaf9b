"""The seams between the pure core and the edges, as Protocols; tests pass fakes, the app passes adapters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from xstream.model.results import SinkResult

C_contra = TypeVar("C_contra", contravariant=True)


class Clock(Protocol):
    def now(self) -> datetime: ...


class Sink(Protocol[C_contra]):
    """Applies finished commands to one target. Never maps, never sleeps.

    ``write`` returns one result per command, in order. It raises only for failures of the whole
    batch that a retry may cure (``SinkUnavailable``); per-command permanent failures are results.
    """

    name: str

    async def start(self) -> None: ...

    async def write(self, batch: Sequence[C_contra]) -> list[SinkResult]: ...

    async def close(self) -> None: ...
