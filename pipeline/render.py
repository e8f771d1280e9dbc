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
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from pipeline.executors import Executor

log = logging.getLogger(__name__)

STATE_DIR = ".pipeline"
LOCK_FILE = "lock.json"

RENDERED, UP_TO_DATE, FAILED = "rendered", "up to date", "failed"
# left as it was, stale or not: outside the case studies ``render --changed-since`` selected
KEPT = "kept"
# why an output renders, besides the inputs that changed (``pipeline.jobs.KEY_PARTS``)
OUTPUT_MISSING = "output missing"
NO_RECORD = "no record of how the existing file was made"
FORCED = "forced"


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


def temp_name(final: Path, attempt: str = "") -> Path:
    """Hidden sibling of the final file: same folder (so the rename is atomic), and a name
    no output can have. ``attempt`` keeps apart renders of one output that may overlap: Dask
    runs a task again when its worker is lost, and the lost worker's FFmpeg may still be
    writing (measured: a retry sharing the name renamed a corrupt file into place)."""
    tag = f".{attempt}" if attempt else ""
    return final.with_name(f".{final.name}{tag}.partial")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Lock:
    """The record of what each output path was last rendered from (dvc-style): per output,
    the job's key and the digests of its inputs (``KeyParts``, to say what changed), the
    file's size, mtime and SHA-256, and verify's findings (a file that has not changed
    need not be read back again)."""

    def __init__(self, out_dir: Path):
        self.path = out_dir / STATE_DIR / LOCK_FILE
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False  # entries refreshed in memory (mtime, key parts), not yet saved
        if self.path.is_file():
            with contextlib.suppress(OSError, ValueError):
                self.entries = json.loads(self.path.read_text())

    def why_stale(self, out: OutputJob, out_dir: Path) -> str | None:
        """None if the file at ``out.path`` is this job's intact result; else the reason:
        what is missing, or which inputs changed (``KEY_PARTS``), or that the file did."""
        entry = self.entries.get(out.path)
        target = out_dir / out.path
        if not target.is_file():
            return OUTPUT_MISSING
        if any(not (out_dir / s).is_file() for s in out.sidecars):
            return "caption file missing"
        if entry is None:
            return NO_RECORD
        if entry.get("key") != out.key:
            return self._changed(entry, out)
        if not self._intact(entry, target):
            return "output file changed on disk"
        if entry.get("key_parts") != asdict(out.key_parts):
            # same key from changed inputs (a profile limit that shapes no byte, a lock
            # written before parts were kept): remember them, so the next change is named
            # against these and not against older ones
            entry["key_parts"] = asdict(out.key_parts)
            self.dirty = True
        return None

    @staticmethod
    def _changed(entry: dict[str, Any], out: OutputJob) -> str:
        recorded = entry.get("key_parts")
        if not isinstance(recorded, dict):
            return "inputs or settings changed"  # recorded before the parts were kept
        reasons = out.key_parts.changed(recorded)
        # the same inputs planned differently: the pipeline's own code changed
        return ", ".join(reasons) if reasons else "planned job changed (pipeline code)"

    def _intact(self, entry: dict[str, Any], target: Path) -> bool:
        """Whether ``target`` holds the bytes recorded: by size and mtime, and where only the
        mtime differs (touched, copied), by checksum; the new mtime is then recorded."""
        st = target.stat()
        if st.st_size != entry.get("bytes"):
            return False
        if st.st_mtime_ns == entry.get("mtime_ns"):
            return True
        if sha256_file(target) != entry.get("sha256"):
            return False
        entry["mtime_ns"] = st.st_mtime_ns
        self.dirty = True
        return True

    def record(self, result: OutputResult, out_dir: Path) -> None:
        st = (out_dir / result.job.path).stat()
        self.entries[result.job.path] = {
            "key": result.job.key,
            "key_parts": asdict(result.job.key_parts),
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

    def kept_result(self, out: OutputJob, out_dir: Path) -> OutputResult | None:
        """For an output left alone (``render --changed-since`` did not select its case
        study): the recorded result if its file is intact, whatever its key; ``KEPT`` with
        the reason it would render when it is stale. None if there is no intact file."""
        entry = self.entries.get(out.path)
        target = out_dir / out.path
        if entry is None or not target.is_file() or not self._intact(entry, target):
            return None
        if entry.get("key") == out.key:
            return self.result_for(out)
        return replace(self.result_for(out), status=KEPT, reason=self._changed(entry, out))

    def check_for(
        self, out: OutputJob, out_dir: Path, *, any_key: bool = False
    ) -> dict[str, Any] | None:
        """Verify's findings recorded for the file at ``out.path``, if it is still the file
        they are about (and, unless ``any_key``, this job's result); else None."""
        entry = self.entries.get(out.path)
        if entry is None or "verify" not in entry:
            return None
        if not any_key and entry.get("key") != out.key:
            return None
        try:
            st = (out_dir / out.path).stat()
        except OSError:
            return None
        if (st.st_size, st.st_mtime_ns) != (entry.get("bytes"), entry.get("mtime_ns")):
            return None
        return entry["verify"]

    def record_check(self, out: OutputJob, out_dir: Path, check: dict[str, Any]) -> None:
        """Keep verify's findings with the output's entry, if the entry is about this file."""
        entry = self.entries.get(out.path)
        if entry is None:
            return
        try:
            st = (out_dir / out.path).stat()
        except OSError:
            return
        if (st.st_size, st.st_mtime_ns) == (entry.get("bytes"), entry.get("mtime_ns")):
            entry["verify"] = check
            self.dirty = True

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{LOCK_FILE}.partial")
        tmp.write_text(json.dumps(self.entries, indent=1, sort_keys=True))
        os.replace(tmp, self.path)
        self.dirty = False


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
    *,
    threads: int | None = None,
    attempt: str = "",
) -> list[OutputResult]:
    """Render ``outputs`` (a subset of ``job.outputs``) in one FFmpeg process.

    ``threads``: the cores this FFmpeg may use when it shares the machine with other renders
    (``graph.build_argv``); None lets FFmpeg and x264 use every core. ``attempt``: this
    render's own temporary names (``temp_name``).

    Runs in a worker process; everything it takes and returns pickles. Once ``cancelled``
    says yes, FFmpeg is stopped, nothing more is renamed into place, the temporaries are
    removed and ``KeyboardInterrupt`` is raised.
    """
    stop = cancelled or _never
    root = Path(out_dir)
    finals = [root / o.path for o in outputs]
    temps = [temp_name(f, attempt) for f in finals]
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
        threads=threads,
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


def _work(job: CutJob, outputs: tuple[OutputJob, ...]) -> float:
    """A job's size for ordering: seconds of the cut times pixels of its outputs."""
    return float(job.duration) * sum(o.width * o.height for o in outputs)


def render_plan(
    jobs: Iterable[CutJob],
    out_dir: Path,
    *,
    workers: int | None = 1,
    force: bool = False,
    on_start: Callable[[CutJob, tuple[OutputJob, ...], tuple[str, ...]], None] | None = None,
    on_progress: Callable[[str, float], None] | None = None,
    on_done: Callable[[CutJob, list[OutputResult]], None] | None = None,
    on_running: Callable[[CutJob, str], None] | None = None,
    executor: Executor | None = None,
) -> list[OutputResult]:
    """Render every stale output of ``jobs``; return one result per output.

    The stale jobs run on ``executor`` (``pipeline.executors``; default: a local process
    pool of ``workers`` processes, None sizing it to the machine), which this closes when
    done. ``on_running`` is told when a job starts and where (``on_start`` when it is found
    stale and queued). A failed job does not stop the others. Up-to-date outputs are not
    touched. On Ctrl-C the executor stops every render: nothing more is renamed into place
    and no temporaries are left.
    """
    from pipeline.executors import RUNNING, Event, LocalExecutor

    out_dir.mkdir(parents=True, exist_ok=True)
    lock = Lock(out_dir)
    results: list[OutputResult] = []
    todo: list[tuple[CutJob, tuple[OutputJob, ...]]] = []
    for job in jobs:
        stale = []
        for out in job.outputs:
            reason = FORCED if force else lock.why_stale(out, out_dir)
            if reason is None:
                results.append(lock.result_for(out))
            else:
                stale.append((out, reason))
        if stale:
            outs = tuple(o for o, _ in stale)
            if on_start:
                # why each output renders, in the order of ``outs``
                on_start(job, outs, tuple(r for _, r in stale))
            todo.append((job, outs))
    if lock.dirty:
        lock.save()  # mtimes of files found intact by checksum, key parts of current ones

    if not todo:
        if executor is not None:
            executor.close()
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

    runner = executor if executor is not None else LocalExecutor(workers)
    names = {job.name: job for job, _ in todo}

    def on_event(event: Event) -> None:
        if event.kind == RUNNING:
            if on_running and event.name in names:
                on_running(names[event.name], event.where)
        elif on_progress:
            on_progress(event.name, event.seconds)

    with runner:
        # biggest first (seconds x output pixels): a long job started last would run on alone
        # with only its share of the cores as threads
        for job, outs in sorted(todo, key=lambda t: -_work(*t)):
            runner.submit(job, outs, out_dir)
        finished = runner.as_completed(on_event)
        try:
            for job, done in finished:
                record(job, done)
        except KeyboardInterrupt:
            runner.cancel()  # FFmpeg stopped, nothing more renamed, temporaries removed
            raise
        finally:
            finished.close()  # a pool waits here for its workers to stop
    return results
