"""Analyse a source once for reframing: where its shots change, and where faces or salient
regions are over time.

One decoding pass feeds two consumers at different rates. Every frame has to be decoded
anyway (long-GOP H.264 cannot skip to a frame), so every frame also becomes a tiny thumbnail
for frame-exact shot detection; only frames at ``sample_fps`` are converted to a picture in
display geometry for face and saliency detection, which is where the time would go.
What it finds depends only on the file's bytes, so it is cached by content hash.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any, cast

import av
import cv2
import cv2.data
import numpy as np
import numpy.typing as npt

from pipeline.errors import SourceError
from pipeline.probe import _duration, _fraction, _frame_rotation, _reason, _rotation
from pipeline.scene import (
    SAMPLE_FPS,
    SAMPLE_WIDTH,
    Box,
    Sample,
    SourceAnalysis,
    cache_path,
    read_cached,
)

log = logging.getLogger(__name__)

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
# x, y, w, h in pixels; the best cascade level weight and the number of windows in the group
Rect = tuple[int, int, int, int, float, int]

# Decoding is most of the time. The picture is only looked at small, where the decoder's
# deblocking (loop) filter makes no visible difference; skipping it and allowing H.264's
# non-conforming shortcuts saves about 15% of the decoding CPU.
DECODER_OPTIONS = {"skip_loop_filter": "all", "flags2": "+fast"}

# --- shot changes ----------------------------------------------------------------------------
# Scored on a tiny Y'CbCr thumbnail of every frame, in coded geometry (a cut changes the
# picture whatever its shape). Chroma counts double: unrelated shots of similar brightness
# still differ in colour, and colour changes less than luma when things move.
THUMB_SIZE = (64, 36)
CHROMA_WEIGHT = 2.0
# A cut scores at least CUT_MIN_SCORE (mean absolute difference, 0..255) and at least
# CUT_RATIO times the median score of the frames around it plus CUT_MARGIN: fast camera
# motion scores high on every frame and so raises its own bar.
CUT_MIN_SCORE = 12.0
CUT_RATIO = 3.0
CUT_MARGIN = 4.0
CUT_WINDOW_S = 0.5  # on each side of the candidate frame
# After a cut the next frame still differs from the frame before it; after a one-frame
# flash or glitch it does not.
CUT_PERSIST = 0.6
MIN_SHOT_S = 0.5

# --- faces -----------------------------------------------------------------------------------
# Faces narrower than this share of the picture do not matter for framing. At the default
# 480-pixel analysis width it is also the cascade's own 24-pixel window.
FACE_MIN_WIDTH = 1 / 20
FACE_SCALE_FACTOR = 1.2
FACE_MIN_NEIGHBORS = 3  # a face is more than this many overlapping detection windows
GROUP_EPS = 0.2  # OpenCV's own grouping tolerance
# Confidence comes from two things the cascade gives. detectMultiScale3's level weight is
# how far a window cleared the last stage: real faces reach 4-14, textured backgrounds and
# cartoon faces mostly stay under 2-3. And real faces collect many overlapping windows
# (40-60 for a large one), false ones a handful. FACE_MIN_WEIGHT drops the weakest; the
# score is a logistic in the best weight times a saturating share of neighbours.
FACE_MIN_WEIGHT = 2.0
FACE_WEIGHT_MID = 4.0
FACE_WEIGHT_SPREAD = 1.5
FACE_NEIGHBOURS_SCALE = 8.0
# A full search of a 480x270 picture costs about 60-90 ms of CPU, as much as decoding five
# 1080p frames, so only every FULL_SEARCH_EVERY-th sample gets one, every
# FULL_SEARCH_EVERY_EMPTY-th while no face is in view (B-roll), and the first after a
# possible cut. The others look only around the faces of the sample before, within
# TRACK_MARGIN face widths and TRACK_RANGE times their size, which costs a few ms.
FULL_SEARCH_EVERY = 2
FULL_SEARCH_EVERY_EMPTY = 4
TRACK_MARGIN = 0.75
TRACK_RANGE = 1.4

# --- salient region --------------------------------------------------------------------------
SALIENCY_WIDTH = 64  # the saliency picture is this wide, in display geometry
# Mean difference (0..255) between two samples, above twice the picture's median difference,
# below which nothing moved: coding noise and grain.
MOTION_FLOOR = 1.5
# Contrast (standard deviation, 0..255, chroma weighted as for cuts) below which a still
# picture is flat.
FLAT_STD = 3.0
# Both maps are smoothed by a Gaussian this share of the picture's width, which turns the
# rim that the spectral residual finds around a plain object, or the leading and trailing
# edges of a moving one, into one blob over the object (Hou and Zhang smooth by 8 of 64).
SALIENCY_BLUR = 1 / 16
# Added to the amplitude spectrum before its log: synthetic and graphic pictures have exact
# zeros in their spectrum, whose log would dwarf everything else in the residual.
SPECTRUM_FLOOR = 1.0
# The region is what stays above this share of the map's peak.
REGION_LEVEL = 0.5
SALIENT_MIN_SCORE = 0.1

PROGRESS_INTERVAL = 0.1  # seconds of wall time between progress reports
IN_FLIGHT = 4  # samples waiting for face detection; bounds memory when detection lags


def analyze(
    path: Path,
    sha256: str,
    cache_dir: Path | None = None,
    *,
    sample_fps: float = SAMPLE_FPS,
    width: int = SAMPLE_WIDTH,
    progress: Callable[[float], None] | None = None,
) -> SourceAnalysis:
    """Find the shot changes of ``path``, and its faces and salient region ``sample_fps``
    times a second on a ``width``-wide picture in display geometry.

    With ``cache_dir``, a stored result for the same content hash and sample rate is returned
    without decoding, and a new result is stored there. ``progress`` gets the fraction done
    now and then. Raises ``SourceError`` naming the file if it cannot be decoded.
    """
    if sample_fps <= 0 or width < 32:
        raise ValueError(f"need sample_fps > 0 and width >= 32, not {sample_fps} and {width}")
    target = cache_path(cache_dir, sha256, width) if cache_dir is not None else None
    if target is not None:
        hit = read_cached(target, sha256, sample_fps)
        if hit is not None:
            if progress:
                progress(1.0)
            return hit
    result = _Analysis(path, sha256, sample_fps, width, progress).run()
    if target is not None:
        _write_cache(target, result)
    return result


def _write_cache(path: Path, result: SourceAnalysis) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique temporary name in the same folder: concurrent writers never share one, and
    # os.replace within a file system is atomic, so a reader sees a whole file or none.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(result.to_json(), fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- decoding --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Geometry:
    """How a decoded frame becomes the picture a viewer sees."""

    quarter: int  # counter-clockwise quarter turns, as numpy's rot90 counts them
    display: tuple[int, int]  # displayed size of the source: square pixels, upright
    analysis: tuple[int, int]  # size of the face picture
    saliency: tuple[int, int]  # size of the saliency picture

    def coded(self, size: tuple[int, int]) -> tuple[int, int]:
        """The size to scale a frame to so that it is ``size`` once turned upright."""
        return (size[1], size[0]) if self.quarter % 2 else size


def _geometry(frame: av.VideoFrame, stream: Any, sar: Fraction, width: int) -> _Geometry:
    # The display matrix turns the picture counter-clockwise by this many degrees.
    degrees = _frame_rotation(frame) or _rotation(stream)
    quarter = round(degrees / 90) % 4
    dw, dh = max(1, round(frame.width * sar)), frame.height
    if quarter % 2:
        dw, dh = dh, dw
    # never upscale: a small source gains no detail, only detection time
    aw = max(32, min(width, dw))
    analysis = (aw, max(2, round(aw * dh / dw)))
    saliency = (SALIENCY_WIDTH, max(2, round(SALIENCY_WIDTH * dh / dw)))
    return _Geometry(quarter, (dw, dh), analysis, saliency)


# 8-bit planar formats whose planes can be averaged directly.
_PLANAR_8BIT = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p"}


def _plane(frame: av.VideoFrame, index: int) -> U8:
    plane = frame.planes[index]
    data = np.frombuffer(cast(Any, plane), dtype=np.uint8)  # a VideoPlane is a buffer
    return data.reshape(-1, plane.line_size)[: plane.height, : plane.width]


def _shrink(plane: U8, size: tuple[int, int]) -> U8:
    """Area-average ``plane`` to ``size`` (w, h)."""
    tw, th = size
    # OpenCV averages by exactly 2 many times faster than by any other factor, so halve
    # first: a 1080p plane reaches 480 wide in a fifth of the time of one direct resize.
    while plane.shape[1] >= 2 * tw and plane.shape[0] >= 2 * th:
        h, w = plane.shape[0] // 2, plane.shape[1] // 2
        plane = np.asarray(
            cv2.resize(plane[: 2 * h, : 2 * w], (w, h), interpolation=cv2.INTER_AREA),
            dtype=np.uint8,
        )
    return np.asarray(cv2.resize(plane, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _pictures(frame: av.VideoFrame, sizes: list[tuple[int, int]]) -> list[U8]:
    """Y, Cb, Cr of ``frame`` at each of ``sizes`` (coded geometry), each as (3, h, w)."""
    if frame.format.name in _PLANAR_8BIT:
        # The decoder's own planes averaged with OpenCV: no colour conversion, and several
        # times cheaper than swscale for a 1080p frame.
        planes = [_plane(frame, i) for i in range(3)]
        return [np.stack([_shrink(p, size) for p in planes]) for size in sizes]
    return [
        np.asarray(frame.to_ndarray(width=w, height=h, format="yuv444p"), dtype=np.uint8)
        for w, h in sizes
    ]


def _difference(a: F32, b: F32) -> float:
    d = np.abs(a - b).mean(axis=(1, 2))
    return float(d[0] + CHROMA_WEIGHT * (d[1] + d[2]) / 2)


class _Analysis:
    def __init__(
        self,
        path: Path,
        sha256: str,
        sample_fps: float,
        width: int,
        progress: Callable[[float], None] | None,
    ):
        self.path = path
        self.name = str(path)
        self.sha256 = sha256
        self.sample_fps = sample_fps
        self.width = width
        self.progress = progress
        self.last_report = -math.inf

    def run(self) -> SourceAnalysis:
        started = time.perf_counter()
        if not self.path.exists():
            raise SourceError(self.name, "file does not exist")
        if not self.path.is_file():
            raise SourceError(self.name, "is not a file")
        try:
            container = av.open(self.name)
        except (av.FFmpegError, OSError, ValueError) as exc:
            reason = f"is not a video file FFmpeg can read ({_reason(exc)})"
            if isinstance(exc, PermissionError):
                reason = f"cannot be read ({_reason(exc)})"
            raise SourceError(self.name, reason) from exc
        if self.progress:
            self.progress(0.0)
        with container:
            if not container.streams.video:
                kinds = ", ".join(s.type for s in container.streams) or "no streams"
                raise SourceError(self.name, f"has no video stream (found: {kinds})")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            stream.codec_context.options = dict(DECODER_OPTIONS)
            # Seconds from the start of the file, the clock FFmpeg's -ss and the cuts use.
            start = container.start_time / 1e6 if container.start_time is not None else 0.0
            declared = float(_duration(container, stream))
            fps = float(_fraction(stream.average_rate, Fraction(0))) or 25.0
            sar = _fraction(stream.sample_aspect_ratio, Fraction(1))
            scan = _Scan(self.sample_fps, self.width, sar, stream, fps)
            try:
                for t, frame in _frames(container, stream, start, fps):
                    scan.add(t, frame)
                    self._report(t, declared)
                samples = scan.finish()
            except av.FFmpegError as exc:
                raise SourceError(
                    self.name, f"video cannot be decoded ({_reason(exc)}); the file may be damaged"
                ) from exc
            finally:
                scan.close()
        if scan.geometry is None:
            raise SourceError(
                self.name, "video stream has no decodable frames; the file may be truncated"
            )
        end = scan.times[-1] + 1 / fps
        shots = _shot_changes(scan.times, scan.scores, scan.persist, fps, scan.times[0], end)
        if self.progress:
            self.progress(1.0)
        return SourceAnalysis(
            sha256=self.sha256,
            duration=declared if declared > 0 else end,
            sample_fps=self.sample_fps,
            width=scan.geometry.display[0],
            height=scan.geometry.display[1],
            shots=shots,
            samples=samples,
            seconds=round(time.perf_counter() - started, 3),
        )

    def _report(self, t: float, duration: float) -> None:
        if not self.progress or duration <= 0:
            return
        now = time.monotonic()
        if now - self.last_report >= PROGRESS_INTERVAL:
            self.last_report = now
            self.progress(min(max(t / duration, 0.0), 0.99))


def _frames(
    container: Any, stream: Any, start: float, fps: float
) -> Iterator[tuple[float, av.VideoFrame]]:
    last: float | None = None
    for frame in container.decode(stream):
        t = frame.time
        # A frame without a timestamp follows the previous one.
        if t is None:
            t = start if last is None else last + 1 / fps
        last = float(t)
        yield last - start, frame


class _Scan:
    """Consumes decoded frames in order: scores each against its neighbours for shot changes,
    and picks the frame nearest each sample time for faces and saliency."""

    def __init__(self, sample_fps: float, width: int, sar: Fraction, stream: Any, fps: float):
        self.sample_fps = sample_fps
        self.width = width
        self.sar = sar
        self.stream = stream
        self.fps = fps
        self.geometry: _Geometry | None = None
        self.times: list[float] = []
        self.scores: list[float] = []  # frame i against frame i - 1
        self.persist: list[float] = []  # frame i + 1 against frame i - 1
        self.thumbs: deque[F32] = deque(maxlen=3)
        self.previous: tuple[float, av.VideoFrame] | None = None
        self.k = 0  # the next sample is due at k / sample_fps
        self.taken: float | None = None
        self.changed = False  # a frame since the last sample scored like a cut
        self.last_small: F32 | None = None
        self.samples: list[tuple[float, Future[tuple[Box, ...]], Box | None]] = []
        self.in_flight: deque[Future[tuple[Box, ...]]] = deque()
        self.tracker = _FaceTracker()
        # Face detection runs beside decoding: OpenCV and the decoder both release the GIL.
        # One worker, so that each sample's search sees the faces of the sample before.
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analyze-faces")

    def add(self, t: float, frame: av.VideoFrame) -> None:
        if self.geometry is None:
            self.geometry = _geometry(frame, self.stream, self.sar, self.width)
        thumb = _pictures(frame, [THUMB_SIZE])[0].astype(np.float32)
        self.thumbs.append(thumb)
        self.times.append(t)
        if len(self.thumbs) == 1:
            self.scores.append(0.0)
            self.persist.append(0.0)
        else:
            self.scores.append(_difference(self.thumbs[-2], thumb))
            self.changed = self.changed or self.scores[-1] >= CUT_MIN_SCORE
        if len(self.thumbs) == 3:
            self.persist.append(_difference(self.thumbs[0], thumb))
        while self._due() <= t:
            # The frame nearest the sample time: the previous one when it is at least as near.
            due = self._due()
            if self.previous is not None and due - self.previous[0] <= t - due:
                self._take(*self.previous)
            else:
                self._take(t, frame)
            self.k += 1
        self.previous = (t, frame)

    def finish(self) -> tuple[Sample, ...]:
        if self.previous is not None:
            last_t, last_frame = self.previous
            # Sample times past the last frame, but nearer to it than to a next frame.
            if self._due() <= last_t + 0.5 / self.fps:
                self._take(last_t, last_frame)
            while len(self.persist) < len(self.scores):
                self.persist.append(self.scores[len(self.persist)])
        return tuple(
            Sample(t=t, faces=faces.result(), salient=salient) for t, faces, salient in self.samples
        )

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _due(self) -> float:
        return self.k / self.sample_fps

    def _take(self, t: float, frame: av.VideoFrame) -> None:
        if self.taken == t:
            return
        self.taken = t
        assert self.geometry is not None
        g = self.geometry
        picture, small_picture = _pictures(frame, [g.coded(g.analysis), g.coded(g.saliency)])
        if g.quarter:
            picture = np.rot90(picture, g.quarter, axes=(1, 2))
            small_picture = np.rot90(small_picture, g.quarter, axes=(1, 2))
        gray = np.ascontiguousarray(picture[0])
        changed, self.changed = self.changed, False
        while len(self.in_flight) >= IN_FLIGHT:
            self.in_flight.popleft().result()
        faces = self.pool.submit(self.tracker.detect, gray, changed)
        self.in_flight.append(faces)
        small = small_picture.astype(np.float32)
        salient = salient_region(small, self.last_small)
        self.last_small = small
        self.samples.append((round(t, 6), faces, salient))


# --- shot changes ----------------------------------------------------------------------------


def _shot_changes(
    times: list[float],
    scores: list[float],
    persist: list[float],
    fps: float,
    start: float,
    end: float,
) -> tuple[float, ...]:
    s = np.asarray(scores, dtype=np.float64)
    p = np.asarray(persist, dtype=np.float64)
    window = max(2, round(CUT_WINDOW_S * fps))
    candidates: list[tuple[float, float]] = []
    for i in np.flatnonzero(s >= CUT_MIN_SCORE):
        if i == 0:
            continue
        around = np.concatenate([s[max(1, i - window) : i], s[i + 1 : i + 1 + window]])
        base = float(np.median(around)) if around.size else 0.0
        if s[i] < CUT_RATIO * base + CUT_MARGIN or p[i] < CUT_PERSIST * s[i]:
            continue
        candidates.append((float(s[i]), times[i]))
    chosen: list[float] = []
    # Strongest first, so that of two changes closer than a minimum shot the real cut wins.
    for _, t in sorted(candidates, reverse=True):
        if t - start < MIN_SHOT_S or end - t < MIN_SHOT_S:
            continue
        if all(abs(t - c) >= MIN_SHOT_S for c in chosen):
            chosen.append(t)
    return tuple(sorted(round(t, 6) for t in chosen))


# --- faces -----------------------------------------------------------------------------------

_detect_lock = threading.Lock()


@cache
def cascade(name: str) -> cv2.CascadeClassifier:
    """One of the Haar cascades the OpenCV wheel ships, loaded once per process."""
    classifier = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, name))
    if classifier.empty():  # pragma: no cover - the wheel ships it
        raise RuntimeError(f"OpenCV could not load its cascade {name}")
    return classifier


def _frontal() -> cv2.CascadeClassifier:
    return cascade("haarcascade_frontalface_default.xml")


def _search(gray: U8, smallest: int, largest: int = 0) -> list[Rect]:
    if min(gray.shape) < smallest:
        return []
    # One classifier per process; it is not documented as safe for concurrent calls.
    with _detect_lock:
        # Every window, ungrouped, so that each group's neighbour count is known as well as
        # its best level weight (OpenCV's own grouping keeps only the weight).
        rects, _levels, weights = _frontal().detectMultiScale3(
            gray,
            scaleFactor=FACE_SCALE_FACTOR,
            minNeighbors=0,
            minSize=(smallest, smallest),
            maxSize=(largest, largest),
            outputRejectLevels=True,
        )
    if len(rects) == 0:
        return []
    raw = np.asarray(rects, dtype=np.int64).reshape(-1, 4)
    level = np.asarray(weights, dtype=np.float64).ravel()
    grouped, counts = cv2.groupRectangles(raw.tolist(), FACE_MIN_NEIGHBORS, GROUP_EPS)
    found: list[Rect] = []
    for (x, y, w, h), n in zip(grouped, np.ravel(counts), strict=True):
        # The windows of this group: OpenCV's similarity test against the group's average.
        delta = GROUP_EPS * (np.minimum(raw[:, 2], w) + np.minimum(raw[:, 3], h)) / 2
        member = (
            (np.abs(raw[:, 0] - x) <= delta)
            & (np.abs(raw[:, 1] - y) <= delta)
            & (np.abs(raw[:, 0] + raw[:, 2] - x - w) <= delta)
            & (np.abs(raw[:, 1] + raw[:, 3] - y - h) <= delta)
        )
        best = float(level[member].max()) if member.any() else -math.inf
        if best >= FACE_MIN_WEIGHT:
            found.append((int(x), int(y), int(w), int(h), best, int(n)))
    return found


def _smallest_face(width: int) -> int:
    return max(24, round(width * FACE_MIN_WIDTH))


def _boxes(rects: list[Rect], width: int, height: int) -> tuple[Box, ...]:
    boxes = []
    for x, y, w, h, weight, n in rects:
        strength = 1 / (1 + math.exp(-(weight - FACE_WEIGHT_MID) / FACE_WEIGHT_SPREAD))
        support = 1 - math.exp(-n / FACE_NEIGHBOURS_SCALE)
        score = round(strength * support, 4)
        boxes.append(Box(x / width, y / height, w / width, h / height, score))
    return tuple(sorted(boxes, key=lambda b: -b.score))


def detect_faces(gray: U8) -> tuple[Box, ...]:
    """Frontal faces in a grey picture, most confident first, as fractions of the picture."""
    h, w = gray.shape
    return _boxes(_search(gray, _smallest_face(w)), w, h)


class _FaceTracker:
    """Faces sample after sample, in order: a full search now and then and after a possible
    cut, otherwise a search around the faces of the sample before."""

    def __init__(self) -> None:
        self.last: list[Rect] = []
        self.since_full = math.inf  # samples since the last full search

    def detect(self, gray: U8, changed: bool) -> tuple[Box, ...]:
        h, w = gray.shape
        smallest = _smallest_face(w)
        every = FULL_SEARCH_EVERY if self.last else FULL_SEARCH_EVERY_EMPTY
        full = changed or self.since_full + 1 >= every
        self.since_full = 0 if full else self.since_full + 1
        if full:
            found = _search(gray, smallest)
        else:
            found = []
            for x, y, fw, fh, _, _ in self.last:
                m = round(TRACK_MARGIN * fw)
                x0, y0 = max(0, x - m), max(0, y - m)
                x1, y1 = min(w, x + fw + m), min(h, y + fh + m)
                low = max(smallest, math.floor(fw / TRACK_RANGE))
                high = math.ceil(fw * TRACK_RANGE)
                near = _search(gray[y0:y1, x0:x1], low, high)
                found += [(rx + x0, ry + y0, rw, rh, wt, n) for rx, ry, rw, rh, wt, n in near]
            found = _distinct(found)
        self.last = found
        return _boxes(found, w, h)


def _distinct(rects: list[Rect]) -> list[Rect]:
    """Drop detections that overlap a stronger one (searches around two nearby faces can
    find the same face twice)."""
    kept: list[Rect] = []
    for r in sorted(rects, key=lambda r: (-r[4], -r[5])):
        if all(_overlap(r, k) < 0.3 for k in kept):
            kept.append(r)
    return kept


def _overlap(a: Rect, b: Rect) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


# --- salient region --------------------------------------------------------------------------


def _spectral_residual(channel: F32) -> F64:
    """Hou and Zhang's spectral residual: what is left of the log amplitude spectrum once
    its local average is removed marks what is unexpected in the picture."""
    spectrum = np.fft.fft2(channel)
    log_amplitude = np.log(np.abs(spectrum) + SPECTRUM_FLOOR)
    residual = log_amplitude - cv2.blur(log_amplitude, (3, 3))
    back = np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))
    power: F64 = np.square(np.abs(back))
    return power


def salient_region(small: F32, previous: F32 | None) -> Box | None:
    """Where motion (against ``previous``) and visual contrast concentrate in a small Y'CbCr
    picture (3, h, w), or None if nothing stands out."""
    _, h, w = small.shape
    sigma = max(1.0, w * SALIENCY_BLUR)
    contrast = small.reshape(3, -1).std(axis=1)
    weights = contrast * np.array([1.0, CHROMA_WEIGHT / 2, CHROMA_WEIGHT / 2])
    motion: F64 | None = None
    if previous is not None and previous.shape == small.shape:
        d = np.abs(small - previous)
        moved = d[0] + CHROMA_WEIGHT * (d[1] + d[2]) / 2
        # Grain and sensor noise change every pixel a little: only what moved more than
        # most of the picture did counts, or noise drowns a small moving subject.
        moved = np.maximum(moved - 2.0 * float(np.median(moved)), 0.0)
        if moved.mean() > MOTION_FLOOR:
            motion = np.asarray(
                cv2.GaussianBlur(moved.astype(np.float64), (0, 0), sigma), dtype=np.float64
            )
    if motion is None and weights.sum() < FLAT_STD:
        return None
    spectral = np.zeros((h, w), dtype=np.float64)
    # The residual ignores contrast (it is a ratio), so a near-flat channel would add pure
    # noise at full strength: each channel counts by how much contrast it has.
    for channel, weight in zip(small, weights, strict=True):
        if weight > 0.5:
            sr = _spectral_residual(channel)
            spectral = spectral + sr * (float(weight) / max(float(sr.sum()), 1e-12))
    # The residual marks the edges and corners of an object; how far each place's colour is
    # from the picture's average colour fills in its inside (Achanta et al.'s
    # frequency-tuned saliency), so the blob covers the object rather than one corner.
    blurred = np.stack([cv2.GaussianBlur(c, (0, 0), 1.0) for c in small])
    away = np.abs(blurred - small.reshape(3, -1).mean(axis=1)[:, None, None])
    distinct = (away[0] + CHROMA_WEIGHT * (away[1] + away[2]) / 2).astype(np.float64)
    combined = np.zeros((h, w), dtype=np.float64)
    for part in (spectral, distinct):
        smooth = np.asarray(cv2.GaussianBlur(part, (0, 0), sigma), dtype=np.float64)
        total = float(smooth.sum())
        if total > 0:
            combined = combined + 0.5 * smooth / total
    if motion is not None:
        combined = 0.5 * combined + 0.5 * motion / float(motion.sum())
    return _region(combined)


def _region(density: F64) -> Box | None:
    """The box around the strongest blob of a map that sums to 1, scored by how much more of
    the map it holds than its share of the picture."""
    h, w = density.shape
    peak = float(density.max())
    if peak <= 0:
        return None
    core = density >= REGION_LEVEL * peak
    # Close small gaps, so that the two edges a moving object leaves in a difference map,
    # or the rim spectral residual finds around a plain object, make one blob.
    joined = cv2.dilate(core.astype(np.uint8), np.ones((3, 3), np.uint8))
    count, labels = cv2.connectedComponents(joined, connectivity=8)
    if count < 2:
        return None
    mass = np.bincount(labels.ravel(), weights=density.ravel(), minlength=count)
    best = int(np.argmax(mass[1:])) + 1
    ys, xs = np.nonzero(core & (labels == best))
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    inside = float(density[y0:y1, x0:x1].sum())
    share = (x1 - x0) * (y1 - y0) / (w * h)
    score = min(1.0, max(0.0, (inside - share) / (1 - share))) if share < 1 else 0.0
    if score < SALIENT_MIN_SCORE:
        return None
    return Box(x0 / w, y0 / h, (x1 - x0) / w, (y1 - y0) / h, round(score, 4))
