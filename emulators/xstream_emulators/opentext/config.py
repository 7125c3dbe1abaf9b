"""Settings of one emulated Content Server; separate so state, app and server can share them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xstream_emulators.opentext.faults import Faults
from xstream_emulators.opentext.hooks import HookTarget
from xstream_emulators.opentext.multipart import LargeFileSettings

__all__ = ["HookTarget", "LargeFileSettings", "OpenTextEmulatorConfig"]


@dataclass
class OpenTextEmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    """0 picks a free port; RunningEmulator.url tells which."""
    base_path: str = "/otcs/cs"
    """The CGI path before /api: real deployments use /otcs/cs, /cs/cs or /OTCS/cs.exe."""
    users: dict[str, str] = field(default_factory=lambda: {"Admin": "livelink"})
    ticket_lifetime_s: float = 1800.0
    otds_clients: dict[str, str] = field(default_factory=lambda: {"xstream": "xstream-secret"})
    """OAuth2 clients of the emulated OTDS (client_id -> client_secret); their tokens act as Admin."""
    otds_token_lifetime_s: float = 3600.0
    """``expires_in`` of OTDS access tokens; an expired token is 401 like a bad one."""
    content_dir: Path | None = None
    """Where document content is stored; None = a temporary directory (or ``<db>-content`` next to db_path)."""
    db_path: Path | None = None
    """SQLite file to keep state across restarts; None = in memory only."""
    faults: Faults = field(default_factory=Faults)
    """Initial fault injection (also what /admin/reset returns to); see faults.parse_fault_flags."""
    hooks: tuple[HookTarget, ...] = ()
    """Server-side event hooks posted to from the start (also what /admin/reset returns to); see ``hooks``."""
    large_files: LargeFileSettings = field(default_factory=LargeFileSettings)
    """Large File Upload (``/v2/multipart``): enabled, min/max file size, part size, session lifetime."""
    public_url: str | None = None
    """Scheme and host users reach the server at (``https://ecm.example.com``), for the links of
    ``copylink``; None = the scheme and host each request came to."""

    def __post_init__(self) -> None:
        self.hooks = tuple(self.hooks)
        stripped = self.base_path.strip("/")
        self.base_path = f"/{stripped}" if stripped else ""
        if self.base_path in ("/admin", "/otdsws"):
            raise ValueError(f"base_path must not be {self.base_path}: the emulator serves another API there")
        if self.db_path is not None:
            self.db_path = Path(self.db_path)
            if self.content_dir is None:
                self.content_dir = self.db_path.with_name(f"{self.db_path.stem}-content")
        if self.content_dir is not None:
            self.content_dir = Path(self.content_dir)
        if self.public_url is not None:
            self.public_url = self.public_url.rstrip("/")
