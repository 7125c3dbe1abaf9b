"""How a client proves who it is: one protocol, every scheme xstream speaks.

One rule for every scheme that fetches its credential (reference/opentext-api.md 1.3): it is fetched
once and shared by every concurrent call; a 401 makes exactly one caller fetch a new one (single
flight, under a lock, keyed by a generation counter so callers that saw the same stale credential
do not fetch again one after the other) and the call is repeated once (:func:`with_credential`),
outside any retry policy. A second 401 is AuthenticationFailed; so is the first one where nothing
can be renewed (a static credential). Passwords, client secrets, tickets and tokens are never logged.

- :class:`TicketAuth`: Content Server's ``POST /api/v1/auth`` (form ``username``/``password``) ->
  ``{"ticket"}``, sent as ``OTCSTicket``. Content Server returns a renewed ticket in the
  ``OTCSTicket`` response header of authenticated calls; it is adopted so a sliding expiry never runs
  out while the client is busy.
- :class:`ClientCredentials`: OAuth2 client credentials (OTDS at ``{otds_url}/otdsws/oauth2/token``,
  or a target's ``token_url``): form ``grant_type=client_credentials``, ``client_id``,
  ``client_secret`` (and ``scope``) -> ``{"access_token", "expires_in"}``, sent as ``Authorization:
  Bearer``; renewed shortly before ``expires_in`` runs out, and on a 401.
- :class:`StaticAuth`: fixed headers (:meth:`~StaticAuth.bearer`, :meth:`~StaticAuth.basic`, or
  none at all).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from pydantic import SecretStr

from xstream.errors import AuthenticationFailed, SinkUnavailable
from xstream.http.session import RawResponse
from xstream.http.status import CONTENT_SERVER, classify, error_text

log = logging.getLogger(__name__)

T = TypeVar("T")


class Sender(Protocol):
    """Sends one unauthenticated request (an absolute URL) and returns status, headers and body."""

    def __call__(self, operation: str, method: str, url: str, *, data: Mapping[str, str]) -> Awaitable[RawResponse]: ...


class Authenticator(Protocol):
    generation: int
    """Bumped by every fetch of a credential; a 401 seen under generation g refreshes only while still g."""
    renewable: bool
    """Whether a fresh credential can cure a 401 (False: the first 401 is AuthenticationFailed)."""

    def headers(self) -> dict[str, str]:
        """The headers that carry the credential."""

    async def ensure(self) -> None:
        """Fetch a credential if there is none (or it is about to expire); concurrent callers share one fetch."""

    async def login(self) -> None:
        """Fetch a fresh credential now (a refused one is AuthenticationFailed at once)."""

    async def refresh(self, failed_generation: int) -> None:
        """After a 401: fetch again unless another caller already did since the failed request was sent."""

    def adopt(self, headers: Mapping[str, str], generation: int) -> None:
        """Take a renewed credential from an answer's headers, if the scheme has one."""


async def with_credential(auth: Authenticator, target: str, operation: str,
                          attempt: Callable[[dict[str, str], int], Awaitable[T]]) -> T:
    """``attempt(credential headers, generation)``; on its AuthenticationFailed (a 401 classified by
    :func:`~xstream.http.status.classify`) the credential is refreshed once and the attempt repeated once."""
    await auth.ensure()
    generation = auth.generation
    try:
        return await attempt(auth.headers(), generation)
    except AuthenticationFailed as exc:
        if not auth.renewable:
            raise AuthenticationFailed(f"{operation}: {target} refused our credentials (HTTP 401)", status=401,
                                       target=target) from exc
    await auth.refresh(generation)
    try:
        return await attempt(auth.headers(), auth.generation)
    except AuthenticationFailed as exc:
        raise AuthenticationFailed(f"{operation}: {target} refused our credentials (HTTP 401) again after "
                                   "authenticating anew", status=401, target=target) from exc


class StaticAuth:
    """A fixed credential (or none): nothing to fetch, nothing to renew."""

    renewable = False
    generation = 0

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        self._headers = dict(headers or {})

    @classmethod
    def bearer(cls, token: SecretStr) -> StaticAuth:
        return cls({"Authorization": f"Bearer {token.get_secret_value()}"})

    @classmethod
    def basic(cls, username: str, password: SecretStr) -> StaticAuth:
        pair = f"{username}:{password.get_secret_value()}".encode()
        return cls({"Authorization": f"Basic {base64.b64encode(pair).decode('ascii')}"})

    def headers(self) -> dict[str, str]:
        return dict(self._headers)

    async def ensure(self) -> None:
        return None

    async def login(self) -> None:
        return None

    async def refresh(self, failed_generation: int) -> None:
        return None

    def adopt(self, headers: Mapping[str, str], generation: int) -> None:
        return None


class SharedCredential:
    """A credential fetched from the server and shared; subclasses say how to fetch and send it."""

    renewable = True

    def __init__(self, target: str, send: Sender, clock: Callable[[], float] = time.monotonic) -> None:
        self.target = target
        self._send = send
        self._clock = clock
        self._lock = asyncio.Lock()
        self.generation = 0

    async def ensure(self) -> None:
        if self._usable():
            return
        async with self._lock:
            if not self._usable():
                await self._fetch()
                self.generation += 1

    async def login(self) -> None:
        async with self._lock:
            await self._fetch()
            self.generation += 1

    async def refresh(self, failed_generation: int) -> None:
        async with self._lock:
            if self.generation == failed_generation:
                log.info("%s: credential refused, authenticating again", self.target)
                await self._fetch()
                self.generation += 1

    def headers(self) -> dict[str, str]:
        raise NotImplementedError

    def adopt(self, headers: Mapping[str, str], generation: int) -> None:
        return None

    def _usable(self) -> bool:
        raise NotImplementedError

    async def _fetch(self) -> None:
        raise NotImplementedError


class TicketAuth(SharedCredential):
    """Content Server's OTCSTicket from a password login."""

    HEADER = "OTCSTicket"

    def __init__(self, target: str, send: Sender, *, url: str, username: str, password: SecretStr) -> None:
        super().__init__(target, send)
        self._url = url
        self._username = username
        self._password = password
        self.ticket: str | None = None

    def headers(self) -> dict[str, str]:
        return {self.HEADER: self.ticket} if self.ticket else {}

    def adopt(self, headers: Mapping[str, str], generation: int) -> None:
        fresh = headers.get(self.HEADER)
        if fresh and generation == self.generation:
            self.ticket = fresh  # Content Server renews the ticket on each call; keep the newest

    def _usable(self) -> bool:
        return self.ticket is not None

    async def _fetch(self) -> None:
        operation = "auth.login"
        form = {"username": self._username, "password": self._password.get_secret_value()}
        status, headers, body = await self._send(operation, "POST", self._url, data=form)
        if status == 401:
            raise AuthenticationFailed(f"{operation}: {self.target} refused the login of {self._username!r}",
                                       status=401, target=self.target)
        payload = classify(self.target, operation, status, headers, body, policy=CONTENT_SERVER)
        ticket = payload.get("ticket") if isinstance(payload, dict) else None
        if not isinstance(ticket, str) or not ticket:
            raise SinkUnavailable(f"{operation}: the answer carries no ticket", status=status, target=self.target)
        self.ticket = ticket
        log.info("%s: logged in as %s", self.target, self._username)


class ClientCredentials(SharedCredential):
    """An OAuth2 bearer token from the client-credentials grant."""

    RENEW_BEFORE_S = 30.0
    """Renew a token this long (at most a tenth of its lifetime) before the server says it expires."""

    def __init__(self, target: str, send: Sender, *, token_url: str, client_id: str, client_secret: SecretStr,
                 scope: str | None = None, operation: str = "oauth.token",
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(target, send, clock)
        self._url = token_url
        self._client_id = client_id
        self._secret = client_secret
        self._scope = scope
        self._operation = operation
        self.token: str | None = None
        self._renew_at: float | None = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _usable(self) -> bool:
        if self.token is None:
            return False
        return self._renew_at is None or self._clock() < self._renew_at

    async def _fetch(self) -> None:
        operation = self._operation
        form = {"grant_type": "client_credentials", "client_id": self._client_id,
                "client_secret": self._secret.get_secret_value()}
        if self._scope:
            form["scope"] = self._scope
        status, headers, body = await self._send(operation, "POST", self._url, data=form)
        if status in (400, 401, 403):  # invalid_client / unauthorized_client / invalid_grant / invalid_scope
            raise AuthenticationFailed(f"{operation}: {self.target} refused the client credentials of "
                                       f"{self._client_id!r} (HTTP {status}: {error_text(body)})",
                                       status=status, target=self.target)
        payload: Any = classify(self.target, operation, status, headers, body)
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise SinkUnavailable(f"{operation}: the answer carries no access_token", status=status,
                                  target=self.target)
        expires_in = payload.get("expires_in")
        self.token = token
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
            self._renew_at = self._clock() + expires_in - min(self.RENEW_BEFORE_S, expires_in / 10)
        else:
            self._renew_at = None
        log.info("%s: obtained a token for client %s", self.target, self._client_id)
