"""Idempotency-Key semantics of the IETF httpapi draft (draft-ietf-httpapi-idempotency-key-header), pure.

- The key is an sf-string (``Idempotency-Key: "8e03978e-40d5"``); a bare token is accepted too,
  as most servers do. Anything else (empty, control characters, a bad quote) is 400.
- The request is fingerprinted: sha256 over method, path and the canonical JSON of what the request
  says (keys sorted, no whitespace): its JSON body, so the same fields in another order are the same
  request; for a streamed upload the body's sha256 and size and the headers that describe it; for a
  call without a body its query.
- First use of a key: it is *claimed* (in flight) until the answer is stored.
- Same key, same fingerprint, answer stored: the stored answer again (status and body; the web layer
  adds ``Idempotent-Replayed: true``), nothing is executed.
- Same key, other fingerprint: 422. Same key while the first request is still in flight: 409.
- Keys are remembered for ``ttl_s`` after their first use (default 24 h), then forgotten.
- Only answers of requests that were executed are stored (2xx and the 4xx of validation); a
  request that failed with 5xx or died releases its key, so a retry runs it again.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from xstream_emulators.erp.model import ApiError


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "application/json"
    """None: an answer without a body (204)."""


@dataclass
class _Entry:
    fingerprint: str
    first_seen: float
    answer: StoredAnswer | None = None


@dataclass(frozen=True)
class Claim:
    kind: Literal["new", "replay", "mismatch", "in_flight"]
    answer: StoredAnswer | None = None


def parse_key(header: str) -> str:
    """The key of an ``Idempotency-Key`` header (sf-string or bare token); ApiError 400 if malformed."""
    value = header.strip()
    if value.startswith('"'):
        if len(value) < 2 or not value.endswith('"'):
            raise _bad_key("an unterminated sf-string")
        chars: list[str] = []
        inner = iter(value[1:-1])
        for ch in inner:
            if ch == "\\":
                nxt = next(inner, "")
                if nxt not in ('"', "\\"):
                    raise _bad_key("a bad escape in the sf-string")
                chars.append(nxt)
            elif ch == '"':
                raise _bad_key("an unescaped quote in the sf-string")
            else:
                chars.append(ch)
        value = "".join(chars)
    if not value or len(value) > 255 or not all(" " <= ch <= "~" for ch in value):
        raise _bad_key("an empty, over-long or non-printable key")
    return value


def _bad_key(what: str) -> ApiError:
    return ApiError(400, "invalid_idempotency_key", f"The Idempotency-Key header is {what}.")


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyStore:
    def __init__(self, ttl_s: float = 24 * 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        self._expire()
        return len(self._entries)

    def claim(self, key: str, print_: str) -> Claim:
        self._expire()
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = _Entry(print_, self._clock())
            return Claim("new")
        if entry.fingerprint != print_:
            return Claim("mismatch")
        if entry.answer is None:
            return Claim("in_flight")
        return Claim("replay", entry.answer)

    def complete(self, key: str, answer: StoredAnswer) -> None:
        """Store the answer of a claimed key (2xx/4xx) or release the key (anything else)."""
        entry = self._entries.get(key)
        if entry is None or entry.answer is not None:
            return
        if answer.status < 500:
            entry.answer = answer
        else:
            del self._entries[key]

    def release(self, key: str) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.answer is None:
            del self._entries[key]

    def _expire(self) -> None:
        horizon = self._clock() - self.ttl_s
        for key in [k for k, e in self._entries.items() if e.first_seen <= horizon and e.answer is not None]:
            del self._entries[key]
