"""Validation of HTTP responses against OpenText's official OpenAPI files (shared/reference/openapi/).

Maps a concrete request (method + path after ``/api``) to its operation in either spec, picks the
response schema for the status code and validates the JSON body with OAS 3.0 semantics.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS30Validator

SPEC_FILES = ("business-workspaces-rest-api-v1-v2.yaml", "content-server-rest-api-2.0.2.yaml")


def spec_dir() -> Path | None:
    """``XSTREAM_OPENAPI_DIR``, else the team's shared/reference/openapi beside (or above) the checkout."""
    configured = os.environ.get("XSTREAM_OPENAPI_DIR")
    candidates = [Path(configured)] if configured else [
        parent / "shared" / "reference" / "openapi" for parent in Path(__file__).resolve().parents]
    return next((c for c in candidates if all((c / name).is_file() for name in SPEC_FILES)), None)


@dataclass(frozen=True)
class Operation:
    spec: str
    method: str
    template: str
    regex: re.Pattern[str]
    responses: dict[str, Any]


# The Content Server 2.0.2 file declares single objects as arrays of that object throughout (links,
# results of single-item calls, collection, data, serverinfo sections), where real servers answer
# one object (reference section 0; pyxecm reads results.data.properties and collection.paging).
# For that file an array schema accepts either the array or one item, and the item is validated.
ONE_OR_MANY_SPECS = {"content-server-rest-api-2.0.2.yaml"}


def _adapt(node: Any, *, one_or_many: bool) -> Any:
    """Schema fixes for the files' systematic defects (see the comments above and on ``nullable``)."""
    if isinstance(node, list):
        return [_adapt(v, one_or_many=one_or_many) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _adapt(v, one_or_many=one_or_many) if k != "properties" else
            {name: _adapt(sub, one_or_many=one_or_many) for name, sub in v.items()} for k, v in node.items()}
    if "type" in node:
        # The files omit `nullable` on fields real servers send as null when unset (reserved_date,
        # external_create_date, perspective_folder_id...; null in pyxecm's captured examples).
        node["nullable"] = True
    if one_or_many and node.get("type") == "array" and isinstance(node.get("items"), dict):
        return {"anyOf": [node, node["items"]]}
    return node


@dataclass(frozen=True)
class FieldFix:
    """One property a file types wrongly, widened to also accept what real servers send, with the evidence."""

    spec: str
    schema: str
    fields: tuple[str, ...]
    also: dict[str, Any]
    evidence: str


FIELD_FIXES = [
    FieldFix("content-server-rest-api-2.0.2.yaml", "workflowstatus_nodeDefinitions_properties",
             ("valid_values", "valid_values_name"), {"type": "array", "nullable": True},
             "declared as objects; pyxecm's captured answer of GET /v2/workflows/status "
             "(OTCS.get_workflows_by_kind_and_status) sends [] for both in every column definition"),
]


def _fix_fields(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    for fix in (f for f in FIELD_FIXES if f.spec == name):
        properties = spec["components"]["schemas"][fix.schema]["properties"]
        for field_name in fix.fields:
            properties[field_name] = {"anyOf": [properties[field_name], fix.also]}
    return spec


@functools.cache
def specs() -> dict[str, dict[str, Any]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    root = spec_dir()
    if root is None:
        raise FileNotFoundError("OpenText's OpenAPI files: set XSTREAM_OPENAPI_DIR or keep shared/ beside the repo")
    loaded = {name: yaml.load((root / name).read_text(), Loader=loader) for name in SPEC_FILES}  # noqa: S506
    return {name: _fix_fields(name, _adapt(spec, one_or_many=name in ONE_OR_MANY_SPECS))
            for name, spec in loaded.items()}


@functools.cache
def operations() -> list[Operation]:
    ops = []
    for name, spec in specs().items():
        for template, item in spec["paths"].items():
            pattern = re.sub(r"\{[^}]+\}", r"[^/]+", template.rstrip("/"))
            for method, op in item.items():
                if method in ("get", "post", "put", "delete", "head"):
                    responses = {str(code): body for code, body in (op.get("responses") or {}).items()}
                    ops.append(Operation(name, method.upper(), template, re.compile(f"^{pattern}/?$"), responses))
    # The most specific template wins: fewer placeholders first (/v2/nodes/actions before /v2/nodes/{id}).
    return sorted(ops, key=lambda op: (op.template.count("{"), -len(op.template)))


def find(method: str, api_path: str) -> Operation | None:
    matches = [op for op in operations() if op.method == method and op.regex.match(api_path)]
    if not matches:
        return None
    best = [op for op in matches if op.template.count("{") == matches[0].template.count("{")]
    # both specs describe some v1 paths; prefer the Business Workspaces file, it is the newer one
    return next((op for op in best if op.spec.startswith("business")), best[0])


def response_schema(op: Operation, status: int) -> dict[str, Any] | None:
    body = op.responses.get(str(status)) or op.responses.get("default")
    if not body:
        return None
    content = body.get("content") or {}
    media = content.get("application/json") or next(iter(content.values()), None)
    return (media or {}).get("schema")


@dataclass(frozen=True)
class SpecDefect:
    """One answer the file describes wrongly, with the evidence; everything else is checked strictly."""

    method: str
    template: str
    applies: Callable[[Any], bool]
    evidence: str


SPEC_DEFECTS = [
    SpecDefect("PUT", "/v2/draftprocesses/{draftprocess_id}",
               lambda body: body.get("results") == {},
               "one schema for both actions describes Initiate's answer (process_id, custom_message); "
               "formUpdate only stores form values and starts nothing (reference 7.1 step 4)"),
]


def _tolerated(op: Operation, payload: Any) -> bool:
    return any(d.method == op.method and d.template == op.template and d.applies(payload) for d in SPEC_DEFECTS)


def validate(op: Operation, status: int, payload: Any) -> list[str]:
    schema = response_schema(op, status)
    if schema is None:
        return []
    spec = specs()[op.spec]
    validator = OAS30Validator({**schema, "components": spec.get("components", {})})
    if _tolerated(op, payload):
        return []
    problems = []
    for error in validator.iter_errors(payload):
        while error.context:  # anyOf: report the branch that came closest, down to its cause
            error = best_match(error.context)
        where = "/".join(map(str, error.absolute_path))
        problems.append(f"{where or '(root)'}: {error.message[:300]}")
    return problems
