"""Which API a path belongs to and how that API writes an error (aiohttp side).

- records (``{base}/...``, ``/oauth/token``): ``{"error": {"code", "message"}}``;
- SAP (``/sap/opu/odata/sap/API_CV_ATTACHMENT_SRV``): OData v2 ``{"error": {"code", "message": {"lang",
  "value"}, "innererror"}}``, and a refused CSRF token as SAP Gateway answers it: 403, ``x-csrf-token:
  Required``, the plain text ``CSRF token validation failed``;
- Salesforce (``/services/data/v60.0``): ``[{"message", "errorCode", "fields"}]``; the emulator's own
  codes are written in Salesforce's upper case, and the shared ones as Salesforce names them
  (``INVALID_SESSION_ID``, ``NOT_FOUND``, ``JSON_PARSER_ERROR``, ``REQUEST_LIMIT_EXCEEDED``, ...).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from xstream_emulators.erp import csrf, odata
from xstream_emulators.erp.config import (
    SALESFORCE_BASE,
    SAP_ATTACHMENT_SERVICE,
    TOKEN_PATH,
    ErpEmulatorConfig,
)
from xstream_emulators.erp.files import SalesforceError
from xstream_emulators.erp.model import ApiError
from xstream_emulators.erp.web_common import error_response, json_response

CSRF_REFUSED = "csrf_token_invalid"
"""The code of the ApiError that SAP's dialect writes as Gateway's CSRF refusal."""
_SALESFORCE_CODES = {"unauthorized": "INVALID_SESSION_ID", "invalid_token": "INVALID_SESSION_ID",
                     "not_found": "NOT_FOUND", "invalid_body": "JSON_PARSER_ERROR",
                     "method_not_allowed": "METHOD_NOT_ALLOWED", "rate_limited": "REQUEST_LIMIT_EXCEEDED",
                     "service_unavailable": "SERVER_UNAVAILABLE", "internal_error": "UNKNOWN_EXCEPTION"}


@dataclass(frozen=True)
class Dialect:
    name: str
    render: Callable[[ApiError], web.Response]


def odata_error(exc: ApiError) -> web.Response:
    if exc.code == CSRF_REFUSED:
        return web.Response(status=403, text=csrf.REFUSED_TEXT, headers={csrf.HEADER: csrf.REQUIRED})
    return json_response(odata.error_body(exc.code, exc.message, time.time()), exc.status, exc.headers)


def salesforce_error(exc: ApiError) -> web.Response:
    code = _SALESFORCE_CODES.get(exc.code, exc.code.upper())
    fields = exc.fields if isinstance(exc, SalesforceError) else []
    return json_response([{"message": exc.message, "errorCode": code, "fields": fields}], exc.status, exc.headers)


RECORDS = Dialect("records", error_response)
SAP = Dialect("sap", odata_error)
SALESFORCE = Dialect("salesforce", salesforce_error)


def dialect_for(path: str, config: ErpEmulatorConfig) -> Dialect | None:
    """The API ``path`` belongs to; None for the admin API and anything else outside the APIs."""
    if path.startswith(f"{config.base_path}/") or path == TOKEN_PATH:
        return RECORDS
    if path == SAP_ATTACHMENT_SERVICE or path.startswith(f"{SAP_ATTACHMENT_SERVICE}/"):
        return SAP
    if path.startswith(f"{SALESFORCE_BASE}/"):
        return SALESFORCE
    return None
