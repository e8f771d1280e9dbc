"""Crop paths: where each output's window sits, shot by shot, from the source analysis.

Pure: analysis, cut and output shape in, a ``Framing`` out. The rules follow AutoFlip:

- the path is decided per shot, and cuts hard at every shot change and every join;
- if everything that matters in a shot stays inside a band the window can cover, the
  window holds still for the whole shot ("stationary"); otherwise it follows the subject
  with a dead band and a speed limit, so it never jitters;
- what matters is the shot's faces: all of them when they fit, else (strategy ``crop``)
  the most important one, chosen once per shot; under ``auto`` a shot whose faces cannot
  all fit is blur-padded instead. A moving window also takes in confident faces seen too
  seldom to be subjects, when they fit beside them. Shots without faces hold still on where
  most of their motion is (or follow it when it is spread out), and fall back to the focus
  point (default: the centre).

Positions are worked out along the one axis the window can move on (x when the output is
narrower than the source, y when it is taller) in source display pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from statistics import median

from pipeline.framing import CropWindow, crop_size
from pipeline.jobs import SegmentSpan
from pipeline.scene import Box, Sample, SourceAnalysis

# A face box covers brow to chin; keep hair, ears and some shoulder around it.
FACE_MARGIN_SIDE = 0.35  # of the face width, each side
FACE_MARGIN_ABOVE = 0.6  # of the face height
FACE_MARGIN_BELOW = 1.2  # chin to upper chest
# A face cluster must be in this share of a shot's samples to count as a subject: one-off
# detections on a patterned shirt or a poster should not steer the crop.
MIN_PRESENCE = 0.25
# Longer than this without a face, a face shot follows motion until a face is seen again.
FACE_MEMORY = 1.5
# ... or be seen in at least this many samples (a second at 5 fps).
MIN_SIGHTINGS = 5
# Faces whose cluster weighs less than this share of the heaviest are extras, not subjects.
MIN_WEIGHT_SHARE = 0.4
# Tracking: ignore target moves smaller than this share of the window (no jitter), and move
# at most this many window lengths per second (no whip pans).
DEAD_BAND = 0.08
MAX_SPEED = 0.5
# Targets are a running median over this many samples (5 fps: about a second).
SMOOTHING = 5
# Salient regions are less certain than faces: only trust a region this strong.
MIN_SALIENCY = 0.1
# Motion is a weak signal that jumps between whatever moves (two characters, a passing car):
# a shot without faces holds still on where most of its motion is, if at least this share
# of its salient samples has its centre inside one window, rather than chase each jump.
MOTION_HOLD_SHARE = 0.6
# A face outside the shot's subjects (seen too seldom to count) is kept in frame as well
# when the detector is this sure of it and it fits beside them.
EXTRA_FACE_SCORE = 0.4


@dataclass(frozen=True)
class Override:
    """A manifest framing range, in source seconds."""

    start: Fraction
    end: Fraction
    strategy: str | None
    focus: tuple[float, float] | None


@dataclass(frozen=True)
class ShotFraming:
    """What was decided for one shot (or part of one, between overrides): for plan notes,
    the preview and tests."""

    start: Fraction  # output time
    end: Fraction
    mode: str  # still, track, pad, focus, centre
    reason: str


@dataclass(frozen=True)
class Framing:
    windows: tuple[CropWindow, ...]
    pad_ranges: tuple[tuple[Fraction, Fraction], ...]  # output time, blur-padded
    shots: tuple[Fraction, ...]  # output time of each shot change and join after the start
    decisions: tuple[ShotFraming, ...]


@dataclass(frozen=True)
class _Interval:
    out_start: Fraction
    out_end: Fraction
    src_start: Fraction
    src_end: Fraction
    cut_before: bool  # a shot change or join at out_start
    override: Override | None


def frame_output(
    analysis: SourceAnalysis | None,
    segments: Sequence[SegmentSpan],
    fps: Fraction,
    display_size: tuple[int, int],
    out_size: tuple[int, int],
    strategy: str,
    focus: tuple[float, float] | None,
    overrides: Sequence[Override] = (),
) -> Framing:
    """The crop path of one output of a cut. ``strategy`` is ``auto`` or ``crop``."""
    src_w, src_h = display_size
    cw, ch = crop_size(src_w, src_h, *out_size)
    axis = "x" if cw < src_w else "y" if ch < src_h else None
    intervals = _intervals(analysis, segments, fps, overrides)
    shots = tuple(iv.out_start for iv in intervals if iv.cut_before and iv.out_start > 0)
    windows: list[CropWindow] = []
    pads: list[tuple[Fraction, Fraction]] = []
    decisions: list[ShotFraming] = []
    for iv in intervals:
        policy = iv.override.strategy if iv.override and iv.override.strategy else strategy
        point = iv.override.focus if iv.override and iv.override.focus else None
        if policy == "pad":
            path, mode, why = [_still(iv.out_start, src_w, src_h, cw, ch, (0.5, 0.5))], "pad", ""
            why = "manifest: strategy pad"
        elif point is not None or (policy == "crop" and focus is not None):
            pt = point or focus or (0.5, 0.5)
            path, mode = [_still(iv.out_start, src_w, src_h, cw, ch, pt)], "focus"
            why = f"manifest focus ({pt[0]:g}, {pt[1]:g})"
        elif axis is None:
            path, mode, why = [_still(iv.out_start, src_w, src_h, cw, ch, (0.5, 0.5))], "still", ""
            why = "the output has the source's shape"
        else:
            samples = _samples_in(analysis, iv)
            path, mode, why = _shot_path(
                samples, iv, fps, (src_w, src_h), (cw, ch), axis, policy, focus
            )
        if mode == "pad":
            pads.append((iv.out_start, iv.out_end))
        decisions.append(ShotFraming(iv.out_start, iv.out_end, mode, why))
        if windows and windows[-1].glide:
            # the previous shot glided towards its end; at a shot boundary it must stop
            last = windows.pop()
            windows.append(CropWindow(last.start, last.x, last.y, last.w, last.h, False))
        windows.extend(path)
    return Framing(_merged(windows), _merged_ranges(pads), shots, tuple(decisions))


def _intervals(
    analysis: SourceAnalysis | None,
    segments: Sequence[SegmentSpan],
    fps: Fraction,
    overrides: Sequence[Override],
) -> list[_Interval]:
    """Split the cut's output timeline at joins, shot changes and override edges."""
    out: list[_Interval] = []
    offset = 0  # output frames so far
    for seg in segments:
        frames = round(seg.duration * fps)
        # (output frame, is a shot change) for every place the policy may change
        marks: dict[int, bool] = {0: True}
        for t in analysis.shots if analysis else ():
            if seg.start < t < seg.end:
                marks[round((Fraction(t) - seg.start) * fps)] = True
        for o in overrides:
            for edge in (o.start, o.end):
                if seg.start < edge < seg.end:
                    marks.setdefault(round((edge - seg.start) * fps), False)
        edges = sorted(k for k in marks if 0 <= k < frames)
        for k, nxt in zip(edges, [*edges[1:], frames], strict=True):
            if nxt <= k:
                continue
            src_a = seg.start + Fraction(k) / fps
            src_b = seg.start + Fraction(nxt) / fps
            mid = (src_a + src_b) / 2
            ov = next((o for o in reversed(overrides) if o.start <= mid < o.end), None)
            out.append(
                _Interval(
                    Fraction(offset + k) / fps,
                    Fraction(offset + nxt) / fps,
                    src_a,
                    src_b,
                    marks[k],
                    ov,
                )
            )
        offset += frames
    return out


def _samples_in(analysis: SourceAnalysis | None, iv: _Interval) -> list[Sample]:
    if analysis is None:
        return []
    a, b = float(iv.src_start), float(iv.src_end)
    inside = [s for s in analysis.samples if a <= s.t < b]
    if inside:
        return inside
    # a shot shorter than the sampling step: borrow the nearest sample, if it is close
    near = min(analysis.samples, key=lambda s: abs(s.t - (a + b) / 2), default=None)
    return [near] if near is not None and abs(near.t - (a + b) / 2) < 0.5 else []


def _still(
    start: Fraction, src_w: int, src_h: int, cw: int, ch: int, point: tuple[float, float]
) -> CropWindow:
    x = min(max(0, round(point[0] * src_w - cw / 2)), src_w - cw)
    y = min(max(0, round(point[1] * src_h - ch / 2)), src_h - ch)
    return CropWindow(start, x, y, cw, ch)


def _face_span(face: Box, axis: str, size: int, margin: float = 1.0) -> tuple[float, float]:
    """The band of the picture (in pixels along ``axis``) a face needs kept in frame; with
    ``margin`` 0, the face box alone."""
    if axis == "x":
        side = FACE_MARGIN_SIDE * margin * face.w
        return (face.x - side) * size, (face.x + face.w + side) * size
    above, below = FACE_MARGIN_ABOVE * margin * face.h, FACE_MARGIN_BELOW * margin * face.h
    return (face.y - above) * size, (face.y + face.h + below) * size


def _clusters(samples: list[Sample], axis: str) -> list[list[tuple[int, Box]]]:
    """Group a shot's faces by where they sit along the axis: one group per person, roughly
    (people in one shot rarely swap places)."""
    faces = [(i, f) for i, s in enumerate(samples) for f in s.faces]
    if not faces:
        return []
    centre = (lambda f: f.cx) if axis == "x" else (lambda f: f.cy)
    extent = (lambda f: f.w) if axis == "x" else (lambda f: f.h)
    faces.sort(key=lambda item: centre(item[1]))
    gap = 0.5 * median(extent(f) for _, f in faces)
    groups: list[list[tuple[int, Box]]] = [[faces[0]]]
    for item in faces[1:]:
        if centre(item[1]) - centre(groups[-1][-1][1]) > max(gap, 0.03):
            groups.append([])
        groups[-1].append(item)
    return groups


def _subjects(
    samples: list[Sample], axis: str
) -> tuple[list[list[tuple[int, Box]]], list[list[tuple[int, Box]]]]:
    """(subjects, ranked): the face groups that matter in this shot, and every group that
    is present often enough, most important first."""
    n = len(samples)
    weighed = []
    for group in _clusters(samples, axis):
        seen = len({i for i, _ in group})
        present = seen / n
        # in a long shot a person seen for a second or more matters even if the detector
        # misses them most of the time (profiles, hats, people walking in)
        if present < MIN_PRESENCE and seen < MIN_SIGHTINGS:
            continue
        area = median(f.area for _, f in group)
        mean_centre = sum((f.cx if axis == "x" else f.cy) for _, f in group) / len(group)
        # bigger and more often present matters more; ties go to the more central person
        weight = area * present * (1.0 - 0.3 * abs(mean_centre - 0.5))
        weighed.append((weight, group))
    weighed.sort(key=lambda wg: -wg[0])
    if not weighed:
        return [], []
    top = weighed[0][0]
    return [g for w, g in weighed if w >= MIN_WEIGHT_SHARE * top], [g for _, g in weighed]


def _spans(
    groups: list[list[tuple[int, Box]]], n: int, axis: str, size: int, margin: float = 1.0
) -> list[tuple[float, float] | None]:
    """Per sample, the band that keeps every face of these groups in frame (None: none seen)."""
    spans: list[tuple[float, float] | None] = [None] * n
    for group in groups:
        for i, face in group:
            lo, hi = _face_span(face, axis, size, margin)
            cur = spans[i]
            spans[i] = (lo, hi) if cur is None else (min(cur[0], lo), max(cur[1], hi))
    return spans


def _shot_path(
    samples: list[Sample],
    iv: _Interval,
    fps: Fraction,
    src: tuple[int, int],
    crop: tuple[int, int],
    axis: str,
    policy: str,
    focus: tuple[float, float] | None,
) -> tuple[list[CropWindow], str, str]:
    src_w, src_h = src
    cw, ch = crop
    size = src_w if axis == "x" else src_h
    length = cw if axis == "x" else ch
    fallback = focus or (0.5, 0.5)

    def window(start: Fraction, pos: float, glide: bool = False) -> CropWindow:
        p = min(max(0, round(pos)), size - length)
        other = _still(start, src_w, src_h, cw, ch, fallback)
        if axis == "x":
            return CropWindow(start, p, other.y, cw, ch, glide)
        return CropWindow(start, other.x, p, cw, ch, glide)

    subjects, ranked = _subjects(samples, axis) if samples else ([], [])
    if subjects:
        who = "face" if len(subjects) == 1 else f"{len(subjects)} faces"
        # with room around the faces if it fits, else the face boxes alone (a close-up in
        # a narrow crop), before giving anybody up
        for margin in (1.0, 0.0):
            spans = _with_motion(
                _spans(subjects, len(samples), axis, size, margin), samples, axis, size, length
            )
            seen = [s for s in spans if s is not None]
            lo, hi = min(s[0] for s in seen), max(s[1] for s in seen)
            if hi - lo <= length:
                return [window(iv.out_start, (lo + hi) / 2 - length / 2)], "still", f"{who} held"
            if all(s[1] - s[0] <= length for s in seen):
                # a moving window may as well take in whoever else fits beside the subjects
                spans = _with_extras(spans, samples, subjects, axis, size, length, margin)
                path = _track(samples, spans, iv, fps, size, length, window)
                return path, "track", f"{who} followed"
        if len(subjects) > 1 and policy == "auto":
            return (
                [_still(iv.out_start, src_w, src_h, cw, ch, fallback)],
                "pad",
                f"{len(subjects)} faces too far apart for the crop",
            )
        main = ranked[:1] if len(subjects) > 1 else subjects
        for margin in (1.0, 0.0):
            spans = _with_motion(
                _spans(main, len(samples), axis, size, margin), samples, axis, size, length
            )
            seen = [s for s in spans if s is not None]
            lo, hi = min(s[0] for s in seen), max(s[1] for s in seen)
            if hi - lo <= length:
                held = [window(iv.out_start, (lo + hi) / 2 - length / 2)]
                return held, "still", "main face held"
        path = _track(samples, spans, iv, fps, size, length, window)
        return path, "track", "main face followed"

    salient = _salient_spans(samples, axis, size, length)
    if sum(b is not None for b in salient) >= max(1, len(samples) // 3):
        spans = salient
        seen = [s for s in spans if s is not None]
        lo, hi = min(s[0] for s in seen), max(s[1] for s in seen)
        if hi - lo <= length:
            held = [window(iv.out_start, (lo + hi) / 2 - length / 2)]
            return held, "still", "no face: held on motion"
        pos, share = _most_motion(seen, length)
        if share >= MOTION_HOLD_SHARE:
            return [window(iv.out_start, pos)], "still", f"no face: held on {share:.0%} of motion"
        path = _track(samples, spans, iv, fps, size, length, window)
        return path, "track", "no face: following motion"
    point = fallback[0] if axis == "x" else fallback[1]
    why = "no face or motion: focus point" if focus else "no face or motion: centre"
    return [window(iv.out_start, point * size - length / 2)], "centre", why


def _salient_spans(
    samples: list[Sample], axis: str, size: int, length: int
) -> list[tuple[float, float] | None]:
    spans: list[tuple[float, float] | None] = []
    for s in samples:
        b = s.salient
        if b is None or b.score < MIN_SALIENCY:
            spans.append(None)
            continue
        c = (b.cx if axis == "x" else b.cy) * size
        half = min((b.w if axis == "x" else b.h) * size, 0.8 * length) / 2
        spans.append((c - half, c + half))
    return spans


def _most_motion(spans: list[tuple[float, float]], length: int) -> tuple[float, float]:
    """The window position that holds the most salient centres (well inside it, not on
    its edge), and the share it holds."""
    inner = 0.9 * length
    centres = sorted((lo + hi) / 2 for lo, hi in spans)
    best, first, last = 0, 0, 0
    j = 0
    for i, c in enumerate(centres):
        j = max(j, i)
        while j + 1 < len(centres) and centres[j + 1] - c <= inner:
            j += 1
        if j - i + 1 > best:
            best, first, last = j - i + 1, i, j
    middle = (centres[first] + centres[last]) / 2
    return middle - length / 2, best / len(centres)


def _with_extras(
    spans: list[tuple[float, float] | None],
    samples: list[Sample],
    subjects: list[list[tuple[int, Box]]],
    axis: str,
    size: int,
    length: int,
    margin: float,
) -> list[tuple[float, float] | None]:
    """Subject spans widened to confident faces outside the subjects, where they fit: keep
    everybody in frame when the crop can."""
    counted = {id(f) for group in subjects for _, f in group}
    out = list(spans)
    for i, s in enumerate(samples):
        cur = out[i]
        if cur is None:
            continue
        for f in s.faces:
            if id(f) in counted or f.score < EXTRA_FACE_SCORE:
                continue
            lo, hi = _face_span(f, axis, size, margin)
            wide = (min(cur[0], lo), max(cur[1], hi))
            if wide[1] - wide[0] <= length:
                cur = wide
        out[i] = cur
    return out


def _with_motion(
    spans: list[tuple[float, float] | None],
    samples: list[Sample],
    axis: str,
    size: int,
    length: int,
) -> list[tuple[float, float] | None]:
    """Face spans, with the salient region standing in where no face has been seen for
    FACE_MEMORY seconds: in a long shot people walk in and out, and a face seen in its first
    seconds must not pin the crop for the rest of it."""
    seen_at = [s.t for s, sp in zip(samples, spans, strict=True) if sp is not None]
    salient = _salient_spans(samples, axis, size, length)
    out = list(spans)
    for i, s in enumerate(samples):
        recent = any(abs(s.t - t) <= FACE_MEMORY for t in seen_at)
        if out[i] is None and salient[i] is not None and not recent:
            out[i] = salient[i]
    return out


def _track(
    samples: list[Sample],
    spans: list[tuple[float, float] | None],
    iv: _Interval,
    fps: Fraction,
    size: int,
    length: int,
    window: Callable[[Fraction, float, bool], CropWindow],
) -> list[CropWindow]:
    """Follow the span's centre with a dead band and a speed limit; keep it inside the
    window whenever it fits (that beats the speed limit: losing the face is worse)."""
    known = [(s.t, sp) for s, sp in zip(samples, spans, strict=True) if sp is not None]
    # The path glides straight from knot to knot, and so (near enough) does the subject, so
    # holding it at every knot holds it in between. The shot's first and last frames get
    # knots too, with the subject carried there at its last known speed: samples are 0.2 s
    # apart and a shot rarely starts or ends on one.
    first_t, last_frame = float(iv.src_start), float(iv.src_end - 1 / fps)
    if len(known) >= 2:
        known = [
            (first_t, _carried(known[0], known[1], first_t)),
            *known,
            (last_frame, _carried(known[-2], known[-1], last_frame)),
        ]
    # a running median over about a second: one bad detection must not pull the camera
    centres = [(lo + hi) / 2 for _, (lo, hi) in known]
    half = SMOOTHING // 2
    smooth = [median(centres[max(0, i - half) : i + half + 1]) for i in range(len(centres))]
    knots: list[tuple[Fraction, float]] = []
    pos: float | None = None
    last_t = first_t
    for (t, (lo, hi)), centre in zip(known, smooth, strict=True):
        target = centre - length / 2
        if pos is None:
            pos = target
        else:
            step = MAX_SPEED * length * max(t - last_t, 1e-3)
            if abs(target - pos) > DEAD_BAND * length:
                pos += max(-step, min(step, target - pos))
        # containment: the window [pos, pos + length] must hold [lo, hi]; a face bigger
        # than the window is centred
        pos = min(max(pos, hi - length), lo) if hi - lo <= length else centre - length / 2
        pos = min(max(0.0, pos), float(size - length))
        out_t = iv.out_start + Fraction(round((Fraction(t) - iv.src_start) * fps)) / fps
        out_t = min(max(out_t, iv.out_start), iv.out_end - 1 / fps)
        if knots and out_t <= knots[-1][0]:
            # two samples on one frame: keep the later position, but never lose the subject
            # the earlier one had to hold
            knots[-1] = (knots[-1][0], pos)
        else:
            knots.append((out_t, pos))
        last_t = t
    knots[0] = (iv.out_start, knots[0][1])
    knots = _simplified(knots)
    path: list[CropWindow] = []
    for (start, p), nxt in zip(knots, [*knots[1:], None], strict=True):
        moving = nxt is not None and round(nxt[1]) != round(p)
        path.append(window(start, p, moving))
    return path


def _simplified(knots: list[tuple[Fraction, float]]) -> list[tuple[Fraction, float]]:
    """Drop knots the path would pass within half a pixel of anyway (Ramer-Douglas-Peucker):
    a steady pan is one glide, not one per sample, which keeps the crop expression short."""
    if len(knots) < 3:
        return knots
    (t0, p0), (t1, p1) = knots[0], knots[-1]
    worst, at = 0.0, 0
    for i in range(1, len(knots) - 1):
        t, p = knots[i]
        line = p0 + (p1 - p0) * float((t - t0) / (t1 - t0)) if t1 > t0 else p0
        if abs(p - line) > worst:
            worst, at = abs(p - line), i
    if worst <= 0.5:
        return [knots[0], knots[-1]]
    return _simplified(knots[: at + 1])[:-1] + _simplified(knots[at:])


def _carried(
    a: tuple[float, tuple[float, float]], b: tuple[float, tuple[float, float]], t: float
) -> tuple[float, float]:
    """The span at time ``t``, moving on from the nearer of samples a and b at their speed."""
    (ta, (alo, ahi)), (tb, (blo, bhi)) = a, b
    if tb <= ta:
        return (blo, bhi)
    k = (t - ta) / (tb - ta)
    return (alo + (blo - alo) * k, ahi + (bhi - ahi) * k)


def _merged(windows: list[CropWindow]) -> tuple[CropWindow, ...]:
    """Drop windows that change nothing: same place as the one before, which holds."""
    out: list[CropWindow] = []
    for w in windows:
        if out and not out[-1].glide and not w.glide and (out[-1].x, out[-1].y) == (w.x, w.y):
            continue
        out.append(w)
    return tuple(out)


def _merged_ranges(
    ranges: list[tuple[Fraction, Fraction]],
) -> tuple[tuple[Fraction, Fraction], ...]:
    out: list[tuple[Fraction, Fraction]] = []
    for a, b in ranges:
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return tuple(out)
