"""Object stores for raw files (content-addressed) and report datasets.

A store is a flat key space of immutable-ish blobs: a local folder (the embedded default) or an
S3 prefix (boto3, which honours AWS_ENDPOINT_URL; retries from PAYRECON_S3_MAX_ATTEMPTS and
PAYRECON_S3_RETRY_MODE). Raw files are stored under their SHA-256, so
storing the same bytes twice stores them once.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator, Protocol


class BlobStore(Protocol):
    url: str

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> Iterator[str]: ...
    def delete(self, key: str) -> None: ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def raw_key(sha256: str) -> str:
    """Where a raw file lives: fanned out by the first bytes of its hash."""
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


class LocalStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"key {key!r} escapes the store")
        return path

    def put(self, key: str, data: bytes) -> None:
        """Write atomically: a reader sees the old file or the new one, never half of one."""
        self._write_atomically(key, lambda handle: handle.write(data))

    def put_file(self, key: str, source: Path) -> None:
        """put() of a file on disk, copied in pieces (a large raw file is never held in memory)."""

        def copy(handle) -> None:
            with open(source, "rb") as original:
                shutil.copyfileobj(original, handle, 1 << 20)

        self._write_atomically(key, copy)

    def _write_atomically(self, key: str, write) -> None:
        """write(handle) into a temporary file beside the key's, synced, then renamed over it."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix
        if not base.exists():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(".tmp-"):
                yield path.relative_to(self.root).as_posix()

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        # Tidy empty folders up to the root so a replaced partition leaves no husk behind.
        for parent in path.parents:
            if parent == self.root or not parent.is_dir() or any(parent.iterdir()):
                break
            parent.rmdir()


class S3Store:
    """An S3 prefix. Every request is retried by botocore (`standard` or `adaptive` mode, with
    `max_attempts` in all) on throttling (SlowDown, ThrottlingException, 429), 5xx answers and
    dropped connections; reads are retried here too when the body breaks off mid-stream. Every PUT
    carries the SHA-256 of its body, so the server refuses a damaged upload instead of storing it,
    and a PUT replaces the object whole: a reader sees the old object or the new one. `encryption`
    (PAYRECON_S3_SSE) asks the server to encrypt every object written at rest: "AES256" (SSE-S3),
    "aws:kms" (the account's KMS key) or "aws:kms:<key id or ARN>"; "" leaves it to the bucket's
    default encryption."""

    #: Errors of a response body read after the status line, which botocore does not retry.
    _READ_RETRIES = 3

    def __init__(self, url: str, client=None, max_attempts: int = 8, retry_mode: str = "standard", encryption: str = ""):
        bucket_and_prefix = url[len("s3://") :]
        self.bucket, _, prefix = bucket_and_prefix.partition("/")
        self.prefix = prefix.strip("/")
        self.url = url
        self.max_attempts = max_attempts
        self.client = client or s3_client(max_attempts, retry_mode)
        self.encryption_args = encryption_arguments(encryption)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        answer = self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ChecksumSHA256=digest,
                                        **self.encryption_args)
        echoed = answer.get("ChecksumSHA256")
        if echoed is not None and echoed != digest:
            raise OSError(f"s3://{self.bucket}/{self._key(key)}: the store acknowledged other bytes than were sent")

    def put_file(self, key: str, source: Path) -> None:
        """put() of a file on disk, uploaded in parts with a SHA-256 checksum per part (boto3's
        managed transfer; a large raw file is never held in memory)."""
        self.client.upload_file(str(source), self.bucket, self._key(key), ExtraArgs={"ChecksumAlgorithm": "SHA256", **self.encryption_args})

    def get(self, key: str) -> bytes:
        from botocore.exceptions import (ConnectionClosedError, FlexibleChecksumError, IncompleteReadError,
                                         ReadTimeoutError, ResponseStreamingError)

        broken = (ConnectionClosedError, FlexibleChecksumError, IncompleteReadError, ReadTimeoutError, ResponseStreamingError)
        for attempt in range(1, self._READ_RETRIES + 1):
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key), ChecksumMode="ENABLED")
                return answer["Body"].read()
            except broken:
                if attempt == self._READ_RETRIES:
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def list(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        strip = len(self.prefix) + 1 if self.prefix else 0
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            for item in page.get("Contents", []):
                yield item["Key"][strip:]

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))


def s3_client(max_attempts: int = 8, retry_mode: str = "standard"):
    """An S3 client with explicit retries and timeouts (boto3 honours AWS_ENDPOINT_URL and the usual
    AWS_* credentials). Its own session: boto3's default session is not safe to share between the
    threads of a Dask worker."""
    import boto3  # imported here: local-only runs never pay for it
    from botocore.config import Config

    config = Config(
        retries={"mode": retry_mode, "total_max_attempts": max_attempts},
        connect_timeout=10,
        read_timeout=60,
        tcp_keepalive=True,
    )
    return boto3.session.Session().client("s3", config=config)


#: PAYRECON_S3_SSE values besides "aws:kms:<key id or ARN>"
SSE_MODES = ("", "AES256", "aws:kms")


def encryption_arguments(encryption: str) -> dict[str, str]:
    """The PutObject arguments of a PAYRECON_S3_SSE value (see `S3Store`)."""
    if encryption in ("", None):
        return {}
    if encryption == "AES256":
        return {"ServerSideEncryption": "AES256"}
    if encryption == "aws:kms":
        return {"ServerSideEncryption": "aws:kms"}
    if encryption.startswith("aws:kms:") and len(encryption) > len("aws:kms:"):
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": encryption[len("aws:kms:"):]}
    raise ValueError(f"S3 encryption must be AES256, aws:kms or aws:kms:<key id>, got {encryption!r}")


def open_store(url: str, s3_max_attempts: int = 8, s3_retry_mode: str = "standard", s3_encryption: str = "") -> BlobStore:
    if url.startswith("s3://"):
        return S3Store(url, max_attempts=s3_max_attempts, retry_mode=s3_retry_mode, encryption=s3_encryption)
    return LocalStore(url)
