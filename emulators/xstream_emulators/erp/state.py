"""Everything the ERP emulator remembers, pure (no aiohttp): records (approvals among them), SAP
attachments and Salesforce files (bodies on disk), change log, Idempotency-Keys, issued tokens, CSRF
tokens, call counts and faults."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from xstream_emulators.erp.approvals import ApprovalStore
from xstream_emulators.erp.attachments import AttachmentStore
from xstream_emulators.erp.auth import Authenticator
from xstream_emulators.erp.config import ErpEmulatorConfig
from xstream_emulators.erp.content import ContentStore
from xstream_emulators.erp.csrf import CsrfTokens
from xstream_emulators.erp.faults import Faults
from xstream_emulators.erp.files import FileStore
from xstream_emulators.erp.idempotency import IdempotencyStore
from xstream_emulators.erp.model import APPROVALS
from xstream_emulators.erp.records import ChangeLog, RecordStore

SEED_USER = "erp-user"
"""``last_changed_by`` of records made by the ERP's own users (seed, /admin/records, approval decisions)."""


class ErpState:
    def __init__(self, config: ErpEmulatorConfig | None = None, *, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.config = config or ErpEmulatorConfig()
        self.clock = clock
        self.wall = wall
        self.auth = Authenticator(self.config, clock)
        self.content = ContentStore(self.config.content_dir)
        """Attachment bodies (SAP attachments, Salesforce files), streamed to and from disk."""
        self.csrf = CsrfTokens()
        self.hold_work: Callable[[str], Awaitable[None]] | None = None
        """Test hook, None in normal use: awaited (with the operation's name) by every API call as it
        does its work, after its Idempotency-Key was claimed and before the configured latency, so a
        test can keep a call in flight for as long as it wants (e.g. to send a second request with the
        same key meanwhile) instead of guessing with a latency and a sleep. Kept across :meth:`reset`."""
        self.reset()

    def reset(self) -> None:
        """Back to the seed: seeded records only (no approvals, attachments or files), a fresh change log,
        no keys, tokens or call counts, the initial faults."""
        self.changes = ChangeLog(self.wall)
        self.records = RecordStore(self.config.entities, self.changes, self.wall, managed=(APPROVALS,))
        self.approvals = ApprovalStore(self.records, self.config.entities)
        self.attachments = AttachmentStore(self.changes, self.records, self.config.sap_business_objects or {},
                                           self.wall)
        self.files = FileStore(self.changes, self.records, self.wall)
        self.content.clear()
        self.csrf.expire()
        self.keys = IdempotencyStore(self.config.idempotency_ttl_s, self.clock)
        self.auth.expire_tokens()
        self.calls: Counter[str] = Counter()
        self.faults: Faults = self.config.faults
        self.rng = random.Random(0)  # noqa: S311 - fault injection, not security
        self.injected_faults = 0
        self.lost_answers = 0
        """Calls whose effect was committed and whose answer was then lost (fault ``lost_answer_rate``)."""
        for entity, rows in self.config.seed.items():
            for row in rows:
                self.records.create(entity, row, changed_by=SEED_USER, op="r")
        self.records.state_changing = 0

    @property
    def state_changing(self) -> int:
        return self.records.state_changing + self.attachments.state_changing + self.files.state_changing

    def calls_view(self) -> dict[str, int]:
        return dict(sorted(self.calls.items())) | {"state_changing": self.state_changing}

    def snapshot(self) -> dict[str, Any]:
        return {
            "records": {entity: [rows[k] for k in sorted(rows)] for entity, rows in self.records.records.items()},
            "counts": {entity: len(rows) for entity, rows in self.records.records.items()}
            | {"attachments": len(self.attachments.attachments), "content_versions": len(self.files.versions)},
            "attachments": [a.row() | {"stored_sha256": a.latest.blob.sha256 if a.latest.blob else None}
                            for a in self.attachments.attachments.values()],
            "content_versions": [v.row() | {"stored_sha256": v.blob.sha256 if v.blob else None}
                                 for v in self.files.versions.values()],
            "last_lsn": self.changes.last_lsn,
            "changes": len(self.changes.changes),
            "idempotency_keys": len(self.keys),
            "state_changing": self.state_changing,
        }
