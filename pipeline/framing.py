"""Where each output's picture comes from in the source: the crop window over time.

Today the window is fixed for a whole cut (centre, or the manifest's focus point). The
face-aware reframer will produce several windows per cut (one per shot, or a smooth path);
everything downstream already takes a tuple of windows and renders them with per-frame
crop expressions, so it can slot in here without touching the renderer.
"""

from __future__ import annotations

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


def position_expr(windows: tuple[CropWindow, ...], axis: str) -> str:
    """FFmpeg expression for the crop's x or y as a function of output time ``t``.

    A single window is a constant; several windows become a nested ``if(lt(t,..))`` chain
    evaluated per frame by the crop filter, so a moving crop needs no Python per frame.
    """
    values = [getattr(w, axis) for w in windows]
    if len(set(values)) == 1:
        return str(values[0])
    expr = str(values[-1])
    for win, nxt in zip(reversed(windows[:-1]), reversed(windows[1:]), strict=True):
        expr = f"if(lt(t,{float(nxt.start):.6f}),{getattr(win, axis)},{expr})"
    return expr
