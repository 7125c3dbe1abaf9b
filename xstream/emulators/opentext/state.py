"""In-memory Content Server: nodes, workspace types, categories, sessions. Pure (no aiohttp).

Rules enforced here are the ones the real server applies and clients must cope with: names are
unique per parent (500 "already exists"), a business object links to at most one workspace,
unknown nodes are 400 "Could not get a node for {id}". Every method runs to completion without
awaiting, so concurrent HTTP requests are serialised exactly as a transactional server would.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from xstream.emulators.opentext.faults import Faults
from xstream.emulators.opentext.seed import (
    ENTERPRISE_VOLUME_ID,
    FIRST_DYNAMIC_NODE_ID,
    SEED_TYPES,
    WorkspaceTypeSeed,
)
from xstream.emulators.opentext.tickets import Session, TicketBook

WORKSPACE = 848
FOLDER = 0
CATEGORY = 131
MAX_NAME_LENGTH = 248
TYPE_NAMES = {0: "Folder", 131: "Category", 132: "Category Folder", 141: "Enterprise Workspace",
              848: "Business Workspace"}


class ApiError(Exception):
    """An answer the real server gives as ``{"error": message}`` with this HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class BusinessObject:
    ext_system_id: str
    bo_type: str
    bo_id: str


@dataclass(frozen=True)
class Attribute:
    key: str
    title: str
    type: str


@dataclass
class CategoryDef:
    id: int
    name: str
    attributes: list[Attribute]

    def keys(self) -> list[str]:
        return [a.key for a in self.attributes]


@dataclass
class WorkspaceType:
    id: int
    name: str
    location_id: int | None
    template_ids: list[int] = field(default_factory=list)


@dataclass
class Template:
    id: int
    name: str
    type_id: int
    category_ids: list[int]


@dataclass
class Node:
    id: int
    name: str
    parent_id: int
    type: int
    create_date: str
    create_user_id: int = 1000
    description: str = ""
    wksp_type_id: int | None = None
    template_id: int | None = None
    categories: dict[int, dict[str, Any]] = field(default_factory=dict)
    business_objects: list[BusinessObject] = field(default_factory=list)

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type, "Unknown")


class OpenTextState:
    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        ticket_lifetime_s: float = 1800.0,
        *,
        clock: Callable[[], float] = time.time,
        seed_types: tuple[WorkspaceTypeSeed, ...] = SEED_TYPES,
    ) -> None:
        self.users = dict(users or {"Admin": "livelink"})
        self.ticket_lifetime_s = ticket_lifetime_s
        self.clock = clock
        self.seed_types = seed_types
        self.reset()

    def reset(self) -> None:
        """Back to the seed: no workspaces, sessions, call counts or faults."""
        self.tickets = TicketBook(self.ticket_lifetime_s, self.clock)
        self.nodes: dict[int, Node] = {}
        self.children: dict[int, dict[str, int]] = {}
        self.types: dict[int, WorkspaceType] = {}
        self.templates: dict[int, Template] = {}
        self.categories: dict[int, CategoryDef] = {}
        self.bo_index: dict[BusinessObject, int] = {}
        self.recent: dict[str, list[int]] = {}
        self.calls: Counter[str] = Counter()
        self.faults = Faults()
        self.rng = random.Random(0)
        self.injected_faults = 0
        self.bearer_tokens: dict[str, str] = {}
        """OAuth bearer tokens the server accepts instead of a ticket: token -> username."""
        self.bearer_sessions: dict[str, Session] = {}
        self._next_id = ENTERPRISE_VOLUME_ID
        self._seed()
        self._next_id = max(self._next_id, FIRST_DYNAMIC_NODE_ID)

    def _seed(self) -> None:
        self._add_node("Enterprise", 141, parent_id=-1)
        folders = {s.type_id: self._add_node(s.folder, FOLDER, ENTERPRISE_VOLUME_ID) for s in self.seed_types}
        cat_volume = self._add_node("Content Server Categories", 132, parent_id=-1)
        cat_ids: dict[int, int] = {}
        for seed in self.seed_types:
            cat = self._add_node(seed.category, CATEGORY, cat_volume.id)
            attrs = [Attribute(f"{cat.id}_{n}", a.title, a.type) for n, a in enumerate(seed.attributes, start=2)]
            self.categories[cat.id] = CategoryDef(cat.id, seed.category, attrs)
            self.types[seed.type_id] = WorkspaceType(seed.type_id, seed.name, folders[seed.type_id].id)
            cat_ids[seed.type_id] = cat.id
        tpl_volume = self._add_node("Content Server Document Templates", FOLDER, parent_id=-1)
        for seed in self.seed_types:
            cat_id = cat_ids[seed.type_id]
            tpl = self._add_node(seed.template, WORKSPACE, tpl_volume.id, wksp_type_id=seed.type_id)
            tpl.categories = {cat_id: dict.fromkeys(self.categories[cat_id].keys())}
            self.templates[tpl.id] = Template(tpl.id, seed.template, seed.type_id, [cat_id])
            self.types[seed.type_id].template_ids.append(tpl.id)

    def now(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%S")

    def _add_node(self, name: str, type_: int, parent_id: int, **extra: Any) -> Node:
        node = Node(self._next_id, name, parent_id, type_, self.now(), **extra)
        self._next_id += 1
        self.nodes[node.id] = node
        self.children.setdefault(parent_id, {})[name] = node.id
        return node

    # --- users and sessions -------------------------------------------------------------------

    def user_id(self, username: str) -> int:
        others = sorted(u for u in self.users if u != "Admin")
        return 1000 if username == "Admin" else 1001 + others.index(username)

    def login(self, username: str, password: str) -> str:
        if self.users.get(username) != password:
            raise ApiError(401, "Invalid username/password specified.")
        return self.tickets.issue(self.tickets.open(username))

    def session_for(self, ticket: str | None, bearer: str | None) -> Session:
        """The caller's session from an OTCSTicket or a registered bearer token, else 401."""
        if ticket:
            session = self.tickets.check(ticket)
        elif bearer and bearer in self.bearer_tokens:
            session = self.bearer_sessions.get(bearer)
            if session is None or not self.tickets.is_open(session):
                session = self.bearer_sessions[bearer] = self.tickets.open(self.bearer_tokens[bearer])
        else:
            session = None
        if session is None:
            raise ApiError(401, "Authentication Required")
        return session

    # --- nodes --------------------------------------------------------------------------------

    def node(self, node_id: int) -> Node:
        node = self.nodes.get(node_id)
        if node is None:
            raise ApiError(400, f"Could not get a node for {node_id}")
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

    # --- business workspaces ------------------------------------------------------------------

    def create_workspace(self, username: str, fields: Mapping[str, Any]) -> Node:
        """POST /v2/businessworkspaces with the fields already decoded from any encoding."""
        template = self._template_for(fields)
        wtype = self.types[template.type_id]
        name = str(fields.get("name") or "").strip()
        if not name:
            raise ApiError(400, "The workspace name is required: this workspace type has no naming rule.")
        if len(name) > MAX_NAME_LENGTH:
            raise ApiError(400, f"The name must not be longer than {MAX_NAME_LENGTH} characters.")
        parent_id = _optional_int(fields, "parent_id")
        if parent_id is None:
            parent_id = wtype.location_id
        if parent_id is None:
            raise ApiError(400, "The parent_id is required for this workspace type.")
        parent = self.node(parent_id)
        if parent.type not in (FOLDER, 141, WORKSPACE) or parent.id in self.templates:
            raise ApiError(400, f"Node {parent_id} cannot contain a business workspace.")
        bo = _business_object(fields)
        categories = self._categories_for(template, fields.get("roles"))
        if bo is not None and bo in self.bo_index:
            # The reference leaves this unconfirmed (docs/opentext-api.md section 8). We answer 400
            # with an error message: a client must look the workspace up again, never get a duplicate.
            raise ApiError(
                400,
                f"The business object {bo.ext_system_id}/{bo.bo_type}/{bo.bo_id} is already "
                f"linked to business workspace {self.bo_index[bo]}.",
            )
        if name in self.children.get(parent_id, {}):
            raise ApiError(500, f"An item with the name '{name}' already exists.")
        node = self._add_node(
            name, WORKSPACE, parent_id,
            create_user_id=self.user_id(username),
            description=str(fields.get("description") or ""),
            wksp_type_id=wtype.id,
            template_id=template.id,
            categories=categories,
            business_objects=[bo] if bo else [],
        )
        if bo is not None:
            self.bo_index[bo] = node.id
        self.touch_recent(username, node.id)
        return node

    def _template_for(self, fields: Mapping[str, Any]) -> Template:
        template_id = _optional_int(fields, "template_id")
        type_id = _optional_int(fields, "wksp_type_id")
        if template_id is not None:
            template = self.templates.get(template_id)
            if template is None:
                raise ApiError(404, f"The workspace template {template_id} could not be found.")
            if type_id is not None and type_id != template.type_id:
                raise ApiError(400, f"The template {template_id} does not belong to workspace type {type_id}.")
            return template
        if type_id is None:
            raise ApiError(400, "Either template_id or wksp_type_id must be provided.")
        wtype = self.types.get(type_id)
        if wtype is None or not wtype.template_ids:
            raise ApiError(404, f"The workspace type {type_id} could not be found.")
        return self.templates[wtype.template_ids[0]]

    def _categories_for(self, template: Template, roles: Any) -> dict[int, dict[str, Any]]:
        values = {cat_id: dict.fromkeys(self.categories[cat_id].keys()) for cat_id in template.category_ids}
        if roles is None:
            return values
        given = roles.get("categories", {}) if isinstance(roles, dict) else None
        if not isinstance(given, dict):
            raise ApiError(400, "Invalid value for parameter 'roles': expected {\"categories\": {...}}.")
        for raw_cat, attrs in given.items():
            cat_id = int(raw_cat) if str(raw_cat).isdigit() else -1
            if cat_id not in values:
                raise ApiError(400, f"Category ID '{raw_cat}' is not a category of template {template.id}.")
            if not isinstance(attrs, dict):
                raise ApiError(400, f"The values of category {raw_cat} must be an object.")
            for key, value in attrs.items():
                if key == f"{cat_id}_1":
                    continue  # carries the metadata_token, not a value
                if key not in values[cat_id]:
                    raise ApiError(400, f"The attribute '{key}' is a non-matching attribute for category {cat_id}.")
                values[cat_id][key] = value
        return values

    def search_workspaces(
        self,
        username: str,
        *,
        expanded: bool,
        bo: Mapping[str, str | None] | None = None,
        type_id: int | None = None,
        name: str | None = None,
    ) -> list[Node]:
        """The expanded view searches every workspace; the collapsed one only the user's recent list."""
        if expanded:
            candidates = sorted(self.workspaces(), key=lambda n: (n.name.casefold(), n.id))
        else:
            candidates = [self.nodes[i] for i in self.recent.get(username, []) if i in self.nodes]
        wanted = {k: v for k, v in (bo or {}).items() if v is not None}
        return [
            n for n in candidates
            if (type_id is None or n.wksp_type_id == type_id)
            and (name is None or _name_matches(n.name, name))
            and (not wanted or any(all(getattr(b, k) == v for k, v in wanted.items()) for b in n.business_objects))
        ]

    # --- admin --------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        workspaces = [
            {
                "id": n.id,
                "name": n.name,
                "parent_id": n.parent_id,
                "wksp_type_id": n.wksp_type_id,
                "wksp_type_name": self.types[n.wksp_type_id].name if n.wksp_type_id in self.types else None,
                "template_id": n.template_id,
                "business_objects": [asdict(b) for b in n.business_objects],
                "categories": {k: v for values in n.categories.values() for k, v in values.items()},
                "create_date": n.create_date,
            }
            for n in sorted(self.workspaces(), key=lambda n: n.id)
        ]
        counts = {"workspaces": len(workspaces), "nodes": len(self.nodes), "sessions": self.tickets.session_count,
                  "calls": sum(self.calls.values())}
        return {"workspaces": workspaces, "counts": counts}


def _optional_int(fields: Mapping[str, Any], name: str) -> int | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ApiError(400, f"Invalid value for parameter '{name}'.")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Invalid value for parameter '{name}'.") from None


def _business_object(fields: Mapping[str, Any]) -> BusinessObject | None:
    parts = {k: fields.get(k) for k in ("ext_system_id", "bo_type", "bo_id")}
    present = {k: str(v) for k, v in parts.items() if v not in (None, "")}
    if not present:
        return None
    if len(present) < 3:
        missing = sorted(set(parts) - set(present))
        raise ApiError(400, f"A business object needs ext_system_id, bo_type and bo_id; missing {missing}.")
    return BusinessObject(present["ext_system_id"], present["bo_type"], present["bo_id"])


def _name_matches(name: str, wanted: str) -> bool:
    if wanted.startswith("contains_"):
        return wanted.removeprefix("contains_").casefold() in name.casefold()
    if wanted.startswith("startswith_"):
        return name.casefold().startswith(wanted.removeprefix("startswith_").casefold())
    return name == wanted
