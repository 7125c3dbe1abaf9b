"""Settings of one emulated ERP/CRM; separate so state, app and server can share them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from xstream_emulators.erp.faults import Faults
from xstream_emulators.erp.model import APPROVALS, ENTITIES

AuthKind = Literal["none", "bearer", "basic", "oauth2"]
TOKEN_PATH = "/oauth/token"
"""Where the OAuth2 client-credentials token endpoint is served (outside base_path)."""


@dataclass
class ErpEmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    """0 picks a free port; RunningErpEmulator.url tells which."""
    base_path: str = "/api"
    """Records are served at {base_path}/{entity}[/{id}]."""
    auth: AuthKind = "none"
    bearer_token: str = "erp-token"
    """auth=bearer: the one accepted static token."""
    username: str = "xstream"
    password: str = "erp-secret"
    """auth=basic: the accepted user and password."""
    client_id: str = "xstream"
    client_secret: str = "erp-secret"
    """auth=oauth2: the client of the client-credentials grant at POST /oauth/token."""
    token_lifetime_s: float = 3600.0
    """``expires_in`` of issued OAuth2 tokens; an expired token is 401 like a bad one."""
    idempotency_ttl_s: float = 24 * 3600.0
    """How long an Idempotency-Key is remembered (the published expiry policy)."""
    require_idempotency_key: bool = False
    """True: POST/PATCH without an Idempotency-Key are refused with 400 (the draft allows it)."""
    entities: tuple[str, ...] = ENTITIES
    """The generic record collections; approvals are always there besides them (their own API)."""
    seed: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Records present at start (and after /admin/reset), per entity; they appear in the change log
    as snapshot reads (op "r"), as Debezium would emit rows that existed before it started."""
    faults: Faults = field(default_factory=Faults)
    """Initial fault injection (also what /admin/reset returns to); see faults.parse_fault_flags."""

    def __post_init__(self) -> None:
        stripped = self.base_path.strip("/")
        self.base_path = f"/{stripped}" if stripped else ""
        if self.base_path in ("", "/admin", "/oauth"):
            raise ValueError(f"base_path must not be {self.base_path!r}: the emulator serves another API there")
        self.entities = tuple(self.entities)
        if APPROVALS in self.entities:
            raise ValueError(f"entities must not include {APPROVALS!r}: approvals are served by their own API")
        unknown = set(self.seed) - set(self.entities)
        if unknown:
            raise ValueError(f"seed names unknown entities: {sorted(unknown)}")
