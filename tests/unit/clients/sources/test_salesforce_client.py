"""The Salesforce Files client against the emulated ContentVersion API over real HTTP: a ContentSource whose
Body carries size and MD5, streamed uploads (new file, new version), links, lost answers, the dialect."""

from __future__ import annotations

import hashlib
import tracemalloc
from typing import Any

import aiohttp
import pytest
from xstream_emulators.erp import ErpEmulatorConfig, RunningErpEmulator, start_erp_emulator

from tests.unit.clients.sources.conftest import BytesBody, GeneratedBody, read_all
from xstream.clients.salesforce import ContentVersion, ContentVersionRef, SalesforceFilesClient
from xstream.content import Checksum, ContentMismatch, ContentSource, Digest, verified
from xstream.errors import AnswerLost, AuthenticationFailed, SinkRejected, SinkUnavailable, TargetNotFound
from xstream.http.auth import StaticAuth
from xstream.http.status import SALESFORCE, classify


async def admin(http: aiohttp.ClientSession, emu: RunningErpEmulator, method: str, what: str, **kw: Any) -> Any:
    async with http.request(method, f"{emu.admin_url}/{what}", **kw) as r:
        return await r.json()


@pytest.fixture
async def account(http: aiohttp.ClientSession, erp: RunningErpEmulator) -> str:
    async with http.post(f"{erp.url}/accounts", json={"id": "0018d00000AbCdEAAV", "name": "Globex"}) as r:
        return str((await r.json())["id"])


async def test_an_upload_is_opened_again_with_its_size_and_md5(salesforce: SalesforceFilesClient,
                                                              account: str) -> None:
    data = b"%PDF-1.7 master services agreement " * 500
    made = await salesforce.upload(account, BytesBody(data, "MSA Globex.pdf"), title="MSA Globex",
                                   document_type="Contract", idempotency_key="k-1")
    assert isinstance(made, ContentVersion)
    assert made.id.startswith("068") and made.content_document_id.startswith("069")
    assert (made.version_number, made.is_latest, made.title, made.path_on_client) == (1, True, "MSA Globex",
                                                                                      "MSA Globex.pdf")
    assert (made.content_size, made.checksum, made.file_type, made.document_type) == (
        len(data), hashlib.md5(data).hexdigest(), "PDF", "Contract")  # noqa: S324 - Salesforce's checksum
    assert made.first_publish_location_id == account and made.created_date is not None
    assert made.created_date.tzinfo is not None

    source: ContentSource = salesforce
    async with source.open(made.id) as body:
        assert (body.info.name, body.info.media_type, body.info.size) == ("MSA Globex.pdf", "application/pdf",
                                                                          len(data))
        assert body.info.checksum == Checksum("md5", made.checksum or "")
        digest = Digest()
        received = b"".join([c async for c in verified(body.chunks(), body.info, digest)])
    assert received == data and digest.source_checksum == made.checksum
    assert (await salesforce.get(made.id)) == made


async def test_a_checksum_that_does_not_match_fails_the_stream(salesforce: SalesforceFilesClient,
                                                              account: str, erp: RunningErpEmulator) -> None:
    made = await salesforce.upload(account, BytesBody(b"genuine"), idempotency_key="k-2")
    version = next(iter(erp.state.files.versions.values()))
    version.blob = type(version.blob)(version.blob.sha256, "0" * 32, version.blob.size)  # type: ignore[misc,union-attr]
    async with salesforce.open(ContentVersionRef(Id=made.id)) as body:
        with pytest.raises(ContentMismatch):
            async for _ in verified(body.chunks(), body.info, Digest()):
                pass


async def test_a_new_version_goes_to_the_document(salesforce: SalesforceFilesClient, account: str,
                                                  http: aiohttp.ClientSession, erp: RunningErpEmulator) -> None:
    first = await salesforce.upload(account, BytesBody(b"v1", "nda.pdf"), idempotency_key="k-3")
    second = await salesforce.upload(None, BytesBody(b"version 2", "nda-signed.pdf"),
                                     new_version_of=ContentVersionRef(Id=first.id), reason_for_change="signed",
                                     idempotency_key="k-4")
    assert (second.content_document_id, second.version_number, second.is_latest) == (first.content_document_id, 2,
                                                                                       True)
    assert second.title == "nda" and second.first_publish_location_id == account
    assert (await salesforce.get(first.id)).is_latest is False
    rows = (await admin(http, erp, "GET", "changes", params={"entity": "content_versions"}))["changes"]
    assert ContentVersionRef.model_validate(rows[1]["value"]["after"]) == second.ref
    assert {r["value"]["after"]["changed_by_origin"] for r in rows} == {"xstream"}
    async with salesforce.open(second.ref) as body:
        assert await read_all(body) == b"version 2"


async def test_a_link_is_made_once_and_has_no_content(salesforce: SalesforceFilesClient, account: str) -> None:
    link = await salesforce.link(account, "https://otcs.example.com/ws/42", "Workspace", document_type="Contract")
    again = await salesforce.link(account, "https://otcs.example.com/ws/42", "Workspace", document_type="Contract")
    assert link.is_link and link.file_type == "LINK" and again.id == link.id
    with pytest.raises(SinkRejected, match="is a link"):
        async with salesforce.open(link.id):
            pass


async def test_errors_are_classified_at_the_boundary(salesforce: SalesforceFilesClient) -> None:
    with pytest.raises(SinkRejected, match="INVALID_CROSS_REFERENCE_KEY"):
        await salesforce.upload("0018d00000ZZZZZAAA", BytesBody(b"x"), idempotency_key="k-5")
    with pytest.raises(TargetNotFound, match="NOT_FOUND"):
        await salesforce.get("0688d0000000999AAA")
    with pytest.raises(TargetNotFound):
        async with salesforce.open("0688d0000000999AAA"):
            pass


async def test_a_lost_answer_is_answer_lost_and_the_retry_finds_the_file(salesforce: SalesforceFilesClient,
                                                                          account: str, http: aiohttp.ClientSession,
                                                                          erp: RunningErpEmulator) -> None:
    await admin(http, erp, "POST", "faults", json={"lost_answer_rate": 1.0,
                                                   "operations": ["sf.content_versions.create"]})
    with pytest.raises(AnswerLost):
        await salesforce.upload(account, BytesBody(b"once"), idempotency_key="k-6")
    made = await salesforce.upload(account, BytesBody(b"once"), idempotency_key="k-6")
    assert (await admin(http, erp, "GET", "state"))["counts"]["content_versions"] == 1
    assert made.content_size == 4


async def test_a_refused_session_is_authentication_failed() -> None:
    async with await start_erp_emulator(ErpEmulatorConfig(auth="bearer")) as emu:
        async with SalesforceFilesClient(emu.origin, auth=StaticAuth({"Authorization": "Bearer expired"})) as client:
            with pytest.raises(AuthenticationFailed):
                await client.get("0688d0000000001AAA")
            with pytest.raises(AuthenticationFailed):
                await client.upload(None, BytesBody(b"x"), idempotency_key="k-7")
        async with SalesforceFilesClient(emu.origin, auth=StaticAuth({"Authorization": "Bearer erp-token"})) as ok:
            assert (await ok.upload(None, BytesBody(b"x"), idempotency_key="k-7")).content_size == 1


async def test_twenty_mib_stream_up_and_down_in_bounded_memory(salesforce: SalesforceFilesClient,
                                                               account: str) -> None:
    size = 20 * 1024 * 1024
    body = GeneratedBody(size, "scan-20mib.bin")
    await salesforce.upload(account, BytesBody(b"warm-up"), idempotency_key="warm")
    tracemalloc.start()
    try:
        made = await salesforce.upload(account, body, idempotency_key="k-20")
        digest = Digest()
        async with salesforce.open(made.ref) as download:
            async for _ in verified(download.chunks(), download.info, digest):
                pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert made.content_size == size and digest.sha256 == body.sha256 and digest.source_checksum == made.checksum
    assert peak < 4 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.0f} MiB body"


def test_the_salesforce_dialect() -> None:
    locked = b'[{"message": "unable to obtain exclusive access to this record", "errorCode": "UNABLE_TO_LOCK_ROW"}]'
    with pytest.raises(SinkUnavailable, match="UNABLE_TO_LOCK_ROW"):
        classify("salesforce", "op", 400, {}, locked, policy=SALESFORCE)
    limit = b'[{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]'
    with pytest.raises(SinkUnavailable):
        classify("salesforce", "op", 403, {}, limit, policy=SALESFORCE)
    denied = b'[{"message": "insufficient access rights", "errorCode": "INSUFFICIENT_ACCESS"}]'
    with pytest.raises(SinkRejected, match="INSUFFICIENT_ACCESS: insufficient access rights"):
        classify("salesforce", "op", 403, {}, denied, policy=SALESFORCE)
