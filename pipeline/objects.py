"""What gets published: the files the local ``index.json`` lists, and the key, type and cache
rules each gets in storage.

The local index is the catalogue: render writes it last, listing only outputs that passed
verification, so publishing what it lists publishes exactly what was verified. Any field
named ``url`` or ending in ``_url`` holds a file's path relative to the output folder; that
one rule covers videos, caption sidecars, posters (JPEG and WebP), covers, thumbnails and
contact sheets, and any URL field the index gains later.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pipeline.errors import PublishError
from pipeline.index import INDEX_FILE, read_index

CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".vtt": "text/vtt",
    ".srt": "application/x-subrip",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",  # the review pages (pipeline.review)
}
# A key changes whenever its bytes do, so what is under it never changes: cache it for a year.
IMMUTABLE = "public, max-age=31536000, immutable"
# index.json lives at one key and changes on every publish: caches must revalidate each time
# (cheap with its ETag), so a new or rolled-back index is seen at once.
REVALIDATE = "no-cache"
HASH_CHARS = 16  # of the hex sha256 in a key: 64 bits, plenty to tell versions of one file apart
INDEX_HISTORY = "index-history"


def content_type(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    try:
        return CONTENT_TYPES[suffix]
    except KeyError:
        raise PublishError(
            f"{name}: no content type for {suffix or 'files without an extension'!r} "
            f"(known: {', '.join(CONTENT_TYPES)})"
        ) from None


def join_key(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def content_key(prefix: str, rel: str, sha256: str) -> str:
    """``<prefix>/<folder>/<name>.<hash>.<suffixes>``: the hash goes before *all* suffixes,
    not just the last, so ``x-1280x720.en_GB.srt`` becomes ``x-1280x720.<hash>.en_GB.srt``
    and keeps the ``name.<lang>_<COUNTRY>.srt`` shape Facebook's caption upload reads."""
    path = PurePosixPath(rel)
    stem, dot, suffixes = path.name.partition(".")
    name = f"{stem}.{sha256[:HASH_CHARS]}{dot}{suffixes}"
    return join_key(prefix, str(path.with_name(name)))


def is_url_field(name: str) -> bool:
    return name == "url" or name.endswith("_url")


def url_fields(doc: Any) -> Iterator[tuple[dict[str, Any], str]]:
    """Every (mapping, field) in ``doc`` whose field holds a file URL."""
    if isinstance(doc, dict):
        for name, value in doc.items():
            if isinstance(value, str) and is_url_field(name):
                yield doc, name
            else:
                yield from url_fields(value)
    elif isinstance(doc, list):
        for item in doc:
            yield from url_fields(item)


def rewrite_urls(doc: Any, new_url: Callable[[str], str]) -> Any:
    """A copy of ``doc`` with every file URL replaced by ``new_url(old)``."""
    copy = json.loads(json.dumps(doc))
    for holder, name in url_fields(copy):
        holder[name] = new_url(holder[name])
    return copy


@dataclass(frozen=True)
class LocalFile:
    rel: str  # relative to the output folder, as the local index lists it
    path: Path
    size: int
    sha256: str


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def read_local_index(out_dir: Path) -> dict[str, Any]:
    return read_index(
        out_dir,
        PublishError,
        "the output folder",
        "nothing has been rendered to publish (run render first)",
    )


def local_files(out_dir: Path, doc: dict[str, Any]) -> list[LocalFile]:
    """Every file the local index lists, hashed, checked against what the index says of it
    (``sha256``, ``bytes``) and inside the output folder. Raises ``PublishError`` listing
    every problem: publishing must not send a file that changed since it was verified."""
    root = out_dir.resolve()
    files: dict[str, LocalFile] = {}
    problems: list[str] = []
    for holder, name in url_fields(doc):
        rel = holder[name]
        if rel in files:
            continue
        pure = PurePosixPath(rel)
        if "://" in rel or pure.is_absolute() or ".." in pure.parts or not rel:
            problems.append(f"{rel!r} is not a path inside the output folder")
            continue
        path = (root / pure).resolve()  # symlinks followed: no publishing files from elsewhere
        if not path.is_relative_to(root):
            problems.append(f"{rel} leads outside the output folder")
            continue
        if not path.is_file():
            problems.append(f"{rel} is listed but missing")
            continue
        digest = sha256_file(path)
        size = path.stat().st_size
        if name == "url" and holder.get("sha256", digest) != digest:
            problems.append(f"{rel} changed since it was verified (sha256 differs)")
        if name == "url" and holder.get("bytes", size) != size:
            problems.append(
                f"{rel} changed since it was verified ({size} bytes, listed {holder['bytes']})"
            )
        files[rel] = LocalFile(rel, path, size, digest)
    if problems:
        shown = "; ".join(problems[:10]) + ("; ..." if len(problems) > 10 else "")
        raise PublishError(
            f"the local {INDEX_FILE} does not match the output folder ({len(problems)} "
            f"problem(s)): {shown}; run render again"
        )
    return list(files.values())
