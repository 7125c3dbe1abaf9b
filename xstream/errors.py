"""One exception root for xstream.

Every error says whether trying again can help (``retriable``), so the runner and the retry
policy decide from the class alone and never from message text. Third-party exceptions are
translated where they are caught (the HTTP boundary, the codec) and chained with ``from``.

    XStreamError                      retriable?
    ├── ConfigError                   no   bad settings / rules, reported at start
    ├── BrokerUnreachable             no   no Kafka broker answered at start: the worker stops
    ├── DecodeError                   no   a record that cannot become a model -> dead letter
    │   ├── KeyDecodeError
    │   └── ValueDecodeError
    ├── MappingError                  no   a decoded event the rules cannot turn into a command
    ├── WebhookRefused                no   an unsigned, wrongly signed, stale or replayed webhook -> 401
    └── SinkError                     no   a target system refused or failed a call
        ├── SinkUnavailable           yes  timeout, connection error, 5xx, HTML error page
        │   ├── AnswerLost            yes  sent, but the answer never came: the target may have acted
        │   └── SinkBackpressure      yes  429/503 with Retry-After: slow down, then retry
        │       └── RequestInFlight   yes  409 to a request with an Idempotency-Key: the first one still runs
        ├── SinkRejected              no   400/404/422: the request itself is wrong -> dead letter
        │   ├── TargetNotFound        no   404 (or OpenText's 400 "Could not get a node")
        │   ├── EditConflict          no   409 without an Idempotency-Key (metadata_token mismatch)
        │   └── IdempotencyKeyReused  no   422 to a request with an Idempotency-Key used with another body
        ├── AlreadyExists             no   OpenText's 500 "An item with the name ... already exists."
        └── AuthenticationFailed      no   401 that a fresh login did not cure
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class DeadLetterReason(StrEnum):
    """Why a record went to the dead-letter topic; part of the published DLQ contract."""

    MALFORMED_JSON = "malformed_json"
    WRONG_ENVELOPE = "wrong_envelope"
    UNKNOWN_OP = "unknown_op"
    MISSING_FIELD = "missing_field"
    OVERSIZE = "oversize"
    KEY_UNDECODABLE = "key_undecodable"
    NO_RULE = "no_rule"
    MAPPING_FAILED = "mapping_failed"
    INVALID_COMMAND = "invalid_command"
    REJECTED_BY_TARGET = "rejected_by_target"
    RETRIES_EXHAUSTED = "retries_exhausted"
    WRONG_TYPE = "wrong_type"
    """A mapped value that does not fit its attribute's type (an object for a name, text for an integer)."""
    CONTENT_MISMATCH = "content_mismatch"
    """A document body that is not what its notice declared: more or fewer bytes, another checksum."""
    SOURCE_NOT_FOUND = "source_not_found"
    """The source system has no document where the notice points (404 from its attachment API)."""
    UNKNOWN_BUSINESS_OBJECT = "unknown_business_object"
    """No workspace for the document's business object, after waiting for one."""
    MALFORMED_MIME = "malformed_mime"
    """An inbound e-mail that is not a usable RFC 5322/MIME message (no headers, a multipart without its
    boundary, too many or too deeply nested parts, undecodable base64 in an attachment)."""


class XStreamError(Exception):
    retriable: ClassVar[bool] = False


class ConfigError(XStreamError):
    """Settings, rules or topic specs that cannot work; raised before any record is read."""


class BrokerUnreachable(XStreamError):
    """No broker of the bootstrap list could be reached (or none answered as Kafka) when the worker
    started: it stops with one line naming the brokers and why, and its supervisor starts it again."""


class DecodeError(XStreamError):
    def __init__(self, reason: DeadLetterReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class KeyDecodeError(DecodeError):
    """The record key could not be read (bad JSON, wrong shape)."""


class ValueDecodeError(DecodeError):
    """The record value could not be read as a change event."""


class MappingError(XStreamError):
    def __init__(self, reason: DeadLetterReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class SinkError(XStreamError):
    """A target system call failed; ``status`` is the HTTP status where there was one."""

    def __init__(self, message: str, *, status: int | None = None, target: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.target = target


class SinkUnavailable(SinkError):
    retriable = True


class AnswerLost(SinkUnavailable):
    """The request went out and its answer never came (reset, disconnect, read timeout): the target
    may have acted. Retriable; a target that cannot de-duplicate may choose not to resend."""


class SinkBackpressure(SinkUnavailable):
    def __init__(self, message: str, *, retry_after: float, status: int | None = None, target: str = "") -> None:
        super().__init__(message, status=status, target=target)
        self.retry_after = retry_after


class RequestInFlight(SinkBackpressure):
    """409 to a request with an Idempotency-Key: the original is still being processed. Retriable."""


class SinkRejected(SinkError):
    pass


class TargetNotFound(SinkRejected):
    pass


class EditConflict(SinkRejected):
    pass


class IdempotencyKeyReused(SinkRejected):
    """422 to a request with an Idempotency-Key: the key was used before with another request body."""


class AlreadyExists(SinkError):
    pass


class AuthenticationFailed(SinkError):
    pass


class WebhookRefused(XStreamError):
    """A webhook request that is not authentic or not fresh; answered 401, never processed."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
