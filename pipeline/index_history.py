"""The published ``index.json`` over time: how it is replaced, the dated copies kept of it,
and rolling back to one.

Every replacement keeps the index it replaces under ``<prefix>/index-history/<name>.json``,
where the name is the UTC time that index was first published (``20261126T120000.123456Z``:
sorts in time order, safe in keys and on command lines). A rolled-back index keeps its
original name, so "the one before the live one" stays well defined after any number of
rollbacks, and a rollback can itself be undone.
"""

from __future__ import annotations

import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.errors import PublishError
from pipeline.index import INDEX_FILE
from pipeline.objects import (
    INDEX_HISTORY,
    REVALIDATE,
    content_type,
    join_key,
    rewrite_urls,
    url_fields,
)
from pipeline.storage import Storage, StorageConfig, Stored, open_storage

log = logging.getLogger(__name__)

# Metadata on index.json: when this version was first published (its name once it is kept),
# and the hash of its content without timestamps, to tell whether a publish changes anything.
META_PUBLISHED = "published-at"
META_CONTENT = "content-sha256"
# Fields that change on every render or publish without changing what the index points at.
VOLATILE = ("generated_at", "published_at", "urls_expire_at")
STAMP = "%Y%m%dT%H%M%S.%fZ"
ISO = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True)
class HistoryEntry:
    name: str  # the UTC time that index was published, e.g. 20261126T120000.000000Z
    key: str
    bytes: int
    live: bool  # the live index.json is this version (after a rollback to it)


@dataclass(frozen=True)
class RollbackReport:
    restored: str  # the history entry now live
    index_url: str
    history_key: str | None  # where the index it replaced was kept
    checked: int  # objects confirmed present before the switch


def index_key(config: StorageConfig) -> str:
    return join_key(config.prefix, INDEX_FILE)


def content_hash(doc: dict[str, Any]) -> str:
    stable = {k: v for k, v in doc.items() if k not in VOLATILE}
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest()


def unchanged(live: Stored | None, doc: dict[str, Any], config: StorageConfig) -> bool:
    """Would putting ``doc`` change nothing the web team reads? (Presigned URLs are renewed
    on every publish, so they always change.)"""
    return (
        live is not None
        and (live.metadata or {}).get(META_CONTENT) == content_hash(doc)
        and config.urls == "public"
    )


def stamp_expiry(doc: dict[str, Any], config: StorageConfig, now: datetime) -> None:
    """Say in the index when its presigned URLs stop working."""
    if config.urls == "presigned":
        expires = datetime.fromtimestamp(now.timestamp() + config.presign_expires_s, UTC)
        doc["urls_expire_at"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")


def replace_index(
    storage: Storage, doc: dict[str, Any], live: Stored | None, published: datetime | str
) -> str | None:
    """Keep the live index (if any) in the history, then put ``doc`` as index.json, first
    published at ``published`` (a time, or the name it already has). Returns the history
    key the old one was kept under. The copy comes first: if it fails, nothing changed."""
    key = index_key(storage.config)
    name = published if isinstance(published, str) else published.strftime(STAMP)
    kept = None
    if live is not None and _name_of(live) != name:
        kept = _history_key(storage.config, _name_of(live))
        storage.copy(key, kept)
    body = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()
    metadata = {META_PUBLISHED: name, META_CONTENT: content_hash(doc)}
    storage.put(key, body, content_type(INDEX_FILE), REVALIDATE, metadata)
    return kept


def _name_of(index: Stored) -> str:
    stamp = (index.metadata or {}).get(META_PUBLISHED)
    if stamp:
        return stamp
    # an index.json someone else put: name it by when it was stored
    when = index.last_modified or datetime.now(UTC)
    return when.astimezone(UTC).strftime(STAMP)


def _history_key(config: StorageConfig, name: str) -> str:
    return join_key(config.prefix, f"{INDEX_HISTORY}/{name}.json")


def history(config: StorageConfig) -> list[HistoryEntry]:
    """The kept copies of earlier indexes, oldest first."""
    return _history(_remote(config, "history"))


def _history(storage: Storage) -> list[HistoryEntry]:
    folder = join_key(storage.config.prefix, INDEX_HISTORY) + "/"
    live = storage.head(index_key(storage.config))
    live_name = _name_of(live) if live else None
    entries = [
        HistoryEntry(name, s.key, s.size, name == live_name)
        for s in storage.list_prefix(folder)
        if s.key.endswith(".json") and "/" not in (name := s.key[len(folder) : -len(".json")])
    ]
    return sorted(entries, key=lambda e: e.name)


def rollback(config: StorageConfig, to: str | None = None) -> RollbackReport:
    """Make a kept index live again: the newest one published before the live one, or the
    one named by ``to`` (its name, or the start of it). Every object it points at is checked
    first; with presigned URLs they are signed afresh."""
    storage = _remote(config, "rollback")
    entries = _history(storage)
    if not entries:
        raise PublishError(f"no earlier index kept in {config.where}/{INDEX_HISTORY}/")
    live = storage.head(index_key(config))
    entry = _choose(entries, to, _name_of(live) if live else None)

    try:
        doc = json.loads(storage.get(entry.key) or b"")
    except ValueError:
        raise PublishError(f"{entry.key} is missing or not JSON; nothing changed") from None
    keys: dict[str, str] = {}
    for holder, name in url_fields(doc):
        key = storage.key_of(holder[name])
        if key is None:
            raise PublishError(
                f"{entry.name} lists {holder[name].split('?')[0]}, which is not in "
                f"{config.where} as configured now (published with another public_base_url "
                "or bucket?); nothing changed"
            )
        keys[holder[name]] = key
    wanted = sorted(set(keys.values()))
    with ThreadPoolExecutor(max_workers=config.max_concurrency) as pool:
        missing = [k for k, s in zip(wanted, pool.map(storage.head, wanted), strict=True) if not s]
    if missing:
        raise PublishError(
            f"cannot roll back to {entry.name}: {len(missing)} object(s) it lists are gone "
            f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}); nothing changed"
        )
    restored = rewrite_urls(doc, lambda url: storage.url(keys[url]))
    stamp_expiry(restored, config, datetime.now(UTC))
    kept = replace_index(storage, restored, live, entry.name)
    log.info("rolled back %s to %s", index_key(config), entry.name)
    return RollbackReport(entry.name, storage.url(index_key(config)), kept, len(wanted))


def _choose(entries: list[HistoryEntry], to: str | None, live_name: str | None) -> HistoryEntry:
    if to is None:
        older = [e for e in entries if live_name is None or e.name < live_name]
        if not older:
            raise PublishError(
                f"no kept index is older than the live one ({live_name}); "
                "name one with --rollback NAME (see --history)"
            )
        return older[-1]
    wanted = to.removesuffix(".json")
    exact = [e for e in entries if e.name == wanted]
    matches = exact or [e for e in entries if e.name.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    names = ", ".join(e.name for e in (matches or entries)[-10:])
    what = "matches several" if matches else "matches none"
    raise PublishError(f"{to!r} {what} of the kept indexes ({names})")


def _remote(config: StorageConfig, what: str) -> Storage:
    if config.backend == "local":
        raise PublishError(
            f"{what} needs remote storage: the local output folder keeps no published history "
            "(set storage.backend: s3 or PIPELINE_STORAGE=s3)"
        )
    return open_storage(config)
