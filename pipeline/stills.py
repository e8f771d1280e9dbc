"""Still images from chosen frames: posters, covers and review contact sheets.

Which frame each output uses is decided elsewhere; this module reads that frame at full
resolution in display geometry, frames it the way the video frames that moment (the same
crop window, or the same blur-pad look), and writes it as JPEG and WebP. Every file appears
whole or not at all: it is encoded in memory, written under a hidden temporary name in its
own folder, then renamed.

Numbers from shared/reference/platforms-and-anchors.md unless marked "our choice":

- §1.3 YouTube custom thumbnail: 1280x720, 16:9, JPG/GIF/PNG, under 2 MB; the bottom right
  carries the duration badge (so the title band goes at the top).
- §1.3 Instagram Reel cover: 1080x1920; the profile grid shows only the centre ≈1012x1350.
- §1.4 Meta Reels safe zone, the tightest 9:16 surface: no text in the top 14%, the bottom
  35% or the outer 6% at each side.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.video.reformatter import Colorspace
from PIL import Image, ImageCms, ImageColor, ImageDraw, ImageFilter, ImageFont

from pipeline.analyze import _geometry
from pipeline.captions.fonts import font_file
from pipeline.colour import HDR_TRANSFERS, UNSPECIFIED, hdr_to_sdr, source_matrix
from pipeline.errors import PipelineError, SourceError
from pipeline.probe import _fraction, _reason


class StillError(PipelineError):
    """A still image cannot be made as asked (e.g. it cannot be got under a size limit)."""


# --- covers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverSpec:
    width: int
    height: int
    max_bytes: int | None
    formats: tuple[str, ...]
    aspect: str  # the key safe_margins knows
    source: str


COVERS: dict[str, CoverSpec] = {
    # YouTube takes JPG/GIF/PNG, not WebP. "Under 2 MB" read as decimal megabytes: the
    # stricter reading, since the help page does not say which.
    "youtube": CoverSpec(
        1280, 720, 2_000_000, ("jpeg",), "16:9", "platforms-and-anchors.md §1.3 (YouTube help)"
    ),
    "9:16": CoverSpec(
        1080, 1920, None, ("jpeg", "webp"), "9:16", "platforms-and-anchors.md §1.3 (Reel cover)"
    ),
}

# Reels safe zone (§1.4), as fractions of the height (top, bottom) and width (sides).
REELS_TOP = Fraction(14, 100)
REELS_BOTTOM = Fraction(35, 100)
REELS_SIDES = Fraction(6, 100)
# The profile grid shows a Reel cover's centre ≈1012x1350 of 1080x1920 (§1.3): a title must
# survive that crop too, which cuts slightly more than 14% off the top.
GRID_KEEP_W = Fraction(1012, 1080)
GRID_KEEP_H = Fraction(1350, 1920)
# 16:9, 1:1 and 4:5 players draw nothing over a still (§1.4 says so for feed video): a
# modest margin so text does not touch the edge. Our choice.
PLAIN_MARGIN = Fraction(5, 100)


def safe_margins(aspect: str, width: int, height: int) -> tuple[int, int, int, int]:
    """Pixels (top, right, bottom, left) a cover's text must keep clear of, rounded outward."""
    if aspect == "9:16":
        grid_x = (1 - GRID_KEEP_W) / 2
        grid_y = (1 - GRID_KEEP_H) / 2
        top = max(REELS_TOP, grid_y) * height
        bottom = max(REELS_BOTTOM, grid_y) * height
        side = max(REELS_SIDES, grid_x) * width
        return math.ceil(top), math.ceil(side), math.ceil(bottom), math.ceil(side)
    if aspect in ("16:9", "1:1", "4:5"):
        x, y = math.ceil(PLAIN_MARGIN * width), math.ceil(PLAIN_MARGIN * height)
        return y, x, y, x
    raise ValueError(f"no safe margins for aspect {aspect!r} (known: 16:9, 1:1, 4:5, 9:16)")


# --- reading a frame ----------------------------------------------------------------------------


def grab_frame(source: str | Path, src_t: float, *, label: str | None = None) -> Image.Image:
    """The frame nearest to source time ``src_t`` (seconds from the start of the file, the
    clock cuts use), full size, RGB, as a viewer sees it: square pixels and upright.

    Raises ``SourceError`` naming the file (``label``, if given, instead of the path) and the
    time if it cannot be read there.
    """
    name = label or str(source)
    path = Path(source)
    if not path.is_file():
        raise SourceError(name, f"cannot grab a frame at {src_t:.3f} s: file does not exist")
    if not math.isfinite(src_t) or src_t < 0:
        raise ValueError(f"source time must be a finite number >= 0, not {src_t}")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise SourceError(
            name, f"cannot be opened to grab a frame at {src_t:.3f} s ({_reason(exc)})"
        ) from exc
    with container:
        if not container.streams.video:
            raise SourceError(name, f"has no video stream to grab a frame at {src_t:.3f} s from")
        stream = container.streams.video[0]
        try:
            frame = _nearest_frame(container, stream, src_t)
        except av.FFmpegError as exc:
            raise SourceError(name, f"cannot be decoded at {src_t:.3f} s ({_reason(exc)})") from exc
        if frame is None:
            raise SourceError(name, f"has no frame near {src_t:.3f} s")
        return _display_picture(frame, stream)


# Between two wanted times closer than this, decoding forward is cheaper than a seek (which
# decodes from the keyframe before the time anyway; GOPs are rarely longer than 4 s).
FORWARD_S = 4.0


def grab_frames(
    source: str | Path, times: Sequence[float], *, label: str | None = None
) -> dict[float, Image.Image]:
    """``grab_frame`` for many times in one pass over the file: times in order, decoding
    forward between near ones and seeking only across gaps. Keys are the times asked for."""
    name = label or str(source)
    wanted = sorted(set(times))
    if not wanted:
        return {}
    if not Path(source).is_file():
        raise SourceError(name, "cannot grab frames: file does not exist")
    bad = [t for t in wanted if not math.isfinite(t) or t < 0]
    if bad:
        raise ValueError(f"source times must be finite numbers >= 0, not {bad[0]}")
    try:
        container = av.open(str(source))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise SourceError(name, f"cannot be opened to grab frames ({_reason(exc)})") from exc
    out: dict[float, Image.Image] = {}
    with container:
        if not container.streams.video:
            raise SourceError(name, "has no video stream to grab frames from")
        stream = container.streams.video[0]
        start = container.start_time / 1e6 if container.start_time is not None else 0.0
        fps = float(_fraction(stream.average_rate, Fraction(0))) or 25.0
        lead = _video_lead(stream, start)
        frames: Iterator[av.VideoFrame] | None = None
        prev: av.VideoFrame | None = None  # last frame at or before the wanted time
        ahead: av.VideoFrame | None = None  # first frame after it
        for asked in wanted:
            t = max(asked, lead)
            try:
                ahead_t = (
                    ahead.time - start if ahead is not None and ahead.time is not None else None
                )
                if frames is None or ahead_t is None or t - ahead_t > FORWARD_S:
                    _seek_before(container, start, t, fresh=frames is None)
                    frames = (f for f in container.decode(stream) if f.time is not None)
                    prev, ahead = None, None
                while ahead is None or float(ahead.time) - start <= t:
                    if ahead is not None:
                        prev = ahead
                    ahead = next(frames, None)
                    if ahead is None:
                        break
            except av.FFmpegError as exc:
                raise SourceError(name, f"cannot be decoded at {t:.3f} s ({_reason(exc)})") from exc
            # ties go to the earlier frame: the one on screen at ``t``
            options = [f for f in (prev, ahead) if f is not None]
            best = min(options, key=lambda f: abs(float(f.time) - start - t), default=None)
            if best is None or abs(float(best.time) - start - t) > 2 / fps:
                raise SourceError(name, f"has no frame near {t:.3f} s")
            out[asked] = _display_picture(best, stream)
    return out


# A seek this far before the wanted time: MP4 and MKV seeks land on the keyframe before the
# target, but MPEG-PS/TS seeks land on any frame and the decoder then drops everything up to
# the next keyframe, which can be past the target (pipeline.graph's SEEK_PREROLL, measured on
# a 12-frame-GOP .mpg). Near the start there is no seek at all.
SEEK_PREROLL_S = 1.0


def _seek_before(
    container: av.container.InputContainer, start: float, t: float, fresh: bool = True
) -> None:
    """Position the demuxer to decode forward to ``t``. A container just opened is at its
    start, and near the start it stays there: a seek to before the first video packet fails
    in some files (CREMA-D's FLV starts its video at 27 ms)."""
    if t <= 2 * SEEK_PREROLL_S:
        if not fresh:
            container.seek(0, backward=True, any_frame=False)
        return
    container.seek(int((start + t - SEEK_PREROLL_S) * av.time_base), backward=True, any_frame=False)


def _video_lead(stream: av.video.stream.VideoStream, start: float) -> float:
    """Seconds the video starts after the file does (after its audio, say). Before that the
    render shows the first frame (``pipeline.graph``'s fps filter), so stills do too."""
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return max(0.0, float(stream.start_time * stream.time_base) - start)


def _nearest_frame(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, t: float
) -> av.VideoFrame | None:
    start = container.start_time / 1e6 if container.start_time is not None else 0.0
    fps = float(_fraction(stream.average_rate, Fraction(0))) or 25.0
    t = max(t, _video_lead(stream, start))
    _seek_before(container, start, t)
    best: av.VideoFrame | None = None
    best_gap = math.inf
    for frame in container.decode(stream):
        if frame.time is None:
            continue
        gap = abs(frame.time - start - t)
        # Ties go to the earlier frame: the one on screen at ``t``.
        if gap < best_gap:
            best, best_gap = frame, gap
        elif frame.time - start > t:
            break
    # Past the end (or in a hole of the file): the nearest frame is not the picture at ``t``.
    return best if best_gap <= 2 / fps else None


# pipeline.colour's matrix names as swscale's (PyAV's) colourspaces.
_SWS_MATRIX = {
    "bt709": Colorspace.ITU709,
    "bt601": Colorspace.ITU601,
    "fcc": Colorspace.FCC,
    "smpte240m": Colorspace.SMPTE240M,
    "bt2020": Colorspace.BT2020,
}


def _display_picture(frame: av.VideoFrame, stream: Any) -> Image.Image:
    """The frame as the video shows it (``pipeline.graph``): BT.709 RGB, HDR tone-mapped."""
    sar = _fraction(stream.sample_aspect_ratio, Fraction(1))
    # analyze's geometry, so that stills and crop windows agree on the display size.
    g = _geometry(frame, stream, sar, 64)
    coded_w, coded_h = g.coded(g.display)
    cc = stream.codec_context
    trc = frame.color_trc if frame.color_trc in HDR_TRANSFERS else cc.color_trc
    hdr = HDR_TRANSFERS.get(int(trc or 0), "")
    tag = frame.colorspace if frame.colorspace != UNSPECIFIED else cc.colorspace
    matrix = source_matrix(int(tag or UNSPECIFIED), frame.width, frame.height, bool(hdr))
    converted = frame.reformat(
        width=coded_w,
        height=coded_h,
        # 16 bits into the tone map: PQ and HLG code shadows in a few 8-bit steps
        format="rgb48le" if hdr else "rgb24",
        interpolation="LANCZOS",
        # The matrix the render converts from (pipeline.colour.source_matrix): PyAV would
        # read every untagged frame as BT.601, HD ones too.
        src_colorspace=_SWS_MATRIX[matrix],
        # Full-range phone footage tagged as such would otherwise be read as limited range.
        src_color_range=frame.color_range or cc.color_range or None,
    ).to_ndarray()
    rgb: np.ndarray = converted
    if hdr:
        rgb = np.round(hdr_to_sdr(converted, hdr) * 255).astype(np.uint8)
    if g.quarter:
        rgb = np.rot90(rgb, g.quarter)
    return Image.fromarray(np.ascontiguousarray(rgb))


# --- framing ------------------------------------------------------------------------------------

# pipeline/aspect.py's blur-pad, so that a cover of a padded moment looks like the video: the
# background is cover-scaled to 1/8 of the output, box-blurred twice (boxblur's luma_power=2)
# with a radius capped at 8, and scaled up bilinearly. The video does not darken the
# background, so neither does the still.
PAD_SHRINK = 8
PAD_MAX_RADIUS = 8
PAD_PASSES = 2


def compose(
    frame: Image.Image,
    size: tuple[int, int],
    window: tuple[int, int, int, int] | None,
    pad: bool = False,
) -> Image.Image:
    """The output's picture of ``frame``: the crop ``window`` (x, y, w, h in display pixels,
    as ``framing.crop_at`` gives it) scaled to ``size``; or, with ``pad`` (or no window), the
    whole frame fitted inside ``size`` over a blurred copy of itself."""
    out_w, out_h = size
    if out_w < 2 or out_h < 2:
        raise ValueError(f"output size must be at least 2x2, not {out_w}x{out_h}")
    frame = frame.convert("RGB")
    if pad or window is None:
        return _padded(frame, size)
    x, y, w, h = window
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > frame.width or y + h > frame.height:
        raise ValueError(
            f"crop window {window} is not inside the {frame.width}x{frame.height} frame"
        )
    return frame.resize(size, Image.Resampling.LANCZOS, box=(x, y, x + w, y + h))


def _padded(frame: Image.Image, size: tuple[int, int]) -> Image.Image:
    out_w, out_h = size
    small_w = max(2, out_w // PAD_SHRINK // 2 * 2)
    small_h = max(2, out_h // PAD_SHRINK // 2 * 2)
    radius = max(0, min(PAD_MAX_RADIUS, min(small_w, small_h) // 4 - 1))
    cover = max(small_w / frame.width, small_h / frame.height)
    cw = max(small_w, math.ceil(frame.width * cover))
    ch = max(small_h, math.ceil(frame.height * cover))
    bg = frame.resize((cw, ch), Image.Resampling.BICUBIC)
    left, top = (cw - small_w) // 2, (ch - small_h) // 2
    bg = bg.crop((left, top, left + small_w, top + small_h))
    for _ in range(PAD_PASSES):
        bg = bg.filter(ImageFilter.BoxBlur(radius))
    bg = bg.resize(size, Image.Resampling.BILINEAR)
    fit = min(out_w / frame.width, out_h / frame.height)
    # even sizes, as the video's scale filter makes them (force_divisible_by=2)
    fw = max(2, min(out_w, round(frame.width * fit)) // 2 * 2)
    fh = max(2, min(out_h, round(frame.height * fit)) // 2 * 2)
    bg.paste(
        frame.resize((fw, fh), Image.Resampling.LANCZOS), ((out_w - fw) // 2, (out_h - fh) // 2)
    )
    return bg


# --- writing ------------------------------------------------------------------------------------

JPEG_QUALITY = 88
WEBP_QUALITY = 85  # our choice: WebP at 85 looks like JPEG at 88 in a smaller file
WEBP_METHOD = 6  # slowest, smallest; a still is encoded once
# Lowered one step at a time until a file fits ``max_bytes``; below the last step the
# picture shows blocks, so it is an error instead. Our choice.
QUALITY_STEP = 6
MIN_QUALITY = 40

_SUFFIX = {"jpeg": ".jpg", "webp": ".webp"}
_CONTENT_TYPE = {"jpeg": "image/jpeg", "webp": "image/webp"}


@dataclass(frozen=True)
class WrittenImage:
    path: Path
    width: int
    height: int
    bytes: int
    content_type: str  # image/jpeg or image/webp


@lru_cache(maxsize=1)
def _srgb_icc() -> bytes:
    # LittleCMS's built-in sRGB: a few hundred bytes that tell colour-managed viewers what
    # the numbers mean, and no machine path or software name.
    return bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())


def _clean_rgb(image: Image.Image) -> Image.Image:
    """A copy with no ``info``: Pillow writes an image's JPEG comment (and may carry EXIF or
    XMP) from ``info``, which could name the machine's files."""
    return Image.fromarray(np.asarray(image.convert("RGB")))


def _encode(image: Image.Image, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt == "jpeg":
        image.save(
            buf,
            format="JPEG",
            quality=quality,
            progressive=True,
            optimize=True,
            icc_profile=_srgb_icc(),
        )
    else:
        image.save(buf, format="WEBP", quality=quality, method=WEBP_METHOD, icc_profile=_srgb_icc())
    return buf.getvalue()


def _within(image: Image.Image, fmt: str, max_bytes: int | None, what: str) -> bytes:
    quality = JPEG_QUALITY if fmt == "jpeg" else WEBP_QUALITY
    while True:
        data = _encode(image, fmt, quality)
        if max_bytes is None or len(data) < max_bytes:
            return data
        if quality <= MIN_QUALITY:
            raise StillError(
                f"{what}: still {len(data)} bytes at {fmt.upper()} quality {quality}, "
                f"not under the limit of {max_bytes} bytes"
            )
        quality = max(MIN_QUALITY, quality - QUALITY_STEP)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Hidden and unique in the same folder: os.replace within one file system is atomic, so
    # the final name only ever holds a whole file, and parallel writers never collide.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_images(
    image: Image.Image,
    base: Path,
    formats: Sequence[str] = ("jpeg", "webp"),
    max_bytes: int | None = None,
) -> list[WrittenImage]:
    """Write ``image`` as ``base.with_suffix(".jpg")`` and/or ``".webp"``, each under
    ``max_bytes`` when given (quality lowered stepwise; ``StillError`` if it cannot be).

    Every format is encoded before any file is written, so a failure writes nothing.
    """
    unknown = [f for f in formats if f not in _SUFFIX]
    if unknown or not formats:
        raise ValueError(f"formats must be some of {', '.join(_SUFFIX)}, not {list(formats)}")
    clean = _clean_rgb(image)
    encoded = [
        (base.with_suffix(_SUFFIX[f]), f, _within(clean, f, max_bytes, base.name)) for f in formats
    ]
    written = []
    for path, fmt, data in encoded:
        _atomic_write(path, data)
        written.append(WrittenImage(path, clean.width, clean.height, len(data), _CONTENT_TYPE[fmt]))
    return written


# --- title band ---------------------------------------------------------------------------------

TITLE_SIZE = Fraction(6, 100)  # of the short side; our choice, readable at 240 px wide
AREA_SIZE = Fraction(65, 100)  # of the title size
MIN_TITLE_PX = 12
LINE_PITCH = Fraction(12, 10)  # of the font size
BAND_PAD = Fraction(45, 100)  # of the title size, around the text inside the band
BAND_ALPHA = 220  # of 255: the picture shows through a little; our choice
MAX_TITLE_LINES = 3


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_file()), size)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """Greedy word wrap by measured width; a word wider than a line is broken."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        trial = f"{line} {word}" if line else word
        if font.getlength(trial) <= width:
            line = trial
            continue
        if line:
            lines.append(line)
        while font.getlength(word) > width and len(word) > 1:
            cut = max(
                1, next(k for k in range(len(word), 0, -1) if font.getlength(word[:k]) <= width)
            )
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    return lines


@dataclass(frozen=True)
class _Block:
    lines: list[tuple[str, ImageFont.FreeTypeFont, int]]  # text, font, y of its ascender
    ink: tuple[int, int, int, int]  # union of the lines' ink boxes, relative to the origin
    pad: int


def _block(title: str, area: str | None, title_px: int, width: int) -> _Block | None:
    pad = math.ceil(title_px * BAND_PAD)
    inner = width - 2 * pad
    if inner <= 0:
        return None
    title_font = _font(title_px)
    area_font = _font(max(MIN_TITLE_PX, round(title_px * AREA_SIZE)))
    title_lines = _wrap(title, title_font, inner)
    if len(title_lines) > MAX_TITLE_LINES:
        return None
    parts = [(t, title_font) for t in title_lines]
    if area:
        parts += [(t, area_font) for t in _wrap(area, area_font, inner)]
    lines: list[tuple[str, ImageFont.FreeTypeFont, int]] = []
    boxes: list[tuple[int, int, int, int]] = []
    y = 0
    for text, font in parts:
        lines.append((text, font, y))
        bx0, by0, bx1, by1 = font.getbbox(text, anchor="la")
        boxes.append((math.floor(bx0), math.floor(by0) + y, math.ceil(bx1), math.ceil(by1) + y))
        y += round(font.size * LINE_PITCH)
    ink = (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    if ink[2] - ink[0] > inner:
        return None
    return _Block(lines, ink, pad)


def title_overlay(
    image: Image.Image,
    title: str,
    *,
    area: str | None,
    primary: str,
    secondary: str,
    safe: tuple[int, int, int, int],
) -> Image.Image:
    """A copy of ``image`` with the title (and area) in ``secondary`` on a translucent band
    of ``primary``, at the top of the safe area: every changed pixel lies inside ``safe``
    (top, right, bottom, left margins in pixels). The top, because YouTube's duration badge
    covers the bottom right and Reels' caption and buttons the bottom 35%.

    The font shrinks until the text fits; ``StillError`` if it cannot fit at all.
    """
    top, right, bottom, left = safe
    box_w = image.width - left - right
    box_h = image.height - top - bottom
    if box_w <= 0 or box_h <= 0:
        raise ValueError(
            f"safe margins {safe} leave nothing of a {image.width}x{image.height} image"
        )
    band_rgb = ImageColor.getrgb(primary)[:3]
    text_rgb = ImageColor.getrgb(secondary)[:3]
    title_px = max(MIN_TITLE_PX, round(TITLE_SIZE * min(image.size)))
    while True:
        block = _block(" ".join(title.split()), area, title_px, box_w)
        if block is not None and block.ink[3] - block.ink[1] + 2 * block.pad <= box_h:
            break
        if title_px <= MIN_TITLE_PX:
            raise StillError(
                f"title {title!r} does not fit the {box_w}x{box_h} safe area even at "
                f"{MIN_TITLE_PX} px"
            )
        title_px -= 1
    x0, y0, _, y1 = block.ink
    band = (left, top, left + box_w, top + (y1 - y0) + 2 * block.pad)
    # Text origin chosen so that the ink's box sits ``pad`` inside the band.
    ox, oy = left + block.pad - x0, top + block.pad - y0
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    draw.rectangle((band[0], band[1], band[2] - 1, band[3] - 1), fill=(*band_rgb, BAND_ALPHA))
    for text, font, dy in block.lines:
        draw.text((ox, oy + dy), text, font=font, fill=(*text_rgb, 255), anchor="la")
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


# --- contact sheet ------------------------------------------------------------------------------

SHEET_MARGIN = 16
SHEET_GAP = 14
HIGHLIGHT_BORDER = 4  # drawn in the gap around a winner, so the picture stays whole
LABEL_PX = 15
LABEL_H = 24
SHEET_BACKGROUND = (24, 24, 24)
SHEET_TEXT = (230, 230, 230)
HIGHLIGHT = (255, 196, 0)  # amber: unlike preview.py's red shot border and green faces


@dataclass(frozen=True)
class SheetLayout:
    """Where each tile goes; the tests read positions back from here."""

    tiles: int
    columns: int
    tile: tuple[int, int]  # the widest cell: tile width, and the tallest row's height
    rows: tuple[int, ...] = ()  # each row's cell height: its tallest tile

    @property
    def size(self) -> tuple[int, int]:
        w = 2 * SHEET_MARGIN + self.columns * self.tile[0] + (self.columns - 1) * SHEET_GAP
        h = 2 * SHEET_MARGIN + sum(r + LABEL_H for r in self.rows)
        return w, h + (len(self.rows) - 1) * SHEET_GAP

    def row_height(self, i: int) -> int:
        return self.rows[i // self.columns]

    def origin(self, i: int) -> tuple[int, int]:
        row, col = divmod(i, self.columns)
        above = sum(r + LABEL_H + SHEET_GAP for r in self.rows[:row])
        return SHEET_MARGIN + col * (self.tile[0] + SHEET_GAP), SHEET_MARGIN + above


def sheet_layout(
    sizes: Sequence[tuple[int, int]], columns: int = 4, tile_width: int = 320
) -> SheetLayout:
    """Cells as wide as ``tile_width``; each row as tall as its tallest tile scaled to that
    width, so a row of 16:9 stills does not take the height of a row of 9:16 ones."""
    if columns < 1 or tile_width < 2:
        raise ValueError(f"need columns >= 1 and tile_width >= 2, not {columns} and {tile_width}")
    heights = [round(tile_width * h / w) for w, h in sizes] or [tile_width]
    cols = min(columns, max(1, len(sizes)))
    rows = tuple(max(heights[k : k + cols]) for k in range(0, len(heights), cols))
    return SheetLayout(len(sizes), cols, (tile_width, max(rows)), rows)


def _fit_label(text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    """``text``, cut short with an ellipsis if it is wider than ``width``."""
    if font.getlength(text) <= width:
        return text
    for k in range(len(text) - 1, 0, -1):
        if font.getlength(text[:k] + "…") <= width:
            return text[:k] + "…"
    return "…"


def contact_sheet(
    tiles: Sequence[tuple[Image.Image, str, bool]],
    path: Path,
    columns: int = 4,
    tile_width: int = 320,
) -> WrittenImage:
    """A JPEG review sheet of candidate stills: each tile (picture, label, highlighted) in a
    grid, winners framed in ``HIGHLIGHT``. Written atomically to ``path``."""
    if not tiles:
        raise ValueError("a contact sheet needs at least one tile")
    layout = sheet_layout([im.size for im, _, _ in tiles], columns, tile_width)
    sheet = Image.new("RGB", layout.size, SHEET_BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = _font(LABEL_PX)
    cw = layout.tile[0]
    for i, (picture, label, highlighted) in enumerate(tiles):
        x, y = layout.origin(i)
        ch = layout.row_height(i)
        th = max(1, min(ch, round(tile_width * picture.height / picture.width)))
        px, py = x, y + (ch - th) // 2
        sheet.paste(picture.convert("RGB").resize((cw, th), Image.Resampling.LANCZOS), (px, py))
        if highlighted:
            b = HIGHLIGHT_BORDER
            draw.rectangle(
                (px - b, py - b, px + cw + b - 1, py + th + b - 1), outline=HIGHLIGHT, width=b
            )
        draw.text(
            (x, y + ch + (LABEL_H - LABEL_PX) // 2),
            _fit_label(label, font, cw),
            font=font,
            fill=SHEET_TEXT,
        )
    data = _within(_clean_rgb(sheet), "jpeg", None, path.name)
    _atomic_write(path, data)
    return WrittenImage(path, sheet.width, sheet.height, len(data), _CONTENT_TYPE["jpeg"])
