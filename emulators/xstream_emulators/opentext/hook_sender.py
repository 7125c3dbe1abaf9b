"""Sends the emulated server-side event hooks (``hooks``) over HTTP: one sender task per registration.

The dispatcher listens to the state (``OpenTextState.listeners``). A change that fires a hook is
logged and queued for every registration that wants it, inside the state call that recorded it;
the senders run only when that call's handler has returned to the event loop, so a delivery starts
after the change (and its save) is complete and never delays the API answer. One queue and task
per registration keeps deliveries in the order of the changes and lets a slow or failing receiver
hold up only its own hooks. Every attempt is signed at a later whole second than the one before
(the wait before a retry is stretched to the next second when the backoff is shorter), because a
receiver refuses a signature it has seen as a replay. Stopping the app (``on_shutdown``), a reset or removing the
registrations cancels whatever is pending; the log says so (``error: "cancelled"``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

import aiohttp

from xstream_emulators.opentext import hooks
from xstream_emulators.opentext.hooks import Delivery, HookBook, HookTarget, Registration
from xstream_emulators.opentext.model import Change
from xstream_emulators.opentext.state import OpenTextState

log = logging.getLogger(__name__)


class HookDispatcher:
    def __init__(self, state: OpenTextState, configured: tuple[HookTarget, ...] = (), *,
                 clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self.book = HookBook(configured)
        self.clock = clock
        """Signing time (unix seconds): the receiver compares it with its own clock."""
        self._queues: dict[int, asyncio.Queue[Delivery]] = {}
        self._senders: dict[int, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None

    def attach(self) -> None:
        if self.notice not in self.state.listeners:
            self.state.listeners.append(self.notice)

    async def close(self) -> None:
        """Stop listening and cancel every pending delivery (the emulator is stopping)."""
        if self.notice in self.state.listeners:
            self.state.listeners.remove(self.notice)
        await self._cancel(list(self._senders))
        if self._session is not None:
            await self._session.close()
            self._session = None

    def register(self, target: HookTarget) -> Registration:
        return self.book.register(target)

    async def remove_all(self) -> int:
        removed = self.book.clear()
        await self._cancel([r.id for r in removed])
        return len(removed)

    async def reset(self) -> None:
        """Back to the configured hooks with an empty log (``POST /admin/reset``)."""
        await self._cancel(list(self._senders))
        self.book.reset()

    def notice(self, change: Change) -> None:
        event = hooks.hook_event(self.state, change)
        if event is None:
            return
        for registration, delivery in self.book.deliveries_for(event):
            try:
                self._queue(registration).put_nowait(delivery)
            except RuntimeError:  # no running event loop: the state was changed outside the server
                delivery.pending, delivery.error = False, "not sent: the emulator was not running"

    def _queue(self, registration: Registration) -> asyncio.Queue[Delivery]:
        queue = self._queues.get(registration.id)
        if queue is None:
            loop = asyncio.get_running_loop()
            queue = self._queues[registration.id] = asyncio.Queue()
            self._senders[registration.id] = loop.create_task(self._send_all(registration, queue),
                                                              name=f"opentext-hook-{registration.id}")
        return queue

    async def _send_all(self, registration: Registration, queue: asyncio.Queue[Delivery]) -> None:
        while True:
            delivery = await queue.get()
            try:
                await self._deliver(registration.target, delivery)
            except asyncio.CancelledError:
                delivery.pending, delivery.error = False, "cancelled"
                raise
            except Exception:  # a bug here must not silence the hook's later deliveries
                log.exception("opentext emulator: hook %s failed on %s", registration.id, delivery.event.event_id)
                delivery.pending, delivery.error = False, "internal error in the emulator"

    async def _deliver(self, target: HookTarget, delivery: Delivery) -> None:
        body = delivery.event.body()
        timeout = aiohttp.ClientTimeout(total=hooks.TIMEOUT_S)
        signed_at = 0
        while True:
            delivery.attempts += 1
            retry_after = None
            signed_at = max(int(self.clock()), signed_at + 1)
            try:
                headers = hooks.headers(target.secret, signed_at, body)
                async with self._http().post(target.url, data=body, headers=headers, timeout=timeout,
                                             allow_redirects=False) as response:
                    await response.read()
                    retry_after = response.headers.get("Retry-After")
                delivery.status, delivery.error = response.status, None
                if 200 <= response.status < 300:
                    delivery.delivered = True
                    break
                if not hooks.retriable(response.status):
                    break
            except (aiohttp.ClientError, TimeoutError) as exc:
                delivery.status, delivery.error = None, _describe(exc)
            if delivery.attempts >= hooks.MAX_ATTEMPTS:
                break
            # a retry must carry a new timestamp (a receiver refuses a signature it saw as a replay), so
            # a wait shorter than that is stretched to the next whole second
            await asyncio.sleep(max(hooks.backoff_s(delivery.attempts, retry_after), signed_at + 1 - self.clock()))
        delivery.pending = False

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _cancel(self, registration_ids: Iterable[int]) -> None:
        ids = list(registration_ids)
        senders = [self._senders.pop(i) for i in ids if i in self._senders]
        queues = [self._queues.pop(i) for i in ids if i in self._queues]
        for sender in senders:
            sender.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
        for queue in queues:
            while not queue.empty():
                delivery = queue.get_nowait()
                delivery.pending, delivery.error = False, "cancelled"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"timeout after {hooks.TIMEOUT_S:g} s"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
