"""Server-side event hooks: what a Content Script / OScript event callback would send. Pure (no aiohttp).

Content Server's REST API has no outbound webhook; customers install event callbacks (e.g.
AnswerModules Content Script ``CSEvents`` on NodeCreate, NodeAddVersion, ...) that call other
systems (reference 7.3). The emulator plays one so webhook ingress can be tested end to end. Only
documents (subtype 144) fire, and only these changes:

- ``document.added``: a document was created (its Create audit event);
- ``document.version_added``: a version was added;
- ``document.attributes_changed``: category values were applied, updated or removed (every
  "Attribute Value Changed" audit event, also the one of a version add that carries categories);
- ``workflow.finished``: a process completed or stopped, once per process (``node_id`` null).

Wire format (the receiver is written independently; both sides must agree on exactly this):
``POST {url}``, ``Content-Type: application/json``, ``User-Agent: OpenText-ContentServer-Hook/emulator``,
body (compact JSON) ``{"event_id", "event", "node_id", "process_id", "occurred_at", "user_id"}``
(``event_id`` = ``audit-<seq>`` or ``wf-<process_id>-<status>``, ``occurred_at`` = the audit date,
ISO 8601 UTC with ``Z``), ``X-Xstream-Timestamp`` = unix seconds and ``X-Xstream-Signature`` =
``v1=`` + lowercase hex HMAC-SHA256 over ``timestamp + "." + body`` keyed with the secret (UTF-8).

Delivery (``hook_sender``): per registration in order of the changes; a connection error, a
timeout (5 s), 5xx or 429 is retried, up to :data:`MAX_ATTEMPTS` attempts in all, after
:func:`backoff_s` (at least until the next whole second: each attempt is signed anew, with a new
timestamp); 2xx ends it, any other answer gives up. The
registrations and the delivery log are not persisted: like faults, they are the test's set-up.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from xstream_emulators.opentext.model import (
    AUDIT_ADD_VERSION,
    AUDIT_ATTRIBUTE_CHANGED,
    AUDIT_CREATE,
    DOCUMENT,
    AuditEvent,
    Change,
)

if TYPE_CHECKING:
    from xstream_emulators.opentext.state import OpenTextState

DOCUMENT_ADDED = "document.added"
VERSION_ADDED = "document.version_added"
ATTRIBUTES_CHANGED = "document.attributes_changed"
WORKFLOW_FINISHED = "workflow.finished"
EVENTS = frozenset({DOCUMENT_ADDED, VERSION_ADDED, ATTRIBUTES_CHANGED, WORKFLOW_FINISHED})
AUDIT_HOOKS = {AUDIT_CREATE: DOCUMENT_ADDED, AUDIT_ADD_VERSION: VERSION_ADDED,
               AUDIT_ATTRIBUTE_CHANGED: ATTRIBUTES_CHANGED}
USER_AGENT = "OpenText-ContentServer-Hook/emulator"
TIMESTAMP_HEADER = "X-Xstream-Timestamp"
SIGNATURE_HEADER = "X-Xstream-Signature"
MAX_ATTEMPTS = 5
TIMEOUT_S = 5.0
BASE_DELAY_S = 0.2
MAX_RETRY_AFTER_S = 5.0
MAX_LOG = 10_000
"""Delivery log entries kept (the oldest go first), so a long-running emulator does not grow without end."""


class HookSpecError(ValueError):
    """A hook registration that cannot be used (the admin API answers 400 with the message)."""


@dataclass(frozen=True)
class HookTarget:
    """Where one hook posts, with which secret, for which events (None = all four)."""

    url: str
    secret: str
    events: frozenset[str] | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.url) if isinstance(self.url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise HookSpecError(f"url must be an http(s) URL, not {self.url!r}")
        if not isinstance(self.secret, str) or not self.secret:
            raise HookSpecError("secret must be a non-empty string")
        if self.events is not None:
            events = frozenset(self.events)
            unknown = sorted(str(e) for e in events if e not in EVENTS)
            if unknown:
                raise HookSpecError(f"unknown events {unknown}: use {sorted(EVENTS)}")
            object.__setattr__(self, "events", events)

    def wants(self, event: str) -> bool:
        return self.events is None or event in self.events


def parse_target(payload: Any) -> HookTarget:
    """The body of ``POST /admin/hooks``: ``{"url", "secret", "events": [...] (optional)}``."""
    if not isinstance(payload, dict):
        raise HookSpecError("expected an object {\"url\", \"secret\", \"events\"}")
    unknown = sorted(set(payload) - {"url", "secret", "events"})
    if unknown:
        raise HookSpecError(f"unknown fields {unknown}")
    events = payload.get("events")
    if events is not None and (not isinstance(events, list) or not all(isinstance(e, str) for e in events)):
        raise HookSpecError("events must be a list of event names")
    return HookTarget(payload.get("url", ""), payload.get("secret", ""), None if events is None else frozenset(events))


@dataclass(frozen=True)
class HookEvent:
    event_id: str
    event: str
    node_id: int | None
    process_id: int | None
    occurred_at: str
    user_id: int

    def body(self) -> bytes:
        return orjson.dumps({"event_id": self.event_id, "event": self.event, "node_id": self.node_id,
                             "process_id": self.process_id, "occurred_at": self.occurred_at,
                             "user_id": self.user_id})


def hook_event(state: OpenTextState, change: Change) -> HookEvent | None:
    """The hook a change fires, if any (documents only; a finished process once)."""
    if not isinstance(change, AuditEvent):
        return HookEvent(f"wf-{change.process_id}-{change.status}", WORKFLOW_FINISHED, None, change.process_id,
                         change.date, change.user_id)
    name = AUDIT_HOOKS.get(change.event_type)
    node = state.nodes.get(change.node_id)
    if name is None or node is None or node.type != DOCUMENT:
        return None
    return HookEvent(f"audit-{change.seq}", name, node.id, None, change.audit_date, change.user_id)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return f"v1={digest.hexdigest()}"


def headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "User-Agent": USER_AGENT, TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(secret, timestamp, body)}


def retriable(status: int) -> bool:
    return status == 429 or status >= 500


def backoff_s(failed_attempts: int, retry_after: str | None = None) -> float:
    """The wait before the next attempt: ``Retry-After`` seconds when the answer gave them (at most
    5 s), else 0.2 s * 2**attempt, attempt counted from 0 (0.2, 0.4, 0.8, 1.6 s)."""
    asked = _seconds(retry_after)
    if asked is not None:
        return min(asked, MAX_RETRY_AFTER_S)
    return BASE_DELAY_S * 2.0 ** (failed_attempts - 1)


def _seconds(value: str | None) -> float | None:
    """Retry-After as delay-seconds (an HTTP date is not honoured: a hook's wait is short anyway)."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return max(0.0, seconds) if seconds is not None and math.isfinite(seconds) else None


@dataclass
class Registration:
    id: int
    target: HookTarget

    def as_json(self) -> dict[str, Any]:
        events = None if self.target.events is None else sorted(self.target.events)
        return {"id": self.id, "url": self.target.url, "events": events}


@dataclass
class Delivery:
    """One event for one registration, updated as the attempts go (the admin API's delivery log)."""

    hook_id: int
    event: HookEvent
    attempts: int = 0
    status: int | None = None
    """The last answer's HTTP status (None when there was none)."""
    error: str | None = None
    """Why the last attempt failed without an answer (connection error, timeout, cancelled)."""
    delivered: bool = False
    pending: bool = True

    def as_json(self) -> dict[str, Any]:
        return {"hook_id": self.hook_id, "event_id": self.event.event_id, "event": self.event.event,
                "node_id": self.event.node_id, "process_id": self.event.process_id, "attempts": self.attempts,
                "status": self.status, "error": self.error, "delivered": self.delivered, "pending": self.pending}


class HookBook:
    """The registrations (ids from 1; the configured ones first) and the delivery log."""

    def __init__(self, configured: tuple[HookTarget, ...] = ()) -> None:
        self.configured = configured
        self.reset()

    def reset(self) -> None:
        """Back to the configured registrations, with an empty log."""
        self.registrations: dict[int, Registration] = {}
        self.deliveries: list[Delivery] = []
        self.next_id = 1
        for target in self.configured:
            self.register(target)

    def register(self, target: HookTarget) -> Registration:
        registration = Registration(self.next_id, target)
        self.registrations[registration.id] = registration
        self.next_id += 1
        return registration

    def clear(self) -> list[Registration]:
        removed = list(self.registrations.values())
        self.registrations = {}
        return removed

    def deliveries_for(self, event: HookEvent) -> list[tuple[Registration, Delivery]]:
        """Log one delivery per registration that wants the event."""
        found = []
        for registration in self.registrations.values():
            if registration.target.wants(event.event):
                delivery = Delivery(registration.id, event)
                self.deliveries.append(delivery)
                found.append((registration, delivery))
        del self.deliveries[:-MAX_LOG]
        return found

    def as_json(self) -> dict[str, Any]:
        return {"hooks": [r.as_json() for r in self.registrations.values()],
                "deliveries": [d.as_json() for d in self.deliveries]}
