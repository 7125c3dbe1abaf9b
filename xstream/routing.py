"""Where each command goes: one declared table from command kind to topic to the sink that applies it.

Flows do not name topics for their commands and runners do not name command types: both ask the
:class:`Router`. A workspace command goes to the workspace command topic (the OpenText sink); a
downstream command goes to its own target's topic (``xstream.commands.<target>``), read by that
target's runner alone, so one target's outage or backlog never holds another's. A new flow's command
kind (documents, cases, partner shares) is one more row here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from xstream.errors import ConfigError
from xstream.model.commands import DownstreamCommand, WorkspaceCommand
from xstream.model.documents import DocumentCommand
from xstream.topics import Role, TopicCatalog


@dataclass(frozen=True)
class Route:
    sink: str
    """"opentext", or "target" for the downstream target the command names."""
    kinds: frozenset[str]
    role: Role
    per_target: bool
    command_type: TypeAdapter[Any]


ROUTES: tuple[Route, ...] = (
    Route("opentext", frozenset({"ensure_workspace", "update_workspace"}), Role.COMMANDS, False,
          TypeAdapter(WorkspaceCommand)),
    Route("target", frozenset({"update_record", "start_approval", "notify"}), Role.DOWNSTREAM_COMMANDS, True,
          TypeAdapter(DownstreamCommand)),
    Route("documents", frozenset({"store_document", "mark_document", "publish_document", "lock_version",
                                  "set_document_attributes"}), Role.DOCUMENT_COMMANDS, False,
          TypeAdapter(DocumentCommand)),
)


class Router:
    def __init__(self, catalog: TopicCatalog, routes: tuple[Route, ...] = ROUTES) -> None:
        self._catalog = catalog
        self._by_kind = {kind: route for route in routes for kind in route.kinds}
        self.routes = routes

    def route(self, kind: str) -> Route:
        try:
            return self._by_kind[kind]
        except KeyError:
            raise ConfigError(f"no route for command kind {kind!r}") from None

    def topic_for(self, command: Any) -> str:
        """The topic a command is sent to (by its ``kind``, and its ``target`` for downstream ones)."""
        route = self.route(command.kind)
        if route.per_target:
            return self._catalog.for_target(route.role, command.target).name
        return self._catalog.one(route.role).name

    def topic_of_sink(self, route: Route, target: str | None = None) -> str:
        """The topic one sink's runner reads."""
        if route.per_target:
            if target is None:
                raise ConfigError(f"the {route.sink} route needs a target name")
            return self._catalog.for_target(route.role, target).name
        return self._catalog.one(route.role).name

    def for_sink(self, sink: str) -> Route:
        return next(route for route in self.routes if route.sink == sink)
