"""Start and stop an emulated ERP on a real socket (port 0 = any free port)."""

from __future__ import annotations

from types import TracebackType

from aiohttp import web

from xstream_emulators.erp.app import build_erp_app
from xstream_emulators.erp.config import TOKEN_PATH, ErpEmulatorConfig
from xstream_emulators.erp.state import ErpState
from xstream_emulators.erp.web_common import STATE
from xstream_emulators.serving import serve


class RunningErpEmulator:
    """A started emulator: ``url`` is a target's base_url, ``token_url`` its OAuth2 token_url,
    ``admin_url`` the test/demo API."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, config: ErpEmulatorConfig) -> None:
        self._runner = runner
        self.config = config
        self.host = host
        self.port = port
        self.origin = f"http://{host}:{port}"
        self.url = f"{self.origin}{config.base_path}"
        self.token_url = f"{self.origin}{TOKEN_PATH}"
        self.admin_url = f"{self.origin}/admin"
        self.state: ErpState = runner.app[STATE]

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def __aenter__(self) -> RunningErpEmulator:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


async def start_erp_emulator(config: ErpEmulatorConfig | None = None, state: ErpState | None = None) -> RunningErpEmulator:
    """Serve ``state`` (default: a fresh one from ``config``)."""
    config = config or ErpEmulatorConfig()
    state = state or ErpState(config)
    runner, port = await serve(build_erp_app(config, state), config.host, config.port)
    return RunningErpEmulator(runner, config.host, port, config)
