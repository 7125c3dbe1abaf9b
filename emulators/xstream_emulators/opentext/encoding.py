"""Request parameters as Content Server reads them: query string, flat form, ``body`` JSON, raw JSON,
multipart with files.

Classic Content Server does not parse JSON request bodies; clients send forms (urlencoded or
multipart), nested payloads as one ``body`` field holding JSON. Newer releases also take raw
``application/json``. All of them are merged into one dict here, ``body`` taking precedence over
flat fields and those over the query string, so handlers never care how a client encoded a call.
A field sent several times (pyxecm sends list values that way) becomes a list.

Multipart bodies are read part by part: file parts stream in chunks into a temporary file of the
content store (:class:`~xstream_emulators.opentext.content.Upload`), never into memory, so a
200 MB upload costs the emulator a buffer, not 200 MB. Calls that take no file drop file parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import BodyPartReader, web

from xstream_emulators.opentext.content import CHUNK_SIZE, ContentStore, Upload
from xstream_emulators.opentext.model import ApiError

MAX_FIELD_BYTES = 16 * 1024 * 1024
"""Largest non-file multipart field (a ``body`` JSON) the emulator accepts."""


@dataclass
class Form:
    params: dict[str, Any]
    files: dict[str, Upload] = field(default_factory=dict)

    def file(self, name: str = "file") -> Upload | None:
        return self.files.get(name)

    def discard(self) -> None:
        """Remove uploads that were not committed (an error happened, or the call took no file)."""
        for upload in self.files.values():
            upload.discard()


async def read_params(request: web.Request) -> dict[str, Any]:
    """Parameters of a call that takes no file (file parts are read and dropped)."""
    form = await read_form(request, None)
    return form.params


async def read_form(request: web.Request, store: ContentStore | None, *, file_fields: tuple[str, ...] = ()) -> Form:
    """Parameters plus the uploaded files (streamed into ``store``; dropped when it is None).
    ``file_fields``: fields that are files even when their part names no file (a Large File
    Upload's ``part_content``, which clients send with or without a file name)."""
    params: dict[str, Any] = _multi(request.query.items())
    if not request.body_exists:
        return Form(params)
    if request.content_type == "application/json":
        decoded = _loads(await request.read(), "the request body")
        if not isinstance(decoded, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        return Form(params | decoded)
    if request.content_type == "multipart/form-data":
        fields, files = await _read_multipart(request, store, file_fields)
        return Form(params | merge_form(fields), files)
    if request.content_type == "application/x-www-form-urlencoded":
        try:
            posted = await request.post()
        except ValueError as exc:
            raise ApiError(400, f"Could not read the form data: {exc}") from exc
        return Form(params | merge_form(_multi((k, v) for k, v in posted.items() if isinstance(v, str))))
    if request.content_type == "text/plain":  # /v1/validation/nodes/names documents a JSON string body
        raw = (await request.read()).strip()
        if raw.startswith(b"{"):
            decoded = _loads(raw, "the request body")
            if isinstance(decoded, dict):
                return Form(params | decoded)
    return Form(params)


async def _read_multipart(request: web.Request, store: ContentStore | None,
                          file_fields: tuple[str, ...] = ()) -> tuple[dict[str, Any], dict[str, Upload]]:
    fields: list[tuple[str, str]] = []
    files: dict[str, Upload] = {}
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise ApiError(400, "Nested multipart bodies are not supported.")
            name = part.name or ""
            if part.filename is None and name not in file_fields:
                fields.append((name, await _read_text(part)))
            elif store is None or name in files:
                while await part.read_chunk(CHUNK_SIZE):
                    pass
            else:
                upload = store.begin(part.filename or name, part.headers.get("Content-Type", ""))
                files[name] = upload
                while chunk := await part.read_chunk(CHUNK_SIZE):
                    upload.write(chunk)
                upload.finish()
    except ApiError:
        for upload in files.values():
            upload.discard()
        raise
    except (ValueError, AssertionError, RuntimeError) as exc:
        for upload in files.values():
            upload.discard()
        raise ApiError(400, f"Could not read the form data: {exc}") from exc
    return _multi(fields), files


async def _read_text(part: BodyPartReader) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(CHUNK_SIZE):
        data += chunk
        if len(data) > MAX_FIELD_BYTES:
            raise ApiError(400, f"The form field '{part.name}' is too large.")
    charset = part.get_charset(default="utf-8")
    try:
        return bytes(data).decode(charset)
    except (UnicodeDecodeError, LookupError):
        raise ApiError(400, f"The form field '{part.name}' is not valid {charset} text.") from None


def _multi(pairs: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key, value in pairs:
        if key in merged:
            previous = merged[key]
            merged[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            merged[key] = value
    return merged


def merge_form(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Flat fields plus the decoded ``body`` field; nested ``roles`` sent flat is decoded too."""
    merged: dict[str, Any] = {k: v for k, v in fields.items() if k != "body"}
    if isinstance(merged.get("roles"), str):
        merged["roles"] = _loads(merged["roles"].encode(), "parameter 'roles'")
    if "body" in fields:
        raw = fields["body"]
        if not isinstance(raw, str):
            raise ApiError(400, "Invalid value for parameter 'body': sent more than once.")
        body = _loads(raw.encode(), "parameter 'body'")
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid value for parameter 'body': expected a JSON object.")
        merged |= body
    return merged


def _loads(raw: bytes, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"Invalid JSON in {what}: {exc}") from exc


def int_param(params: Mapping[str, Any], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Invalid value for parameter '{name}'.") from None


def bool_param(params: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ApiError(400, f"Invalid value for parameter '{name}'.")
