"""Async client of the Content Server REST API: the calls xstream needs.

One aiohttp session per client (connection limit and timeouts from settings), one credential
(OTCSTicket login, or an OTDS bearer token when ``settings.uses_otds``). Every failure is an
``xstream.errors.SinkError`` classified at xstream's HTTP boundary (:mod:`xstream.http`, in Content
Server's dialect); the client never sleeps or retries
except for two things the retry policy must not see: a 401 triggers one fresh authentication
(shared by all concurrent callers) and one repeat of the call; and inside one Large File Upload a
part or step whose answer was lost (or that failed retriably) is sent again, and an expired session
started over, since a retry of the whole upload by the caller would send every part again. The calls live in small parts,
combined here:

- :class:`~.workspaces.WorkspacesApi`: types, find/create/ensure, read, bulk upsert, references,
  related workspaces, roles and members;
- :class:`~.nodes.NodesApi`: get, browse, folders and paths, rename/move/delete, versions, audit;
- :class:`~.versions.VersionsApi`: one version (read, lock, unlock, promote, delete), the copy link;
- :class:`~.categories.CategoriesApi`: category values by name (apply, update, locking);
- :class:`~.large_files.LargeFilesApi`: Large File Upload (settings, sessions, parts);
- :class:`~.documents.DocumentsApi`: upload from a body (one request or Large File Upload),
  upsert by name and hash, download as a body, a chunk iterator or a file;
- :class:`~.workflows.WorkflowsApi`: start a workflow on documents, its status.

Passwords, client secrets, tickets and tokens are never logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType

import aiohttp

from xstream.clients.opentext.documents import DocumentsApi
from xstream.clients.opentext.forms import CategoryKeyMap
from xstream.clients.opentext.models import LargeFileSettings, WorkspaceType
from xstream.clients.opentext.transport import Transport
from xstream.clients.opentext.workflows import WorkflowsApi
from xstream.clients.opentext.workspaces import WorkspacesApi
from xstream.settings import OpenTextSettings
from xstream.transform.opentext_requests import CategoryKeys


class OpenTextClient(DocumentsApi, WorkspacesApi, WorkflowsApi):
    def __init__(self, settings: OpenTextSettings, *, session: aiohttp.ClientSession | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``clock`` (monotonic seconds) says when an OTDS token is due for renewal; tests drive it."""
        self._settings = settings
        self._transport = Transport(settings, session=session, clock=clock)
        self._types: list[WorkspaceType] | None = None
        self._types_lock = asyncio.Lock()
        self._key_maps: dict[int, CategoryKeyMap] = {}
        self._category_ids: dict[str, int] = {}
        self._node_category_keys: dict[int, CategoryKeys] = {}
        self._large_file_settings: LargeFileSettings | None = None

    async def __aenter__(self) -> OpenTextClient:
        self._transport.session.get()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._transport.close()

    async def login(self) -> None:
        """Authenticate now (ticket login or OTDS token); a refused login is AuthenticationFailed at once."""
        await self._transport.auth.login()
