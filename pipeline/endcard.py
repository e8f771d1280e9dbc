"""The branded end card: logo, case-study title, PCC area and campaign hashtag on the brand
colour, a few seconds long, for the end of every social output.

Composed with MoviePy once per case study and aspect ratio, at 1080 px on the short side, and
cached by content; ``pipeline.graph`` scales it to each output and joins it to the cut in the
cut's one FFmpeg process. MoviePy renders only these few seconds of a still picture: its
slowness and leaked-subprocess history (shared/reference/platforms-and-anchors.md, fact 10 and
§3) rule it out for anything full-length.

Safe areas, from shared/reference/platforms-and-anchors.md (the same numbers as burned-in
captions, ``pipeline/captions/layout.py``):

- 9:16: Meta Reels' "unified" safe zone (§1.4, fact 1), the tightest vertical surface: no text
  in the top 14%, the bottom 35% or the outer 6% at the sides; the right margin doubled to 12%
  for the like/comment/share rail Reels and Shorts draw there (§1.4, design rule). YouTube
  Shorts (~150 px top, ~25% bottom) and Stories (14% / 20%) fall inside it.
- 16:9: no overlay UI in feed players (§1.4); 10% clear at the bottom for web players'
  control bars, as for captions, and the same at the top (our choice, for balance), and
  BBC's 68%-of-width text region (§4.1) at the sides.
- 1:1 and 4:5: BBC's 90% width for square-ish frames (§4.1), so 5% at the sides, which also
  covers Instagram's profile grid cropping 4:5 to 3:4 (§1.1: 1080 -> ~1012 px wide, 3.1% a
  side); top and bottom as for 16:9.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # imported where a card is drawn: planning needs only its size and safe margins
    import numpy as np
    from PIL import Image, ImageFont

from pipeline.captions.fonts import font_file
from pipeline.errors import PipelineError
from pipeline.jobs import EndCard, to_jsonable

# Part of every card's file name: bump it whenever the layout or the encode changes, so
# cached cards from an older pipeline are never joined to new outputs.
ENDCARD_VERSION = "1"

FPS = 30
FADE_IN = 0.3  # seconds from black: the cut's last frame does not jump straight to a flat colour

# Short side of the card canvas: the largest output short side any profile has (1080p), so
# outputs only ever scale the card down.
SHORT_SIDE = 1080

# Safe margins as fractions of the frame (top, right, bottom, left); see the module docstring.
SAFE: dict[str, tuple[Fraction, Fraction, Fraction, Fraction]] = {
    "16:9": (Fraction(10, 100), Fraction(16, 100), Fraction(10, 100), Fraction(16, 100)),
    "1:1": (Fraction(10, 100), Fraction(5, 100), Fraction(10, 100), Fraction(5, 100)),
    "4:5": (Fraction(10, 100), Fraction(5, 100), Fraction(10, 100), Fraction(5, 100)),
    "9:16": (Fraction(14, 100), Fraction(12, 100), Fraction(35, 100), Fraction(6, 100)),
}

# Sizes as fractions of the card's short side (our choice). The title starts a little above
# a caption line (8%, captions/layout.py) and is what gives way first.
TITLE_MAX = Fraction(10, 100)
TITLE_MIN = Fraction(45, 1000)
TITLE_LINES = 3
AREA_PX = Fraction(50, 1000)
HASHTAG_PX = Fraction(55, 1000)
LOGO_SHARE = Fraction(30, 100)  # of the safe box's height
GAP = Fraction(4, 100)  # between logo, title and the two lines under it
# Kept inside the safe box: H.264 rings a few pixels around sharp white-on-colour edges, and
# the ringing is ink too as far as a platform's overlay is concerned.
INSET = Fraction(1, 100)

_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")


class EndCardError(PipelineError):
    """An end card cannot be made: names the file or setting and what is wrong with it."""

    def __init__(self, what: str, reason: str):
        self.what = what
        self.reason = reason
        super().__init__(what, reason)

    def __str__(self) -> str:
        return f"{self.what}: {self.reason}"


def _ratio(aspect: str) -> tuple[int, int]:
    if aspect not in SAFE:
        raise ValueError(f"no end card layout for aspect {aspect!r} (known: {', '.join(SAFE)})")
    w, _, h = aspect.partition(":")
    return int(w), int(h)


def card_size(aspect: str) -> tuple[int, int]:
    """The card canvas for ``aspect``: 1080 on the short side (1920x1080 ... 1080x1920)."""
    w, h = _ratio(aspect)
    if w >= h:
        return SHORT_SIDE * w // h, SHORT_SIDE
    return SHORT_SIDE, SHORT_SIDE * h // w


def safe_margins(aspect: str, width: int, height: int) -> tuple[int, int, int, int]:
    """(top, right, bottom, left) in pixels that text and logo keep clear of on a
    ``width`` x ``height`` frame of ``aspect``; rounded up, as a keep-out distance."""
    _ratio(aspect)
    top, right, bottom, left = SAFE[aspect]
    return (
        math.ceil(top * height),
        math.ceil(right * width),
        math.ceil(bottom * height),
        math.ceil(left * width),
    )


def logo_sha256(path: str | Path) -> str:
    """Content hash of the logo file, for the plan's ``EndCard.logo_sha256``."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise EndCardError(str(path), f"cannot read the end card logo: {exc.strerror}") from None


def card_path(cache_dir: Path, card: EndCard) -> Path:
    """Where the card for ``card`` is cached: named by a hash of every field that shapes its
    pixels, the logo file's own bytes and ``ENDCARD_VERSION``.

    The logo's path is left out (its bytes are in): a project checked out elsewhere, or run
    in another folder, keeps its cache. An empty ``logo`` (the campaign has none) makes a
    card without one.
    """
    actual = logo_sha256(card.logo) if card.logo else ""
    if card.logo_sha256 and card.logo_sha256 != actual:
        # The output's key was made from the planned hash; joining a card made from other
        # bytes would leave an output whose key no longer describes it.
        raise EndCardError(card.logo, "the logo changed since the plan was made: plan again")
    fields = {k: v for k, v in to_jsonable(card).items() if k != "logo"}
    body = json.dumps([ENDCARD_VERSION, actual, fields], sort_keys=True)
    digest = hashlib.sha256(body.encode()).hexdigest()[:24]
    return cache_dir / f"endcard-{card.aspect.replace(':', 'x')}-{digest}.mp4"


def ensure_card(card: EndCard, cache_dir: Path) -> Path:
    """The card's video file, rendered on first use: ``card.seconds`` at 30 fps, H.264
    yuv420p, no audio (the render graph supplies the silence)."""
    path = card_path(cache_dir, card)
    if path.is_file():
        return path
    _check(card)
    cache_dir.mkdir(parents=True, exist_ok=True)
    # A private name in the same folder, renamed when complete: parallel renders of the same
    # card never see half a file, and a crash leaves nothing at the cached name. The suffix
    # stays .mp4 because FFmpeg picks the container from it.
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.partial.mp4")
    try:
        _compose(card, tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def card_frames(card: EndCard, fps: Fraction) -> int:
    """Whole frames the card lasts at ``fps``: the same rounding as the graph's trim."""
    return round(card.seconds * fps)


def _rgb(colour: str, what: str) -> tuple[int, int, int]:
    if not isinstance(colour, str) or not _COLOUR.fullmatch(colour):
        raise EndCardError(what, f"colour {colour!r} is not of the form #RRGGBB")
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _check(card: EndCard) -> None:
    _rgb(card.primary_colour, "end card primary_colour")
    _rgb(card.secondary_colour, "end card secondary_colour")
    if card.width <= 0 or card.height <= 0 or card.width % 2 or card.height % 2:
        # libx264's 4:2:0 needs even sizes
        raise EndCardError("end card", f"size {card.width}x{card.height} is not positive and even")
    if card.seconds <= 0:
        raise EndCardError("end card", f"length {card.seconds} s is not positive")


def _load_logo(path: str) -> Image.Image:
    """The logo as RGBA, cropped to its visible pixels so layout and safe area are about the
    mark itself, not the transparent border around it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            rgba = img.convert("RGBA")
    except FileNotFoundError:
        raise EndCardError(path, "end card logo not found") from None
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise EndCardError(path, f"end card logo is not a readable image: {exc}") from None
    box = rgba.getchannel("A").getbbox()
    if box is None:
        raise EndCardError(path, "end card logo is fully transparent")
    return rgba.crop(box)


@dataclass(frozen=True)
class _Layer:
    image: np.ndarray  # RGBA, cropped to its ink
    x: int
    y: int


def _ink(lines: list[str], font: ImageFont.FreeTypeFont, colour: tuple[int, int, int]) -> Any:
    """``lines`` centred under each other, as an RGBA image cropped exactly to the ink, so
    the layout places what is drawn, not font metrics' idea of it."""
    from PIL import Image, ImageDraw

    ascent, descent = font.getmetrics()
    step = round((ascent + descent) * 0.92)
    width = max(math.ceil(font.getlength(line)) for line in lines) + 2 * step
    img = Image.new("RGBA", (width, step * (len(lines) + 1)), (*colour, 0))
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text(
            (width / 2, step / 2 + i * step), line, font=font, fill=(*colour, 255), anchor="ma"
        )
    box = img.getchannel("A").getbbox()
    return img.crop(box) if box else img.crop((0, 0, 1, 1))


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str] | None:
    """Word wrap to ``width`` pixels in as few lines as fit, then as even as those lines
    allow (no one-word last line under a long one); None when one word alone is wider."""
    lines = _greedy(text, font, width)
    if lines is None or len(lines) < 2:
        return lines
    lo, hi = 0.0, float(width)
    while hi - lo > 1:
        mid = (lo + hi) / 2
        tried = _greedy(text, font, mid)
        if tried is not None and len(tried) <= len(lines):
            hi = mid
        else:
            lo = mid
    return _greedy(text, font, hi)


def _greedy(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str] | None:
    lines: list[str] = []
    for word in text.split():
        if font.getlength(word) > width:
            return None
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def _layout(card: EndCard) -> list[_Layer]:
    """Logo, title, area and hashtag stacked and centred in the safe box: the title as large
    as fits (up to three lines), everything shrunk together only if even its smallest size
    does not."""
    import numpy as np
    from PIL import Image, ImageFont

    top, right, bottom, left = card.safe
    short = min(card.width, card.height)
    inset = math.ceil(INSET * short)
    x0, y0 = left + inset, top + inset
    box_w = card.width - right - inset - x0
    box_h = card.height - bottom - inset - y0
    if box_w <= 0 or box_h <= 0:
        raise EndCardError("end card", f"safe margins {card.safe} leave no room")
    colour = _rgb(card.secondary_colour, "end card secondary_colour")
    logo = _load_logo(card.logo) if card.logo else None
    path = str(font_file())
    title = " ".join(card.title.split())
    for scale in (1.0, 0.85, 0.7, 0.55, 0.4):
        gap = round(GAP * short * scale)
        area = _ink([card.area], ImageFont.truetype(path, round(AREA_PX * short * scale)), colour)
        tag = _ink(
            [card.hashtag], ImageFont.truetype(path, round(HASHTAG_PX * short * scale)), colour
        )
        parts: list[np.ndarray] = []
        if logo is not None:
            logo_h = round(LOGO_SHARE * box_h * scale)
            logo_w = min(box_w, round(logo.width * logo_h / logo.height))
            logo_h = round(logo.height * logo_w / logo.width)
            parts.append(np.asarray(logo.resize((logo_w, logo_h), Image.Resampling.LANCZOS)))
        spacing = [gap] * len(parts) + [gap, round(gap * 0.6)]
        fixed = sum(p.shape[0] for p in parts) + area.height + tag.height + sum(spacing)
        if max(area.width, tag.width) > box_w or fixed >= box_h:
            continue
        for size in range(
            round(TITLE_MAX * short * scale), round(TITLE_MIN * short * scale) - 1, -2
        ):
            font = ImageFont.truetype(path, size)
            lines = _wrap(title, font, box_w)
            if lines is None or len(lines) > TITLE_LINES:
                continue
            head = _ink(lines, font, colour)
            if head.width > box_w or fixed + head.height > box_h:
                continue
            stack = [*parts, np.asarray(head), np.asarray(area), np.asarray(tag)]
            y = y0 + (box_h - fixed - head.height) // 2
            layers = []
            for image, after in zip(stack, [*spacing, 0], strict=True):
                x = x0 + (box_w - image.shape[1]) // 2
                layers.append(_Layer(image, x, y))
                y += image.shape[0] + after
            return layers
    raise EndCardError("end card", f"title {card.title!r} does not fit the {card.aspect} safe area")


def _compose(card: EndCard, target: Path) -> None:
    """Render the card to ``target`` with MoviePy."""
    import numpy as np
    from moviepy import CompositeVideoClip, ImageClip, vfx

    layers = _layout(card)
    frames = card_frames(card, Fraction(FPS))
    # MoviePy writes int(duration * fps) frames; half a frame more keeps float rounding from
    # losing the last one.
    duration = (frames + 0.5) / FPS
    clips = [
        ImageClip(layer.image, transparent=True, duration=duration).with_position(
            (layer.x, layer.y)
        )
        for layer in layers
    ]
    # bg_color, not a ColorClip layer: an opaque composite has no mask, so MoviePy pipes RGB
    # frames, not RGBA.
    comp = CompositeVideoClip(
        clips, size=(card.width, card.height), bg_color=_rgb(card.primary_colour, "")
    )
    still = None
    try:
        # The picture does not move, so it is composited once: MoviePy composites every layer
        # over a full-frame image for every frame (measured: 8 of the 12 s a 9:16 card took).
        still = ImageClip(np.ascontiguousarray(comp.get_frame(0)), duration=duration).with_effects(
            [vfx.FadeIn(FADE_IN)]
        )
        still.write_videofile(
            str(target),
            fps=FPS,
            codec="libx264",
            audio=False,
            preset="medium",
            # MoviePy 2.1 appends "-pix_fmt yuva420p" after these for libx264, which x264
            # lacks: FFmpeg falls back to yuv420p on its own, and the format filter makes
            # that the stated choice rather than a fallback. CRF 16: the card is encoded
            # again with the cut.
            ffmpeg_params=["-crf", "16", "-vf", "format=yuv420p"],
            logger=None,
        )
    finally:
        for clip in [still, comp, *clips]:
            if clip is not None:
                clip.close()
