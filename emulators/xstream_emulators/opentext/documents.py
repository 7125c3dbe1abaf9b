"""Document versions: add, list, pick one for download. Pure (content moves through ContentStore).

Standard versioning numbers versions 1, 2, 3 (``version_number_major`` 0, minor = number);
``add_major_version=true`` starts the next major (1.0, then 1.1 …) as advanced versioning does.
The MIME type comes from the file part's Content-Type, else from the file name's extension.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from xstream_emulators.opentext import categories as cats
from xstream_emulators.opentext.model import (
    AUDIT_ADD_VERSION,
    AUDIT_ATTRIBUTE_CHANGED,
    DOCUMENT,
    NOT_ACCESSIBLE,
    ApiError,
    Node,
    Version,
)

if TYPE_CHECKING:
    from xstream_emulators.opentext.content import Upload
    from xstream_emulators.opentext.state import OpenTextState

MAX_DESCRIPTION = 255
GENERIC_TYPES = ("", "application/octet-stream", "binary/octet-stream")


def mime_type(upload: Upload) -> str:
    given = upload.content_type.split(";", 1)[0].strip().lower()
    if given not in GENERIC_TYPES:
        return given
    guessed, _ = mimetypes.guess_type(upload.filename)
    return guessed or "application/octet-stream"


def add_first_version(state: OpenTextState, node: Node, upload: Upload, user_id: int, description: str) -> Version:
    return _append(state, node, upload, user_id, description, major=False)


def add_version(state: OpenTextState, username: str, node: Node, fields: Mapping[str, Any],
                upload: Upload | None) -> Version:
    """POST /v2/nodes/{id}/versions with the file already streamed to disk."""
    if node.type != DOCUMENT:
        raise ApiError(400, f"Could not process object, type '{node.type_name}' has no role 'versions'")
    if upload is None:
        raise ApiError(400, "Missing required parameter 'File'")
    major = _bool(fields.get("add_major_version"))
    description = str(fields.get("description") or "")
    if len(description) > MAX_DESCRIPTION:
        raise ApiError(400, f"The version description must not be longer than {MAX_DESCRIPTION} characters.")
    roles = fields.get("roles")
    flat = roles.get("categories", {}) if isinstance(roles, dict) else {}
    grouped = cats.group_flat(state, flat if isinstance(flat, dict) else {})
    user_id = state.user_id(username)
    version = _append(state, node, upload, user_id, description, major=major)
    if grouped:
        cats.apply_initial(state, node, grouped, action="Update")
    state.touch(node, user_id)
    state.record(node.id, AUDIT_ADD_VERSION, user_id)
    if grouped:
        state.record(node.id, AUDIT_ATTRIBUTE_CHANGED, user_id)
    return version


def _append(state: OpenTextState, node: Node, upload: Upload, user_id: int, description: str, *,
            major: bool) -> Version:
    blob = state.content.commit(upload)
    previous = node.latest
    if previous is None:
        numbers = (1, 0) if major else (0, 1)
    elif major:
        numbers = (previous.major + 1, 0)
    else:
        numbers = (previous.major, previous.minor + 1)
    version = Version(
        number=len(node.versions) + 1, major=numbers[0], minor=numbers[1],
        file_name=upload.filename or node.name, mime_type=mime_type(upload), size=blob.size, sha256=blob.sha256,
        create_date=state.now_z(), owner_id=user_id, description=description, id=state.next_id(),
    )
    node.versions.append(version)
    state.changed(node.id)
    return version


def version(node: Node, number: int | None, status: int = 400) -> Version:
    """One version (None = latest); an unknown node/version or a non-document answers like the server."""
    if not node.versions:
        raise ApiError(status, NOT_ACCESSIBLE)
    if number is None:
        return node.versions[-1]
    if not 1 <= number <= len(node.versions):
        raise ApiError(status, NOT_ACCESSIBLE)
    return node.versions[number - 1]


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value or "").strip().lower()
    if text in ("", "false", "0", "no"):
        return False
    if text in ("true", "1", "yes"):
        return True
    raise ApiError(400, "Could not set feature Versioning, value must be a Boolean")
