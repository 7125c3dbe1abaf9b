"""Fuzzing the webhook's HMAC header check, ``signature.verify``: any headers, any body.

Property: it returns the replay-guard key or raises WebhookRefused with one of the documented reasons
and a detail; nothing else, even for a correctly signed request whose timestamp is absurd. Signatures
are computed here with hmac/hashlib, as a hook would.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.fuzz.corpus import fuzz
from xstream.errors import WebhookRefused
from xstream.ingress.signature import RefusalReason, ReplayGuard, verify

SECRET, PREVIOUS = "current-secret-0123456789", "previous-secret-9876543210"
NOW, TOLERANCE = 1_796_109_380, 300.0
REASONS = set(get_args(RefusalReason))
FAST = fuzz(300)
any_text = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=80)
"""Header values as aiohttp may hand them over: any code point, lone surrogates (surrogateescape) included."""


def hmac_hex(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode("utf-8", "surrogatepass") + b"." + body,
                    hashlib.sha256).hexdigest()


def outcome(timestamp: str | None, signature: str | None, body: bytes, *, now: float = NOW,
            guard: ReplayGuard | None = None) -> str:
    """The replay key, or the refusal's reason; any other exception fails the test."""
    try:
        return verify(timestamp=timestamp, signature=signature, body=body, secrets=(SECRET, PREVIOUS), now=now,
                      tolerance_s=TOLERANCE, guard=guard or ReplayGuard(TOLERANCE))
    except WebhookRefused as refused:
        assert refused.reason in REASONS, refused.reason
        assert refused.detail.strip()
        return f"refused:{refused.reason}"
    except Exception as exc:  # noqa: BLE001 - the property is that nothing else escapes
        raise AssertionError(f"verify raised {type(exc).__name__}: {str(exc)[:200]}") from exc


@FAST
@given(st.none() | any_text, st.none() | any_text, st.binary(max_size=300))
def test_any_headers_and_body(timestamp: str | None, signature: str | None, body: bytes) -> None:
    assert outcome(timestamp, signature, body).startswith("refused:")


digits = st.text("0123456789", min_size=1, max_size=20) | st.integers(1, 6000).map(lambda n: "9" * n)
offered = st.lists(st.sampled_from(["v1=", "V1=", " v1=", "v1= ", "v0=", "=", ""]), min_size=1, max_size=3)


@FAST
@given(digits | any_text | st.integers(NOW - 400, NOW + 400).map(str), st.binary(max_size=200), offered,
       st.booleans(), st.floats(min_value=0, max_value=2.0**34))
def test_correctly_signed_requests_with_any_timestamp(timestamp: str, body: bytes, prefixes: list[str],
                                                      upper: bool, now: float) -> None:
    digest = hmac_hex(SECRET, timestamp, body)
    header = ",".join(p + (digest.upper() if upper else digest) for p in prefixes)
    result = outcome(timestamp, header, body, now=now)
    if not result.startswith("refused:"):
        assert timestamp.isascii() and timestamp.isdigit() and abs(now - int(timestamp)) <= TOLERANCE


@pytest.mark.parametrize("timestamp", ["9" * 400, "9" * 4301, "9" * 10_000, "0" * 5000 + str(NOW), "0", "00"])
def test_absurd_but_signed_timestamps_are_refused_not_crashed(timestamp: str) -> None:
    body = b'{"event": "document.added", "node_id": 100123}'
    result = outcome(timestamp, f"v1={hmac_hex(SECRET, timestamp, body)}", body)
    assert result in ("refused:stale", "refused:bad_signature"), result
