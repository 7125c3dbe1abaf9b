"""The case join (flow F5): one case's parts -> its state, status events and the actions the flow applies.

Pure and deterministic: the clock is an argument (``now``, timezone-aware), never read. The flow keeps
one :class:`CaseState` per case id in a table (a compacted changelog keyed by case id), calls
:func:`add_part` for each correlated part and :func:`tick` from a per-partition wall-clock timer at
:func:`due`, and once for every state it loads after a restart (a deadline that passed while no
worker ran fires then).

- Idempotent: a part id already in the case changes nothing and emits nothing; an older header
  (source time) than the one kept likewise. A case keeps one header, the latest.
- Parts before the header are kept and filed when it arrives (``ensure_case_workspace`` first).
- Completeness: the header plus every requirement of the case type with at least ``min`` parts. The
  parts and the verdict do not depend on the arrival order of parts that arrive before the deadline.
- The deadline is wall-clock: ``deadline.after`` is when the join first saw a part of the case
  (``first_part``) or its header (``header``), i.e. the ``now`` of that call, plus ``duration``. At
  it a collecting case becomes ``incomplete`` (``case_incomplete`` names the missing requirements).
  A case without a header waits :attr:`CaseRuleSet.header_wait` from its first part, then its parts
  go to review once (``parts_unclaimed``, reason ``no_header``); a header arriving later still counts.
- A part at or after the deadline is late; the case type's ``late`` policy says what it means
  (accept, flag, reject -> ``part_refused`` reason ``late``). A part after a complete assembly but
  before the deadline is an extra part (``case_updated``). A late part that completes an incomplete
  case emits ``case_completed_late`` (instead of ``case_updated``). The header is never refused.
- Bound: at most ``max_parts`` parts besides the header (before the header: the largest of all
  types); one more is refused (``part_refused``, reason ``case_full``), each time it comes.
- A header no case type matches or whose workspace name or bo_id cannot be filled, or a part whose
  field an attribute reads is an object, raises MappingError (no_rule, missing_field, wrong_type) and
  changes nothing: the flow dead-letters that part.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from xstream.errors import DeadLetterReason, MappingError
from xstream.model.business import BusinessObject
from xstream.model.cases import CasePart
from xstream.model.commands import idempotency_key
from xstream.transform.case_rules import CASE, HEADER, CaseRule, CaseRuleSet
from xstream.transform.templates import Lookup, Placeholder, placeholders

Status = Literal["collecting", "assembled", "incomplete"]
NO_HEADER = "header"
"""What a case misses while its header was not seen."""
Categories = dict[str, dict[str, str]]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class PartEntry(_Frozen):
    part: CasePart
    """As received, without its text and with only the fields the rules read (:attr:`CaseRuleSet.kept_fields`)."""
    satisfies: tuple[str, ...] = ()
    """The requirements it counts for (empty until the header names the case type)."""
    late: bool = False
    """Arrived at or after the deadline under the ``flag`` policy."""
    rejected: bool = False
    """Arrived late under the ``reject`` policy: kept only so a replay is recognised; counts for nothing."""


class CaseState(_Frozen):
    case_id: str
    case_type: str | None = None
    parts: dict[str, PartEntry] = Field(default_factory=dict)
    """Part id -> entry, sorted by part id."""
    header_part_id: str | None = None
    first_part_at: datetime
    header_at: datetime | None = None
    deadline_at: datetime | None = None
    """The case type's deadline once the header is seen, before it the end of the wait for the header."""
    state: Status = "collecting"
    assembled_at: datetime | None = None
    incomplete_at: datetime | None = None
    unclaimed_at: datetime | None = None
    missing: tuple[str, ...] = (NO_HEADER,)
    version: int = 0

    @property
    def present(self) -> tuple[str, ...]:
        return tuple(sorted({n for e in self.parts.values() for n in e.satisfies} - set(self.missing)))


EventKind = Literal["case_assembled", "case_incomplete", "case_updated", "case_completed_late",
                    "part_refused", "parts_unclaimed"]


class CaseEvent(_Frozen):
    kind: EventKind
    case_id: str
    case_type: str | None
    state: Status
    version: int
    at: datetime
    present: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    part_ids: tuple[str, ...] = ()
    """The part(s) it is about: updated, completing, refused or unclaimed."""
    late: bool = False
    reason: Literal["late", "case_full", "no_header"] | None = None


class _Action(_Frozen):
    key: str
    """Idempotency key: from the case id and the part id (or the state version), equal on every replay."""
    case_id: str
    business_object: BusinessObject


class EnsureCaseWorkspace(_Action):
    kind: Literal["ensure_case_workspace"] = "ensure_case_workspace"
    workspace_type: str
    template: str | None = None
    name: str
    categories: Categories = Field(default_factory=dict)
    """The attributes whose values are there when the header arrives."""


class UpdateCaseWorkspace(_Action):
    kind: Literal["update_case_workspace"] = "update_case_workspace"
    changed: dict[str, dict[str, str | None]]
    """Attributes filled or changed by a later form, metadata or header (None: no value any more)."""


class FilePart(_Action):
    kind: Literal["file_part"] = "file_part"
    folder: str
    """Below the workspace ("" its top)."""
    part: CasePart
    parent_part_id: str | None = None
    late: bool = False


Action = EnsureCaseWorkspace | UpdateCaseWorkspace | FilePart
CaseAction = Annotated[Action, Field(discriminator="kind")]


@dataclass(frozen=True)
class JoinResult:
    state: CaseState | None
    events: tuple[CaseEvent, ...] = ()
    actions: tuple[Action, ...] = ()


def due(state: CaseState | None) -> datetime | None:
    """When :func:`tick` must be called next for this case; None: never (assembled, incomplete, unclaimed)."""
    if state is None or state.state != "collecting" or (state.case_type is None and state.unclaimed_at):
        return None
    return state.deadline_at


def tick(state: CaseState | None, rules: CaseRuleSet, now: datetime) -> JoinResult:
    """The deadline, if it passed by ``now``: incomplete (or review for a case without header). Idempotent."""
    deadline = due(state)
    if state is None or deadline is None or now < deadline:
        return JoinResult(state)
    if state.case_type is None:
        new = state.model_copy(update={"unclaimed_at": now, "version": state.version + 1})
        return JoinResult(new, (_event("parts_unclaimed", new, now, part_ids=tuple(new.parts), reason="no_header"),))
    verdict: Status = "incomplete" if state.missing else "assembled"
    new = state.model_copy(update={"state": verdict, "assembled_at": now, "version": state.version + 1,
                                   "incomplete_at": now if state.missing else None})
    return JoinResult(new, (_event("case_incomplete" if state.missing else "case_assembled", new, now),))


def add_part(state: CaseState | None, part: CasePart, rules: CaseRuleSet, now: datetime) -> JoinResult:
    """One correlated part (``part.case_id`` set) into its case, as if :func:`tick` had run at ``now``."""
    if part.case_id is None or (state is not None and state.case_id != part.case_id):
        raise ValueError(f"part {part.part_id} names case {part.case_id}, not {state and state.case_id}")
    if state is None:
        state = CaseState(case_id=part.case_id, first_part_at=now, deadline_at=now + rules.header_wait)
    before = tick(state, rules, now)
    state = before.state or state
    if part.part_id in state.parts or (part.kind == "header" and _superseded(state, part)):
        return before
    rule = rules.get(state.case_type)
    events, actions = list(before.events), list(before.actions)
    if part.kind == "header":
        new = _with_header(state, part, rules, now)
        rule = rules.get(new.case_type)
        entry = new.parts[part.part_id]
    else:
        kept = sum(not e.rejected and e.part.kind != "header" for e in state.parts.values())
        if kept >= (rule.max_parts if rule else rules.max_parts):
            return JoinResult(state, (*events, _event("part_refused", state, now, part_ids=(part.part_id,),
                                                      reason="case_full")), tuple(actions))
        late = rule is not None and state.deadline_at is not None and now >= state.deadline_at
        policy = rule.late if rule is not None and late else "accept"
        entry = PartEntry(part=_trim(part, rules), late=policy == "flag", rejected=policy == "reject")
        new = _derive(state, rules, {**state.parts, part.part_id: entry})
        if entry.rejected:
            refused = _event("part_refused", new, now, part_ids=(part.part_id,), late=True, reason="late")
            return JoinResult(new, (*events, refused), tuple(actions))
    if rule is not None:
        actions += _actions(state, new, rule, entry)
    if not new.missing and new.state != "assembled":
        new = new.model_copy(update={"state": "assembled", "assembled_at": now})
    if state.state == "collecting" and new.state == "assembled":
        events.append(_event("case_assembled", new, now))
    elif state.state == "incomplete" and new.state == "assembled":
        events.append(_event("case_completed_late", new, now, part_ids=(part.part_id,), late=entry.late))
    elif state.state != "collecting":
        events.append(_event("case_updated", new, now, part_ids=(part.part_id,), late=entry.late))
    after = tick(new, rules, now)  # a header whose deadline (after first_part) has already passed
    return JoinResult(after.state, (*events, *after.events), tuple(actions))


def _with_header(state: CaseState, header: CasePart, rules: CaseRuleSet, now: datetime) -> CaseState:
    rule = rules.for_header(header)
    if rule is None:
        raise MappingError(DeadLetterReason.NO_RULE, f"case {state.case_id}: no case rule matches its header "
                                                     f"{header.part_id}")
    parts = {pid: e for pid, e in state.parts.items() if pid != state.header_part_id}
    parts[header.part_id] = PartEntry(part=_trim(header, rules))
    changes: dict[str, Any] = {"case_type": rule.name, "header_part_id": header.part_id}
    if state.case_type is None:
        anchor = state.first_part_at if rule.deadline.after == "first_part" else now
        changes |= {"header_at": now, "deadline_at": anchor + rule.deadline.duration}
    return _derive(state, rules, parts, **changes)


def _actions(old: CaseState, new: CaseState, rule: CaseRule, entry: PartEntry) -> list[Action]:
    """Ensure the workspace and file the parts kept so far (first header), or file this part; and the
    attributes its values change."""
    value = _lookup(new)
    what = f"case type {rule.name}: workspace"
    bo = BusinessObject(ext_system_id=rule.workspace.ext_system_id, bo_type=rule.workspace.bo_type,
                        bo_id=HEADER.fill(rule.workspace.bo_id, value, what=f"{what}.bo_id"))
    common: dict[str, Any] = {"case_id": new.case_id, "business_object": bo}
    out: list[Action] = []
    if old.case_type is None:
        out.append(EnsureCaseWorkspace(
            **common, key=_key(new, "ensure_case_workspace", "workspace"), workspace_type=rule.workspace.type,
            template=rule.workspace.template, categories=_categories(new, rule),
            name=HEADER.fill(rule.workspace.name, value, what=f"{what}.name")[:248]))
        filed: Iterable[PartEntry] = sorted(new.parts.values(), key=lambda e: (e.part.received_at, e.part.part_id))
    else:
        filed = [entry]
        changed = _changed(_categories(old, rule), _categories(new, rule))
        if changed:
            out.append(UpdateCaseWorkspace(**common, key=_key(new, "update_case_workspace", f"v{new.version}"),
                                           changed=changed))
    for e in filed:
        folder = rule.folder_for(e.part)
        if folder is not None and not e.rejected:
            out.append(FilePart(**common, key=_key(new, "file_part", e.part.part_id), part=e.part, late=e.late,
                                folder=HEADER.fill(folder, value, what="folder", required=False).strip("/"),
                                parent_part_id=e.part.parent_part_id))
    return out


def _derive(state: CaseState, rules: CaseRuleSet, parts: dict[str, PartEntry], **changes: Any) -> CaseState:
    """The state with these parts (what each satisfies and what is missing recomputed), one version on."""
    rule = rules.get(changes.get("case_type", state.case_type))
    entries: dict[str, PartEntry] = {}
    for pid in sorted(parts):
        e = parts[pid]
        satisfies = rule.satisfied_by(e.part) if rule is not None and not e.rejected else ()
        entries[pid] = e if e.satisfies == satisfies else e.model_copy(update={"satisfies": satisfies})
    counts = Counter(n for e in entries.values() for n in e.satisfies)
    missing = tuple(r.name for r in rule.parts if counts[r.name] < r.min) if rule is not None else (NO_HEADER,)
    return state.model_copy(update={**changes, "parts": entries, "missing": missing, "version": state.version + 1})


def _superseded(state: CaseState, header: CasePart) -> bool:
    kept = state.parts.get(state.header_part_id or "")
    return kept is not None and (kept.part.received_at, kept.part.part_id) > (header.received_at, header.part_id)


def _trim(part: CasePart, rules: CaseRuleSet) -> CasePart:
    fields = {k: v for k, v in part.fields.items() if k in rules.kept_fields}
    return part.model_copy(update={"text": None, "fields": fields})


def _lookup(state: CaseState) -> Lookup:
    """Template values: the case's scalars and the fields of its latest header, form and metadata part."""
    latest: dict[str, CasePart] = {}
    for e in sorted(state.parts.values(), key=lambda e: (e.part.received_at, e.part.part_id)):
        if not e.rejected:
            latest[e.part.kind] = e.part
    header = latest.get("header")
    scalars = {"case_id": state.case_id, "case_type": state.case_type,
               "customer_id": header.customer_id if header else None}

    def value(p: Placeholder) -> Any:
        if p.attribute is None:
            return scalars.get(p.name)
        source = latest.get(p.name)
        return source.fields.get(p.attribute) if source is not None else None

    return value


def _categories(state: CaseState, rule: CaseRule) -> Categories:
    """The attributes whose placeholders all have values (an attribute waits for its form or metadata)."""
    value, out = _lookup(state), {}
    for category, attributes in rule.attributes.items():
        filled = {a: CASE.fill(t, value, what=f"attributes.{category}.{a}") for a, t in attributes.items()
                  if all(value(p) is not None for p in placeholders(t))}
        if filled:
            out[category] = filled
    return out


def _changed(old: Categories, new: Categories) -> dict[str, dict[str, str | None]]:
    out: dict[str, dict[str, str | None]] = {}
    for category in sorted(old.keys() | new.keys()):
        before, after = old.get(category, {}), new.get(category, {})
        diff: dict[str, str | None] = {a: v for a, v in after.items() if before.get(a) != v}
        diff |= {a: None for a in before if a not in after}
        if diff:
            out[category] = diff
    return out


def _key(state: CaseState, kind: str, position: str) -> str:
    return idempotency_key(source_system="cases", entity=state.case_type or "", key={"case_id": state.case_id},
                           position=position, command_kind=kind)


def _event(kind: EventKind, state: CaseState, now: datetime, **extra: Any) -> CaseEvent:
    return CaseEvent(kind=kind, case_id=state.case_id, case_type=state.case_type, state=state.state,
                     version=state.version, at=now, present=state.present, missing=state.missing, **extra)
