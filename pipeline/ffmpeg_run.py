"""The one FFmpeg runner: argument lists only, progress as an iterator, the child killed
on interrupt, typed errors carrying the last meaningful stderr lines.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipeline.errors import FFmpegError

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """The static FFmpeg from the imageio-ffmpeg wheel (looked up on first use, not at import)."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


@lru_cache(maxsize=1)
def ffmpeg_version() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_version())


@dataclass(frozen=True)
class Progress:
    out_time_s: float
    speed: str
    done: bool


# FFmpeg follows the line that says what went wrong with lines that only say that something
# did: one per thread that gave up, one per output file left empty. Left in, they push the
# cause out of the message (a bad filter option read "Nothing was written into output file").
_AFTERMATH = (
    "Conversion failed!",
    "Exiting normally",
    "Task finished with error code",
    "Terminating thread with return code",
    "Nothing was written into output file",
    "Could not open encoder before EOF",
    "Error reinitializing filters!",
    "Error while filtering",
)
_ADDRESS = re.compile(r" @ 0x[0-9a-f]+\]")
_LEVEL = re.compile(r"\[(error|fatal|warning)\] ")


def _useful_tail(lines: Sequence[str], n: int = 3) -> str:
    """The first error (usually the cause: "Unknown encoder 'x'") and the last ones (what
    FFmpeg gave up on), warnings only if there are no errors, without memory addresses."""
    kept = [ln.strip() for ln in lines if ln.strip() and not any(a in ln for a in _AFTERMATH)]
    errors = [ln for ln in kept if "[error]" in ln or "[fatal]" in ln] or kept
    chosen = list(dict.fromkeys([*errors[:1], *errors[-(n - 1) :]]))
    return " | ".join(_LEVEL.sub("", _ADDRESS.sub("]", ln)) for ln in chosen) or "no error message"


def run(
    argv: Sequence[str],
    what: str,
    log_path: Path | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> None:
    """Run FFmpeg to completion, reporting ``-progress`` updates; ``FFmpegError`` on failure."""
    for _ in progress(argv, what, log_path, on_progress, cancelled):
        pass


def progress(
    argv: Sequence[str],
    what: str,
    log_path: Path | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Iterator[Progress]:
    """Run FFmpeg and yield its progress. ``argv`` must ask for ``-progress pipe:1``.

    stderr is drained on a thread (so a chatty FFmpeg can't block on a full pipe) and
    written to ``log_path``; on failure its last meaningful lines become the error.
    ``cancelled`` is asked at every progress report (FFmpeg sends one every half second,
    stalled or not); once it says yes, FFmpeg is stopped and ``KeyboardInterrupt`` raised,
    as if Ctrl-C had reached this process.
    """
    if isinstance(argv, str):  # pragma: no cover - guards against accidental shell strings
        raise TypeError("argv must be a list of arguments, not a string")
    log.debug("running %s", " ".join(argv))
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,  # Ctrl-C reaches us, not FFmpeg directly; we stop it ourselves
        )
    except OSError as exc:
        raise FFmpegError(what, 127, f"cannot start {argv[0]}: {exc.strerror or exc}") from exc
    tail: deque[str] = deque(maxlen=200)
    log_fh = log_path.open("w") if log_path else None

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            tail.append(line.rstrip("\n"))
            if log_fh:
                log_fh.write(line)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        fields: dict[str, str] = {}
        assert proc.stdout is not None
        for line in proc.stdout:
            key, _, value = line.strip().partition("=")
            fields[key] = value
            if key == "progress":
                us = fields.get("out_time_us", "0")
                p = Progress(
                    out_time_s=max(0.0, int(us) / 1e6) if us.lstrip("-").isdigit() else 0.0,
                    speed=fields.get("speed", "").strip(),
                    done=value == "end",
                )
                if on_progress:
                    on_progress(p)
                yield p
                if cancelled is not None and cancelled():
                    raise KeyboardInterrupt
        proc.wait()
    except BaseException:
        _stop(proc)
        raise
    finally:
        reader.join(timeout=5)
        if log_fh:
            log_fh.close()
    if proc.returncode != 0:
        raise FFmpegError(
            what, proc.returncode, _useful_tail(list(tail)), str(log_path) if log_path else None
        )


def _stop(proc: subprocess.Popen[str]) -> None:
    """Ask FFmpeg to quit, then insist: an orphaned encoder would keep writing files."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
