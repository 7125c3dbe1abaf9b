"""The request path against a tiny scripted server: encodings on the wire, streaming, replay after 401, OTDS.

The emulator tests cover behaviour; these pin down what goes over the wire, which a faithful
emulator accepts in several shapes: multipart with Content-Length and a streamed file part, the
source factory called again for the one repeat after a 401, the exact OAuth2 client-credentials
form, and Content-Disposition file names with RFC 5987 encoding.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from pydantic import HttpUrl, SecretStr

from xstream.clients.opentext import OpenTextClient, UploadSourceError, file_source, source_body
from xstream.content import ContentInfo
from xstream.errors import AuthenticationFailed, SinkUnavailable
from xstream.settings import OpenTextSettings

API = "/otcs/cs/api"


@dataclass
class Script:
    unauthorized: int = 0
    """Answer this many authenticated calls with 401 first."""
    logins: int = 0
    tokens: list[dict[str, str]] = field(default_factory=list)
    token_lifetime: int | None = 3600
    token_status: int = 200
    auth_headers: list[dict[str, str | None]] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    content: bytes = b""
    disposition: str | None = None
    cut_content: bool = False
    released: asyncio.Event = field(default_factory=asyncio.Event)


def build_app(script: Script) -> web.Application:
    def authorized(request: web.Request) -> bool:
        script.auth_headers.append({"ticket": request.headers.get("OTCSTicket"),
                                    "authorization": request.headers.get("Authorization")})
        if script.unauthorized > 0:
            script.unauthorized -= 1
            return False
        return True

    async def login(request: web.Request) -> web.Response:
        script.logins += 1
        return web.json_response({"ticket": f"T{script.logins}"})

    async def token(request: web.Request) -> web.Response:
        script.tokens.append({k: str(v) for k, v in (await request.post()).items()})
        if script.token_status != 200:
            return web.json_response({"error": "invalid_client"}, status=script.token_status)
        answer: dict[str, Any] = {"access_token": f"tok{len(script.tokens)}", "token_type": "Bearer"}
        if script.token_lifetime is not None:
            answer["expires_in"] = script.token_lifetime
        return web.json_response(answer)

    async def node(request: web.Request) -> web.Response:
        if not authorized(request):
            return web.json_response({"error": "Authentication Required"}, status=401)
        return web.json_response({"results": {"data": {"properties": {"id": 1, "name": "n", "type": 144}}}})

    async def create(request: web.Request) -> web.Response:
        if not authorized(request):  # answered before the body is read, like a real front end
            return web.json_response({"error": "Authentication Required"}, status=401)
        record: dict[str, Any] = {"content_length": request.headers.get("Content-Length"),
                                  "chunked": request.headers.get("Transfer-Encoding")}
        reader = await request.multipart()
        async for part in reader:
            if part.filename is None:
                record[part.name or ""] = (await part.read()).decode()
                continue
            digest, size = hashlib.sha256(), 0
            while chunk := await part.read_chunk(256 * 1024):
                digest.update(chunk)
                size += len(chunk)
            record["file"] = {"name": part.name, "filename": part.filename, "size": size, "sha256": digest.hexdigest(),
                              "content_type": part.headers.get("Content-Type")}
        script.uploads.append(record)
        return web.json_response({"results": {"data": {"properties": {"id": 500 + len(script.uploads)}}}})

    async def content(request: web.Request) -> web.StreamResponse:
        if not authorized(request):
            return web.json_response({"error": "Authentication Required"}, status=401)
        response = web.StreamResponse(headers={"Content-Type": "application/pdf",
                                               "Content-Length": str(len(script.content))})
        if script.disposition:
            response.headers["Content-Disposition"] = script.disposition
        await response.prepare(request)
        body = script.content[: len(script.content) // 2] if script.cut_content else script.content
        for start in range(0, len(body), 65536):
            await response.write(body[start:start + 65536])
        if script.cut_content and request.transport is not None:
            request.transport.close()
            return response
        await response.write_eof()
        return response

    async def stall(request: web.Request) -> web.Response:
        await script.released.wait()  # never reads the body, never answers (until the test ends)
        return web.json_response({}, status=500)

    async def categories_volume(request: web.Request) -> web.Response:
        script.auth_headers.append({"path": request.path})
        return web.json_response({"results": {"data": {"properties": {"id": 2005, "name": "Categories",
                                                                      "type": 133}}}})

    async def volume_children(request: web.Request) -> web.Response:
        script.auth_headers.append({"path": request.path_qs})
        items = [{"id": 2010, "name": "Invoice Data", "type": 131}, {"id": 2011, "name": "Invoice", "type": 131}]
        wanted = request.query.get("where_name", "")
        results = [{"data": {"properties": p}} for p in items if wanted in p["name"]]
        return web.json_response({"collection": {"paging": {"page": 1, "limit": 100, "page_total": 1,
                                                            "total_count": len(results)}}, "results": results})

    app = web.Application()
    app.router.add_get(f"{API}/v2/volumes/133", categories_volume)
    app.router.add_get(f"{API}/v2/nodes/2005/nodes", volume_children)
    app.router.add_post(f"{API}/v2/nodes/2/versions", stall)
    app.router.add_post(f"{API}/v1/auth", login)
    app.router.add_post("/otdsws/oauth2/token", token)
    app.router.add_get(f"{API}/v2/nodes/1", node)
    app.router.add_post(f"{API}/v2/nodes", create)
    app.router.add_get(f"{API}/v2/nodes/1/content", content)
    return app


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Script]]:
    script = Script()
    runner = web.AppRunner(build_app(script), lingering_time=0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", script
    script.released.set()
    await runner.cleanup()


def ticket_settings(root: str, **kw: Any) -> OpenTextSettings:
    return OpenTextSettings(base_url=HttpUrl(f"{root}/otcs/cs"), **kw)


def otds_settings(root: str, **kw: Any) -> OpenTextSettings:
    return ticket_settings(root, otds_url=HttpUrl(root), otds_client_id="xstream",
                           otds_client_secret=SecretStr("xstream-secret"), **kw)


class Source:
    """A re-openable source that records how often it was opened."""

    def __init__(self, data: bytes, chunk: int = 100_000) -> None:
        self.data, self.chunk, self.opened = data, chunk, 0

    def __call__(self) -> AsyncIterable[bytes]:
        self.opened += 1
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.chunk):
            yield self.data[start:start + self.chunk]


DATA = bytes(range(256)) * 4000  # 1 MB


async def test_a_document_goes_up_as_multipart_with_a_body_part_and_a_streamed_file(server) -> None:
    root, script = server
    source = Source(DATA)
    async with OpenTextClient(ticket_settings(root)) as client:
        node_id = await client.create_document(7, "Prüfbericht \"A\".pdf", source, size=len(DATA),
                                               mime_type="application/pdf")
    (upload,) = script.uploads
    assert node_id == 501 and source.opened == 1
    assert orjson.loads(upload["body"]) == {"type": 144, "parent_id": 7, "name": "Prüfbericht \"A\".pdf",
                                            "description": ""}
    assert upload["file"] == {"name": "file", "filename": "Prüfbericht \"A\".pdf", "size": len(DATA),
                              "sha256": hashlib.sha256(DATA).hexdigest(), "content_type": "application/pdf"}
    assert upload["content_length"] is not None and upload["chunked"] is None  # declared size -> Content-Length


async def test_without_a_size_the_upload_is_chunked(server) -> None:
    root, script = server
    async with OpenTextClient(ticket_settings(root)) as client:
        await client.create_document(7, "a.bin", Source(DATA))
    assert script.uploads[0]["chunked"] == "chunked" and script.uploads[0]["file"]["size"] == len(DATA)


async def test_the_repeat_after_a_401_reopens_the_source(server) -> None:
    root, script = server
    source = Source(DATA)
    async with OpenTextClient(ticket_settings(root)) as client:
        await client.login()
        script.unauthorized = 1
        await client.create_document(7, "a.bin", source, size=len(DATA))
    assert source.opened == 2 and script.logins == 2
    assert [h["ticket"] for h in script.auth_headers] == ["T1", "T2"]
    assert script.uploads[0]["file"]["sha256"] == hashlib.sha256(DATA).hexdigest()


async def test_a_file_source_streams_from_disk_and_can_be_reopened(server, tmp_path: Path) -> None:
    root, script = server
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    async with OpenTextClient(ticket_settings(root)) as client:
        await client.login()
        script.unauthorized = 1
        await client.create_document(7, "data.bin", file_source(path, chunk_size=65536), size=len(DATA))
    assert script.uploads[0]["file"]["size"] == len(DATA)


@pytest.mark.parametrize("declared", [len(DATA) - 1, len(DATA) + 1])
async def test_a_source_longer_or_shorter_than_declared_is_an_upload_source_error(server, declared) -> None:
    root, script = server
    async with OpenTextClient(ticket_settings(root)) as client:
        with pytest.raises(UploadSourceError) as err:
            await client.create_document(7, "a.bin", Source(DATA), size=declared)
    assert not err.value.retriable and "declared" in str(err.value)
    assert script.uploads == []


async def test_a_failing_source_is_an_upload_source_error_with_its_cause(server) -> None:
    root, _ = server

    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        raise OSError("disk gone")

    async with OpenTextClient(ticket_settings(root)) as client:
        with pytest.raises(UploadSourceError) as err:
            await client.create_document(7, "a.bin", broken)
    assert isinstance(err.value.__cause__, OSError)


async def test_download_streams_and_names_the_file_after_content_disposition(server, tmp_path: Path) -> None:
    root, script = server
    script.content = DATA
    script.disposition = "attachment; filename=\"fallback.pdf\"; filename*=UTF-8''Pr%C3%BCfbericht.pdf"
    async with OpenTextClient(ticket_settings(root)) as client:
        result = await client.download_to(1, tmp_path)
        chunks = [len(c) async for c in client.iter_content(1, chunk_size=100_000)]
    assert result.path == tmp_path / "Prüfbericht.pdf" and result.filename == "Prüfbericht.pdf"
    assert result.path.read_bytes() == DATA and result.size == len(DATA)
    assert result.sha256 == hashlib.sha256(DATA).hexdigest() and result.mime_type == "application/pdf"
    assert sum(chunks) == len(DATA) and max(chunks) <= 100_000


async def test_a_server_path_in_the_file_name_is_ignored(server, tmp_path: Path) -> None:
    root, script = server
    script.content, script.disposition = b"abc", 'attachment; filename="../../etc/passwd"'
    async with OpenTextClient(ticket_settings(root)) as client:
        result = await client.download_to(1, tmp_path)
    assert result.path == tmp_path / "passwd"


async def test_a_cut_download_is_sink_unavailable_and_leaves_no_file(server, tmp_path: Path) -> None:
    root, script = server
    script.content, script.cut_content = DATA, True
    async with OpenTextClient(ticket_settings(root)) as client:
        with pytest.raises(SinkUnavailable):
            await client.download_to(1, tmp_path / "out.bin")
    assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240


async def test_download_relogs_in_once_on_401(server, tmp_path: Path) -> None:
    root, script = server
    script.content = b"abc"
    async with OpenTextClient(ticket_settings(root)) as client:
        await client.login()
        script.unauthorized = 1
        result = await client.download_to(1, tmp_path / "x")
        script.unauthorized = 2
        with pytest.raises(AuthenticationFailed):
            await client.download_to(1, tmp_path / "y")
    assert result.size == 3 and script.logins == 3


async def test_an_upload_to_a_server_that_stops_reading_times_out(server) -> None:
    root, _ = server
    big = Source(b"\0" * (64 << 20), chunk=1 << 20)  # far more than the socket buffers hold
    async with OpenTextClient(ticket_settings(root, request_timeout_s=0.5)) as client:
        started = time.monotonic()
        with pytest.raises(SinkUnavailable, match="timed out"):
            await client.add_version(2, source_body(big, ContentInfo("big.bin", "application/octet-stream", 64 << 20)))
    assert time.monotonic() - started < 5


async def test_a_category_never_seen_is_found_by_name_in_the_categories_volume(server) -> None:
    root, script = server
    async with OpenTextClient(ticket_settings(root)) as client:
        assert await client.category_id("Invoice") == 2011  # exact match among the where_name hits
        assert await client.category_id("invoice") == 2011  # cached by name now: no second lookup
        assert await client.category_id("42") == 42
    paths = [h["path"] for h in script.auth_headers if "path" in h]
    assert paths[0] == "/otcs/cs/api/v2/volumes/133" and len(paths) == 2
    assert "where_type=131" in paths[1] and "where_name=Invoice" in paths[1]


# --- OTDS bearer tokens --------------------------------------------------------------------------


async def test_otds_client_credentials_token_is_sent_as_bearer(server) -> None:
    root, script = server
    async with OpenTextClient(otds_settings(root)) as client:
        await client.get_node(1)
        await client.get_node(1)
    assert script.tokens == [{"grant_type": "client_credentials", "client_id": "xstream",
                              "client_secret": "xstream-secret"}]
    assert script.logins == 0
    assert script.auth_headers == [{"ticket": None, "authorization": "Bearer tok1"}] * 2


async def test_otds_401_fetches_one_new_token_for_all_callers(server) -> None:
    root, script = server
    async with OpenTextClient(otds_settings(root)) as client:
        await client.get_node(1)
        script.unauthorized = 5
        await asyncio.gather(*(client.get_node(1) for _ in range(5)))
    assert len(script.tokens) == 2
    assert script.auth_headers[-1]["authorization"] == "Bearer tok2"


async def test_otds_token_is_renewed_before_it_expires(server) -> None:
    root, script = server
    async with OpenTextClient(otds_settings(root)) as client:
        await client.get_node(1)
        await client.get_node(1)
        client._transport.auth._renew_at = 0.0  # the renewal time (a tenth of the lifetime early) has passed
        await client.get_node(1)
    assert len(script.tokens) == 2 and script.auth_headers[-1]["authorization"] == "Bearer tok2"


@pytest.mark.parametrize("status", [400, 401])
async def test_refused_client_credentials_are_authentication_failed(server, status) -> None:
    root, script = server
    script.token_status = status
    async with OpenTextClient(otds_settings(root)) as client:
        with pytest.raises(AuthenticationFailed) as err:
            await client.get_node(1)
    assert err.value.status == status and len(script.tokens) == 1
    assert "xstream-secret" not in str(err.value)
