"""Settings of one emulated chat notification receiver; separate so state, app and server can share them."""

from __future__ import annotations

from dataclasses import dataclass, field

from xstream_emulators.notify.faults import Faults

DEFAULT_CHANNELS: dict[str, str] = {
    "commercial": "commercial-token",
    "legal": "legal-token",
    "procurement": "procurement-token",
    "finance": "finance-token",
}
"""Channel name -> the secret token of its incoming-webhook URL (the same for Slack and Teams)."""
MAX_BODY_BYTES = 1024 * 1024
"""Slack refuses larger bodies with 413 request_too_large; the emulator caps Teams bodies the same way."""


@dataclass
class NotifyEmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    """0 picks a free port; RunningNotifyEmulator.origin tells which."""
    channels: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CHANNELS))
    """Channel name -> secret token; a webhook URL is /{slack|teams}/{channel}/{token}."""
    max_body_bytes: int = MAX_BODY_BYTES
    faults: Faults = field(default_factory=Faults)
    """Initial fault injection (also what /admin/reset returns to); see faults.parse_fault_flags."""

    def __post_init__(self) -> None:
        self.channels = dict(self.channels)
        for name, token in self.channels.items():
            for what, value in (("channel name", name), (f"token of channel {name!r}", token)):
                if not isinstance(value, str) or not value.strip() or "/" in value or value != value.strip():
                    raise ValueError(f"{what} must be a non-empty string without '/' or surrounding spaces")
        if self.max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be positive")
