"""What the emulators' aiohttp sides share: serving an app on a real socket, a call that never answers
and an answer that is lost.

A hanging call (fault injection ``hang_rate``) waits until its client gives up or the emulator
stops, so a test of client timeouts never keeps an emulator from shutting down. A lost answer
(``lost_answer_rate``, after the call's effect is committed) resets the connection before any byte
of the answer is written (kind ``reset``), or first hangs (kind ``hang``); the middleware then
returns the answer as usual and aiohttp, finding the transport closed, drops it without a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

from aiohttp import web

STOPPING = web.AppKey("emulator_stopping", asyncio.Event)
HANG_POLL_S = 0.05


def release_hangs_on_shutdown(app: web.Application) -> None:
    app[STOPPING] = asyncio.Event()

    async def release(app: web.Application) -> None:
        app[STOPPING].set()

    app.on_shutdown.append(release)


async def hang(request: web.Request) -> None:
    """Never answer: wait until the client closes the connection or the emulator stops."""
    stopping = request.app[STOPPING]
    transport = request.transport
    while not stopping.is_set() and transport is not None and not transport.is_closing():
        try:
            await asyncio.wait_for(stopping.wait(), HANG_POLL_S)
        except TimeoutError:
            pass


async def lose_answer(request: web.Request, kind: str) -> None:
    """The answer of ``request`` is never sent: ``hang`` first waits like :func:`hang`; then (for
    ``reset`` at once) the connection is reset."""
    if kind == "hang":
        await hang(request)
    reset_connection(request)


def reset_connection(request: web.Request) -> None:
    """Abort the request's connection with a TCP RST (SO_LINGER 0), dropping anything unsent."""
    transport = request.transport
    if transport is None or transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """The app listening on ``host:port`` (0 = a free port): its runner and the port it got."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        await runner.cleanup()
        raise
    sockets = runner.addresses
    return runner, int(sockets[0][1]) if sockets else port
