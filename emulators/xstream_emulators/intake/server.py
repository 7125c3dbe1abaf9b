"""Start and stop the emulated intake on a real socket (port 0 = any free port)."""

from __future__ import annotations

from types import TracebackType

from aiohttp import web

from xstream_emulators.intake.app import build_intake_app
from xstream_emulators.intake.config import IntakeEmulatorConfig
from xstream_emulators.intake.state import IntakeState
from xstream_emulators.intake.web_common import STATE
from xstream_emulators.serving import serve


class RunningIntakeEmulator:
    """A started emulator: ``url`` its origin (blob URLs start there unless ``public_url`` is set),
    ``admin_url`` the test/demo API the forwarder polls."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, config: IntakeEmulatorConfig) -> None:
        self._runner = runner
        self.config = config
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"
        self.admin_url = f"{self.url}/admin"
        self.state: IntakeState = runner.app[STATE]

    def blob_url(self, blob_id: str) -> str:
        return f"{self.config.public_url or self.url}/blobs/{blob_id}"

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def __aenter__(self) -> RunningIntakeEmulator:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


async def start_intake_emulator(config: IntakeEmulatorConfig | None = None,
                                state: IntakeState | None = None) -> RunningIntakeEmulator:
    """Serve ``state`` (default: a fresh one from ``config``)."""
    config = config or IntakeEmulatorConfig()
    state = state or IntakeState(config)
    runner, port = await serve(build_intake_app(config, state), config.host, config.port)
    return RunningIntakeEmulator(runner, config.host, port, config)
