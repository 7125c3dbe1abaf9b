"""The case join (flow F5): completeness, deadlines with an injected clock, late parts, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xstream.errors import MappingError
from xstream.model.cases import CasePart
from xstream.transform.case_join import CaseState, FilePart, JoinResult, add_part, due, tick
from xstream.transform.case_rules import CaseRuleSet
from xstream.transform.rule_files import CASE_RULES_DIR, load_case_rule_files

RULES = load_case_rule_files([CASE_RULES_DIR])  # claim: deadline 2 h after the header, late: flag
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CASE = "CLM-2026-00042"
REQUIRED = ("claim-record", "claim-form", "correspondence", "damage-photos", "policy-record")


def _part(part_id: str, kind: str, minute: int = 0, **kw: object) -> CasePart:
    return CasePart.model_validate({"part_id": part_id, "kind": kind, "source": kw.pop("source", "test"),
                                    "case_id": CASE, "received_at": T0 + timedelta(minutes=minute), **kw})


HEADER = _part("cdc:claims:1", "header", customer_id="C-7", source="claims",
               fields={"case_type": "claim", "customer_name": "Ada Lovelace", "handler": "jdoe", "status": "open",
                       "internal_note": "not kept"})
FORM = _part("form:77", "form", 1, source="forms", fields={"form_type": "claim_form", "amount": 1200})
EMAIL = _part("mail:<a@x>", "email", 2, source="mail", name="Water damage", media_type="message/rfc822",
              text="see photos")
PHOTO = _part("attachment:<a@x>:2", "attachment", 2, source="mail", name="kitchen.jpg", media_type="image/jpeg",
              parent_part_id="mail:<a@x>")
POLICY = _part("crm:C-7", "metadata", 3, source="crm", fields={"region": "North"})
PARTS = {"header": HEADER, "form": FORM, "email": EMAIL, "photo": PHOTO, "policy": POLICY}
SATISFIES = {"header": "claim-record", "form": "claim-form", "email": "correspondence", "photo": "damage-photos",
             "policy": "policy-record", "email2": "correspondence"}
EXTRA = {"history": _part("erp:pay:1", "history", 4, source="erp"),
         "pdf": _part("attachment:<a@x>:3", "attachment", 2, source="mail", media_type="application/pdf",
                      parent_part_id="mail:<a@x>"),
         "email2": _part("mail:<b@x>", "email", 5, source="mail", in_reply_to="<a@x>")}


def run(parts: list[CasePart], now: datetime = T0, state: CaseState | None = None,
        rules: CaseRuleSet = RULES) -> tuple[CaseState | None, list[JoinResult]]:
    results = []
    for p in parts:
        results.append(add_part(state, p, rules, now))
        state = results[-1].state
    return state, results


def kinds(results: list[JoinResult]) -> list[str]:
    return [e.kind for r in results for e in r.events]


def with_late(policy: str) -> CaseRuleSet:
    return CaseRuleSet(cases=[RULES.cases[0].model_copy(update={"late": policy})])


def test_a_complete_claim_is_assembled_when_its_last_part_arrives() -> None:
    state, results = run(list(PARTS.values()))
    assert state is not None and state.state == "assembled" and state.missing == () and state.version == 5
    assert kinds(results) == ["case_assembled"] and results[-1].events[0].present == tuple(sorted(REQUIRED))
    ensure = results[0].actions[0]
    assert ensure.kind == "ensure_case_workspace" and ensure.name == f"{CASE} Ada Lovelace"
    assert ensure.workspace_type == "Case" and ensure.business_object.kafka_key == f"CLAIMS/CLAIM/{CASE}"
    assert ensure.categories == {"Case": {"Case Number": CASE, "Case Type": "claim", "Owner": "jdoe",
                                          "Status": "open"}}  # Region waits for the policy record
    files = [a for r in results for a in r.actions if isinstance(a, FilePart)]
    assert [(f.part.part_id, f.folder) for f in files] == [
        ("form:77", "Forms"), ("mail:<a@x>", "Emails"), ("attachment:<a@x>:2", "Emails"), ("crm:C-7", "")]
    assert files[2].parent_part_id == "mail:<a@x>"
    assert [a.kind for a in results[-1].actions] == ["update_case_workspace", "file_part"]
    update = results[-1].actions[0]
    assert update.kind == "update_case_workspace" and update.changed == {"Case": {"Region": "North"}}
    assert due(state) is None


def test_the_state_is_json_and_keeps_neither_text_nor_unread_fields() -> None:
    state, _ = run(list(PARTS.values()))
    assert state is not None and CaseState.model_validate_json(state.model_dump_json()) == state
    assert state.parts["mail:<a@x>"].part.text is None
    assert "internal_note" not in state.parts[HEADER.part_id].part.fields
    assert state.parts[PHOTO.part_id].satisfies == ("damage-photos",)


def test_parts_before_the_header_are_kept_and_filed_when_it_arrives() -> None:
    state, results = run([PHOTO, EMAIL, FORM])
    assert state is not None and state.case_type is None and state.missing == ("header",)
    assert not [a for r in results for a in r.actions] and kinds(results) == []
    assert due(state) == T0 + RULES.header_wait
    result = add_part(state, HEADER, RULES, T0 + timedelta(minutes=10))
    assert [a.kind for a in result.actions] == ["ensure_case_workspace", "file_part", "file_part", "file_part"]
    assert result.state is not None and result.state.missing == ("policy-record",)
    assert due(result.state) == T0 + timedelta(minutes=10, hours=2)  # deadline after the header


def test_the_same_part_twice_changes_nothing_and_emits_nothing() -> None:
    state, _ = run(list(PARTS.values()))
    for p in PARTS.values():
        again = add_part(state, p, RULES, T0 + timedelta(minutes=1))
        assert again.state == state and again.events == () and again.actions == ()


def test_the_deadline_assembles_the_case_incomplete_naming_what_is_missing() -> None:
    state, _ = run([HEADER, FORM, EMAIL])
    assert state is not None and due(state) == T0 + timedelta(hours=2)
    assert tick(state, RULES, T0 + timedelta(hours=1, minutes=59)).events == ()
    result = tick(state, RULES, T0 + timedelta(hours=2))
    assert result.state is not None and result.state.state == "incomplete"
    assert [(e.kind, e.missing, e.present) for e in result.events] == [
        ("case_incomplete", ("damage-photos", "policy-record"), ("claim-form", "claim-record", "correspondence"))]
    assert due(result.state) is None and tick(result.state, RULES, T0 + timedelta(hours=3)).events == ()


def test_a_deadline_that_passed_while_no_worker_ran_fires_on_the_first_tick_after_a_restart() -> None:
    state, _ = run([HEADER, FORM])
    stored = state.model_dump_json() if state else ""
    result = tick(CaseState.model_validate_json(stored), RULES, T0 + timedelta(days=2))
    assert [e.kind for e in result.events] == ["case_incomplete"]


def test_a_late_part_that_completes_an_incomplete_case_says_so() -> None:
    state, _ = run([HEADER, FORM, EMAIL, PHOTO])
    late_at = T0 + timedelta(hours=3)
    result = add_part(state, POLICY, RULES, late_at)  # the timer has not run: the part fires the deadline first
    assert [(e.kind, e.missing) for e in result.events] == [("case_incomplete", ("policy-record",)),
                                                            ("case_completed_late", ())]
    assert result.events[1].part_ids == ("crm:C-7",) and result.events[1].late
    assert result.state is not None and result.state.state == "assembled"
    assert result.state.incomplete_at == late_at and result.state.parts["crm:C-7"].late
    filed = [a for a in result.actions if isinstance(a, FilePart)]
    assert filed[0].late and filed[0].folder == ""


def test_an_extra_part_after_a_complete_assembly_is_an_update_and_not_late_before_the_deadline() -> None:
    state, _ = run(list(PARTS.values()))
    result = add_part(state, EXTRA["email2"], RULES, T0 + timedelta(minutes=30))
    assert [(e.kind, e.part_ids, e.late) for e in result.events] == [("case_updated", ("mail:<b@x>",), False)]
    assert [a.kind for a in result.actions] == ["file_part"]


@pytest.mark.parametrize(("policy", "late", "filed", "event"), [
    ("accept", False, True, "case_updated"), ("flag", True, True, "case_updated"),
    ("reject", False, False, "part_refused")])
def test_the_late_policy_decides_what_a_part_after_the_deadline_means(
        policy: str, late: bool, filed: bool, event: str) -> None:
    rules = with_late(policy)
    state, _ = run(list(PARTS.values()), rules=rules)
    after = T0 + timedelta(hours=5)
    result = add_part(state, EXTRA["email2"], rules, after)
    assert [e.kind for e in result.events] == [event] and bool(result.actions) == filed
    assert result.state is not None and result.state.parts["mail:<b@x>"].late == late
    if policy == "reject":
        assert result.events[0].reason == "late" and result.state.parts["mail:<b@x>"].satisfies == ()
    replay = add_part(result.state, EXTRA["email2"], rules, after)
    assert replay.events == () and replay.actions == () and replay.state == result.state


def test_a_deadline_after_the_first_part_counts_from_when_the_first_part_was_seen() -> None:
    first = CaseRuleSet(cases=[RULES.cases[0].model_copy(update={"deadline": RULES.cases[0].deadline.model_copy(
        update={"after": "first_part"})})])
    state, _ = run([EMAIL], rules=first)
    result = add_part(state, HEADER, first, T0 + timedelta(hours=2, minutes=1))  # header after the deadline
    assert [(e.kind, e.missing) for e in result.events] == [
        ("case_incomplete", ("claim-form", "damage-photos", "policy-record"))]


def test_parts_whose_header_never_comes_go_to_review_once() -> None:
    state, _ = run([EMAIL, PHOTO])
    result = tick(state, RULES, T0 + RULES.header_wait)
    assert [(e.kind, e.reason, e.part_ids) for e in result.events] == [
        ("parts_unclaimed", "no_header", ("attachment:<a@x>:2", "mail:<a@x>"))]
    assert due(result.state) is None and tick(result.state, RULES, T0 + timedelta(days=9)).events == ()
    late = add_part(result.state, HEADER, RULES, T0 + timedelta(days=2))  # still counts when it comes
    assert late.actions[0].kind == "ensure_case_workspace" and late.state and late.state.state == "collecting"


def test_a_case_keeps_at_most_max_parts_and_says_so_for_each_extra_part() -> None:
    small = CaseRuleSet(cases=[RULES.cases[0].model_copy(update={"max_parts": 1})])
    state, results = run([HEADER, FORM, EMAIL, EMAIL], rules=small)
    assert state is not None and sorted(state.parts) == ["cdc:claims:1", "form:77"]
    assert [(e.kind, e.reason, e.part_ids) for e in results[2].events + results[3].events] == [
        ("part_refused", "case_full", ("mail:<a@x>",))] * 2


def test_a_header_no_case_type_matches_or_without_its_name_fields_is_dead_lettered() -> None:
    other = HEADER.model_copy(update={"fields": {"case_type": "complaint"}})
    with pytest.raises(MappingError, match="no case rule matches"):
        add_part(None, other, RULES, T0)
    nameless = HEADER.model_copy(update={"fields": {"case_type": "claim"}})
    with pytest.raises(MappingError, match="workspace.name"):
        add_part(None, nameless, RULES, T0)
    with pytest.raises(ValueError, match="names case"):
        add_part(None, EMAIL.model_copy(update={"case_id": None}), RULES, T0)


def test_a_newer_header_replaces_the_kept_one_and_an_older_one_is_ignored() -> None:
    state, _ = run([HEADER, FORM])
    newer = _part("cdc:claims:2", "header", 30, customer_id="C-7",
                  fields={**HEADER.fields, "status": "in review"})
    result = add_part(state, newer, RULES, T0)
    assert result.state is not None and result.state.header_part_id == "cdc:claims:2"
    assert "cdc:claims:1" not in result.state.parts
    assert [(a.kind, getattr(a, "changed", None)) for a in result.actions] == [
        ("update_case_workspace", {"Case": {"Status": "in review"}})]
    older = add_part(result.state, HEADER, RULES, T0)
    assert older.state == result.state and older.events == () and older.actions == ()


def test_action_keys_are_the_same_on_a_replay() -> None:
    _, first = run(list(PARTS.values()))
    _, again = run(list(PARTS.values()), now=T0 + timedelta(minutes=5))
    assert [a.key for r in first for a in r.actions] == [a.key for r in again for a in r.actions]
    assert len({a.key for r in first for a in r.actions}) == 6


# -- properties -----------------------------------------------------------------------------------------
NAMES = sorted(PARTS) + sorted(EXTRA)
ALL = PARTS | EXTRA


@st.composite
def arrivals(draw: st.DrawFn, must: tuple[str, ...] = ()) -> list[str]:
    """A subset of the parts in any order, some of them twice."""
    chosen = sorted(set(draw(st.lists(st.sampled_from(NAMES)))) | set(must))
    duplicates = draw(st.lists(st.sampled_from(chosen), max_size=4)) if chosen else []
    return list(draw(st.permutations(chosen + duplicates)))


@settings(max_examples=150, deadline=None)
@given(order=arrivals(), minutes=st.lists(st.integers(0, 100), min_size=12, max_size=12))
def test_any_order_with_duplicates_gives_the_same_parts_and_verdict(order: list[str], minutes: list[int]) -> None:
    in_order = sorted(set(order), key=NAMES.index)
    nows = [T0 + timedelta(minutes=m) for m in sorted(minutes)]  # wall clock moves on, within the deadline
    a = b = None
    for name, now in zip(in_order, nows, strict=False):
        a = add_part(a, ALL[name], RULES, now).state
    for i, name in enumerate(order):
        b = add_part(b, ALL[name], RULES, nows[min(i, len(nows) - 1)]).state
    if not order:
        return
    assert a is not None and b is not None
    assert a.parts == b.parts and a.state == b.state and a.missing == b.missing and a.version == b.version
    same_now = None
    for name in order:
        same_now = add_part(same_now, ALL[name], RULES, T0).state
    in_order_same_now = run([ALL[n] for n in in_order])[0]
    assert same_now == in_order_same_now  # one burst: the whole state is the same


@settings(max_examples=150, deadline=None)
@given(order=arrivals(must=("header",)))
def test_a_deadline_before_all_parts_names_exactly_the_missing_requirements(order: list[str]) -> None:
    state, results = run([ALL[n] for n in order])
    expected = tuple(r for r in REQUIRED if r not in {SATISFIES.get(n) for n in order})
    result = tick(state, RULES, T0 + timedelta(hours=2))
    if expected:
        assert [(e.kind, e.missing) for e in result.events] == [("case_incomplete", expected)]
    else:
        assert kinds(results).count("case_assembled") == 1 and result.events == ()
        assert set(kinds(results)) <= {"case_assembled", "case_updated"}


@settings(max_examples=100, deadline=None)
@given(order=arrivals(must=("header",)), rest=st.permutations(sorted(PARTS)))
def test_late_parts_that_complete_an_incomplete_case_emit_case_completed_late_once(
        order: list[str], rest: list[str]) -> None:
    state = tick(run([ALL[n] for n in order])[0], RULES, T0 + timedelta(hours=2)).state
    events: list[str] = []
    for name in rest:
        result = add_part(state, ALL[name], RULES, T0 + timedelta(hours=3))
        state, events = result.state, events + [e.kind for e in result.events]
    assert state is not None and state.state == "assembled" and state.missing == ()
    was_incomplete = any(r not in {SATISFIES.get(n) for n in order} for r in REQUIRED)
    assert events.count("case_completed_late") == (1 if was_incomplete else 0)
    assert set(events) <= {"case_updated", "case_completed_late"}


@settings(max_examples=150, deadline=None)
@given(order=arrivals(), at=st.integers(0, 60 * 30))
def test_ticks_are_idempotent_and_due_is_never_in_the_past_after_a_tick(order: list[str], at: int) -> None:
    state, _ = run([ALL[n] for n in order])
    now = T0 + timedelta(minutes=at)
    once = tick(state, RULES, now)
    twice = tick(once.state, RULES, now)
    assert twice.state == once.state and twice.events == () and twice.actions == ()
    next_due = due(once.state)
    if once.state is not None and once.state.state == "collecting" and next_due is not None:
        assert next_due > now
