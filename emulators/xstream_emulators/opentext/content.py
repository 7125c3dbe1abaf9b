"""Document content on disk, written and read in chunks. No aiohttp; file I/O only.

An upload streams into a temporary file while its size and SHA-256 are computed
(:class:`Upload`); committing it moves the file to ``blobs/<sha[:2]>/<sha>``, so identical content
is stored once. Versions keep the hash (admin/state only; the real API exposes no hash). Without
a configured directory the store uses a temporary one, removed when the store is closed or
garbage-collected.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK_SIZE = 1 << 20


@dataclass(frozen=True)
class Blob:
    sha256: str
    size: int


class Upload:
    """One file part being received; ``write`` chunks, then ``finish``; ``discard`` if unused."""

    def __init__(self, directory: Path, filename: str, content_type: str) -> None:
        self.filename = filename
        self.content_type = content_type
        fd, name = tempfile.mkstemp(dir=directory, prefix="upload-")
        self.path = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0
        self.sha256 = ""
        self.committed = False

    def write(self, chunk: bytes) -> None:
        assert self._file is not None, "write after finish"
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def finish(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self.sha256 = self._hash.hexdigest()

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
            self._temp = tempfile.TemporaryDirectory(prefix="otcs-emulator-content-")
        return Path(self._temp.name)

    def begin(self, filename: str, content_type: str) -> Upload:
        incoming = self.root / "incoming"
        incoming.mkdir(exist_ok=True)
        return Upload(incoming, filename, content_type)

    def commit(self, upload: Upload) -> Blob:
        """Move a finished upload into the blob store (a no-op when that content is stored already)."""
        upload.finish()
        target = self.path(upload.sha256)
        if target.exists():
            upload.discard()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(upload.path, target)
        upload.committed = True
        return Blob(upload.sha256, upload.size)

    def add_bytes(self, data: bytes, filename: str = "file", content_type: str = "application/octet-stream") -> Blob:
        upload = self.begin(filename, content_type)
        upload.write(data)
        return self.commit(upload)

    def path(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def clear(self) -> None:
        """Forget all content (reset to the seed)."""
        for sub in ("blobs", "incoming"):
            shutil.rmtree(self.root / sub, ignore_errors=True)

    def close(self) -> None:
        if self._temp is not None:
            self._temp.cleanup()
            self._temp = None
