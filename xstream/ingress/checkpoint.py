"""The poller's checkpoint and the arithmetic of its window. Pure: no I/O, no clock of its own.

Content Server has no change feed: the poller lists what was modified since its high-water mark
(the newest modify date it has seen) minus ``overlap_s``, because commits can become visible late
and clocks drift. Inside that window it remembers what it already reported (document -> the
observation's event id), so the overlap causes no second event; entries older than the window are
dropped, since nothing older is listed again. Modify dates have whole seconds, so an observation
made within ``settle_s`` of the modify date is looked at again next cycle (a second change in the
same second would keep the date).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from xstream.model.opentext import parse_otcs_date

MAX_WORKFLOWS = 5000
"""Finished workflow outcomes remembered (more than a retention period normally holds)."""
StartFrom = Literal["latest", "earliest"] | datetime


class SeenDocument(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str
    modify_date: str
    observed_at: datetime


class PollCheckpoint(BaseModel):
    """The checkpoints topic's value for one poller (key ``poller:{name}``)."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = 1
    name: str
    high_water: str | None = None
    """The newest modify date seen, as OpenText wrote it."""
    seen: dict[str, SeenDocument] = Field(default_factory=dict)
    """Document id -> the observation last reported, for documents modified inside the window."""
    workflows: list[str] = Field(default_factory=list)
    """``{process_id}:{status}`` of the finished workflows already reported, oldest first."""
    baseline_done: bool = False
    """The first scan is over (with ``start_from=latest`` it only recorded the current state)."""
    updated_at: datetime | None = None


def cutoff(checkpoint: PollCheckpoint, *, overlap_s: float, start_from: StartFrom) -> datetime | None:
    """Documents modified at or after this are listed; None = all of them (a first scan)."""
    high_water = parse_otcs_date(checkpoint.high_water)
    if high_water is not None:
        return high_water - timedelta(seconds=overlap_s)
    if isinstance(start_from, datetime) and not checkpoint.baseline_done:
        return start_from
    return None


def is_baseline(checkpoint: PollCheckpoint, start_from: StartFrom) -> bool:
    """The first scan with ``start_from=latest``: what it finds is the known state, not a change."""
    return not checkpoint.baseline_done and start_from == "latest"


def needs_observation(checkpoint: PollCheckpoint, document_id: int, modify_date: str, *, settle_s: float) -> bool:
    """Whether a listed document must be fetched: new to the window, modified since, or seen too soon."""
    seen = checkpoint.seen.get(str(document_id))
    if seen is None or seen.modify_date != modify_date:
        return True
    modified = parse_otcs_date(modify_date)
    return modified is None or seen.observed_at < modified + timedelta(seconds=settle_s)


def already_reported(checkpoint: PollCheckpoint, document_id: int, event_id: str) -> bool:
    seen = checkpoint.seen.get(str(document_id))
    return seen is not None and seen.event_id == event_id


def advance(checkpoint: PollCheckpoint, *, listed: Mapping[int, str], observed: Mapping[int, SeenDocument],
            workflows: list[str], overlap_s: float, now: datetime) -> PollCheckpoint:
    """The checkpoint after a cycle: the high-water mark moves to the newest modify date listed, the
    window's memory takes the new observations and drops what fell out of the window."""
    dates = [d for d in [checkpoint.high_water, *listed.values()] if parse_otcs_date(d) is not None]
    high_water = max(dates, key=lambda d: parse_otcs_date(d) or now) if dates else None
    seen = {**checkpoint.seen, **{str(doc): entry for doc, entry in observed.items()}}
    mark = parse_otcs_date(high_water)
    if mark is not None:
        edge = mark - timedelta(seconds=overlap_s)
        seen = {doc: entry for doc, entry in seen.items()
                if (parse_otcs_date(entry.modify_date) or mark) >= edge}
    known = list(dict.fromkeys([*checkpoint.workflows, *workflows]))[-MAX_WORKFLOWS:]
    return checkpoint.model_copy(update={"high_water": high_water, "seen": seen, "workflows": known,
                                         "baseline_done": True, "updated_at": now})
