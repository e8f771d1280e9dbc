"""Thumbnail selection: which frames of a cut make a good still, and why.

Three pure-ish steps, so each can be tested and explained on its own:

- ``sample_candidates`` decodes one frame every ``step`` seconds of the cut's output timeline
  at low resolution and measures cheap things about it: brightness, contrast, sharpness,
  clipping, faces and eyes, a colour histogram; and marks frames near shot changes, joins
  and inside fades (``mark_transitions``);
- ``score`` turns the measurements into one number per frame, as a sum of named parts, and
  says which frames can never win (black, flat, transition);
- ``pick`` takes the best frames that look different from each other, and ``explain`` says
  in words why the winner won.

Writing images is not done here: the result is a time in the cut's output timeline.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from statistics import median
from typing import Any

import av
import cv2
import cv2.data
import numpy as np

from pipeline.analyze import (
    DECODER_OPTIONS,
    U8,
    _Geometry,
    _geometry,
    _pictures,
    cascade,
    detect_faces,
)
from pipeline.errors import SourceError
from pipeline.jobs import SegmentSpan
from pipeline.probe import _fraction, _reason
from pipeline.scene import Box, SourceAnalysis

# --- sampling --------------------------------------------------------------------------------
# The analysis skips the decoder's loop filter because it only looks at a picture shrunk a
# lot, where blocking is averaged away. Sharpness is measured on edges, and unfiltered block
# edges would count as detail, so the shortcut is only taken when the picture shrinks by at
# least this factor.
FAST_DECODE_SHRINK = 2
# Within a segment, decode forward to the next sample unless it is further away than this:
# then a seek (to the keyframe before it) is cheaper than decoding a typical GOP or more.
SEEK_GAP_S = 4.0
HIST_BINS = (8, 4, 4)  # Y', Cb, Cr: chroma varies less than luma within a picture
TINY_SIZE = (32, 18)  # the grey picture fades are judged on (structure only, not detail)

# --- eyes ------------------------------------------------------------------------------------
# Below this width (pixels of the picture searched) the eye cascade finds nothing reliably,
# so eyes are not counted at all (None) rather than reported shut.
EYE_MIN_FACE_PX = 60
# Face crops are scaled to this width before the eye search, so the cascade's window sizes
# can be fixed: an eye is about a fifth to a third of a face's width.
EYE_FACE_PX = 120
EYE_MIN_PX, EYE_MAX_PX = 14, 48
EYE_MIN_NEIGHBORS = 4  # the eye cascade fires on brows and nostrils; demand more overlap
# The face box runs brow to chin; the eyes sit in its upper part.
EYE_BAND = (0.12, 0.6)

# --- transitions -----------------------------------------------------------------------------
# Frames this close to a shot change, a join or the cut's ends are mid-transition or show a
# shot that is about to change: a thumbnail should come from inside a shot.
TRANSITION_S = Fraction(1, 2)
# A fade is a run of samples whose mean luma moves the same way by at least FADE_STEP per
# sample for at least FADE_RUN steps, reaching a mean under FADE_DARK at its dark end.
FADE_STEP = 4.0
FADE_RUN = 2
FADE_DARK = 40.0
# A fade too short to make a run (or a dip that is not to black) shows as a big change in
# mean luma between neighbouring samples of the same picture: the tiny grey pictures,
# normalised, still correlate this well. (Colour histograms cannot tell this: a fade shifts
# the histogram itself, while a cut to a similar-looking shot keeps it.)
FADE_JUMP = 15.0
FADE_SAME_PICTURE = 0.9

# --- rejection -------------------------------------------------------------------------------
BLACK_MEAN = 20.0  # limited-range black is 16: anything darker than this is a black frame
FLAT_STD = 8.0  # a title card or a wall: nothing to look at
CRUSHED, BLOWN = 16, 235  # limited-range black and white: beyond them detail is gone

# --- score weights (the parts sum to at most 1) ---------------------------------------------
# Sharpness matters most: a soft thumbnail looks like a mistake at any size.
W_SHARP = 0.40
# A frame softer than the clip's median loses this much outright: it should win only with a
# clear reason (a face the sharper frames lack). A step, not a slope: in a static shot the
# frames differ in sharpness by noise, and a slope would let noise decide close calls.
W_SOFT = 0.15
# Sharpness is normalised to this percentile of the clip's usable frames, not the maximum, so
# one noisy or over-sharpened frame does not flatten everyone else's part.
SHARP_REF_PERCENTILE = 90
# People click on faces; a face the crop cuts away is worse than none (half a head at the
# edge of a 9:16 frame).
W_FACE = 0.25
W_FACE_OUTSIDE = 0.05
FACE_FULL_AREA = 0.03  # face share of the picture that earns the whole face part
# Detector confidence (pipeline.analyze: real faces mostly 0.7-1, cartoon faces and
# textures lower) that counts fully; weaker faces count in proportion, and below
# FACE_MIN_SCORE not at all.
FACE_SURE = 0.8
FACE_MIN_SCORE = 0.25
# Open eyes make a face look engaged; shut eyes (or a look away) are the classic bad still.
# Scaled by the face's confidence: a false face has no eyes to find.
W_EYES_OPEN = 0.05
W_EYES_SHUT = 0.10
# Exposure: near mid-grey with little clipped is best; far from it or much clipped looks bad.
W_EXPOSURE = 0.15
MID_GREY = 125.0  # middle of limited range
MID_RANGE = 110.0  # a mean this far from mid-grey has no exposure part left
CLIP_PENALTY = 2.0  # exposure part lost per share of clipped pixels (half clipped: none left)
# Contrast: a punchy picture reads at thumbnail size; a hazy one does not.
W_CONTRAST = 0.15
CONTRAST_FULL = 55.0  # luma standard deviation that earns the whole contrast part

# --- diversity -------------------------------------------------------------------------------
# Bhattacharyya distance between colour histograms: frames of one shot a second apart are
# typically 0.05-0.2 apart, different shots 0.3 and more.
MIN_DISTANCE = 0.25


@dataclass(frozen=True)
class Candidate:
    """One sampled frame of a cut."""

    out_t: Fraction  # seconds from the cut's start, a multiple of 1/fps
    src_t: float  # source seconds from the start of the file
    luma_mean: float  # 0..255
    luma_std: float
    sharpness: float  # variance of the Laplacian of the low-resolution grey picture
    clipped: float  # share of pixels crushed (< 16) or blown (> 235)
    faces: tuple[Box, ...]  # in source display fractions, most confident first
    eyes: int | None  # eyes found in the main face; None: no face, or too small to tell
    transition: bool  # near a shot change, join or the cut's ends, or inside a fade
    hist: tuple[float, ...]  # Y'CbCr histogram (HIST_BINS), sums to 1
    tiny: tuple[float, ...] = ()  # TINY_SIZE grey picture, row by row, for fade detection


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    score: float  # higher is better; the sum of ``parts``
    parts: tuple[tuple[str, float], ...]  # named components, for --explain
    rejected: str | None  # why it can never win (black, flat, transition), or None
    fallback: bool = False  # picked although rejected: every candidate was


# --- sampling --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Want:
    out_t: Fraction
    src_t: Fraction


def _wanted(segments: Sequence[SegmentSpan], fps: Fraction, step: float) -> list[list[_Want]]:
    """Sample times per segment: every ``step`` of output time, snapped to the frame grid."""
    per_segment: list[list[_Want]] = []
    offset = 0  # output frames before this segment
    k = 0
    for seg in segments:
        frames = round(seg.duration * fps)
        wants = []
        while True:
            index = round(Fraction(k) * Fraction(step) * fps)
            if index >= offset + frames:
                break
            if index >= offset:
                wants.append(
                    _Want(Fraction(index) / fps, seg.start + Fraction(index - offset) / fps)
                )
            k += 1
        per_segment.append(wants)
        offset += frames
    return per_segment


def _runs(wants: list[_Want]) -> Iterator[list[_Want]]:
    """Split sample times where decoding forward would cost more than a seek."""
    run: list[_Want] = []
    for w in wants:
        if run and float(w.src_t - run[-1].src_t) > SEEK_GAP_S:
            yield run
            run = []
        run.append(w)
    if run:
        yield run


def cut_duration(segments: Sequence[SegmentSpan], fps: Fraction) -> Fraction:
    """The cut's output length: each segment is a whole number of frames at ``fps``."""
    return Fraction(sum(round(s.duration * fps) for s in segments)) / fps


def sample_candidates(
    source: str | Path,
    segments: Sequence[SegmentSpan],
    fps: Fraction,
    shots: Sequence[Fraction],
    *,
    step: float = 0.5,
    width: int = 480,
    progress: Callable[[float], None] | None = None,
    analysis: SourceAnalysis | None = None,
) -> list[Candidate]:
    """Measure a frame every ``step`` seconds of the cut made of ``segments`` (source ranges,
    joined in order, conformed to ``fps``), on a ``width``-wide picture in display geometry.

    ``shots`` are the output times of shot changes and joins inside the cut. With the
    source's ``analysis`` (made at the same width), faces come from its sample nearest each
    frame instead of a new search, which is most of the cost. Raises ``SourceError`` naming
    the file if it cannot be opened or decoded.
    """
    if step <= 0 or width < 32:
        raise ValueError(f"need step > 0 and width >= 32, not {step} and {width}")
    name = str(source)
    per_segment = _wanted(segments, fps, step)
    total = sum(len(w) for w in per_segment)
    try:
        container = av.open(name)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise SourceError(name, f"is not a video file FFmpeg can read ({_reason(exc)})") from exc
    found: list[Candidate] = []
    with container:
        if not container.streams.video:
            raise SourceError(name, "has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if stream.codec_context.width >= FAST_DECODE_SHRINK * width:
            stream.codec_context.options = dict(DECODER_OPTIONS)
        start = container.start_time / 1e6 if container.start_time is not None else 0.0
        source_fps = float(_fraction(stream.average_rate, Fraction(0))) or float(fps)
        sar = _fraction(stream.sample_aspect_ratio, Fraction(1))
        measure = _Measure(stream, sar, width, analysis, float(fps))
        try:
            for wants in per_segment:
                for run in _runs(wants):
                    for want, frame in _nearest(container, stream, start, source_fps, run):
                        found.append(measure(want, frame))
                        if progress and total:
                            progress(min(len(found) / total, 0.99))
        except av.FFmpegError as exc:
            raise SourceError(
                name, f"video cannot be decoded ({_reason(exc)}); the file may be damaged"
            ) from exc
    if progress:
        progress(1.0)
    return mark_transitions(found, shots, cut_duration(segments, fps))


def _nearest(
    container: Any, stream: Any, start: float, fps: float, run: list[_Want]
) -> Iterator[tuple[_Want, av.VideoFrame]]:
    """The decoded frame nearest each time of ``run`` (source times, ascending)."""
    first = float(run[0].src_t)
    if first > 0:
        # backward to the keyframe at or before it; frames before the wanted time are decoded
        # and dropped, so the nearest one is still found
        container.seek(
            int((first + start) / stream.time_base), stream=stream, backward=True, any_frame=False
        )
    pending = list(run)
    previous: tuple[float, av.VideoFrame] | None = None
    for frame in container.decode(stream):
        t = frame.time
        t = (previous[0] + 1 / fps if previous else first) if t is None else float(t) - start
        while pending and float(pending[0].src_t) <= t:
            due = float(pending[0].src_t)
            if previous is not None and due - previous[0] <= t - due:
                yield pending.pop(0), previous[1]
            else:
                yield pending.pop(0), frame
        if not pending:
            return
        previous = (t, frame)
    # past the last frame: times within half a frame of it still show it
    while pending and previous is not None and float(pending[0].src_t) <= previous[0] + 0.5 / fps:
        yield pending.pop(0), previous[1]


class _Measure:
    def __init__(
        self, stream: Any, sar: Fraction, width: int, analysis: SourceAnalysis | None, fps: float
    ):
        self.stream = stream
        self.sar = sar
        self.width = width
        self.geometry: _Geometry | None = None
        self.samples = list(analysis.samples) if analysis else []
        self.times = [s.t for s in self.samples]
        # an analysis sample this close is the same moment (its grid and the cut's differ)
        self.reach = (0.5 / analysis.sample_fps if analysis else 0.0) + 1 / fps

    def _faces(self, t: float, gray: U8) -> tuple[Box, ...]:
        i = bisect.bisect_left(self.times, t)
        near = [s for s in self.samples[max(0, i - 1) : i + 1] if abs(s.t - t) <= self.reach]
        if near:
            return min(near, key=lambda s: abs(s.t - t)).faces
        return detect_faces(gray)

    def __call__(self, want: _Want, frame: av.VideoFrame) -> Candidate:
        if self.geometry is None:
            self.geometry = _geometry(frame, self.stream, self.sar, self.width)
        g = self.geometry
        picture = _upright(_pictures(frame, [g.coded(g.analysis)])[0], g)
        y = np.ascontiguousarray(picture[0])
        clipped = float(np.count_nonzero((y < CRUSHED) | (y > BLOWN))) / y.size
        counts = cv2.calcHist(
            [np.ascontiguousarray(np.moveaxis(picture, 0, -1))],
            [0, 1, 2],
            None,
            list(HIST_BINS),
            [0, 256, 0, 256, 0, 256],
        ).ravel()
        hist = counts / max(float(counts.sum()), 1.0)
        faces = self._faces(float(want.src_t), y)
        tiny = cv2.resize(y, TINY_SIZE, interpolation=cv2.INTER_AREA)
        return Candidate(
            out_t=want.out_t,
            src_t=round(float(want.src_t), 6),
            luma_mean=round(float(y.mean()), 3),
            luma_std=round(float(y.std()), 3),
            sharpness=round(float(cv2.Laplacian(y, cv2.CV_64F).var()), 3),
            clipped=round(clipped, 5),
            faces=faces,
            eyes=self._eyes(frame, y, faces[0]) if faces else None,
            transition=False,
            hist=tuple(round(float(v), 6) for v in hist),
            tiny=tuple(float(v) for v in tiny.ravel()),
        )

    def _eyes(self, frame: av.VideoFrame, gray: U8, face: Box) -> int | None:
        assert self.geometry is not None
        g = self.geometry
        if face.w * gray.shape[1] < EYE_MIN_FACE_PX:
            if face.w * g.display[0] < EYE_MIN_FACE_PX:
                return None
            # big enough in the source, too small in the analysis picture: decode this frame
            # again just large enough for the face (only frames with a face pay for it)
            scale = min(1.0, 1.5 * EYE_MIN_FACE_PX / (face.w * g.display[0]))
            size = (
                max(32, round(g.display[0] * scale)),
                max(32, round(g.display[1] * scale)),
            )
            gray = np.ascontiguousarray(_upright(_pictures(frame, [g.coded(size)])[0], g)[0])
        return count_eyes(gray, face)


def _upright(picture: U8, g: _Geometry) -> U8:
    return np.rot90(picture, g.quarter, axes=(1, 2)) if g.quarter else picture


_eye_lock = threading.Lock()


def _eye_cascade() -> cv2.CascadeClassifier:
    return cascade("haarcascade_eye.xml")


def count_eyes(gray: U8, face: Box) -> int | None:
    """Eyes (0, 1 or 2) the cascade finds in the upper part of ``face`` (fractions of
    ``gray``); None when the face is too small in ``gray`` to tell."""
    h, w = gray.shape
    fx, fy, fw, fh = round(face.x * w), round(face.y * h), round(face.w * w), round(face.h * h)
    if fw < EYE_MIN_FACE_PX:
        return None
    top, bottom = fy + round(EYE_BAND[0] * fh), fy + round(EYE_BAND[1] * fh)
    crop = gray[max(0, top) : min(h, bottom), max(0, fx) : min(w, fx + fw)]
    if crop.size == 0:
        return None
    scale = EYE_FACE_PX / crop.shape[1]
    size = (EYE_FACE_PX, max(1, round(crop.shape[0] * scale)))
    # equalised: the cascade was trained on normalised windows, and faces in shade are common
    band = cv2.equalizeHist(cv2.resize(crop, size, interpolation=cv2.INTER_AREA))
    with _eye_lock:
        eyes = _eye_cascade().detectMultiScale(
            band,
            scaleFactor=1.1,
            minNeighbors=EYE_MIN_NEIGHBORS,
            minSize=(EYE_MIN_PX, EYE_MIN_PX),
            maxSize=(EYE_MAX_PX, EYE_MAX_PX),
        )
    # one on each side of the face at most: two hits on one side are an eye and a brow
    sides = {int((x + ew / 2) >= EYE_FACE_PX / 2) for x, _, ew, _ in eyes}
    return len(sides)


# --- transitions -----------------------------------------------------------------------------


def mark_transitions(
    candidates: Sequence[Candidate], shots: Sequence[Fraction], duration: Fraction
) -> list[Candidate]:
    """``candidates`` (in output order) with ``transition`` set where a thumbnail should not
    come from. The rule, on samples in output order:

    - within TRANSITION_S (strictly) of a shot change or join in ``shots``, or of the cut's
      start (0) or end (``duration``);
    - in a fade: a run of at least FADE_RUN steps in which mean luma moves the same way by
      at least FADE_STEP per sample and whose darker end is below FADE_DARK (the whole run,
      its bright end included: that frame may already be a little faded);
    - or either side of a jump in mean luma of FADE_JUMP or more between neighbouring
      samples whose normalised tiny grey pictures still correlate at FADE_SAME_PICTURE or
      more (the same picture, brighter or darker: a short fade or a dip).
    """
    ordered = sorted(candidates, key=lambda c: c.out_t)
    edges = [Fraction(0), duration, *shots]
    near = [any(abs(c.out_t - e) < TRANSITION_S for e in edges) for c in ordered]
    means = [c.luma_mean for c in ordered]
    fading = [False] * len(ordered)
    i = 0
    while i < len(ordered) - 1:
        direction = _direction(means[i + 1] - means[i])
        j = i + 1
        while (
            direction and j < len(ordered) - 1 and _direction(means[j + 1] - means[j]) == direction
        ):
            j += 1
        if direction and j - i >= FADE_RUN and min(means[i], means[j]) < FADE_DARK:
            for k in range(i, j + 1):
                fading[k] = True
        i = j if direction else i + 1
    for k in range(len(ordered) - 1):
        a, b = ordered[k], ordered[k + 1]
        if abs(a.luma_mean - b.luma_mean) >= FADE_JUMP and _same_picture(a, b):
            fading[k] = fading[k + 1] = True
    return [
        replace(c, transition=c.transition or n or f)
        for c, n, f in zip(ordered, near, fading, strict=True)
    ]


def _direction(delta: float) -> int:
    return 0 if abs(delta) < FADE_STEP else (1 if delta > 0 else -1)


def _same_picture(a: Candidate, b: Candidate) -> bool:
    if not a.tiny or len(a.tiny) != len(b.tiny):
        return False
    x, y = np.asarray(a.tiny), np.asarray(b.tiny)
    sx, sy = float(x.std()), float(y.std())
    if sx < 1.0 or sy < 1.0:  # a black or flat picture has no structure to compare
        return False
    return float(((x - x.mean()) * (y - y.mean())).mean() / (sx * sy)) >= FADE_SAME_PICTURE


# --- scoring ---------------------------------------------------------------------------------


def score(
    candidates: Sequence[Candidate],
    display_size: tuple[int, int],
    window_at: Callable[[Fraction], tuple[int, int, int, int] | None] | None = None,
) -> list[Scored]:
    """Score each candidate (same order). ``display_size`` is the source's displayed picture
    size; ``window_at(out_t)`` is the output's crop window then (x, y, w, h in display
    pixels), or None when the whole picture is shown."""
    usable = [c.sharpness for c in candidates if not _content_rejection(c)]
    reference = usable or [c.sharpness for c in candidates] or [0.0]
    mid = median(reference)
    top = float(np.percentile(reference, SHARP_REF_PERCENTILE))
    return [_score_one(c, mid, top, display_size, window_at) for c in candidates]


def _content_rejection(c: Candidate) -> list[str]:
    reasons = []
    if c.luma_mean < BLACK_MEAN:
        reasons.append("black")
    if c.luma_std < FLAT_STD:
        reasons.append("flat")
    return reasons


def _score_one(
    c: Candidate,
    mid: float,
    top: float,
    display_size: tuple[int, int],
    window_at: Callable[[Fraction], tuple[int, int, int, int] | None] | None,
) -> Scored:
    parts: list[tuple[str, float]] = []
    # The Laplacian's variance grows with the square of edge strength; its root is linear.
    sharp = math.sqrt(min(1.0, c.sharpness / top)) if top > 0 else 0.0
    parts.append(("sharp", W_SHARP * sharp))
    if c.sharpness < mid:
        parts.append(("soft", -W_SOFT))
    off_mid = (c.luma_mean - MID_GREY) / MID_RANGE
    exposure = max(0.0, 1 - CLIP_PENALTY * c.clipped) * max(0.0, 1 - off_mid * off_mid)
    parts.append(("exposure", W_EXPOSURE * exposure))
    parts.append(("contrast", W_CONTRAST * min(1.0, c.luma_std / CONTRAST_FULL)))
    window = window_at(c.out_t) if window_at else None
    faces = [f for f in c.faces if f.score >= FACE_MIN_SCORE]
    shown = [f for f in faces if _inside(f, window, display_size)]
    if shown:
        best = max(shown, key=_face_value)
        parts.append(("face", W_FACE * _face_value(best)))
        if best is c.faces[0] and c.eyes is not None:
            eyes = W_EYES_OPEN if c.eyes >= 1 else -W_EYES_SHUT
            parts.append(("eyes", eyes * _confidence(best)))
    elif faces:
        parts.append(("face_outside_crop", -W_FACE_OUTSIDE))
    reasons = _content_rejection(c)
    if c.transition:
        reasons.append("transition")
    rounded = tuple((name, round(v, 4)) for name, v in parts)
    return Scored(
        candidate=c,
        score=round(sum(v for _, v in parts), 4),
        parts=rounded,
        rejected=", ".join(reasons) or None,
    )


def _face_value(face: Box) -> float:
    """0..1: how much a face is worth, by its size in the picture and the detector's
    confidence."""
    return math.sqrt(min(1.0, face.area / FACE_FULL_AREA)) * _confidence(face)


def _confidence(face: Box) -> float:
    return min(1.0, face.score / FACE_SURE)


def _inside(
    face: Box, window: tuple[int, int, int, int] | None, display_size: tuple[int, int]
) -> bool:
    if window is None:
        return True
    x, y, w, h = window
    cx, cy = face.cx * display_size[0], face.cy * display_size[1]
    return x <= cx < x + w and y <= cy < y + h


# --- picking ---------------------------------------------------------------------------------


def hist_distance(a: Sequence[float], b: Sequence[float]) -> float:
    """Bhattacharyya distance between two normalised histograms: 0 same, 1 disjoint."""
    ha = np.asarray(a, dtype=np.float32)
    hb = np.asarray(b, dtype=np.float32)
    return float(cv2.compareHist(ha, hb, cv2.HISTCMP_BHATTACHARYYA))


def pick(scored: Sequence[Scored], n: int = 1, min_distance: float = MIN_DISTANCE) -> list[Scored]:
    """Up to ``n`` frames, best first, each at least ``min_distance`` (``hist_distance``) from
    every one picked before it. Rejected frames are picked only when every frame is rejected,
    and are then marked ``fallback``: an output should still get a thumbnail."""
    pool = [s for s in scored if s.rejected is None]
    fallback = not pool
    if fallback:
        pool = list(scored)
    chosen: list[Scored] = []
    for s in sorted(pool, key=lambda s: (-s.score, s.candidate.out_t)):
        if len(chosen) >= n:
            break
        if all(hist_distance(s.candidate.hist, p.candidate.hist) >= min_distance for p in chosen):
            chosen.append(s)
    return [replace(s, fallback=True) for s in chosen] if fallback else chosen


# --- explaining ------------------------------------------------------------------------------


def timestamp(t: Fraction | float) -> str:
    """mm:ss.ss"""
    seconds = float(t)
    minutes = int(seconds // 60)
    return f"{minutes:02d}:{seconds - 60 * minutes:05.2f}"


_DESCRIBE = {
    "sharp": "is sharper",
    "soft": "is not softer than most",
    "exposure": "is better exposed",
    "contrast": "has more contrast",
    "face": "shows a bigger or surer face",
    "face_outside_crop": "keeps its face inside the crop",
    "eyes": "has open eyes",
}


def explain(scored: Sequence[Scored], picked: Sequence[Scored], top: int = 5) -> list[str]:
    """Readable lines: the ``top`` candidates with their parts and rejections, each pick, and
    why the winner beat the frames that were sharper than it."""
    lines = []
    ranked = sorted(scored, key=lambda s: (-s.score, s.candidate.out_t))
    lines.append(f"top {min(top, len(ranked))} of {len(ranked)} candidates:")
    for s in ranked[:top]:
        parts = " ".join(f"{name}={v:+.3f}" for name, v in s.parts)
        why = f"  REJECTED: {s.rejected}" if s.rejected else ""
        lines.append(f"  {timestamp(s.candidate.out_t)}  {s.score:.3f}  {parts}{why}")
    rejected = [s for s in scored if s.rejected]
    if rejected:
        counts: dict[str, int] = {}
        for s in rejected:
            for reason in (s.rejected or "").split(", "):
                counts[reason] = counts.get(reason, 0) + 1
        summary = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
        lines.append(f"rejected {len(rejected)} of {len(scored)}: {summary}")
    if not picked:
        lines.append("no thumbnail: no candidates")
        return lines
    for i, p in enumerate(picked[1:], start=2):
        lines.append(
            f"pick {i}: {timestamp(p.candidate.out_t)} ({p.score:.3f}), the best remaining frame "
            "that looks different from the picks before it"
        )
    lines.append(_why(scored, picked[0]))
    return lines


def _why(scored: Sequence[Scored], winner: Scored) -> str:
    c = winner.candidate
    parts = dict(winner.parts)
    if winner.fallback:
        return (
            f"winner {timestamp(c.out_t)}: every candidate was rejected ({winner.rejected}), "
            "so the best of them stands in"
        )
    usable = [s for s in scored if s.rejected is None]
    sharpest = max(usable, key=lambda s: s.candidate.sharpness)
    what = "sharpest frame" if sharpest is winner else "best frame"
    if "face" in parts:
        what += " with a face inside the crop" if "face_outside_crop" not in parts else ""
        if parts.get("eyes", 0) > 0:
            what += ", eyes open"
    sentence = f"winner {timestamp(c.out_t)}: {what} (score {winner.score:.3f})"
    sharper = sorted(
        (s for s in scored if s.candidate.sharpness > c.sharpness),
        key=lambda s: -s.candidate.sharpness,
    )
    reasons = [_lost(s, winner) for s in sharper[:2]]
    if reasons:
        sentence += "; " + "; ".join(reasons)
    return sentence


def _lost(other: Scored, winner: Scored) -> str:
    when = timestamp(other.candidate.out_t)
    if other.rejected:
        return f"{when} was sharper but is rejected ({other.rejected})"
    theirs = dict(other.parts)
    if "face_outside_crop" in theirs and "face" in dict(winner.parts):
        return f"{when} was sharper but its face was outside the crop"
    mine = dict(winner.parts)
    deficits = {k: mine.get(k, 0.0) - theirs.get(k, 0.0) for k in {*mine, *theirs}}
    name = max(deficits, key=lambda k: deficits[k])
    return f"{when} was sharper but the winner {_DESCRIBE.get(name, name)} (+{deficits[name]:.3f})"
