"""What the pure modules of the ERP emulator share: the API error, the default entities and the approvals table."""

from __future__ import annotations

from typing import Any

ENTITIES: tuple[str, ...] = ("customers", "suppliers", "projects", "accounts", "contracts",
                              "cases", "payments", "policies")
"""The collections of the emulated ERP/CRM (each a table in the CDC change log). The emulator also plays
the claims system and the policy administration for flow F5: ``cases`` (id the case number, e.g.
"CLM-2026-00042"), ``payments`` (ERP) and ``policies`` (CRM, id the policy number); like every record
their id is the ``id`` field, given in the create or generated ("CAS-000001", "PAY-...", "POL-...")."""

APPROVALS = "approvals"
"""The table approvals are kept in: a collection of the record store and the change log like the
others, but created and decided only through the approvals API, never through the generic records
routes (which would bypass its validation)."""

READ_ONLY_FIELDS = frozenset({"id", "version", "created_at", "updated_at", "last_changed_by", "last_causation"})
"""Fields the system maintains; a create or update that sets them is refused with 422."""


class ApiError(Exception):
    """A failed API call: rendered as ``{"error": {"code": ..., "message": ...}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}
