"""Source positions: one string per change, built from the connector's own coordinates, and their order.

Why strings: a position travels in causation and idempotency keys and must look the same on every
replay. Why an order: a sink that already applied a later change of a business object must skip an
older one (as already_applied), and "later" only means something within one connector's log.

Formats (built by the codec, parsed here):

- ``lsn:N`` Postgres WAL position, an integer;
- ``binlog:FILE:POS:ROW`` MySQL; files compare by base name, then their numeric suffix;
- ``mssql:COMMIT_LSN:CHANGE_LSN`` SQL Server; each LSN is three hex segments ``00000027:00000758:0003``
  (an absent LSN is empty and sorts first);
- ``scn:SCN:COMMIT_SCN`` Oracle; integers (an absent commit SCN is empty and sorts first);
- ``kafka:TOPIC/PARTITION@OFFSET`` the Kafka coordinates when a connector gives no position;
  comparable only within the same topic partition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_HEX_LSN = re.compile(r"^[0-9A-Fa-f]+:[0-9A-Fa-f]+:[0-9A-Fa-f]+$")
_PG_TEXT_LSN = re.compile(r"^([0-9A-Fa-f]+)/([0-9A-Fa-f]+)$")


@dataclass(frozen=True)
class Position:
    """A parsed position: ``scope`` must be equal for two positions to be comparable; ``key`` orders them."""

    family: str
    scope: tuple[str | int, ...]
    key: tuple[Any, ...]


def lsn_position(lsn: Any) -> str | None:
    """Postgres: an integer LSN, or the textual ``X/Y`` form (converted to the same integer)."""
    if isinstance(lsn, bool):
        return None
    if isinstance(lsn, int):
        return f"lsn:{lsn}" if lsn >= 0 else None  # "lsn:-1" would not parse: nothing could be ordered by it
    text = str(lsn).strip()
    if text.isascii() and text.isdigit() and len(text) <= 40:  # not "²" (int refuses it), nor 5000 digits
        return f"lsn:{int(text)}"
    match = _PG_TEXT_LSN.match(text)
    if match:
        return f"lsn:{(int(match.group(1), 16) << 32) + int(match.group(2), 16)}"
    return None


def binlog_position(file: Any, pos: Any, row: Any = 0) -> str:
    return f"binlog:{file}:{pos}:{row if row is not None else 0}"


def mssql_position(commit_lsn: Any, change_lsn: Any) -> str:
    return f"mssql:{commit_lsn or ''}:{change_lsn or ''}"


def scn_position(scn: Any, commit_scn: Any = None) -> str:
    return f"scn:{scn}:{commit_scn if commit_scn not in (None, '') else ''}"


def parse_position(text: str) -> Position | None:
    """The parsed position, or None when ``text`` is not in one of the formats above."""
    family, sep, rest = text.partition(":")
    if not sep:
        return None
    try:
        if family == "lsn":
            return Position(family, (), (_int(rest),))
        if family == "binlog":
            return _binlog(rest)
        if family == "mssql":
            return _mssql(rest)
        if family == "scn":
            scn, sep, commit = rest.partition(":")
            return Position(family, (), (_int(scn), _int(commit) if commit else -1)) if sep else None
        if family == "kafka":
            where, at, offset = rest.rpartition("@")
            topic, slash, partition = where.rpartition("/")
            if not (at and slash and topic):
                return None
            return Position(family, (topic, _int(partition)), (_int(offset),))
    except ValueError:
        return None
    return None


def position_order(a: str, b: str) -> int | None:
    """Negative when ``a`` is earlier than ``b``, 0 when equal, positive when later; None when not comparable.

    Positions of different connector families, of different MySQL binlog series or of different Kafka
    topic partitions are not comparable, and neither is anything unparsable.
    """
    pa, pb = parse_position(a), parse_position(b)
    if pa is None or pb is None or pa.family != pb.family or pa.scope != pb.scope:
        return None
    return (pa.key > pb.key) - (pa.key < pb.key)


def _int(text: str) -> int:
    if not text.isdigit():  # int() would also take " 1", "+1", "1_000"
        raise ValueError(text)
    return int(text)


def _binlog(rest: str) -> Position | None:
    parts = rest.rsplit(":", 2)
    if len(parts) != 3 or not parts[0]:
        return None
    file, pos, row = parts
    base, dot, number = file.rpartition(".")
    if dot and number.isdigit():
        return Position("binlog", (base,), (int(number), _int(pos), _int(row)))
    return Position("binlog", (file,), (-1, _int(pos), _int(row)))


def _mssql(rest: str) -> Position | None:
    segments = rest.split(":")
    if len(segments) == 6:
        commit, change = ":".join(segments[:3]), ":".join(segments[3:])
    elif len(segments) == 4 and segments[0] == "":
        commit, change = "", ":".join(segments[1:])
    elif len(segments) == 4 and segments[3] == "":
        commit, change = ":".join(segments[:3]), ""
    else:
        return None
    return Position("mssql", (), (_hex_lsn(commit), _hex_lsn(change)))


def _hex_lsn(text: str) -> tuple[int, ...]:
    if text == "":
        return ()
    if not _HEX_LSN.match(text):
        raise ValueError(text)
    return tuple(int(part, 16) for part in text.split(":"))
