"""The one session factory and the one plain send of xstream's HTTP clients.

Each server (OpenText, each downstream target) gets one aiohttp session, opened on first use:
connector limit sized from the caller's concurrency, a total and a connect timeout per request,
``Accept: application/json``. Streamed calls (uploads, downloads) use :attr:`HttpSession.streaming_timeout`
instead: no total (a large file may take long), but no single read may wait longer than the
request timeout, so a hung server still fails in bounded time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import aiohttp

from xstream.http.errors import transport_errors

DEFAULT_HEADERS: Mapping[str, str] = {"Accept": "application/json"}

RawResponse: TypeAlias = tuple[int, Mapping[str, str], bytes]
"""Status, headers (case-insensitive) and the whole body of one answer."""


class HttpSession:
    """The session of one server; ``session`` given: shared with the caller, who closes it."""

    def __init__(self, target: str, *, limit: int, request_timeout_s: float, connect_timeout_s: float,
                 headers: Mapping[str, str] = DEFAULT_HEADERS, session: aiohttp.ClientSession | None = None) -> None:
        self.target = target
        self._limit = limit
        self._headers = dict(headers)
        self._session = session
        self._owns_session = session is None
        self.timeout = aiohttp.ClientTimeout(total=request_timeout_s, connect=connect_timeout_s)
        self.streaming_timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout_s,
                                                       sock_connect=connect_timeout_s, sock_read=request_timeout_s)

    def get(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._limit),
                                                  timeout=self.timeout, headers=self._headers)
        return self._session

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, operation: str, method: str, url: str, *, params: Any = None,
                   headers: Mapping[str, str] | None = None, data: Any = None, secret: bool = False) -> RawResponse:
        """One request, its whole answer read; transport failures classified (``secret``: the URL is
        a credential and stays out of every error). The status is not looked at here."""
        async with transport_errors(self.target, operation, secret_url=url if secret else None), \
                self.get().request(method, url, params=params, headers=headers, data=data) as response:
            return response.status, response.headers, await response.read()
