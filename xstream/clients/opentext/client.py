"""Async client of the Content Server REST API: the calls xstream needs for business workspaces.

One aiohttp session per client (connection limit and timeouts from settings). Every failure is
an ``xstream.errors.SinkError`` classified in :mod:`.boundary`; the client never sleeps or retries
except for one thing the retry policy must not see: a 401 triggers one fresh login (shared by all
concurrent callers under a lock) and one repeat of the call. Requests are form-encoded with
nested payloads in a ``body`` field, which every Content Server version accepts. The password
and tickets are never logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
import orjson
from pydantic import ValidationError

from xstream.clients.opentext.boundary import TARGET, Unauthorized, parse_response, transport_errors
from xstream.clients.opentext.forms import CategoryKeyMap, parse_create_form
from xstream.clients.opentext.models import (
    BusinessObjectRef,
    EnsureResult,
    Node,
    Template,
    WorkspaceCreateRequest,
    WorkspaceRef,
    WorkspaceType,
)
from xstream.errors import AlreadyExists, AuthenticationFailed, SinkRejected, SinkUnavailable
from xstream.settings import OpenTextSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


class OpenTextClient:
    def __init__(self, settings: OpenTextSettings, *, session: aiohttp.ClientSession | None = None) -> None:
        self._settings = settings
        self._base = str(settings.base_url).rstrip("/")
        self._session = session
        self._owns_session = session is None
        self._ticket: str | None = None
        self._login_generation = 0
        self._login_lock = asyncio.Lock()
        self._types: list[WorkspaceType] | None = None
        self._types_lock = asyncio.Lock()
        self._key_maps: dict[int, CategoryKeyMap] = {}

    async def __aenter__(self) -> OpenTextClient:
        self._http()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            s = self._settings
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=s.max_connections),
                timeout=aiohttp.ClientTimeout(total=s.request_timeout_s, connect=s.connect_timeout_s),
                headers={"Accept": "application/json"},
            )
        return self._session

    # --- authentication ---------------------------------------------------------------------------

    async def login(self) -> None:
        """POST /api/v1/auth; a refused login is AuthenticationFailed at once (no retry helps)."""
        async with self._login_lock:
            await self._login_locked()

    async def _login_locked(self) -> None:
        s = self._settings
        form = {"username": s.username, "password": s.password.get_secret_value()}
        status, headers, body = await self._send("auth.login", "POST", "/api/v1/auth", data=form)
        if status == 401:
            raise AuthenticationFailed(f"auth.login: OpenText refused the login of {s.username!r}", status=401,
                                       target=TARGET)
        payload = parse_response("auth.login", status, headers, body)
        ticket = payload.get("ticket") if isinstance(payload, dict) else None
        if not isinstance(ticket, str) or not ticket:
            raise SinkUnavailable("auth.login: the answer carries no ticket", status=status, target=TARGET)
        self._ticket = ticket
        self._login_generation += 1
        log.info("opentext: logged in as %s", s.username)

    async def _relogin(self, failed_generation: int) -> None:
        """Log in again unless another caller already did since the failed request was sent."""
        async with self._login_lock:
            if self._login_generation == failed_generation:
                log.info("opentext: ticket refused, logging in again")
                await self._login_locked()

    # --- the one request path -----------------------------------------------------------------

    async def _send(
        self, operation: str, method: str, path: str, *, params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None, ticket: str | None = None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        headers = {"OTCSTicket": ticket} if ticket else None
        async with transport_errors(operation):
            async with self._http().request(method, self._base + path, params=params, data=data,
                                            headers=headers) as response:
                return response.status, response.headers, await response.read()

    async def _call(
        self, operation: str, method: str, path: str, *, params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
    ) -> Any:
        if self._ticket is None:
            async with self._login_lock:
                if self._ticket is None:
                    await self._login_locked()
        generation = self._login_generation
        try:
            return await self._authorized(operation, method, path, params, data, generation)
        except Unauthorized:
            await self._relogin(generation)
        try:
            return await self._authorized(operation, method, path, params, data, self._login_generation)
        except Unauthorized as exc:
            raise AuthenticationFailed(f"{operation}: HTTP 401 again after a fresh login", status=401,
                                       target=TARGET) from exc

    async def _authorized(
        self, operation: str, method: str, path: str, params: Mapping[str, str] | None,
        data: Mapping[str, str] | None, generation: int,
    ) -> Any:
        status, headers, body = await self._send(operation, method, path, params=params, data=data,
                                                 ticket=self._ticket)
        fresh = headers.get("OTCSTicket")
        if fresh and status != 401 and generation == self._login_generation:
            self._ticket = fresh  # Content Server renews the ticket on each call; keep the newest
        return parse_response(operation, status, headers, body)

    # --- business workspaces ------------------------------------------------------------------

    async def workspace_types(self) -> list[WorkspaceType]:
        """All workspace types with their templates; read once per client (they rarely change)."""
        async with self._types_lock:
            if self._types is None:
                payload = await self._call("workspacetypes.list", "GET", "/api/v2/businessworkspacetypes",
                                           params={"expand_templates": "true"})
                self._types = _shape("workspacetypes.list", lambda: [_workspace_type(r) for r in payload["results"]])
        return list(self._types)

    async def find_workspace(self, bo: BusinessObjectRef) -> WorkspaceRef | None:
        """The workspace linked to a business object, searching all workspaces (expanded view)."""
        params = {"where_ext_system_id": bo.ext_system_id, "where_bo_type": bo.bo_type,
                  "where_bo_id": bo.bo_id, "expanded_view": "true", "page": "1", "limit": "10"}
        payload = await self._call("workspaces.search", "GET", "/api/v2/businessworkspaces", params=params)
        refs = _shape("workspaces.search", lambda: [_workspace_ref(r) for r in payload["results"]])
        if len(refs) > 1:
            log.warning("opentext: %d workspaces for %s/%s/%s, using the oldest", len(refs), bo.ext_system_id,
                        bo.bo_type, bo.bo_id)
        return min(refs, key=lambda r: r.node_id) if refs else None

    async def create_workspace(self, request: WorkspaceCreateRequest) -> int:
        """POST /api/v2/businessworkspaces with ``body=<JSON>``; returns the new node id."""
        body = orjson.dumps(request.to_body()).decode()
        payload = await self._call("workspaces.create", "POST", "/api/v2/businessworkspaces", data={"body": body})
        return _shape("workspaces.create", lambda: int(payload["results"]["id"]))

    async def ensure_workspace(self, request: WorkspaceCreateRequest) -> EnsureResult:
        """Find or create the workspace of a business object, safe against concurrent creators.

        A create that fails as a duplicate (AlreadyExists, or a rejection such as "already linked")
        is followed by one more lookup: whoever won the race made the workspace we want. Other
        failures propagate; the retry policy's next attempt starts with a lookup anyway.
        """
        found = await self.find_workspace(request.business_object)
        if found is not None:
            return EnsureResult(node_id=found.node_id, created=False)
        try:
            node_id = await self.create_workspace(request)
        except (AlreadyExists, SinkRejected):
            found = await self.find_workspace(request.business_object)
            if found is None:
                raise
            return EnsureResult(node_id=found.node_id, created=False)
        return EnsureResult(node_id=node_id, created=True)

    async def category_keys(self, template_id: int) -> CategoryKeyMap:
        """Category/attribute titles -> keys of a template, from its create form; cached per template."""
        if template_id not in self._key_maps:
            payload = await self._call("forms.workspace_create", "GET", "/api/v2/forms/businessworkspaces/create",
                                       params={"template_id": str(template_id)})
            self._key_maps[template_id] = parse_create_form(payload)
        return self._key_maps[template_id]

    # --- nodes ----------------------------------------------------------------------------------

    async def get_node(self, node_id: int) -> Node:
        payload = await self._call("nodes.get", "GET", f"/api/v2/nodes/{int(node_id)}")
        return _shape("nodes.get", lambda: Node.from_properties(payload["results"]["data"]["properties"]))

    async def get_categories(self, node_id: int) -> dict[str, Any]:
        """All category values of a node as one flat ``{"{cat}_{attr}": value}`` map."""
        payload = await self._call("nodes.categories", "GET", f"/api/v2/nodes/{int(node_id)}/categories")

        def flatten() -> dict[str, Any]:
            values: dict[str, Any] = {}
            for entry in payload["results"]:
                values |= entry["data"]["categories"]
            return values

        return _shape("nodes.categories", flatten)


def _shape(operation: str, read: Callable[[], T]) -> T:
    """Read an answer; a 2xx whose JSON lacks what the API documents is treated as a bad gateway."""
    try:
        return read()
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise SinkUnavailable(f"{operation}: unexpected answer shape ({type(exc).__name__}: {exc})",
                              target=TARGET) from exc


def _workspace_type(result: Mapping[str, Any]) -> WorkspaceType:
    props = result["data"]["properties"]
    creation = props.get("wksp_creation") or {}
    location = creation.get("location_value") if creation.get("location") == "StaticNodeId" else None
    return WorkspaceType(
        id=props["wksp_type_id"],
        name=props["wksp_type_name"],
        templates=[Template(id=t["id"], name=t["name"]) for t in props.get("templates") or []],
        location_id=int(location) if location else None,
    )


def _workspace_ref(result: Mapping[str, Any]) -> WorkspaceRef:
    props = result["data"]["properties"]
    return WorkspaceRef(node_id=props["id"], name=props["name"], parent_id=props.get("parent_id"),
                        type_id=props.get("wnf_wksp_type_id"))
