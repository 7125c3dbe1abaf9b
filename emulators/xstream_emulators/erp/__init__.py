"""A faithful local ERP/CRM REST API (SAP Business Accelerator / Salesforce REST style) for tests,
demo and CLI: the downstream target of xstream's HTTP sink and the source of ERP CDC events.

    emulator = await start_erp_emulator(ErpEmulatorConfig(auth="oauth2"))
    settings = TargetSettings(base_url=emulator.url, auth=TargetAuth(kind="oauth2", token_url=emulator.token_url,
                              client_id="xstream", client_secret="erp-secret"))
    await emulator.stop()

**API** (every answer is JSON; errors are ``{"error": {"code": ..., "message": ...}}``):

    GET   {base}/{entity}?status=..&<field>=..&limit=..&offset=..  -> {"entity", "total", "offset", "limit", "records"}
    POST  {base}/{entity}            create (optional "id"; else "CUS-000001"...) -> 201, Location, ETag
    GET   {base}/{entity}/{id}       -> the record, ETag "<version>"; unknown -> 404 not_found
    PATCH {base}/{entity}/{id}       JSON Merge Patch of the fields -> the record; unknown -> 404 not_found
    POST  {base}/approvals           start an approval workflow -> 201, Location, ETag (see ``approvals``)
    GET   {base}/approvals?status=..&process=..&limit=..&offset=..  -> {"entity": "approvals", "total", ...}
    GET   {base}/approvals/{id}      -> the approval, ETag "<version>"; unknown -> 404 not_found
    POST  /oauth/token               OAuth2 client credentials (form) -> {"access_token", "token_type", "expires_in"}
    /sap/opu/odata/sap/API_CV_ATTACHMENT_SRV/...   SAP attachments, OData v2 (see ``routes_sap``, ``attachments``)
    /services/data/v60.0/sobjects/ContentVersion... Salesforce Files (see ``routes_salesforce``, ``files``)

``base`` is ``config.base_path`` (default ``/api``); entities default to customers, suppliers,
projects, accounts and contracts (unknown -> 404 unknown_entity). A record is ``{"id", <business
fields>, "status", "links": {"workspace_url", "workspace_id", "documents", ...}, "version",
"created_at", "updated_at", "last_changed_by", "last_causation"}``; the last two come from the
request headers ``X-Xstream-Origin`` (default "api") and ``X-Xstream-Causation`` (see ``records``).
Setting a system field is 422 read_only_field; a body that is not a JSON object is 400 invalid_body.

**Approvals** (``approvals``): ``{"id": "APR-000001", "process", "subject", "status": "pending",
"reference", "record", "requested_by", "due_date", "fields", "decision", "decided_by", "decided_at",
"comment", "version", ...}``; the create takes required ``process`` and ``subject`` and optional
``reference``, ``record`` ({"entity", "id"}), ``requested_by``, ``due_date``, ``fields`` (anything else
is 422 invalid_field or read_only_field). They are records of entity "approvals" (in the change log,
``/admin/state`` and ``state_changing``), but the generic ``{entity}`` routes never reach them:
``PATCH``/other methods on ``{base}/approvals[/{id}]`` are 405 method_not_allowed with ``Allow``. ERP
users decide them at ``POST /admin/approvals/{id}/decide``.

**Idempotency-Key** (IETF httpapi draft; ``idempotency``) on records.create, records.patch,
approvals.create and every attachment write (a streamed body is fingerprinted by its sha256): same key and body -> the first answer again with ``Idempotent-Replayed: true``;
same key, other body -> 422 idempotency_key_reused; same key while the first is processed -> 409
idempotency_key_in_use (Retry-After: 1); keys are kept ``idempotency_ttl_s`` (24 h).

**Auth** (``config.auth``): none | bearer (``bearer_token``, default "erp-token") | basic
(``username``/``password``, default xstream/erp-secret) | oauth2 (``client_id``/``client_secret``,
default xstream/erp-secret, at ``POST /oauth/token``); refusals are 401 with WWW-Authenticate.

**Attachments** (document bodies never travel through the change log: a row says which document
changed, the bytes are read from its API, streamed, and stored on disk in ``config.content_dir`` or
a temporary directory, see ``content``): the SAP S/4 attachment service ``API_CV_ATTACHMENT_SRV``
(``GetAllOriginals``, upload to ``AttachmentContentSet`` with ``Slug``, new versions, ``$value``
downloads, ``CreateUrlAsAttachment``, deletes; the CSRF token of SAP Gateway, ``csrf``; OData errors)
and Salesforce Files (``ContentVersion`` multipart uploads, new versions, links, ``VersionData``
downloads, ``ContentDocument`` deletes; Salesforce errors). Their errors are written in each API's
dialect (``dialects``); their writes take the Idempotency-Key, auth and faults like every other.

**Change log**: every create/update (approvals: create and decision) appends a Debezium PostgreSQL
change event (``records``), readable at ``GET /admin/changes?since=<lsn>&entity=<e>``; SAP
attachments are rows of ``attachments`` (key ``{"attachment_id"}``), Salesforce files rows of
``content_versions`` (key ``{"Id"}``). Admin API (unauthenticated, not counted, never faulted): see
``admin`` and ``admin_attachments``. Operations as counted in ``/admin/calls``: records.list,
records.get, records.create, records.patch, approvals.create, approvals.get, approvals.list,
oauth.token, sap.service, sap.attachments.list|get|download|upload|create_url|delete,
sf.content_versions.create|get|download, sf.content_documents.delete (+ ``state_changing``).

Layers: ``model``, ``config``, ``faults``, ``idempotency``, ``records``, ``approvals``, ``auth``,
``content``, ``odata``, ``attachments``, ``files``, ``csrf`` and ``state`` are pure; ``web_common``,
``dialects``, ``uploads``, ``routes``, ``routes_approvals``, ``routes_sap``, ``routes_salesforce``, ``app``,
``admin``, ``admin_attachments`` and ``server`` are the aiohttp side. Exports resolve lazily (PEP 562) so importing the pure modules does not load
aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xstream_emulators.erp.app import build_erp_app
    from xstream_emulators.erp.approvals import ApprovalStore
    from xstream_emulators.erp.config import ErpEmulatorConfig
    from xstream_emulators.erp.faults import Faults, FaultSpecError, parse_fault_flags, parse_faults
    from xstream_emulators.erp.model import APPROVALS, ENTITIES, ApiError
    from xstream_emulators.erp.server import RunningErpEmulator, start_erp_emulator
    from xstream_emulators.erp.state import ErpState

_EXPORTS = {
    "build_erp_app": "app",
    "ApprovalStore": "approvals",
    "ErpEmulatorConfig": "config",
    "Faults": "faults",
    "FaultSpecError": "faults",
    "parse_fault_flags": "faults",
    "parse_faults": "faults",
    "APPROVALS": "model",
    "ENTITIES": "model",
    "ApiError": "model",
    "RunningErpEmulator": "server",
    "start_erp_emulator": "server",
    "ErpState": "state",
}
__all__ = [
    "APPROVALS",
    "ENTITIES",
    "ApiError",
    "ApprovalStore",
    "ErpEmulatorConfig",
    "ErpState",
    "FaultSpecError",
    "Faults",
    "RunningErpEmulator",
    "build_erp_app",
    "parse_fault_flags",
    "parse_faults",
    "start_erp_emulator",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
