"""Start and stop an emulated Content Server on a real socket (port 0 = any free port); stopping also
cancels the hook deliveries still pending."""

from __future__ import annotations

from types import TracebackType

from aiohttp import web

from xstream_emulators.opentext.app import HOOKS, STATE, build_opentext_app
from xstream_emulators.opentext.config import OpenTextEmulatorConfig
from xstream_emulators.opentext.hook_sender import HookDispatcher
from xstream_emulators.opentext.persistence import SqliteStore
from xstream_emulators.opentext.state import OpenTextState
from xstream_emulators.serving import serve


class RunningEmulator:
    """A started emulator; ``url`` is the client's base_url, ``admin_url`` the test/demo API."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, config: OpenTextEmulatorConfig,
                 store: SqliteStore | None = None) -> None:
        self._runner = runner
        self._store = store
        self.config = config
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}{config.base_path}"
        self.admin_url = f"http://{host}:{port}/admin"
        self.otds_url = f"http://{host}:{port}"
        """OTDS base URL: the token endpoint is {otds_url}/otdsws/oauth2/token."""
        self.state: OpenTextState = runner.app[STATE]
        self.hooks: HookDispatcher = runner.app[HOOKS]
        """The server-side event hooks: registrations and delivery log (``hooks.book``), as /admin/hooks shows."""

    async def stop(self) -> None:
        await self._runner.cleanup()
        if self._store is not None:
            self.state.flush()
            self._store.close()
            self.state.saver = None
        self.state.content.close()

    async def __aenter__(self) -> RunningEmulator:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


async def start_opentext_emulator(
    config: OpenTextEmulatorConfig | None = None, state: OpenTextState | None = None
) -> RunningEmulator:
    """Serve ``state`` (default: a fresh one from ``config``); with ``config.db_path`` the state is loaded
    from and saved to that SQLite file."""
    config = config or OpenTextEmulatorConfig()
    state = state or OpenTextState.from_config(config)
    store = SqliteStore(config.db_path) if config.db_path is not None else None
    if store is not None:
        store.attach(state)
    try:
        runner, port = await serve(build_opentext_app(config, state), config.host, config.port)
    except OSError:
        if store is not None:
            store.close()
        raise
    return RunningEmulator(runner, config.host, port, config, store)
