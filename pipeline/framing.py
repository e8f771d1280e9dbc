"""Where each output's picture comes from in the source: the crop window over time.

A crop path is a tuple of windows, each valid from its ``start`` (output time). A window
either holds until the next one starts (and the crop jumps there: a hard cut at a shot
change) or glides to the next one's position in a straight line. ``reframe`` makes paths
from the source analysis; the crop filter follows them through per-frame expressions of
``t``, so a moving crop costs no Python per frame; thumbnails read them with ``crop_at``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class CropWindow:
    """A crop rectangle in display pixels of the source, valid from ``start`` (output time)
    until the next window starts."""

    start: Fraction
    x: int
    y: int
    w: int
    h: int
    glide: bool = False  # move linearly to the next window's position, arriving at its start


def _even(v: float | Fraction) -> int:
    return max(2, int(v) // 2 * 2)


def crop_size(src_w: int, src_h: int, out_w: int, out_h: int) -> tuple[int, int]:
    """Largest even-sized rectangle of the output's shape that fits in the source."""
    target = Fraction(out_w, out_h)
    if Fraction(src_w, src_h) > target:
        h = _even(src_h)
        w = _even(src_h * target)
    else:
        w = _even(src_w)
        h = _even(src_w / target)
    return min(w, _even(src_w)), min(h, _even(src_h))


def fixed_window(
    src_w: int, src_h: int, out_w: int, out_h: int, focus_x: float, focus_y: float
) -> CropWindow:
    """The window of the output's shape centred on the focus point, pushed inside the frame."""
    w, h = crop_size(src_w, src_h, out_w, out_h)
    x = round(focus_x * src_w - w / 2)
    y = round(focus_y * src_h - h / 2)
    x = min(max(0, x), src_w - w)
    y = min(max(0, y), src_h - h)
    return CropWindow(Fraction(0), x, y, w, h)


_GROUP = 32
# Hard jumps switch this long before their frame's timestamp: frames are at least 1/120 s
# apart, and a float ``t`` may land a hair either side of the exact start time.
_EARLY = 0.001


def position_expr(windows: tuple[CropWindow, ...], axis: str) -> str:
    """FFmpeg expression for the crop's x or y as a function of output time ``t``.

    A sum of one term per change (a step for a jump, a clipped ramp for a glide), not a
    nested ``if`` chain: a tracking shot has hundreds of knots, and FFmpeg's expression
    parser refuses deep nesting as it refuses long flat sums; grouped sums are neither.
    """
    values = [getattr(w, axis) for w in windows]
    if len(set(values)) == 1:
        return str(values[0])
    terms = [str(values[0])]
    for prev, nxt in itertools.pairwise(windows):
        delta = getattr(nxt, axis) - getattr(prev, axis)
        if delta == 0:
            continue
        if prev.glide:
            a, b = float(prev.start), float(nxt.start)
            # min/max, not clip: the crop filter also evaluates this once at setup with t
            # NaN, where clip() stays NaN and fails the filter; max(NaN, 0) is 0
            terms.append(f"{delta}*min(max((t-{a:.6f})/{b - a:.6f},0),1)")
        else:
            terms.append(f"{delta}*gte(t,{float(nxt.start) - _EARLY:.6f})")
    # FFmpeg's parser refuses a sum of more than about 95 terms at one level: group them
    # in parentheses, 32 to a group, as deep as needed
    while len(terms) > _GROUP:
        terms = ["(" + "+".join(terms[k : k + _GROUP]) + ")" for k in range(0, len(terms), _GROUP)]
    return "+".join(terms).replace("+-", "-")


def crop_at(windows: tuple[CropWindow, ...], t: Fraction | float) -> tuple[int, int, int, int]:
    """The crop rectangle (x, y, w, h) at output time ``t``, as the crop filter computes it
    (while gliding, float rounding can put the two a pixel apart)."""
    current = windows[0]
    following: CropWindow | None = None
    for i, win in enumerate(windows):
        if float(win.start) - _EARLY <= float(t):
            current = win
            following = windows[i + 1] if i + 1 < len(windows) else None
    if current.glide and following is not None:
        a, b = float(current.start), float(following.start)
        k = min(max((float(t) - a) / (b - a), 0.0), 1.0)
        x = current.x + (following.x - current.x) * k
        y = current.y + (following.y - current.y) * k
        return int(x), int(y), current.w, current.h
    return current.x, current.y, current.w, current.h
