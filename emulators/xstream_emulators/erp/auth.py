"""Who may call the emulated ERP API, pure: none, a static bearer token, HTTP Basic, or OAuth2.

OAuth2 is the client-credentials grant (RFC 6749 4.4) at ``POST /oauth/token``: form fields
``grant_type=client_credentials``, ``client_id``, ``client_secret`` (or HTTP Basic with the client's
id and secret), optional ``scope`` -> ``{"access_token", "token_type": "Bearer", "expires_in",
"scope"}``. Issued tokens are opaque, valid for ``token_lifetime_s``, and accepted as
``Authorization: Bearer``. A refused call is 401 with a ``WWW-Authenticate`` challenge
(``Bearer error="invalid_token"`` for an unknown or expired token, ``Basic realm="erp"``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from collections.abc import Callable

from xstream_emulators.erp.config import ErpEmulatorConfig
from xstream_emulators.erp.model import ApiError

REALM = "erp"


class OAuthError(Exception):
    """An OAuth2 token endpoint error: ``{"error": code, "error_description": ...}`` with ``status``."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(f"{status} {code}: {description}")
        self.status = status
        self.code = code
        self.description = description


class Authenticator:
    def __init__(self, config: ErpEmulatorConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self.tokens: dict[str, float] = {}
        """Issued OAuth2 access token -> expiry (clock time)."""

    def check(self, authorization: str | None) -> None:
        """Raise ApiError 401 unless the Authorization header satisfies the configured scheme."""
        kind = self.config.auth
        if kind == "none":
            return
        scheme, _, credential = (authorization or "").strip().partition(" ")
        credential = credential.strip()
        if kind == "basic":
            if scheme.lower() != "basic" or not self._basic_ok(credential):
                raise ApiError(401, "unauthorized", "Missing or invalid credentials.",
                               {"WWW-Authenticate": f'Basic realm="{REALM}"'})
            return
        if scheme.lower() != "bearer" or not credential:
            raise ApiError(401, "unauthorized", "A bearer token is required.",
                           {"WWW-Authenticate": f'Bearer realm="{REALM}"'})
        if kind == "bearer":
            valid = hmac.compare_digest(credential, self.config.bearer_token)
        else:
            expiry = self.tokens.get(credential)
            valid = expiry is not None and self._clock() < expiry
        if not valid:
            raise ApiError(401, "invalid_token", "The access token is invalid or has expired.",
                           {"WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token"'})

    def issue_token(self, form: dict[str, str], authorization: str | None) -> dict[str, object]:
        """The token response of a client-credentials grant, or OAuthError."""
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        scheme, _, credential = (authorization or "").strip().partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, client_secret = base64.b64decode(credential.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError(401, "invalid_client", "Malformed Basic authorization header.") from None
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError(400, "invalid_request", "Missing parameter: grant_type")
        if grant != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant type: {grant}")
        if not client_id or not client_secret:
            raise OAuthError(400, "invalid_request", "Missing client credentials.")
        if self.config.auth != "oauth2" or not (
            hmac.compare_digest(client_id, self.config.client_id)
            and hmac.compare_digest(client_secret, self.config.client_secret)
        ):
            raise OAuthError(401, "invalid_client", "Client authentication failed.")
        token = secrets.token_urlsafe(24)
        self.tokens[token] = self._clock() + self.config.token_lifetime_s
        answer: dict[str, object] = {"access_token": token, "token_type": "Bearer",
                                     "expires_in": int(self.config.token_lifetime_s)}
        if form.get("scope"):
            answer["scope"] = form["scope"]
        return answer

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def _basic_ok(self, credential: str) -> bool:
        try:
            user, _, password = base64.b64decode(credential, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user, self.config.username) and hmac.compare_digest(password, self.config.password)
