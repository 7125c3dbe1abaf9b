"""Memory and throughput of streamed document upload and download; prints figures, asserts nothing.

    .venv/bin/python -m benchmarks.upload_memory [--mb 200] [--chunk-kib 1024]

Starts the OpenText emulator as a separate process (``python -m xstream emulate opentext``), writes
a file of random bytes into a temporary directory (in chunks), uploads it with
``OpenTextClient.upsert_document`` streaming from the file (Large File Upload above the emulator's
default threshold of 16 MiB, in parts of 8 MiB), uploads it again (same content:
"unchanged", decided by a streamed download and hash), downloads it streaming into a file and
compares SHA-256. Prints this process's peak RSS (VmHWM) before and after, and MB/s per step.
Target: the client's peak RSS stays under 100 MB whatever the file size. The emulator process is
stopped on every exit path (normal end, error, Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pydantic import HttpUrl

from xstream.clients.opentext import OpenTextClient, file_body, file_sha256
from xstream.settings import OpenTextSettings

MIB = 1 << 20


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (VmHWM; ru_maxrss where /proc is missing)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_emulator(port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - our own CLI with fixed arguments
            [sys.executable, "-m", "xstream", "emulate", "opentext", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the emulator exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the emulator did not open port {port} within {timeout_s:.0f} s")


def stop_emulator(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def write_random_file(path: Path, size: int, chunk: int) -> None:
    with path.open("wb") as out:
        left = size
        while left > 0:
            out.write(os.urandom(min(chunk, left)))
            left -= chunk


async def run(url: str, path: Path, size: int, chunk: int, work: Path) -> dict[str, float | str]:
    figures: dict[str, float | str] = {}
    mb = size / 1e6
    started = time.perf_counter()
    _, digest = await file_sha256(path, chunk_size=chunk)
    figures["hash_local_mb_s"] = mb / (time.perf_counter() - started)
    figures["rss_peak_before_mib"] = peak_rss_mib()
    figures["rss_before_mib"] = current_rss_mib()
    settings = OpenTextSettings(base_url=HttpUrl(url), request_timeout_s=120)
    async with OpenTextClient(settings) as client:
        await client.login()
        folder = await client.ensure_folder_path(2000, ["Benchmarks"])
        started = time.perf_counter()
        body = file_body(path, media_type="application/octet-stream", chunk_size=chunk)
        created = await client.upsert_document(folder, path.name, body, size=size, sha256=digest)
        figures["upload_mb_s"] = mb / (time.perf_counter() - started)
        figures["upload_action"] = created.action
        started = time.perf_counter()
        again = await client.upsert_document(folder, path.name, body, size=size, sha256=digest)
        figures["unchanged_check_mb_s"] = mb / (time.perf_counter() - started)
        figures["second_action"] = again.action
        started = time.perf_counter()
        back = await client.download_to(created.node_id, work / "downloaded.bin")
        figures["download_mb_s"] = mb / (time.perf_counter() - started)
    figures["sha256_equal"] = "yes" if back.sha256 == digest and back.size == size else "NO"
    figures["rss_peak_after_mib"] = peak_rss_mib()
    figures["rss_after_mib"] = current_rss_mib()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="file size in MiB (default 200)")
    parser.add_argument("--chunk-kib", type=int, default=1024, help="read/write chunk in KiB (default 1024)")
    args = parser.parse_args(argv)
    size, chunk = args.mb * MIB, args.chunk_kib * 1024

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # through the finally blocks below

    signal.signal(signal.SIGTERM, terminate)
    with tempfile.TemporaryDirectory(prefix="xstream-upload-bench-") as tmp:
        work = Path(tmp)
        port = free_port()
        emulator = start_emulator(port, work / "emulator.log")
        try:
            wait_for_port(port, emulator)
            path = work / f"random-{args.mb}mib.bin"
            started = time.perf_counter()
            write_random_file(path, size, chunk)
            print(f"file: {args.mb} MiB of random bytes written in {time.perf_counter() - started:.1f} s; "
                  f"emulator pid {emulator.pid} on port {port}", flush=True)
            figures = asyncio.run(run(f"http://127.0.0.1:{port}/otcs/cs", path, size, chunk, work))
        except BaseException:
            log = (work / "emulator.log").read_text(errors="replace")[-2000:]
            if log:
                print(f"--- emulator log (tail) ---\n{log}", file=sys.stderr)
            raise
        finally:
            stop_emulator(emulator)
    print(f"client peak RSS before upload:  {figures['rss_peak_before_mib']:8.1f} MiB "
          f"(current {figures['rss_before_mib']:.1f} MiB)")
    print(f"client peak RSS after all:      {figures['rss_peak_after_mib']:8.1f} MiB "
          f"(current {figures['rss_after_mib']:.1f} MiB; target < 100 MiB)")
    print(f"upload (created):               {figures['upload_mb_s']:8.1f} MB/s  -> {figures['upload_action']}")
    print(f"re-upload (streamed hash check):{figures['unchanged_check_mb_s']:8.1f} MB/s  -> {figures['second_action']}")
    print(f"download to file:               {figures['download_mb_s']:8.1f} MB/s")
    print(f"local sha256 of the file:       {figures['hash_local_mb_s']:8.1f} MB/s")
    print(f"downloaded sha256 equals the original: {figures['sha256_equal']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
