"""Start and stop the emulated chat webhooks on a real socket (port 0 = any free port)."""

from __future__ import annotations

from types import TracebackType
from urllib.parse import quote

from aiohttp import web

from xstream_emulators.notify.app import build_notify_app
from xstream_emulators.notify.config import NotifyEmulatorConfig
from xstream_emulators.notify.model import FORMATS, Format
from xstream_emulators.notify.state import NotifyState
from xstream_emulators.notify.web_common import STATE
from xstream_emulators.serving import serve


class RunningNotifyEmulator:
    """A started emulator: :meth:`channel_url` is what a team pastes as its incoming-webhook URL,
    ``admin_url`` the test/demo API."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, config: NotifyEmulatorConfig) -> None:
        self._runner = runner
        self.config = config
        self.host = host
        self.port = port
        self.origin = f"http://{host}:{port}"
        self.admin_url = f"{self.origin}/admin"
        self.state: NotifyState = runner.app[STATE]

    def channel_url(self, channel: str, format: Format) -> str:
        """The full incoming-webhook URL (token included) of a configured channel in one format."""
        if format not in FORMATS:
            raise ValueError(f"format must be one of {list(FORMATS)}, not {format!r}")
        token = self.config.channels.get(channel)
        if token is None:
            raise ValueError(f"no channel {channel!r}; configured: {sorted(self.config.channels)}")
        return f"{self.origin}/{format}/{quote(channel, safe='')}/{quote(token, safe='')}"

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def __aenter__(self) -> RunningNotifyEmulator:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


async def start_notify_emulator(config: NotifyEmulatorConfig | None = None,
                                state: NotifyState | None = None) -> RunningNotifyEmulator:
    """Serve ``state`` (default: a fresh one from ``config``)."""
    config = config or NotifyEmulatorConfig()
    state = state or NotifyState(config)
    runner, port = await serve(build_notify_app(config, state), config.host, config.port)
    return RunningNotifyEmulator(runner, config.host, port, config)
