"""OTCSTicket issuing and checking, pure (no aiohttp).

A ticket is ``base64(session:epoch:issued_ms).hmac``: the server keeps only its sessions, not every
ticket it handed out, like Content Server (whose tickets are encrypted and carry a time stamp).
Every authenticated call returns a fresh ticket with a new issue time, so a client that adopts the
``OTCSTicket`` response header gets a sliding expiry while one that ignores it expires
``lifetime_s`` after login. Old tickets stay valid until their own expiry. ``expire_all`` bumps an
epoch so every ticket issued so far is refused (fault injection for the client's re-login path).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Session:
    session_id: str
    username: str


class TicketBook:
    def __init__(self, lifetime_s: float, clock: Callable[[], float]) -> None:
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._epoch = 0
        self._sessions: dict[str, Session] = {}

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    def open(self, username: str) -> Session:
        session = Session(secrets.token_hex(8), username)
        self._sessions[session.session_id] = session
        return session

    def is_open(self, session: Session) -> bool:
        return session.session_id in self._sessions

    def issue(self, session: Session) -> str:
        issued_ms = int(self._clock() * 1000)
        payload = base64.urlsafe_b64encode(f"{session.session_id}:{self._epoch}:{issued_ms}".encode()).decode()
        return f"{payload}.{self._sign(payload)}"

    def check(self, ticket: str) -> Session | None:
        """The live session a ticket belongs to, or None when it is unknown, forged, ended or expired."""
        payload, _, signature = ticket.strip().partition(".")
        if not payload or not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            return None
        try:
            session_id, epoch, issued_ms = base64.urlsafe_b64decode(payload).decode().split(":")
            expired = int(issued_ms) / 1000 + self.lifetime_s <= self._clock()
            stale = int(epoch) != self._epoch
        except ValueError:
            return None
        if expired or stale:
            return None
        return self._sessions.get(session_id)

    def close(self, session: Session) -> None:
        self._sessions.pop(session.session_id, None)

    def expire_all(self) -> None:
        self._epoch += 1
        self._sessions.clear()

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()[:24]
