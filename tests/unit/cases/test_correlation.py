"""Correlation of parts to cases: the order of the steps, the sender fallback, the index and its bound.

Properties: a reply chain arriving in any order correlates every mail once an ancestor is indexed; an
explicit case id always wins; a token correlates only when it matches a pattern, and then to its group;
parsing and correlating arbitrary bytes raise nothing but a typed DecodeError.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.fuzz.corpus import assert_typed_refusal, fuzz
from xstream.errors import ConfigError, DecodeError
from xstream.model.cases import CasePart
from xstream.model.record import RecordRef
from xstream.transform.case_correlation import (
    CLAIM_TOKEN,
    Correlated,
    CorrelationIndex,
    CorrelationSettings,
    Uncorrelated,
    correlate,
    index_with,
    thread_key,
)
from xstream.transform.mail import parse_email

MAIL = Path(__file__).resolve().parents[2] / "data" / "mail"
RECORD = RecordRef(topic="mail.inbound", partition=0, offset=1, timestamp_ms=1_772_000_000_000)
SETTINGS = CorrelationSettings()
WHEN = datetime(2026, 3, 2, tzinfo=UTC)
THREAD = bytes(range(22))


def email(n: int | str = 1, **fields: Any) -> CasePart:
    return CasePart(**{"part_id": f"mail:m{n}@x", "kind": "email", "source": "mail", "received_at": WHEN,
                       "message_id": f"m{n}@x", **fields})


def sample(name: str) -> CasePart:
    return parse_email((MAIL / name).read_bytes(), record=RECORD, max_bytes=1 << 20).email


def index(**fields: Any) -> CorrelationIndex:
    return CorrelationIndex(**fields)


def test_samples_correlate_by_token_then_reply_then_thread() -> None:
    claim = sample("claim_with_photo.eml")
    assert correlate(claim, index(), SETTINGS) == Correlated("CLM-2026-00042", "token")
    known = index_with(index(), claim, "CLM-2026-00042")
    assert correlate(sample("reply_in_reply_to.eml"), known, SETTINGS) == Correlated("CLM-2026-00042", "in_reply_to")
    assert correlate(sample("alternative_i18n.eml"), known, SETTINGS) == Correlated("CLM-2026-00042", "references")
    outlook = sample("outlook_thread_index.eml")
    thread = thread_key(outlook.thread_index)
    assert thread is not None and len(thread) == 44
    assert correlate(outlook, index(threads={thread: "CLM-2026-00077"}), SETTINGS) == Correlated(
        "CLM-2026-00077", "thread_index")


def test_the_order_of_the_steps() -> None:
    tid = base64.b64encode(THREAD + b"\x00" * 5).decode()
    full = index(message_ids={"m1@x": "C-own", "parent@x": "C-irt", "ref-new@x": "C-new", "ref-old@x": "C-old"},
                 threads={THREAD.hex(): "C-thread"}, customers={"a@x": "K1"}, open_cases={"K1": ("C-sender",)})
    part = email(1, case_id="C-explicit", in_reply_to="parent@x", references=("ref-old@x", "ref-new@x"),
                 thread_index=tid, name="[CLM-2026-00001]", text="[CLM-2026-00002]", sender="a@x")
    # each step answers, then what it used is taken away and the next one answers
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("explicit", "C-explicit", {"case_id": None}), ("message_id", "C-own", {"message_id": "other@x"}),
        ("in_reply_to", "C-irt", {"in_reply_to": None}), ("references", "C-new", {"references": ("ref-old@x",)}),
        ("references", "C-old", {"references": ()}), ("thread_index", "C-thread", {"thread_index": None}),
        ("token", "CLM-2026-00001", {"name": "no token here"}), ("token", "CLM-2026-00002", {"text": None}),
        ("sender", "C-sender", {})]
    for how, case_id, taken in steps:
        assert correlate(part, full, SETTINGS) == Correlated(case_id, how)  # type: ignore[arg-type]
        part = part.model_copy(update=taken)


@pytest.mark.parametrize(("open_cases", "customers", "sender_fallback", "reason"), [
    ({"K1": ("C1", "C2", "C3", "C4")}, {"a@x": "K1"}, True, "ambiguous: customer K1 has 4 open cases (C1, C2, C3, ...)"),
    ({}, {"a@x": "K1"}, True, "customer K1 has no open case"),
    ({"K1": ("C1",)}, {}, True, "sender a@x is no known customer"),
    ({"K1": ("C1",)}, {"a@x": "K1"}, False, "the sender fallback is off"),
])
def test_sender_fallback_needs_one_open_case(open_cases: dict[str, tuple[str, ...]], customers: dict[str, str],
                                             sender_fallback: bool, reason: str) -> None:
    result = correlate(email(sender="a@x"), index(open_cases=open_cases, customers=customers),
                       CorrelationSettings(sender_fallback=sender_fallback))
    assert isinstance(result, Uncorrelated) and reason in result.reason


def test_an_attachment_goes_with_its_email() -> None:
    attachment = CasePart(part_id="attachment:m1@x:2", kind="attachment", source="mail", received_at=WHEN,
                          name="[CLM-2026-00001].jpg", parent_part_id="mail:m1@x")
    assert correlate(attachment, index(), SETTINGS) == Uncorrelated("an attachment goes with its e-mail mail:m1@x")
    assert correlate(attachment.model_copy(update={"case_id": "C"}), index(), SETTINGS) == Correlated("C", "explicit")


@pytest.mark.parametrize(("value", "expected"), [
    (base64.b64encode(THREAD).decode(), THREAD.hex()), (base64.b64encode(THREAD + b"12345").decode().rstrip("="),
                                                       THREAD.hex()),
    (base64.b64encode(THREAD[:21]).decode(), None), ("not base64!", None), ("Zm9vü", None), ("", None), (None, None)])
def test_thread_key_is_the_first_22_bytes(value: str | None, expected: str | None) -> None:
    assert thread_key(value) == expected


def test_index_with_is_pure_and_bounded() -> None:
    empty = index(limit=3)
    grown = empty
    for n in range(5):
        grown = index_with(grown, email(n, thread_index=base64.b64encode(bytes([n]) * 22).decode()), f"C{n}")
    assert dict(empty.message_ids) == {} and dict(empty.threads) == {}
    assert list(grown.message_ids) == ["m2@x", "m3@x", "m4@x"] and len(grown.threads) == 3
    refreshed = index_with(index_with(grown, email(2), "C2"), email(9), "C9")  # m2 recorded again: kept
    assert list(refreshed.message_ids) == ["m4@x", "m2@x", "m9@x"]
    with pytest.raises(TypeError):
        grown.message_ids["x"] = "y"  # type: ignore[index]
    assert index_with(grown, email(1, message_id=None), "C") == grown  # nothing to record


def test_token_patterns_need_exactly_one_group() -> None:
    for bad in (r"CLM-\d+", r"(CLM)-(\d+)", r"(["):
        with pytest.raises(ConfigError, match="case token"):
            CorrelationSettings(tokens=(bad,))
    settings = CorrelationSettings(tokens=(r"\bcase #(\d{6})\b", CLAIM_TOKEN))
    assert correlate(email(text="about case #123456, thanks"), index(), settings) == Correlated("123456", "token")


# -- properties ---------------------------------------------------------------------------------------

@st.composite
def reply_tree(draw: st.DrawFn) -> list[CasePart]:
    """A thread: mail 0 is the root, every later mail replies to an earlier one, by In-Reply-To and/or
    References (all, a newest-first cut, or none of its ancestors)."""
    mails = [email(0)]
    parents: dict[int, int] = {}
    for n in range(1, draw(st.integers(1, 12))):
        parent = draw(st.integers(0, n - 1))
        parents[n] = parent
        chain: list[str] = []
        p = parent
        while True:
            chain.insert(0, f"m{p}@x")
            if p == 0:
                break
            p = parents[p]
        by = draw(st.sampled_from(["in_reply_to", "references", "both"]))
        refs = tuple(chain[-draw(st.integers(1, len(chain))):]) if by != "in_reply_to" else ()
        mails.append(email(n, in_reply_to=f"<m{parent}@X>" if by != "references" else None, references=refs))
    return mails


@fuzz(200)
@given(mails=reply_tree(), data=st.data())
def test_a_reply_chain_in_any_order_correlates_every_mail(mails: list[CasePart], data: st.DataObject) -> None:
    arrival = data.draw(st.permutations(mails))
    known, waiting = index_with(index(), mails[0], "CASE"), []  # the root's case is known (say by its token)
    for part in arrival:
        waiting.append(part)
        progress = True
        while progress:  # the join retries waiting parts after every new correlation
            progress = False
            for wait in list(waiting):
                result = correlate(wait, known, CorrelationSettings(sender_fallback=False))
                if isinstance(result, Correlated):
                    assert result.case_id == "CASE"
                    known, progress = index_with(known, wait, result.case_id), True
                    waiting.remove(wait)
    assert waiting == []


ids = st.text("abcXYZ@.-0123456789", min_size=1, max_size=12)


@fuzz(200)
@given(case_id=st.text(min_size=1, max_size=20), mid=ids, irt=st.none() | ids, refs=st.lists(ids, max_size=3),
       text=st.text(max_size=40), cases=st.dictionaries(ids, st.text(min_size=1, max_size=5), max_size=4))
def test_an_explicit_case_id_always_wins(case_id: str, mid: str, irt: str | None, refs: list[str], text: str,
                                         cases: dict[str, str]) -> None:
    part = email(message_id=mid, in_reply_to=irt, references=tuple(refs), name=f"[CLM-2026-00001] {text}",
                 text=text, sender="a@x", case_id=case_id)
    known = index(message_ids={mid: "other", **cases}, customers={"a@x": "K"}, open_cases={"K": ("C",)})
    assert correlate(part, known, SETTINGS) == Correlated(case_id, "explicit")


@fuzz(300)
@given(subject=st.text(max_size=40) | st.builds(lambda a, y, n, b: f"{a}[CLM-{y:04d}-{n:05d}]{b}",
       st.text(max_size=10), st.integers(0, 9999), st.integers(0, 99999), st.text(max_size=10)),
       body=st.none() | st.text(max_size=40))
def test_a_token_correlates_only_when_it_matches(subject: str, body: str | None) -> None:
    result = correlate(email(name=subject, text=body), index(), SETTINGS)
    found = SETTINGS.patterns[0].search(subject) or SETTINGS.patterns[0].search(body or "")
    if found:
        assert result == Correlated(found.group(1), "token")
    else:
        assert isinstance(result, Uncorrelated)


@fuzz(300)
@given(raw=st.binary(max_size=1500) | st.builds(
    lambda h, b: h + b"\r\n\r\n" + b, st.sampled_from([
        b"From: a@x\r\nMessage-ID: <m1@x>", b"Subject: [CLM-2026-00042]\r\nIn-Reply-To: <\xff>",
        b"From: <>\r\nReferences: <<<>>> <a@b>\r\nThread-Index: AQ==", b"Thread-Index: \xff\xfe\r\nDate: 0"]),
    st.binary(max_size=300)))
def test_parse_then_correlate_raises_only_decode_errors(raw: bytes) -> None:
    known = index(message_ids={"m1@x": "C1"}, customers={"a@x": "K"}, open_cases={"K": ("C2",)})
    try:
        parsed = parse_email(raw, record=RECORD, max_bytes=1 << 20)
    except DecodeError as exc:
        assert_typed_refusal(exc.reason, exc.detail)
        return
    for part in (parsed.email, *parsed.attachments):
        assert isinstance(correlate(part, known, SETTINGS), Correlated | Uncorrelated)
        index_with(known, part, "C3")
