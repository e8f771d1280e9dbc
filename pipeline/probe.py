"""Probe source media with PyAV into frozen facts; never guess from file names.

Also fingerprints each source by content (SHA-256), cached by path, size and modification
time so that a no-op run never re-reads large files.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pipeline import __version__
from pipeline.colour import HDR_TRANSFERS, RANGE_FULL, UNSPECIFIED, source_matrix
from pipeline.errors import SourceError

if TYPE_CHECKING:
    import av  # imported where media are opened: a run that reads every fact from the cache
    # (``_HashCache``) does not pay for loading FFmpeg's libraries

log = logging.getLogger(__name__)

# Bump when ``probe`` would describe the same bytes differently: cached descriptions made
# before are then ignored (so is every one made by another pipeline version).
PROBE_VERSION = 1


@dataclass(frozen=True)
class SourceInfo:
    """What the plan needs to know about one source file."""

    path: str
    sha256: str
    size: int
    duration: Fraction
    width: int  # coded size, as the decoder outputs it
    height: int
    sar: Fraction  # sample (pixel) aspect ratio
    rotation: int  # degrees, from display-matrix side data; FFmpeg auto-rotates on decode
    fps: Fraction
    video_codec: str
    has_audio: bool
    audio_rate: int | None
    audio_channels: int | None
    # "progressive", or the order fields are woven in: "tt", "bb", "tb", "bt" (FFmpeg's
    # names), or "interlaced" when only the frames say so
    field_order: str = "progressive"
    dynamic_range: str = "sdr"  # "sdr", or the HDR transfer: "pq" (HDR10) or "hlg"
    bit_depth: int = 8
    # FFmpeg's numbers for (primaries, transfer, matrix, range) as the decoder tags frames;
    # 2, 2, 2 and 0 are "unspecified"
    colour: tuple[int, int, int, int] = (UNSPECIFIED, UNSPECIFIED, UNSPECIFIED, 0)

    @property
    def interlaced(self) -> bool:
        return self.field_order != "progressive"

    @property
    def matrix(self) -> str:
        """The YCbCr matrix, as FFmpeg's scale filter names it (``pipeline.colour``)."""
        return source_matrix(self.colour[2], self.width, self.height)

    @property
    def full_range(self) -> bool:
        return self.colour[3] == RANGE_FULL

    @property
    def display_size(self) -> tuple[int, int]:
        """Picture size in square pixels after rotation: the shape a viewer sees."""
        w = round(self.width * self.sar)
        h = self.height
        if self.rotation % 180:
            w, h = h, w
        return w, h


def _frame_rate(v: Any, measure: Callable[[], Fraction | None] | None = None) -> Fraction:
    """The stream's nominal rate when the measured average agrees with it within 1%; else
    the rate of its typical frame interval (``measure``: ``_interval_rate``), or the average.

    The average is frames over duration, and a container that leaves out the last frame's
    duration reports 599 frames in 20 s as 29.95 fps, which is nearer 29.97 than 30; the
    nominal rate says 30. Where they disagree, neither is the camera's rate: a phone
    recording 30 fps that holds frames to 1/15 s in low light averages 20 fps, and
    conformed to 20 it dropped a third of the frames it did capture; the nominal rate is no
    better, as MPEG-1/2 streams report their field rate there (50 for 25 fps).
    """
    average = _fraction(v.average_rate, Fraction(0))
    nominal = _fraction(v.base_rate, Fraction(0)) or _fraction(v.guessed_rate, Fraction(0))
    if average and nominal and abs(average - nominal) / nominal < Fraction(1, 100):
        return nominal
    return (measure() if measure else None) or average or nominal


# Packets whose timestamps ``_interval_rate`` reads: ten seconds at 30 fps. Opening and
# demuxing took 2-30 ms on the test and shared clips, paid only where the rates disagree.
RATE_PACKETS = 300
# Fewer frame intervals than this say nothing about a rate.
RATE_MIN_INTERVALS = 10


def _interval_rate(path: Path) -> Fraction | None:
    """The rate of the first video stream's typical frame interval, from the presentation
    times of its first ``RATE_PACKETS`` packets (demuxed, not decoded); None if it has too
    few."""
    import av

    try:
        with av.open(str(path)) as container:
            v = container.streams.video[0]
            if v.time_base is None:
                return None
            times: set[int] = set()
            for packet in container.demux(v):
                if packet.pts is not None and packet.size:
                    times.add(packet.pts)
                if len(times) >= RATE_PACKETS:
                    break
            interval = typical_interval(sorted(times))
            return 1 / (interval * Fraction(v.time_base)) if interval else None
    except (av.FFmpegError, OSError, IndexError):
        return None


def typical_interval(times: Sequence[int]) -> Fraction | None:
    """The camera's frame interval, in ticks, from sorted frame times: the shortest of the
    common intervals (at least a quarter as common as the commonest), as their mean.

    Intervals within a tick or 2% of each other count as one: containers that round times
    to the millisecond (MKV, FLV) give 30 fps frames 33 and 34 ms apart. The shortest, not
    the commonest: a camera holds a frame for two or three intervals when light is short,
    never for less than one, and a clip that spent half its time at each rate made the
    commonest a coin toss (the test clip: 30 intervals of 1/30 s, 29 of 1/15 s).
    """
    steps = sorted(b - a for a, b in itertools.pairwise(times))
    if len(steps) < RATE_MIN_INTERVALS:
        return None
    groups: list[list[int]] = []
    for step in steps:
        if groups and step - groups[-1][0] <= max(1, groups[-1][0] // 50):
            groups[-1].append(step)
        else:
            groups.append([step])
    commonest = max(len(g) for g in groups)
    base = next(g for g in groups if 4 * len(g) >= commonest)
    return Fraction(sum(base), len(base))


# FFmpeg's AVFieldOrder values (PyAV gives the number) for woven fields.
_FIELD_ORDERS = {2: "tt", 3: "bb", 4: "tb", 5: "bt"}


def _field_order(v: av.video.stream.VideoStream, first: av.VideoFrame) -> str:
    order = _FIELD_ORDERS.get(int(getattr(v.codec_context, "field_order", 0) or 0))
    if order:
        return order
    # Some muxers leave the stream's field order unset; the decoder still flags the frames.
    return "interlaced" if getattr(first, "interlaced_frame", False) else "progressive"


def _dynamic_range(v: av.video.stream.VideoStream, first: av.VideoFrame) -> str:
    for trc in (getattr(first, "color_trc", None), getattr(v.codec_context, "color_trc", None)):
        if trc is not None and int(trc) in HDR_TRANSFERS:
            return HDR_TRANSFERS[int(trc)]
    return "sdr"


def _colour(v: av.video.stream.VideoStream, first: av.VideoFrame) -> tuple[int, int, int, int]:
    """(primaries, transfer, matrix, range): the first frame's tags, or the stream's where
    the frame's is unspecified. 0 counts as unspecified too: "reserved" for primaries and
    transfer, and RGB for the matrix, which needs none."""
    cc = v.codec_context

    def tag(name: str, unset: int) -> int:
        for value in (getattr(first, name, None), getattr(cc, name, None)):
            if value is not None and int(value) not in (unset, 0):
                return int(value)
        return unset

    return (
        tag("color_primaries", UNSPECIFIED),
        tag("color_trc", UNSPECIFIED),
        tag("colorspace", UNSPECIFIED),
        tag("color_range", 0),
    )


def _bit_depth(first: av.VideoFrame) -> int:
    try:
        return max(c.bits for c in first.format.components)
    except (AttributeError, ValueError):
        return 8


def _fraction(value: object, fallback: Fraction) -> Fraction:
    if value is None:
        return fallback
    try:
        f = Fraction(cast(Any, value))
    except (TypeError, ValueError, ZeroDivisionError):
        return fallback
    return f if f > 0 else fallback


def _rotation(stream: av.video.stream.VideoStream) -> int:
    for frame_side in ("rotation",):
        value = getattr(stream.codec_context, frame_side, None)
        if value:
            return int(value) % 360
    try:
        value = stream.metadata.get("rotate")
        return int(value) % 360 if value else 0
    except (TypeError, ValueError):
        return 0


def _frame_rotation(frame: av.VideoFrame) -> int:
    try:
        return round(frame.rotation) % 360
    except AttributeError:
        return 0


class _HashCache:
    """Per file, remembered by (size, mtime_ns) in a small JSON file: its SHA-256, and what
    ``probe`` found in it, so a run over unchanged sources neither reads nor decodes them."""

    def __init__(self, path: Path | None):
        self.path = path
        self.data: dict[str, dict[str, object]] = {}
        if path and path.is_file():
            try:
                self.data = json.loads(path.read_text())
            except (OSError, ValueError):
                self.data = {}

    def _entry(self, file: Path, st: os.stat_result) -> dict[str, object] | None:
        hit = self.data.get(str(file))
        if hit and hit.get("size") == st.st_size and hit.get("mtime_ns") == st.st_mtime_ns:
            return hit
        return None

    def sha256(self, file: Path) -> str:
        st = file.stat()
        hit = self._entry(file, st)
        if hit and hit.get("sha256"):
            return str(hit["sha256"])
        h = hashlib.sha256()
        with file.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
        self.data[str(file)] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
        self._save()
        return digest

    def info(self, file: Path, st: os.stat_result) -> SourceInfo | None:
        """``probe``'s description of ``file``, if it was made of these bytes by this code."""
        hit = self._entry(file, st)
        found = hit.get("probe") if hit else None
        if not isinstance(found, dict) or found.get("version") != [__version__, PROBE_VERSION]:
            return None
        try:
            return _info_from_json(str(file), str(hit["sha256"]) if hit else "", found)
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            return None

    def remember(self, file: Path, st: os.stat_result, info: SourceInfo) -> None:
        """Keep ``info`` with the file's hash, if the file is still as it was when probed."""
        hit = self._entry(file, st)
        if self.path is None or hit is None or hit.get("sha256") != info.sha256:
            return
        hit["probe"] = {**_info_to_json(info), "version": [__version__, PROBE_VERSION]}
        self._save()

    def _save(self) -> None:
        if not self.path:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
        os.replace(tmp, self.path)


def _info_to_json(info: SourceInfo) -> dict[str, object]:
    body = asdict(info)
    del body["path"], body["sha256"]  # the cache's key and its own field
    return {k: str(v) if isinstance(v, Fraction) else v for k, v in body.items()}


def _info_from_json(path: str, sha256: str, data: dict[str, Any]) -> SourceInfo:
    return SourceInfo(
        path=path,
        sha256=sha256,
        size=int(data["size"]),
        duration=Fraction(data["duration"]),
        width=int(data["width"]),
        height=int(data["height"]),
        sar=Fraction(data["sar"]),
        rotation=int(data["rotation"]),
        fps=Fraction(data["fps"]),
        video_codec=str(data["video_codec"]),
        has_audio=bool(data["has_audio"]),
        audio_rate=None if data["audio_rate"] is None else int(data["audio_rate"]),
        audio_channels=None if data["audio_channels"] is None else int(data["audio_channels"]),
        field_order=str(data["field_order"]),
        dynamic_range=str(data["dynamic_range"]),
        bit_depth=int(data["bit_depth"]),
        colour=cast(tuple[int, int, int, int], tuple(int(c) for c in data["colour"])),
    )


def file_sha256(path: Path, cache_file: Path | None = None) -> str:
    return _HashCache(cache_file).sha256(path)


def probe(path: Path, cache_file: Path | None = None, label: str | None = None) -> SourceInfo:
    """Open ``path`` with PyAV and describe it; raise ``SourceError`` naming the file if it is
    missing, not media, has no video, or is truncated (its last second cannot be decoded).

    With ``cache_file``, a file whose size and mtime are as when it was last described is
    not opened again: its description and hash come from the cache."""
    name = label or str(path)
    if not path.exists():
        raise SourceError(name, "file does not exist")
    if not path.is_file():
        raise SourceError(name, "is not a file")
    st = path.stat()
    if st.st_size == 0:
        raise SourceError(name, "is empty (0 bytes)")
    cache = _HashCache(cache_file)
    known = cache.info(path, st)
    if known is not None:
        return known
    info = _probe(path, name)
    info = replace(info, sha256=cache.sha256(path))
    cache.remember(path, st, info)
    return info


def _probe(path: Path, name: str) -> SourceInfo:
    import av

    is_mp4, cut_short = _mp4_structure(path)
    if cut_short:
        raise SourceError(name, f"is truncated: {cut_short}; copy the file again")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        if isinstance(exc, PermissionError):
            raise SourceError(name, f"cannot be read ({_reason(exc)})") from exc
        raise SourceError(name, f"is not a video file FFmpeg can read ({_reason(exc)})") from exc
    with container:
        if not container.streams.video:
            kinds = ", ".join(s.type for s in container.streams) or "no streams"
            raise SourceError(name, f"has no video stream (found: {kinds})")
        v = container.streams.video[0]
        a = container.streams.audio[0] if container.streams.audio else None
        duration = _duration(container, v)
        if duration <= 0:
            raise SourceError(name, "has no duration; the file may be truncated or not video")
        fps = _frame_rate(v, lambda: _interval_rate(path))
        if not fps:
            raise SourceError(name, "has no frame rate")
        sar = _fraction(v.sample_aspect_ratio, Fraction(1))
        width, height = v.codec_context.width, v.codec_context.height
        if not width or not height:
            raise SourceError(name, "video stream has no picture size")
        first = _first_frame(container, v, name)
        rotation = _frame_rotation(first) or _rotation(v)
        # An MP4 whose boxes are all whole has every frame: reaching the last second is enough.
        duration = _check_tail(container, v, duration, name, to_the_end=not is_mp4)
        return SourceInfo(
            path=str(path),
            sha256="",
            size=path.stat().st_size,
            duration=duration,
            width=width,
            height=height,
            sar=sar,
            rotation=rotation,
            fps=fps,
            video_codec=v.codec_context.name,
            has_audio=a is not None,
            audio_rate=a.codec_context.sample_rate if a is not None else None,
            audio_channels=a.codec_context.channels if a is not None else None,
            field_order=_field_order(v, first),
            dynamic_range=_dynamic_range(v, first),
            bit_depth=_bit_depth(first),
            colour=_colour(v, first),
        )


def _reason(exc: BaseException) -> str:
    """FFmpeg's own words without the file name it appends (an absolute machine path)."""
    return str(getattr(exc, "strerror", None) or exc)


# Box types an MP4/MOV (ISO base media) file can start with.
_ISO_FIRST_BOXES = {"ftyp", "styp", "moov", "mdat", "free", "skip", "wide", "pnot"}


def _mp4_structure(path: Path) -> tuple[bool, str | None]:
    """Whether ``path`` is an MP4/MOV file, and why it is cut short (None if it is whole),
    from its top-level box sizes.

    Every top-level box states its size, so a copy that stopped early shows as a last box
    that runs past the end of the file. This catches both layouts: moov (the index) last,
    where FFmpeg cannot open the file at all, and moov first ("faststart"), where it opens
    fine and only the frames at the end are missing.
    """
    total = path.stat().st_size
    pos = 0
    names: list[str] = []
    with path.open("rb") as fh:
        while pos < total:
            fh.seek(pos)
            header = fh.read(16)
            name = header[4:8].decode("latin-1") if len(header) >= 8 else ""
            if not names and name not in _ISO_FIRST_BOXES:
                return False, None
            if len(header) < 8:
                return True, f"it ends inside a box header after {pos} bytes"
            size = int.from_bytes(header[:4], "big")
            if size == 1 and len(header) == 16:
                size = int.from_bytes(header[8:16], "big")
            elif size == 0:  # last box, runs to the end of the file by definition
                size = total - pos
            if size < 8:
                return True, f"its '{name}' box at byte {pos} is damaged (size {size})"
            names.append(name)
            if pos + size > total:
                missing = "" if "moov" in names else " and its index (the moov box) is missing"
                return True, (
                    f"only {total} of {pos + size} bytes are present (its '{name}' box "
                    f"runs past the end of the file){missing}"
                )
            pos += size
    if "moov" not in names and "moof" not in names:
        return True, "it has no index (moov box)"
    return True, None


def _duration(container: av.container.InputContainer, v: av.video.stream.VideoStream) -> Fraction:
    import av

    if v.duration is not None and v.time_base is not None:
        d = Fraction(v.duration) * Fraction(v.time_base)
        if d > 0:
            return d
    if container.duration is not None:
        return Fraction(container.duration, av.time_base)
    return Fraction(0)


def _first_frame(
    container: av.container.InputContainer, v: av.video.stream.VideoStream, name: str
) -> av.VideoFrame:
    import av

    try:
        for frame in container.decode(v):
            return frame
    except av.FFmpegError as exc:
        raise SourceError(name, f"video cannot be decoded ({_reason(exc)})") from exc
    raise SourceError(name, "video stream has no decodable frames; the file may be truncated")


# How far the last decodable frame may end before the duration the video stream declares.
# Edit lists and B-frame delay account for a frame or two; more than this is lost data.
TAIL_TOLERANCE = Fraction(1, 2)

# Seconds before the end to seek to when checking a file's tail, in turn, until a frame
# decodes; the last (longer than any file) means from the start.
TAIL_SEEK_BACK = (Fraction(1), Fraction(10), Fraction(60), Fraction(10**9))


def _check_tail(
    container: av.container.InputContainer,
    v: av.video.stream.VideoStream,
    duration: Fraction,
    name: str,
    *,
    to_the_end: bool = True,
) -> Fraction:
    """Decode from the last second (to the end, if ``to_the_end``) and return the duration
    the video really has.

    A truncated file can open fine and stop decoding early. Where the video stream declares
    its own duration, falling short of it is an error; where only the container gives one
    (it may include a longer subtitle or audio stream), the decodable end is the duration.
    """
    import av

    if v.time_base is None:  # pragma: no cover - every demuxer PyAV wraps sets one
        return duration
    time_base = Fraction(v.time_base)
    target = max(Fraction(0), duration - 1)
    start = Fraction(v.start_time or 0) * time_base
    last_seen: Fraction | None = None
    try:
        # MPEG-TS has no index: its seek lands on whatever frame is there, and the decoder
        # shows nothing until the next keyframe, which a camcorder's long GOP may not have
        # before the end. So step further back until frames come out, at worst from the start.
        for back in TAIL_SEEK_BACK:
            seek_to = max(Fraction(0), duration - back)
            container.seek(
                int((seek_to + start) / time_base), stream=v, backward=True, any_frame=False
            )
            for frame in container.decode(v):
                if frame.pts is not None and frame.time_base is not None:
                    t = Fraction(frame.pts) * Fraction(frame.time_base) - start
                    last_seen = t if last_seen is None else max(last_seen, t)
                # Without a declared video duration there is nothing to fall short of.
                early = not to_the_end or v.duration is None
                if early and last_seen is not None and last_seen >= target:
                    return duration
            if last_seen is not None or seek_to == 0:
                break
    except av.FFmpegError as exc:
        raise SourceError(
            name,
            f"is truncated: its header says {float(duration):.2f} s but the video cannot be "
            f"decoded near its end ({_reason(exc)}); copy the file again",
        ) from exc
    if last_seen is None:
        raise SourceError(
            name,
            f"is truncated: its header says {float(duration):.2f} s but no frame decodes "
            f"after {float(target):.2f} s; copy the file again",
        )
    end = last_seen + 1 / _fraction(v.average_rate, Fraction(25))
    if v.duration is None:
        return min(duration, end)
    if end < duration - TAIL_TOLERANCE:
        raise SourceError(
            name,
            f"is truncated: its header says {float(duration):.2f} s but decoding stops at "
            f"{float(end):.2f} s; copy the file again",
        )
    return duration


@dataclass(frozen=True)
class OutputFacts:
    """What a rendered file really contains, read back with PyAV."""

    path: str
    bytes: int
    duration: Fraction
    width: int
    height: int
    fps: Fraction
    frames: int
    video_codec: str
    video_profile: str
    pix_fmt: str
    audio_codec: str | None
    audio_rate: int | None
    audio_channels: int | None
    moov_before_mdat: bool
    # (primaries, transfer, matrix, range), FFmpeg's numbers, as the stream declares them
    colour: tuple[int, int, int, int] = (UNSPECIFIED, UNSPECIFIED, UNSPECIFIED, 0)


def _top_level_boxes(path: Path, limit: int = 64) -> list[str]:
    """Names of the MP4's top-level boxes in file order (cheap: reads only box headers)."""
    names: list[str] = []
    with path.open("rb") as fh:
        size_total = path.stat().st_size
        pos = 0
        while pos < size_total and len(names) < limit:
            fh.seek(pos)
            header = fh.read(16)
            if len(header) < 8:
                break
            size = int.from_bytes(header[:4], "big")
            names.append(header[4:8].decode("latin-1"))
            if size == 1:
                size = int.from_bytes(header[8:16], "big")
            elif size == 0:
                break
            if size < 8:
                break
            pos += size
    return names


def inspect_output(path: Path) -> OutputFacts:
    """Read back a rendered MP4; raise ``SourceError`` if it is not a playable file."""
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise SourceError(str(path), f"rendered file cannot be opened ({_reason(exc)})") from exc
    with container:
        if not container.streams.video:
            raise SourceError(str(path), "rendered file has no video stream")
        v = container.streams.video[0]
        a = container.streams.audio[0] if container.streams.audio else None
        duration = _duration(container, v)
        boxes = _top_level_boxes(path)
        return OutputFacts(
            path=str(path),
            bytes=path.stat().st_size,
            duration=duration,
            width=v.codec_context.width,
            height=v.codec_context.height,
            fps=_fraction(v.average_rate, Fraction(0)),
            frames=v.frames,
            video_codec=v.codec_context.name,
            video_profile=str(v.codec_context.profile or ""),
            pix_fmt=str(v.codec_context.pix_fmt or ""),
            audio_codec=a.codec_context.name if a is not None else None,
            audio_rate=a.codec_context.sample_rate if a is not None else None,
            audio_channels=a.codec_context.channels if a is not None else None,
            moov_before_mdat=(
                "moov" in boxes and "mdat" in boxes and boxes.index("moov") < boxes.index("mdat")
            ),
            colour=(
                int(v.codec_context.color_primaries),
                int(v.codec_context.color_trc),
                int(v.codec_context.colorspace),
                int(v.codec_context.color_range),
            ),
        )
