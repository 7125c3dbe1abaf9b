"""Fault injection settings for the emulator, pure (no aiohttp).

Faults are decided *before* a call is processed: an injected error means the server did nothing,
so a retry is always safe. (Faults after a side effect, the "did my create go through?" case, are
a later extension.) ``expire_tickets`` is an action, not a setting: it ends every session once.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any, Literal

ErrorKind = Literal["500", "html500", "503"]
ERROR_KINDS: tuple[str, ...] = ("500", "html500", "503")


class FaultSpecError(ValueError):
    """The admin sent a fault specification that cannot be applied."""


@dataclass(frozen=True)
class Faults:
    latency_ms: tuple[float, float] = (0.0, 0.0)
    error_rate: float = 0.0
    error_kind: ErrorKind = "500"
    retry_after_s: float | None = None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["latency_ms"] = list(self.latency_ms)
        return data

    def delay_s(self, rng: random.Random) -> float:
        low, high = self.latency_ms
        return rng.uniform(low, high) / 1000 if high > 0 else 0.0

    def should_fail(self, rng: random.Random) -> bool:
        return self.error_rate > 0 and rng.random() < self.error_rate


def parse_faults(spec: Any) -> tuple[Faults, bool]:
    """Faults from the admin JSON (absent fields are off) and whether to expire all tickets now."""
    if not isinstance(spec, dict):
        raise FaultSpecError("the fault specification must be a JSON object")
    unknown = set(spec) - {"latency_ms", "error_rate", "error_kind", "retry_after_s", "expire_tickets"}
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
    rate = spec.get("error_rate", 0.0)
    if not _is_number(rate) or not 0 <= rate <= 1:
        raise FaultSpecError("error_rate must be a number between 0 and 1")
    kind = spec.get("error_kind", "500")
    if kind not in ERROR_KINDS:
        raise FaultSpecError(f"error_kind must be one of {list(ERROR_KINDS)}")
    retry_after = spec.get("retry_after_s")
    if retry_after is not None and (not _is_number(retry_after) or retry_after < 0):
        raise FaultSpecError("retry_after_s must be a number >= 0")
    expire = spec.get("expire_tickets", False)
    if not isinstance(expire, bool):
        raise FaultSpecError("expire_tickets must be true or false")
    faults = Faults((float(latency[0]), float(latency[1])), float(rate), kind, retry_after)
    return faults, expire


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
