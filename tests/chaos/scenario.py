"""The crash suite's scenario, deterministic from a seed, and what xstream must make of it.

Flow F1 + F4: ERP customers as Debezium records on ``erp.cdc.customers``, interleaved across customers
(per customer in order): creates and snapshot reads, several updates per customer changing mapped
attributes (owner, region, status), updates of unmapped fields only (no command), replays of
already-sent records (the same bytes again, later), deletes with their tombstone, one-time (CPD)
customers that never get a workspace, customers that leave the one-time group (their workspace is
created by an update), and a few malformed records (dead letters). Every customer also exists as a
record in the ERP emulator so its workspace link can be written back.

The expectation is computed with the pure pipeline (``xstream.pipeline.process_cdc``, i.e. the
shipped mapping rules): each record -> command or skip or reject, then a model of the OpenText sink's
promise (a workspace is created once; an update applies only the changed attributes; an event whose
source position is not newer than the newest one applied to that business object changes nothing).
The result is cross-checked against the mapping of each customer's *last* row
(``workspace_mapping.mapped_values``): if the two disagree, the scenario builder is wrong and says so.

Flows F3 + F6: supplier contracts in OpenText whose status changes (or whose Contract Approval
workflow completes or stops). The expected approvals, record updates and notifications come from the
shipped status rules run through the pure status engine (``status_engine.evaluate``) over the same
sequence of observations the worker will see (the poller's snapshot first, then each change).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from xstream.demo.scenario import CdcRecord, _envelope
from xstream.model.business import BusinessObject
from xstream.model.commands import EnsureWorkspace, Notify, StartApproval, UpdateRecord, UpdateWorkspace
from xstream.model.documents import LockVersion
from xstream.model.opentext import (
    DocumentState,
    EventKind,
    EventWorkspace,
    Ingress,
    OpenTextEvent,
    WorkflowOutcome,
    observation_id,
)
from xstream.model.record import RecordRef
from xstream.pipeline import Emit, Reject, Skip, process_cdc
from xstream.transform.rule_files import SAMPLE_RULES, load_rule_files
from xstream.transform.rules import RuleSet
from xstream.transform.status_engine import DocumentMemory, evaluate
from xstream.transform.status_rules import StatusRuleSet
from xstream.transform.workspace_mapping import mapped_values

TOPIC = "erp.cdc.customers"
EXT_SYSTEM_ID, CUSTOMER_BO_TYPE, SUPPLIER_BO_TYPE = "SAP_PRD", "KNA1", "LFA1"
MAX_BYTES = 1_048_576
_REGIONS = ["EMEA", "AMER", "APAC"]
_OWNERS = ["a.schmidt", "j.doe", "m.rossi", "k.tanaka", "l.martin"]
_STATUSES = ["active", "on_hold", "blocked"]
_NAMES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne"]
ONE_TIME = "CPD"


def customer_bo(bo_id: str) -> str:
    return f"{EXT_SYSTEM_ID}/{CUSTOMER_BO_TYPE}/{bo_id}"


# ---------------------------------------------------------------------------------------------- F1


@dataclass
class CustomerScenario:
    records: list[CdcRecord] = field(default_factory=list)
    erp_rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    """bo_id -> the customer record as the ERP holds it (seeded before the run)."""
    expected_categories: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """bo_id -> category -> attribute -> value, for every customer that must have exactly one workspace."""
    without_workspace: set[str] = field(default_factory=set)
    """Customers that must have no workspace (one-time customers)."""
    command_keys: dict[str, str] = field(default_factory=dict)
    """Idempotency key of every workspace command the records make -> its business object key."""
    command_what: dict[str, str] = field(default_factory=dict)
    """Idempotency key -> "<kind> <bo_id> <source position>", for the report."""
    dead_letters: Counter[str] = field(default_factory=Counter)
    """Reason -> count of the records that must be dead-lettered."""
    labels: Counter[str] = field(default_factory=Counter)
    tombstones: int = 0
    skipped: int = 0

    @property
    def linked(self) -> set[str]:
        """Customers whose ERP record must receive their workspace's link (exactly once)."""
        return set(self.expected_categories)


def _key(customer_id: str) -> bytes:
    return orjson.dumps({"customer_id": customer_id})


def build_customers(events: int, seed: int, rules: RuleSet | None = None) -> CustomerScenario:
    """About ``events`` CDC records (the exact number is ``len(records)``)."""
    rules = rules or load_rule_files([SAMPLE_RULES])
    rnd = random.Random(f"customers-{seed}")  # noqa: S311 - test data
    n = max(12, round(events / 4.95))
    sc = CustomerScenario()
    lives: list[list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]] = []
    for i in range(n):
        customer_id = f"{200000 + i:010d}"
        kind = rnd.random()
        one_time = kind < 0.03
        leaves_one_time = 0.03 <= kind < 0.05
        deleted = 0.05 <= kind < 0.08
        row = {"customer_id": customer_id, "name": f"{_NAMES[i % len(_NAMES)]} {i:05d}",
               "owner": rnd.choice(_OWNERS), "region": rnd.choice(_REGIONS), "status": "active",
               "account_group": ONE_TIME if one_time or leaves_one_time else "0001", "phone": f"+49 30 {i:06d}"}
        sc.erp_rows[customer_id] = dict(row)
        life: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]] = [
            ("r" if rnd.random() < 0.12 else "c", None, row)]
        current = row
        for u in range(rnd.randint(1, 6)):
            after = dict(current)
            if leaves_one_time and u == 0:
                after["account_group"] = "0001"
            elif rnd.random() < 0.06:
                after["phone"] = f"+49 30 {rnd.randrange(10**6):06d}"  # no mapped attribute: no command
            else:
                for attr in rnd.sample(["owner", "region", "status"], rnd.randint(1, 3)):
                    choices = {"owner": _OWNERS, "region": _REGIONS, "status": _STATUSES}[attr]
                    after[attr] = rnd.choice([c for c in choices if c != current[attr]])
            life.append(("u", current, after))
            current = after
        if deleted:
            life.append(("d", current, None))
        lives.append(life)

    # Interleave the customers' lives (each customer's own order kept), assigning increasing LSNs.
    lsn = 10_000
    cursors = [0] * n
    live = [i for i in range(n)]
    main: list[CdcRecord] = []
    while live:
        i = rnd.choice(live)
        op, before, after = lives[i][cursors[i]]
        cursors[i] += 1
        if cursors[i] == len(lives[i]):
            live.remove(i)
        lsn += 8
        customer_id = (after or before or {})["customer_id"]
        value = _envelope(op, before, after, lsn, wrapped=rnd.random() < 0.5, snapshot=op == "r")
        label = {"c": "create", "r": "snapshot read", "u": "update", "d": "delete"}[op]
        main.append(CdcRecord(_key(customer_id), value, label))
        if op == "d":
            main.append(CdcRecord(_key(customer_id), None, "tombstone"))
    # Replays: already-sent records sent again, later (a connector restarting from an older offset).
    later: dict[int, list[CdcRecord]] = {}
    for original_index in rnd.sample(range(len(main)), max(1, len(main) * 8 // 100)):
        original = main[original_index]
        if original.value is not None:
            at = rnd.randint(original_index, len(main) - 1)  # sent again after main[at]
            later.setdefault(at, []).append(CdcRecord(original.key, original.value, "replay"))
    records = []
    for index, record in enumerate(main):
        records.append(record)
        records.extend(later.get(index, []))
    bad = [CdcRecord(b'{"customer_id": "x"}', b'{"op": "c", "after": {"customer_id": ', "malformed JSON"),
           CdcRecord(_key("0000999999"), orjson.dumps({"op": "z", "after": {"customer_id": "0000999999"}}),
                     "unknown op"),
           CdcRecord(_key("0000999998"), orjson.dumps({"op": "c", "after": {"name": "no id"},
                                                       "source": {"table": "customers"}}), "no business object id")]
    for record in bad:
        records.insert(rnd.randint(len(records) // 4, len(records)), record)
    sc.records = records
    sc.labels = Counter(r.label for r in records)
    _expect(sc, rules, lives)
    return sc


def _expect(sc: CustomerScenario, rules: RuleSet, lives: list[list[Any]]) -> None:
    """Run the pure pipeline over the records and model what the OpenText sink promises."""
    workspaces: dict[str, dict[str, dict[str, Any]]] = {}
    newest: dict[str, int] = {}
    for offset, record in enumerate(sc.records):
        outcome = process_cdc(record.key, record.value, RecordRef(topic=TOPIC, partition=0, offset=offset), rules,
                              max_bytes=MAX_BYTES)
        if isinstance(outcome, Reject):
            sc.dead_letters[outcome.reason.value] += 1
            continue
        if isinstance(outcome, Skip):
            sc.tombstones += outcome.tombstone is not None
            sc.skipped += outcome.tombstone is None
            continue
        assert isinstance(outcome, Emit)
        command = outcome.command
        bo_id = command.business_object.bo_id
        sc.command_keys[command.idempotency_key] = command.business_object.kafka_key
        sc.command_what[command.idempotency_key] = f"{command.kind} {bo_id} {command.causation.source_position}"
        position = int(command.causation.source_position.removeprefix("lsn:"))
        if position <= newest.get(bo_id, -1):
            continue  # a replay or an older change: already applied, nothing changes
        newest[bo_id] = position
        if isinstance(command, EnsureWorkspace):
            workspaces.setdefault(bo_id, _copy(command.create_categories))
        elif isinstance(command, UpdateWorkspace):
            if bo_id in workspaces:
                for category, values in command.changed.items():
                    for attribute, value in values.items():
                        if value is None:
                            workspaces[bo_id].get(category, {}).pop(attribute, None)
                        else:
                            workspaces[bo_id].setdefault(category, {})[attribute] = value
            elif command.create_if_absent:
                workspaces[bo_id] = _copy(command.create_categories)
    sc.expected_categories = workspaces
    sc.without_workspace = set(sc.erp_rows) - set(workspaces)
    # Cross-check: each workspace holds what the customer's *last* row maps to.
    rule = rules.match(TOPIC, "customers")
    assert rule is not None
    for life in lives:
        op, before, after = life[-1]
        last = after if after is not None else before
        bo_id = last["customer_id"]
        if last["account_group"] == ONE_TIME:
            assert bo_id not in workspaces, f"scenario model: one-time customer {bo_id} got a workspace"
            continue
        want = {c: {a: v for a, v in attrs.items() if v is not None} for c, attrs in mapped_values(rule, last).items()}
        if op == "d":
            for category, values in (rule.delete_action or {}).items():
                want.setdefault(category, {}).update(values)
        assert workspaces.get(bo_id) == want, f"scenario model disagrees with the last row of {bo_id}: " \
                                              f"{workspaces.get(bo_id)} != {want}"


def _copy(values: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c: dict(attrs) for c, attrs in values.items()}


# ---------------------------------------------------------------------------------------------- F3/F6

PATHS: dict[str, list[tuple[str, str]]] = {
    "signed": [("status", "Legal Review Done"), ("status", "Signed")],
    "rejected": [("status", "Rejected")],
    "review_rejected": [("status", "Legal Review Done"), ("status", "Rejected")],
    "workflow_completed": [("workflow", "complete")],
    "workflow_stopped": [("workflow", "stop")],
    "back_to_draft": [("status", "Draft")],
}
"""A contract's life after it was filed "In Legal Review": status changes, or its Contract Approval
workflow completing or being stopped (through the admin API, as a workflow step would)."""
INITIAL_STATUS = "In Legal Review"
WORKFLOW_NAME = "Contract Approval"


@dataclass
class Step:
    document: int
    """Index into ContractScenario.documents."""
    kind: str
    value: str


@dataclass
class Contract:
    supplier_id: str
    supplier_name: str
    document_name: str
    path: str
    steps: list[Step] = field(default_factory=list)
    node_id: int = 0
    workspace_id: int = 0
    process_id: int | None = None
    performed: int | None = None
    """Steps made by the run's driver (None: all, as planned)."""

    @property
    def steps_made(self) -> list[Step]:
        return self.steps if self.performed is None else self.steps[:self.performed]


@dataclass
class ExpectedEffects:
    approvals: Counter[tuple[int, str]] = field(default_factory=Counter)
    """(document node id, process) -> approvals expected (1)."""
    messages: Counter[tuple[int, str]] = field(default_factory=Counter)
    """(document node id, channel) -> chat messages expected (1)."""
    record_updates: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """(entity, record id) -> the fields the last update_record command sets."""
    updates_per_record: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(entity, record id) -> update_record commands expected."""
    locks: dict[tuple[int, int], str | None] = field(default_factory=dict)
    """(document node id, version) -> locked (lock_version), and the name of its link on the source record."""
    commands: int = 0


@dataclass
class ContractScenario:
    documents: list[Contract] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    """Every step of every document, in the order the driver performs them."""

    def expect(self, rules: StatusRuleSet, document_url: str, workspace_url: str) -> ExpectedEffects:
        """Feed the status engine what the worker will observe; ``*_url`` with ``{id}`` as the node id."""
        expected = ExpectedEffects()
        clock = datetime(2026, 1, 1, tzinfo=UTC)
        for doc in self.documents:
            workspace = EventWorkspace(node_id=doc.workspace_id, name=f"{doc.supplier_name} ({doc.supplier_id})",
                                       type_name="Supplier", url=workspace_url.format(id=doc.workspace_id),
                                       business_object=BusinessObject(ext_system_id=EXT_SYSTEM_ID,
                                                                      bo_type=SUPPLIER_BO_TYPE, bo_id=doc.supplier_id))
            status = INITIAL_STATUS
            memory: DocumentMemory | None = None
            observations: list[tuple[EventKind, bool, str, str | None]] = [
                (EventKind.DOCUMENT_ADDED, True, status, None)]
            for step in doc.steps_made:
                if step.kind == "status":
                    status = step.value
                    observations.append((EventKind.ATTRIBUTES_CHANGED, False, status, None))
                else:
                    observations.append((EventKind.WORKFLOW_FINISHED, False, status,
                                         "completed" if step.value == "complete" else "stopped"))
            for kind, snapshot, state, outcome in observations:
                clock += timedelta(seconds=5)
                document = DocumentState(node_id=doc.node_id, name=doc.document_name, parent_id=doc.workspace_id,
                                         url=document_url.format(id=doc.node_id), version=1,
                                         modify_date=clock.strftime("%Y-%m-%dT%H:%M:%S"),
                                         attributes={"Document": {"Document Type": "Contract", "Status": state}})
                workflow = None if outcome is None else WorkflowOutcome(process_id=doc.process_id or 1,
                                                                        name=WORKFLOW_NAME, status=outcome)
                event = OpenTextEvent(event_id=observation_id(document, workflow), kind=kind, ingress=Ingress.POLLER,
                                      snapshot=snapshot, document=document, workspace=workspace, workflow=workflow,
                                      observed_at=clock)
                evaluation = evaluate(rules, event, memory, RecordRef(topic="opentext.events", partition=0, offset=0))
                if evaluation.memory is not None:
                    memory = evaluation.memory
                assert not evaluation.problems, evaluation.problems
                for command in evaluation.commands:
                    expected.commands += 1
                    if isinstance(command, StartApproval):
                        expected.approvals[(doc.node_id, command.process)] += 1
                    elif isinstance(command, Notify):
                        expected.messages[(doc.node_id, command.channel.casefold())] += 1
                    elif isinstance(command, LockVersion):
                        link = command.link_to
                        expected.locks[(doc.node_id, command.version)] = link.name if link is not None else None
                    elif isinstance(command, UpdateRecord):
                        record = (command.entity, command.record_id)
                        expected.updates_per_record[record] += 1
                        expected.record_updates[record] = expected.record_updates.get(record, {}) | command.fields
        return expected


def build_contracts(count: int, seed: int) -> ContractScenario:
    rnd = random.Random(f"contracts-{seed}")  # noqa: S311 - test data
    sc = ContractScenario()
    kinds = list(PATHS)
    for i in range(count):
        supplier_id = f"{300000 + i:010d}"
        path = kinds[i % len(kinds)]
        doc = Contract(supplier_id, f"Supplier {i:03d}", f"Supply Agreement S{i:04d}.pdf", path)
        doc.steps = [Step(i, kind, value) for kind, value in PATHS[path]]
        sc.documents.append(doc)
    # Interleave the documents' steps (each document's own order kept).
    queues = [list(d.steps) for d in sc.documents]
    while any(queues):
        queue = rnd.choice([q for q in queues if q])
        sc.steps.append(queue.pop(0))
    return sc


# ---------------------------------------------------------------------------------------------- F2

@dataclass
class AttachmentPlan:
    """Documents an ERP user attaches to a supplier while the flow runs: each body one notice (a new
    attachment, then new versions); a body equal to the one before is sent again on purpose (it must
    add no version)."""

    supplier_id: str
    file_name: str
    document_type: str
    folder: str
    bodies: list[bytes]
    attachment_id: str | None = None
    year: str = ""
    posted: int = 0
    """Notices posted by the run's driver."""

    @property
    def expected_versions(self) -> list[bytes]:
        """The versions OpenText must hold for the notices posted: consecutive equal bodies count once."""
        out: list[bytes] = []
        for body in self.bodies[:self.posted]:
            if not out or out[-1] != body:
                out.append(body)
        return out


def build_attachments(contracts: ContractScenario, seed: int) -> list[AttachmentPlan]:
    """Per supplier with a contract: a purchase order (one version) and an invoice (a correction, then
    the same correction once more)."""
    rnd = random.Random(f"attachments-{seed}")  # noqa: S311 - test data
    plans = []
    for doc in contracts.documents:
        po = b"%PDF-1.7 purchase order " + rnd.randbytes(2048)
        invoice, corrected = b"%PDF-1.7 invoice " + rnd.randbytes(1024), b"%PDF-1.7 invoice v2 " + rnd.randbytes(1024)
        plans.append(AttachmentPlan(doc.supplier_id, f"PO-{doc.supplier_id}.pdf", "Purchase Order", "Purchase Orders",
                                    [po]))
        plans.append(AttachmentPlan(doc.supplier_id, f"INV-{doc.supplier_id}.pdf", "Invoice", "Invoices",
                                    [invoice, corrected, corrected]))
    return plans
