"""The one way xstream serves HTTP (observability endpoints, the webhook): an aiohttp app on a host
and port, started and stopped with the worker; port 0 picks a free one (tests), read back after start."""

from __future__ import annotations

from aiohttp import web


class WebServer:
    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self._runner = web.AppRunner(app, access_log=None)
        self._host = host
        self._requested_port = port
        self.port: int | None = None

    async def start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._requested_port).start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else self._requested_port

    async def stop(self) -> None:
        await self._runner.cleanup()
