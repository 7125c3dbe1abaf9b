"""Settings of one emulated intake (mail connector + web forms portal); separate so state, app and server share them."""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB
INLINE_LIMIT = 512 * KIB
"""Attachments up to this size travel inside the message; larger ones by reference (RFC 2017), as a mail
gateway that offloads large files to a share does, so a Kafka record stays small."""
MAX_MESSAGE_BYTES = 50 * MIB
"""A built message larger than this is refused with 413 (a typical mail server's message size limit)."""
MAX_BLOB_BYTES = 256 * MIB
"""One attachment delivered by reference may be at most this large (the emulator keeps it in memory)."""


@dataclass
class IntakeEmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    """0 picks a free port; RunningIntakeEmulator.url tells which."""
    public_url: str | None = None
    """Scheme and host that blob URLs in messages start with (e.g. behind a proxy); None: the address
    each admin request came to."""
    inline_limit: int = INLINE_LIMIT
    blob_token: str | None = None
    """Set: ``GET /blobs/{id}`` needs ``Authorization: Bearer <blob_token>`` (else 401), as a share's
    pre-authorised link would not but a gateway's download API does."""
    max_message_bytes: int = MAX_MESSAGE_BYTES
    max_blob_bytes: int = MAX_BLOB_BYTES

    def __post_init__(self) -> None:
        if self.public_url is not None:
            self.public_url = self.public_url.rstrip("/")
            if not self.public_url.startswith(("http://", "https://")):
                raise ValueError("public_url must be an http(s) URL")
        for name in ("inline_limit", "max_message_bytes", "max_blob_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.blob_token is not None and (not self.blob_token.strip() or self.blob_token != self.blob_token.strip()):
            raise ValueError("blob_token must be a non-empty string without surrounding spaces")
