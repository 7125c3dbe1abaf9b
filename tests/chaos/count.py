"""Counting every effect after a crash-suite run, from the emulators' state and the collected topics.

Per effect kind: expected, found (right), lost, duplicated, unexpected. Anything lost, duplicated or
unexpected fails the run. What each kind means:

- **workspaces**: OpenText workspaces per customer business object (``SAP_PRD/KNA1/<id>``, from
  ``GET /admin/state``): exactly 1 for each customer that must have one; 0 for the others. Lost: a
  customer without its workspace; duplicated: workspaces beyond the first; unexpected: a workspace
  for a customer that must have none.
- **attribute values**: each workspace's category values equal what the customer's last CDC event
  maps to. Lost: a workspace holding another value (a CDC update that was never applied, or an
  older one applied over it).
- **links back**: the customer's ERP record holds its workspace's link (``workspace_id``,
  ``workspace_url`` as the rules' ``link_back`` says) and exactly one xstream write was applied to
  it: the larger of the ERP change log's changes made by xstream (``last_changed_by: xstream``) on
  the record and the Idempotency-Keys executed for it (the ERP's key store; its stored answer is the
  patched record). A PATCH repeated with the same key is answered from the store and executes
  nothing, so it is not a duplicate; one executed again under another key is, even when it writes
  the same values. Lost: no link, or a link to another node.
- **approvals**: ERP approvals per (OpenText document, process): exactly the expected ones, once.
- **notifications**: chat messages per (document, channel), the document found by its (unique) name
  in the message: exactly the expected ones, once. Unexpected: a message for nothing expected.
- **supplier updates**: applied xstream writes per supplier record (counted as for links): as many
  as the status rules' ``update_record`` commands, and the record holds the fields the last one sets.
- **contract changes**: every status change and finished workflow the driver made in OpenText reached
  the events topic (through the poller or the webhook). Lost: a change xstream never saw.
- **status events**: every idempotency key that was applied (every workspace command of the
  scenario, every key in the ERP emulator's Idempotency-Key store, every key a chat message carried)
  has at least one status event. Duplicates on the status topic are allowed (at-least-once) and only
  reported; a status event with outcome ``rejected`` or ``dead_lettered`` is unexpected.
- **dead letters**: exactly the scenario's malformed records are dead-lettered (by distinct source
  record: a dead letter repeated after a crash is reported, not failed); any other is unexpected.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from tests.chaos.scenario import (
    AttachmentPlan,
    ContractScenario,
    CustomerScenario,
    ExpectedEffects,
    customer_bo,
)

if TYPE_CHECKING:
    from tests.chaos.stack import ChaosStack
    from tests.chaos.suite import Tracker
    from xstream.clients.opentext import OpenTextClient

EXAMPLES = 6


@dataclass
class Row:
    kind: str
    expected: int
    found: int
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    note: str = ""
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected)

    def example(self, text: str) -> None:
        if len(self.examples) < EXAMPLES:
            self.examples.append(text)


@dataclass
class Counts:
    rows: list[Row] = field(default_factory=list)
    status_events: int = 0
    status_keys_repeated: int = 0
    """Idempotency keys with more than one status event (allowed: at-least-once)."""
    status_outcomes: Counter[str] = field(default_factory=Counter)
    dead_letters_repeated: int = 0
    opentext_calls: dict[str, int] = field(default_factory=dict)
    erp_calls: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    def row(self, kind: str) -> Row:
        return next(r for r in self.rows if r.kind == kind)


def _node_tail(value: Any) -> str:
    text = str(value)
    return text.rsplit("/app/nodes/", 1)[-1] if "/app/nodes/" in text else text


async def count_effects(stack: ChaosStack, tracker: Tracker, customers: CustomerScenario,
                        contracts: ContractScenario, expected: ExpectedEffects,
                        opentext_client: OpenTextClient, plans: list[AttachmentPlan] | None = None) -> Counts:
    tracker.update()
    counts = Counts(status_events=len(tracker.status))
    opentext = await stack.admin("opentext", "state")
    erp = await stack.admin("erp", "state")
    changes = (await stack.admin("erp", "changes", params={"since": "0"}))["changes"]
    chat = (await stack.admin("chat", "messages"))["messages"]
    counts.opentext_calls = await stack.admin("opentext", "calls")
    counts.erp_calls = await stack.admin("erp", "calls")

    by_bo: dict[str, list[dict[str, Any]]] = {}
    for ws in opentext["workspaces"]:
        for bo in ws["business_objects"]:
            if bo["bo_type"] == "KNA1":
                by_bo.setdefault(f"{bo['ext_system_id']}/{bo['bo_type']}/{bo['bo_id']}", []).append(ws)
    xstream_changes: Counter[tuple[str, str]] = Counter()
    for change in changes:
        after = change["value"].get("after") or {}
        if change["value"].get("op") == "u" and after.get("last_changed_by") == "xstream":
            xstream_changes[(change["entity"], str(change["key"]["id"]))] += 1
    # Applied PATCHes per record: the ERP's Idempotency-Key store holds one entry per key that was executed
    # (a replay with the same key is answered from it, not executed again); its stored answer is the
    # patched record. A PATCH executed again under another key that writes the same values changes nothing
    # in the change log but is still a second applied write.
    entities = {**dict.fromkeys(customers.erp_rows, "customers"),
                **{d.supplier_id: "suppliers" for d in contracts.documents}}
    executed: Counter[tuple[str, str]] = Counter()
    for answer in _stored_answers(stack):
        body = _json(answer.body)
        if answer.status < 300 and isinstance(body, dict) and "process" not in body and str(body.get("id")) in entities:
            executed[(entities[str(body["id"])], str(body["id"]))] += 1
    writes_of: dict[tuple[str, str], int] = {r: max(xstream_changes[r], executed[r])
                                             for r in set(xstream_changes) | set(executed)}

    # (a) workspaces
    ws_row = Row("workspaces", len(customers.linked), 0)
    known = {customer_bo(b) for b in customers.erp_rows}
    for bo_id in customers.erp_rows:
        found = by_bo.get(customer_bo(bo_id), [])
        if bo_id in customers.linked:
            ws_row.found += bool(found)
            if not found:
                ws_row.lost += 1
                ws_row.example(f"{bo_id}: no workspace")
            if len(found) > 1:
                ws_row.duplicated += len(found) - 1
                ws_row.example(f"{bo_id}: {len(found)} workspaces {[w['id'] for w in found]}")
        elif found:
            ws_row.unexpected += len(found)
            ws_row.example(f"{bo_id} (one-time customer): {len(found)} workspace(s)")
    for bo_key, found in by_bo.items():
        if bo_key not in known:
            ws_row.unexpected += len(found)
            ws_row.example(f"{bo_key}: workspace of an unknown business object")
    counts.rows.append(ws_row)

    # (b) attribute values: the admin state keys values by attribute id ("2006_4"); the names come from
    # the workspace template's create form, through the REST API, as the sink resolves them
    key_maps: dict[int, dict[tuple[str, str], str]] = {}
    values_row = Row("attribute values", len(customers.linked), 0,
                     note="lost = a workspace not holding its customer's last mapped values")
    for bo_id, want in sorted(customers.expected_categories.items()):
        found = by_bo.get(customer_bo(bo_id), [])
        if not found:
            values_row.lost += 1
            continue
        have = found[0]["categories"]
        attr_keys = await _attribute_keys(opentext_client, found[0]["template_id"], key_maps)
        wrong = {attr: (have.get(attr_keys.get((category, attr), attr)), value) for category, attrs in want.items()
                 for attr, value in attrs.items() if str(have.get(attr_keys.get((category, attr), attr))) != str(value)}
        if wrong:
            values_row.lost += 1
            values_row.example(f"{bo_id}: " + ", ".join(f"{a}={h!r} (want {w!r})" for a, (h, w) in wrong.items()))
        else:
            values_row.found += 1
    counts.rows.append(values_row)

    # (c) links back
    records = {str(r["id"]): r for r in erp["records"].get("customers", [])}
    link_row = Row("links back", len(customers.linked), 0,
                   note="duplicated = more than one applied xstream write to the record (change log, key store)")
    for bo_id in sorted(customers.erp_rows):
        record = records.get(bo_id, {})
        writes = writes_of.get(("customers", bo_id), 0)
        if bo_id not in customers.linked:
            if record.get("workspace_id") or writes:
                link_row.unexpected += 1
                link_row.example(f"{bo_id} (no workspace expected): link {record.get('workspace_id')!r}, "
                                 f"{writes} xstream write(s)")
            continue
        found = by_bo.get(customer_bo(bo_id), [])
        node = str(found[0]["id"]) if found else None
        right = (node is not None and str(record.get("workspace_id")) == node
                 and _node_tail(record.get("workspace_url")) == node)
        if right:
            link_row.found += 1
        else:
            link_row.lost += 1
            link_row.example(f"{bo_id}: record has workspace_id={record.get('workspace_id')!r}, workspace is "
                             f"{node}; {writes} xstream write(s)")
        if writes > 1:
            link_row.duplicated += writes - 1
            link_row.example(f"{bo_id}: {writes} applied xstream writes ({xstream_changes[('customers', bo_id)]} "
                             f"in the change log, {executed[('customers', bo_id)]} keys executed)")
    counts.rows.append(link_row)

    # (d) approvals
    docs = {d.node_id: d for d in contracts.documents}
    approvals: Counter[tuple[int, str]] = Counter()
    for approval in erp["records"].get("approvals", []):
        approvals[(int((approval.get("reference") or {}).get("document_id") or 0), approval.get("process", ""))] += 1
    counts.rows.append(_compare("approvals", expected.approvals, approvals,
                                lambda key: f"{docs[key[0]].document_name if key[0] in docs else key[0]} / {key[1]}"))

    # (e) notifications
    names = {d.document_name: d.node_id for d in contracts.documents}
    messages: Counter[tuple[int, str]] = Counter()
    stray = 0
    for message in chat:
        text = orjson.dumps(message.get("payload")).decode() + message.get("text", "")
        matched = [node for name, node in names.items() if name in text]
        if len(matched) == 1:
            messages[(matched[0], str(message["channel"]).casefold())] += 1
        else:
            stray += 1
    note_row = _compare("notifications", expected.messages, messages,
                        lambda key: f"{docs[key[0]].document_name} -> #{key[1]}")
    note_row.unexpected += stray
    counts.rows.append(note_row)

    # (e') supplier record updates
    suppliers = {str(r["id"]): r for r in erp["records"].get("suppliers", [])}
    upd_row = Row("supplier updates", sum(expected.updates_per_record.values()), 0,
                  note="applied xstream writes per supplier record (change log, key store)")
    for d in contracts.documents:
        record_key = ("suppliers", d.supplier_id)
        want_n = expected.updates_per_record.get(record_key, 0)
        got_n = writes_of.get(record_key, 0)
        want_fields = expected.record_updates.get(record_key, {})
        record = suppliers.get(d.supplier_id, {})
        wrong = {f: (record.get(f), v) for f, v in want_fields.items() if _node_tail(record.get(f)) != _node_tail(v)}
        if want_n and got_n and not wrong:
            upd_row.found += min(want_n, got_n)
        if want_n > got_n or (want_n and wrong):
            upd_row.lost += max(1, want_n - got_n)
            upd_row.example(f"{d.supplier_id} ({d.path}): {got_n} change(s), fields {wrong or 'ok'}")
        if got_n > want_n:
            if want_n:
                upd_row.duplicated += got_n - want_n
            else:
                upd_row.unexpected += got_n
            upd_row.example(f"{d.supplier_id} ({d.path}): {got_n} change(s), {want_n} expected")
    counts.rows.append(upd_row)

    # (e3) the governed copy: each version a rule locks is locked in OpenText and linked once on its record
    attachments = (await stack.admin("erp", "attachments"))["attachments"]
    links: Counter[tuple[str, str]] = Counter((str(a["bo_key"]), str(a["file_name"])) for a in attachments
                                              if a["kind"] == "url")
    locked = {(int(d["id"]), int(v["version_number"])) for d in opentext["documents"] for v in d["versions"]
              if v["locked"]}
    lock_row = Row("locked versions", len(expected.locks), 0,
                   note="locked in OpenText and linked on the ERP supplier; duplicated = a link made twice")
    for (node, version), link_name in sorted(expected.locks.items()):
        doc = docs[node]
        linked = link_name is None or links[(doc.supplier_id, link_name)] >= 1
        if (node, version) in locked and linked:
            lock_row.found += 1
        else:
            lock_row.lost += 1
            lock_row.example(f"{doc.document_name} v{version}: locked {(node, version) in locked}, linked {linked}")
    for node, version in sorted(locked - set(expected.locks)):
        lock_row.unexpected += 1
        lock_row.example(f"node {node} v{version}: locked, no rule locks it")
    for (record, name), n in sorted(links.items()):
        if n > 1:
            lock_row.duplicated += n - 1
            lock_row.example(f"{record}: link {name!r} made {n} times")
    counts.rows.append(lock_row)

    # (e4) documents from the ERP: each in its folder of the supplier's workspace, once, with its versions
    counts.rows.append(documents_row(opentext, plans or [], {d.node_id for d in contracts.documents}))

    # (e'') every contract change made was observed (reached opentext.events through the poller or the webhook)
    seen_row = Row("contract changes", sum(len(d.steps_made) for d in contracts.documents), 0,
                   note="changes made in OpenText that reached opentext.events (poller or webhook)")
    for d in contracts.documents:
        for step in d.steps_made:
            seen = tracker.saw_status(d.node_id, step.value) if step.kind == "status" \
                else tracker.saw_workflow(d.node_id, d.process_id or 0)
            seen_row.found += seen
            if not seen:
                seen_row.lost += 1
                seen_row.example(f"{d.document_name}: {step.kind} {step.value} never observed")
    counts.rows.append(seen_row)

    # (f) status events: every applied key has at least one
    status_keys = tracker.status_keys
    applied: dict[str, str] = dict.fromkeys(customers.command_keys, "workspace command")
    store = getattr(getattr(stack.erp.state, "keys", None), "_entries", None)
    if isinstance(store, dict):
        for key, entry in store.items():
            if getattr(entry, "answer", None) is not None and entry.answer.status < 300:
                applied.setdefault(key, "ERP request")
    for message in chat:
        header = next((v for k, v in (message.get("headers") or {}).items() if k.lower() == "idempotency-key"), None)
        if header:
            applied.setdefault(header.strip().strip('"'), "chat message")
    status_row = Row("status events", len(applied), 0,
                     note="every applied idempotency key has >= 1 status event (duplicates allowed)")
    for key, what in applied.items():
        if status_keys.get(key):
            status_row.found += 1
        else:
            status_row.lost += 1
            detail = customers.command_what.get(key, f"{key[:16]}...")
            status_row.example(f"{what} {detail}: no status event")
    counts.status_keys_repeated = sum(1 for n in status_keys.values() if n > 1)
    counts.status_outcomes = Counter(f"{s.get('target')}:{s.get('outcome')}" for s in tracker.status)
    bad = [s for s in tracker.status if s.get("outcome") in ("rejected", "dead_lettered")]
    if bad:
        status_row.unexpected += len(bad)
        for s in bad[:EXAMPLES]:
            status_row.example(f"{s.get('command_kind')} for {s.get('business_object', {}).get('bo_id')}: "
                               f"{s.get('outcome')} ({s.get('reason')})")
    counts.rows.append(status_row)

    # (g) dead letters
    distinct: dict[tuple[Any, ...], str] = {}
    for letter in tracker.dead_letters:
        source = letter.get("source") or {}
        where = (source.get("topic"), source.get("partition"), source.get("offset"), letter.get("received"))
        counts.dead_letters_repeated += where in distinct
        distinct[where] = str(letter.get("reason"))
    found_reasons = Counter(distinct.values())
    dlq_row = Row("dead letters", sum(customers.dead_letters.values()), 0,
                  note="distinct source records dead-lettered vs the scenario's malformed ones")
    for reason in set(found_reasons) | set(customers.dead_letters):
        wanted, got = customers.dead_letters.get(reason, 0), found_reasons.get(reason, 0)
        dlq_row.found += min(wanted, got)
        if got < wanted:
            dlq_row.lost += wanted - got
            dlq_row.example(f"{reason}: {got} dead-lettered, {wanted} expected")
        if got > wanted:
            dlq_row.unexpected += got - wanted
            dlq_row.example(f"{reason}: {got} dead-lettered, {wanted} expected")
    counts.rows.append(dlq_row)
    return counts


async def _attribute_keys(client: OpenTextClient, template_id: int,
                          cache: dict[int, dict[tuple[str, str], str]]) -> dict[tuple[str, str], str]:
    if template_id not in cache:
        key_map = await client.category_keys(template_id)
        cache[template_id] = {(info.name, attribute.name): attribute.key for info in key_map.categories
                              for attribute in info.attributes}
    return cache[template_id]


def _stored_answers(stack: ChaosStack) -> list[Any]:
    """The answers in the in-process ERP emulator's Idempotency-Key store (empty if it has none)."""
    store = getattr(getattr(stack.erp.state, "keys", None), "_entries", None)
    if not isinstance(store, dict):
        return []
    return [e.answer for e in store.values() if getattr(e, "answer", None) is not None]


def _json(raw: Any) -> Any:
    try:
        return orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError):
        return None


def _compare(kind: str, want: Counter[Any], got: Counter[Any], name: Any) -> Row:
    row = Row(kind, sum(want.values()), 0)
    for key in set(want) | set(got):
        w, g = want.get(key, 0), got.get(key, 0)
        row.found += min(w, g)
        if g < w:
            row.lost += w - g
            row.example(f"{name(key)}: missing")
        if g > w:
            if w:
                row.duplicated += g - w
                row.example(f"{name(key)}: {g} times")
            else:
                row.unexpected += g
                row.example(f"{name(key)}: {g} unexpected")
    return row


def documents_row(opentext: dict[str, Any], plans: list[AttachmentPlan], contracts: set[int]) -> Row:
    """Per planned attachment: one document at ``folder/year/name`` below its supplier's workspace,
    holding exactly the versions its notices make (by sha256, in order); a second document for the
    same attachment (same name, or stored beside it) is a duplicate, a version too many too."""
    row = Row("ERP documents", len(plans), 0, note="in the supplier's workspace, once, with exactly its versions")
    workspaces = {str(bo["bo_id"]): int(ws["id"]) for ws in opentext["workspaces"] for bo in ws["business_objects"]
                  if bo["bo_type"] == "LFA1"}
    folders = {int(f["id"]): f for f in opentext["folders"]}

    def path_below(parent: int) -> tuple[int, str] | None:
        parts: list[str] = []
        while parent not in workspaces.values():
            folder = folders.get(parent)
            if folder is None:
                return None
            parts.append(str(folder["name"]))
            parent = int(folder["parent_id"])
        return parent, "/".join(reversed(parts))

    found: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for doc in opentext["documents"]:
        where = path_below(int(doc["parent_id"]))
        if where is not None and int(doc["id"]) not in contracts:
            found.setdefault((where[0], f"{where[1]}/{doc['name']}".lstrip("/")), []).append(doc)
    planned: set[tuple[int, str]] = set()
    for plan in plans:
        workspace = workspaces.get(plan.supplier_id)
        key = (workspace or -1, f"{plan.folder}/{plan.year}/{plan.file_name}")
        planned.add(key)
        stem, dot, ext = plan.file_name.rpartition(".")
        beside = (key[0], f"{plan.folder}/{plan.year}/{stem} ({plan.attachment_id}){dot}{ext}")
        planned.add(beside)
        docs = found.get(key, []) + found.get(beside, [])
        want = [hashlib.sha256(b).hexdigest() for b in plan.expected_versions]
        if not want:
            if docs:
                row.unexpected += len(docs)
                row.example(f"{plan.file_name}: stored, but no notice of it was posted")
            continue
        if not docs:
            row.lost += 1
            row.example(f"{plan.file_name} ({plan.supplier_id}): not in the workspace")
            continue
        have = [v["sha256"] for v in docs[0]["versions"]]
        if len(docs) > 1:
            row.duplicated += len(docs) - 1
            row.example(f"{plan.file_name}: {len(docs)} documents")
        if have == want:
            row.found += 1
        elif len(have) > len(want) and have[:len(want)] == want or set(want) <= set(have):
            row.found += 1
            row.duplicated += len(have) - len(want)
            row.example(f"{plan.file_name}: {len(have)} versions, {len(want)} expected")
        else:
            row.lost += 1
            row.example(f"{plan.file_name}: versions {len(have)} with other bytes than the {len(want)} expected")
    for key, docs in found.items():
        if key not in planned:
            row.unexpected += len(docs)
            row.example(f"{key[1]}: a document no notice asked for")
    return row
