"""Render: turn cut jobs into files.

Each cut job is one FFmpeg process writing every stale output of that cut to a temporary
name; each file is read back and only then renamed into place, so an interrupted or failed
render never leaves a file at an output path. A lock record per output (its job key and
the file's size, mtime and checksum) lets the next run skip what is already done.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from pipeline.captions.ass import to_ass
from pipeline.captions.fonts import font_family, fonts_dir
from pipeline.captions.layout import caption_layout
from pipeline.captions.sidecar import to_srt, to_webvtt
from pipeline.errors import PipelineError
from pipeline.ffmpeg_run import Progress, ffmpeg_exe, run
from pipeline.graph import build_argv, graph_to_file
from pipeline.jobs import CutJob, OutputJob
from pipeline.loudness import levels_for
from pipeline.probe import inspect_output

log = logging.getLogger(__name__)

STATE_DIR = ".pipeline"
LOCK_FILE = "lock.json"

RENDERED, UP_TO_DATE, FAILED = "rendered", "up to date", "failed"


@dataclass(frozen=True)
class OutputResult:
    job: OutputJob
    status: str
    reason: str = ""
    bytes: int = 0
    sha256: str = ""
    duration: Fraction = Fraction(0)
    # what pass 2 did to the sound (pipeline.loudness): linear, limited or silent, and why
    normalization: str = ""
    loudness_note: str = ""


def temp_name(final: Path) -> Path:
    """Hidden sibling of the final file: same folder (so the rename is atomic), and a name
    no output can have."""
    return final.with_name(f".{final.name}.partial")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Lock:
    """The record of what each output path was last rendered from (dvc-style)."""

    def __init__(self, out_dir: Path):
        self.path = out_dir / STATE_DIR / LOCK_FILE
        self.entries: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            with contextlib.suppress(OSError, ValueError):
                self.entries = json.loads(self.path.read_text())

    def why_stale(self, out: OutputJob, out_dir: Path) -> str | None:
        """None if the file at ``out.path`` is this job's intact result; else the reason."""
        entry = self.entries.get(out.path)
        target = out_dir / out.path
        if not target.is_file():
            return "output missing"
        if any(not (out_dir / s).is_file() for s in out.sidecars):
            return "caption file missing"
        if entry is None:
            return "no record of how the existing file was made"
        if entry.get("key") != out.key:
            return "inputs or settings changed"
        st = target.stat()
        if st.st_size != entry.get("bytes") or st.st_mtime_ns != entry.get("mtime_ns"):
            return "output file changed on disk"
        return None

    def record(self, result: OutputResult, out_dir: Path) -> None:
        st = (out_dir / result.job.path).stat()
        self.entries[result.job.path] = {
            "key": result.job.key,
            "bytes": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "sha256": result.sha256,
            "duration": f"{result.duration.numerator}/{result.duration.denominator}",
            "normalization": result.normalization,
            "loudness_note": result.loudness_note,
        }

    def result_for(self, out: OutputJob) -> OutputResult:
        e = self.entries[out.path]
        return OutputResult(
            out,
            UP_TO_DATE,
            "",
            int(e["bytes"]),
            str(e["sha256"]),
            Fraction(e["duration"]),
            str(e.get("normalization", "")),
            str(e.get("loudness_note", "")),
        )

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{LOCK_FILE}.partial")
        tmp.write_text(json.dumps(self.entries, indent=1, sort_keys=True))
        os.replace(tmp, self.path)


def ass_path(root: Path, out: OutputJob) -> Path:
    """Where the burn-in subtitles for ``out`` are written: named by the output's key, so
    the path in the FFmpeg command changes exactly when the captions do."""
    return root / STATE_DIR / "ass" / f"{out.key[:24]}.ass"


def write_ass(root: Path, out: OutputJob) -> str | None:
    track = out.burned_track
    if track is None:
        return None
    target = ass_path(root, out)
    target.parent.mkdir(parents=True, exist_ok=True)
    style = caption_layout(out.width, out.height, out.aspect)
    _write_atomic(target, to_ass(track.cues, style, out.width, out.height, font_family()))
    return str(target)


def end_card_file(root: Path, out: OutputJob) -> str | None:
    """The output's branded end card, composed once per case study and aspect ratio and
    kept with the output folder's state (MoviePy: a few seconds of a still-ish card)."""
    if out.end_card is None:
        return None
    from pipeline.endcard import ensure_card

    return str(ensure_card(out.end_card, root / STATE_DIR / "cards"))


def write_sidecars(root: Path, out: OutputJob) -> None:
    """The .vtt and .srt files of every caption language, next to the video."""
    writers = {"vtt": to_webvtt, "srt": to_srt}
    for track in out.captions:
        for fmt, rel in track.files:
            _write_atomic(root / rel, writers[fmt](track.cues))


def _write_atomic(target: Path, text: str) -> None:
    tmp = target.with_name(f".{target.name}.partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)


def _check(out: OutputJob, path: Path) -> tuple[Fraction, str | None]:
    """Cheap completeness check before the rename; platform rules are the verify stage's.

    Returns the file's duration and, if it is not a complete render, why.
    """
    try:
        facts = inspect_output(path)
    except PipelineError as exc:
        return Fraction(0), str(exc)
    if (facts.width, facts.height) != (out.width, out.height):
        problem = f"rendered {facts.width}x{facts.height}, expected {out.width}x{out.height}"
        return facts.duration, problem
    if abs(facts.duration - out.duration) > 1 / out.fps + Fraction(1, 20):
        problem = f"rendered {float(facts.duration):.3f} s, expected {float(out.duration):.3f} s"
        return facts.duration, problem
    return facts.duration, None


def render_cut(
    job: CutJob,
    outputs: tuple[OutputJob, ...],
    out_dir: str,
    progress: Callable[[str, float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[OutputResult]:
    """Render ``outputs`` (a subset of ``job.outputs``) in one FFmpeg process.

    Runs in a worker process; everything it takes and returns pickles. Once ``cancelled``
    says yes, FFmpeg is stopped, nothing more is renamed into place, the temporaries are
    removed and ``KeyboardInterrupt`` is raised.
    """
    stop = cancelled or _never
    root = Path(out_dir)
    finals = [root / o.path for o in outputs]
    temps = [temp_name(f) for f in finals]
    for f in finals:
        f.parent.mkdir(parents=True, exist_ok=True)
    logs = root / STATE_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{job.case_id}.{job.cut}.log"
    subtitles = [write_ass(root, o) for o in outputs]
    fonts = str(fonts_dir(root / STATE_DIR)) if any(subtitles) else None
    try:
        cards = [end_card_file(root, o) for o in outputs]
    except PipelineError as exc:
        return [OutputResult(o, FAILED, f"end card: {exc}") for o in outputs]
    try:
        levels = levels_for(job, outputs, root / STATE_DIR, ffmpeg_exe(), log_path)
    except (PipelineError, OSError, ValueError) as exc:
        return [OutputResult(o, FAILED, f"loudness measurement: {exc}") for o in outputs]
    argv = build_argv(
        job,
        outputs,
        [str(t) for t in temps],
        ffmpeg_exe(),
        subtitles,
        fonts,
        cards=cards,
        loudness=[lv.graph_options() for lv in levels],
    )
    graph_file = root / STATE_DIR / "graphs" / f"{job.key[:24]}.txt"
    argv, graph = graph_to_file(argv, str(graph_file))
    if graph is not None:
        graph_file.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(graph_file, graph)

    def report(p: Progress) -> None:
        if progress:
            progress(job.name, p.out_time_s)

    results: list[OutputResult] = []
    try:
        if stop():
            raise KeyboardInterrupt
        run(argv, f"{job.name} from {job.source_label}", log_path, report, stop)
        for out, level, tmp, final in zip(outputs, levels, temps, finals, strict=True):
            if stop():
                raise KeyboardInterrupt
            duration, problem = _check(out, tmp)
            if problem:
                results.append(OutputResult(out, FAILED, problem))
                continue
            write_sidecars(root, out)
            digest = sha256_file(tmp)
            os.replace(tmp, final)
            results.append(
                OutputResult(
                    out,
                    RENDERED,
                    "",
                    final.stat().st_size,
                    digest,
                    duration,
                    level.mode,
                    level.note,
                )
            )
    except PipelineError as exc:
        results = [OutputResult(o, FAILED, str(exc)) for o in outputs]
    finally:
        for t in temps:
            with contextlib.suppress(FileNotFoundError):
                t.unlink()
    return results


def _never() -> bool:
    return False


_cancel: Any = None  # in a pool worker: the parent's "stop now" event (see _init_worker)


def _init_worker(cancel: Any) -> None:
    """Pool initializer. Ctrl-C goes to the whole process group, but only the parent acts on
    it: it sets ``cancel`` and waits, so a worker is never cut down between FFmpeg finishing
    and the rename. The event comes here, not with each job: a plain multiprocessing Event
    can only be inherited, and a manager's proxy shares one connection per thread with the
    progress queue, which a Ctrl-C in the middle of a ``get`` leaves holding a stale reply."""
    global _cancel
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _cancel = cancel


def _worker_cancelled() -> bool:
    return _cancel is not None and bool(_cancel.is_set())


class _QueueReporter:
    """Picklable progress callback: workers put (job, seconds) on a manager queue."""

    def __init__(self, queue: Any):
        self.queue = queue

    def __call__(self, name: str, seconds: float) -> None:
        self.queue.put((name, seconds))


def render_plan(
    jobs: Iterable[CutJob],
    out_dir: Path,
    *,
    workers: int = 1,
    force: bool = False,
    on_start: Callable[[CutJob, tuple[OutputJob, ...], str], None] | None = None,
    on_progress: Callable[[str, float], None] | None = None,
    on_done: Callable[[CutJob, list[OutputResult]], None] | None = None,
) -> list[OutputResult]:
    """Render every stale output of ``jobs`` in a local process pool; return one result per output.

    A failed job does not stop the others. Up-to-date outputs are not touched.
    """
    import multiprocessing
    import queue as queue_mod

    out_dir.mkdir(parents=True, exist_ok=True)
    lock = Lock(out_dir)
    results: list[OutputResult] = []
    todo: list[tuple[CutJob, tuple[OutputJob, ...]]] = []
    for job in jobs:
        stale = []
        for out in job.outputs:
            reason = "forced" if force else lock.why_stale(out, out_dir)
            if reason is None:
                results.append(lock.result_for(out))
            else:
                stale.append((out, reason))
        if stale:
            outs = tuple(o for o, _ in stale)
            reasons = sorted({r for _, r in stale})
            if on_start:
                on_start(job, outs, ", ".join(reasons))
            todo.append((job, outs))

    if not todo:
        return results

    def record(job: CutJob, done: list[OutputResult]) -> None:
        """Record a cut's results as soon as it ends, so an interrupt later keeps them."""
        for r in done:
            if r.status == RENDERED:
                lock.record(r, out_dir)
        lock.save()
        results.extend(done)
        if on_done:
            on_done(job, done)

    if workers <= 1 or len(todo) == 1:
        # One at a time: no pool and no manager process to spawn (about a second of Python
        # start-up each). Ctrl-C reaches FFmpeg's runner here directly, which stops FFmpeg;
        # render_cut then removes its temporaries.
        for job, outs in todo:
            record(job, render_cut(job, outs, str(out_dir), on_progress))
        return results
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        q = manager.Queue()
        reporter = _QueueReporter(q)
        cancel = ctx.Event()
        with ProcessPoolExecutor(
            max_workers=max(1, workers),
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(cancel,),
        ) as pool:
            futures: dict[Future[list[OutputResult]], CutJob] = {}
            pending: set[Future[list[OutputResult]]] = set()
            try:
                for job, outs in todo:
                    fut = pool.submit(
                        render_cut, job, outs, str(out_dir), reporter, _worker_cancelled
                    )
                    futures[fut] = job
                    pending.add(fut)
                while pending:
                    with contextlib.suppress(queue_mod.Empty):
                        while True:
                            name, secs = q.get(timeout=0.2)
                            if on_progress:
                                on_progress(name, secs)
                    finished = {f for f in pending if f.done()}
                    for fut in finished:
                        pending.discard(fut)
                        job = futures[fut]
                        try:
                            done = fut.result()
                        except Exception as exc:  # a worker crash must not sink the batch
                            outs = next(o for j, o in todo if j is job)
                            done = [
                                OutputResult(o, FAILED, f"worker failed: {exc!r}") for o in outs
                            ]
                        record(job, done)
            except KeyboardInterrupt:
                # Leaving the pool's block waits for the workers; without this they would
                # finish their renders and rename complete files into place after Ctrl-C.
                cancel.set()
                for f in pending:
                    f.cancel()
                raise
    return results
