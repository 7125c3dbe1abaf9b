"""Settings of one emulated ERP/CRM; separate so state, app and server can share them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from xstream_emulators.erp.faults import Faults
from xstream_emulators.erp.model import APPROVALS, ENTITIES

AuthKind = Literal["none", "bearer", "basic", "oauth2"]
TOKEN_PATH = "/oauth/token"
"""Where the OAuth2 client-credentials token endpoint is served (outside base_path)."""
SAP_ATTACHMENT_SERVICE = "/sap/opu/odata/sap/API_CV_ATTACHMENT_SRV"
"""Where the SAP S/4 attachment service (OData v2) is served, as on a real Gateway (outside base_path)."""
SALESFORCE_BASE = "/services/data/v60.0"
"""Where the Salesforce Files REST API (ContentVersion) is served (outside base_path)."""
RESERVED_PREFIXES = ("/admin", "/oauth", "/sap", "/services")

SAP_BUSINESS_OBJECTS: Mapping[str, str | None] = {
    "BUS2012": None,  # purchase order
    "BUS2105": None,  # purchase requisition
    "BUS2032": None,  # sales order
    "BUS2031": None,  # customer quotation
    "BUS2034": None,  # customer contract
    "BUS2081": None,  # supplier invoice
    "KNA1": "customers",
    "LFA1": "suppliers",
}
"""Business object types the attachment service accepts, each with the entity whose records are its
instances (a ``LinkedSAPObjectKey`` must then be a record id) or None (any key: objects the emulator
does not keep, such as purchase orders)."""


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
    content_dir: Path | None = None
    """Where attachment bodies are stored (SAP attachments, Salesforce files); None: a temporary directory."""
    sap_business_objects: Mapping[str, str | None] | None = None
    """The business object types of the attachment service; None: :data:`SAP_BUSINESS_OBJECTS` (those
    backed by an entity only when ``entities`` has it)."""

    def __post_init__(self) -> None:
        stripped = self.base_path.strip("/")
        self.base_path = f"/{stripped}" if stripped else ""
        if self.base_path == "" or self.base_path.split("/", 2)[1] in {p.strip("/") for p in RESERVED_PREFIXES}:
            raise ValueError(f"base_path must not be {self.base_path!r}: the emulator serves another API there")
        self.entities = tuple(self.entities)
        if APPROVALS in self.entities:
            raise ValueError(f"entities must not include {APPROVALS!r}: approvals are served by their own API")
        unknown = set(self.seed) - set(self.entities)
        if unknown:
            raise ValueError(f"seed names unknown entities: {sorted(unknown)}")
        if self.sap_business_objects is None:
            self.sap_business_objects = {bo: e for bo, e in SAP_BUSINESS_OBJECTS.items()
                                         if e is None or e in self.entities}
        backed = {e for e in self.sap_business_objects.values() if e is not None} - set(self.entities)
        if backed:
            raise ValueError(f"sap_business_objects names unknown entities: {sorted(backed)}")
        if self.content_dir is not None:
            self.content_dir = Path(self.content_dir)
