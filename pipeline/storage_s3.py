"""The S3 backend: any S3-compatible store (AWS S3, MinIO, Cloudflare R2, ...) via boto3.

Everything that can go wrong on the wire is left to boto3's own machinery, configured rather
than rewritten: botocore's ``standard`` (or ``adaptive``) retry mode retries throttling, 5xx
and dropped connections with jittered backoff, and boto3's transfer manager splits large
files into parts and runs parts and files in parallel. Each file is sent with a SHA-256
checksum (per part for multipart uploads) that the store checks on receipt, and read back
with a HEAD afterwards and compared with the hash of the local file.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import CancelledError
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import boto3
from boto3.s3.transfer import TransferConfig, create_transfer_manager
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)
from s3transfer.subscribers import BaseSubscriber
from s3transfer.utils import ChunksizeAdjuster

from pipeline import __version__, redact
from pipeline.errors import PublishError
from pipeline.storage import StorageConfig, Stored, Upload

log = logging.getLogger(__name__)

# User metadata written with every object (S3 returns it as x-amz-meta-*): the local file's
# hex SHA-256, and the part size a multipart upload used (0: one PUT), so the store's
# composite checksum can be recomputed from the local file later, whatever the config is then.
META_SHA256 = "sha256"
META_PART_SIZE = "part-size"

_MISSING = {"404", "NoSuchKey", "NotFound"}
_HINTS = {
    "AccessDenied": "check the credentials' permissions (s3:GetObject, s3:PutObject, "
    "s3:ListBucket on the bucket)",
    "NoSuchBucket": "create the bucket or fix storage.bucket / PIPELINE_S3_BUCKET",
    "InvalidAccessKeyId": "the access key is not known to this endpoint; check which "
    "credentials boto3 found (environment, AWS_PROFILE, instance role)",
    "SignatureDoesNotMatch": "the secret key does not match the access key, or the region is wrong",
    "PermanentRedirect": "the bucket is in another region: set storage.region",
    "AuthorizationHeaderMalformed": "the region is wrong: set storage.region",
}


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def sha256_b64(hex_digest: str) -> str:
    """A hex SHA-256 as the base64 S3 uses in checksum headers."""
    return b64(bytes.fromhex(hex_digest))


class _Progress(BaseSubscriber):
    """Forwards the transfer manager's byte counts (negative when a retry rewinds)."""

    def __init__(self, on_bytes: Callable[[int], None]):
        self._on_bytes = on_bytes

    def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
        self._on_bytes(bytes_transferred)


class S3Bucket:
    name = "s3"

    def __init__(self, config: StorageConfig):
        assert config.bucket, "storage_config() requires a bucket for s3"
        self.config = config
        self.bucket = config.bucket
        # A session of our own: boto3's default session caches credentials across runs (and
        # tests); this one reads the standard chain afresh. The region may still be None:
        # boto3 then takes AWS_REGION / AWS_DEFAULT_REGION or the profile's.
        session = boto3.session.Session(region_name=config.region)
        options = Config(
            signature_version="s3v4",  # presigned URLs too (botocore's default there is v2)
            s3={"addressing_style": config.addressing_style},
            # total_max_attempts counts the first try too (max_attempts would count retries only)
            retries={"mode": config.retry_mode, "total_max_attempts": config.max_attempts},
            connect_timeout=config.connect_timeout_s,
            read_timeout=config.read_timeout_s,
            # the transfer threads and the HEAD checks share the pool: room for all of them
            max_pool_connections=config.max_concurrency + 4,
            user_agent_extra=f"case-study-pipeline/{__version__}",
        )
        # endpoint_url=None lets boto3 apply AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL itself
        self._client: Any = session.client("s3", endpoint_url=config.endpoint_url, config=options)
        # The same endpoint and addressing, unsigned: builds the plain object URLs.
        self._plain: Any = session.client(
            "s3",
            endpoint_url=config.endpoint_url,
            config=options.merge(Config(signature_version=UNSIGNED)),
        )
        self._transfer = TransferConfig(
            multipart_threshold=config.multipart_threshold,
            multipart_chunksize=config.multipart_chunksize,
            max_concurrency=config.max_concurrency,
            use_threads=True,
            preferred_transfer_client="classic",  # the same code path on every machine
        )
        credentials = session.get_credentials()
        if credentials is not None:
            frozen = credentials.get_frozen_credentials()
            redact.protect(frozen.access_key, frozen.secret_key, frozen.token)
        else:
            redact.protect()
        log.debug(
            "s3: bucket %s at %s, %s addressing, retries %s x%d",
            self.bucket,
            self._client.meta.endpoint_url,
            config.addressing_style,
            config.retry_mode,
            config.max_attempts,
        )

    def check(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("HEAD bucket", "", exc) from None

    # -- URLs ---------------------------------------------------------------------------

    def url(self, key: str) -> str:
        params = {"Bucket": self.bucket, "Key": key}
        if self.config.urls == "presigned":
            try:
                return str(
                    self._client.generate_presigned_url(
                        "get_object", Params=params, ExpiresIn=self.config.presign_expires_s
                    )
                )
            except BotoCoreError as exc:
                raise self._error("presign", key, exc) from None
        if self.config.public_base_url:
            # botocore's own quoting of keys, so both kinds of URL spell a key alike
            return f"{self.config.public_base_url}/{quote(key, safe='/~')}"
        return str(self._plain.generate_presigned_url("get_object", Params=params))

    def key_of(self, url: str) -> str | None:
        """The inverse of ``url``: strip the query (a signature), then the base URL, which is
        the public base or the bucket's URL as botocore builds it for this endpoint and
        addressing style (found by building one for a known key)."""
        parts = urlsplit(url)
        plain = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        probe = "k"
        bucket_url = self._plain.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": probe}
        )
        bases = [str(bucket_url)[: -len(probe)]]
        if self.config.public_base_url:
            bases.insert(0, self.config.public_base_url + "/")
        for base in bases:
            if plain.startswith(base) and len(plain) > len(base):
                return unquote(plain[len(base) :])
        return None

    # -- reading --------------------------------------------------------------------------

    def head(self, key: str) -> Stored | None:
        try:
            r = self._client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise self._error("HEAD", key, exc) from None
        except BotoCoreError as exc:
            raise self._error("HEAD", key, exc) from None
        return Stored(
            key=key,
            size=int(r["ContentLength"]),
            last_modified=r.get("LastModified"),
            metadata=dict(r.get("Metadata") or {}),
            checksum_sha256=r.get("ChecksumSHA256"),
        )

    def get(self, key: str) -> bytes | None:
        try:
            r = self._client.get_object(Bucket=self.bucket, Key=key)
            return bytes(r["Body"].read())
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise self._error("GET", key, exc) from None
        except BotoCoreError as exc:
            raise self._error("GET", key, exc) from None

    def list_prefix(self, prefix: str) -> list[Stored]:
        found: list[Stored] = []
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    found.append(Stored(obj["Key"], int(obj["Size"]), obj.get("LastModified")))
        except (ClientError, BotoCoreError) as exc:
            raise self._error("LIST", prefix + "*", exc) from None
        return found

    # -- integrity ------------------------------------------------------------------------

    def part_size(self, size: int) -> int:
        """The part size the transfer manager will use for a file of ``size`` bytes, 0 if it
        goes up in one PUT (its own rules: the threshold, then the 10,000-part limit)."""
        if size < self.config.multipart_threshold:
            return 0
        return int(ChunksizeAdjuster().adjust_chunksize(self.config.multipart_chunksize, size))

    def verify(self, upload: Upload, stored: Stored) -> str:
        """Compare what the store holds under the key with the local file. Returns how it
        was checked; raises ``PublishError`` on any difference."""
        where = f"s3://{self.bucket}/{upload.key}"
        meta = stored.metadata or {}
        if stored.size != upload.size:
            raise PublishError(f"{where}: holds {stored.size} bytes, the local file {upload.size}")
        if meta.get(META_SHA256) != upload.sha256:
            raise PublishError(
                f"{where}: its sha256 metadata is {meta.get(META_SHA256)!r}, the local "
                f"file's {upload.sha256}"
            )
        if not stored.checksum_sha256:
            # Some S3-compatible stores keep no checksums: the metadata we wrote and the
            # size are all there is to compare.
            return "size and sha256 metadata (the store returned no checksum)"
        value, _, count = stored.checksum_sha256.partition("-")
        part_size = int(meta.get(META_PART_SIZE, "0") or 0)
        if part_size == 0 and not count:
            expected, how = sha256_b64(upload.sha256), "sha256 checksum"
        else:
            digests = _part_digests(upload, part_size or self.part_size(upload.size))
            if count and int(count) != len(digests):
                raise PublishError(
                    f"{where}: the store has {count} parts, the local file makes {len(digests)}"
                )
            # S3's composite checksum: the SHA-256 of the parts' SHA-256 digests
            expected = b64(hashlib.sha256(b"".join(digests)).digest())
            how = f"composite sha256 checksum of {len(digests)} part(s)"
        if value != expected:
            raise PublishError(
                f"{where}: the store's checksum {stored.checksum_sha256} does not match the "
                f"local file ({expected})"
            )
        return how

    # -- writing --------------------------------------------------------------------------

    def upload(
        self, uploads: Sequence[Upload], on_bytes: Callable[[int], None] | None = None
    ) -> list[str]:
        subscribers = [_Progress(on_bytes)] if on_bytes else []
        errors: list[str] = []
        with create_transfer_manager(self._client, self._transfer) as manager:
            futures = [
                (
                    u,
                    manager.upload(
                        str(u.path),
                        self.bucket,
                        u.key,
                        extra_args={
                            "ContentType": u.content_type,
                            "CacheControl": u.cache_control,
                            "Metadata": {
                                META_SHA256: u.sha256,
                                META_PART_SIZE: str(self.part_size(u.size)),
                            },
                            # botocore computes it from the bytes it sends (each part's, for
                            # multipart) and the store checks it on receipt
                            "ChecksumAlgorithm": "SHA256",
                        },
                        subscribers=subscribers,
                    ),
                )
                for u in uploads
            ]
            for u, future in futures:
                try:
                    future.result()
                except (ClientError, BotoCoreError) as exc:
                    errors.append(str(self._error("upload", u.key, exc)))
                except OSError as exc:  # the local file went away or cannot be read
                    errors.append(f"upload {u.path.name} to s3://{self.bucket}/{u.key}: {exc}")
                except CancelledError as exc:  # the manager shut down (an interrupt)
                    errors.append(f"upload s3://{self.bucket}/{u.key} cancelled: {exc}")
        return errors

    def put(
        self,
        key: str,
        data: bytes,
        content_type: str,
        cache_control: str,
        metadata: Mapping[str, str],
    ) -> None:
        local = b64(hashlib.sha256(data).digest())
        try:
            r = self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                CacheControl=cache_control,
                Metadata=dict(metadata),
                ChecksumAlgorithm="SHA256",
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error("PUT", key, exc) from None
        stored = r.get("ChecksumSHA256")
        if stored and stored.partition("-")[0] != local:
            raise PublishError(f"s3://{self.bucket}/{key}: stored checksum {stored} != {local}")

    def copy(self, source: str, key: str) -> None:
        try:
            self._client.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": source},
                MetadataDirective="COPY",  # keeps type, cache rules and our metadata
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(f"copy s3://{self.bucket}/{source} to", key, exc) from None

    def delete(self, key: str) -> None:
        try:
            self._client.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("DELETE", key, exc) from None

    # -- errors ---------------------------------------------------------------------------

    def _error(self, action: str, key: str, exc: Exception) -> PublishError:
        """A message naming the bucket, key and S3 error code; never credentials (botocore's
        own messages carry none, and the endpoint is shown without any user info)."""
        where = f"s3://{self.bucket}/{key}"
        if isinstance(exc, ClientError):
            code = _code(exc)
            err = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
            retries = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            text = f"{action} {where} failed: {code} (HTTP {status}"
            text += f", after {retries} retries)" if retries else ")"
            if err.get("Message"):
                text += f": {err['Message']}"
            if code in _HINTS:
                text += f"; {_HINTS[code]}"
            return PublishError(text)
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return PublishError(
                f"{action} {where}: no usable AWS credentials found; set them the standard way "
                "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance "
                "role), never in campaign.yaml"
            )
        if isinstance(exc, EndpointConnectionError):
            endpoint = _safe(self._client.meta.endpoint_url)
            return PublishError(
                f"{action} {where} failed: cannot connect to {endpoint} after "
                f"{self.config.max_attempts} attempts ({type(exc).__name__})"
            )
        return PublishError(f"{action} {where} failed: {redact.redact(str(exc))}")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "?"))


def _safe(url: str) -> str:
    """``url`` without any user:password@ part."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _part_digests(upload: Upload, part_size: int) -> list[bytes]:
    digests = []
    with upload.path.open("rb") as f:
        while chunk := f.read(part_size):
            digests.append(hashlib.sha256(chunk).digest())
    return digests
