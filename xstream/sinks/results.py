"""The one reading of a failed ``apply`` as a :class:`SinkResult`, shared by every sink.

    SinkBackpressure        unfinished, with the server's retry_after
    SinkUnavailable         unfinished (AnswerLost included: the runner sends it again)
    AuthenticationFailed    unfinished, logged as an error: wrong or rotated credentials fail every
                            command alike, an outage to wait out, not a reason to dead-letter them all
    MappingError            rejected with its own reason (the command cannot become a request)
    SinkError               rejected_by_target (the target refused it: 4xx, conflicts, duplicates)
    ValidationError         invalid_command (a request model could not be built from the command)
    anything else           rejected_by_target "unexpected ...", logged with its traceback: one
                            poison command must not crash-loop the worker
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pydantic import ValidationError

from xstream.errors import (
    AuthenticationFailed,
    DeadLetterReason,
    MappingError,
    SinkBackpressure,
    SinkError,
    SinkUnavailable,
)
from xstream.model.results import SinkResult

log = logging.getLogger(__name__)


def result_of(exc: Exception, *, sink: str, context: Mapping[str, object]) -> SinkResult:
    """What ``exc``, raised while ``sink`` applied a command (``context``: its log fields), means."""
    if isinstance(exc, SinkBackpressure):
        return SinkResult.transient(str(exc), retry_after=exc.retry_after)
    if isinstance(exc, SinkUnavailable):
        return SinkResult.transient(str(exc))
    if isinstance(exc, AuthenticationFailed):
        log.error("%s refused our credentials", sink, extra={**context, "error": str(exc)})
        return SinkResult.transient(f"authentication failed: {exc}")
    if isinstance(exc, MappingError):
        return SinkResult.rejected(exc.reason, exc.detail)
    if isinstance(exc, SinkError):
        log.warning("%s rejected a command", sink, extra={**context, "error": str(exc)})
        return SinkResult.rejected(DeadLetterReason.REJECTED_BY_TARGET, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, ValidationError):
        return SinkResult.rejected(DeadLetterReason.INVALID_COMMAND, f"cannot build the request: {exc}")
    log.error("unexpected error applying a command", extra=dict(context), exc_info=exc)
    return SinkResult.rejected(DeadLetterReason.REJECTED_BY_TARGET, f"unexpected {type(exc).__name__}: {exc}")
