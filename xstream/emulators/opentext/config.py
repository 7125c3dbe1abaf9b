"""Settings of one emulated Content Server; separate so state, app and server can share them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class OpenTextEmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    """0 picks a free port; RunningEmulator.url tells which."""
    base_path: str = "/otcs/cs"
    """The CGI path before /api: real deployments use /otcs/cs, /cs/cs or /OTCS/cs.exe."""
    users: dict[str, str] = field(default_factory=lambda: {"Admin": "livelink"})
    ticket_lifetime_s: float = 1800.0

    def __post_init__(self) -> None:
        stripped = self.base_path.strip("/")
        self.base_path = f"/{stripped}" if stripped else ""
        if self.base_path == "/admin":
            raise ValueError("base_path must not be /admin: the admin API lives there")
