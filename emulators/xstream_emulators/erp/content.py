"""Attachment bodies on disk, written and read in chunks, pure (file I/O only, no aiohttp).

A body is spooled into a temporary file while its size, SHA-256 and MD5 are computed (:class:`Spool`;
MD5 because Salesforce publishes it as ``Checksum``); committing it moves the file to
``blobs/<sha[:2]>/<sha>``, so identical content is stored once and is never in memory whole. Without
a configured directory the store uses a temporary one, removed by :meth:`ContentStore.close`.
Bodies stay until a reset (an attachment that is deleted, or an older version, may share its blob).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK_SIZE = 256 * 1024


@dataclass(frozen=True)
class Blob:
    sha256: str
    md5: str
    size: int


class Spool:
    """One body being received: :meth:`write` its chunks, then :meth:`finish`; :meth:`discard` if unused."""

    def __init__(self, directory: Path) -> None:
        fd, name = tempfile.mkstemp(dir=directory, prefix="spool-")
        self.path = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0
        self.blob: Blob | None = None
        self.committed = False

    def write(self, chunk: bytes) -> None:
        assert self._file is not None, "write after finish"
        self._file.write(chunk)
        self._sha256.update(chunk)
        self._md5.update(chunk)
        self.size += len(chunk)

    def finish(self) -> Blob:
        if self._file is not None:
            self._file.close()
            self._file = None
            self.blob = Blob(self._sha256.hexdigest(), self._md5.hexdigest(), self.size)
        assert self.blob is not None
        return self.blob

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if not self.committed:
            self.path.unlink(missing_ok=True)


class ContentStore:
    def __init__(self, directory: Path | None = None) -> None:
        self._configured = directory
        self._temp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def root(self) -> Path:
        if self._configured is not None:
            self._configured.mkdir(parents=True, exist_ok=True)
            return self._configured
        if self._temp is None:
            self._temp = tempfile.TemporaryDirectory(prefix="erp-emulator-content-")
        return Path(self._temp.name)

    def spool(self) -> Spool:
        incoming = self.root / "incoming"
        incoming.mkdir(exist_ok=True)
        return Spool(incoming)

    def commit(self, spool: Spool) -> Blob:
        """Move a received body into the blob store (a no-op when that content is stored already)."""
        blob = spool.finish()
        target = self.path(blob.sha256)
        if target.exists():
            spool.discard()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(spool.path, target)
        spool.committed = True
        return blob

    def add_bytes(self, data: bytes) -> Blob:
        spool = self.spool()
        spool.write(data)
        return self.commit(spool)

    def path(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256[:2] / sha256

    def read(self, sha256: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        with self.path(sha256).open("rb") as handle:
            while chunk := handle.read(chunk_size):
                yield chunk

    def clear(self) -> None:
        """Forget all content (reset)."""
        for sub in ("blobs", "incoming"):
            shutil.rmtree(self.root / sub, ignore_errors=True)

    def close(self) -> None:
        if self._temp is not None:
            self._temp.cleanup()
            self._temp = None
