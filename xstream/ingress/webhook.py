"""The webhook ingress: server-side OpenText hooks POST signed change notifications here.

``POST {path}`` (default ``/hooks/opentext``) on its own port. In order:

1. a body larger than ``max_body_bytes`` -> 413 (never read to its end);
2. the HMAC signature (:mod:`.signature`): unsigned, wrongly signed, stale or replayed -> 401 with
   the reason, counted in ``xstream_webhook_rejected_total{reason}``; nothing else happens;
3. the notification (:mod:`.hooks`): an authentic body that cannot be read -> 400 with the reason
   and a dead letter holding the body (typed reason), so nothing is dropped unseen;
4. the state is read from OpenText (:class:`~.observe.Observer`) and the events are published;
   once the broker acked them -> 202 ``{"accepted": n, "events": [...]}``. OpenText or Kafka
   unavailable -> 503 with Retry-After, so the hook tries again later (a request answered 5xx may
   be sent again as it was: the replay guard forgets it). OpenText refusing to show what the
   notification names (403, an unknown process) -> 422 and a dead letter. A node that is gone or is
   no document -> 202 with ``accepted: 0``.

Stateless apart from the replay guard, so every replica can take hooks; a replay sent to another
replica passes the guard there, but it carries the same state and the status flow lets it act once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiohttp import web
from aiokafka.errors import KafkaError

from xstream.errors import (
    AuthenticationFailed,
    DeadLetterReason,
    DecodeError,
    SinkError,
    SinkUnavailable,
    WebhookRefused,
)
from xstream.http.server import WebServer
from xstream.ingress.hooks import parse_hook
from xstream.ingress.observe import Observer
from xstream.ingress.publisher import EventPublisher
from xstream.ingress.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, ReplayGuard, verify
from xstream.model.opentext import EventKind, Ingress, OpenTextEvent
from xstream.observability import Metrics
from xstream.settings import WebhookSettings

log = logging.getLogger(__name__)
RETRY_AFTER_S = "5"


class WebhookServer:
    def __init__(self, settings: WebhookSettings, observer: Observer, publisher: EventPublisher, metrics: Metrics,
                 *, wall: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._observer = observer
        self._publisher = publisher
        self._metrics = metrics
        self._wall = wall
        self._secrets = [s.get_secret_value() for s in (settings.secret, settings.previous_secret) if s is not None]
        self._guard = ReplayGuard(settings.tolerance_s)
        app = web.Application(client_max_size=settings.max_body_bytes)
        app.router.add_post(settings.path, self.handle)
        self._server = WebServer(app, settings.host, settings.port)

    @property
    def port(self) -> int | None:
        return self._server.port

    async def start(self) -> None:
        await self._server.start()

    async def stop(self) -> None:
        await self._server.stop()

    async def handle(self, request: web.Request) -> web.Response:
        response = await self._handle(request)
        self._metrics.webhook_requests.labels(str(response.status)).inc()
        return response

    async def _handle(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if body is None:
            return self._refuse(413, "too_large", f"the body exceeds {self._settings.max_body_bytes} bytes", request)
        try:
            replay_key = verify(timestamp=request.headers.get(TIMESTAMP_HEADER),
                                signature=request.headers.get(SIGNATURE_HEADER), body=body, secrets=self._secrets,
                                now=self._wall(), tolerance_s=self._settings.tolerance_s, guard=self._guard)
        except WebhookRefused as refused:
            response = self._refuse(401, refused.reason, refused.detail, request)
            response.headers["WWW-Authenticate"] = 'HMAC-SHA256 realm="xstream", headers="X-Xstream-Timestamp"'
            return response
        try:
            response = await self._accept(body, request)
        except Exception:
            log.exception("webhook: unexpected error; the hook may send the request again")
            response = web.json_response({"error": "internal", "detail": "unexpected error"}, status=500)
        if response.status >= 500:
            self._guard.forget(replay_key)  # not processed: the same signed request may come again
        return response

    async def _accept(self, body: bytes, request: web.Request) -> web.Response:
        try:
            hook = parse_hook(body)
        except DecodeError as exc:
            return await self._unreadable(body, exc.reason, exc.detail, 400, "invalid", request)
        try:
            if hook.event is EventKind.WORKFLOW_FINISHED:
                assert hook.process_id is not None
                events = await self._observer.workflow(hook.process_id, ingress=Ingress.WEBHOOK,
                                                       hook_event_id=hook.event_id)
            else:
                assert hook.node_id is not None
                event = await self._observer.document(hook.node_id, hook.event, ingress=Ingress.WEBHOOK,
                                                      hook_event_id=hook.event_id)
                events = [event] if event is not None else []
        except (SinkUnavailable, AuthenticationFailed) as exc:
            log.warning("webhook: OpenText unavailable; the hook will retry", extra={"error": str(exc)})
            return _unavailable("OpenText cannot be read right now")
        except SinkError as exc:  # OpenText refuses to show it (403, an unknown process): retrying will not help
            return await self._unreadable(body, DeadLetterReason.REJECTED_BY_TARGET,
                                          f"OpenText refused to show it: {exc}", 422, "unprocessable", request)
        return await self._publish(events, hook.event_id)

    async def _unreadable(self, body: bytes, reason: DeadLetterReason, detail: str, status: int, label: str,
                          request: web.Request) -> web.Response:
        """An authentic notification that cannot become an event: dead-lettered with the reason, refused."""
        try:
            await self._publisher.dead_letter(body, reason, detail, received=f"webhook POST {self._settings.path}")
        except KafkaError:
            return _unavailable("the notification cannot be processed and could not be dead-lettered (Kafka)")
        return self._refuse(status, label, f"{reason.value}: {detail}", request)

    async def _publish(self, events: list[OpenTextEvent], hook_event_id: str | None) -> web.Response:
        try:
            await self._publisher.publish(events)
        except KafkaError as exc:
            log.warning("webhook: events not published; the hook will retry", extra={"error": repr(exc)})
            return _unavailable("the events could not be published")
        log.info("webhook accepted", extra={"hook_event_id": hook_event_id, "events": len(events)})
        answer: dict[str, object] = {"accepted": len(events), "events": [e.event_id for e in events]}
        if not events:
            answer["ignored"] = "no document to report (gone, not a document, or a workflow still running)"
        return web.json_response(answer, status=202)

    async def _body(self, request: web.Request) -> bytes | None:
        """The body, or None as soon as it is larger than allowed (a large body is not read to its end)."""
        limit = self._settings.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return None
        chunks, size = [], 0
        async for chunk in request.content.iter_chunked(65_536):
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _refuse(self, status: int, reason: str, detail: str, request: web.Request) -> web.Response:
        self._metrics.webhook_rejected.labels(reason).inc()
        log.warning("webhook refused", extra={"status": status, "reason": reason, "detail": detail,
                                              "remote": request.remote})
        return web.json_response({"error": reason, "detail": detail}, status=status)


def _unavailable(detail: str) -> web.Response:
    return web.json_response({"error": "unavailable", "detail": detail}, status=503,
                             headers={"Retry-After": RETRY_AFTER_S})
