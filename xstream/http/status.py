"""The one classification of HTTP answers into ``xstream.errors``.

:func:`classify` returns the decoded JSON of a 2xx answer and raises the matching SinkError for any
other status:

    2xx, JSON (or an empty body)      the decoded body (None when empty)
    2xx, a body that is not JSON      SinkUnavailable (a proxy's or an overloaded server's page)
    401                               AuthenticationFailed (the caller re-authenticates once, see .auth)
    429/503 with Retry-After          SinkBackpressure (seconds or an HTTP date)
    (the policy's own readings)
    5xx, 408, 429                     SinkUnavailable
    409                               EditConflict; with an Idempotency-Key: RequestInFlight (retriable)
    404                               TargetNotFound
    422 with an Idempotency-Key       IdempotencyKeyReused (unless the body names another error code)
    other 4xx                         SinkRejected

A :class:`StatusPolicy` says how one server's dialect differs: whether an empty 2xx is an answer,
and a hook that reads some answers more precisely before the generic rules (:data:`CONTENT_SERVER`:
``{"error": ..., "errorDetail": ...}`` bodies, 500 "already exists" -> AlreadyExists, 400/500
"Could not get a node" / "could not be accessed" -> TargetNotFound, the 500 refusals of Large File
Upload and promote -> SinkRejected; reference/opentext-api.md 8;
:data:`ODATA_V2`: SAP Gateway, a 403 "CSRF token validation failed" is retriable once a new token is
fetched; :data:`SALESFORCE`: 400 ``UNABLE_TO_LOCK_ROW`` and 403 ``REQUEST_LIMIT_EXCEEDED`` are
retriable). Error texts are read from every dialect's body: ``{"error": {"code", "message"}}``, OData's
``{"error": {"code", "message": {"lang", "value"}}}``, Salesforce's ``[{"errorCode", "message"}]``,
Content Server's and OAuth2's ``{"error": "...", ...}``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

from xstream.errors import (
    AlreadyExists,
    AuthenticationFailed,
    EditConflict,
    IdempotencyKeyReused,
    RequestInFlight,
    SinkBackpressure,
    SinkError,
    SinkRejected,
    SinkUnavailable,
    TargetNotFound,
)

IN_FLIGHT_RETRY_S = 1.0
"""Retry-After assumed for a 409 "request with this Idempotency-Key still in flight" without one."""
ERROR_TEXT_LIMIT = 300

Reading = Callable[[int, bool, str], type[SinkError] | None]
"""(status, the body is JSON, the error text) -> the error class this server means, or None."""


@dataclass(frozen=True)
class StatusPolicy:
    empty_2xx_ok: bool = True
    """A 2xx with an empty body is an answer (None); False: the server always answers JSON."""
    reading: Reading | None = None
    """Applied to every error status after 401 and backpressure, before the generic rules."""


PLAIN = StatusPolicy()
"""Plain HTTP APIs (records APIs, OAuth2 token endpoints, incoming webhooks)."""


def _content_server(status: int, is_json: bool, text: str) -> type[SinkError] | None:
    lowered = text.lower()
    if status in (400, 500) and any(message in lowered for message in _NOT_FOUND):
        return TargetNotFound
    if status == 500 and is_json and "already exists" in lowered:
        return AlreadyExists  # a duplicate name; an HTML 500 saying so is an overloaded front end
    if status == 500 and is_json and any(message in lowered for message in _REFUSED_500):
        return SinkRejected
    return None


_NOT_FOUND = ("could not get a node", "could not be accessed")
"""Messages of unknown nodes: "Could not get a node for {id}" and "Sorry, the item you requested
could not be accessed" (not found and no permission deliberately conflated by Content Server)."""

_REFUSED_500 = ("invalid block size", "invalid blockid", "cannot close an empty or already closed upload",
                "either the uploadkey is invalid", "which is using standard versioning")
"""500s that are refusals, not outages (sending the same again cannot help): Large File Upload's
"Invalid block size: ...", "Invalid BlockID: ..." (also "... has already been uploaded", which a
client resending a part reads as done), "Invalid status. Cannot close an empty or already closed
upload.", "Failed to complete request. Either the UploadKey is invalid, ..." and promote's "You
cannot promote a version for {name} which is using standard versioning". "Multipart Upload session
expired" stays retriable: a new session will do."""

CONTENT_SERVER = StatusPolicy(empty_2xx_ok=False, reading=_content_server)
"""OpenText Content Server: every API answer is JSON, so an empty or HTML 200 is an overloaded front
end (retriable); errors are ``{"error": ...}`` with their own meaning of 400 and 500."""


def _odata_v2(status: int, is_json: bool, text: str) -> type[SinkError] | None:
    if status == 403 and "csrf token validation failed" in text.lower():
        return SinkUnavailable  # the session's token expired: a new fetch cures it
    return None


ODATA_V2 = StatusPolicy(reading=_odata_v2)
"""SAP Gateway (OData v2): ``{"error": {"code", "message": {"lang", "value"}}}``; a refused CSRF token
(403, ``x-csrf-token: Required``, plain text) is retriable: the client fetches a new one."""


def _salesforce(status: int, is_json: bool, text: str) -> type[SinkError] | None:
    code = text.split(":", 1)[0].strip()
    if (status, code) in ((400, "UNABLE_TO_LOCK_ROW"), (403, "REQUEST_LIMIT_EXCEEDED")):
        return SinkUnavailable  # a record lock held by another transaction; the org's API limit
    return None


SALESFORCE = StatusPolicy(reading=_salesforce)
"""Salesforce REST: ``[{"errorCode", "message", "fields"}]``; lock contention and API limits are retriable."""


def classify(target: str, operation: str, status: int, headers: Mapping[str, str], body: bytes, *,
             policy: StatusPolicy = PLAIN, idempotent: bool = False, expect_json: bool = True,
             now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Any:
    """The decoded JSON of a 2xx answer; any other status raises the matching SinkError.

    ``idempotent``: the request carried an Idempotency-Key (changes the meaning of 409 and 422).
    ``expect_json=False``: a 2xx body that is not JSON is fine (incoming webhooks answer ``ok``).
    """
    decoded, text = _decode(body)
    if 200 <= status < 300:
        if decoded is _NOT_JSON:
            if expect_json and (body.strip() or not policy.empty_2xx_ok):
                raise SinkUnavailable(f"{operation}: HTTP {status} with a body that is not JSON: {text}",
                                      status=status, target=target)
            return None
        return decoded
    message = f"{operation}: HTTP {status}: {text}"
    retry_after = parse_retry_after(headers.get("Retry-After"), now)
    if status == 401:
        raise AuthenticationFailed(message, status=status, target=target)
    if status in (429, 503) and retry_after is not None:
        raise SinkBackpressure(message, retry_after=retry_after, status=status, target=target)
    special = policy.reading(status, decoded is not _NOT_JSON, text) if policy.reading else None
    if special is not None:
        raise special(message, status=status, target=target)
    if status >= 500 or status in (408, 429):
        raise SinkUnavailable(message, status=status, target=target)
    if status == 409:
        if idempotent:
            raise RequestInFlight(message, retry_after=IN_FLIGHT_RETRY_S if retry_after is None else retry_after,
                                  status=status, target=target)
        raise EditConflict(message, status=status, target=target)
    if status == 404:
        raise TargetNotFound(message, status=status, target=target)
    if status == 422 and idempotent and _error_code(decoded) in _KEY_REUSED_CODES:
        raise IdempotencyKeyReused(message, status=status, target=target)
    raise SinkRejected(message, status=status, target=target)


_KEY_REUSED_CODES = frozenset({"idempotency_key_reused", "idempotency_key_mismatch", None})
"""A 422 for a request with a key is "key reused" unless the body names another error code."""

_NOT_JSON: Any = object()


def error_text(body: bytes) -> str:
    """A short text of an error answer for messages (never the whole body)."""
    return _decode(body)[1]


def _decode(body: bytes) -> tuple[Any, str]:
    """The JSON (or _NOT_JSON) and a short error text; pages that are not JSON are summarised."""
    try:
        decoded = orjson.loads(body) if body.strip() else _NOT_JSON
    except orjson.JSONDecodeError:
        decoded = _NOT_JSON
    if decoded is _NOT_JSON:
        text = body[:ERROR_TEXT_LIMIT].decode("utf-8", "replace").strip()
        kind = "HTML page" if text.lower().startswith(("<html", "<!doctype")) else "non-JSON body"
        return decoded, f"{kind}: {text[:120]!r}" if text else "empty body"
    error = decoded.get("error") if isinstance(decoded, dict) else None
    if isinstance(error, dict) and ("message" in error or "code" in error):
        message = error.get("message", "")
        if isinstance(message, dict):  # OData v2: {"lang", "value"}
            message = message.get("value", "")
        return decoded, f"{error.get('code', '')}: {message}".strip(": ")[:ERROR_TEXT_LIMIT]
    first = decoded[0] if isinstance(decoded, list) and decoded else None
    if isinstance(first, dict) and "errorCode" in first:  # Salesforce
        return decoded, f"{first.get('errorCode', '')}: {first.get('message', '')}".strip(": ")[:ERROR_TEXT_LIMIT]
    if isinstance(error, str):
        # Content Server: {"error", "errorDetail"}; OAuth2: {"error", "error_description"}
        detail = decoded.get("errorDetail") or decoded.get("error_description")
        return decoded, error + (f" ({detail})" if detail else "")
    return decoded, orjson.dumps(decoded)[:ERROR_TEXT_LIMIT].decode("utf-8", "replace")


def parse_retry_after(value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> float | None:
    """Retry-After as seconds (delay-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = None
    if seconds is not None:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


def _error_code(decoded: Any) -> str | None:
    error = decoded.get("error") if isinstance(decoded, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(decoded, list) and decoded and isinstance(decoded[0], dict):
        code = decoded[0].get("errorCode")  # Salesforce
    return code.lower() if isinstance(code, str) else None
