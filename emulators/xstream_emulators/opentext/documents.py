"""Document versions: add, list, pick one for download, lock, unlock, describe, delete, promote. Pure
(content moves through ContentStore).

Standard versioning numbers versions 1, 2, 3 (``version_number_major`` 0, minor = number);
``add_major_version=true`` starts the next major (1.0, then 1.1 …) as advanced versioning does, and
from then on the document uses advanced versioning (as one created with ``advanced_versioning``).
Version numbers are never reused: deleting version 2 of 3 leaves 1 and 3, the next is 4. The MIME
type comes from the file part's Content-Type, else from the file name's extension.

A locked version (``lock``; spec: "preventing it from being modified or deleted", distinct from
reserving the node) refuses a new description and a delete with 400 "Could not process object,
invalid action 'versions-…'" (the spec's answer to a delete the version does not allow; the update
message follows that pattern, the file names none). Everything else about the node stays open, as
the spec says: renaming it, and adding a new version, which becomes the current one while the
locked version keeps its content. Locking and unlocking are idempotent (a lock keeps its first date
and user). The current (latest) version cannot be deleted either. Promoting copies a version's
content as the next major version (advanced versioning only, else 500 "You cannot promote a
version for {name} which is using standard versioning").
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

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
    """POST /v2/nodes/{id}/versions with the file already streamed to disk (or a Large File Upload's)."""
    if node.type != DOCUMENT:
        raise ApiError(400, f"Could not process object, type '{node.type_name}' has no role 'versions'")
    if upload is None:
        raise ApiError(400, "Missing required parameter 'File'")
    major = flag(fields.get("add_major_version"))
    if major:
        node.advanced_versioning = True
    description = str(fields.get("description") or "")
    if len(description) > MAX_DESCRIPTION:
        raise ApiError(400, f"The version description must not be longer than {MAX_DESCRIPTION} characters.")
    roles = fields.get("roles")
    if isinstance(roles, str) and roles.strip():  # a form field: the JSON object as text
        try:
            roles = orjson.loads(roles)
        except orjson.JSONDecodeError:
            raise ApiError(400, "Invalid value for parameter 'roles'.") from None
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
    return _new_version(state, node, file_name=upload.filename or node.name, mime=mime_type(upload),
                        size=blob.size, sha256=blob.sha256, user_id=user_id, description=description, major=major)


def _new_version(state: OpenTextState, node: Node, *, file_name: str, mime: str, size: int, sha256: str,
                 user_id: int, description: str, major: bool) -> Version:
    previous = node.latest
    if previous is None:
        numbers = (1, 0) if major else (0, 1)
    elif major:
        numbers = (previous.major + 1, 0)
    else:
        numbers = (previous.major, previous.minor + 1)
    version = Version(
        number=previous.number + 1 if previous else 1, major=numbers[0], minor=numbers[1],
        file_name=file_name, mime_type=mime, size=size, sha256=sha256,
        create_date=state.now_z(), owner_id=user_id, description=description, id=state.next_id(),
    )
    node.versions.append(version)
    state.changed(node.id)
    return version


def version(node: Node, number: int | None, status: int = 400, message: str = NOT_ACCESSIBLE) -> Version:
    """One version (None = latest); an unknown node/version or a non-document answers like the server."""
    if not node.versions:
        raise ApiError(status, message)
    if number is None:
        return node.versions[-1]
    found = node.version(number)
    if found is None:
        raise ApiError(status, message)
    return found


GETTING_VERSION = "Error getting version for node"


def lock(state: OpenTextState, username: str, node: Node, number: int) -> Version:
    """POST /v2/nodes/{id}/versions/{n}/lock."""
    found = version(node, number, status=500, message=GETTING_VERSION)
    if not found.locked:
        found.locked, found.locked_date, found.locked_user_id = True, state.now_z(), state.user_id(username)
        state.changed(node.id)
    return found


def unlock(state: OpenTextState, node: Node, number: int) -> Version:
    """POST /v2/nodes/{id}/versions/{n}/unlock."""
    found = version(node, number, status=500, message=GETTING_VERSION)
    if found.locked:
        found.locked, found.locked_date, found.locked_user_id = False, None, None
        state.changed(node.id)
    return found


def update(state: OpenTextState, username: str, node: Node, number: int, fields: Mapping[str, Any]) -> Version:
    """PUT /v2/nodes/{id}/versions/{n}: a new description."""
    found = version(node, number, status=400, message=GETTING_VERSION)
    if found.locked:
        raise ApiError(400, "Could not process object, invalid action 'versions-update'")
    description = str(fields.get("description") or "")
    if len(description) > MAX_DESCRIPTION:
        raise ApiError(400, f"The version description must not be longer than {MAX_DESCRIPTION} characters.")
    found.description = description
    state.touch(node, state.user_id(username))
    return found


def delete(state: OpenTextState, username: str, node: Node, number: int) -> None:
    """DELETE /v2/nodes/{id}/versions/{n}: not a locked one, not the current one. The content stays
    in the blob store (it is shared by every version with the same bytes)."""
    found = version(node, number, status=400, message=GETTING_VERSION)
    if found.locked or found is node.latest:
        raise ApiError(400, "Could not process object, invalid action 'versions-delete'")
    node.versions.remove(found)
    state.touch(node, state.user_id(username))


def promote(state: OpenTextState, username: str, node: Node, number: int, description: str) -> Version:
    """POST /v2/nodes/{id}/versions/{n}/promote: version n's content as the next major version."""
    found = version(node, number, status=500, message=GETTING_VERSION)
    if not node.advanced_versioning:
        raise ApiError(500, f"You cannot promote a version for {node.name} which is using standard versioning")
    if len(description) > MAX_DESCRIPTION:
        raise ApiError(500, f"The version description must not be longer than {MAX_DESCRIPTION} characters.")
    user_id = state.user_id(username)
    promoted = _new_version(state, node, file_name=found.file_name, mime=found.mime_type, size=found.size,
                            sha256=found.sha256, user_id=user_id, description=description, major=True)
    state.touch(node, user_id)
    state.record(node.id, AUDIT_ADD_VERSION, user_id)
    return promoted


def flag(value: Any) -> bool:
    """A versioning switch (``add_major_version``, ``advanced_versioning``) as the server reads it."""
    if isinstance(value, bool):
        return value
    text = str(value or "").strip().lower()
    if text in ("", "false", "0", "no"):
        return False
    if text in ("true", "1", "yes"):
        return True
    raise ApiError(400, "Could not set feature Versioning, value must be a Boolean")
