"""Publish: put verified files into storage and say where they are.

Storage backends sit behind one small interface. The default, with no configuration, is the
local output folder itself: files are already in place, and URLs are relative to the folder
holding ``index.json``. (The S3 backend comes with the storage work.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class Storage(Protocol):
    name: str

    def put(self, local: Path, key: str, content_type: str) -> str:
        """Store ``local`` under ``key``; return the URL the index should list."""
        ...


class LocalFolder:
    """Outputs stay in the output folder; the URL is the path relative to ``index.json``."""

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


BACKENDS = {"local": LocalFolder}


def get_backend(name: str, root: Path) -> Storage:
    try:
        return BACKENDS[name](root)
    except KeyError:
        raise KeyError(f"unknown storage backend {name!r} (known: {', '.join(BACKENDS)})") from None
