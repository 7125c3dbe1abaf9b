"""Everything the notification emulator remembers, pure (no aiohttp): the messages received, call
counts and faults.

Like the real services, it does not honour Idempotency-Key: every accepted POST is one more message,
duplicates included (a sender that retries after a lost answer posts twice; tests can see it).
"""

from __future__ import annotations

import hmac
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from xstream_emulators.notify.config import NotifyEmulatorConfig
from xstream_emulators.notify.faults import Faults
from xstream_emulators.notify.model import Format, Refusal


@dataclass(frozen=True)
class Message:
    seq: int
    """1, 2, ... in order of arrival, over all channels (restarts at reset)."""
    channel: str
    format: Format
    payload: dict[str, Any]
    """The decoded message as the service received it."""
    text: str
    """Slack: ``text`` (else the blocks' texts); Teams: the TextBlock texts of the cards, one per line."""
    headers: dict[str, str]
    """Idempotency-Key, X-Xstream-Origin, X-Xstream-Causation, where sent."""
    received_at: str
    """ISO 8601 UTC with milliseconds."""
    run_id: str | None = None
    """Teams: the ``x-ms-workflow-run-id`` answered; Slack: None."""

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "channel": self.channel, "format": self.format, "payload": self.payload,
                "text": self.text, "headers": self.headers, "received_at": self.received_at,
                "run_id": self.run_id}


class NotifyState:
    def __init__(self, config: NotifyEmulatorConfig | None = None, *,
                 wall: Callable[[], float] = time.time) -> None:
        self.config = config or NotifyEmulatorConfig()
        self.wall = wall
        self.reset()

    def reset(self) -> None:
        """No messages, no call counts, the initial faults."""
        self.messages: list[Message] = []
        self.calls: Counter[str] = Counter()
        self.faults: Faults = self.config.faults
        self.rng = random.Random(0)  # noqa: S311 - fault injection, not security
        self.injected_faults = 0
        self.lost_answers = 0
        """Messages recorded whose answer was then lost (fault ``lost_answer_rate``)."""

    def verify(self, channel: str, token: str) -> Refusal | None:
        """Why a webhook URL is refused, or None when it names a channel with its token."""
        expected = self.config.channels.get(channel)
        if expected is None:
            return "unknown_channel"
        if not hmac.compare_digest(token.encode(), expected.encode()):
            return "invalid_token"
        return None

    def record(self, channel: str, fmt: Format, payload: dict[str, Any], text: str,
               headers: Mapping[str, str]) -> Message:
        seq = len(self.messages) + 1
        run_id = f"08584{seq:024d}CU00" if fmt == "teams" else None
        message = Message(seq, channel, fmt, payload, text, dict(headers), self._now(), run_id)
        self.messages.append(message)
        return message

    def find(self, channel: str | None = None, fmt: Format | None = None) -> list[Message]:
        return [m for m in self.messages
                if (channel is None or m.channel == channel) and (fmt is None or m.format == fmt)]

    @property
    def state_changing(self) -> int:
        """Calls that recorded a message (every accepted POST)."""
        return len(self.messages)

    def calls_view(self) -> dict[str, int]:
        return dict(sorted(self.calls.items())) | {"state_changing": self.state_changing}

    def snapshot(self) -> dict[str, Any]:
        return {
            "channels": {name: {"slack": f"/slack/{name}/{token}", "teams": f"/teams/{name}/{token}",
                                "messages": len(self.find(name))}
                         for name, token in sorted(self.config.channels.items())},
            "messages": len(self.messages),
            "injected_faults": self.injected_faults,
            "lost_answers": self.lost_answers,
        }

    def _now(self) -> str:
        return datetime.fromtimestamp(self.wall(), UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
