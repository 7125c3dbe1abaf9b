"""Optional persistence of the emulator state in one SQLite file (stdlib ``sqlite3``).

One table per kind of object, one JSON blob per row: ``nodes`` (with versions, category values,
business objects), ``roles``, ``drafts``, ``processes``, ``audit`` (append-only) and ``meta``
(id counters, workspace relations, recent lists). After every mutating call the rows that changed
(``state.dirty``) are written in one transaction; at start the file, if it has data, replaces the
seeded state. Sessions, tickets, OTDS tokens, call counts and faults are not kept (a restarted
server has new ticket keys, so clients log in again), nor are hook registrations and their
delivery log (set-up like faults: a restart begins with the configured hooks). Shortcuts and
workflow attachments folders are nodes like any other (``original_id`` in the node blob), a
process's ``finished_date`` is in its blob, so are a version's lock and a document's versioning
mode; files written before those fields load with their defaults. Large File Upload sessions are
not kept (like tickets). Document content stays in ``content_dir``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from xstream_emulators.opentext.model import (
    AuditEvent,
    BusinessObject,
    DraftProcess,
    Node,
    Process,
    Role,
    Version,
)
from xstream_emulators.opentext.state import Dirty, OpenTextState

TABLES = ("nodes", "roles", "drafts", "processes", "audit")
SCHEMA_VERSION = 1


class SqliteStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(path)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        with self._conn:
            for table in TABLES:
                self._conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, data TEXT NOT NULL)")
            self._conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, data TEXT NOT NULL)")
        self._audit_saved = 0

    def attach(self, state: OpenTextState) -> None:
        """Load the file into ``state`` (if it holds data) and save on every later flush/reset."""
        if not self.load(state):
            self.save(state)
        state.saver = lambda: self.save(state)

    def load(self, state: OpenTextState) -> bool:
        meta = dict(self._conn.execute("SELECT key, data FROM meta"))
        if "next_id" not in meta:
            return False
        if orjson.loads(meta.get("schema", "1")) != SCHEMA_VERSION:
            raise RuntimeError(f"{self.path} was written by an incompatible emulator version")
        state.nodes = {n.id: n for n in (_node(orjson.loads(d)) for d in self._rows("nodes"))}
        state.children = {}
        state.bo_index = {}
        for node in sorted(state.nodes.values(), key=lambda n: n.id):
            state.children.setdefault(node.parent_id, {})[node.name] = node.id
            for bo in node.business_objects:
                state.bo_index[bo] = node.id
        state.roles = {r.id: r for r in (Role(**orjson.loads(d)) for d in self._rows("roles"))}
        state.drafts = {d.id: d for d in (DraftProcess(**orjson.loads(x)) for x in self._rows("drafts"))}
        state.processes = {p.id: p for p in (Process(**orjson.loads(x)) for x in self._rows("processes"))}
        state.audit = [AuditEvent(**orjson.loads(d)) for d in self._rows("audit")]
        state.audit_by_node = {}
        for event in state.audit:
            state.audit_by_node.setdefault(event.node_id, []).append(event)
        state.id_counter = orjson.loads(meta["next_id"])
        state.member_counter = orjson.loads(meta["next_member_id"])
        state.relations = {(int(a), int(b)) for a, b in orjson.loads(meta["relations"])}
        state.recent = orjson.loads(meta["recent"])
        state.dirty = Dirty(everything=False)
        self._audit_saved = len(state.audit)
        return True

    def save(self, state: OpenTextState) -> None:
        dirty = state.dirty
        with self._conn:
            if dirty.everything:
                for table in TABLES:
                    self._conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
                self._audit_saved = 0
            self._write("nodes", state.nodes.keys() if dirty.everything else dirty.nodes, state.nodes, _node_json)
            self._write("roles", state.roles.keys() if dirty.everything else dirty.roles, state.roles, _json)
            self._write("drafts", state.drafts.keys() if dirty.everything else dirty.drafts, state.drafts, _json)
            self._write("processes", state.processes.keys() if dirty.everything else dirty.processes,
                        state.processes, _json)
            new_events = state.audit[self._audit_saved:]
            self._conn.executemany("INSERT OR REPLACE INTO audit (id, data) VALUES (?, ?)",
                                   [(e.seq, _json(e)) for e in new_events])
            meta = {"schema": SCHEMA_VERSION, "next_id": state.id_counter, "next_member_id": state.member_counter,
                    "relations": sorted(state.relations), "recent": state.recent}
            self._conn.executemany("INSERT OR REPLACE INTO meta (key, data) VALUES (?, ?)",
                                   [(k, orjson.dumps(v).decode()) for k, v in meta.items()])
        self._audit_saved = len(state.audit)
        state.dirty = Dirty(everything=False)

    def close(self) -> None:
        self._conn.close()

    def _rows(self, table: str) -> list[str]:
        return [row[0] for row in self._conn.execute(f"SELECT data FROM {table} ORDER BY id")]  # noqa: S608

    def _write(self, table: str, ids: Any, objects: dict[int, Any], encode: Any) -> None:
        upserts, deletes = [], []
        for object_id in list(ids):
            if object_id in objects:
                upserts.append((object_id, encode(objects[object_id])))
            else:
                deletes.append((object_id,))
        self._conn.executemany(f"INSERT OR REPLACE INTO {table} (id, data) VALUES (?, ?)", upserts)  # noqa: S608
        self._conn.executemany(f"DELETE FROM {table} WHERE id = ?", deletes)  # noqa: S608


def _json(obj: Any) -> str:
    return orjson.dumps(asdict(obj)).decode()


def _node_json(node: Node) -> str:
    data = asdict(node)
    data["categories"] = {str(k): v for k, v in node.categories.items()}
    data["category_tokens"] = {str(k): v for k, v in node.category_tokens.items()}
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode()


def _node(data: dict[str, Any]) -> Node:
    data["categories"] = {int(k): v for k, v in data["categories"].items()}
    data["category_tokens"] = {int(k): v for k, v in data["category_tokens"].items()}
    data["business_objects"] = [BusinessObject(**b) for b in data["business_objects"]]
    data["versions"] = [Version(**v) for v in data["versions"]]
    return Node(**data)
