"""The poller's checkpoint and the arithmetic of its window. Pure: no I/O, no clock of its own.

Content Server has no change feed: the poller lists what was modified since its high-water mark
(the newest modify date it has seen) minus ``overlap_s``, because commits can become visible late
and clocks drift. Inside that window it remembers what it already reported (document -> the
observation's event id), so the overlap causes no second event; entries older than the window are
dropped, since nothing older is listed again.

Modify dates have whole seconds: a second change in the same second keeps the date, so an
observation made during that second could miss it. An observation is therefore *settled* only once
it was certainly made after the modify date's second, judged by OpenText's clock alone (a modify
date a second or more newer was already visible when the document was read) or by a second
observation of the same modify date at least a second after the first; an unsettled one is looked
at again next cycle. No clock of xstream's is compared with OpenText's (whose dates carry no zone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from xstream.model.opentext import parse_otcs_date

T = TypeVar("T")
MAX_WORKFLOWS = 5000
"""Finished workflow outcomes remembered (more than a retention period normally holds)."""
MAX_CHECKPOINT_BYTES = 900_000
"""A checkpoint is one record: it must stay below the broker's message size limit (1 MB by default)."""
StartFrom = Literal["latest", "earliest"] | datetime


class SeenDocument(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str
    modify_date: str
    observed_at: datetime
    settled: bool = False
    """Made after the modify date's second (see the module docstring): no need to look again."""
    audit_date: str | None = None
    """The newest audit entry accounted for (its date) and how many entries carry that date: the next
    report takes only the entries after them, even within the same second."""
    audit_count: int = 0


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
    if isinstance(start_from, datetime):  # until something modified since then is seen
        return start_from
    return None


def is_baseline(checkpoint: PollCheckpoint, start_from: StartFrom) -> bool:
    """The first scan with ``start_from=latest``: what it finds is the known state, not a change."""
    return not checkpoint.baseline_done and start_from == "latest"


def needs_observation(checkpoint: PollCheckpoint, document_id: int, modify_date: str) -> bool:
    """Whether a listed document must be read: new to the window, modified since, or not settled."""
    seen = checkpoint.seen.get(str(document_id))
    return seen is None or seen.modify_date != modify_date or not seen.settled


def is_settled(modify_date: str, seen: SeenDocument | None, *, newest_visible: datetime | None,
               now: datetime) -> bool:
    """Whether an observation (made at ``now``, after a listing whose newest modify date was
    ``newest_visible``) was certainly made after the second of ``modify_date``."""
    modified = parse_otcs_date(modify_date)
    if modified is None:
        return False
    if newest_visible is not None and newest_visible >= modified + timedelta(seconds=1):
        return True
    return seen is not None and seen.modify_date == modify_date and now - seen.observed_at >= timedelta(seconds=1)


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


def audit_floor(seen: SeenDocument | None, since: datetime | None) -> datetime | None:
    """From when a document's audit trail must be read: its mark, else its last report, else the window."""
    if seen is not None:
        return parse_otcs_date(seen.audit_date) or parse_otcs_date(seen.modify_date)
    return since


def unaccounted(entries: Sequence[tuple[datetime | None, T]], seen: SeenDocument | None,
                since: datetime | None) -> tuple[list[T], str | None, int]:
    """The audit entries (oldest first, with their dates) not reported yet, and the new mark.

    With a mark, entries on its date beyond the ``audit_count`` first ones are new (the trail only
    grows, so they came later in the same second); without one, entries on the last report's
    modify date count as reported; a document never reported takes everything inside the window.
    """
    mark = parse_otcs_date(seen.audit_date) if seen is not None else None
    floor = audit_floor(seen, since)
    already = seen.audit_count if mark is not None and seen is not None else None
    fresh: list[T] = []
    newest: datetime | None = None
    on_newest = 0
    for when, item in entries:
        if when is not None:
            newest, on_newest = (when, on_newest + 1) if when == newest else (when, 1)
        if when is None or floor is None or when > floor:
            fresh.append(item)
        elif when < floor:
            continue
        elif seen is None:  # on the window's edge: inside
            fresh.append(item)
        elif already is None:  # no mark: the last report covered its own second
            continue
        elif already > 0:
            already -= 1
        else:
            fresh.append(item)
    return fresh, newest.strftime("%Y-%m-%dT%H:%M:%SZ") if newest is not None else None, on_newest


def bounded(checkpoint: PollCheckpoint, max_bytes: int) -> PollCheckpoint:
    """The checkpoint, its window memory cut (newest modify dates kept) until it fits one record.

    What is dropped may be reported once more (the status flow takes it as a duplicate); the
    high-water mark is kept, so nothing is missed.
    """
    size = len(checkpoint.model_dump_json())
    if size <= max_bytes:
        return checkpoint
    ordered = sorted(checkpoint.seen.items(), key=lambda item: parse_otcs_date(item[1].modify_date)
                     or datetime.min.replace(tzinfo=UTC), reverse=True)
    keep = max(0, int(len(ordered) * max_bytes / size * 0.9))
    while True:
        cut = checkpoint.model_copy(update={"seen": dict(ordered[:keep])})
        if len(cut.model_dump_json()) <= max_bytes or keep == 0:
            return cut
        keep = keep * 9 // 10
