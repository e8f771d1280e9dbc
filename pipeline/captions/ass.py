"""Burned-in captions: an ASS script for libass, and the FFmpeg filter that draws it.

The script is written for libass (FFmpeg's ``ass`` filter), not VSFilter: the escapes
below are libass's. Caption text is data, never markup:

- ``{`` and ``}`` become ``\\{`` and ``\\}``, which libass draws as braces, so text can
  never open an override block (``{\\pos(0,0)}`` shows as typed).
- Outside override blocks a backslash is special only before ``N``, ``n`` and ``h`` (line
  break, space, hard space) and the braces. Before ``N``/``n``/``h`` we put U+FEFF (zero
  width, and in the caption font, so no fallback font is looked up) between the two, so
  ``\\N`` in text shows as a backslash and an N. A backslash before an escaped brace is
  already safe: libass reads ``\\\\{`` as a backslash, then ``\\{``.
- Line breaks inside a line, tabs and other control characters become spaces or go:
  a Dialogue is one line of the file.

Speakers: the first line of a speaker's cue starts ``Name:`` in yellow (BBC's colour for
a speaker label), then the text in white, as the SRT sidecar writes "Name: ". Sound cues
keep their brackets, as read. The label counts towards the line's length: the reflow step
should leave room for it.

Safe area: a cue whose widest line (measured with the font's advance widths) or whose
line count does not fit the caption area is shrunk with ``\\fscx``/``\\fscy`` until it
does, so no text, however long its words, leaves the area the layout allows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

from pipeline.captions.fonts import text_width
from pipeline.captions.layout import CaptionStyle
from pipeline.captions.model import Cue

STYLE_NAME = "Caption"
ZERO_WIDTH = "\ufeff"

# ASS colours are &HAABBGGRR, alpha 00 = opaque.
WHITE = "&H00FFFFFF"
BLACK = "&H00000000"
BOX = "&H40000000"  # black at 75% opacity: legible on white, lets the picture show through
# \c takes &HBBGGRR&. Back to white by colour, not by \r, which would undo a \fscx too.
YELLOW_TAG = "{\\c&H00FFFF&}"
WHITE_TAG = "{\\c&HFFFFFF&}"

# Fitting aims this far inside the measured room: the estimate ignores kerning and the
# fallback fonts' real widths.
FIT_SLACK = 0.97

_BREAKS = re.compile(r"[\r\n\t\v\f\x85\u2028\u2029]")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _clean(text: str) -> str:
    return _CONTROLS.sub("", _BREAKS.sub(" ", text))


def escape_text(text: str) -> str:
    """``text`` as literal ASS Dialogue text for libass (see the module docstring)."""
    text = _clean(text)
    out: list[str] = []
    for i, ch in enumerate(text):
        if ch in "{}":
            out.append("\\" + ch)
        elif ch == "\\" and text[i + 1 : i + 2] in ("N", "n", "h"):
            out.append("\\" + ZERO_WIDTH)
        else:
            out.append(ch)
    return "".join(out)


def ass_time(t: Fraction) -> str:
    """``h:mm:ss.cc``, the centisecond ASS time to write for cue time ``t``.

    FFmpeg's ass filter hands libass each frame's time truncated to whole milliseconds, so
    a frame exactly at a cue's start can arrive a millisecond early. Writing each time a
    millisecond early and then flooring to the centisecond puts it strictly between the
    previous frame and this one, for any frame rate below 83 fps when cue times lie on the
    frame grid: the cue covers exactly the frames it did.
    """
    cs = max(0, math.floor((t - Fraction(1, 1000)) * 100))
    h, rest = divmod(cs, 360_000)
    m, rest = divmod(rest, 6_000)
    s, c = divmod(rest, 100)
    return f"{h}:{m:02d}:{s:02d}.{c:02d}"


def fit_percent(lines: Sequence[str], style: CaptionStyle, width: int, height: int) -> int:
    """How far (in percent) to shrink a cue so every line fits between the side margins
    and all its lines between the top and bottom ones.

    100 for any cue the reflow step made to ``max_chars`` and ``max_lines``. Shrinking, not
    wrapping, is the fallback: libass cannot wrap a word wider than the line (a URL, a
    hashtag), and wrapping adds lines that would climb out of the top of the band.
    """
    if not lines:
        return 100
    pad = style.pad_px
    room_w = (width - style.margin_left - style.margin_right - 2 * pad) * FIT_SLACK
    room_h = height - style.margin_top - style.margin_bottom - 2 * pad
    widest = max(text_width(line, style.font_px) for line in lines)
    scale = min(1.0, room_w / widest if widest else 1.0, room_h / (len(lines) * style.font_px))
    return max(1, math.floor(scale * 100))


def cue_text(cue: Cue, style: CaptionStyle, width: int, height: int) -> str:
    """The Dialogue text of one cue: escaped lines joined by our own ``\\N``, the speaker's
    label in front, shrunk to fit the caption area if it has to be."""
    shown = [line for line in (_clean(line).strip() for line in cue.lines) if line]
    lines = [escape_text(line) for line in shown]
    speaker = _clean(cue.speaker or "").strip()
    if speaker:
        label = f"{speaker}: "
        shown[:1] = [label + (shown[0] if shown else "")]
        first = lines[0] if lines else ""
        lines[:1] = [f"{YELLOW_TAG}{escape_text(speaker)}:{WHITE_TAG} {first}".rstrip()]
    fit = fit_percent(shown, style, width, height)
    scale = f"{{\\fscx{fit}\\fscy{fit}}}" if fit < 100 else ""
    return scale + "\\N".join(lines)


def _style_line(style: CaptionStyle, font_name: str) -> str:
    pad = style.pad_px
    border = (3, pad, 0, BOX, BOX) if style.box else (1, pad, 0, BLACK, BLACK)
    border_style, outline, shadow, outline_colour, back_colour = border
    fields = [
        STYLE_NAME,
        font_name,
        style.font_px,
        WHITE,
        WHITE,
        outline_colour,
        back_colour,
        0,  # bold: the weight comes with the family (Semibold), not synthesised
        0,
        0,
        0,
        100,
        100,
        0,
        0,
        border_style,
        outline,
        shadow,
        2,  # bottom centre, between MarginL and MarginR
        # Margins place the glyphs; the box or outline reaches ``pad`` further out.
        style.margin_left + pad,
        style.margin_right + pad,
        style.margin_bottom + pad,
        1,
    ]
    return "Style: " + ",".join(str(f) for f in fields)


def to_ass(
    cues: Iterable[Cue], style: CaptionStyle, width: int, height: int, font_name: str
) -> str:
    """The ASS script that draws ``cues`` on a ``width`` x ``height`` output."""
    if any(c in font_name for c in ",\r\n") or not font_name.strip():
        raise ValueError(f"font name {font_name!r} cannot go in an ASS style line")
    head = [
        "[Script Info]",
        "; Burned-in captions written by the pipeline; drawn by libass",
        "ScriptType: v4.00+",
        # Script coordinates are output pixels, so the style's numbers mean what they say.
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        # 0: our \N breaks stay; cue_text shrinks any line too wide for the margins, so
        # libass's own wrapping is only a backstop.
        "WrapStyle: 0",
        "ScaledBorderAndShadow: yes",
        "YCbCr Matrix: None",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
        "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
        "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
        _style_line(style, font_name),
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    events = [
        f"Dialogue: 0,{ass_time(c.start)},{ass_time(c.end)},{STYLE_NAME},,0,0,0,,"
        + cue_text(c, style, width, height)
        for c in sorted(cues, key=lambda c: c.start)
    ]
    return "\n".join([*head, *events, ""])


def burn_filter(stream: Any, ass_path: str, fonts_dir: str) -> Any:
    """``stream`` with the captions in ``ass_path`` drawn on it, in fonts from ``fonts_dir``.

    The ``ass`` filter, not ``subtitles``: it hands the path straight to libass, where
    ``subtitles`` opens it through libavformat and reads ``name:`` as a protocol. Paths go
    as keyword options: ffmpeg-python escapes a keyword's value once for the option parser
    (``\\ ' = :``) and again for the graph parser (``\\ ' [ ] , ;``), which FFmpeg undoes in
    turn; it escapes positional values twice over, which FFmpeg would not undo.
    """
    for what, path in (("caption file", ass_path), ("fonts folder", fonts_dir)):
        # FFmpeg trims unescaped whitespace around option values and ffmpeg-python has no
        # way to escape it, so such a path would silently name another file.
        if path != path.strip() or _BREAKS.search(path):
            raise ValueError(
                f"{what} path {path!r} starts or ends with whitespace or holds a line break"
            )
    return stream.filter("ass", filename=ass_path, fontsdir=fonts_dir)
