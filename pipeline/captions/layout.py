"""Where burned-in captions go and how big they are, per output aspect ratio.

Numbers from shared/reference/platforms-and-anchors.md:

- BBC Subtitle Guidelines (§4.1): a line is 8% of the video height in 16:9, and about 37
  characters fill 68% of a 16:9 width while 25 fill 90% of a 9:16 width: the same letter
  size in pixels of the *short* side (1080 px in both). So the font scales with the short
  side, not the height: 8% of a 1920 px height would leave ~15 characters a line in 9:16.
- Lines: 2 for 16:9, 1:1 (and 4:5, as wide as 1:1); 3 for 9:16.
- Meta Reels safe zone (§1.4), the tightest of the 9:16 surfaces: no text in the bottom
  35%, the top 14% or the outer 6% at the sides. The right margin is doubled to clear the
  like/comment/share rail that Reels and Shorts draw at the lower right.
- 16:9, 1:1 and 4:5 have no overlay UI in feed players (§1.4): the BBC widths (68%; 90% for
  square-ish frames), 10% clear at the bottom for web players' control bars.

Every margin bounds the *ink*, box included: ``to_ass`` moves the text inward by the box's
padding. ``max_chars`` comes from exact ratios, never from rounded pixels, so one aspect
gives the same line length at every output size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

# ASS "Fontsize" is the line height (libass scales the font so its ascent plus descent equal
# it), so this is BBC's 8% line height, applied to the short side.
LINE_HEIGHT = Fraction(8, 100)

# Width of one caption character as a fraction of the line height, for the line-length
# budget. Source Sans Pro Semibold averages 0.35 line heights over English prose; 0.40 leaves
# room for capitals and wide letters, so a line of max_chars rarely needs libass to wrap it.
CHAR_WIDTH = Fraction(40, 100)

# Box padding (libass draws BorderStyle 3's box "Outline" pixels beyond the text), and the
# outline width when there is no box, both as fractions of the line height.
BOX_PAD = Fraction(12, 100)
OUTLINE = Fraction(7, 100)


@dataclass(frozen=True)
class CaptionStyle:
    """Burned-in caption geometry for one output size (all in output pixels).

    Margins are the distances from each frame edge that caption ink (text and box) must
    keep clear of. ``box`` True: white text on a translucent black box; False: white text
    with a black outline.
    """

    font_px: int
    margin_left: int
    margin_right: int
    margin_bottom: int
    margin_top: int
    max_chars: int
    max_lines: int
    box: bool

    @property
    def pad_px(self) -> int:
        """How far the box (or the outline) reaches beyond the glyphs."""
        return math.ceil(self.font_px * (BOX_PAD if self.box else OUTLINE))


@dataclass(frozen=True)
class _Region:
    """Caption band of one aspect ratio, as fractions of the frame's width and height."""

    left: Fraction
    right: Fraction
    top: Fraction
    bottom: Fraction
    lines: int


def _pct(n: int) -> Fraction:
    return Fraction(n, 100)


REGIONS: dict[str, _Region] = {
    # 68% wide, centred: BBC's 16:9 line length.
    "16:9": _Region(left=_pct(16), right=_pct(16), top=_pct(10), bottom=_pct(10), lines=2),
    # 90% wide: BBC's width for square (and 4:3) frames.
    "1:1": _Region(left=_pct(5), right=_pct(5), top=_pct(10), bottom=_pct(10), lines=2),
    "4:5": _Region(left=_pct(5), right=_pct(5), top=_pct(10), bottom=_pct(10), lines=2),
    # Reels: 6% sides (12% right, for the icon rail), top 14%, bottom 35%.
    "9:16": _Region(left=_pct(6), right=_pct(12), top=_pct(14), bottom=_pct(35), lines=3),
}


def _ratio(aspect: str) -> Fraction:
    w, _, h = aspect.partition(":")
    return Fraction(int(w), int(h))


def caption_layout(width: int, height: int, aspect: str, box: bool = True) -> CaptionStyle:
    """Caption size, margins and line budget for a ``width`` x ``height`` output of
    ``aspect`` (one of ``REGIONS``' keys)."""
    try:
        region = REGIONS[aspect]
    except KeyError:
        raise ValueError(
            f"no caption layout for aspect {aspect!r} (known: {', '.join(REGIONS)})"
        ) from None
    if width <= 0 or height <= 0:
        raise ValueError(f"caption layout needs a positive frame size, got {width}x{height}")
    # Line length from the nominal aspect, so 1280x720 and 1920x1080 agree exactly; width in
    # units of the short side: 16/9 for 16:9, 1 for 9:16.
    r = _ratio(aspect)
    wide = r / min(r, Fraction(1))
    band = wide * (1 - region.left - region.right)
    max_chars = math.floor(band / (LINE_HEIGHT * CHAR_WIDTH))
    short = min(width, height)
    return CaptionStyle(
        font_px=max(1, round(LINE_HEIGHT * short)),
        # Rounded up: a margin is a keep-out distance, never a pixel short.
        margin_left=math.ceil(region.left * width),
        margin_right=math.ceil(region.right * width),
        margin_bottom=math.ceil(region.bottom * height),
        margin_top=math.ceil(region.top * height),
        max_chars=max_chars,
        max_lines=region.lines,
        box=box,
    )
