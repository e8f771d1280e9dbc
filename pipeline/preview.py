"""Contact sheets for checking a cut's framing decisions before (or after) a render.

One PNG per cut: a grid of source frames at chosen output times, each with what the analysis
saw there (faces, or the salient region) and where every cropped output's window sits. Only
the chosen frames are decoded (a seek and a short decode each), so a sheet costs seconds
whatever the source's length. The plan's values are read, never changed: what the sheet
shows is what ``render`` will cut.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pipeline.captions.fonts import font_file
from pipeline.errors import SourceError
from pipeline.framing import CropWindow, crop_at, crop_size
from pipeline.jobs import CutJob, OutputJob
from pipeline.probe import _frame_rotation, _reason, _rotation
from pipeline.reframe import Framing, ShotFraming, frame_output
from pipeline.scene import Box, Sample, SourceAnalysis
from pipeline.timecode import format_timestamp, parse_timestamp

MAX_TILES = 16
TILE_BOX = 480  # a tile's picture fits in this square: 480 wide for landscape sources
# Tiles that open a shot sit this many frames in: a change the analysis placed a frame
# early or late still shows the new shot, not the last frame of the old one.
SHOT_LEAD = 2
SHEET_WIDTH = 1920  # portrait tiles are narrower; more of them go in a row
MIN_COLUMNS = 4
MARGIN = 16
GAP = 14
BORDER = 4  # the red border drawn in the gap around a tile that opens a shot
FONT_SIZE = 15
TITLE_SIZE = 24
LINE = 20  # text line pitch, pixels
CROP_LINE = 3

BACKGROUND = (24, 24, 24)
TEXT = (230, 230, 230)
DIM = (150, 150, 150)
FACE = (0, 230, 0)
SALIENT = (255, 220, 0)
SHOT_BORDER = (230, 0, 0)
# One per output group; none near the face, salient or border colours.
CROP_COLOURS = (
    (0, 200, 255),
    (255, 0, 255),
    (255, 140, 0),
    (120, 120, 255),
    (255, 255, 255),
    (0, 255, 170),
)


# --- time -------------------------------------------------------------------------------------


def segment_offsets(job: CutJob) -> list[Fraction]:
    """Output time at which each segment starts: whole frames at the cut's rate, as the plan
    counted them."""
    offsets, frames = [], 0
    for seg in job.segments:
        offsets.append(Fraction(frames) / job.fps)
        frames += round(seg.duration * job.fps)
    return offsets


def output_to_source_time(job: CutJob, t: Fraction | float) -> Fraction:
    """The source time shown at output time ``t`` of the cut (a join belongs to the segment
    it starts). Times past the end map into the last segment."""
    t = Fraction(t)
    if t < 0:
        raise ValueError(f"output time {float(t):g} s is negative")
    offsets = segment_offsets(job)
    k = max(0, bisect.bisect_right(offsets, t) - 1)
    seg = job.segments[k]
    return min(seg.start + (t - offsets[k]), seg.end)


def shot_starts(job: CutJob) -> list[Fraction]:
    """Output times where a shot starts: 0, every join and every shot change an output knows."""
    starts = {Fraction(0), *segment_offsets(job)}
    for out in job.outputs:
        starts.update(out.shots)
    return sorted(s for s in starts if s < job.duration)


@dataclass(frozen=True)
class TileTime:
    t: Fraction  # output time
    opens_shot: bool  # the first tile after a shot change or join


def choose_times(job: CutJob, max_tiles: int = MAX_TILES) -> list[TileTime]:
    """The opening of every shot (or of as many as fit, spread out), then extra times filling
    the largest gaps, in output order."""
    if max_tiles < 1:
        raise ValueError(f"max_tiles must be at least 1, not {max_tiles}")
    frame = 1 / job.fps
    last = max(Fraction(0), job.duration - frame)
    starts = shot_starts(job)
    ends = [*starts[1:], job.duration]
    if len(starts) > max_tiles:
        pick = [round(i * (len(starts) - 1) / max(1, max_tiles - 1)) for i in range(max_tiles)]
        kept = sorted(set(pick))
        starts, ends = [starts[i] for i in kept], [ends[i] for i in kept]
    chosen = {
        max(a, min(a + SHOT_LEAD * frame, b - frame, last)): True
        for a, b in zip(starts, ends, strict=True)
    }
    step = job.duration / max_tiles
    grid = {_snap((k + Fraction(1, 2)) * step, job.fps, last) for k in range(max_tiles)}
    candidates = sorted(grid - set(chosen))
    while len(chosen) < max_tiles and candidates:
        # farthest from every tile so far: the sheet covers the cut evenly
        best = max(candidates, key=lambda c: min(abs(c - t) for t in chosen))
        if min(abs(best - t) for t in chosen) < step / 2:
            break
        chosen[best] = False
        candidates.remove(best)
    return [TileTime(t, chosen[t]) for t in sorted(chosen)]


def _snap(t: Fraction, fps: Fraction, last: Fraction) -> Fraction:
    return min(Fraction(round(t * fps)) / fps, last)


# --- what each output does ---------------------------------------------------------------------


@dataclass(frozen=True)
class OutputGroup:
    """Outputs of a cut that share one crop path (e.g. the same 9:16 on two platforms)."""

    label: str
    outputs: tuple[OutputJob, ...]
    colour: tuple[int, int, int]
    whole_frame: bool  # the crop is the source's own shape: nothing to draw
    decisions: tuple[ShotFraming, ...]  # the shots whose reasons could be rebuilt
    unexplained: bool  # some shot's framing was the manifest's: no reason for it

    @property
    def first(self) -> OutputJob:
        return self.outputs[0]

    def padded(self, t: Fraction) -> bool:
        o = self.first
        return not o.windows or any(a <= t < b for a, b in o.pad_ranges)


def _grouped(job: CutJob) -> list[tuple[OutputJob, ...]]:
    groups: dict[tuple[object, ...], list[OutputJob]] = {}
    for o in job.outputs:
        groups.setdefault((o.aspect, o.strategy, o.windows, o.pad_ranges), []).append(o)
    return [tuple(g) for g in groups.values()]


def _whole_frame(job: CutJob, o: OutputJob) -> bool:
    dw, dh = job.display_size
    return crop_size(dw, dh, o.width, o.height) == crop_size(dw, dh, dw, dh)


def output_groups(job: CutJob, analysis: SourceAnalysis | None) -> list[OutputGroup]:
    grouped = _grouped(job)
    aspects = [outs[0].aspect for outs in grouped]
    out = []
    for i, outs in enumerate(grouped):
        o = outs[0]
        label = o.aspect if aspects.count(o.aspect) == 1 else f"{o.aspect} {o.platform}"
        colour = CROP_COLOURS[i % len(CROP_COLOURS)]
        whole = _whole_frame(job, o)
        out.append(OutputGroup(label, outs, colour, whole, *_decisions(job, o, analysis)))
    return out


def _decisions(
    job: CutJob, o: OutputJob, analysis: SourceAnalysis | None
) -> tuple[tuple[ShotFraming, ...], bool]:
    """Why each shot is framed as it is, by planning the output again without the manifest's
    focus and framing ranges (the job keeps neither, nor the plan's reasons). Only shots whose
    rebuilt path is the planned one keep a reason: elsewhere the manifest had a say, and no
    reason beats a wrong one. Returns those decisions, and whether any shot lost its reason."""
    if o.strategy not in ("auto", "crop") or not o.windows:
        return (), False
    framing = frame_output(
        analysis,
        job.segments,
        job.fps,
        job.display_size,
        (o.width, o.height),
        o.strategy,
        None,
    )
    kept = tuple(d for d in framing.decisions if _same_in(framing, o, d.start, d.end))
    return kept, len(kept) < len(framing.decisions)


def _same_in(framing: Framing, o: OutputJob, a: Fraction, b: Fraction) -> bool:
    """Whether the rebuilt and the planned crop path agree over output times [a, b)."""
    return _path_in(framing.windows, a, b) == _path_in(o.windows, a, b) and _ranges_in(
        framing.pad_ranges, a, b
    ) == _ranges_in(o.pad_ranges, a, b)


def _path_in(windows: tuple[CropWindow, ...], a: Fraction, b: Fraction) -> list[tuple[object, ...]]:
    before = [w for w in windows if w.start <= a]
    first = before[-1] if before else windows[0]
    inside = [replace(first, start=max(first.start, a))]
    inside += [w for w in windows if a < w.start < b]
    if inside[-1].glide:
        # a glide's end point is the next window's position, wherever that starts
        inside += [w for w in windows if w.start >= b][:1]
    return [(w.start, w.x, w.y, w.w, w.h, w.glide) for w in inside]


def _ranges_in(
    ranges: tuple[tuple[Fraction, Fraction], ...], a: Fraction, b: Fraction
) -> list[tuple[Fraction, Fraction]]:
    return [(max(x, a), min(y, b)) for x, y in ranges if x < b and y > a]


def describe(group: OutputGroup, t: Fraction) -> str:
    """The decision at output time ``t``: mode and reason when known, else what the path does."""
    o = group.first
    if group.padded(t):
        why = pad_reason(o, t)
        return f"{group.label} pad: {why or 'manifest strategy pad'}"
    d = next((d for d in group.decisions if d.start <= t < d.end), None)
    if d is not None:
        if d.mode == "centre":
            # the rebuild has no manifest focus; a focus point on the crop's fixed axis
            # gives the same window, so this may have been the focus point
            d = replace(d, reason="no face or motion: centre or focus point")
        return f"{group.label} {d.mode}: {d.reason}" if d.reason else f"{group.label} {d.mode}"
    current = max((w for w in o.windows if w.start <= t), key=lambda w: w.start, default=None)
    moving = current is not None and current.glide
    return f"{group.label} {'moving' if moving else 'held'} (manifest framing)"


# The plan's note for a range that ``auto`` padded (``plan._framing_notes``); manifest pads
# leave none, so a padded time without one was the manifest's choice.
_PAD_NOTE = re.compile(r"^(?P<aspect>\S+): blur-padded (?P<a>\S+)-(?P<b>\S+) \((?P<why>.*)\)$")


def pad_reason(o: OutputJob, t: Fraction) -> str | None:
    """Why ``auto`` padded output time ``t`` of ``o``, from the plan's notes."""
    for note in o.notes:
        m = _PAD_NOTE.match(note)
        if not m or m["aspect"] != o.aspect:
            continue
        # the note's times are rounded to the millisecond
        a, b = parse_timestamp(m["a"]), parse_timestamp(m["b"])
        if a - Fraction(1, 1000) <= t < b:
            return m["why"]
    return None


def _summary(group: OutputGroup) -> str:
    o = group.first
    platforms = ", ".join(x.platform for x in group.outputs)
    parts = [f"{group.label}  {platforms} {o.width}x{o.height}", o.strategy]
    if group.whole_frame:
        parts.append("whole frame")
    moves = sum((a.x, a.y) != (b.x, b.y) for a, b in itertools.pairwise(o.windows))
    if moves:
        parts.append(f"{moves} moves")
    if o.pad_ranges:
        parts.append(f"{len(o.pad_ranges)} padded range(s)")
    if not o.windows:
        auto = any(_PAD_NOTE.match(n) for n in o.notes)
        parts.append("auto padded every shot" if auto else "set in the manifest")
    elif group.unexplained:
        some = "some shots" if group.decisions else "every shot"
        parts.append(f"manifest framing in {some}: no reasons shown there")
    return " · ".join(parts)


# --- decoding ---------------------------------------------------------------------------------


def tile_size(display_size: tuple[int, int], box: int = TILE_BOX) -> tuple[int, int]:
    dw, dh = display_size
    s = box / max(dw, dh)
    return max(2, round(dw * s)), max(2, round(dh * s))


def read_frames(
    source: Path, times: Sequence[Fraction], size: tuple[int, int], label: str | None = None
) -> list[Image.Image]:
    """The frame shown at each source time (seconds from the start of the file), upright and
    scaled to ``size``. One seek per time: only the chosen frames and their GOPs decode."""
    name = label or str(source)
    try:
        container = av.open(str(source))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise SourceError(name, f"cannot be opened for the preview ({_reason(exc)})") from exc
    pictures: dict[Fraction, Image.Image] = {}
    with container:
        if not container.streams.video:
            raise SourceError(name, "has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start = container.start_time / 1e6 if container.start_time is not None else 0.0
        for t in sorted(set(times)):
            try:
                frame = _frame_at(container, stream, start, float(t))
            except av.FFmpegError as exc:
                raise SourceError(
                    name, f"cannot be decoded at {float(t):.3f} s ({_reason(exc)})"
                ) from exc
            if frame is None:
                raise SourceError(name, f"has no frame at {float(t):.3f} s")
            pictures[t] = _upright(frame, stream, size)
    return [pictures[t] for t in times]


def _frame_at(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    start: float,
    t: float,
) -> av.VideoFrame | None:
    """The last frame that starts at or before ``t``."""
    # Half a millisecond of slack: cut points are exact fractions, timestamps are rounded.
    want = start + t + 0.0005
    container.seek(max(0, int((start + t) * av.time_base)), backward=True, any_frame=False)
    shown: av.VideoFrame | None = None
    for frame in container.decode(stream):
        if frame.time is not None and frame.time > want:
            return shown if shown is not None else frame
        shown = frame
    return shown


def _upright(
    frame: av.VideoFrame, stream: av.video.stream.VideoStream, size: tuple[int, int]
) -> Image.Image:
    # The display matrix turns the picture counter-clockwise, as numpy's rot90 does.
    quarter = round((_frame_rotation(frame) or _rotation(stream)) / 90) % 4
    w, h = size
    coded = (h, w) if quarter % 2 else (w, h)
    rgb: np.ndarray = frame.to_ndarray(width=coded[0], height=coded[1], format="rgb24")
    if quarter:
        rgb = np.ascontiguousarray(np.rot90(rgb, quarter))
    return Image.fromarray(rgb)


# --- drawing ----------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_file()), size)


@dataclass(frozen=True)
class Layout:
    """Where everything goes on the sheet; the tests read it back from here."""

    tiles: int
    columns: int
    tile: tuple[int, int]  # picture size of one tile
    header_h: int
    caption_h: int

    @property
    def rows(self) -> int:
        return -(-self.tiles // self.columns)

    @property
    def size(self) -> tuple[int, int]:
        w = 2 * MARGIN + self.columns * self.tile[0] + (self.columns - 1) * GAP
        h = MARGIN + self.header_h + self.rows * (self.tile[1] + self.caption_h + GAP) + MARGIN
        return w, h

    def tile_origin(self, i: int) -> tuple[int, int]:
        """Top-left corner of tile ``i``'s picture."""
        row, col = divmod(i, self.columns)
        x = MARGIN + col * (self.tile[0] + GAP)
        y = MARGIN + self.header_h + row * (self.tile[1] + self.caption_h + GAP)
        return x, y


def sheet_layout(job: CutJob, tiles: int) -> Layout:
    tile = tile_size(job.display_size)
    columns = max(1, min(tiles, max(MIN_COLUMNS, SHEET_WIDTH // (tile[0] + GAP))))
    grouped = _grouped(job)
    drawn = sum(not _whole_frame(job, outs[0]) for outs in grouped)
    return Layout(
        tiles=tiles,
        columns=columns,
        tile=tile,
        # the title, then a line for the source, one per group and one for the legend
        header_h=TITLE_SIZE + 10 + (2 + len(grouped)) * LINE + GAP,
        caption_h=6 + (1 + drawn) * LINE,
    )


def _cropped_or_padded(groups: list[OutputGroup]) -> list[OutputGroup]:
    return [g for g in groups if not g.whole_frame]


def nearest_sample(analysis: SourceAnalysis | None, t: float) -> Sample | None:
    """The analysis sample nearest source time ``t``, if it is within one sampling step."""
    if analysis is None or not analysis.samples:
        return None
    times = [s.t for s in analysis.samples]
    i = bisect.bisect_left(times, t)
    near = min(
        (analysis.samples[j] for j in (i - 1, i) if 0 <= j < len(times)),
        key=lambda s: abs(s.t - t),
    )
    return near if abs(near.t - t) <= 1 / analysis.sample_fps + 1e-6 else None


def _fit(draw: ImageDraw.ImageDraw, text: str, width: int, font: ImageFont.FreeTypeFont) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _label(
    draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, colour: tuple[int, int, int]
) -> None:
    """Text on a dark plate, readable over any picture."""
    font = _font(FONT_SIZE)
    x0, y0, x1, y1 = draw.textbbox(xy, text, font=font)
    draw.rectangle((x0 - 2, y0 - 1, x1 + 2, y1 + 1), fill=(0, 0, 0))
    draw.text(xy, text, fill=colour, font=font)


def _box(
    draw: ImageDraw.ImageDraw,
    b: Box,
    size: tuple[int, int],
    colour: tuple[int, int, int],
    text: str,
) -> None:
    w, h = size
    x0, y0 = b.x * w, b.y * h
    draw.rectangle((x0, y0, x0 + b.w * w - 1, y0 + b.h * h - 1), outline=colour, width=2)
    _label(draw, (x0 + 2, y0 + b.h * h + 2), text, colour)


def draw_tile(
    picture: Image.Image,
    job: CutJob,
    tile: TileTime,
    groups: Sequence[OutputGroup],
    sample: Sample | None,
) -> Image.Image:
    """The picture with the analysis and every cropped output's window at this time."""
    img = picture.copy()
    draw = ImageDraw.Draw(img)
    size = img.size
    if sample is not None:
        for f in sample.faces:
            _box(draw, f, size, FACE, f"face {f.score:.2f}")
        if not sample.faces and sample.salient is not None:
            s = sample.salient
            _box(draw, s, size, SALIENT, f"salient {s.score:.2f}")
    scale = size[0] / job.display_size[0]
    stack = 0  # labels of padded outputs pile up in the top-left corner
    for g in groups:
        if g.padded(tile.t):
            _label(draw, (6, 6 + stack * LINE), f"{g.label} PAD", g.colour)
            stack += 1
            continue
        x, y, w, h = crop_at(g.first.windows, tile.t)
        x0, y0 = x * scale, y * scale
        x1, y1 = (x + w) * scale - 1, (y + h) * scale - 1
        # a dark rim keeps the outline visible over pictures of the same colour
        draw.rectangle((x0 - 1, y0 - 1, x1 + 1, y1 + 1), outline=(0, 0, 0), width=CROP_LINE + 2)
        draw.rectangle((x0, y0, x1, y1), outline=g.colour, width=CROP_LINE)
        _label(draw, (x0 + CROP_LINE + 3, y1 - CROP_LINE - LINE), g.label, g.colour)
    return img


def contact_sheet(
    job: CutJob,
    analysis: SourceAnalysis | None,
    source_path: Path,
    target: Path,
    *,
    max_tiles: int = MAX_TILES,
) -> Path:
    """Write the cut's contact sheet to ``target`` (PNG; through a temporary name, so a
    reader never sees half a file) and return ``target``."""
    times = choose_times(job, max_tiles)
    groups = output_groups(job, analysis)
    drawn = _cropped_or_padded(groups)
    layout = sheet_layout(job, len(times))
    sources = [output_to_source_time(job, tt.t) for tt in times]
    pictures = read_frames(source_path, sources, layout.tile, job.source_label)
    starts = shot_starts(job)

    sheet = Image.new("RGB", layout.size, BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    _header(draw, job, groups, layout)
    font = _font(FONT_SIZE)
    for i, (tt, src, pic) in enumerate(zip(times, sources, pictures, strict=True)):
        x, y = layout.tile_origin(i)
        sample = nearest_sample(analysis, float(src))
        sheet.paste(draw_tile(pic, job, tt, drawn, sample), (x, y))
        tw, th = layout.tile
        if tt.opens_shot:
            draw.rectangle(
                (x - BORDER, y - BORDER, x + tw + BORDER - 1, y + th + BORDER - 1),
                outline=SHOT_BORDER,
                width=BORDER,
            )
        shot = bisect.bisect_right(starts, tt.t)
        lines = [
            f"out {_timecode(tt.t)} · src {_timecode(src)} · shot {shot}/{len(starts)}",
            *(describe(g, tt.t) for g in drawn),
        ]
        for k, line in enumerate(lines):
            colour = TEXT if k == 0 else drawn[k - 1].colour
            draw.text(
                (x, y + th + 6 + k * LINE), _fit(draw, line, tw, font), fill=colour, font=font
            )

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        sheet.save(tmp, format="PNG")
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return target


def _timecode(t: Fraction) -> str:
    """``mm:ss.mmm``, with hours only when there are any: portrait tiles are narrow."""
    text = format_timestamp(t)
    return text[3:] if text.startswith("00:") else text


def _header(
    draw: ImageDraw.ImageDraw, job: CutJob, groups: Sequence[OutputGroup], layout: Layout
) -> None:
    width = layout.size[0] - 2 * MARGIN
    font = _font(FONT_SIZE)
    x, y = MARGIN, MARGIN
    draw.text(
        (x, y), _fit(draw, job.name, width, _font(TITLE_SIZE)), fill=TEXT, font=_font(TITLE_SIZE)
    )
    y += TITLE_SIZE + 10
    segs = ", ".join(f"{float(s.start):g}-{float(s.end):g}" for s in job.segments)
    dw, dh = job.display_size
    source = (
        f"source {job.source_label} ({dw}x{dh}) · cut {float(job.duration):.2f} s "
        f"at {float(job.fps):g} fps from [{segs}]"
    )
    draw.text((x, y), _fit(draw, source, width, font), fill=TEXT, font=font)
    y += LINE
    for g in groups:
        draw.rectangle((x, y + 4, x + 12, y + 16), fill=g.colour)
        draw.text((x + 20, y), _fit(draw, _summary(g), width - 20, font), fill=g.colour, font=font)
        y += LINE
    legend = [
        ("face (score)", FACE),
        ("salient region, when no face", SALIENT),
        (
            f"red border: a shot's first tile ({SHOT_LEAD} frames after a change or join)",
            SHOT_BORDER,
        ),
    ]
    for text, colour in legend:
        draw.rectangle((x, y + 4, x + 12, y + 16), outline=colour, width=2)
        draw.text((x + 20, y), text, fill=DIM, font=font)
        x += 32 + int(draw.textlength(text, font=font))
