"""Storage: where published files live, behind one small interface.

Two backends. ``local`` (the default, with no configuration) is the output folder itself:
files are already in place and the index's URLs are relative to it. ``s3`` is any
S3-compatible store through boto3 (``storage_s3``). Settings come from the campaign file's
``storage:`` section; environment variables override them, so CI or a developer can point a
publish elsewhere without editing the campaign. Credentials are never settings: boto3's own
chain (environment, profile, instance role) finds them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from pipeline.errors import StorageConfigError
from pipeline.manifest import StorageSettings
from pipeline.manifest_problems import describe_error

# Environment variable -> field of the campaign file's ``storage:`` section it overrides.
# An empty value counts as unset, so ``make`` passing ``VAR=`` changes nothing.
ENV: dict[str, tuple[str, ...]] = {
    "PIPELINE_STORAGE": ("backend",),
    "PIPELINE_S3_BUCKET": ("bucket",),
    "PIPELINE_S3_PREFIX": ("prefix",),
    "PIPELINE_S3_REGION": ("region",),
    "PIPELINE_S3_ENDPOINT_URL": ("endpoint_url",),
    "PIPELINE_S3_ADDRESSING_STYLE": ("addressing_style",),
    "PIPELINE_PUBLIC_BASE_URL": ("public_base_url",),
    "PIPELINE_URLS": ("urls",),
    "PIPELINE_PRESIGN_EXPIRES": ("presign_expires_s",),
    "PIPELINE_S3_MULTIPART_THRESHOLD": ("upload", "multipart_threshold"),
    "PIPELINE_S3_MULTIPART_CHUNKSIZE": ("upload", "multipart_chunksize"),
    "PIPELINE_S3_MAX_CONCURRENCY": ("upload", "max_concurrency"),
    "PIPELINE_S3_RETRY_MODE": ("upload", "retry_mode"),
    "PIPELINE_S3_MAX_ATTEMPTS": ("upload", "max_attempts"),
    "PIPELINE_S3_CONNECT_TIMEOUT": ("upload", "connect_timeout_s"),
    "PIPELINE_S3_READ_TIMEOUT": ("upload", "read_timeout_s"),
}

# The defaults' one home is the campaign file's model; the flat config below reads them.
_DEFAULT = StorageSettings()


@dataclass(frozen=True)
class StorageConfig:
    """Everything a backend needs, validated and flat. Build it with ``storage_config``."""

    backend: str = _DEFAULT.backend
    bucket: str | None = None
    prefix: str = ""
    region: str | None = None
    # None: boto3 decides, reading AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL itself
    endpoint_url: str | None = None
    addressing_style: str = _DEFAULT.addressing_style
    public_base_url: str | None = None
    urls: str = _DEFAULT.urls
    presign_expires_s: int = _DEFAULT.presign_expires_s
    multipart_threshold: int = int(_DEFAULT.upload.multipart_threshold)
    multipart_chunksize: int = int(_DEFAULT.upload.multipart_chunksize)
    max_concurrency: int = _DEFAULT.upload.max_concurrency
    retry_mode: str = _DEFAULT.upload.retry_mode
    max_attempts: int = _DEFAULT.upload.max_attempts
    connect_timeout_s: float = _DEFAULT.upload.connect_timeout_s
    read_timeout_s: float = _DEFAULT.upload.read_timeout_s

    @property
    def where(self) -> str:
        """Where publishing goes, for messages: ``s3://bucket/prefix`` or the local folder."""
        if self.backend == "local":
            return "the local output folder"
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


def storage_config(settings: StorageSettings | None, env: Mapping[str, str]) -> StorageConfig:
    """The campaign's ``storage:`` settings (None: all defaults) with ``env`` overrides applied
    and validated by the same model, so a bad ``PIPELINE_URLS`` reads like a bad campaign
    value. Raises ``StorageConfigError`` naming the variable or field."""
    merged: dict[str, Any] = (settings or StorageSettings()).model_dump()
    source: dict[tuple[str, ...], str] = {}
    for var, path in ENV.items():
        value = env.get(var, "").strip()
        if not value:
            continue
        target = merged
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
        source[path] = var
    try:
        model = StorageSettings.model_validate(merged)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(str(p) for p in err["loc"])
            where = source.get(loc, "storage." + ".".join(loc))
            problems.append(f"{where}: {describe_error(err, StorageSettings, err['loc'])}")
        raise StorageConfigError("invalid storage settings: " + "; ".join(problems)) from None
    if model.backend == "s3" and not model.bucket:
        raise StorageConfigError(
            "storage backend s3 needs a bucket: set storage.bucket in campaign.yaml or "
            "PIPELINE_S3_BUCKET"
        )
    up = model.upload
    return StorageConfig(
        backend=model.backend,
        bucket=model.bucket,
        prefix=model.prefix,
        region=model.region,
        endpoint_url=model.endpoint_url,
        addressing_style=model.addressing_style,
        public_base_url=model.public_base_url,
        urls=model.urls,
        presign_expires_s=model.presign_expires_s,
        multipart_threshold=int(up.multipart_threshold),
        multipart_chunksize=int(up.multipart_chunksize),
        max_concurrency=up.max_concurrency,
        retry_mode=up.retry_mode,
        max_attempts=up.max_attempts,
        connect_timeout_s=up.connect_timeout_s,
        read_timeout_s=up.read_timeout_s,
    )


@dataclass(frozen=True)
class Stored:
    """What the store holds under a key (a HEAD or a listing)."""

    key: str
    size: int
    last_modified: datetime | None = None
    metadata: Mapping[str, str] | None = None
    # The store's own SHA-256 checksum as it reports it: base64, with "-<parts>" appended for
    # a multipart upload by AWS (moto 5.2.5 leaves the suffix off); None if it keeps none.
    checksum_sha256: str | None = None


@dataclass(frozen=True)
class Upload:
    """One local file to put under a content-addressed key."""

    path: Path
    key: str
    size: int
    sha256: str  # hex
    content_type: str
    cache_control: str


class Storage(Protocol):
    """A remote store ``publish`` writes to. Keys are ``/``-separated; URLs are what the
    index lists."""

    name: str
    config: StorageConfig

    def check(self) -> None:
        """Raise ``PublishError`` now if the store cannot be reached or read with these
        credentials, before any long work that ends in a publish."""
        ...

    def url(self, key: str) -> str:
        """The URL the index lists for ``key`` (public, or presigned)."""
        ...

    def key_of(self, url: str) -> str | None:
        """The key a URL from ``url`` points at, or None if it is not one of this store's."""
        ...

    def head(self, key: str) -> Stored | None: ...

    def verify(self, upload: Upload, stored: Stored) -> str:
        """Check ``stored`` holds exactly ``upload``'s bytes; return how that was checked.
        Raises ``PublishError`` on a mismatch."""
        ...

    def upload(
        self, uploads: Sequence[Upload], on_bytes: Callable[[int], None] | None = None
    ) -> list[str]:
        """Send every file (in parallel); return one error message per file that failed."""
        ...

    def get(self, key: str) -> bytes | None: ...

    def put(
        self,
        key: str,
        data: bytes,
        content_type: str,
        cache_control: str,
        metadata: Mapping[str, str],
    ) -> None: ...

    def copy(self, source: str, key: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def list_prefix(self, prefix: str) -> list[Stored]: ...


class LocalFolder:
    """The output folder as storage: files are already in place, and the URL is the path
    relative to ``index.json``. What ``render`` writes its index with."""

    name = "local"

    def __init__(self, root: Path):
        self.root = root.resolve()

    def put(self, local: Path, key: str, content_type: str) -> str:
        target = self.root / key
        if local.resolve() != target.resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.partial")
            tmp.write_bytes(local.read_bytes())
            tmp.replace(target)
        return key


def _s3(config: StorageConfig) -> Storage:
    from pipeline.storage_s3 import S3Bucket  # boto3 is imported only when publishing to S3

    return S3Bucket(config)


# Remote backends by name. ``local`` is not here: publishing to it has nothing to send.
REMOTE: dict[str, Callable[[StorageConfig], Storage]] = {"s3": _s3}


def open_storage(config: StorageConfig) -> Storage:
    try:
        factory = REMOTE[config.backend]
    except KeyError:
        known = ", ".join(["local", *REMOTE])
        raise StorageConfigError(
            f"no remote storage backend {config.backend!r} (known: {known})"
        ) from None
    return factory(config)
