"""``xstream documents dry-run``: what one attachment row, approval decision or OpenText document event
becomes under the document rules (flow F2), down to the exact requests. No I/O.

An operator writing document rules wants to see which rule takes an attachment (or why none does:
an echo, its business object or document type, its media type, its size), the command, and what
reaches OpenText: the folder path, the category values keyed by the catalog's ids, the name, and the
requests in the document sink's order, with the source download that streams into the upload.
What only the server or the sink's state can tell is a placeholder: ``{workspace_id}``, ``{folder
Purchase Orders/2026}`` (the folder of that path below the workspace), ``{node_id}`` (the governed
copy the sink stored before), ``{erp base_url}`` (the target's URL in the settings).

The commands are the flow's, made by the same pure planner (:mod:`xstream.transform.documents`);
the bodies are built as the OpenText client builds them (``clients/opentext/documents.py``,
``nodes.py``, ``categories.py``, ``large_files.py``), restated here because the dry-run sits below the
clients and sinks in the layers; ``tests/unit/dryrun/test_documents_dryrun.py`` pins the constants
shared with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from pydantic import ValidationError

from xstream.codec import decode_change, decode_opentext_event
from xstream.dryrun.mapping import FORM, MAX_BYTES
from xstream.errors import DecodeError, MappingError
from xstream.model.business import BusinessObject
from xstream.model.change import ChangeEvent, Tombstone
from xstream.model.documents import (
    MarkDocument,
    PublishDocument,
    SetDocumentAttributes,
    SourceRef,
    StoreDocument,
)
from xstream.model.opentext import DOCUMENT_KINDS, OpenTextEvent, attribute
from xstream.model.record import RecordRef
from xstream.transform.catalog import OpenTextCatalog, load_catalog
from xstream.transform.document_rules import (
    MIB,
    ApprovalRule,
    DocumentAttributes,
    DocumentRuleSet,
    InboundRule,
)
from xstream.transform.documents import (
    NoDocument,
    attachment_of,
    plan_approval,
    plan_inbound,
    plan_outbound,
    version_categories,
)
from xstream.transform.opentext_requests import WORKSPACES, create_categories, lookup_params, put_body

DOCUMENT, FOLDER = 144, 0
"""OpenText node subtypes (``clients/opentext/models.py``)."""
SAP_SERVICE = "/sap/opu/odata/sap/API_CV_ATTACHMENT_SRV"
"""``clients/sap.py`` ``SERVICE_PATH``."""
SALESFORCE_API = "v60.0"
"""``clients/salesforce.py`` ``API_VERSION``."""
EMULATOR_LARGE_FILES = (16 * MIB, 8 * MIB)
"""The OpenText emulator's default Large File Upload threshold and part size (a real server has its own)."""
QUERY_SAFE = "?/:@'"
"""Characters a query value keeps unencoded, as the HTTP client (yarl) sends it; a blank is ``+``."""
OPENTEXT_RECORD = RecordRef(topic="opentext.events", partition=0, offset=0)
_OPS = {"c": "create", "u": "update", "d": "delete", "r": "snapshot read"}


@dataclass(frozen=True)
class DocumentDryRun:
    text: str
    ok: bool
    """False when the record would be dead-lettered or its requests cannot be built."""


def explain(rules: DocumentRuleSet, topic: str, key: bytes | None, value: bytes | None,
            opentext: OpenTextCatalog | None = None) -> DocumentDryRun:
    """A CDC record of a document rules topic (attachment rows, approval decisions): the rule's
    verdict, the command and the requests the document sink would send for it."""
    catalog = opentext or load_catalog()
    record = RecordRef(topic=topic, partition=0, offset=0)
    out = [f"dry-run (no I/O); OpenText ids from: {catalog.source}", f"record: {record}"]
    inbound, approvals = rules.inbound_for(topic), rules.approvals_for(topic)
    if inbound is None and approvals is None:
        out.append(f"error: no document rule reads topic {topic!r} (the rules read {', '.join(rules.topics) or 'none'})")
        return DocumentDryRun(_text(out), ok=False)
    try:
        event = decode_change(key, value, record, max_bytes=MAX_BYTES)
    except DecodeError as exc:
        out.append(f"dead letter (decode): {exc.reason.value}: {exc.detail}")
        return DocumentDryRun(_text(out), ok=False)
    if isinstance(event, Tombstone):
        out.append(f"no command: tombstone (a null value, key {_json(event.key)}): counted, not a dead letter")
        return DocumentDryRun(_text(out), ok=True)
    out.append(f"event: op {event.op.value} ({_OPS[event.op.value]}), entity {event.entity}, position "
               f"{event.position}, key {_json(event.key)}")
    system = topic.split(".", 1)[0]  # as the flow names the source system (flows/documents.py)
    try:
        if inbound is not None:
            out += [_attachment_line(event, inbound), f"rule: {_inbound_rule_line(inbound)}"]
            planned: StoreDocument | MarkDocument | SetDocumentAttributes | NoDocument = plan_inbound(
                event, inbound, rules.attributes, system)
        else:
            assert approvals is not None
            out += [_approval_line(event), f"rule: {_approval_rule_line(approvals)}"]
            planned = plan_approval(event, approvals, rules.attributes, system)
    except MappingError as exc:
        out.append(f"dead letter (map): {exc.reason.value}: {exc.detail}")
        return DocumentDryRun(_text(out), ok=False)
    except ValidationError as exc:  # a value the command cannot hold, as the flow step reports it
        out.append(f"dead letter (map): invalid_command: {exc.errors()[0]['msg']}")
        return DocumentDryRun(_text(out), ok=False)
    if isinstance(planned, NoDocument):
        out.append(f"no command: {planned.why}" + (" (counted in xstream_echoes_total)" if planned.echo else ""))
        return DocumentDryRun(_text(out), ok=True)
    out += _command(planned)
    out += ["", "Requests (the document sink's, in order):"]
    try:
        if isinstance(planned, StoreDocument):
            out += store_requests(planned, catalog, rules.attributes)
        else:
            out += category_requests(planned, catalog)
    except MappingError as exc:
        out.append(f"error: cannot build the OpenText request: {exc.detail}")
        return DocumentDryRun(_text(out), ok=False)
    return DocumentDryRun(_text(out), ok=True)


def explain_opentext(rules: DocumentRuleSet, raw_event: bytes,
                     opentext: OpenTextCatalog | None = None) -> DocumentDryRun:
    """An OpenText event (a document added or versioned in a workspace): what the outbound rules
    publish to the source records, and why each rule does or does not."""
    catalog = opentext or load_catalog()
    out = [f"dry-run (no I/O); OpenText ids from: {catalog.source}"]
    try:
        event = decode_opentext_event(raw_event, max_bytes=len(raw_event) + 1)
    except DecodeError as exc:
        out.append(f"not an OpenText event: {exc.reason.value}: {exc.detail}")
        return DocumentDryRun(_text(out), ok=False)
    doc, ws, names = event.document, event.workspace, rules.attributes
    doc_type = attribute(doc.attributes, names.category, names.type)
    source_id = attribute(doc.attributes, names.category, names.source_id)
    out.append(f"event: {event.kind.value} via {event.ingress.value}: document {doc.node_id} {doc.name!r} "
               f"(version {doc.version}), {names.type} {doc_type!r}, {names.source_id} {source_id!r}")
    bo = ws.business_object.kafka_key if ws is not None and ws.business_object is not None else "none"
    out.append(f"workspace: {ws.node_id} {ws.name!r} ({ws.type_name}), business object {bo}" if ws is not None
               else "workspace: none")
    try:
        commands = plan_outbound(event, rules, OPENTEXT_RECORD)
    except MappingError as exc:
        out.append(f"dead letter (map): {exc.reason.value}: {exc.detail}")
        return DocumentDryRun(_text(out), ok=False)
    skipped = _outbound_skip(event, source_id)
    if skipped is not None:
        out.append(f"no command: {skipped}")
        return DocumentDryRun(_text(out), ok=True)
    fired = {c.rule for c in commands}
    out.append("outbound rules:")
    for rule in rules.outbound:
        wants = f"wants workspace types {_any(rule.when.workspace_types)}; document types " \
                f"{_any(rule.when.document_types)}"
        out.append(f"  {'FIRES' if rule.name in fired else '-    '}  {rule.name}: {wants}")
    out.append(f"commands: {len(commands)}")
    for command in commands:
        out += ["", *_command(command), "", "Requests (the document sink's, in order):", *publish_requests(command)]
    return DocumentDryRun(_text(out), ok=True)


# --- store_document --------------------------------------------------------------------------------

def store_requests(command: StoreDocument, catalog: OpenTextCatalog,
                   attributes: DocumentAttributes | None = None) -> list[str]:
    """A new document (or version): workspace, folder path, category keys, the source body streamed
    into ``POST /api/v2/nodes`` (``.../versions``), and the Large File Upload that replaces that POST."""
    folder = _folder_placeholder(command.folder_path)
    versioned = command.source.version > 1
    categories = keyed_categories(catalog, version_categories(command.categories, attributes or DocumentAttributes())
                                  if versioned else command.categories)
    out = [f"   The sink's state for {command.document_key} comes first: a command or source version it "
           "applied before costs no call (already_applied).",
           f"1. GET {_workspace_lookup(command.business_object)}",
           "   The workspace, by business object (cached). None yet: the document waits for it (workspace_wait_s, "
           "flow F1 may be creating it), then is dead-lettered unknown_business_object."]
    number = 2
    if versioned:
        folder = "{folder_id}"
        out.append("   The sink holds a copy (node {node_id}, in the folder {folder_id} it was stored in): a new "
                   "version of it, no folder lookup. "
                   "(No copy known, say the first version was never stored: it is created as a new document "
                   "instead, with the folder and POST /api/v2/nodes requests of a create.)")
    else:
        parent = "{workspace_id}"
        for index, name in enumerate(_parts(command.folder_path)):
            query = urlencode([("page", "1"), ("limit", "100"), ("where_name", name), ("where_type", str(FOLDER))],
                              safe=QUERY_SAFE)
            out += [f"{number}. GET /api/v2/nodes/{parent}/nodes?{query}",
                    f"   Folder {name!r} (cached per path). Not found: POST /api/v2/nodes, form field `body`: "
                    + _json({"type": FOLDER, "parent_id": parent, "name": name, "description": ""})]
            parent = _folder_placeholder("/".join(_parts(command.folder_path)[:index + 1]))
            number += 1
    if categories:
        ids = "&".join(f"category_id={cat}" for cat in _category_ids(catalog, command.categories))
        out += [f"{number}. GET /api/v1/forms/nodes/create?type={DOCUMENT}&parent_id={folder}&{ids}",
                f"   The attribute keys of {', '.join(_without_empty(command.categories))} (cached per category; "
                "here from the catalog)."]
        number += 1
    if versioned:
        out += [f"   Same bytes as the stored latest version? By the source's checksum when both are known, else "
                f"by size ({_size(command.size)}), else the source body is read once and its sha256 compared: "
                "the same, nothing is stored (already_applied)."]
    download = number
    out += [f"{number}. {line}" if i == 0 else f"   {line}" for i, line in enumerate(source_download(command.source))]
    out.append(f"   The body, streamed from {command.source.target}'s attachment API into request {number + 2} as it "
               f"arrives (never through Kafka, never whole in memory), checked against the declared size "
               f"({_size(command.size)}{', and checksum' if command.checksum else ''}).")
    out += [f"{number + 1}. GET /api/v2/multipart/settings",
            "   Once per worker: whether the body goes in parts instead (Large File Upload, below)."]
    number += 2
    description = _provenance(command)
    file_part = (f"part `file` (filename {_basename(command.name)!r}, Content-Type {command.media_type}, "
                 f"{_size(command.size)}, streamed from request {download})")
    if versioned:
        fields: dict[str, Any] = {"description": description[:255]}
        if categories:
            fields["roles"] = orjson.dumps({"categories": categories}).decode()
        out += [f"{number}. POST /api/v2/nodes/{{node_id}}/versions",
                f"   Content-Type: multipart/form-data; these form fields, then {file_part}:",
                _json(fields, indent=True, pad=3)]
        stored_by_key = (f"POST /api/v2/nodes/{{node_id}}/versions, the form fields of request {number} and "
                         "upload_key={upload_key} (no file part)")
    else:
        body: dict[str, Any] = {"type": DOCUMENT, "parent_id": folder, "name": command.name,
                                "description": description}
        if categories:
            body["roles"] = {"categories": categories}
        out += [f"{number}. POST /api/v2/nodes",
                f"   Content-Type: multipart/form-data; part `body` holding this JSON, then {file_part}:",
                _json(body, indent=True, pad=3),
                f"   If another document holds the name, this one goes beside it as "
                f"{_beside(command.name, command.source.document_id)!r}."]
        stored_by_key = (f"POST /api/v2/nodes, form field `body`: the JSON of request {number} with "
                         "\"upload_key\": \"{upload_key}\" (no file part)")
    return out + large_file_upload(command, number, stored_by_key)


def large_file_upload(command: StoreDocument, number: int, stored_by_key: str) -> list[str]:
    """When the parts API replaces the one-request upload, and its calls."""
    threshold, part = EMULATOR_LARGE_FILES
    if command.size is None:
        verdict = "this file's size is not declared: it always goes in one request"
    elif command.size >= threshold:
        verdict = (f"this file's {command.size} bytes are above the emulator's default threshold of "
                   f"{threshold // MIB} MiB: there, {-(-command.size // part)} parts of {part // MIB} MiB")
    else:
        verdict = f"this file's {command.size} bytes are below the emulator's default threshold of {threshold // MIB} MiB"
    return [f"Large File Upload instead of request {number}, when the server has it enabled and min_size <= size <= "
            f"max_size; {verdict}:",
            f"   a. POST /api/v2/multipart   form fields file_name={_basename(command.name)}, "
            f"file_size={command.size}, mime_type={command.media_type}   -> upload_key, num_parts, part_size, "
            "max_retries",
            "   b. POST /api/v2/multipart/{upload_key}/{n}   multipart part `part_content`: part n of part_size "
            "bytes (n = 1..num_parts), each resent on a lost answer",
            "   c. POST /api/v2/multipart/{upload_key}   completes the upload",
            f"   d. {stored_by_key}"]


def source_download(source: SourceRef) -> list[str]:
    """The source's download of the body (``clients/sap.py`` / ``clients/salesforce.py`` ``open``)."""
    base = f"{{{source.target} base_url}}"
    if source.format == "sap":
        return [f"GET {base}{SAP_SERVICE}/AttachmentContentSet({quote(source.ref, safe=chr(39) + '=,()')})/$value"]
    version = f"{base}/services/data/{SALESFORCE_API}/sobjects/ContentVersion/{source.ref}"
    return [f"GET {version}   (its size, checksum, and whether it is a link), then", f"GET {version}/VersionData"]


def keyed_categories(catalog: OpenTextCatalog, categories: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Category values by name -> the flat keyed ``roles.categories`` the sink sends with a new
    document or version; a value the source did not give (None) is left out, as the sink does."""
    given = _without_empty(categories)
    if not given:
        return {}
    return {key: value for values in create_categories(catalog, given).values() for key, value in values.items()}


# --- mark_document, set_document_attributes ---------------------------------------------------------

def category_requests(command: MarkDocument | SetDocumentAttributes, catalog: OpenTextCatalog) -> list[str]:
    """The category values written on an existing document (``update_categories`` of the client)."""
    node = "{node_id}" if isinstance(command, MarkDocument) else str(command.node_id)
    out = ([f"   The sink holds no copy of {command.document_key}: nothing is sent (already_applied).",
            "   It holds one (node {node_id}): the copy stays, and says so:"]
           if isinstance(command, MarkDocument) else [])
    out.append(f"1. GET /api/v2/nodes/{node}/categories?metadata=true   (the node's categories and values)")
    for number, (name, values) in enumerate(_without_empty(command.categories).items(), start=2):
        keys = catalog.category_keys(name)
        out += [f"   Category {name} not on the node: it is applied first (POST /api/v2/nodes/{node}/categories, "
                f"form field `body`: {_json({'category_id': int(keys.id) if keys.id.isdigit() else keys.id})}), "
                "then the node is read again",
                f"{number}. PUT /api/v2/nodes/{node}/categories/{keys.id}   (category {name}; only when a value "
                "differs from what the node holds)", f"   {FORM}", _json(put_body(keys, values), indent=True, pad=3)]
    return out


# --- publish_document --------------------------------------------------------------------------------

def publish_requests(command: PublishDocument) -> list[str]:
    """A workspace document to its source record, as a link or a copy (``sinks/document_sources.py``)."""
    base = f"{{{command.target} base_url}}"
    writes = f"Idempotency-Key: {command.idempotency_key}, X-Xstream-Origin: xstream"
    doc_type = command.document_type
    if command.mode == "link":
        out = [f"1. GET /api/v2/nodes/{command.node_id}/copylink   the address users open the document at"]
        if command.format == "sap":
            params = {"BusinessObjectTypeName": _literal(command.record.bo_type or ""),
                      "LinkedSAPObjectKey": _literal(command.record.bo_key), "MIMEType": _literal("text/url"),
                      "UrlDescription": _literal(command.name[:255]), "Url": _literal("{copy link}")}
            return out + [*_csrf(base, 2),
                          f"3. POST {base}{SAP_SERVICE}/CreateUrlAsAttachment?{urlencode(params, safe=QUERY_SAFE + '{}')}",
                          f"   {writes}, x-csrf-token: {{token}}" + (f", X-Document-Type: {doc_type}" if doc_type else "")]
        entity = {"ContentUrl": "{copy link}", "Title": command.name, "FirstPublishLocationId": command.record.bo_key}
        if doc_type:
            entity["Document_Type__c"] = doc_type
        return out + [f"2. POST {base}/services/data/{SALESFORCE_API}/sobjects/ContentVersion",
                      f"   {writes}, Content-Type: application/json", _json(entity, indent=True, pad=3)]
    version = command.version if command.version is not None else "{latest}"
    out = [f"   A copy made before on this record whose bytes are those of version {version}: nothing is sent.",
           f"1. GET /api/v2/nodes/{command.node_id}/versions/{version}   (name, MIME type, size)",
           f"2. GET /api/v2/nodes/{command.node_id}/versions/{version}/content   streamed into request 3"]
    if command.format == "sap":
        headers = f"{writes}, Slug: {{file name}}, BusinessObjectTypeName: {command.record.bo_type or ''}, " \
                  f"LinkedSAPObjectKey: {command.record.bo_key}" + (f", X-Document-Type: {doc_type}" if doc_type else "")
        return out + [f"3. POST {base}{SAP_SERVICE}/AttachmentContentSet   (after the CSRF fetch: GET "
                      f"{base}{SAP_SERVICE}/ with x-csrf-token: Fetch, once per worker)", f"   {headers}",
                      "   The bytes as the body; a later copy is the next version of this one "
                      "(DocumentInfoRecordDocType/DocNumber/DocPart headers)."]
    return out + [f"3. POST {base}/services/data/{SALESFORCE_API}/sobjects/ContentVersion   multipart: part "
                  "`entity_content` (JSON: PathOnClient, Title, FirstPublishLocationId or, for a later copy, "
                  "ContentDocumentId" + (", Document_Type__c" if doc_type else "") + "), part `VersionData` (the bytes)",
                  f"   {writes}"]


# --- helpers -----------------------------------------------------------------------------------------

def _command(command: StoreDocument | MarkDocument | SetDocumentAttributes | PublishDocument) -> list[str]:
    out = [f"command: {command.kind} for {command.document_key} (idempotency key {command.idempotency_key})",
           f"   business object {command.business_object.kafka_key}, rule {command.rule}"]
    if isinstance(command, StoreDocument):
        where = "/".join(["<workspace>", *_parts(command.folder_path), command.name])
        out += [f"   files as {where} ({command.media_type}, {_size(command.size)})"]
    elif isinstance(command, PublishDocument):
        record = " ".join(filter(None, (command.record.bo_type, command.record.bo_key)))
        out += [f"   {command.mode} of document {command.node_id} (version {command.version or 'latest'}) to "
                f"{command.target} ({command.format}) record {record}"]
    if not isinstance(command, PublishDocument):
        out += [f"   {category}: {_json(values)}" for category, values in command.categories.items()]
    return [*out, _json(command.model_dump(mode="json"), indent=True)]


def _attachment_line(event: ChangeEvent, rule: InboundRule) -> str:
    a = attachment_of(event, rule.source.format)
    return (f"attachment: {a.format} {a.document_id} version {a.version} {a.name!r} ({a.kind}, {a.media_type}, "
            f"{_size(a.size)}), document type {a.document_type!r}, business object {a.bo_type or 'record'} "
            f"{a.bo_key}, changed {a.changed_at or '?'} by origin {a.origin or 'none'}")


def _approval_line(event: ChangeEvent) -> str:
    row = event.row
    reference = row.get("reference")
    node = reference.get("document_id") if isinstance(reference, dict) else None
    before = (event.before or {}).get("status")
    return (f"approval: {row.get('id')!r} status {row.get('status')!r} (before {before!r}), "
            f"OpenText document {node!r}, record {_json(row.get('record'))}")


def _inbound_rule_line(rule: InboundRule) -> str:
    when = rule.when
    return (f"{rule.name} (inbound from {rule.source.target} {rule.source.format}; business object types "
            f"{_any(when.bo_types)}; document types {_any(when.document_types)}; media types "
            f"{_any(when.media_types)}; at most {when.max_size_mb:g} MiB; on delete {rule.on_delete})")


def _approval_rule_line(rule: ApprovalRule) -> str:
    return f"{rule.name} (approvals; statuses {_json(rule.statuses)})"


def _outbound_skip(event: OpenTextEvent, source_id: Any) -> str | None:
    """Why no outbound rule looks at the event at all (the checks of ``plan_outbound``)."""
    if event.kind not in DOCUMENT_KINDS:
        return f"{event.kind.value} is not about a document's content or values"
    if event.snapshot:
        return "a snapshot observation (the poller's first scan) publishes nothing"
    if event.workspace is None or event.workspace.business_object is None:
        return "the document is in no workspace with a business object"
    if source_id not in (None, ""):
        return f"the document came from a source system (source id {source_id!r}): it is not sent back"
    return None


def _workspace_lookup(bo: BusinessObject) -> str:
    return f"{WORKSPACES}?{urlencode(lookup_params(bo), safe=QUERY_SAFE)}"


def _category_ids(catalog: OpenTextCatalog, categories: dict[str, dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(catalog.category_keys(name).id for name in _without_empty(categories)))


def _without_empty(categories: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """As the sink's: a value the source did not give is left alone, not written as empty."""
    kept = {name: {attr: value for attr, value in values.items() if value is not None}
            for name, values in categories.items()}
    return {name: values for name, values in kept.items() if values}


def _any(values: list[str] | None) -> str:
    return "any" if values is None else ", ".join(values) or "none"


def _parts(path: str) -> list[str]:
    return [part.strip() for part in path.split("/") if part.strip()]


def _folder_placeholder(path: str) -> str:
    return f"{{folder {'/'.join(_parts(path))}}}" if _parts(path) else "{workspace_id}"


def _provenance(command: StoreDocument) -> str:
    """The description of a new document or version (the sink's ``_provenance``)."""
    source = command.source
    return f"xstream: {source.target} {source.format} document {source.document_id} version {source.version}"[:255]


def _beside(name: str, source_id: str) -> str:
    """The name of a document that goes beside another holding its name (the sink's ``_beside``)."""
    path = PurePosixPath(name)
    return f"{path.stem} ({source_id}){path.suffix}"[:248]


def _basename(name: str) -> str:
    """The file part's name: the document name without directories (the sink's opener)."""
    return PurePosixPath(name).name


def _size(size: int | None) -> str:
    return "size not declared" if size is None else f"{size} bytes"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _csrf(base: str, number: int) -> list[str]:
    return [f"{number}. GET {base}{SAP_SERVICE}/   x-csrf-token: Fetch   (once per worker: the CSRF token SAP "
            "Gateway wants on writes)"]


def _json(value: Any, *, indent: bool = False, pad: int = 0) -> str:
    text = orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0).decode()
    return "\n".join(" " * pad + line for line in text.splitlines())


def _text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"
