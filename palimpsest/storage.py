"""Object storage for WARCs: a local folder or any S3-compatible bucket.

Both stores write atomically: an object is either absent or complete, so a
crash mid-upload never leaves a truncated WARC under its final key.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from .errors import NotStored, StorageError


class BlobStore(Protocol):
    """Where WARCs are kept, addressed by slash-separated keys."""

    url: str

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``, atomically."""

    def get(self, key: str, *, start: int = 0, length: int | None = None) -> bytes:
        """Read an object, or ``length`` bytes of it from ``start``."""

    def delete(self, key: str) -> None:
        """Remove an object; no error if it is already gone."""

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key under ``prefix``."""


#: The object :func:`check_writable` stores and deletes
PROBE = "palimpsest-probe"


def check_writable(store: BlobStore) -> None:
    """StorageError unless ``store`` takes an object and deletes it again:
    checked before a run captures anything, which it could not keep."""
    store.put(PROBE, b"probe")
    store.delete(PROBE)


def open_store(url: str, *, s3_options: Mapping[str, str] | None = None) -> BlobStore:
    """The store for ``url``: ``s3://bucket/prefix`` or a folder path."""
    if url.startswith("s3://"):
        return S3Store(url, **dict(s3_options or {}))
    if "://" in url and not url.startswith("file://"):
        raise StorageError(f"unsupported storage URL {url!r}: use a folder or s3://bucket/prefix")
    return LocalStore(url.removeprefix("file://"))


def _check_key(key: str) -> str:
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in key.split("/")):
        raise StorageError(f"invalid storage key {key!r}")
    return key


class LocalStore:
    """A folder on disk; the zero-configuration default."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write beside the target, fsync, then rename: readers see the whole
            # file or none of it, even after a power cut.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StorageError(f"could not write {path}: {exc}") from exc

    def get(self, key: str, *, start: int = 0, length: int | None = None) -> bytes:
        try:
            with self._path(key).open("rb") as f:
                f.seek(start)
                return f.read() if length is None else f.read(length)
        except FileNotFoundError as exc:
            raise NotStored(f"{key} is not in {self.root}") from exc
        except OSError as exc:
            raise StorageError(f"could not read {key} from {self.root}: {exc}") from exc

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"could not delete {key}: {exc}") from exc

    def keys(self, prefix: str = "") -> Iterator[str]:
        if not self.root.exists():
            return
        for path in sorted(self.root.rglob("*")):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and not path.name.startswith(".tmp-") and key.startswith(prefix):
                yield key


class S3Store:
    """An S3-compatible bucket through boto3 (AWS, MinIO, SeaweedFS, Ceph...)."""

    def __init__(self, url: str, **client_options: Any) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise StorageError(f"invalid S3 URL {url!r}: expected s3://bucket/prefix")
        self.url = url
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self._options = client_options
        self._client: Any = None

    def __getstate__(self) -> dict[str, Any]:
        # Picklable for worker processes (re-extraction); each makes its own client.
        return {**self.__dict__, "_client": None}

    @property
    def client(self) -> Any:
        # Created on first use: importing boto3 and building a client costs
        # about half a second, which commands that never touch S3 should not pay.
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "s3", config=Config(retries={"max_attempts": 5, "mode": "standard"}),
                **self._options,
            )
        return self._client

    def _key(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, key: str, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise NotStored(f"s3://{self.bucket}/{key} does not exist") from exc
            raise StorageError(f"could not {what} s3://{self.bucket}/{key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not {what} s3://{self.bucket}/{key}: {exc}") from exc

    def put(self, key: str, data: bytes) -> None:
        # A single PUT is atomic in S3: the object appears whole or not at all.
        full = self._key(key)
        self._call("write", full, "put_object", Key=full, Body=data)

    def get(self, key: str, *, start: int = 0, length: int | None = None) -> bytes:
        full = self._key(key)
        kwargs: dict[str, Any] = {"Key": full}
        if start or length is not None:
            end = "" if length is None else str(start + length - 1)
            kwargs["Range"] = f"bytes={start}-{end}"
        body = self._call("read", full, "get_object", **kwargs)["Body"]
        data: bytes = body.read()
        return data

    def delete(self, key: str) -> None:
        full = self._key(key)
        self._call("delete", full, "delete_object", Key=full)

    def keys(self, prefix: str = "") -> Iterator[str]:
        base = f"{self.prefix}/" if self.prefix else ""
        token: dict[str, str] = {}
        while True:
            page = self._call("list", base + prefix, "list_objects_v2",
                              Prefix=base + prefix, **token)
            for item in page.get("Contents", []):
                yield item["Key"][len(base):]
            if not page.get("IsTruncated"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist yet."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self._call("create bucket", "", "create_bucket")
