"""In-memory Content Server: the seed, ids, nodes, sessions, OTDS tokens, audit. Pure (no aiohttp).

Rules enforced here are the ones the real server applies and clients must cope with: names are
unique per parent (500 "already exists"), a business object links to at most one workspace,
unknown nodes are 400 "Could not get a node for {id}". Every method runs to completion without
awaiting, so concurrent HTTP requests are serialised exactly as a transactional server would.
Domain logic lives in sibling modules (``workspaces``, ``teams``, ``nodes``, ``documents``,
``categories``, ``workflows``); they change this state through :meth:`touch`, :meth:`changed` and
:meth:`record` so modify dates, edit-conflict tokens, the audit trail and persistence stay right.
Every recorded audit event (and every finished workflow process, see ``workflows``) is passed to
the :attr:`listeners` (the emulated server-side event hooks, ``hook_sender``): the state knows
nothing about who listens or how they deliver.
"""

from __future__ import annotations

import random
import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xstream_emulators.opentext import categories as cats
from xstream_emulators.opentext.content import ContentStore
from xstream_emulators.opentext.faults import Faults
from xstream_emulators.opentext.model import (
    AUDIT_CREATE,
    CATEGORIES_VOLUME,
    CATEGORY,
    ENTERPRISE_VOLUME,
    FOLDER,
    MAX_NAME_LENGTH,
    TYPE_NAMES,
    WORKFLOW_MAP,
    WORKSPACE,
    ApiError,
    Attribute,
    AuditEvent,
    BusinessObject,
    CategoryDef,
    Change,
    DraftProcess,
    Node,
    Process,
    Role,
    Template,
    WorkflowMap,
    WorkspaceType,
)
from xstream_emulators.opentext.multipart import LargeFileSettings, UploadSession
from xstream_emulators.opentext.seed import (
    DOCUMENT_CATEGORY,
    ENTERPRISE_VOLUME_ID,
    FIRST_DYNAMIC_NODE_ID,
    SEED_TYPES,
    SEED_WORKFLOWS,
    AttributeSeed,
    WorkspaceTypeSeed,
)
from xstream_emulators.opentext.tickets import Session, TicketBook

if TYPE_CHECKING:
    from xstream_emulators.opentext.config import OpenTextEmulatorConfig

__all__ = [  # re-exported for the modules and tests that imported them from here
    "CATEGORY", "FOLDER", "MAX_NAME_LENGTH", "TYPE_NAMES", "WORKSPACE", "ApiError", "Attribute",
    "BusinessObject", "CategoryDef", "Node", "OpenTextState", "Template", "WorkspaceType",
]
FIRST_MEMBER_ID = 50_000
"""Workspace role ids (member ids, not node ids) are counted from here."""


@dataclass
class Dirty:
    """What changed since the last save (persistence); deleted ids are in the sets too."""

    nodes: set[int] = field(default_factory=set)
    roles: set[int] = field(default_factory=set)
    drafts: set[int] = field(default_factory=set)
    processes: set[int] = field(default_factory=set)
    everything: bool = True


class OpenTextState:
    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        ticket_lifetime_s: float = 1800.0,
        *,
        clock: Callable[[], float] = time.time,
        seed_types: tuple[WorkspaceTypeSeed, ...] = SEED_TYPES,
        content_dir: Path | None = None,
        otds_clients: Mapping[str, str] | None = None,
        otds_token_lifetime_s: float = 3600.0,
        faults: Faults | None = None,
        large_files: LargeFileSettings | None = None,
    ) -> None:
        self.users = dict(users or {"Admin": "livelink"})
        self.ticket_lifetime_s = ticket_lifetime_s
        self.clock = clock
        self.seed_types = seed_types
        self.content = ContentStore(content_dir)
        self.otds_clients = dict({"xstream": "xstream-secret"} if otds_clients is None else otds_clients)
        self.otds_token_lifetime_s = otds_token_lifetime_s
        self.initial_faults = faults or Faults()
        self.large_files = large_files or LargeFileSettings()
        """Large File Upload settings (``multipart``); kept across :meth:`reset`."""
        self.uploads: dict[str, UploadSession] = {}
        self.saver: Callable[[], None] | None = None
        """Set by persistence: writes what changed; called after mutating calls and resets."""
        self.listeners: list[Callable[[Change], None]] = []
        """Called synchronously with each change as it is recorded; they must not raise nor block (a
        listener that delivers does so later, from the event loop). Kept across :meth:`reset`."""
        self.reset(clear_content=False)

    @classmethod
    def from_config(cls, config: OpenTextEmulatorConfig, *, clock: Callable[[], float] = time.time) -> OpenTextState:
        """``clock`` (unix seconds) is the server's clock: modify, create and audit dates, ticket and
        token expiry. Tests may drive it instead of waiting for a second to pass."""
        return cls(config.users, config.ticket_lifetime_s, clock=clock, content_dir=config.content_dir,
                   otds_clients=config.otds_clients, otds_token_lifetime_s=config.otds_token_lifetime_s,
                   faults=config.faults, large_files=config.large_files)

    def reset(self, *, clear_content: bool = True) -> None:
        """Back to the seed: no workspaces, documents, sessions, call counts; the initial faults."""
        self.tickets = TicketBook(self.ticket_lifetime_s, self.clock)
        self.nodes: dict[int, Node] = {}
        self.children: dict[int, dict[str, int]] = {}
        self.types: dict[int, WorkspaceType] = {}
        self.templates: dict[int, Template] = {}
        self.categories: dict[int, CategoryDef] = {}
        self.bo_index: dict[BusinessObject, int] = {}
        self.recent: dict[str, list[int]] = {}
        self.roles: dict[int, Role] = {}
        self.relations: set[tuple[int, int]] = set()
        """Workspace relations as (parent workspace id, child workspace id)."""
        self.audit: list[AuditEvent] = []
        self.audit_by_node: dict[int, list[AuditEvent]] = {}
        self.workflow_maps: dict[int, WorkflowMap] = {}
        self.drafts: dict[int, DraftProcess] = {}
        self.processes: dict[int, Process] = {}
        self.calls: Counter[str] = Counter()
        self.faults = self.initial_faults
        self.rng = random.Random(0)
        self.injected_faults = 0
        self.lost_answers = 0
        """Calls whose effect was committed and whose answer was then lost (fault ``lost_answer_rate``)."""
        self.bearer_tokens: dict[str, str] = {}
        """OAuth bearer tokens the server accepts instead of a ticket: token -> username."""
        self.bearer_expiry: dict[str, float] = {}
        """Expiry (clock time) of the tokens issued by the emulated OTDS; others never expire."""
        self.bearer_sessions: dict[str, Session] = {}
        self.dirty = Dirty()
        for session in self.uploads.values():
            session.discard()
        self.uploads = {}
        """Large File Upload sessions by upload key (``multipart``); not persisted."""
        if clear_content:
            self.content.clear()
        self.id_counter = ENTERPRISE_VOLUME_ID
        self.member_counter = FIRST_MEMBER_ID
        self._seed()
        self.id_counter = max(self.id_counter, FIRST_DYNAMIC_NODE_ID)
        self.flush()

    def _seed(self) -> None:
        self._add_node("Enterprise", ENTERPRISE_VOLUME, parent_id=-1)
        folders = {s.type_id: self._add_node(s.folder, FOLDER, ENTERPRISE_VOLUME_ID) for s in self.seed_types}
        cat_volume = self._add_node("Content Server Categories", CATEGORIES_VOLUME, parent_id=-1)
        cat_ids: dict[int, int] = {}
        for seed in self.seed_types:
            cat_ids[seed.type_id] = self._add_category(seed.category, seed.attributes, cat_volume.id).id
            self.types[seed.type_id] = WorkspaceType(seed.type_id, seed.name, folders[seed.type_id].id,
                                                     role_names=seed.roles)
        tpl_volume = self._add_node("Content Server Document Templates", FOLDER, parent_id=-1)
        for seed in self.seed_types:
            cat_id = cat_ids[seed.type_id]
            tpl = self._add_node(seed.template, WORKSPACE, tpl_volume.id, wksp_type_id=seed.type_id)
            tpl.categories = {cat_id: cats.default_values(self.categories[cat_id])}
            self.templates[tpl.id] = Template(tpl.id, seed.template, seed.type_id, [cat_id])
            self.types[seed.type_id].template_ids.append(tpl.id)
        self._add_category(DOCUMENT_CATEGORY[0], DOCUMENT_CATEGORY[1], cat_volume.id)
        maps_volume = self._add_node("Workflow Maps", FOLDER, parent_id=-1)
        for wf in SEED_WORKFLOWS:
            node = self._add_node(wf.name, WORKFLOW_MAP, maps_volume.id)
            self.workflow_maps[node.id] = WorkflowMap(node.id, wf.name, wf.start_step_enabled, wf.steps)

    def _add_category(self, name: str, attributes: tuple[AttributeSeed, ...], parent_id: int) -> Node:
        cat = self._add_node(name, CATEGORY, parent_id)
        attrs: list[Attribute] = []
        number = 2
        for seed in attributes:
            key = f"{cat.id}_{number}"
            number += 1
            subs: list[Attribute] = []
            for sub in seed.attributes:
                subs.append(Attribute(f"{key}_x_{number}", sub.title, sub.type))
                number += 1
            attrs.append(Attribute(key, seed.title, seed.type, tuple(subs), seed.max_rows if subs else 0))
        self.categories[cat.id] = CategoryDef(cat.id, name, attrs)
        return cat

    # --- ids, time, change tracking -----------------------------------------------------------

    def flush(self) -> None:
        """Save the changes since the last flush (no-op without a database)."""
        if self.saver is not None:
            self.saver()

    def now(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%S")

    def now_z(self) -> str:
        return f"{self.now()}Z"

    def next_id(self) -> int:
        self.id_counter += 1
        return self.id_counter - 1

    def next_member_id(self) -> int:
        self.member_counter += 1
        return self.member_counter - 1

    def _add_node(self, name: str, type_: int, parent_id: int, **extra: Any) -> Node:
        node = Node(self.next_id(), name, parent_id, type_, self.now(), **extra)
        node.metadata_token = cats.new_token()
        self.nodes[node.id] = node
        self.children.setdefault(parent_id, {})[name] = node.id
        self.dirty.nodes.add(node.id)
        return node

    def add_node(self, name: str, type_: int, parent_id: int, user_id: int, **extra: Any) -> Node:
        """A new node under ``parent_id`` (names unique per parent) with a Create audit event."""
        if name in self.children.get(parent_id, {}):
            raise ApiError(500, f"An item with the name '{name}' already exists.")
        node = self._add_node(name, type_, parent_id, create_user_id=user_id, **extra)
        self.record(node.id, AUDIT_CREATE, user_id)
        return node

    def touch(self, node: Node, user_id: int) -> None:
        """A user changed the node: new modify date, user and edit-conflict token; save it."""
        node.modify_date = self.now()
        node.modify_user_id = user_id
        node.metadata_token = cats.new_token()
        self.dirty.nodes.add(node.id)

    def changed(self, node_id: int) -> None:
        """Save the node (or its removal) with the next flush, without a visible change."""
        self.dirty.nodes.add(node_id)

    def record(self, node_id: int, event_type: int, user_id: int) -> AuditEvent:
        event = AuditEvent(len(self.audit), node_id, event_type, self.now_z(), user_id)
        self.audit.append(event)
        self.audit_by_node.setdefault(node_id, []).append(event)
        self.notify(event)
        return event

    def notify(self, change: Change) -> None:
        for listener in list(self.listeners):
            listener(change)

    # --- users, sessions, OTDS tokens ---------------------------------------------------------

    def user_id(self, username: str) -> int:
        others = sorted(u for u in self.users if u != "Admin")
        return 1000 if username == "Admin" else 1001 + others.index(username)

    def username_for(self, user_id: int) -> str | None:
        return next((u for u in self.users if self.user_id(u) == user_id), None)

    def login(self, username: str, password: str) -> str:
        if self.users.get(username) != password:
            raise ApiError(401, "Invalid username/password specified.")
        return self.tickets.issue(self.tickets.open(username))

    def session_for(self, ticket: str | None, bearer: str | None) -> Session:
        """The caller's session from an OTCSTicket or a registered bearer token, else 401."""
        if ticket:
            session = self.tickets.check(ticket)
        elif bearer and bearer in self.bearer_tokens and self._bearer_alive(bearer):
            session = self.bearer_sessions.get(bearer)
            if session is None or not self.tickets.is_open(session):
                session = self.bearer_sessions[bearer] = self.tickets.open(self.bearer_tokens[bearer])
        else:
            session = None
        if session is None:
            raise ApiError(401, "Authentication Required")
        return session

    def _bearer_alive(self, token: str) -> bool:
        expiry = self.bearer_expiry.get(token)
        if expiry is None or expiry > self.clock():
            return True
        for table in (self.bearer_tokens, self.bearer_expiry, self.bearer_sessions):
            table.pop(token, None)
        return False

    def issue_otds_token(self, client_id: str, client_secret: str) -> str:
        """client_credentials grant: a bearer token acting as Admin, or 401 invalid_client."""
        if client_id not in self.otds_clients or not secrets.compare_digest(
            self.otds_clients[client_id].encode(), client_secret.encode()
        ):
            raise ApiError(401, "invalid_client")
        token = secrets.token_urlsafe(32)
        self.bearer_tokens[token] = "Admin"
        self.bearer_expiry[token] = self.clock() + self.otds_token_lifetime_s
        return token

    def expire_otds_tokens(self) -> None:
        for token in list(self.bearer_expiry):
            for table in (self.bearer_tokens, self.bearer_expiry, self.bearer_sessions):
                table.pop(token, None)

    # --- nodes --------------------------------------------------------------------------------

    def node(self, node_id: int, status: int = 400) -> Node:
        node = self.nodes.get(node_id)
        if node is None:
            raise ApiError(status, f"Could not get a node for {node_id}")
        return node

    def workspace(self, node_id: int) -> Node:
        node = self.nodes.get(node_id)
        if node is None or node.wksp_type_id is None or node.id in self.templates:
            raise ApiError(404, f"The business workspace {node_id} could not be found.")
        return node

    def workspaces(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.type == WORKSPACE and n.id not in self.templates]

    def touch_recent(self, username: str, node_id: int) -> None:
        recent = self.recent.setdefault(username, [])
        if node_id in recent:
            recent.remove(node_id)
        recent.insert(0, node_id)

    def is_seed(self, node_id: int) -> bool:
        return node_id < FIRST_DYNAMIC_NODE_ID

    # --- business workspaces (kept here for callers of the original API) ----------------------

    def create_workspace(self, username: str, fields: Mapping[str, Any]) -> Node:
        from xstream_emulators.opentext import workspaces

        return workspaces.create_workspace(self, username, fields)

    def search_workspaces(
        self,
        username: str,
        *,
        expanded: bool,
        bo: Mapping[str, str | None] | None = None,
        type_id: int | None = None,
        name: str | None = None,
    ) -> list[Node]:
        from xstream_emulators.opentext import workspaces

        return workspaces.search(self, username, expanded=expanded, bo=bo, type_id=type_id, name=name)

    # --- admin --------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        from xstream_emulators.opentext import snapshot

        return snapshot.snapshot(self)
