"""A deterministic set of ERP customer CDC records, with what xstream must make of them.

Used by ``xstream demo``, the integration tests and the benchmark, so all three check the same
promise: every customer gets exactly one workspace, replays and updates change nothing, a tombstone
is counted, malformed records are dead-lettered and do not stop the flow.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import orjson

from xstream.model.commands import EnsureWorkspace, UpdateWorkspace
from xstream.model.record import RecordRef
from xstream.pipeline import Reject, Skip, process_cdc
from xstream.transform.rule_files import SAMPLE_RULES, load_rule_files
from xstream.transform.rules import RuleSet

TOPIC = "erp.cdc.customers"
EXT_SYSTEM_ID = "SAP_PRD"
BO_TYPE = "KNA1"
_REGIONS = ["EMEA", "AMER", "APAC"]
_OWNERS = ["a.schmidt", "j.doe", "m.rossi", "k.tanaka"]
_NAMES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne"]


@dataclass(frozen=True)
class CdcRecord:
    key: bytes | None
    value: bytes | None
    label: str


@dataclass
class Scenario:
    records: list[CdcRecord] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    """bo_id -> the row as it was created."""
    final: dict[str, dict[str, Any]] = field(default_factory=dict)
    """bo_id -> the row after every update and delete (a deleted customer has status "deleted")."""
    expected_applied: int = 0
    expected_already_applied: int = 0
    expected_dead_letters: int = 0
    expected_tombstones: int = 0
    expected_link_backs: int = 0
    """Downstream update_record commands (workspace links written back to the ERP records)."""

    @property
    def expected_commands(self) -> int:
        return self.expected_applied + self.expected_already_applied

    def expect(self, rules: RuleSet) -> Scenario:
        """Work out the promised outcomes with the pure pipeline, as the sink will apply them."""
        exists: set[str] = set()
        self.expected_applied = self.expected_already_applied = self.expected_dead_letters = 0
        self.expected_tombstones = self.expected_link_backs = 0
        for offset, record in enumerate(self.records):
            outcome = process_cdc(record.key, record.value, RecordRef(topic=TOPIC, partition=0, offset=offset),
                                  rules, max_bytes=1_048_576)
            if isinstance(outcome, Reject):
                self.expected_dead_letters += 1
            elif isinstance(outcome, Skip):
                self.expected_tombstones += outcome.tombstone is not None
            else:
                self._count(outcome.command, exists)
        return self

    def _count(self, command: EnsureWorkspace | UpdateWorkspace, exists: set[str]) -> None:
        bo_id = command.business_object.bo_id
        is_delete = isinstance(command, UpdateWorkspace) and not command.create_if_absent
        created = bo_id not in exists and not is_delete
        if created:
            exists.add(bo_id)
        fresh = created or (bo_id in exists and isinstance(command, UpdateWorkspace) and bool(command.changed))
        self.expected_applied += fresh
        self.expected_already_applied += not fresh
        self.expected_link_backs += created  # only a new workspace's link goes back


def _customer(i: int, rnd: random.Random) -> dict[str, Any]:
    return {
        "customer_id": f"{100000 + i:010d}",
        "name": f"{_NAMES[i % len(_NAMES)]} {i:03d}",
        "owner": rnd.choice(_OWNERS),
        "region": rnd.choice(_REGIONS),
        "status": "active",
    }


def _envelope(op: str, before: dict[str, Any] | None, after: dict[str, Any] | None, lsn: int,
              *, wrapped: bool, snapshot: bool = False) -> bytes:
    payload = {
        "before": before, "after": after, "op": op, "ts_ms": 1_764_000_000_000 + lsn,
        "source": {"version": "2.7.0.Final", "connector": "postgresql", "name": "erp", "db": "erp",
                   "schema": "public", "table": "customers", "snapshot": "true" if snapshot else "false",
                   "lsn": lsn, "txId": 5000 + lsn},
    }
    doc = {"schema": {"type": "struct", "optional": False, "name": "erp.public.customers.Envelope"},
           "payload": payload} if wrapped else payload
    return orjson.dumps(doc)


def _key(customer_id: str) -> bytes:
    return orjson.dumps({"customer_id": customer_id})


def build(customers: int = 50, snapshot_reads: int = 10, updates: int = 25, replays: int = 15,
          seed: int = 7, rules: RuleSet | None = None) -> Scenario:
    """About 100 records by default: creates, snapshot reads, updates, replays, a delete+tombstone, 2 bad."""
    rnd = random.Random(seed)  # noqa: S311 - demo data, not security
    sc = Scenario()
    lsn = 1000
    created: list[CdcRecord] = []
    for i in range(customers):
        row = _customer(i, rnd)
        sc.customers[row["customer_id"]] = row
        lsn += 8
        is_snapshot = i < snapshot_reads
        record = CdcRecord(_key(row["customer_id"]),
                           _envelope("r" if is_snapshot else "c", None, row, lsn, wrapped=i % 2 == 0,
                                     snapshot=is_snapshot),
                           "snapshot read" if is_snapshot else "create")
        sc.records.append(record)
        created.append(record)
    ids = list(sc.customers)
    for n in range(updates):
        before = sc.customers[ids[n % len(ids)]]
        after = {**before, "status": rnd.choice(["active", "on_hold", "blocked"]), "owner": rnd.choice(_OWNERS)}
        lsn += 8
        sc.records.append(CdcRecord(_key(after["customer_id"]), _envelope("u", before, after, lsn, wrapped=n % 2 == 1),
                                    "update"))
    sc.records.extend(CdcRecord(r.key, r.value, "replay") for r in rnd.sample(created, replays))
    sc.final = {bo_id: dict(row) for bo_id, row in sc.customers.items()}
    for record in sc.records:
        if record.label == "update" and record.value:
            after = orjson.loads(record.value)
            after = after.get("payload", after)["after"]
            sc.final[after["customer_id"]] = after
    gone = sc.customers[ids[-1]]
    sc.final[gone["customer_id"]] = {**sc.final[gone["customer_id"]], "status": "deleted"}
    lsn += 8
    sc.records.append(CdcRecord(_key(gone["customer_id"]), _envelope("d", gone, None, lsn, wrapped=False), "delete"))
    sc.records.append(CdcRecord(_key(gone["customer_id"]), None, "tombstone"))
    sc.records.append(CdcRecord(b'{"customer_id": "x"}', b'{"op": "c", "after": {"customer_id": ', "malformed JSON"))
    sc.records.append(CdcRecord(_key("0000999999"), orjson.dumps({"op": "z", "after": {"customer_id": "0000999999"}}),
                                "unknown op"))
    return sc.expect(rules or load_rule_files([SAMPLE_RULES]))
