"""Run a case study's ``StillsJob``: choose frames, then write posters, covers, thumbnails
and the review contact sheet.

Each cut is sampled once (``thumbnails.sample_candidates``); candidates are scored once per
distinct framing, because a face inside the 16:9 window can be outside the 9:16 one. Images
are framed exactly as the output frames that moment (``framing.crop_at``, or the blur pad),
so a poster always matches the first frames a viewer sees after pressing play there.

Results are recorded per job key in the output folder's state, so an unchanged case study
costs nothing on the next run.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from pipeline.framing import crop_at
from pipeline.jobs import PosterJob, SegmentSpan, StillsJob
from pipeline.timecode import format_timestamp

STATE = Path(".pipeline") / "stills"
# Thumbnails for the web page's cards: 480 px on the short side is sharp at the sizes a
# campaign grid shows them (our choice; posters carry the full output size).
THUMB_SHORT = 480
RENDERED, UP_TO_DATE, FAILED = "rendered", "up to date", "failed"


@dataclass(frozen=True)
class Image:
    path: str  # relative to the output folder
    width: int
    height: int
    bytes: int
    content_type: str


@dataclass(frozen=True)
class PosterResult:
    output_path: str
    time_s: float
    jpeg: Image
    webp: Image
    cover: Image | None = None


@dataclass(frozen=True)
class ThumbnailResult:
    aspect: str
    time_s: float
    score: float
    image: Image


@dataclass(frozen=True)
class StillsResult:
    case_id: str
    status: str
    posters: tuple[PosterResult, ...] = ()
    thumbnails: tuple[ThumbnailResult, ...] = ()
    contact_sheet: Image | None = None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> StillsResult:
        def img(d: dict[str, Any] | None) -> Image | None:
            return Image(**d) if d else None

        return StillsResult(
            case_id=data["case_id"],
            status=data["status"],
            posters=tuple(
                PosterResult(
                    p["output_path"],
                    p["time_s"],
                    Image(**p["jpeg"]),
                    Image(**p["webp"]),
                    img(p.get("cover")),
                )
                for p in data["posters"]
            ),
            thumbnails=tuple(
                ThumbnailResult(t["aspect"], t["time_s"], t["score"], Image(**t["image"]))
                for t in data["thumbnails"]
            ),
            contact_sheet=img(data.get("contact_sheet")),
            reason=data.get("reason", ""),
        )

    @property
    def files(self) -> list[Image]:
        out = [i for p in self.posters for i in (p.jpeg, p.webp, p.cover) if i is not None]
        out += [t.image for t in self.thumbnails]
        if self.contact_sheet is not None:
            out.append(self.contact_sheet)
        return out


@dataclass(frozen=True)
class Choice:
    """What was chosen for one framing: the scored candidates and the picks, best first."""

    scored: list[Any]  # thumbnails.Scored
    picked: list[Any]
    pinned: Fraction | None


def source_time(segments: Sequence[SegmentSpan], fps: Fraction, out_t: Fraction) -> float:
    """The source time shown at output time ``out_t`` of a cut joined from ``segments``."""
    offset = Fraction(0)
    for seg in segments:
        length = Fraction(round(seg.duration * fps)) / fps
        if out_t < offset + length:
            return float(seg.start + out_t - offset)
        offset += length
    last = segments[-1]
    return float(last.end - 1 / fps)


def window_at(poster: PosterJob, t: Fraction) -> tuple[int, int, int, int] | None:
    """The source rectangle the output shows at ``t``; None when it shows the whole frame
    (blur-padded)."""
    if poster.strategy == "pad" or any(a <= t < b for a, b in poster.pad_ranges):
        return None
    return crop_at(poster.windows, t)


def framing_key(poster: PosterJob) -> tuple[Any, ...]:
    return (
        poster.cut,
        poster.strategy,
        poster.windows,
        poster.pad_ranges,
        poster.duration,
        poster.pinned,
    )


def choose(
    job: StillsJob, progress: Callable[[float], None] | None = None
) -> dict[tuple[Any, ...], Choice]:
    """Sample every cut once and score each distinct framing; keyed by ``framing_key``."""
    from pipeline.thumbnails import pick, sample_candidates, score

    by_cut = {c.cut: c for c in job.cuts}
    needed = {p.cut for p in job.posters if p.pinned is None} | {
        p.cut for p in _thumbnail_posters(job)
    }
    candidates: dict[str, list[Any]] = {}
    for i, cut in enumerate(sorted(needed)):
        c = by_cut[cut]

        def part(done: float, i: int = i) -> None:
            if progress:
                progress((i + done) / max(1, len(needed)))

        candidates[cut] = sample_candidates(job.source, c.segments, c.fps, c.shots, progress=part)
    choices: dict[tuple[Any, ...], Choice] = {}
    for poster in job.posters:
        key = framing_key(poster)
        if key in choices:
            continue
        if poster.pinned is not None and poster.cut not in candidates:
            choices[key] = Choice([], [], poster.pinned)
            continue
        cands = [c for c in candidates[poster.cut] if c.out_t < poster.duration]

        def at(t: Fraction, poster: PosterJob = poster) -> tuple[int, int, int, int] | None:
            return window_at(poster, t)

        scored = score(cands, job.display_size, at)
        choices[key] = Choice(scored, pick(scored, n=job.thumbnails), poster.pinned)
    if progress:
        progress(1.0)
    return choices


def _thumbnail_posters(job: StillsJob) -> list[PosterJob]:
    """The framing each aspect ratio's thumbnails come from: its first output's."""
    seen: dict[str, PosterJob] = {}
    for p in job.posters:
        seen.setdefault(p.aspect, p)
    return list(seen.values())


def thumb_size(width: int, height: int) -> tuple[int, int]:
    k = THUMB_SHORT / min(width, height)
    return round(width * k / 2) * 2, round(height * k / 2) * 2


def _image(w: Any, root: Path) -> Image:
    return Image(
        Path(w.path).resolve().relative_to(root.resolve()).as_posix(),
        w.width,
        w.height,
        w.bytes,
        w.content_type,
    )


def render_stills(
    job: StillsJob,
    out_dir: Path,
    *,
    force: bool = False,
    progress: Callable[[float], None] | None = None,
) -> StillsResult:
    """Write the case study's images (or reuse them when the job is unchanged)."""
    record = out_dir / STATE / f"{job.case_id}.json"
    if not force:
        previous = _previous(record, job.key, out_dir)
        if previous is not None:
            return previous
    from pipeline import stills
    from pipeline.errors import PipelineError

    try:
        choices = choose(job, lambda f: progress(0.6 * f) if progress else None)
        by_cut = {c.cut: c for c in job.cuts}
        # every frame the images below need, read in one pass over the file: a seek and a
        # decode to each time separately took over half the time of the whole job
        frames: dict[float, Any] = stills.grab_frames(
            job.source, _frame_times(job, choices), label=job.source_label
        )
        if progress:
            progress(0.7)

        def frame(t: float) -> Any:
            if t not in frames:
                frames[t] = stills.grab_frame(job.source, t, label=job.source_label)
            return frames[t]

        posters = []
        for n, poster in enumerate(job.posters):
            choice = choices[framing_key(poster)]
            cut = by_cut[poster.cut]
            t_out = choice.pinned if choice.pinned is not None else choice.picked[0].candidate.out_t
            src = frame(source_time(cut.segments, cut.fps, t_out))
            win = window_at(poster, t_out)
            picture = stills.compose(src, (poster.width, poster.height), win, pad=win is None)
            written = stills.write_images(picture, out_dir / poster.base, ("jpeg", "webp"))
            jpeg, webp = (_image(w, out_dir) for w in written)
            cover = None
            if poster.cover is not None:
                size = poster.cover
                art = stills.compose(src, size, win, pad=win is None)
                if job.cover_title:
                    art = stills.title_overlay(
                        art,
                        job.title,
                        area=job.area,
                        primary=job.primary_colour,
                        secondary=job.secondary_colour,
                        safe=stills.safe_margins(poster.aspect, *size),
                    )
                base = out_dir / (poster.base.removesuffix("-poster") + "-cover")
                (w,) = stills.write_images(art, base, ("jpeg",), max_bytes=poster.cover_max_bytes)
                cover = _image(w, out_dir)
            posters.append(PosterResult(poster.output_path, float(t_out), jpeg, webp, cover))
            if progress:
                progress(0.7 + 0.2 * (n + 1) / len(job.posters))

        thumbs = []
        tiles = []
        for poster in _thumbnail_posters(job):
            choice = choices[framing_key(poster)]
            cut = by_cut[poster.cut]
            size = thumb_size(poster.width, poster.height)
            picks: list[tuple[Fraction, float]] = (
                [(choice.pinned, 1.0)]
                if choice.pinned is not None
                else [(s.candidate.out_t, s.score) for s in choice.picked]
            )
            label = poster.aspect.replace(":", "x")
            for rank, (t_out, value) in enumerate(picks, 1):
                src = frame(source_time(cut.segments, cut.fps, t_out))
                win = window_at(poster, t_out)
                picture = stills.compose(src, size, win, pad=win is None)
                base = out_dir / job.case_id / "thumbnails" / f"{label}-{rank}"
                (w,) = stills.write_images(picture, base, ("jpeg",))
                thumbs.append(
                    ThumbnailResult(poster.aspect, float(t_out), value, _image(w, out_dir))
                )
            # the review sheet: this framing's best candidates, the picks outlined
            chosen = {id(s) for s in choice.picked}
            for s in _sheet_candidates(choice):
                t = s.candidate.out_t
                src = frame(source_time(cut.segments, cut.fps, t))
                win = window_at(poster, t)
                tile = stills.compose(src, size, win, pad=win is None)
                why = f" ({s.rejected})" if s.rejected else ""
                text = f"{poster.aspect} {format_timestamp(t)} {s.score:.2f}{why}"
                tiles.append((tile, text, id(s) in chosen))
        sheet = None
        if tiles:
            sheet_path = out_dir / job.case_id / "thumbnails" / "contact-sheet.jpg"
            sheet = _image(stills.contact_sheet(tiles, sheet_path), out_dir)
        result = StillsResult(job.case_id, RENDERED, tuple(posters), tuple(thumbs), sheet)
    except (PipelineError, OSError, ValueError) as exc:
        # the errors name the file already
        return StillsResult(job.case_id, FAILED, reason=str(exc))
    _save(record, job.key, result)
    if progress:
        progress(1.0)
    return result


SHEET_TILES = 8  # per framing on the contact sheet: the best candidates, picks outlined


def _sheet_candidates(choice: Choice) -> list[Any]:
    return sorted(choice.scored, key=lambda s: -s.score)[:SHEET_TILES]


def _frame_times(job: StillsJob, choices: dict[tuple[Any, ...], Choice]) -> list[float]:
    """Source times of every frame ``render_stills`` draws: posters, covers, thumbnails and
    contact-sheet tiles."""
    by_cut = {c.cut: c for c in job.cuts}
    times: set[float] = set()
    for poster in job.posters:
        choice = choices[framing_key(poster)]
        cut = by_cut[poster.cut]
        picks = [choice.pinned] if choice.pinned is not None else []
        picks += [s.candidate.out_t for s in choice.picked]
        picks += [s.candidate.out_t for s in _sheet_candidates(choice)]
        times.update(source_time(cut.segments, cut.fps, t) for t in picks)
    return sorted(times)


def kept_stills(job: StillsJob, out_dir: Path) -> StillsResult | None:
    """The images last written for ``job``'s case study, whatever job made them, if they are
    all still there: for a case study that ``render --changed-since`` leaves alone."""
    record = out_dir / STATE / f"{job.case_id}.json"
    try:
        key = json.loads(record.read_text())["key"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return _previous(record, str(key), out_dir)


def _previous(record: Path, key: str, out_dir: Path) -> StillsResult | None:
    try:
        data = json.loads(record.read_text())
        if data.get("key") != key:
            return None
        result = StillsResult.from_json(data["result"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for img in result.files:
        p = out_dir / img.path
        if not p.is_file() or p.stat().st_size != img.bytes:
            return None
    return StillsResult(
        result.case_id,
        UP_TO_DATE,
        result.posters,
        result.thumbnails,
        result.contact_sheet,
    )


def _save(record: Path, key: str, result: StillsResult) -> None:
    record.parent.mkdir(parents=True, exist_ok=True)
    tmp = record.with_name(f".{record.name}.partial")
    tmp.write_text(json.dumps({"key": key, "result": result.to_json()}, indent=1))
    os.replace(tmp, record)
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
