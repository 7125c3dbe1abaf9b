"""The SAP attachment client against the emulated API_CV_ATTACHMENT_SRV over real HTTP: a ContentSource,
streamed uploads (new, new version), links, deletes, CSRF handling, lost answers, errors at the boundary."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from xstream_emulators.erp import ErpEmulatorConfig, RunningErpEmulator, start_erp_emulator

from tests.unit.clients.sources.conftest import BytesBody, GeneratedBody, read_all
from xstream.clients.sap import SapAttachment, SapAttachmentRef, SapAttachmentsClient, odata_date
from xstream.content import ContentSource, Digest, verified
from xstream.errors import AnswerLost, SinkRejected, SinkUnavailable, TargetNotFound
from xstream.http.auth import ClientCredentials
from xstream.http.session import HttpSession
from xstream.http.status import ODATA_V2, classify
from xstream.http.streams import BodySourceFailed

PO = ("BUS2012", "4500000001")


async def admin(http: aiohttp.ClientSession, emu: RunningErpEmulator, method: str, what: str, **kw: Any) -> Any:
    async with http.request(method, f"{emu.admin_url}/{what}", **kw) as r:
        return await r.json()


async def test_an_upload_is_opened_again_as_a_body_with_its_info(sap: SapAttachmentsClient) -> None:
    data = b"%PDF-1.7 " + bytes(range(256)) * 200
    made = await sap.upload(*PO, BytesBody(data, "Bestellung Müller.pdf"), document_type="Purchase Order",
                            idempotency_key="k-1")
    assert isinstance(made, SapAttachment) and not made.replayed
    assert (made.kind, made.file_name, made.mime_type, made.file_size) == ("file", "Bestellung Müller.pdf",
                                                                           "application/pdf", len(data))
    assert (made.ref.bo_type, made.ref.bo_key, made.ref.doc_type, made.ref.doc_version) == (*PO, "SAT", "00")
    assert made.created_by == "COMM_USER" and made.changed_at is not None and made.changed_at.tzinfo is not None

    source: ContentSource = sap
    async with source.open(str(made.ref)) as body:  # the text form of the ref: the OData key predicate
        assert (body.info.name, body.info.media_type, body.info.size, body.info.checksum) == (
            "Bestellung Müller.pdf", "application/pdf", len(data), None)
        digest = Digest()
        received = b"".join([c async for c in verified(body.chunks(), body.info, digest)])
    assert received == data and digest.sha256 == hashlib.sha256(data).hexdigest()
    assert [a.ref for a in await sap.list_originals(*PO)] == [made.ref]
    assert sap.csrf_fetches == 1


async def test_a_ref_is_the_odata_key_and_reads_a_change_row(sap: SapAttachmentsClient, http: aiohttp.ClientSession,
                                                             erp: RunningErpEmulator) -> None:
    made = await sap.upload(*PO, BytesBody(b"x", "it's.pdf"), idempotency_key="k-2")
    assert SapAttachmentRef.parse(made.ref.predicate()) == made.ref
    row = (await admin(http, erp, "GET", "changes", params={"entity": "attachments"}))["changes"][0]["value"]["after"]
    from_row = SapAttachmentRef.model_validate(row)
    assert from_row == made.ref
    async with sap.open(from_row) as body:
        assert await read_all(body) == b"x"
    with pytest.raises(ValueError):
        SapAttachmentRef.parse("DocumentInfoRecordDocType='SAT'")
    quoted = SapAttachmentRef(bo_type="BUS2012", bo_key="it's/odd", doc_number="1")
    assert "LinkedSAPObjectKey='it''s/odd'" in quoted.predicate()
    assert SapAttachmentRef.parse(quoted.predicate()) == quoted
    assert odata_date("/Date(1714557600000)/") is not None and odata_date("yesterday") is None


async def test_a_new_version_keeps_the_document_and_the_old_version_readable(sap: SapAttachmentsClient) -> None:
    first = await sap.upload(*PO, BytesBody(b"v0"), idempotency_key="k-3")
    second = await sap.upload(*PO, BytesBody(b"v1 bigger", "po-v2.pdf"), new_version_of=first.ref,
                              idempotency_key="k-4")
    assert (second.ref.doc_number, second.ref.doc_version, second.file_size) == (first.ref.doc_number, "01", 9)
    assert [a.ref.doc_version for a in await sap.list_originals(*PO)] == ["01"]
    async with sap.open(first.ref) as body:
        assert await read_all(body) == b"v0"


async def test_links_and_deletes(sap: SapAttachmentsClient) -> None:
    url = "https://otcs.example.com/otcs/cs.exe/app/nodes/4711"
    link = await sap.create_url(*PO, url, "Signed contract")
    assert (link.kind, link.url, link.file_name, link.mime_type) == ("url", url, "Signed contract", "text/url")
    again = await sap.create_url(*PO, url, "Signed contract")  # the derived key: the same link is made once
    assert again.replayed and again.ref == link.ref and len(await sap.list_originals(*PO)) == 1
    with pytest.raises(SinkRejected):
        async with sap.open(link.ref):
            pass
    await sap.delete(link.ref)
    await sap.delete(link.ref)  # a repeat is answered from the key store
    assert await sap.list_originals(*PO) == []
    with pytest.raises(TargetNotFound):
        await sap.delete(link.ref, idempotency_key="another")


async def test_errors_are_classified_at_the_boundary(sap: SapAttachmentsClient) -> None:
    with pytest.raises(SinkRejected) as unknown_type:
        await sap.upload("ZZZ9", "1", BytesBody(b"x"), idempotency_key="k-5")
    assert not isinstance(unknown_type.value, TargetNotFound)
    assert "is not supported" in str(unknown_type.value)  # OData's message.value, not the whole body
    with pytest.raises(TargetNotFound):
        await sap.upload("LFA1", "0000399999", BytesBody(b"x"), idempotency_key="k-6")
    gone = SapAttachmentRef(bo_type="BUS2012", bo_key="1", doc_type="SAT", doc_number="9", doc_version="00",
                            doc_part="000", logical_document="0", archive_document_id="0")
    with pytest.raises(TargetNotFound):
        async with sap.open(gone):
            pass
    with pytest.raises(ValueError):
        async with sap.open("not a key"):
            pass


async def test_an_expired_csrf_token_is_fetched_again(sap: SapAttachmentsClient, http: aiohttp.ClientSession,
                                                      erp: RunningErpEmulator) -> None:
    await sap.upload(*PO, BytesBody(b"x"), idempotency_key="k-7")
    await admin(http, erp, "POST", "faults", json={"expire_csrf_tokens": True})
    await sap.create_url(*PO, "https://x.example/1", "one")  # refused once, repeated with a new token
    assert sap.csrf_fetches == 2
    await admin(http, erp, "POST", "faults", json={"expire_csrf_tokens": True})
    with pytest.raises(SinkUnavailable) as refused:  # an upload's body is read once: retriable, not repeated
        await sap.upload(*PO, BytesBody(b"y"), idempotency_key="k-8")
    assert refused.value.retriable and refused.value.status == 403
    made = await sap.upload(*PO, BytesBody(b"y"), idempotency_key="k-8")  # the caller's retry
    assert sap.csrf_fetches == 3 and not made.replayed
    assert len(await sap.list_originals(*PO)) == 3


async def test_a_lost_answer_is_answer_lost_and_the_retry_is_replayed(sap: SapAttachmentsClient,
                                                                      http: aiohttp.ClientSession,
                                                                      erp: RunningErpEmulator) -> None:
    await admin(http, erp, "POST", "faults", json={"lost_answer_rate": 1.0, "operations": ["sap.attachments.upload"]})
    with pytest.raises(AnswerLost):
        await sap.upload(*PO, BytesBody(b"stored once"), idempotency_key="k-9")
    made = await sap.upload(*PO, BytesBody(b"stored once"), idempotency_key="k-9")
    assert made.replayed
    assert [a.ref for a in await sap.list_originals(*PO)] == [made.ref]
    calls = await admin(http, erp, "GET", "calls")
    assert calls["sap.attachments.upload"] == 2 and calls["state_changing"] == 1


class FailingBody(BytesBody):
    """A body whose source breaks after its first chunk (its download lost, a disk error...)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(b"x" * 100_000)
        self.error = error

    async def chunks(self) -> AsyncIterator[bytes]:
        yield b"x" * 7000
        raise self.error


async def test_the_body_that_fails_surfaces_its_own_error(sap: SapAttachmentsClient) -> None:
    short = BytesBody(b"only five", size=100)
    with pytest.raises(BodySourceFailed, match="declared"):
        await sap.upload(*PO, short, idempotency_key="k-10")
    upstream = AnswerLost("opentext.download: the answer was lost", target="opentext")
    with pytest.raises(AnswerLost) as lost:  # the download it streams from, retriable: not a refusal of SAP's
        await sap.upload(*PO, FailingBody(upstream), idempotency_key="k-10b")
    assert lost.value is upstream
    with pytest.raises(BodySourceFailed) as failed:
        await sap.upload(*PO, FailingBody(OSError("disk gone")), idempotency_key="k-10c")
    assert not failed.value.retriable and isinstance(failed.value.__cause__, OSError)
    assert await sap.list_originals(*PO) == []


async def test_oauth2_credentials_and_their_renewal() -> None:
    async with await start_erp_emulator(ErpEmulatorConfig(auth="oauth2")) as emu:
        session = HttpSession("sap", limit=4, request_timeout_s=10, connect_timeout_s=5)
        auth = ClientCredentials("sap", session.send, token_url=emu.token_url, client_id="xstream",
                                 client_secret=SecretStr("erp-secret"))
        async with SapAttachmentsClient(emu.origin, session=session, auth=auth) as sap, aiohttp.ClientSession() as http:
            made = await sap.upload(*PO, BytesBody(b"x"), idempotency_key="k-11")
            await admin(http, emu, "POST", "faults", json={"expire_tokens": True})
            assert [a.ref for a in await sap.list_originals(*PO)] == [made.ref]  # renewed once, repeated
            await admin(http, emu, "POST", "faults", json={"expire_tokens": True})
            with pytest.raises(SinkUnavailable):  # renewed, but the body was spent: the caller retries
                await sap.upload(*PO, BytesBody(b"y"), idempotency_key="k-12")
            assert (await sap.upload(*PO, BytesBody(b"y"), idempotency_key="k-12")).file_size == 1
            assert auth.generation == 3
        await session.close()


async def test_twenty_mib_stream_up_and_down_in_bounded_memory(sap: SapAttachmentsClient) -> None:
    size = 20 * 1024 * 1024
    body = GeneratedBody(size, "scan-20mib.bin")
    await sap.upload(*PO, BytesBody(b"warm-up"), idempotency_key="warm")  # sessions, token, imports
    tracemalloc.start()
    try:
        made = await sap.upload(*PO, body, idempotency_key="k-20")
        digest = hashlib.sha256()
        async with sap.open(made.ref) as download:
            assert download.info.size == size
            async for chunk in download.chunks():
                digest.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert made.file_size == size and digest.hexdigest() == body.sha256
    assert peak < 4 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.0f} MiB body"


def test_the_odata_dialect() -> None:
    body = (b'{"error": {"code": "CV_ATTACHMENT/001", "message": {"lang": "en", "value": "Business object type '
            b'\'ZZZ\' is not supported."}}}')
    with pytest.raises(SinkRejected, match=r"CV_ATTACHMENT/001: Business object type 'ZZZ' is not supported\."):
        classify("sap", "op", 400, {}, body, policy=ODATA_V2)
    with pytest.raises(SinkUnavailable):
        classify("sap", "op", 403, {"x-csrf-token": "Required"}, b"CSRF token validation failed", policy=ODATA_V2)
    with pytest.raises(SinkRejected):
        classify("sap", "op", 403, {}, b'{"error": {"code": "x", "message": {"value": "No authorization"}}}',
                 policy=ODATA_V2)
