"""Fault injection settings shared by the emulators, pure (no aiohttp).

Each emulator's own faults module names its error kinds and one-shot actions and says what they
look like on the wire; the settings, their validation and the CLI flag format are the same.

Two moments are faulted. *Before* a call is processed (latency, hangs, errors): the server did
nothing. *After* it acted (``lost_answer_rate``, :meth:`Faults.loses_answer`): a mutating call
(POST/PUT/PATCH/DELETE) that succeeded (status < 400) has its effect committed, then its answer is
lost on the wire, the "did my create go through?" case. ``lost_answer_kind`` says how:
``reset`` (the connection is reset before any byte of the answer is written) or ``hang`` (the
answer never comes, until the client gives up or the emulator stops; then the connection is reset).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

FIELDS = ("latency_ms", "error_rate", "error_kind", "retry_after_s", "hang_rate", "operations",
          "lost_answer_rate", "lost_answer_kind")
LOST_ANSWER_KINDS = ("reset", "hang")
"""reset: the connection is aborted (TCP RST) before the answer; hang: the answer never comes."""
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods whose answers are never lost: they change nothing, losing them is an ordinary error."""


class FaultSpecError(ValueError):
    """The admin sent a fault specification that cannot be applied."""


@dataclass(frozen=True)
class Faults:
    latency_ms: tuple[float, float] = (0.0, 0.0)
    """Each call is delayed by a uniformly distributed time in [min, max] milliseconds."""
    error_rate: float = 0.0
    error_kind: str = "500"
    """One of the emulator's error kinds (see its faults module)."""
    retry_after_s: float | None = None
    hang_rate: float = 0.0
    """Share of calls that never get an answer (checked before error_rate)."""
    operations: tuple[str, ...] | None = None
    """Only these operations (names as in /admin/calls) are faulted; None = all."""
    lost_answer_rate: float = 0.0
    """Share of successful mutating calls whose answer is lost after their effect is committed."""
    lost_answer_kind: str = "reset"
    """One of LOST_ANSWER_KINDS."""

    def as_json(self) -> dict[str, Any]:
        return {
            "latency_ms": list(self.latency_ms),
            "error_rate": self.error_rate,
            "error_kind": self.error_kind,
            "retry_after_s": self.retry_after_s,
            "hang_rate": self.hang_rate,
            "operations": list(self.operations) if self.operations is not None else None,
            "lost_answer_rate": self.lost_answer_rate,
            "lost_answer_kind": self.lost_answer_kind,
        }

    def applies_to(self, operation: str) -> bool:
        return self.operations is None or operation in self.operations

    def delay_s(self, rng: random.Random) -> float:
        low, high = self.latency_ms
        return rng.uniform(low, high) / 1000 if high > 0 else 0.0

    def should_hang(self, rng: random.Random) -> bool:
        return self.hang_rate > 0 and rng.random() < self.hang_rate

    def should_fail(self, rng: random.Random) -> bool:
        return self.error_rate > 0 and rng.random() < self.error_rate

    def loses_answer(self, rng: random.Random, operation: str, method: str, status: int, *,
                     exempt: frozenset[str] = frozenset()) -> bool:
        """Whether the answer of a call that was processed is lost: only mutating methods, only
        status < 400, only the named operations; ``exempt`` operations (e.g. logins) only when named."""
        if self.lost_answer_rate <= 0 or method.upper() in READ_METHODS or status >= 400:
            return False
        if self.operations is None and operation in exempt:
            return False
        return self.applies_to(operation) and rng.random() < self.lost_answer_rate


def parse_faults(spec: Any, *, error_kinds: tuple[str, ...], actions: tuple[str, ...]) -> tuple[Faults, dict[str, bool]]:
    """Faults from the admin JSON (absent fields are off) and the one-shot actions requested."""
    if not isinstance(spec, dict):
        raise FaultSpecError("the fault specification must be a JSON object")
    unknown = set(spec) - set(FIELDS) - set(actions)
    if unknown:
        raise FaultSpecError(f"unknown fault fields: {sorted(unknown)}")
    latency = spec.get("latency_ms", [0, 0])
    if (
        not isinstance(latency, list | tuple)
        or len(latency) != 2
        or not all(_is_number(v) and v >= 0 for v in latency)
        or latency[0] > latency[1]
    ):
        raise FaultSpecError("latency_ms must be [min, max] with 0 <= min <= max")
    rate = _rate(spec, "error_rate")
    hang_rate = _rate(spec, "hang_rate")
    kind = str(spec.get("error_kind", "500"))
    if kind not in error_kinds:
        raise FaultSpecError(f"error_kind must be one of {list(error_kinds)}")
    retry_after = spec.get("retry_after_s")
    if retry_after is not None and (not _is_number(retry_after) or retry_after < 0):
        raise FaultSpecError("retry_after_s must be a number >= 0")
    operations = spec.get("operations")
    if operations is not None and (
        not isinstance(operations, list | tuple) or not all(isinstance(o, str) and o for o in operations)
    ):
        raise FaultSpecError("operations must be a list of operation names (see /admin/calls) or null")
    lost_rate = _rate(spec, "lost_answer_rate")
    lost_kind = spec.get("lost_answer_kind", "reset")
    if lost_kind not in LOST_ANSWER_KINDS:
        raise FaultSpecError(f"lost_answer_kind must be one of {list(LOST_ANSWER_KINDS)}")
    requested = {}
    for action in actions:
        value = spec.get(action, False)
        if not isinstance(value, bool):
            raise FaultSpecError(f"{action} must be true or false")
        requested[action] = value
    faults = Faults((float(latency[0]), float(latency[1])), rate, kind,
                    None if retry_after is None else float(retry_after), hang_rate,
                    tuple(operations) if operations is not None else None, lost_rate, str(lost_kind))
    return faults, requested


def parse_fault_flags(spec: str, *, error_kinds: tuple[str, ...]) -> Faults:
    """One CLI flag value -> Faults, e.g. ``latency_ms=5-50,error_rate=0.1,error_kind=503,retry_after_s=2,
    hang_rate=0.01,operations=nodes.create|versions.add,lost_answer_rate=0.05,lost_answer_kind=hang``.
    Empty string = no faults."""
    fields: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not value:
            raise FaultSpecError(f"expected name=value, got {item!r}")
        if name not in FIELDS:
            raise FaultSpecError(f"unknown fault setting {name!r}; known: {', '.join(FIELDS)}")
        try:
            if name == "latency_ms":
                low, _, high = value.partition("-")
                fields[name] = [float(low), float(high or low)]
            elif name in ("error_rate", "hang_rate", "retry_after_s", "lost_answer_rate"):
                fields[name] = float(value)
            elif name == "operations":
                fields[name] = [op for op in value.split("|") if op]
            else:
                fields[name] = value
        except ValueError:
            raise FaultSpecError(f"invalid value for {name}: {value!r}") from None
    return parse_faults(fields, error_kinds=error_kinds, actions=())[0]


def _rate(spec: dict[str, Any], name: str) -> float:
    rate = spec.get(name, 0.0)
    if not _is_number(rate) or not 0 <= rate <= 1:
        raise FaultSpecError(f"{name} must be a number between 0 and 1")
    return float(rate)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
