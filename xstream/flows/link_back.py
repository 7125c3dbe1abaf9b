"""Flow F4 (links back): workspace outcomes -> ``update_record`` commands for the source system.

Reads the status topic. For every workspace command that ended with the workspace in place
(applied or already applied) and whose rule has a ``link_back`` section, the pure
``link_back_command`` builds the downstream command that writes the workspace's id and URL into
the source record; its key derives from what is written, so every repeat is the same command, and
the downstream sink's effect ledger applies it once.
"""

from __future__ import annotations

from pydantic import TypeAdapter

from xstream.codec import decode_command, encode
from xstream.errors import DeadLetterReason, DecodeError
from xstream.model.status import StatusEvent
from xstream.routing import Router
from xstream.streams.flow import Output, Rejected, StateView, Step, StepResult
from xstream.streams.loop import Record
from xstream.transform.link_back import link_back_command
from xstream.transform.rules import RuleSet

FLOW = "link_back"
_STATUS: TypeAdapter[StatusEvent] = TypeAdapter(StatusEvent)


def make_step(*, rules: RuleSet, router: Router, max_record_bytes: int) -> Step[None]:
    def step(record: Record, state: StateView[None] | None) -> StepResult[None]:
        try:
            status = decode_command(record.value, _STATUS, max_bytes=max_record_bytes)
        except DecodeError as exc:
            reason = exc.reason if exc.reason is not DeadLetterReason.INVALID_COMMAND else DeadLetterReason.WRONG_ENVELOPE
            return StepResult("dead_lettered", rejected=Rejected(reason, f"not a status event: {exc.detail}", "decode"))
        command = link_back_command(rules, status)
        if command is None:
            return StepResult("skipped")
        return StepResult("command", outputs=[Output(router.topic_for(command), command.kafka_key.encode(), encode(command),
                                                     command.idempotency_key, what="link-back command")])

    return step
