"""SAP Gateway's CSRF protection, pure: a token bound to the session cookie it was fetched with.

A read (GET/HEAD) with ``x-csrf-token: Fetch`` is answered with ``x-csrf-token: <token>`` and, when it
carried no session, ``Set-Cookie: SAP_SESSIONID_XS1_100=<session>``; a write (POST/PUT/PATCH/DELETE)
must send both the token and the cookie, else it is refused with 403, ``x-csrf-token: Required`` and
the text ``CSRF token validation failed`` (before its body is looked at). Tokens stay valid until the
admin expires them (fault action ``expire_csrf_tokens``) or a reset.
"""

from __future__ import annotations

import hmac
import secrets

SESSION_COOKIE = "SAP_SESSIONID_XS1_100"
HEADER = "x-csrf-token"
FETCH = "fetch"
REQUIRED = "Required"
REFUSED_TEXT = "CSRF token validation failed"


class CsrfTokens:
    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        """Session id -> its token."""

    def fetch(self, session: str | None) -> tuple[str, str, bool]:
        """(session, token, whether the session is new) for a fetch made with the cookie ``session``."""
        if session is not None and session in self._tokens:
            return session, self._tokens[session], False
        session = secrets.token_urlsafe(24)
        self._tokens[session] = secrets.token_urlsafe(18) + "=="
        return session, self._tokens[session], True

    def valid(self, session: str | None, token: str | None) -> bool:
        expected = self._tokens.get(session) if session is not None else None
        return expected is not None and token is not None and hmac.compare_digest(expected, token)

    def expire(self) -> None:
        self._tokens.clear()
