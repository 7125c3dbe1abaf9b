"""The HTTP client of one downstream target (ERP, CRM, procurement, partner portals, chat).

:class:`TargetClient` runs on xstream's HTTP boundary (:mod:`xstream.http`): one session per target
(connector limit = ``concurrency``, connect/total timeouts from :class:`~xstream.settings.TargetSettings`),
every answer classified by :func:`xstream.http.status.classify` (plain HTTP, with Idempotency-Key
semantics: 409 = the first request with that key still runs -> RequestInFlight, retriable; 422 =
the key was used with another body -> IdempotencyKeyReused), and the authentication chosen once
from ``settings.auth``:

- ``none``: no header; ``bearer``: ``Authorization: Bearer <token>``; ``basic``: HTTP Basic. Nothing
  can be renewed, so the first 401 is AuthenticationFailed.
- ``oauth2``: client credentials at ``token_url`` (with ``scope``), the token shared by all calls,
  renewed before it expires and once on a 401 (single flight), the call repeated once.

Secrets and tokens are never logged; an incoming webhook's URL (its credential) never reaches an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from xstream.http.auth import Authenticator, ClientCredentials, Sender, StaticAuth, with_credential
from xstream.http.session import HttpSession
from xstream.http.status import classify
from xstream.settings import TargetAuth, TargetSettings


@dataclass(frozen=True)
class TargetResponse:
    """A successful (2xx) answer: status, headers and the decoded JSON body (None when empty)."""

    status: int
    headers: Mapping[str, str]
    body: Any
    url: str


class TargetClient:
    """One downstream target: its session, its credential, every call classified at the boundary."""

    def __init__(self, name: str, settings: TargetSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.settings = settings
        self.base_url = str(settings.base_url).rstrip("/") if settings.base_url is not None else ""
        self.session = HttpSession(name, limit=settings.concurrency, request_timeout_s=settings.request_timeout_s,
                                   connect_timeout_s=settings.connect_timeout_s)
        self.auth: Authenticator = authenticator_for(name, settings.auth, self.session.send, clock)

    @property
    def token_fetches(self) -> int:
        """Credentials fetched so far (OAuth2 tokens; always 0 for a static credential)."""
        return self.auth.generation

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    async def close(self) -> None:
        await self.session.close()

    async def authenticate(self) -> None:
        """Fetch an OAuth2 token now (refused credentials -> AuthenticationFailed); no-op otherwise."""
        await self.auth.login()

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

        async def attempt(credential: dict[str, str], generation: int) -> TargetResponse:
            status, got, body = await self.session.send(operation, method, url, params=params, headers=sent | credential,
                                                        data=data, secret=secret_url is not None)
            return TargetResponse(status, got, classify(self.name, operation, status, got, body,
                                                        idempotent=idempotent, expect_json=expect_json), url)

        return await with_credential(_NO_CREDENTIAL if secret_url else self.auth, self.name, operation, attempt)


_NO_CREDENTIAL = StaticAuth()


def authenticator_for(name: str, auth: TargetAuth, send: Sender,
                      clock: Callable[[], float] = time.monotonic) -> Authenticator:
    """The credential a target's settings choose (none, bearer, basic, OAuth2 client credentials)."""
    if auth.kind == "oauth2":
        assert auth.token_url is not None and auth.client_id is not None and auth.client_secret is not None
        return ClientCredentials(name, send, token_url=str(auth.token_url), client_id=auth.client_id,
                                 client_secret=auth.client_secret, scope=auth.scope, clock=clock)
    if auth.kind == "bearer" and auth.token is not None:
        return StaticAuth.bearer(auth.token)
    if auth.kind == "basic" and auth.username is not None and auth.password is not None:
        return StaticAuth.basic(auth.username, auth.password)
    return StaticAuth()
