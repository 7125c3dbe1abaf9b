"""The one HTTP boundary for downstream targets (ERP, CRM, procurement, partner portals).

:class:`TargetClient` owns one aiohttp session per target (connector limit = ``concurrency``,
connect/total timeouts from :class:`~xstream.settings.TargetSettings`) and the authentication chosen
once from ``settings.auth``:

- ``none``: no header; ``bearer``: ``Authorization: Bearer <token>``; ``basic``: HTTP Basic.
- ``oauth2``: client credentials: ``POST token_url`` with the form ``grant_type=client_credentials``,
  ``client_id``, ``client_secret`` (and ``scope``) -> ``{"access_token", "expires_in"}``. The token is
  shared by all calls and renewed shortly before ``expires_in`` runs out. A 401 makes exactly one
  caller fetch a new token (single flight, keyed by a generation counter) and the call is repeated
  once, outside any retry policy; a second 401 is :class:`AuthenticationFailed`. With a static
  credential (bearer, basic) nothing can be renewed, so the first 401 is AuthenticationFailed.

Every outcome is classified here, once, into ``xstream.errors`` (third-party exceptions chained
with ``from``): timeouts and connection errors -> SinkUnavailable; 429/503 with ``Retry-After``
(seconds or an HTTP date) -> SinkBackpressure; other 5xx, 408, 429 -> SinkUnavailable; 404 ->
TargetNotFound; 400/422 and other 4xx -> SinkRejected; 409 -> EditConflict. With an
``Idempotency-Key`` on the request (IETF httpapi draft) two answers mean something else:
409 = the first request with that key is still being processed -> :class:`RequestInFlight`, a
*retriable* SinkBackpressure (its ``retry_after`` is the server's Retry-After or
:data:`IN_FLIGHT_RETRY_S`); 422 = the key was already used with another body ->
:class:`IdempotencyKeyReused`, a permanent SinkRejected. Secrets and tokens are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from multidict import CIMultiDictProxy

from xstream.errors import (
    AnswerLost,
    AuthenticationFailed,
    EditConflict,
    SinkBackpressure,
    SinkRejected,
    SinkUnavailable,
    TargetNotFound,
)
from xstream.retry import parse_retry_after
from xstream.settings import TargetSettings

log = logging.getLogger(__name__)

IN_FLIGHT_RETRY_S = 1.0
"""Retry-After assumed for a 409 "request with this Idempotency-Key still in flight" without one."""
TOKEN_RENEW_BEFORE_S = 30.0
"""Renew an OAuth2 token this long (at most a tenth of its lifetime) before it expires."""
ERROR_TEXT_LIMIT = 300


class RequestInFlight(SinkBackpressure):
    """409 to a request with an Idempotency-Key: the original is still being processed. Retriable."""


class IdempotencyKeyReused(SinkRejected):
    """422 to a request with an Idempotency-Key: the key was used before with another request body."""


@dataclass(frozen=True)
class TargetResponse:
    """A successful (2xx) answer: status, headers and the decoded JSON body (None when empty)."""

    status: int
    headers: Mapping[str, str]
    body: Any
    url: str


# --- the boundary ------------------------------------------------------------------------------------


@asynccontextmanager
async def transport_errors(target: str, operation: str, *, secret_url: str | None = None) -> AsyncIterator[None]:
    """Timeouts and connection failures are retriable: the target may be restarting or overloaded.

    ``secret_url``: a URL that holds a credential (an incoming webhook); it never appears in the
    error, which is logged and published in status events.
    """
    try:
        yield
    except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError) as exc:  # never reached the target
        raise SinkUnavailable(redact(f"{operation}: {type(exc).__name__}: {exc}", secret_url), target=target) from exc
    except TimeoutError as exc:
        raise AnswerLost(f"{operation}: timed out waiting for the answer", target=target) from exc
    except aiohttp.InvalidURL as exc:  # the message is the URL itself; it will not get better
        raise SinkRejected(f"{operation}: the URL is not valid", target=target) from exc
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientPayloadError,
            aiohttp.SocketTimeoutError) as exc:
        raise AnswerLost(redact(f"{operation}: the answer was lost: {type(exc).__name__}: {exc}", secret_url),
                         target=target) from exc
    except aiohttp.ClientError as exc:
        raise SinkUnavailable(redact(f"{operation}: {type(exc).__name__}: {exc}", secret_url),
                              target=target) from exc


def redact(text: str, secret_url: str | None) -> str:
    if not secret_url:
        return text
    path = urlsplit(secret_url).path
    text = text.replace(secret_url, "<secret URL>")
    return text.replace(path, "/<secret>") if len(path) > 1 else text


def classify(target: str, operation: str, status: int, headers: Mapping[str, str], body: bytes, *,
             idempotent: bool = False, expect_json: bool = True,
             now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Any:
    """The decoded JSON of a 2xx answer; any other status raises the matching SinkError.

    ``idempotent``: the request carried an Idempotency-Key (changes the meaning of 409 and 422).
    ``expect_json=False``: a 2xx body that is not JSON is fine (incoming webhooks answer ``ok``).
    401 is raised as AuthenticationFailed here; the client catches it to re-authenticate once.
    """
    decoded, text = _decode(body)
    if 200 <= status < 300:
        if decoded is _NOT_JSON and body.strip() and expect_json:
            raise SinkUnavailable(f"{operation}: HTTP {status} with a body that is not JSON: {text}",
                                  status=status, target=target)
        return None if decoded is _NOT_JSON else decoded
    message = f"{operation}: HTTP {status}: {text}"
    retry_after = parse_retry_after(headers.get("Retry-After"), now)
    if status == 401:
        raise AuthenticationFailed(message, status=status, target=target)
    if status in (429, 503) and retry_after is not None:
        raise SinkBackpressure(message, retry_after=retry_after, status=status, target=target)
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


def _decode(body: bytes) -> tuple[Any, str]:
    try:
        decoded = orjson.loads(body) if body.strip() else _NOT_JSON
    except orjson.JSONDecodeError:
        decoded = _NOT_JSON
    if decoded is _NOT_JSON:
        text = body[:ERROR_TEXT_LIMIT].decode("utf-8", "replace").strip()
        return decoded, repr(text[:120]) if text else "empty body"
    error = decoded.get("error") if isinstance(decoded, dict) else None
    if isinstance(error, dict) and ("message" in error or "code" in error):
        return decoded, f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    if isinstance(error, str):  # {"error": "...", "error_description": "..."} (OAuth2) or a plain text
        description = decoded.get("error_description")
        return decoded, error + (f" ({description})" if isinstance(description, str) else "")
    return decoded, orjson.dumps(decoded)[:ERROR_TEXT_LIMIT].decode("utf-8", "replace")


def _error_code(decoded: Any) -> str | None:
    error = decoded.get("error") if isinstance(decoded, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


# --- the client --------------------------------------------------------------------------------------


class TargetClient:
    """One downstream target: its session, its credential, every call classified at the boundary."""

    def __init__(self, name: str, settings: TargetSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.settings = settings
        self.base_url = str(settings.base_url).rstrip("/") if settings.base_url is not None else ""
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._renew_at: float | None = None
        self.generation = 0
        """Bumped by every token fetch; a 401 seen under generation g refreshes only while still g."""
        self.token_fetches = 0
        auth = settings.auth
        self._static: dict[str, str] = {}
        if auth.kind == "bearer" and auth.token is not None:
            self._static = {"Authorization": f"Bearer {auth.token.get_secret_value()}"}
        elif auth.kind == "basic" and auth.username is not None and auth.password is not None:
            pair = f"{auth.username}:{auth.password.get_secret_value()}".encode()
            self._static = {"Authorization": f"Basic {base64.b64encode(pair).decode('ascii')}"}

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def http(self) -> aiohttp.ClientSession:
        if self._session is None:
            s = self.settings
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=s.concurrency),
                timeout=aiohttp.ClientTimeout(total=s.request_timeout_s, connect=s.connect_timeout_s),
                headers={"Accept": "application/json"},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def authenticate(self) -> None:
        """Fetch an OAuth2 token now (refused credentials -> AuthenticationFailed); no-op otherwise."""
        if self.settings.auth.kind == "oauth2":
            async with self._lock:
                await self._fetch_token()

    async def request(self, operation: str, method: str, path: str, *, json: Any = None,
                      params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
                      idempotent: bool | None = None, secret_url: str | None = None,
                      expect_json: bool = True) -> TargetResponse:
        """Send an authenticated request to ``{base_url}/{path}``; a 2xx answer or a classified SinkError.

        ``secret_url``: send to this URL instead, without the target's credential (an incoming webhook
        carries its credential in the URL, which stays out of every error). ``idempotent`` defaults to
        whether ``headers`` carry an Idempotency-Key.
        """
        if idempotent is None:
            idempotent = any(k.lower() == "idempotency-key" for k in (headers or {}))
        data = orjson.dumps(json) if json is not None else None
        sent = dict(headers or {}) | ({"Content-Type": "application/json"} if data is not None else {})
        url = secret_url or self.url(path)
        for attempt in (1, 2):
            auth_headers, generation = ({}, self.generation) if secret_url else await self._credential()
            status, got, body = await self._send(operation, method, url, params, sent | auth_headers, data,
                                                 secret=secret_url is not None)
            try:
                return TargetResponse(status, got, classify(self.name, operation, status, got, body,
                                                            idempotent=idempotent, expect_json=expect_json), url)
            except AuthenticationFailed as exc:
                if self.settings.auth.kind != "oauth2" or attempt == 2:
                    raise AuthenticationFailed(f"{operation}: {self.name} refused our credentials (HTTP 401)"
                                               + (" again after a fresh token" if attempt == 2 else ""),
                                               status=401, target=self.name) from exc
                await self._refresh(generation)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, operation: str, method: str, url: str, params: Mapping[str, str] | None,
                    headers: Mapping[str, str], data: bytes | None, *,
                    secret: bool = False) -> tuple[int, CIMultiDictProxy[str], bytes]:
        async with transport_errors(self.name, operation, secret_url=url if secret else None), \
                self.http().request(method, url, params=params, headers=headers, data=data) as response:
            return response.status, response.headers, await response.read()

    # --- OAuth2 client credentials --------------------------------------------------------------------

    async def _credential(self) -> tuple[dict[str, str], int]:
        if self.settings.auth.kind != "oauth2":
            return self._static, self.generation
        if not self._token_usable():
            async with self._lock:
                if not self._token_usable():
                    await self._fetch_token()
        return {"Authorization": f"Bearer {self._token}"}, self.generation

    async def _refresh(self, failed_generation: int) -> None:
        async with self._lock:
            if self.generation == failed_generation:
                log.info("%s: token refused, fetching a new one", self.name)
                await self._fetch_token()

    def _token_usable(self) -> bool:
        return self._token is not None and (self._renew_at is None or self._clock() < self._renew_at)

    async def _fetch_token(self) -> None:
        auth = self.settings.auth
        assert auth.token_url is not None and auth.client_id is not None and auth.client_secret is not None
        form = {"grant_type": "client_credentials", "client_id": auth.client_id,
                "client_secret": auth.client_secret.get_secret_value()}
        if auth.scope:
            form["scope"] = auth.scope
        operation = "oauth.token"
        async with transport_errors(self.name, operation), \
                self.http().post(str(auth.token_url), data=form) as response:
            status, headers, body = response.status, response.headers, await response.read()
        self.token_fetches += 1
        if status in (400, 401, 403):  # invalid_client / unauthorized_client / invalid_grant / invalid_scope
            _, text = _decode(body)
            raise AuthenticationFailed(f"{operation}: {self.name} refused the client credentials of "
                                       f"{auth.client_id!r} (HTTP {status}: {text})", status=status, target=self.name)
        payload = classify(self.name, operation, status, headers, body)
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise SinkUnavailable(f"{operation}: the answer carries no access_token", status=status, target=self.name)
        expires_in = payload.get("expires_in")
        self._token = token
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
            self._renew_at = self._clock() + expires_in - min(TOKEN_RENEW_BEFORE_S, expires_in / 10)
        else:
            self._renew_at = None
        self.generation += 1
        log.info("%s: obtained an OAuth2 token for client %s", self.name, auth.client_id)
