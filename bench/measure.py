"""Run a command and measure it: wall time, CPU time of the whole process tree, and the
peak resident memory of its Python processes and of its FFmpeg processes, separately."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class Measurement:
    wall_s: float
    cpu_s: float
    python_rss_mb: float  # largest single Python process in the tree
    ffmpeg_rss_mb: float  # largest single FFmpeg process in the tree
    returncode: int


def _kind(proc: psutil.Process) -> str | None:
    try:
        name = proc.name().lower()
        if "ffmpeg" in name:
            return "ffmpeg"
        if name.startswith("python"):
            return "python"
    except psutil.Error:
        return None
    return None


def measure(
    argv: Sequence[str],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> Measurement:
    """Run ``argv`` to completion, sampling the process tree's memory every 20 ms."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peaks = {"python": 0, "ffmpeg": 0}
    out = log.open("w") if log else subprocess.DEVNULL
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=out,
    )
    done = threading.Event()

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                tree = []
            for p in tree:
                kind = _kind(p)
                if kind:
                    with contextlib.suppress(psutil.Error):
                        peaks[kind] = max(peaks[kind], p.memory_info().rss)
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rc = proc.wait()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if log:
        out.close()  # type: ignore[union-attr]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measurement(wall, cpu, peaks["python"] / 2**20, peaks["ffmpeg"] / 2**20, rc)
