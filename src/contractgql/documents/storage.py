"""Content-addressed storage of document files.

DocumentStorage is the interface that the service uses, so another store, such as
an object store, can replace the local folder. FileSystemStorage keeps each file
once, under its SHA-256 digest, in a folder on the local disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

logger = logging.getLogger(__name__)

# Bytes read or written at a time, so memory does not grow with the file size.
CHUNK_SIZE = 64 * 1024
# Prefix of the files that uploads write before they are complete. Only the
# storage writes names that start with it.
TEMPORARY_PREFIX = ".upload-"
_SHA256 = re.compile(r"[0-9a-f]{64}")

# Called with the complete content, opened for reading, before it is stored. It
# raises to reject the content.
ContentCheck = Callable[[BinaryIO], None]


class DocumentTooLarge(Exception):
    """The content is larger than the maximum that the caller allowed."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"The content is larger than {max_bytes} bytes.")
        self.max_bytes = max_bytes


class StoredFileMissing(Exception):
    """No stored file has the requested digest."""


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int


class DocumentStorage(Protocol):
    """A store of file contents, addressed by the SHA-256 digest of each."""

    async def put(
        self,
        chunks: AsyncIterable[bytes],
        *,
        max_bytes: int,
        check: ContentCheck | None = None,
    ) -> StoredFile:
        """Store the content of `chunks` and return its digest and size.

        Raises DocumentTooLarge when the content exceeds `max_bytes`, and passes on
        what `check` raises. Either way, and when `chunks` raises, nothing of the
        content stays stored. Content that is stored already is kept once.
        """
        ...

    def read(self, sha256: str) -> AsyncIterator[bytes]:
        """Yield the stored content in chunks; raise StoredFileMissing without it."""
        ...

    async def exists(self, sha256: str) -> bool: ...


class FileSystemStorage:
    """Files in a local folder, at `<root>/<first two hex digits>/<sha256>`.

    An upload is written to a temporary file in the root folder, flushed to disk
    with fsync and then renamed to its final name. The rename is atomic within one
    file system, so a reader never sees a partial file, and a failed or cut-off
    upload deletes its temporary file.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"{sha256!r} is not a lowercase SHA-256 hex digest.")
        return self.root / sha256[:2] / sha256

    async def put(
        self,
        chunks: AsyncIterable[bytes],
        *,
        max_bytes: int,
        check: ContentCheck | None = None,
    ) -> StoredFile:
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        descriptor, name = await asyncio.to_thread(
            tempfile.mkstemp, prefix=TEMPORARY_PREFIX, dir=self.root
        )
        temporary = Path(name)
        try:
            with os.fdopen(descriptor, "w+b") as handle:
                digest = hashlib.sha256()
                size = 0
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise DocumentTooLarge(max_bytes)
                    digest.update(chunk)
                    await asyncio.to_thread(handle.write, chunk)
                await asyncio.to_thread(_flush, handle)
                if check is not None:
                    handle.seek(0)
                    await asyncio.to_thread(check, handle)
            stored = StoredFile(digest.hexdigest(), size)
            await asyncio.to_thread(self._move_into_place, temporary, stored.sha256)
        except BaseException:
            # Also on cancellation, when the client disconnects mid-upload.
            temporary.unlink(missing_ok=True)
            raise
        return stored

    def _move_into_place(self, temporary: Path, sha256: str) -> None:
        target = self.path_of(sha256)
        if target.exists():
            # The same content is stored already: keep the first copy.
            temporary.unlink()
            return
        target.parent.mkdir(exist_ok=True)
        os.replace(temporary, target)
        _fsync_directory(target.parent)

    async def read(self, sha256: str) -> AsyncIterator[bytes]:
        path = self.path_of(sha256)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise StoredFileMissing(sha256) from None
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK_SIZE):
                yield chunk
        finally:
            handle.close()

    async def exists(self, sha256: str) -> bool:
        return await asyncio.to_thread(self.path_of(sha256).is_file)


def _flush(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _fsync_directory(path: Path) -> None:
    """Flush a rename in `path` to disk, where the platform allows it."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        # Some platforms and file systems cannot fsync a directory.
        logger.debug("fsync of directory %s is not supported", path)
    finally:
        os.close(descriptor)


_storages: dict[Path, FileSystemStorage] = {}


def storage_for(root: Path) -> DocumentStorage:
    """Return the storage of the folder `root`, one object per folder."""
    storage = _storages.get(root)
    if storage is None:
        storage = _storages[root] = FileSystemStorage(root)
    return storage
