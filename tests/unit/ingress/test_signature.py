"""Webhook signatures: HMAC-SHA256 over ``<timestamp>.<body>``, fresh and used once.

Expected signatures are computed here with hmac/hashlib, as a hook would, never with the module's
own ``sign``.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from xstream.errors import WebhookRefused
from xstream.ingress.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, ReplayGuard, sign, verify

SECRET = "current-secret-0123456789"
PREVIOUS = "previous-secret-9876543210"
NOW = 1_796_109_380  # 2026-12-01T07:16:20Z
TOLERANCE = 300.0
BODY = b'{"event": "document.added", "node_id": 100123}'


def hmac_hex(secret: str, timestamp: int | str, body: bytes) -> str:
    """What the hook computes: hex HMAC-SHA256(secret, "<timestamp>." + body)."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def check(*, timestamp: str | None, signature: str | None, body: bytes = BODY,
          secrets: tuple[str, ...] = (SECRET,), now: float = NOW, guard: ReplayGuard | None = None) -> None:
    verify(timestamp=timestamp, signature=signature, body=body, secrets=list(secrets), now=now,
           tolerance_s=TOLERANCE, guard=guard if guard is not None else ReplayGuard(TOLERANCE))


def refusal(**request: object) -> str:
    with pytest.raises(WebhookRefused) as caught:
        check(**request)  # type: ignore[arg-type]
    return caught.value.reason


def test_header_names_are_the_documented_ones() -> None:
    assert (TIMESTAMP_HEADER, SIGNATURE_HEADER) == ("X-Xstream-Timestamp", "X-Xstream-Signature")


def test_an_independently_computed_signature_verifies() -> None:
    check(timestamp=str(NOW), signature=f"v1={hmac_hex(SECRET, NOW, BODY)}")


def test_sign_gives_the_header_value_a_hook_computes() -> None:
    assert sign(SECRET, NOW, BODY) == f"v1={hmac_hex(SECRET, NOW, BODY)}"


def test_upper_case_hex_is_accepted() -> None:
    check(timestamp=str(NOW), signature=f"v1={hmac_hex(SECRET, NOW, BODY).upper()}")


@given(body=st.binary(max_size=512), secret=st.text(min_size=16, max_size=64),
       skew=st.integers(min_value=-int(TOLERANCE), max_value=int(TOLERANCE)))
def test_every_correctly_signed_fresh_request_verifies(body: bytes, secret: str, skew: int) -> None:
    timestamp = NOW + skew
    check(timestamp=str(timestamp), signature=f"v1={hmac_hex(secret, timestamp, body)}", body=body,
          secrets=(secret,))


@given(body=st.binary(max_size=512), tampered=st.binary(max_size=512))
def test_a_changed_body_is_refused(body: bytes, tampered: bytes) -> None:
    assume(tampered != body)
    signature = f"v1={hmac_hex(SECRET, NOW, body)}"
    assert refusal(timestamp=str(NOW), signature=signature, body=tampered) == "bad_signature"


@given(signed_at=st.integers(min_value=NOW - 200, max_value=NOW + 200),
       sent_as=st.integers(min_value=NOW - 200, max_value=NOW + 200))
def test_a_changed_timestamp_is_refused(signed_at: int, sent_as: int) -> None:
    assume(signed_at != sent_as)
    signature = f"v1={hmac_hex(SECRET, signed_at, BODY)}"
    assert refusal(timestamp=str(sent_as), signature=signature) == "bad_signature"


@given(signer=st.text(min_size=1, max_size=64), configured=st.text(min_size=16, max_size=64))
def test_a_signature_with_another_secret_is_refused(signer: str, configured: str) -> None:
    assume(signer != configured)
    signature = f"v1={hmac_hex(signer, NOW, BODY)}"
    assert refusal(timestamp=str(NOW), signature=signature, secrets=(configured,)) == "bad_signature"


def test_during_a_rotation_the_previous_secret_is_accepted() -> None:
    check(timestamp=str(NOW), signature=f"v1={hmac_hex(PREVIOUS, NOW, BODY)}", secrets=(SECRET, PREVIOUS))


def test_without_the_previous_secret_configured_its_signature_is_refused() -> None:
    signature = f"v1={hmac_hex(PREVIOUS, NOW, BODY)}"
    assert refusal(timestamp=str(NOW), signature=signature, secrets=(SECRET,)) == "bad_signature"


@pytest.mark.parametrize("configured", [(SECRET,), (PREVIOUS,)], ids=["new secret", "old secret"])
@pytest.mark.parametrize("separator", [",", ", "])
def test_a_hook_signing_with_two_secrets_passes_with_either_configured(configured: tuple[str, ...],
                                                                       separator: str) -> None:
    both = separator.join(f"v1={hmac_hex(s, NOW, BODY)}" for s in (SECRET, PREVIOUS))
    check(timestamp=str(NOW), signature=both, secrets=configured)


def test_one_good_signature_among_wrong_ones_is_enough() -> None:
    signature = f"v1={'0' * 64},v1={hmac_hex(SECRET, NOW, BODY)},v1=nonsense"
    check(timestamp=str(NOW), signature=signature)


@pytest.mark.parametrize(("timestamp", "signature"), [
    (None, f"v1={hmac_hex(SECRET, NOW, BODY)}"),
    ("", f"v1={hmac_hex(SECRET, NOW, BODY)}"),
    (str(NOW), None),
    (str(NOW), ""),
    (None, None),
])
def test_missing_headers_mean_unsigned(timestamp: str | None, signature: str | None) -> None:
    assert refusal(timestamp=timestamp, signature=signature) == "unsigned"


@pytest.mark.parametrize("timestamp", ["soon", f"{NOW}.5", f"-{NOW}", f" {NOW}", "1e9", "0x6b2c1a44"])
def test_a_timestamp_that_is_not_unix_seconds_is_refused(timestamp: str) -> None:
    signature = f"v1={hmac_hex(SECRET, timestamp, BODY)}"  # even correctly signed
    assert refusal(timestamp=timestamp, signature=signature) == "bad_signature"


@pytest.mark.parametrize("timestamp", ["١٧٩٦١٠٩٣٨٠", "²"], ids=["arabic-indic digits", "superscript two"])
def test_a_timestamp_of_non_ascii_digits_is_refused_not_crashed(timestamp: str) -> None:
    assert refusal(timestamp=timestamp, signature=f"v1={'0' * 64}") == "bad_signature"


@pytest.mark.parametrize("scheme", ["v0", "v2", "sha256"])
def test_a_signature_without_a_v1_value_is_refused(scheme: str) -> None:
    signature = f"{scheme}={hmac_hex(SECRET, NOW, BODY)}"
    assert refusal(timestamp=str(NOW), signature=signature) == "bad_signature"


def test_a_bare_hex_digest_without_scheme_is_refused() -> None:
    assert refusal(timestamp=str(NOW), signature=hmac_hex(SECRET, NOW, BODY)) == "bad_signature"


@pytest.mark.parametrize("skew", [-(TOLERANCE + 1), TOLERANCE + 1, -86_400, 86_400],
                         ids=["just past", "just future", "a day old", "a day ahead"])
def test_a_correctly_signed_request_outside_the_tolerance_is_stale(skew: float) -> None:
    timestamp = int(NOW + skew)
    signature = f"v1={hmac_hex(SECRET, timestamp, BODY)}"
    assert refusal(timestamp=str(timestamp), signature=signature) == "stale"


@pytest.mark.parametrize("skew", [-TOLERANCE, -(TOLERANCE - 1), TOLERANCE - 1, TOLERANCE])
def test_a_request_just_inside_the_tolerance_is_accepted(skew: float) -> None:
    timestamp = int(NOW + skew)
    check(timestamp=str(timestamp), signature=f"v1={hmac_hex(SECRET, timestamp, BODY)}")


def test_a_replay_of_the_same_signed_request_is_refused() -> None:
    guard = ReplayGuard(TOLERANCE)
    signature = f"v1={hmac_hex(SECRET, NOW, BODY)}"
    check(timestamp=str(NOW), signature=signature, guard=guard)
    assert refusal(timestamp=str(NOW), signature=signature, now=NOW + 5, guard=guard) == "replayed"


def test_a_replay_with_the_hex_in_upper_case_is_still_a_replay() -> None:
    guard = ReplayGuard(TOLERANCE)
    digest = hmac_hex(SECRET, NOW, BODY)
    check(timestamp=str(NOW), signature=f"v1={digest}", guard=guard)
    assert refusal(timestamp=str(NOW), signature=f"v1={digest.upper()}", guard=guard) == "replayed"


def test_a_retry_signed_again_with_a_new_timestamp_passes() -> None:
    guard = ReplayGuard(TOLERANCE)
    check(timestamp=str(NOW), signature=f"v1={hmac_hex(SECRET, NOW, BODY)}", guard=guard)
    retry_at = NOW + 3
    check(timestamp=str(retry_at), signature=f"v1={hmac_hex(SECRET, retry_at, BODY)}", now=retry_at, guard=guard)


def test_a_refused_request_does_not_use_up_its_signature() -> None:
    guard = ReplayGuard(TOLERANCE)
    signature = f"v1={hmac_hex(SECRET, NOW, BODY)}"
    assert refusal(timestamp=str(NOW), signature=signature, secrets=(PREVIOUS,), guard=guard) == "bad_signature"
    check(timestamp=str(NOW), signature=signature, guard=guard)


@pytest.mark.parametrize("replayed_header", ["previous only", "reordered"])
def test_a_request_signed_with_two_secrets_cannot_be_replayed_with_the_other_signature(
        replayed_header: str) -> None:
    guard = ReplayGuard(TOLERANCE)
    new, old = f"v1={hmac_hex(SECRET, NOW, BODY)}", f"v1={hmac_hex(PREVIOUS, NOW, BODY)}"
    secrets = (SECRET, PREVIOUS)
    check(timestamp=str(NOW), signature=f"{new},{old}", secrets=secrets, guard=guard)
    replay = old if replayed_header == "previous only" else f"{old},{new}"
    assert refusal(timestamp=str(NOW), signature=replay, secrets=secrets, guard=guard) == "replayed"


def test_the_guard_remembers_a_signature_for_twice_the_window_and_then_forgets_it() -> None:
    guard = ReplayGuard(window_s=10)
    assert guard.first_use("sig", now=100)
    assert not guard.first_use("sig", now=110)
    assert not guard.first_use("sig", now=120)  # exactly twice the window: still remembered
    assert guard.first_use("sig", now=120.5)


def test_the_guard_forgets_only_what_is_older_than_twice_the_window() -> None:
    guard = ReplayGuard(window_s=10)
    assert guard.first_use("old", now=100)
    assert guard.first_use("recent", now=115)
    assert guard.first_use("old", now=121)  # 21 s after: forgotten
    assert not guard.first_use("recent", now=121)  # 6 s after: remembered


def test_the_guard_holds_at_most_its_capacity_and_drops_the_oldest() -> None:
    guard = ReplayGuard(window_s=1000, capacity=2)
    assert all(guard.first_use(sig, now=100 + i) for i, sig in enumerate(["a", "b", "c"]))
    assert not guard.first_use("c", now=110)
    assert not guard.first_use("b", now=110)
    assert guard.first_use("a", now=110)  # pushed out by "c"


@pytest.mark.parametrize("digits", [13, 400, 5000], ids=["milliseconds", "overflows a float", "past int's limit"])
def test_a_correctly_signed_timestamp_of_too_many_digits_is_refused_not_crashed(digits: int) -> None:
    timestamp = "9" * digits
    assert refusal(timestamp=timestamp, signature=f"v1={hmac_hex(SECRET, timestamp, BODY)}") == "bad_signature"
