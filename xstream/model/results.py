"""What a sink says about each command it was given; the runner turns these into status events.

A result without an outcome is *unfinished*: a transient failure (timeout, 5xx, backpressure) that
the runner retries under its one retry policy. Only unfinished commands are sent again, so a
command that was applied in the first attempt is reported as ``applied``, not ``already_applied``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from xstream.errors import DeadLetterReason
from xstream.model.commands import DocumentLink
from xstream.model.status import DownstreamRecord, Outcome, WorkspaceLink


class SinkResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    outcome: Outcome | None
    workspace: WorkspaceLink | None = None
    created: bool = False
    """The command created the workspace."""
    downstream: DownstreamRecord | None = None
    document: DocumentLink | None = None
    """The OpenText document the command stored or changed, when it is one of the document sink's."""
    reason: DeadLetterReason | None = None
    detail: str | None = None
    retry_after: float | None = None
    blames_target: bool = True
    """An unfinished attempt counts as a failure of the target (its breaker), unless it only waits."""

    @property
    def finished(self) -> bool:
        return self.outcome is not None

    @classmethod
    def applied(cls, workspace: WorkspaceLink | None = None, *, downstream: DownstreamRecord | None = None,
                created: bool = False, document: DocumentLink | None = None) -> SinkResult:
        return cls(outcome=Outcome.APPLIED, workspace=workspace, downstream=downstream, created=created,
                   document=document)

    @classmethod
    def already_applied(cls, workspace: WorkspaceLink | None = None, *,
                        downstream: DownstreamRecord | None = None,
                        document: DocumentLink | None = None) -> SinkResult:
        return cls(outcome=Outcome.ALREADY_APPLIED, workspace=workspace, downstream=downstream, document=document)

    @classmethod
    def rejected(cls, reason: DeadLetterReason, detail: str) -> SinkResult:
        return cls(outcome=Outcome.REJECTED, reason=reason, detail=detail)

    @classmethod
    def transient(cls, detail: str, retry_after: float | None = None) -> SinkResult:
        return cls(outcome=None, detail=detail, retry_after=retry_after)

    @classmethod
    def waiting(cls, detail: str, retry_after: float | None = None) -> SinkResult:
        """Not finished, and not the target's fault (a document waiting for its workspace): tried again
        like a transient failure, but not counted against the target by its breaker."""
        return cls(outcome=None, detail=detail, retry_after=retry_after, blames_target=False)
