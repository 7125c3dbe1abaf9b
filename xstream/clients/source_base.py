"""What the source-system document clients (SAP attachments, Salesforce Files) share: one session and
one credential on xstream's HTTP boundary, an authenticated send, and who they say they are.

A client gets its :class:`~xstream.http.session.HttpSession` and its
:class:`~xstream.http.auth.Authenticator` from the caller (the worker builds them from a target's
settings), or builds a session itself and sends no credential. Every write says ``X-Xstream-Origin``
(so the source's change feed can tell xstream's own writes, and their CDC echo, from its users'),
and every answer is classified at the boundary in the server's dialect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

from pydantic import ValidationError

from xstream.errors import SinkUnavailable
from xstream.http.auth import Authenticator, StaticAuth, with_credential
from xstream.http.session import HttpSession, RawResponse
from xstream.http.status import StatusPolicy, classify

ORIGIN_HEADER = "X-Xstream-Origin"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
T = TypeVar("T")


class SourceClient:
    def __init__(self, base_url: str, *, target: str, policy: StatusPolicy, auth: Authenticator | None = None,
                 session: HttpSession | None = None, origin: str = "xstream", concurrency: int = 4,
                 request_timeout_s: float = 30.0, connect_timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.target = target
        self.policy = policy
        self.origin = origin
        self.session = session or HttpSession(target, limit=concurrency, request_timeout_s=request_timeout_s,
                                              connect_timeout_s=connect_timeout_s)
        self.auth: Authenticator = auth or StaticAuth()
        self.stall_s = request_timeout_s
        """How long an upload may go without a chunk written, or without an answer after the last one."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        await self.session.close()

    async def send(self, operation: str, method: str, url: str, *, params: Any = None,
                   headers: Mapping[str, str] | None = None, data: Any = None) -> RawResponse:
        """One authenticated request, its whole (small) answer; a 401 re-authenticates once and repeats.
        Statuses other than 401 are left to the caller (who may read a dialect's signal first)."""
        async def attempt(credential: dict[str, str], generation: int) -> RawResponse:
            status, got, body = await self.session.send(operation, method, url, params=params, data=data,
                                                        headers=dict(headers or {}) | credential)
            if status == 401:
                classify(self.target, operation, status, got, body, policy=self.policy)  # AuthenticationFailed
            self.auth.adopt(got, generation)
            return status, got, body

        return await with_credential(self.auth, self.target, operation, attempt)

    def writes(self, idempotency_key: str) -> dict[str, str]:
        """The headers of every write: who writes, and the key that makes a repeat harmless."""
        return {ORIGIN_HEADER: self.origin, IDEMPOTENCY_HEADER: idempotency_key}

    def shaped(self, operation: str, read: Callable[[], T]) -> T:
        """Read a 2xx answer; one that lacks what the API documents is treated as a bad gateway (retriable)."""
        try:
            return read()
        except (KeyError, TypeError, ValueError, IndexError, ValidationError) as exc:
            raise SinkUnavailable(f"{operation}: unexpected answer shape ({type(exc).__name__}: {exc})",
                                  target=self.target) from exc
