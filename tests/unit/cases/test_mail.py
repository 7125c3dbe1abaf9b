"""Inbound e-mail -> case parts: the samples in tests/data/mail, the refusals, and a fuzz of the parser.

Properties: every sample parses to the parts it should; every attachment's bytes read back by
``attachment_bytes`` have the size and sha256 its part declares; and on arbitrary or mutated bytes
``parse_email`` returns parts that serialise or raises a ValueDecodeError with a reason, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.fuzz.corpus import assert_typed_refusal, fuzz
from xstream.errors import DeadLetterReason, ValueDecodeError
from xstream.model.cases import ContentRef
from xstream.model.record import RecordRef
from xstream.transform.mail import MAX_DEPTH, ParsedEmail, attachment_bytes, normalise_id, parse_email

MAIL = Path(__file__).resolve().parents[2] / "data" / "mail"
RECORD = RecordRef(topic="mail.inbound", partition=3, offset=42, timestamp_ms=1_772_000_000_000)
MAX_BYTES = 1024 * 1024
SAMPLES = {path.name: path.read_bytes() for path in sorted(MAIL.glob("*.eml"))}
GOOD = {name: raw for name, raw in SAMPLES.items() if not name.startswith("malformed")}


def parse(raw: bytes, **kw: int) -> ParsedEmail:
    return parse_email(raw, record=RECORD, max_bytes=kw.pop("max_bytes", MAX_BYTES), **kw)


def refusal(raw: bytes, **kw: int) -> ValueDecodeError:
    with pytest.raises(ValueDecodeError) as caught:
        parse(raw, **kw)
    return caught.value


def mail(body: bytes, *, headers: bytes = b"From: a@example.com\r\nMessage-ID: <m@example.com>\r\n") -> bytes:
    return headers + body


def test_claim_mail_is_an_email_part_and_a_photo() -> None:
    raw = SAMPLES["claim_with_photo.eml"]
    parsed = parse(raw)
    email, (photo,) = parsed.email, parsed.attachments
    assert email.part_id == "mail:claim-1.20260302@mail.example.com"
    assert (email.kind, email.source, email.sender) == ("email", "mail", "anna.berg@example.com")
    assert email.name == "Water damage in the kitchen [CLM-2026-00042]"
    assert email.received_at == datetime(2026, 3, 2, 8, 15, tzinfo=UTC)
    assert (email.size, email.sha256) == (len(raw), hashlib.sha256(raw).hexdigest())
    assert email.content == ContentRef(kind="record", topic="mail.inbound", partition=3, offset=42)
    assert email.text is not None and email.text.startswith("Hello, the dishwasher leaked")
    assert photo.part_id == "attachment:claim-1.20260302@mail.example.com:2"
    assert (photo.kind, photo.name, photo.media_type) == ("attachment", "kitchen.jpg", "image/jpeg")
    assert photo.parent_part_id == email.part_id and photo.received_at == email.received_at
    assert photo.content == ContentRef(kind="record", topic="mail.inbound", partition=3, offset=42, path="mime:2")
    assert attachment_bytes(raw, "mime:2")[:3] == b"\xff\xd8\xff"
    assert parsed.tolerated == ()


def test_reply_keeps_its_threading_headers() -> None:
    email = parse(SAMPLES["reply_in_reply_to.eml"]).email
    assert email.in_reply_to == "claim-1.20260302@mail.example.com" and email.references == ()
    alt = parse(SAMPLES["alternative_i18n.eml"]).email
    assert alt.references == ("root-0@example.de", "claim-1.20260302@mail.example.com")


def test_outlook_mail_keeps_its_thread_index_and_strips_html() -> None:
    email = parse(SAMPLES["outlook_thread_index.eml"]).email
    assert email.thread_index is not None and len(base64.b64decode(email.thread_index)) == 27
    assert email.text == "Dear team, the surveyor can come on Friday & Saturday."


def test_attachment_by_reference_points_at_its_url() -> None:
    (report,) = parse(SAMPLES["attachment_by_reference.eml"]).attachments
    assert report.content == ContentRef(kind="url", url="https://files.example.com/claims/CLM-2026-00042/survey-report.pdf")
    assert (report.name, report.media_type, report.size, report.sha256) == (
        "survey-report.pdf", "application/pdf", 52428800, None)
    with pytest.raises(ValueDecodeError, match="by reference"):
        attachment_bytes(SAMPLES["attachment_by_reference.eml"], "mime:2")


def test_encoded_subject_and_filename_and_alternative_body() -> None:
    parsed = parse(SAMPLES["alternative_i18n.eml"])
    assert parsed.email.name == "Schadensmeldung Müller – Wasserschaden"
    assert parsed.email.sender == "juergen.mueller@example.de"
    assert parsed.email.text == "Guten Tag, anbei das Gutachten von Müller.\n"  # plain preferred to html
    (pdf,) = parsed.attachments  # the html alternative is body, not an attachment
    assert (pdf.name, pdf.content and pdf.content.path) == ("Gutachten Müller – Küche.pdf", "mime:2")


@pytest.mark.parametrize("name", sorted(GOOD))
def test_attachment_bytes_are_what_the_part_declares(name: str) -> None:
    raw = GOOD[name]
    for part in parse(raw).attachments:
        if part.content and part.content.kind == "record":
            data = attachment_bytes(raw, part.content.path or "")
            assert (len(data), hashlib.sha256(data).hexdigest()) == (part.size, part.sha256)
    with pytest.raises(ValueDecodeError, match="no MIME leaf"):
        attachment_bytes(raw, "mime:9.9")


@pytest.mark.parametrize(("header", "expected"), [
    ("<Abc.Def@Mail.EXAMPLE.com>", "Abc.Def@mail.example.com"),
    ("  <x@y>  (comment)", "x@y"), ("no-brackets@Host.Example", "no-brackets@host.example"),
    ("<>", None), ("", None), (None, None), ("<" + "a" * 600 + "@x>", None)])
def test_message_id_normalised(header: str | None, expected: str | None) -> None:
    assert normalise_id(header) == expected


def test_without_message_id_the_part_id_is_the_hash() -> None:
    raw = b"From: A <A@Example.com>\r\nSubject: hi\r\nContent-Type: image/png\r\n\r\npng"
    parsed = parse(raw)
    digest = hashlib.sha256(raw).hexdigest()
    assert parsed.email.part_id == f"mail:sha256:{digest}" and parsed.email.message_id is None
    assert [a.part_id for a in parsed.attachments] == [f"attachment:sha256:{digest}:1"]
    assert parsed.attachments[0].name == "attachment-1.png"  # no filename: named by its media type


def test_date_is_aware_and_falls_back_to_the_record_timestamp() -> None:
    assert parse(mail(b"Date: Mon, 2 Mar 2026 10:00:00 -0000\r\n\r\nx")).email.received_at == datetime(
        2026, 3, 2, 10, tzinfo=UTC)
    fallback = datetime.fromtimestamp(RECORD.timestamp_ms / 1000, UTC)  # type: ignore[operator]
    for date in (b"", b"Date: yesterday-ish\r\n", b"Date: Mon, 2 Mar 2026 10:00:00 +9999\r\n"):
        assert parse(mail(date + b"\r\nx")).email.received_at == fallback
    with pytest.raises(ValueDecodeError, match="no usable Date"):
        parse_email(mail(b"\r\nx"), record=RECORD.model_copy(update={"timestamp_ms": None}), max_bytes=MAX_BYTES)


def test_eight_bit_headers_are_read_as_utf8_and_serialise() -> None:
    parsed = parse(mail("Subject: Schäden \xff\r\n\r\nbody".encode("latin-1").replace(b"\xe4", "ä".encode())))
    assert parsed.email.name == "Schäden \ufffd"
    parsed.email.model_dump_json()


def test_missing_close_boundary_is_tolerated() -> None:
    raw = mail(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n")
    parsed = parse(raw)
    assert parsed.email.text == "hi" and parsed.tolerated == ("CloseBoundaryNotFoundDefect",)


def nested_multipart(depth: int) -> bytes:
    body = b"Content-Type: text/plain\r\n\r\nleaf\r\n"
    for level in range(depth):
        b = f"b{level}".encode()
        body = b"Content-Type: multipart/mixed; boundary=" + b + b"\r\n\r\n--" + b + b"\r\n" + body + b"--" + b + b"--\r\n"
    return mail(body)


def many_parts(n: int) -> bytes:
    leaf = b"--b\r\nContent-Type: image/gif\r\n\r\nGIF\r\n"
    return mail(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + leaf * n + b"--b--\r\n")


B64 = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/pdf\r\n" \
      b"Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--b--\r\n"


@pytest.mark.parametrize(("raw", "reason", "detail"), [
    (SAMPLES["malformed_missing_boundary.eml"], DeadLetterReason.MALFORMED_MIME, "without a boundary parameter"),
    (mail(b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--other\r\nx\r\n"), DeadLetterReason.MALFORMED_MIME,
     "boundary never occurs"),
    (b"", DeadLetterReason.MALFORMED_MIME, "not an e-mail"),
    (b"just some text\r\nand more", DeadLetterReason.MALFORMED_MIME, "not an e-mail"),
    (b'{"subject_line": "json, not mail"}', DeadLetterReason.MALFORMED_MIME, "not an e-mail"),
    (many_parts(200), DeadLetterReason.MALFORMED_MIME, "more than 200 MIME parts"),
    (nested_multipart(MAX_DEPTH + 1), DeadLetterReason.MALFORMED_MIME, f"deeper than {MAX_DEPTH}"),
    (nested_multipart(2000), DeadLetterReason.MALFORMED_MIME, "nested"),
    (mail(B64 % b"JVBERi0$$$$"), DeadLetterReason.MALFORMED_MIME, "mime:1: undecodable base64"),
    (mail(B64 % b"JVBERi0xL"), DeadLetterReason.MALFORMED_MIME, "mime:1: undecodable base64"),
    (mail(b"Content-Type: message/external-body; access-type=local-file; name=/etc/x\r\n\r\n\r\n"),
     DeadLetterReason.MALFORMED_MIME, "access-type 'local-file'"),
    (b"Subject: big\r\n\r\n" + b"x" * 2000, DeadLetterReason.OVERSIZE, "limit 1000"),
])
def test_malformed_mail_is_refused_with_a_reason(raw: bytes, reason: DeadLetterReason, detail: str) -> None:
    error = refusal(raw, max_bytes=1000 if reason is DeadLetterReason.OVERSIZE else MAX_BYTES)
    assert error.reason is reason and detail in error.detail, error.detail
    assert "\n" not in error.detail


def test_limits_are_inclusive() -> None:
    assert len(parse(many_parts(199)).attachments) == 199  # 199 leaves + the multipart = 200 parts
    assert len(parse(nested_multipart(MAX_DEPTH)).attachments) == 0
    assert parse(mail(B64 % b"JVBERi0xLjQ")).attachments[0].size == 8  # missing padding tolerated


# -- fuzz ---------------------------------------------------------------------------------------------

FRAGMENTS = (b"\r\n", b"\r\n\r\n", b"--", b"boundary=", b"Content-Type: multipart/mixed; boundary=x\r\n",
             b"Content-Type: message/rfc822\r\n", b"Content-Transfer-Encoding: base64\r\n", b"=?utf-8?b?w7w=?=",
             b"filename*=utf-8''%ff%fe", b"\xff\xfe\x00", b"<", b">", b"@", b"Date: Mon, 99 Foo 99999 99:99 +9999\r\n",
             b"Content-Type: message/external-body; access-type=URL; URL=\"https://x/y\"\r\n",
             b"Message-ID: <\xff@\xfe>\r\n", b"From: \"\xc3\" <@>\r\n", b"charset=rot13", b"charset=\"idna\"")


def mutations(valid: bytes) -> st.SearchStrategy[bytes]:
    at = st.integers(0, len(valid))
    truncated = at.map(lambda n: valid[:n])
    flipped = st.tuples(at, st.integers(0, 255)).map(lambda p: valid[:p[0]] + bytes([p[1]]) + valid[p[0] + 1:])
    spliced = st.tuples(at, st.sampled_from(FRAGMENTS)).map(lambda p: valid[:p[0]] + p[1] + valid[p[0]:])
    return st.one_of(truncated, flipped, spliced)


def parsed_or_refused(raw: bytes) -> None:
    """Parts that serialise and whose bytes read back, or a typed refusal; any other exception fails."""
    try:
        parsed = parse(raw)
    except ValueDecodeError as exc:
        assert_typed_refusal(exc.reason, exc.detail)
        return
    parsed.email.model_dump_json()
    for part in parsed.attachments:
        part.model_dump_json()
        if part.content and part.content.kind == "record":
            data = attachment_bytes(raw, part.content.path or "")
            assert hashlib.sha256(data).hexdigest() == part.sha256


@fuzz(300)
@given(raw=st.binary(max_size=2000))
def test_arbitrary_bytes_parse_or_are_refused(raw: bytes) -> None:
    parsed_or_refused(raw)


@fuzz(300)
@given(raw=st.sampled_from(sorted(SAMPLES)).flatmap(lambda name: mutations(SAMPLES[name])))
def test_mutated_samples_parse_or_are_refused(raw: bytes) -> None:
    parsed_or_refused(raw)
