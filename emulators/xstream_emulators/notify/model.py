"""What the pure modules of the notification emulator share: the two webhook formats, the refused
call, and how each service words the refusals they have in common."""

from __future__ import annotations

from typing import Literal

Format = Literal["slack", "teams"]
FORMATS: tuple[Format, ...] = ("slack", "teams")
Refusal = Literal["unknown_channel", "invalid_token", "too_large", "no_route", "method_not_allowed",
                  "internal_error", "unavailable", "rate_limited"]
RECORDED_HEADERS = ("Idempotency-Key", "X-Xstream-Origin", "X-Xstream-Causation")
"""Request headers kept with each message, so tests can see what the sender meant (neither service acts on them)."""

REFUSALS: dict[Refusal, dict[Format, tuple[int, str]]] = {
    "unknown_channel": {"slack": (404, "channel_not_found"), "teams": (404, "WorkflowNotFound")},
    "invalid_token": {"slack": (403, "invalid_token"), "teams": (401, "DirectApiAuthorizationRequired")},
    "too_large": {"slack": (413, "request_too_large"), "teams": (413, "RequestEntityTooLarge")},
    "no_route": {"slack": (404, "no_service"), "teams": (404, "WorkflowNotFound")},
    "method_not_allowed": {"slack": (405, "method_not_allowed"), "teams": (405, "MethodNotAllowed")},
    "internal_error": {"slack": (500, "internal_error"), "teams": (500, "InternalServerError")},
    "unavailable": {"slack": (503, "service_unavailable"), "teams": (503, "ServiceUnavailable")},
    "rate_limited": {"slack": (429, "rate_limited"), "teams": (429, "TooManyRequests")},
}
"""Status and error code per service; the codes follow each service's style (Slack snake_case, Azure PascalCase)."""
MESSAGES: dict[Refusal, str] = {
    "unknown_channel": "There is no webhook for this channel.",
    "invalid_token": "The webhook URL's token is not valid for this channel.",
    "too_large": "The request body is too large.",
    "no_route": "There is no webhook at this URL.",
    "method_not_allowed": "Webhooks accept POST only.",
    "internal_error": "Internal server error (injected fault).",
    "unavailable": "The service is unavailable.",
    "rate_limited": "Too many requests (injected fault).",
}


class WebhookError(Exception):
    """A refused webhook call. Slack answers ``code`` as plain text; Teams ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def refusal(fmt: Format, kind: Refusal, message: str | None = None,
            headers: dict[str, str] | None = None) -> WebhookError:
    """The error ``fmt``'s service answers for ``kind``."""
    status, code = REFUSALS[kind][fmt]
    return WebhookError(status, code, message or MESSAGES[kind], headers)
