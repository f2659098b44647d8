"""Attachment bytes in Blob Storage, under generated names.

The original file name never becomes part of a blob name (it is user input); it is kept,
with size, content type and SHA-256, in the ticket's table partition and as blob metadata
(percent-encoded, since blob metadata must be ASCII)."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime
from urllib.parse import quote

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContentSettings
from azure.storage.blob.aio import ContainerClient

from shared.core.models import AttachmentInfo, AttachmentUpload
from shared.storage import failures

# An attachment's blob name: two hex digits, then its 32-digit id (see `put`).
ATTACHMENT_BLOB = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{32}$")


@failures.store
class AttachmentStore:
    def __init__(self, container: ContainerClient) -> None:
        self._container = container

    async def files_older_than(self, settled: datetime) -> list[str]:
        """The names of the attachment blobs last written at or before `settled`."""
        return [b.name async for b in self._container.list_blobs()
                if ATTACHMENT_BLOB.match(b.name) and b.last_modified is not None
                and b.last_modified <= settled]

    async def put(self, upload: AttachmentUpload, *, number: str, entry: int
                  ) -> tuple[AttachmentInfo, str]:
        attachment_id = uuid.uuid4().hex
        blob_name = f"{attachment_id[:2]}/{attachment_id}"
        info = AttachmentInfo(
            id=attachment_id,
            filename=upload.filename,
            size=len(upload.data),
            content_type=upload.content_type,
            sha256=hashlib.sha256(upload.data).hexdigest(),
            entry=entry,
        )
        await self._container.upload_blob(
            blob_name,
            upload.data,
            overwrite=False,
            content_settings=ContentSettings(content_type=upload.content_type),
            metadata={
                "filename": quote(upload.filename, safe=""),
                "sha256": info.sha256,
                "ticket": number,
            },
        )
        return info, blob_name

    async def put_raw(self, blob_name: str, data: bytes, *, content_type: str) -> None:
        """Keep a file under a name of our choosing (an original email); idempotent."""
        await self._container.upload_blob(
            blob_name, data, overwrite=True,
            content_settings=ContentSettings(content_type=content_type))

    async def read(self, blob_name: str) -> bytes:
        downloader = await self._container.download_blob(blob_name)
        return await downloader.readall()

    async def delete(self, blob_name: str) -> None:
        try:
            await self._container.delete_blob(blob_name)
        except ResourceNotFoundError:
            pass
