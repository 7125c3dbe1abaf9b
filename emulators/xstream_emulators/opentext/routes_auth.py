"""Public calls, OTCS authentication and the emulated OTDS OAuth2 token endpoint.

OTDS (reference 1.5): ``POST /otdsws/oauth2/token`` with ``grant_type=client_credentials`` and the
client's id and secret (form fields or HTTP Basic) answers ``{"access_token", "token_type":
"Bearer", "expires_in"}``; errors use the OAuth2 shape ``{"error", "error_description"}``. The
token is accepted as ``Authorization: Bearer`` on every API call (acting as Admin) and can be
exchanged for a ticket with ``GET /api/v1/auth`` (the ``OTCSTicket`` response header).
"""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from xstream_emulators.opentext.encoding import read_params
from xstream_emulators.opentext.model import ApiError
from xstream_emulators.opentext.web_common import CONFIG, SESSION, state_of, username


def add_routes(r: web.UrlDispatcher, api: str) -> None:
    r.add_get(f"{api}/v1/ping", ping, name="ping")
    r.add_get(f"{api}/v1/serverinfo", serverinfo, name="serverinfo")
    r.add_post(f"{api}/v1/auth", login, name="auth.login")
    r.add_get(f"{api}/v1/auth", whoami, name="auth.whoami", allow_head=False)
    r.add_route("HEAD", f"{api}/v1/auth", check_auth, name="auth.check")
    r.add_delete(f"{api}/v1/auth", logout, name="auth.logout")
    r.add_post("/otdsws/oauth2/token", otds_token, name="otds.token")


async def ping(request: web.Request) -> web.Response:
    return web.json_response({"rest_api": [{"build": 2, "href": "api/v1", "version": 1},
                                           {"build": 2, "href": "api/v2", "version": 2}]})


async def serverinfo(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    lifetime_ms = int(state_of(request).ticket_lifetime_s * 1000)
    return web.json_response({
        "mobile": {"offline_use": False, "client_timeout": 60},
        "server": {"url": f"{request.url.origin()}{config.base_path}", "version": "24.4.0 (emulator)",
                   "character_encoding": 1, "current_locale_suffix": "_en_US", "domain_access_enabled": False,
                   "time_zone_offset_enabled": False, "language_code": "USA",
                   "languages": [{"language_code": "en_US", "display_name": "English", "default": True}]},
        "sessions": {"enabled": True, "expire_after_last_request": True, "expire_after_last_login": False,
                     "session_timeout": lifetime_ms, "session_inactivity": max(0, lifetime_ms - 300_000),
                     "session_reaction_time": 300_000, "logout_url": f"{config.base_path}?func=ll.DoLogout"},
        "viewer": {"content_suite": {}},
    })


async def login(request: web.Request) -> web.Response:
    params = await read_params(request)
    for field in ("username", "password"):
        if not params.get(field):
            raise ApiError(500, f"Argument {field} is required")
    ticket = state_of(request).login(str(params["username"]), str(params["password"]))
    return web.json_response({"ticket": ticket})


async def whoami(request: web.Request) -> web.Response:
    name = username(request)
    return web.json_response({"data": {"id": state_of(request).user_id(name), "name": name, "type": 0,
                                       "type_name": "User", "display_name": name, "first_name": "",
                                       "last_name": "", "group_id": 1001, "deleted": False}})


async def check_auth(request: web.Request) -> web.Response:
    return web.Response(status=200)


async def logout(request: web.Request) -> web.Response:
    state_of(request).tickets.close(request[SESSION])
    return web.json_response({})


def _oauth_error(status: int, code: str, description: str) -> web.Response:
    return web.json_response({"error": code, "error_description": description}, status=status)


async def otds_token(request: web.Request) -> web.Response:
    try:
        params = await read_params(request)
    except ApiError as exc:
        return _oauth_error(400, "invalid_request", exc.message)
    client_id, client_secret = str(params.get("client_id") or ""), str(params.get("client_secret") or "")
    basic = request.headers.get("Authorization", "")
    if basic[:6].lower() == "basic ":
        try:
            client_id, _, client_secret = base64.b64decode(basic[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return _oauth_error(401, "invalid_client", "Malformed Basic authorization header.")
    grant = params.get("grant_type")
    if not grant:
        return _oauth_error(400, "invalid_request", "Missing parameter: grant_type")
    if grant != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant type: {grant}")
    if not client_id or not client_secret:
        return _oauth_error(400, "invalid_request", "Missing client credentials.")
    state = state_of(request)
    try:
        token = state.issue_otds_token(client_id, client_secret)
    except ApiError:
        return _oauth_error(401, "invalid_client", "Client authentication failed.")
    return web.json_response({"access_token": token, "token_type": "Bearer",
                              "expires_in": int(state.otds_token_lifetime_s)},
                             headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
