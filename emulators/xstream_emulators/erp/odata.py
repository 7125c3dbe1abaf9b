"""OData v2 as SAP Gateway writes it, pure: key predicates, string literals, dates and error bodies.

- A key predicate is ``Name='value',Name2='value2'`` (string literals; a quote inside is doubled);
  :func:`parse_key` needs exactly the key properties of the entity, :func:`format_key` writes them
  in their declared order.
- A function-import parameter of type Edm.String is a literal too: ``LinkedSAPObjectKey='4500000001'``.
- ``Edm.DateTime`` is ``/Date(<ms since 1970>)/`` in the JSON format.
- Errors are ``{"error": {"code", "message": {"lang", "value"}, "innererror": {"transactionid",
  "timestamp", "errordetails"}}}``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from xstream_emulators.erp.model import ApiError

_PAIR = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*'((?:[^']|'')*)'\s*")


def literal(value: str) -> str:
    """``value`` as an OData string literal."""
    return "'" + value.replace("'", "''") + "'"


def parse_literal(name: str, raw: str | None, *, required: bool = True) -> str | None:
    """The text of a string literal parameter (``'...'``); 400 when it is missing (and required) or unquoted."""
    if raw is None or raw == "":
        if required:
            raise ApiError(400, "/IWBEP/CM_MGW_RT/004", f"Parameter '{name}' is missing.")
        return None
    if len(raw) < 2 or raw[0] != "'" or raw[-1] != "'" or "'" in raw[1:-1].replace("''", ""):
        raise ApiError(400, "/IWBEP/CM_MGW_RT/022", f"Invalid value {raw!r} for parameter '{name}' (Edm.String).")
    return raw[1:-1].replace("''", "'")


def parse_key(predicate: str, names: Sequence[str]) -> dict[str, str]:
    """The values of a key predicate with exactly the properties ``names``; 400 otherwise."""
    found: dict[str, str] = {}
    position = 0
    while position < len(predicate):
        match = _PAIR.match(predicate, position)
        if match is None or match.group(1) in found:
            raise _bad_key(predicate)
        found[match.group(1)] = match.group(2).replace("''", "'")
        position = match.end()
        if position < len(predicate):
            if predicate[position] != ",":
                raise _bad_key(predicate)
            position += 1
    if set(found) != set(names):
        raise _bad_key(predicate)
    return found


def format_key(values: Mapping[str, str], names: Sequence[str]) -> str:
    return ",".join(f"{name}={literal(values[name])}" for name in names)


def date(epoch_s: float) -> str:
    """Edm.DateTime in the JSON format."""
    return f"/Date({round(epoch_s * 1000)})/"


def error_body(code: str, message: str, wall: float) -> dict[str, Any]:
    stamp = datetime.fromtimestamp(wall, UTC)
    transaction = hashlib.sha1(f"{code}{message}{wall}".encode(), usedforsecurity=False).hexdigest()[:32].upper()
    return {"error": {"code": code, "message": {"lang": "en", "value": message},
                      "innererror": {"transactionid": transaction,
                                     "timestamp": stamp.strftime("%Y%m%d%H%M%S.") + f"{stamp.microsecond:06d}0",
                                     "errordetails": []}}}


def _bad_key(predicate: str) -> ApiError:
    return ApiError(400, "/IWBEP/CM_MGW_RT/021", f"Invalid key predicate ({predicate}).")
