"""The seams between the pure core and the edges, as Protocols; tests pass fakes, the app passes adapters."""

from __future__ import annotations

from collections.abc import Awaitable, Collection, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

from xstream.model.results import SinkResult

C_contra = TypeVar("C_contra", contravariant=True)


class Clock(Protocol):
    def now(self) -> datetime: ...


Header = tuple[str, bytes]


class Publisher(Protocol):
    """The one way xstream produces a record: with its standard headers (``xstream-origin`` and, when
    given, ``xstream-idempotency-key``), in call order per partition.

    ``publish`` returns once the record is queued; the returned awaitable is its delivery (it raises
    what the broker refused). Callers acknowledge their input only after the delivery resolved.
    """

    async def publish(self, topic: str, key: bytes | None, value: bytes | None, *, partition: int | None = None,
                      idempotency_key: str | None = None, headers: Sequence[Header] = ()) -> Awaitable[Any]: ...

    async def partitions(self, topic: str) -> int: ...


class Sink(Protocol[C_contra]):
    """Applies one finished command to one target. Never maps, never sleeps, never retries.

    ``apply`` returns the command's result and does not raise: a transient failure is an unfinished
    result (the runner retries it under its one retry policy), a permanent one is ``rejected``.
    """

    name: str

    async def start(self) -> None: ...

    async def apply(self, command: C_contra) -> SinkResult: ...

    async def close(self) -> None: ...


@runtime_checkable
class PartitionState(Protocol):
    """State kept per input partition (on a compacted topic), which must be read before any record of
    that partition is handled: what another worker applied is then known to this one."""

    async def load(self, partitions: Collection[int], *, input_partitions: int | None = None,
                   recheck_s: float = 0.0) -> None:
        """Read the state of these partitions to the store's end (kept state is brought up to date);
        ``input_partitions`` must equal the store's (co-partitioning), ``recheck_s`` see streams/gaps."""

    def release(self, partitions: Collection[int]) -> None:
        """This worker no longer handles these partitions (state may be kept aside for a return)."""

    def retain(self, partitions: Collection[int]) -> None:
        """The partitions this worker handles now; state of any other is dropped."""

    def barrier(self, partition: int) -> Awaitable[None]:
        """Resolves when every write issued so far for ``partition`` is durable."""


@runtime_checkable
class StatefulSink(Sink[C_contra], Protocol[C_contra]):
    """A sink that declares its state: the runner loads it for newly assigned partitions before it
    applies anything there, and waits for its writes before it acknowledges a command."""

    @property
    def state(self) -> PartitionState: ...
