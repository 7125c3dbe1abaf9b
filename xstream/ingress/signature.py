"""Webhook signatures: HMAC-SHA256 over the timestamp and the body, with a shared secret. Pure.

The hook sends ``X-Xstream-Timestamp: <unix seconds>`` and ``X-Xstream-Signature: v1=<hex>``
where ``<hex>`` is HMAC-SHA256(secret, ``<timestamp>.`` + raw body). Several ``v1=`` values may be
given, comma-separated (a hook signing with two secrets during a rotation). A request is refused
when it is unsigned, its signature matches no configured secret, its timestamp is further than the
tolerance from now (stale: a captured request cannot be sent later), or the same timestamp and body
were already accepted inside the tolerance window (replayed, whichever of its signatures it carries). A hook that retries must sign again, with a new
timestamp. Comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from collections.abc import Sequence
from typing import Literal

from xstream.errors import WebhookRefused

TIMESTAMP_HEADER = "X-Xstream-Timestamp"
SIGNATURE_HEADER = "X-Xstream-Signature"
SCHEME = "v1"
RefusalReason = Literal["unsigned", "bad_signature", "stale", "replayed"]
HEX = frozenset("0123456789abcdef")
TIMESTAMP_DIGITS = 12
"""At most this many digits (Unix seconds until the year 33658): a longer timestamp is no time in seconds
(milliseconds, say), and converting thousands of digits would fail (Python's int limit, float overflow)."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for a body sent at ``timestamp`` (what a hook computes)."""
    return f"{SCHEME}={_digest(secret, str(timestamp), body)}"


def _digest(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


class ReplayGuard:
    """Requests (timestamp and body digest) accepted within the tolerance window; a second is a replay."""

    def __init__(self, window_s: float, capacity: int = 100_000) -> None:
        self._window_s = window_s
        self._capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_use(self, request: str, now: float) -> bool:
        while self._seen and next(iter(self._seen.values())) < now - 2 * self._window_s:
            self._seen.popitem(last=False)
        if request in self._seen:
            return False
        self._seen[request] = now
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True

    def forget(self, request: str) -> None:
        self._seen.pop(request, None)


def verify(*, timestamp: str | None, signature: str | None, body: bytes, secrets: Sequence[str], now: float,
           tolerance_s: float, guard: ReplayGuard) -> str:
    """The request's replay-guard key when it is authentic and fresh; WebhookRefused(reason) otherwise.
    (A request the receiver then fails to process is :meth:`ReplayGuard.forget`-ten: it may come again.)"""
    if not timestamp or not signature:
        raise WebhookRefused("unsigned", f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= TIMESTAMP_DIGITS):
        raise WebhookRefused("bad_signature", f"{TIMESTAMP_HEADER} is not a Unix time in seconds "
                                              f"(at most {TIMESTAMP_DIGITS} digits)")
    offered = [part.strip()[len(SCHEME) + 1:].lower() for part in signature.split(",")
               if part.strip().startswith(f"{SCHEME}=")]
    offered = [o for o in offered if o and o.isascii() and all(c in HEX for c in o)]
    if not offered:
        raise WebhookRefused("bad_signature", f"{SIGNATURE_HEADER} has no {SCHEME}=<hex> value")
    expected = [_digest(secret, timestamp, body) for secret in secrets]
    if not any(hmac.compare_digest(o, e) for o in offered for e in expected):
        raise WebhookRefused("bad_signature", "the signature matches no configured secret")
    if abs(now - int(timestamp)) > tolerance_s:
        raise WebhookRefused("stale", f"timestamp is {now - int(timestamp):.0f}s from now, tolerance {tolerance_s:.0f}s")
    # the request, not the signature that matched: with two secrets, either signature replays it
    request = f"{timestamp}:{hashlib.sha256(body).hexdigest()}"
    if not guard.first_use(request, now):
        raise WebhookRefused("replayed", "this signed request was already accepted")
    return request
