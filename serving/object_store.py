"""One S3 location (`storage.uri: s3://bucket/prefix`): put, get, list and delete objects by key.

Keys are relative to the prefix (`models/beauty/…` is `s3://bucket/prefix/models/beauty/…`), so the
whole registry moves with the URI. Works with AWS, SeaweedFS and MinIO through boto3. Every failure
a user can cause becomes an `ObjectStoreError` subclass that names the bucket, the endpoint and what
to do; credentials come from boto3's own chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a
profile) and appear in no message, setting or log line. Calls have short connect timeouts and a few
retries, so an unreachable endpoint fails in seconds, not minutes. Downloads land in a temp file
beside their destination and are renamed into place only once complete (and, when a SHA-256 is
expected, only once it matches).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import boto3
from boto3.exceptions import Boto3Error, S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from core.atomic import atomic_path
from core.errors import SalescastError
from core.hashing import file_sha256
from core.settings import StorageSettings

log = logging.getLogger(__name__)

ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL")
"""Where the endpoint comes from when `storage.endpoint_url` is null, first set wins."""

WRITE_PROBE_KEY = ".salescast-write-check"
_DELETE_BATCH = 1000  # the most keys one S3 DeleteObjects call takes
_REFUSED_KEY = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
_MISSING_BUCKET = {"NoSuchBucket"}
_MISSING_KEY = {"NoSuchKey", "404", "NotFound"}
_DENIED = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled"}


class ObjectStoreError(SalescastError):
    """The object store could not do what was asked; the message names bucket, endpoint and a remedy."""


class ObjectStoreUnreachableError(ObjectStoreError):
    """No answer from the endpoint (refused, timed out, wrong host)."""


class BucketNotFoundError(ObjectStoreError):
    """The bucket of `storage.uri` does not exist at the endpoint."""


class CredentialsRefusedError(ObjectStoreError):
    """No credentials, an unknown access key, a wrong secret, or a key without the needed permission."""


class ObjectNotFoundError(ObjectStoreError):
    """No object under that key."""


class ChecksumMismatchError(ObjectStoreError):
    """A downloaded object's SHA-256 is not the one expected; nothing was placed at the destination."""

    def __init__(self, message: str, *, expected: str = "", actual: str = "") -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


def storage_endpoint(storage: StorageSettings, environ: Mapping[str, str]) -> str | None:
    """The S3 endpoint: `storage.endpoint_url`, else the first of AWS_ENDPOINT_URL_S3,
    AWS_ENDPOINT_URL, MLFLOW_S3_ENDPOINT_URL that is set, else None (AWS for the region)."""
    if storage.endpoint_url:
        return storage.endpoint_url
    for name in ENDPOINT_VARIABLES:
        if environ.get(name):
            return environ[name].rstrip("/")
    return None


class ObjectStore:
    """Objects under one `s3://bucket/prefix`; construct with the `storage` settings section.

    `environ` (default: this process's) supplies the endpoint variables and, when it holds
    AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the credentials; otherwise boto3's chain finds them.
    """

    def __init__(self, storage: StorageSettings, environ: Mapping[str, str] | None = None) -> None:
        if not storage.enabled:
            raise ObjectStoreError("storage.uri is empty: versions are kept in local files only")
        env = os.environ if environ is None else environ
        self.uri = storage.uri
        self.bucket = storage.bucket
        self.prefix = storage.prefix
        self.endpoint_url = storage_endpoint(storage, env)
        self.region = storage.region
        style = storage.addressing_style
        if style == "auto" and self.endpoint_url:
            style = "path"  # SeaweedFS and MinIO serve buckets as paths unless a domain is configured
        config = Config(
            region_name=storage.region,
            connect_timeout=storage.connect_timeout_s,
            read_timeout=storage.read_timeout_s,
            retries={"total_max_attempts": storage.retries + 1, "mode": "standard"},
            s3={"addressing_style": style},
            ignore_configured_endpoint_urls=True,  # this class resolves the endpoint (one order, stated)
        )
        credentials: dict[str, Any] = {}
        if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
            credentials = {
                "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
                "aws_session_token": env.get("AWS_SESSION_TOKEN") or None,
            }
        session = boto3.session.Session(region_name=storage.region, **credentials)
        self._client: Any = session.client("s3", endpoint_url=self.endpoint_url, config=config)
        self._transfer = TransferConfig(use_threads=False)

    def __repr__(self) -> str:
        return f"ObjectStore({self.uri!r}, endpoint={self.where})"

    @property
    def where(self) -> str:
        """The endpoint as messages name it (without any user:password@ an endpoint variable held)."""
        if not self.endpoint_url:
            return f"AWS S3 ({self.region})"
        parts = urlsplit(self.endpoint_url)
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))

    def url(self, key: str = "") -> str:
        """`s3://bucket/prefix/key` of a key (the location itself for "")."""
        return f"s3://{self.bucket}/{self._full_key(key)}" if key else self.uri

    # ---- checks ---------------------------------------------------------------------------------

    def check(self, *, write: bool = False) -> None:
        """Fail with a clear `ObjectStoreError` unless the bucket exists and the key may list it
        (and, with `write`, put and delete an object under the prefix): run it at start-up."""
        with self._errors("list", ""):
            self._client.list_objects_v2(Bucket=self.bucket, Prefix=self._full_key(""), MaxKeys=1)
        if write:
            self.put_bytes(WRITE_PROBE_KEY, b"salescast can write here\n")
            self.delete(WRITE_PROBE_KEY)

    # ---- objects --------------------------------------------------------------------------------

    def put_file(self, local: Path, key: str) -> None:
        """Upload a local file (multipart when large); S3 makes it visible whole or not at all."""
        with self._errors("upload", key):
            self._client.upload_file(str(local), self.bucket, self._full_key(key), Config=self._transfer)
        log.info("object put key=%s bytes=%d", self.url(key), local.stat().st_size)

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write `data` as one object in one PUT (atomic: readers see the old object or the new one)."""
        with self._errors("upload", key):
            self._client.put_object(Bucket=self.bucket, Key=self._full_key(key), Body=data)
        log.info("object put key=%s bytes=%d", self.url(key), len(data))

    def get_bytes(self, key: str) -> bytes:
        """An object's content (`ObjectNotFoundError` when there is none)."""
        with self._errors("download", key):
            body = self._client.get_object(Bucket=self.bucket, Key=self._full_key(key))["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()

    def get_file(self, key: str, dest: Path, *, expected_sha256: str | None = None) -> Path:
        """Download to a temp file beside `dest`, then rename it over `dest`; with `expected_sha256`
        the rename happens only when the download's SHA-256 matches (else `ChecksumMismatchError`
        and `dest` is left as it was). Returns `dest`."""
        with atomic_path(dest) as tmp:
            with self._errors("download", key):
                self._client.download_file(self.bucket, self._full_key(key), str(tmp), Config=self._transfer)
            if expected_sha256 is not None:
                actual = file_sha256(tmp)
                if actual != expected_sha256.lower():
                    raise ChecksumMismatchError(
                        f"{self.url(key)} at {self.where} has SHA-256 {actual}, expected {expected_sha256}: "
                        f"the object was changed after it was written; not placed at {dest}",
                        expected=expected_sha256.lower(),
                        actual=actual,
                    )
        log.info("object got key=%s dest=%s", self.url(key), dest)
        return dest

    def exists(self, key: str) -> bool:
        """True when an object is stored under `key`."""
        try:
            with self._errors("read", key):
                self._client.head_object(Bucket=self.bucket, Key=self._full_key(key))
        except ObjectNotFoundError:
            return False
        return True

    def list_keys(self, prefix: str = "") -> list[str]:
        """Every key under `prefix` (relative to the store's prefix), sorted."""
        strip = len(self._full_key(""))
        pages = self._client.get_paginator("list_objects_v2")
        keys: list[str] = []
        with self._errors("list", prefix):
            for page in pages.paginate(Bucket=self.bucket, Prefix=self._full_key(prefix)):
                keys += [item["Key"][strip:] for item in page.get("Contents", [])]
        return sorted(keys)

    def delete(self, key: str) -> None:
        """Delete one object (nothing happens when there is none)."""
        with self._errors("delete", key):
            self._client.delete_object(Bucket=self.bucket, Key=self._full_key(key))
        log.info("object deleted key=%s", self.url(key))

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix` (a folder: give it a trailing `/`); returns how many."""
        if not prefix:
            raise ObjectStoreError("refusing to delete everything under the store's prefix (empty prefix)")
        keys = self.list_keys(prefix)
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            with self._errors("delete", prefix):
                answer = self._client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": self._full_key(key)} for key in batch], "Quiet": True},
                )
            if answer.get("Errors"):
                failed = answer["Errors"][0]
                raise ObjectStoreError(
                    f"cannot delete {len(answer['Errors'])} object(s) under {self.url(prefix)} at "
                    f"{self.where}, e.g. {failed.get('Key')}: {failed.get('Code')} {failed.get('Message')}"
                )
        log.info("objects deleted prefix=%s count=%d", self.url(prefix), len(keys))
        return len(keys)

    # ---- internals ------------------------------------------------------------------------------

    def _full_key(self, key: str) -> str:
        if key.startswith("/") or any(part in {".", ".."} for part in key.split("/")):
            raise ObjectStoreError(f"invalid object key {key!r}: relative, without `.` or `..` parts")
        base = f"{self.prefix}/" if self.prefix else ""
        return f"{base}{key}"

    @contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        """Turn boto3's exceptions into `ObjectStoreError`s that say what to do (never a secret)."""
        try:
            yield
        except ClientError as exc:
            self._raise_client_error(exc, action, key)
        except S3UploadFailedError as exc:  # boto3's transfer wraps the ClientError of an upload
            if isinstance(exc.__context__, ClientError):
                self._raise_client_error(exc.__context__, action, key)
            raise ObjectStoreError(f"cannot {action} {self.url(key)} at {self.where}: {exc}") from None
        except NoCredentialsError:
            raise CredentialsRefusedError(
                f"no credentials for {self.uri} at {self.where}: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or an AWS profile)"
            ) from None
        except (BotoCoreError, Boto3Error) as exc:
            raise ObjectStoreUnreachableError(
                f"cannot reach the object store at {self.where} to {action} {self.url(key)} "
                f"({type(exc).__name__}): check storage.endpoint_url (or AWS_ENDPOINT_URL) and that "
                "the server is running and reachable"
            ) from None

    def _raise_client_error(self, exc: ClientError, action: str, key: str) -> NoReturn:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        target = self.url(key)
        if code in _MISSING_BUCKET or (code in _MISSING_KEY and not key):
            raise BucketNotFoundError(
                f"bucket {self.bucket!r} does not exist at {self.where}: create it (e.g. `aws s3 mb "
                f"s3://{self.bucket}` with --endpoint-url for a local server) or fix storage.uri"
            ) from None
        if code in _MISSING_KEY:
            raise ObjectNotFoundError(f"no object {target} at {self.where}") from None
        if code == "InvalidAccessKeyId":
            raise CredentialsRefusedError(
                f"the object store at {self.where} does not know the access key in AWS_ACCESS_KEY_ID "
                f"(bucket {self.bucket!r}): set the key of an account of that server"
            ) from None
        if code in _REFUSED_KEY:
            raise CredentialsRefusedError(
                f"the object store at {self.where} refused the credentials ({code}) for bucket "
                f"{self.bucket!r}: check AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) belong to "
                "AWS_ACCESS_KEY_ID"
            ) from None
        if code in _DENIED:
            raise CredentialsRefusedError(
                f"access denied to {action} {target} at {self.where}: the key in AWS_ACCESS_KEY_ID "
                f"lacks that permission on bucket {self.bucket!r}"
            ) from None
        raise ObjectStoreError(
            f"the object store at {self.where} refused to {action} {target}: {code or status} "
            f"{error.get('Message', '')}".rstrip()
        ) from None
