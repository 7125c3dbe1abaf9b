"""Versions of a document, one by one: read, lock, unlock, promote, delete; and a node's copy link.

Paths (Content Server REST 2.0.2): ``GET /api/v2/nodes/{id}/versions/{n}``, ``GET
/api/v2/nodes/{id}/versions?order=desc&limit=1`` (the latest), ``POST
/api/v2/nodes/{id}/versions/{n}/lock|unlock|promote`` (each answers the version), ``DELETE
/api/v2/nodes/{id}/versions/{n}``, ``GET /api/v2/nodes/{id}/copylink`` -> ``results.link``.

A locked version cannot be modified or deleted; the node can (renamed, and given new versions):
locking is how "this approved copy stays as it is" is said, unlike reserving the node, which
stops everyone else from changing any of it. Lock and unlock are idempotent, so repeating one whose
answer was lost is harmless.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xstream.clients.opentext.base import results_list, shape
from xstream.clients.opentext.models import Version
from xstream.clients.opentext.nodes import NodesApi, version_entries


class VersionsApi(NodesApi):
    async def version(self, node_id: int, version: int) -> Version:
        """One version's metadata (name, size, MIME type, dates, lock); an unknown one is TargetNotFound."""
        payload = await self._call("versions.get", "GET", f"/api/v2/nodes/{int(node_id)}/versions/{int(version)}")
        return shape("versions.get", lambda: _the_version(payload))

    async def latest_version(self, node_id: int) -> Version:
        """The current version (one call: newest first, one per page)."""
        params = {"order": "desc", "limit": "1"}
        payload = await self._call("nodes.versions", "GET", f"/api/v2/nodes/{int(node_id)}/versions", params=params)
        # the highest number of what came back, should a release ignore the order
        return shape("nodes.versions", lambda: max(_all_versions(payload), key=lambda v: v.version_number))

    async def lock_version(self, node_id: int, version: int) -> Version:
        """Lock a version against modify and delete; the version as it is now (``locked``, date, user)."""
        return await self._version_action("lock", node_id, version)

    async def unlock_version(self, node_id: int, version: int) -> Version:
        return await self._version_action("unlock", node_id, version)

    async def promote_version(self, node_id: int, version: int, *, description: str = "") -> Version:
        """A copy of ``version`` as the next major version (documents with advanced versioning; others
        are refused, SinkRejected); returns the new version."""
        data = {"description": description[:255]} if description else None
        return await self._version_action("promote", node_id, version, data=data)

    async def delete_version(self, node_id: int, version: int) -> None:
        """Delete one version (neither a locked nor the current one: the server refuses, SinkRejected)."""
        await self._call("versions.delete", "DELETE", f"/api/v2/nodes/{int(node_id)}/versions/{int(version)}")

    async def copy_link(self, node_id: int) -> str:
        """The address users open the node at (what Content Server's "Copy link" gives), e.g. to write
        back into the source record."""
        payload = await self._call("nodes.copylink", "GET", f"/api/v2/nodes/{int(node_id)}/copylink")
        return shape("nodes.copylink", lambda: str(results_list(payload)[0]["link"]))

    async def _version_action(self, action: str, node_id: int, version: int,
                              data: Mapping[str, str] | None = None) -> Version:
        operation = f"versions.{action}"
        payload = await self._call(operation, "POST", f"/api/v2/nodes/{int(node_id)}/versions/{int(version)}/{action}",
                                   data=data)
        return shape(operation, lambda: _the_version(payload))


def _all_versions(payload: Any) -> list[Version]:
    return [v for r in results_list(payload) for v in version_entries(r)]


def _the_version(payload: Any) -> Version:
    found = _all_versions(payload)
    if len(found) != 1:
        raise ValueError(f"expected one version, the answer has {len(found)}")
    return found[0]
