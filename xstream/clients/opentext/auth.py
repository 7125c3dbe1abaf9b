"""How the client proves who it is: an OTCSTicket from a password login, or an OTDS bearer token.

Both strategies share one rule (reference/opentext-api.md 1.3): a credential is fetched once and
shared by every concurrent call; a 401 makes exactly one caller fetch a new one (single flight,
under a lock, keyed by a generation counter so callers that saw the same stale credential do not
log in again one after the other) and the call is repeated once. A second 401 is
AuthenticationFailed. Neither passwords, client secrets, tickets nor tokens are ever logged.

- :class:`TicketAuth`: ``POST /api/v1/auth`` (form ``username``/``password``) -> ``{"ticket"}``, sent
  as ``OTCSTicket``. Content Server returns a renewed ticket in the ``OTCSTicket`` response header of
  authenticated calls; it is adopted so a sliding expiry never runs out while the client is busy.
- :class:`OtdsAuth`: OAuth2 client credentials at ``{otds_url}/otdsws/oauth2/token`` (form
  ``grant_type=client_credentials``, ``client_id``, ``client_secret``) -> ``{"access_token",
  "expires_in"}``, sent as ``Authorization: Bearer``. The token is renewed shortly before
  ``expires_in`` runs out, and on a 401.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from xstream.clients.opentext.boundary import TARGET, parse_response
from xstream.errors import AuthenticationFailed, SinkUnavailable
from xstream.settings import OpenTextSettings

log = logging.getLogger(__name__)

RawResponse = tuple[int, Mapping[str, str], bytes]


class Sender(Protocol):
    """Sends one unauthenticated request (an absolute URL) and returns status, headers and body."""

    def __call__(
        self, operation: str, method: str, url: str, *, data: Mapping[str, str]
    ) -> Awaitable[RawResponse]: ...


class Authenticator:
    """The shared credential; subclasses say how to fetch it and which header carries it."""

    def __init__(self, send: Sender, clock: Callable[[], float] = time.monotonic) -> None:
        self._send = send
        self._clock = clock
        self._lock = asyncio.Lock()
        self.generation = 0
        """Bumped by every successful fetch; a 401 seen under generation g refreshes only if still g."""

    async def ensure(self) -> None:
        """Fetch a credential if there is none (or it is about to expire); concurrent callers share one fetch."""
        if self._usable():
            return
        async with self._lock:
            if not self._usable():
                await self._fetch()
                self.generation += 1

    async def login(self) -> None:
        """Fetch a fresh credential now (a refused one is AuthenticationFailed at once)."""
        async with self._lock:
            await self._fetch()
            self.generation += 1

    async def refresh(self, failed_generation: int) -> None:
        """After a 401: fetch again unless another caller already did since the failed request was sent."""
        async with self._lock:
            if self.generation == failed_generation:
                log.info("opentext: credential refused, authenticating again")
                await self._fetch()
                self.generation += 1

    def headers(self) -> dict[str, str]:
        raise NotImplementedError

    def adopt(self, headers: Mapping[str, str], generation: int) -> None:
        """Take a renewed credential from a successful answer's headers, if the scheme has one."""

    def _usable(self) -> bool:
        raise NotImplementedError

    async def _fetch(self) -> None:
        raise NotImplementedError


class TicketAuth(Authenticator):
    def __init__(self, settings: OpenTextSettings, base_url: str, send: Sender) -> None:
        super().__init__(send)
        self._settings = settings
        self._url = f"{base_url}/api/v1/auth"
        self.ticket: str | None = None

    def headers(self) -> dict[str, str]:
        return {"OTCSTicket": self.ticket} if self.ticket else {}

    def adopt(self, headers: Mapping[str, str], generation: int) -> None:
        fresh = headers.get("OTCSTicket")
        if fresh and generation == self.generation:
            self.ticket = fresh  # Content Server renews the ticket on each call; keep the newest

    def _usable(self) -> bool:
        return self.ticket is not None

    async def _fetch(self) -> None:
        s = self._settings
        form = {"username": s.username, "password": s.password.get_secret_value()}
        status, headers, body = await self._send("auth.login", "POST", self._url, data=form)
        if status == 401:
            raise AuthenticationFailed(f"auth.login: OpenText refused the login of {s.username!r}", status=401,
                                       target=TARGET)
        payload = parse_response("auth.login", status, headers, body)
        ticket = payload.get("ticket") if isinstance(payload, dict) else None
        if not isinstance(ticket, str) or not ticket:
            raise SinkUnavailable("auth.login: the answer carries no ticket", status=status, target=TARGET)
        self.ticket = ticket
        log.info("opentext: logged in as %s", s.username)


class OtdsAuth(Authenticator):
    RENEW_BEFORE_S = 30.0
    """Renew a token this long (at most a tenth of its lifetime) before OTDS says it expires."""

    def __init__(self, settings: OpenTextSettings, send: Sender, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(send, clock)
        if settings.otds_url is None or settings.otds_client_id is None or settings.otds_client_secret is None:
            raise ValueError("OtdsAuth needs otds_url, otds_client_id and otds_client_secret")
        self._url = str(settings.otds_url).rstrip("/") + "/otdsws/oauth2/token"
        self._client_id = settings.otds_client_id
        self._secret = settings.otds_client_secret
        self.token: str | None = None
        self._renew_at: float | None = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _usable(self) -> bool:
        if self.token is None:
            return False
        return self._renew_at is None or self._clock() < self._renew_at

    async def _fetch(self) -> None:
        form = {"grant_type": "client_credentials", "client_id": self._client_id,
                "client_secret": self._secret.get_secret_value()}
        status, headers, body = await self._send("otds.token", "POST", self._url, data=form)
        if status in (400, 401, 403):  # OAuth2: invalid_client / unauthorized_client / invalid_grant
            raise AuthenticationFailed(f"otds.token: OTDS refused the client credentials of {self._client_id!r} "
                                       f"(HTTP {status})", status=status, target=TARGET)
        payload: Any = parse_response("otds.token", status, headers, body)
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise SinkUnavailable("otds.token: the answer carries no access_token", status=status, target=TARGET)
        expires_in = payload.get("expires_in")
        self.token = token
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
            self._renew_at = self._clock() + expires_in - min(self.RENEW_BEFORE_S, expires_in / 10)
        else:
            self._renew_at = None
        log.info("opentext: obtained an OTDS token for client %s", self._client_id)
