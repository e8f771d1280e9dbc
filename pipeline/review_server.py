"""``review --serve``: the output folder over HTTP on this machine, for the review pages.

The standard library's file server, with what players need from it: byte ranges (a
``<video>`` asks for ``Range: bytes=...`` to read the MP4's index at the end of the file
and to seek) and the right types for WebVTT and SubRip. Bound to 127.0.0.1 only: it serves
every file under the output folder, to this machine.
"""

from __future__ import annotations

import contextlib
import http.server
import logging
import os
import re
import shutil
from functools import partial
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
TYPES = {
    ".mp4": "video/mp4",
    ".vtt": "text/vtt; charset=utf-8",
    ".srt": "application/x-subrip; charset=utf-8",
    ".webp": "image/webp",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Handler(http.server.SimpleHTTPRequestHandler):
    """Files under ``directory``, with single byte ranges (RFC 9110 section 14)."""

    extensions_map = {  # noqa: RUF012 - the base declares it so
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        **TYPES,
    }
    _remaining: int | None = None

    def send_head(self) -> Any:
        self._remaining = None  # one handler serves every request of a kept-alive connection
        header = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not header or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        match = _RANGE.match(header.strip())
        if not match or match.groups() == ("", ""):
            return super().send_head()  # several ranges, or another unit: the whole file
        first, last = match.groups()
        if first:
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
        else:  # the last N bytes
            start, end = max(size - int(last), 0), size - 1
        if start >= size or start > end:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        fh = path.open("rb")
        fh.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self._remaining = end - start + 1
        return fh

    def end_headers(self) -> None:
        # the pages change with every render: never serve a stale one from the cache
        self.send_header("Cache-Control", "no-cache")
        if self.command in ("GET", "HEAD") and "Range" not in self.headers:
            self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def copyfile(self, source: Any, outputfile: Any) -> None:
        remaining = self._remaining
        if remaining is None:
            shutil.copyfileobj(source, outputfile)
            return
        self._remaining = None
        while remaining > 0:
            chunk = source.read(min(1 << 16, remaining))
            if not chunk:
                break
            outputfile.write(chunk)
            remaining -= len(chunk)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def handle(self) -> None:
        # a player that stopped reading mid-file
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()


def server(out_dir: Path, port: int = 0) -> http.server.ThreadingHTTPServer:
    """A server for ``out_dir`` on 127.0.0.1 (``port`` 0: any free port); call
    ``serve_forever`` on it."""
    handler = partial(Handler, directory=os.fspath(out_dir))
    return http.server.ThreadingHTTPServer((HOST, port), handler)


__all__ = ["HOST", "Handler", "server"]
