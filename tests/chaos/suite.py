"""The crash suite: real workers SIGKILLed at random moments while events flow, restarted, then every
effect counted from the emulators' state and the topics. Any loss or duplicate fails it.

One run (:func:`run_suite`), deterministic in what it sends and when it kills (by progress), from a seed:

1. **Set-up.** Topics with a fresh prefix; the OpenText, ERP and chat emulators in this process; the
   ERP customers and suppliers seeded as ERP records; in OpenText (as its users would, through the REST
   API) a Supplier workspace per supplier holding one contract "In Legal Review", and for the
   workflow paths a started Contract Approval workflow on it. W worker processes (``python -m xstream
   worker``, same app id, poller every second on Supplier workspaces, webhook on) are started and
   must be ready; the poller's first scan (a snapshot) must have reported every contract; then the
   OpenText emulator's server-side hook is pointed at every worker's webhook.
2. **Flow.** The CDC records are produced at a steady pace over ``stream_seconds`` (a live source,
   not one backlog), while a driver moves the contracts on (status changes through the REST API,
   workflows completed or stopped through the admin API), each step paced by progress and made only
   after the worker observed the contract's previous state (so every state the rules react to is
   seen: the expectation holds whatever the timing). Optionally the OpenText and ERP emulators inject
   faults (``--faults mix``) and lose answers after acting (``--lost-answers``).
3. **Kills.** K times, once the share of expected status keys seen passes the kill's threshold (evenly
   spread over 10..90 % with jitter), a random worker is SIGKILLed and a fresh process is started in
   its slot (same ports, same consumer groups). The next kill waits until that replacement is ready
   (at most 60 s), so each kill hits a running deployment.
4. **Settle.** Faults are switched off, then the suite waits on conditions, never on fixed sleeps:
   until every expected effect is there and nothing changed for ``confirm_s`` (late duplicates), or
   nothing changed at all for ``quiet_s`` while the CDC input is fully consumed (committed offsets of
   one of the deployment's consumer groups = records produced; or 3 x ``quiet_s`` without that), or
   the hard timeout. "Nothing changed" covers the status,
   dead-letter and OpenText-events topics, the OpenText emulator's mutating calls, and every call
   the ERP and chat emulators answered (replays included) with their effect counts. Breaker resets
   and request timeouts are set to 5 s so that no pause of a healthy worker is as long as ``quiet_s``.
5. **Count** (see :mod:`tests.chaos.count`) and report; then the suite checks itself
   (:mod:`tests.chaos.selfcheck`): known anomalies injected, counted again, each must show up.

Takeover time, per kill: from the kill until every partition of the status topic that still had
expected workspace commands without a status event at that moment has received a status event *of
the OpenText sink* produced after the kill (record timestamps, set by the worker's producer). The
OpenText sink's consumer group owns the partitions of the workspace command topic, whose keys and
partition count are the status topic's, so each such status partition stands for one partition of
that group. The surviving workers' partitions progress at once; the figure is the time the killed
worker's partitions took to be taken over (session timeout, rebalance, ledger read-back, first
batch). A kill after which such a partition never progresses has no takeover time ("none").
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner
from pydantic import HttpUrl

from tests.chaos.count import Counts, count_effects
from tests.chaos.scenario import (
    INITIAL_STATUS,
    WORKFLOW_NAME,
    AttachmentPlan,
    ContractScenario,
    CustomerScenario,
    ExpectedEffects,
    build_attachments,
    build_contracts,
    build_customers,
)
from tests.chaos.selfcheck import Check, self_check
from tests.chaos.stack import WEBHOOK_SECRET, AdminError, ChaosStack, Slot
from xstream.clients.opentext import BusinessObjectRef, OpenTextClient
from xstream.demo.harness import CdcForwarder, Collector, wait_ready
from xstream.demo.opentext_user import file_document, set_status, workspace_for
from xstream.settings import OpenTextSettings
from xstream.topics import Role
from xstream.transform.rule_files import STATUS_RULES_DIR, load_status_rule_files

T = TypeVar("T")


class SuiteError(RuntimeError):
    """The suite could not run as asked (not a finding about xstream)."""


@dataclass
class Options:
    events: int = 1000
    kills: int = 3
    workers: int = 2
    seed: int = 1
    faults: str | None = None
    """None or "mix"."""
    lost_answers: float = 0.0
    lost_answer_kind: str = "reset"
    contracts: int | None = None
    """Supplier contracts (flows F3/F6); default from ``events``."""
    stream_seconds: float | None = None
    """How long producing the CDC records takes; default max(20, events / 100)."""
    quiet_s: float = 20.0
    confirm_s: float = 8.0
    """Once everything expected is there, nothing may change for this long (late duplicates: longer than a
    request timeout plus a retry)."""
    settle_timeout_s: float = 300.0
    poller_interval_s: float = 1.0
    observe_s: float = 60.0
    """How long the contract driver waits for a contract's state to be observed before giving up on it."""
    log_dir: Path | None = None
    progress: Callable[[str], None] | None = None
    worker_source: Path | None = None
    """Run the workers from this source tree (e.g. ``git archive HEAD``) instead of the installed xstream."""
    self_check: bool = True
    """After counting, inject known anomalies and check the count sees each of them (tests.chaos.selfcheck)."""

    @property
    def contract_count(self) -> int:
        return self.contracts if self.contracts is not None else min(40, max(12, self.events // 200))

    @property
    def stream_duration(self) -> float:
        return self.stream_seconds if self.stream_seconds is not None else max(20.0, self.events / 100)


@dataclass
class Kill:
    number: int
    slot: int
    pid: int | None
    threshold: float
    progress: float
    at_wall: float
    at: float
    pending_partitions: list[int]
    stream_running: bool
    takeover_s: float | None = None
    ready_after_s: float | None = None


@dataclass
class Report:
    options: Options
    customers: CustomerScenario
    contracts: ContractScenario
    expected: ExpectedEffects
    counts: Counts | None = None
    kills: list[Kill] = field(default_factory=list)
    unexpected_exits: list[str] = field(default_factory=list)
    exits: int = 0
    """Workers that exited without being killed (each restarted in its slot)."""
    setup_s: float = 0.0
    stream_s: float = 0.0
    settle_s: float = 0.0
    wall_s: float = 0.0
    settled: str = ""
    faults_injected: dict[str, int] = field(default_factory=dict)
    driver_notes: list[str] = field(default_factory=list)
    log_dir: Path | None = None
    self_checks: list[Check] = field(default_factory=list)
    partition_check: tuple[int, int] = (0, 0)

    @property
    def suite_ok(self) -> bool:
        """The suite saw every anomaly it injected (its counts can be trusted)."""
        return all(c.ok for c in self.self_checks)

    @property
    def takeovers(self) -> list[float]:
        return [k.takeover_s for k in self.kills if k.takeover_s is not None]

    @property
    def ok(self) -> bool:
        return self.counts is not None and self.counts.ok and not self.exits

    def text(self) -> str:
        from tests.chaos.report import render

        return render(self)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# ------------------------------------------------------------------------------------------ tracking


class Tracker:
    """Incremental view of the collected topics (decoding each record once)."""

    def __init__(self, collector: Collector, stack: ChaosStack) -> None:
        self.collector = collector
        self.status_topic = stack.topic(Role.STATUS)
        self.dlq_topic = stack.topic(Role.DEAD_LETTER)
        self.events_topic = stack.topic(Role.OPENTEXT_EVENTS)
        self.status: list[dict[str, Any]] = []
        self.status_at: list[tuple[int, int, str]] = []
        """(partition, timestamp ms, target) of each status record, in arrival order."""
        self.status_keys: Counter[str] = Counter()
        self.dead_letters: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.observed: dict[int, list[dict[str, Any]]] = {}
        self._seen = Counter[str]()

    def update(self) -> None:
        for topic in (self.status_topic, self.dlq_topic, self.events_topic):
            records = self.collector.records[topic]
            for record in records[self._seen[topic]:]:
                value = orjson.loads(record.value) if record.value else {}
                if topic == self.status_topic:
                    self.status.append(value)
                    self.status_at.append((record.partition, record.timestamp, str(value.get("target"))))
                    self.status_keys[value.get("idempotency_key", "")] += 1
                elif topic == self.dlq_topic:
                    self.dead_letters.append(value)
                else:
                    self.events.append(value)
                    node = (value.get("document") or {}).get("node_id")
                    if node is not None:
                        self.observed.setdefault(int(node), []).append(value)
            self._seen[topic] = len(records)

    def saw_status(self, node_id: int, status: str) -> bool:
        self.update()
        return any(((e.get("document") or {}).get("attributes", {}).get("Document") or {}).get("Status") == status
                   and e.get("kind") != "workflow.finished" for e in self.observed.get(node_id, []))

    def saw_workflow(self, node_id: int, process_id: int) -> bool:
        self.update()
        return any(e.get("kind") == "workflow.finished" and (e.get("workflow") or {}).get("process_id") == process_id
                   for e in self.observed.get(node_id, []))

    def fingerprint(self) -> tuple[int, int, int]:
        self.update()
        return len(self.status), len(self.dead_letters), len(self.events)


# ------------------------------------------------------------------------------------------ helpers


async def retrying(what: str, call: Callable[[], Awaitable[T]], attempts: int = 40) -> T:
    """An OpenText user's action under injected faults: retried while the error is retriable. Safe: a
    fault before the call did nothing, and a lost answer of a status change is repeated as a no-op."""
    for attempt in range(attempts):
        try:
            return await call()
        except Exception as exc:  # noqa: BLE001 - decided by the retriable flag
            retriable = getattr(exc, "retriable", False) or isinstance(exc, aiohttp.ClientError | TimeoutError)
            if not retriable or attempt == attempts - 1:
                raise SuiteError(f"{what}: {type(exc).__name__}: {exc}") from exc
            await asyncio.sleep(min(2.0, 0.2 * (attempt + 1)))
    raise AssertionError("unreachable")


async def until(check: Callable[[], bool | Awaitable[bool]], timeout_s: float, poll_s: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(poll_s)


def worker_settings(options: Options) -> dict[str, str]:
    env = {
        "XSTREAM_POLLER__ENABLED": "true",
        "XSTREAM_POLLER__INTERVAL_S": str(options.poller_interval_s),
        "XSTREAM_POLLER__OVERLAP_S": "30",
        "XSTREAM_POLLER__WORKSPACE_TYPES": '["Supplier"]',
        "XSTREAM_OPENTEXT__REQUEST_TIMEOUT_S": "5",
        "XSTREAM_OPENTEXT__BREAKER__RESET_AFTER_S": "5",
        "XSTREAM_OBSERVABILITY__LOG_LEVEL": "INFO",
    }
    for target in ("ERP", "CRM", "PROJECT_TOOL", "CHAT"):
        env[f"XSTREAM_TARGETS__{target}__REQUEST_TIMEOUT_S"] = "5"
        env[f"XSTREAM_TARGETS__{target}__BREAKER__RESET_AFTER_S"] = "5"
    if options.faults or options.lost_answers:
        # budgets sized for a 25 % error rate: the suite is about losses and duplicates, not pauses
        env |= {"XSTREAM_RETRY__ATTEMPTS": "12", "XSTREAM_RETRY__BASE_DELAY_S": "0.05",
                "XSTREAM_OPENTEXT__BREAKER__FAILURE_THRESHOLD": "50"}
    return env


# ------------------------------------------------------------------------------------------ faults


class FaultMixer:
    """``--faults mix`` on the OpenText emulator and ``--lost-answers`` on OpenText and the ERP.

    The emulator takes one error kind at a time, so the mix is time-sliced: every 0.5 s the error kind
    moves on (JSON 500 -> HTML 500 -> 503 with Retry-After: 1), at an error rate of 25 % and a hang
    rate of 0.2 % throughout; every 10 s every ticket is expired once (the next call of each session is
    401 and logs in again). Each kind is thus about a third of the errors. ``lost_answer_rate`` (the
    server acts, then the answer is lost) is set on both emulators for the whole flow.
    """

    KINDS = ("500", "html500", "503")
    SLICE_S = 0.5

    def __init__(self, stack: ChaosStack, options: Options) -> None:
        self.stack = stack
        self.options = options
        self._task: asyncio.Task[None] | None = None
        self.slices = 0
        self.expiries = 0

    def _lost(self) -> dict[str, Any]:
        if not self.options.lost_answers:
            return {}
        return {"lost_answer_rate": self.options.lost_answers, "lost_answer_kind": self.options.lost_answer_kind}

    def _spec(self, index: int) -> dict[str, Any]:
        spec: dict[str, Any] = self._lost()
        if self.options.faults == "mix":
            kind = self.KINDS[index % len(self.KINDS)]
            spec |= {"error_rate": 0.25, "error_kind": kind, "retry_after_s": 1 if kind == "503" else None,
                     "hang_rate": 0.002}
            if index % 20 == 19:
                spec["expire_tickets"] = True
        return spec

    async def check(self) -> None:
        """Fail fast, with a clear message, when an emulator refuses a fault field."""
        for system in ("opentext", "erp") if self.options.lost_answers else ("opentext",):
            spec = self._lost() if system == "erp" else self._spec(0)
            if not spec:
                continue
            try:
                await self.stack.admin(system, "faults", "POST", spec)
            except AdminError as exc:
                if exc.status == 400 and self.options.lost_answers:
                    raise SuiteError(
                        f"--lost-answers: the {system} emulator refuses the lost-answer fault mode "
                        f"(POST /admin/faults {spec} -> HTTP 400: {exc.body}); this checkout's emulators do "
                        f"not support lost_answer_rate / lost_answer_kind yet") from exc
                raise SuiteError(f"the {system} emulator refuses the faults {spec}: {exc}") from exc
            await self.stack.admin(system, "faults", "POST", {})

    async def start(self) -> None:
        if self.options.lost_answers:
            await self.stack.admin("erp", "faults", "POST", self._lost())
        if self.options.faults == "mix":
            self._task = asyncio.create_task(self._rotate())
        elif self.options.lost_answers:
            await self.stack.admin("opentext", "faults", "POST", self._lost())

    async def _rotate(self) -> None:
        while True:
            spec = self._spec(self.slices)
            self.expiries += bool(spec.get("expire_tickets"))
            with contextlib.suppress(aiohttp.ClientError, AdminError, TimeoutError):
                await self.stack.admin("opentext", "faults", "POST", spec)
            self.slices += 1
            await asyncio.sleep(self.SLICE_S)

    async def stop(self) -> dict[str, int]:
        """Faults off; returns the faults each emulator injected."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        injected: dict[str, int] = {}
        for system in ("opentext", "erp"):
            with contextlib.suppress(aiohttp.ClientError, AdminError, TimeoutError):
                answer = await self.stack.admin(system, "faults", "POST", {})
                injected[system] = int(answer.get("injected", 0))
                if "lost_answers" in answer:
                    injected[f"{system} lost answers"] = int(answer["lost_answers"])
        if self.expiries:
            injected["opentext ticket expiries"] = self.expiries
        return injected


# ------------------------------------------------------------------------------------------ the run


class Run:
    def __init__(self, options: Options, stack: ChaosStack, customers: CustomerScenario,
                 contracts: ContractScenario) -> None:
        self.options = options
        self.stack = stack
        self.customers = customers
        self.contracts = contracts
        self.attachments: list[AttachmentPlan] = build_attachments(contracts, options.seed)
        self.rnd = random.Random(f"kills-{options.seed}")  # noqa: S311 - test schedule
        self.tracker: Tracker
        self.expected = ExpectedEffects()
        self.produced: Counter[int] = Counter()
        self.stream_done = asyncio.Event()
        self.driver_done = asyncio.Event()
        self.notes: list[str] = []
        self.unexpected_exits: list[str] = []
        self.exits = 0
        self._last_change: tuple[tuple[int, int, int], float] = ((0, 0, 0), time.monotonic())
        self.partitions = stack.catalog.one(Role.STATUS).partitions
        partitioner = DefaultPartitioner()
        all_partitions = list(range(self.partitions))
        self.key_partition = {key: partitioner(bo.encode(), all_partitions, all_partitions)
                              for key, bo in customers.command_keys.items()}

    def say(self, text: str) -> None:
        if self.options.progress:
            self.options.progress(text)

    # -- progress -----------------------------------------------------------------------------------

    @property
    def expected_total(self) -> int:
        return len(self.customers.command_keys) + len(self.customers.linked) + self.expected.commands

    def progress(self) -> float:
        self.tracker.update()
        return min(1.0, len(self.tracker.status_keys) / max(1, self.expected_total))

    def f1_progress(self) -> float:
        self.tracker.update()
        keys = self.tracker.status_keys
        return sum(1 for k in self.customers.command_keys if k in keys) / max(1, len(self.customers.command_keys))

    def stalled(self, seconds: float) -> bool:
        """Nothing new on the status, dead-letter and OpenText events topics for ``seconds``."""
        now, fingerprint = time.monotonic(), self.tracker.fingerprint()
        if fingerprint != self._last_change[0]:
            self._last_change = (fingerprint, now)
        return now - self._last_change[1] >= seconds

    def partition_check(self) -> tuple[int, int]:
        """(OpenText status events on the partition the key predicts, all of them): the takeover figures
        assume the status topic is partitioned by business object like the workspace command topic."""
        partitioner, partitions = DefaultPartitioner(), list(range(self.partitions))
        right = total = 0
        for (partition, _ts, target), status in zip(self.tracker.status_at, self.tracker.status, strict=True):
            if target == "opentext":
                bo = status.get("business_object") or {}
                key = f"{bo.get('ext_system_id')}/{bo.get('bo_type')}/{bo.get('bo_id')}".encode()
                total += 1
                right += partitioner(key, partitions, partitions) == partition
        return right, total

    def pending_partitions(self) -> list[int]:
        keys = self.tracker.status_keys
        return sorted({self.key_partition[k] for k in self.customers.command_keys if k not in keys})

    # -- set-up -------------------------------------------------------------------------------------

    async def seed_erp(self) -> None:
        rows = [("customers", {**row, "id": bo_id}) for bo_id, row in self.customers.erp_rows.items()]
        rows += [("suppliers", {"id": d.supplier_id, "supplier_id": d.supplier_id, "name": d.supplier_name,
                                "country": "DE", "posting_block": False}) for d in self.contracts.documents]
        for start in range(0, len(rows), 50):
            await asyncio.gather(*(self.stack.admin("erp", f"records/{entity}", "POST", row)
                                   for entity, row in rows[start:start + 50]))

    async def seed_opentext(self, client: OpenTextClient) -> None:
        for doc in self.contracts.documents:
            bo = BusinessObjectRef(ext_system_id="SAP_PRD", bo_type="LFA1", bo_id=doc.supplier_id)
            doc.workspace_id = await workspace_for(client, "Supplier", bo, f"{doc.supplier_name} ({doc.supplier_id})")
            doc.node_id = await file_document(client, doc.workspace_id, doc.document_name, document_type="Contract",
                                              status=INITIAL_STATUS)
            if any(step.kind == "workflow" for step in doc.steps):
                maps = await client.find_workflows(doc.node_id, doc.workspace_id)
                doc.process_id = await client.start_workflow(next(m.id for m in maps if m.name == WORKFLOW_NAME),
                                                             [doc.node_id])

    async def start_workers(self) -> None:
        for slot in self.stack.add_slots(self.options.workers, worker_settings(self.options),
                                         self.options.worker_source):
            slot.start()
        for slot in self.stack.slots:
            assert slot.worker is not None
            if not await wait_ready(slot.worker, 120):
                raise SuiteError(f"worker {slot.index} did not become ready\n{slot.worker.log_tail()}")

    async def register_hooks(self) -> None:
        for slot in self.stack.slots:
            await self.stack.admin("opentext", "hooks", "POST", {"url": slot.webhook_url, "secret": WEBHOOK_SECRET})

    # -- flow ---------------------------------------------------------------------------------------

    async def produce(self) -> None:
        records = self.customers.records
        producer = AIOKafkaProducer(bootstrap_servers=self.stack.bootstrap, enable_idempotence=False, linger_ms=5)
        await producer.start()
        try:
            ticks = max(1, int(self.options.stream_duration / 0.1))
            per_tick = max(1, math.ceil(len(records) / ticks))
            started = time.monotonic()
            for tick, begin in enumerate(range(0, len(records), per_tick)):
                futures = [await producer.send(self.stack.cdc_topic, key=r.key, value=r.value)
                           for r in records[begin:begin + per_tick]]
                for future in futures:
                    self.produced[(await future).partition] += 1
                delay = started + (tick + 1) * 0.1 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        finally:
            await producer.stop()
            self.stream_done.set()

    async def drive_contracts(self, client: OpenTextClient) -> None:
        """Each step when the CDC flow's progress passes its share, and only after the worker observed the
        contract's previous state.
        A contract whose previous state is not observed within ``observe_s`` (or when the whole flow stalled)
        is left where it is: its remaining steps are not made, and the expectation covers the steps made."""
        try:
            steps = self.contracts.steps
            last_status = {i: INITIAL_STATUS for i in range(len(self.contracts.documents))}
            for doc in self.contracts.documents:
                doc.performed = 0
            abandoned: set[int] = set()
            stall_s = 2 * self.options.quiet_s
            for j, step in enumerate(steps):
                share = 0.05 + 0.85 * j / max(1, len(steps))
                await until(lambda share=share: self.f1_progress() >= share or self.stream_done.is_set()
                            or self.stalled(stall_s), 3600, 0.25)
                doc = self.contracts.documents[step.document]
                if step.document in abandoned:
                    continue
                previous = last_status[step.document]
                seen = await until(lambda doc=doc, previous=previous: self.tracker.saw_status(doc.node_id, previous)
                                   or self.stalled(stall_s), self.options.observe_s, 0.2)
                if not seen or not self.tracker.saw_status(doc.node_id, previous):
                    abandoned.add(step.document)
                    self.notes.append(f"{doc.document_name}: state {previous!r} not observed within "
                                      f"{self.options.observe_s:.0f}s{' (the flow stalled)' if seen else ''}; "
                                      f"its remaining steps were not made")
                    continue
                if step.kind == "status":
                    await retrying(f"set {doc.document_name} to {step.value}",
                                   lambda doc=doc, step=step: set_status(client, doc.node_id, step.value))
                    last_status[step.document] = step.value
                else:
                    assert doc.process_id is not None
                    await self.stack.admin("opentext", f"workflows/{doc.process_id}/{step.value}", "POST")
                doc.performed = (doc.performed or 0) + 1
        finally:
            self.driver_done.set()

    async def kill_loop(self) -> list[Kill]:
        kills: list[Kill] = []
        k = self.options.kills
        thresholds = sorted(min(0.95, max(0.05, 0.1 + 0.8 * (i + 0.5 + self.rnd.uniform(-0.4, 0.4)) / k))
                            for i in range(k))
        ready_tasks: list[asyncio.Task[None]] = []
        try:
            for number, threshold in enumerate(thresholds, 1):
                def due(threshold: float = threshold) -> bool:
                    self.watch_exits()
                    done = self.stream_done.is_set() and self.driver_done.is_set() and self.progress() >= 0.999
                    return self.progress() >= threshold or done or self.stalled(2 * self.options.quiet_s)

                await until(due, 3600, 0.05)
                if self.progress() < threshold and self.stalled(2 * self.options.quiet_s):
                    self.notes.append(f"kills {number}..{k} not made: no progress for "
                                      f"{2 * self.options.quiet_s:.0f}s at {self.progress():.0%} of the status keys")
                    break
                if ready_tasks:  # the previous replacement must be up before the next kill
                    await asyncio.wait(ready_tasks[-1:], timeout=60)
                slot = self.stack.slots[self.rnd.randrange(len(self.stack.slots))]
                worker = slot.worker
                kill = Kill(number, slot.index, worker.pid if worker else None, threshold, self.progress(),
                            time.time(), time.monotonic(), self.pending_partitions(),
                            not self.stream_done.is_set())
                slot.kill()
                self.say(f"kill {number}/{k}: worker {slot.index} (pid {kill.pid}) at {kill.progress:.0%} of the "
                         f"status keys; pending partitions {kill.pending_partitions}")
                replacement = slot.start()
                kills.append(kill)
                ready_tasks.append(asyncio.create_task(self._ready(kill, slot, replacement)))
            if ready_tasks:
                await asyncio.wait(ready_tasks, timeout=90)
        finally:
            for task in ready_tasks:
                task.cancel()
        return kills

    async def _ready(self, kill: Kill, slot: Slot, worker: Any) -> None:
        if await wait_ready(worker, 90):
            kill.ready_after_s = time.monotonic() - kill.at

    async def supervise(self) -> None:
        """Restart, and report, every worker that exits by itself, for the whole run."""
        while True:
            self.watch_exits()
            await asyncio.sleep(0.5)

    def watch_exits(self) -> None:
        """A worker that died without being killed is a finding; it is restarted so the run goes on."""
        for slot in self.stack.slots:
            if slot.worker is not None and not slot.worker.running:
                self.exits += 1
                if len(self.unexpected_exits) < 3:
                    self.unexpected_exits.append(f"worker {slot.index} ({slot.worker.log_path.name}) exited by "
                                                 f"itself:\n{_last_error(slot.worker.log_tail(20000))}")
                slot.start()

    # -- settle -------------------------------------------------------------------------------------

    async def drive_attachments(self) -> None:
        """Flow F2 under the same kills and faults: ERP users attach documents and new versions while the
        CDC flow runs, each notice when the flow's progress passes its share (versions in order)."""
        notices = [(plan, n) for n in range(3) for plan in self.attachments if n < len(plan.bodies)]
        for j, (plan, n) in enumerate(notices):
            share = 0.05 + 0.85 * j / max(1, len(notices))
            await until(lambda share=share: self.f1_progress() >= share or self.stream_done.is_set(), 3600, 0.25)
            base = self.stack.erp.admin_url
            url = f"{base}/attachments" if n == 0 else f"{base}/attachments/{plan.attachment_id}/versions"
            params = {"file_name": plan.file_name, "mime": "application/pdf"}
            if n == 0:
                params |= {"bo_type": "LFA1", "bo_key": plan.supplier_id, "document_type": plan.document_type}
            async with self.stack.http().post(url, params=params, data=plan.bodies[n]) as resp:
                row = await resp.json()
                if resp.status >= 400:
                    raise SuiteError(f"the ERP refused attachment {plan.file_name}: {resp.status} {row}")
            if n == 0:
                plan.attachment_id, plan.year = str(row["attachment_id"]), str(row["changed_at"])[:4]
            plan.posted = n + 1

    async def documents_complete(self) -> bool:
        """Every planned document is in OpenText with at least as many versions as its notices make."""
        documents = (await self.stack.admin("opentext", "state"))["documents"]
        versions = Counter({str(d["name"]): len(d["versions"]) for d in documents})
        return all(versions[p.file_name] >= len(p.expected_versions) for p in self.attachments if p.posted)

    async def state_fingerprint(self) -> tuple[Any, ...]:
        calls = await self.stack.admin("opentext", "calls")
        mutating = tuple(sorted((op, n) for op, n in calls.items()
                                if any(w in op for w in ("create", "update", "apply", "delete", "add", "upsert"))))
        erp = await self.stack.admin("erp", "calls")  # every call, replays too; state_changing: effects
        chat = await self.stack.admin("chat", "calls")
        return self.tracker.fingerprint(), mutating, tuple(sorted(erp.items())), tuple(sorted(chat.items()))

    async def cdc_consumed(self) -> bool:
        """A consumer group of the deployment (its id starts with the app id) has committed every CDC record
        produced: its offset on each partition is the number of records sent there."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.stack.bootstrap)
        await admin.start()
        try:
            groups = [g[0] for g in await admin.list_consumer_groups() if str(g[0]).startswith(self.stack.app_id)]
        finally:
            await admin.close()
        for group in groups:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.stack.bootstrap, group_id=group,
                                        enable_auto_commit=False)
            await consumer.start()
            try:
                committed = [await consumer.committed(TopicPartition(self.stack.cdc_topic, p)) for p in self.produced]
            finally:
                await consumer.stop()
            if all(c is not None and c >= n for c, n in zip(committed, self.produced.values(), strict=True)):
                return True
        return False

    async def complete(self) -> bool:
        """Every expected effect is there (a quick check; the count decides what is right)."""
        keys = self.tracker.status_keys
        if any(k not in keys for k in self.customers.command_keys):
            return False
        erp = await self.stack.admin("erp", "state")
        records = {r["id"]: r for r in erp["records"].get("customers", [])}
        if any(not records.get(bo_id, {}).get("workspace_id") for bo_id in self.customers.linked):
            return False
        if len(erp["records"].get("approvals", [])) < sum(self.expected.approvals.values()):
            return False
        suppliers = {r["id"]: r for r in erp["records"].get("suppliers", [])}
        for (entity, record_id), fields in self.expected.record_updates.items():
            record = suppliers.get(record_id, {}) if entity == "suppliers" else {}
            if record.get("contract_status", None) != fields.get("contract_status", record.get("contract_status")):
                return False
        chat = await self.stack.admin("chat", "messages")
        return bool(chat["count"] >= sum(self.expected.messages.values())) and await self.documents_complete()

    async def settle(self) -> str:
        o = self.options
        deadline = time.monotonic() + o.settle_timeout_s
        last: tuple[Any, ...] | None = None
        changed_at = time.monotonic()
        while True:
            self.watch_exits()
            now = time.monotonic()
            fingerprint = await self.state_fingerprint()
            if fingerprint != last:
                last, changed_at = fingerprint, now
            quiet = now - changed_at
            if quiet >= o.confirm_s and await self.complete():
                return f"complete: every expected effect present, then nothing changed for {quiet:.0f}s"
            if quiet >= o.quiet_s:
                if await self.cdc_consumed():
                    return f"quiet: nothing changed for {quiet:.0f}s and the CDC input was fully consumed"
                if quiet >= 3 * o.quiet_s:
                    return f"quiet: nothing changed for {quiet:.0f}s (CDC input NOT fully consumed)"
            if now >= deadline:
                return f"TIMEOUT after {o.settle_timeout_s:.0f}s: still changing {quiet:.0f}s ago"
            await asyncio.sleep(1.0)


async def run_suite(options: Options, bootstrap: str, flavour: str) -> Report:
    """One run on a broker; every process and emulator it starts is stopped before it returns."""
    started = time.monotonic()
    say = options.progress or (lambda _text: None)
    customers = build_customers(options.events, options.seed)
    contracts = build_contracts(options.contract_count, options.seed)
    log_dir = options.log_dir or Path(tempfile.mkdtemp(prefix="xstream-chaos-"))
    report = Report(options, customers, contracts, ExpectedEffects(), log_dir=log_dir)
    stack = await ChaosStack.open(bootstrap, flavour, log_dir)
    mixer = FaultMixer(stack, options)
    tasks: list[asyncio.Task[Any]] = []
    forwarder: CdcForwarder | None = None
    try:
        run = Run(options, stack, customers, contracts)
        settings = OpenTextSettings(base_url=HttpUrl(stack.opentext.url), request_timeout_s=5)
        async with OpenTextClient(settings) as client:
            await run.seed_erp()
            await run.seed_opentext(client)
            forwarder = await CdcForwarder(  # plays Debezium for the ERP's attachment table (flow F2)
                stack.erp.admin_url, bootstrap,
                lambda entity: f"{stack.prefix}erp.cdc.attachments" if entity == "attachments" else None).start()
            node_url = settings.workspace_url(0).removesuffix("0") + "{id}"
            status_rules = load_status_rule_files([STATUS_RULES_DIR])
            run.expected = report.expected = contracts.expect(status_rules, node_url, node_url)
            await mixer.check()  # before anything runs: a refused fault field fails here, clearly
            run.tracker = Tracker(await stack.collect(), stack)
            say(f"set-up: {len(customers.records)} CDC records for {len(customers.erp_rows)} customers, "
                f"{len(contracts.documents)} contracts; starting {options.workers} workers")
            await run.start_workers()
            if not await until(lambda: all(run.tracker.saw_status(d.node_id, INITIAL_STATUS)
                                           for d in contracts.documents), 90):
                raise SuiteError("the poller's first scan did not report every contract within 90 s\n" + stack.logs())
            await run.register_hooks()
            report.setup_s = time.monotonic() - started
            await mixer.start()
            flow_started = time.monotonic()
            say(f"flow: producing over {options.stream_duration:.0f}s, {options.kills} kills, faults "
                f"{options.faults or 'none'}, lost answers {options.lost_answers:g}")
            tasks = [asyncio.create_task(run.produce()), asyncio.create_task(run.drive_contracts(client)),
                     asyncio.create_task(run.drive_attachments()), asyncio.create_task(run.supervise())]
            report.kills = await run.kill_loop()
            await asyncio.gather(*tasks[:3])
            # the expectation covers the contract steps the driver could make
            run.expected = report.expected = contracts.expect(status_rules, node_url, node_url)
            report.stream_s = time.monotonic() - flow_started
            report.faults_injected = await mixer.stop()
            settle_started = time.monotonic()
            say("settling: waiting until every effect is there or nothing changes")
            report.settled = await run.settle()
            report.settle_s = time.monotonic() - settle_started
            report.wall_s = time.monotonic() - flow_started
            run.tracker.update()
            report.driver_notes = run.notes
            report.unexpected_exits = run.unexpected_exits
            report.exits = run.exits
            for kill in report.kills:
                kill.takeover_s = takeover(kill, run.tracker)
            report.partition_check = run.partition_check()
            report.counts = await count_effects(stack, run.tracker, customers, contracts, report.expected, client,
                                                run.attachments)
            dump(log_dir, run.tracker)
            if options.self_check:
                report.self_checks = await self_check(
                    stack, run.tracker, client, customers, contracts, report.expected, report.counts,
                    lambda: count_effects(stack, run.tracker, customers, contracts, report.expected, client,
                                          run.attachments))
        return report
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await mixer.stop()
        if forwarder is not None:
            await forwarder.stop()
        await stack.close()


def takeover(kill: Kill, tracker: Tracker) -> float | None:
    """Seconds from the kill until every status partition with workspace commands pending then got a status
    event of the OpenText sink produced after it (the sink's consumer group owns the partitions of the
    workspace command topic, whose keys and partition count are the status topic's)."""
    kill_ms = kill.at_wall * 1000
    firsts: dict[int, float] = {}
    for partition, ts, target in tracker.status_at:
        if target == "opentext" and partition in kill.pending_partitions and ts > kill_ms \
                and partition not in firsts:
            firsts[partition] = (ts - kill_ms) / 1000
    if not kill.pending_partitions:
        return None
    if set(firsts) != set(kill.pending_partitions):
        return None
    return max(firsts.values())


def dump(log_dir: Path, tracker: Tracker) -> None:
    """The collected topics as JSON lines next to the worker logs, for looking into a failed run."""
    for name, values in (("status", tracker.status), ("dead_letters", tracker.dead_letters),
                         ("opentext_events", tracker.events)):
        with open(log_dir / f"{name}.jsonl", "wb") as out:
            for value in values:
                out.write(orjson.dumps(value) + b"\n")


def _last_error(log: str) -> str:
    """The last ERROR/CRITICAL lines of a worker's JSON log (its traceback shortened), else its tail."""
    found = []
    for line in log.splitlines():
        if '"level":"ERROR"' in line or '"level":"CRITICAL"' in line:
            try:
                entry = orjson.loads(line)
                found.append(f"{entry.get('msg', '')[:300]}" + (f" | {entry['exc'][-700:]}" if entry.get("exc") else ""))
            except orjson.JSONDecodeError:
                found.append(line[:500])
    return "\n".join(found[-3:]) if found else log[-1500:]
