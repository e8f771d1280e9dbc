"""Publish: put the verified files into storage, then the index that points at them.

The order is the guarantee. Every file goes up first, under a key that changes when its
bytes change, and is read back and compared; only then is ``index.json`` replaced, in one
PUT. Until that PUT the previous index stays live, and every URL in it still resolves
because nothing it points at is ever overwritten or deleted. A failed run leaves the files
it did send in place, so the next run skips them and completes the publish. The index being
replaced is first kept as a dated copy under ``index-history/``, which ``rollback`` restores
(``index_history``).

With the local backend (the default) the output folder is what is published: the files
are in place and render has already written the index, so there is nothing to send.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from pipeline import review
from pipeline.errors import PublishError
from pipeline.index import INDEX_FILE
from pipeline.index_history import (
    ISO,
    META_CONTENT,
    HistoryEntry,
    RollbackReport,
    history,
    index_key,
    replace_index,
    rollback,
    stamp_expiry,
    unchanged,
)
from pipeline.objects import (
    HASH_CHARS,
    IMMUTABLE,
    REVALIDATE,
    LocalFile,
    content_key,
    content_type,
    join_key,
    local_files,
    read_local_index,
    rewrite_urls,
    url_fields,
)
from pipeline.storage import Storage, StorageConfig, Stored, Upload, open_storage

# The API: publish here; the index's history and rollback live in index_history.
__all__ = [
    "HistoryEntry",
    "Planned",
    "PublishError",
    "PublishReport",
    "RollbackReport",
    "history",
    "publish",
    "rollback",
]

log = logging.getLogger(__name__)

NEW, CHANGED, PRESENT, DIFFERENT = "new", "changed", "present: skip", "present but different"

ProgressFn = Callable[[int, int], None]  # (bytes sent so far, bytes to send)


@dataclass(frozen=True)
class Planned:
    """One file's fate in a publish: its key, size, and why it goes up or not."""

    key: str
    rel: str
    bytes: int
    reason: str
    upload: bool


@dataclass
class PublishReport:
    where: str
    dry_run: bool
    planned: list[Planned] = field(default_factory=list)
    uploaded: list[tuple[str, int]] = field(default_factory=list)  # (key, bytes)
    skipped: list[tuple[str, int]] = field(default_factory=list)  # (key, bytes): already there
    index_url: str = ""
    index_key: str = ""
    # created, replaced, unchanged (same content as the live one), local; "would ..." on a
    # dry run
    index_action: str = ""
    history_key: str | None = None  # where the replaced index was kept
    review_url: str = ""  # the review site's overview page in storage
    verified: dict[str, str] = field(default_factory=dict)  # key -> how it was checked

    @property
    def uploaded_bytes(self) -> int:
        return sum(n for _, n in self.uploaded)

    @property
    def skipped_bytes(self) -> int:
        return sum(n for _, n in self.skipped)


def publish(
    out_dir: Path,
    config: StorageConfig,
    *,
    dry_run: bool = False,
    progress: ProgressFn | None = None,
) -> PublishReport:
    """Publish what the local ``index.json`` lists (verified outputs only) to ``config``'s
    storage. Raises ``PublishError`` before touching the live index if anything fails."""
    doc = read_local_index(out_dir)
    files = local_files(out_dir, doc)
    if config.backend == "local":
        return _local(out_dir, files, dry_run)
    storage = open_storage(config)
    report = PublishReport(config.where, dry_run, index_key=index_key(config))
    live = storage.head(report.index_key)
    previous = _previous_keys(storage, live)

    uploads = {
        f.rel: Upload(
            f.path,
            content_key(config.prefix, f.rel, f.sha256),
            f.size,
            f.sha256,
            content_type(f.rel),
            IMMUTABLE,
        )
        for f in files
    }
    report.planned = _plan(storage, uploads, previous, config.max_concurrency)
    to_send = [uploads[p.rel] for p in report.planned if p.upload]
    report.skipped = [(p.key, p.bytes) for p in report.planned if not p.upload]
    log.debug(
        "publish to %s: %d file(s) to send (%d bytes), %d already there",
        config.where,
        len(to_send),
        sum(u.size for u in to_send),
        len(report.skipped),
    )

    now = datetime.now(UTC)
    published = rewrite_urls(doc, lambda rel: storage.url(uploads[rel].key))
    published["published_at"] = now.strftime(ISO)
    stamp_expiry(published, config, now)
    same = unchanged(live, published, config)
    report.index_url = storage.url(report.index_key)
    if dry_run:
        report.index_action = (
            "would leave unchanged" if same else "would replace" if live else "would create"
        )
        return report

    _send(storage, to_send, report, progress)
    report.review_url = _put_review(storage, config, doc, uploads)
    # Only now, with every object in place and checked, does the index change.
    if same:
        report.index_action = "unchanged"
        return report
    report.history_key = replace_index(storage, published, live, now)
    report.index_action = "replaced" if live else "created"
    log.info("published %s (%s)", report.index_key, report.index_action)
    return report


def _put_review(
    storage: Storage, config: StorageConfig, doc: dict[str, Any], uploads: dict[str, Upload]
) -> str:
    """Put the review pages (``pipeline.review``) at fixed keys beside index.json, each
    linking to the objects just published: by relative path, so the site works from any
    address the bucket is served at; with a private bucket, by the presigned URLs the index
    lists (they expire with it). A page already there with the same content is not sent
    again. Returns the overview's URL."""
    folder = join_key(config.prefix, review.REVIEW_DIR)
    overview_key = f"{folder}/{review.OVERVIEW}"
    url_for = storage.url if config.urls == "presigned" else review.relative_url(overview_key)
    site = review.pages(doc, lambda rel: url_for(uploads[rel].key))
    for name, text in site.items():
        key = f"{folder}/{name}"
        body = text.encode()
        digest = hashlib.sha256(body).hexdigest()
        stored = storage.head(key)
        if stored is not None and (stored.metadata or {}).get(META_CONTENT) == digest:
            continue
        storage.put(key, body, content_type(name), REVALIDATE, {META_CONTENT: digest})
    log.debug("review pages: %d in %s", len(site), folder)
    return storage.url(overview_key)


def _local(out_dir: Path, files: list[LocalFile], dry_run: bool) -> PublishReport:
    report = PublishReport("the local output folder", dry_run)
    report.planned = [Planned(f.rel, f.rel, f.size, "local: in place", False) for f in files]
    report.skipped = [(f.rel, f.size) for f in files]
    report.index_key = INDEX_FILE
    report.index_url = str(out_dir / INDEX_FILE)
    report.index_action = "local"
    return report


def _plan(
    storage: Storage, uploads: dict[str, Upload], previous: dict[str, str], workers: int
) -> list[Planned]:
    """Decide per file, with one HEAD each (in parallel): skip what is already there with
    the same bytes, send the rest, and say why."""

    def decide(rel: str) -> Planned:
        u = uploads[rel]
        stored = storage.head(u.key)
        if stored is None:
            was = previous.get(rel)
            reason = f"{CHANGED} (was {PurePosixPath(was).name})" if was and was != u.key else NEW
            return Planned(u.key, rel, u.size, reason, True)
        try:
            storage.verify(u, stored)
        except PublishError as exc:
            log.warning("%s; sending it again", exc)
            return Planned(u.key, rel, u.size, DIFFERENT, True)
        return Planned(u.key, rel, u.size, PRESENT, False)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(decide, uploads))  # in the local index's order


def _send(
    storage: Storage, to_send: list[Upload], report: PublishReport, progress: ProgressFn | None
) -> None:
    total = sum(u.size for u in to_send)
    sent = 0
    lock = threading.Lock()

    def on_bytes(n: int) -> None:
        nonlocal sent
        with lock:
            sent += n
            if progress is not None:
                progress(sent, total)

    if progress is not None:
        progress(0, total)
    errors = storage.upload(to_send, on_bytes) if to_send else []
    if errors:
        shown = "; ".join(errors[:3]) + ("; ..." if len(errors) > 3 else "")
        raise PublishError(
            f"{len(errors)} of {len(to_send)} upload(s) to {storage.config.where} failed, so "
            f"index.json was not changed (the live one still stands): {shown}. Files that did "
            "go up are kept; publish again to finish."
        )
    # Read every new object back and compare with the local file before the index can
    # point at it. One that does not match is removed, so no later run mistakes it for good.
    for u in to_send:
        stored = storage.head(u.key)
        if stored is None:
            raise PublishError(f"{u.key}: uploaded but not found by HEAD; index.json not changed")
        try:
            report.verified[u.key] = storage.verify(u, stored)
        except PublishError as exc:
            try:
                storage.delete(u.key)
            except PublishError as gone:
                log.warning("could not remove the bad object: %s", gone)
            raise PublishError(f"{exc}; index.json not changed") from None
        report.uploaded.append((u.key, u.size))
        log.debug("%s: %d bytes, checked by %s", u.key, u.size, report.verified[u.key])


def _previous_keys(storage: Storage, live: Stored | None) -> dict[str, str]:
    """Relative path -> key, from the live index: to say which files changed."""
    if live is None:
        return {}
    try:
        doc = json.loads(storage.get(live.key) or b"{}")
    except ValueError:
        return {}
    keys: dict[str, str] = {}
    for holder, name in url_fields(doc):
        key = storage.key_of(holder[name])
        if key is not None:
            keys[_rel_of(key, storage.config.prefix)] = key
    return keys


def _rel_of(key: str, prefix: str) -> str:
    """The output-folder path a content-addressed key was made from."""
    rel = PurePosixPath(key[len(prefix) + 1 :] if prefix else key)
    parts = rel.name.split(".")
    if len(parts) > 1 and len(parts[1]) == HASH_CHARS:
        parts.pop(1)
    return str(rel.with_name(".".join(parts)))
