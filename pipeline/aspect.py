"""Aspect strategies: how a picture of one shape becomes an output of another.

A small registry, so a strategy can be added by name without touching the renderer.
Each strategy maps a video stream (square pixels, the cut's frame rate) to a
stream of exactly the output's size.
"""

from __future__ import annotations

from typing import Any, Protocol

from pipeline.framing import position_expr
from pipeline.jobs import OutputJob


class AspectStrategy(Protocol):
    def __call__(self, stream: Any, out: OutputJob) -> Any: ...


def crop(stream: Any, out: OutputJob) -> Any:
    """Follow the output's crop path; blur-pad the time ranges the plan says to.

    Used for ``auto`` and ``crop``: the plan has already turned faces, shots and manifest
    overrides into the path and the padded ranges.
    """
    if not out.pad_ranges:
        return _cropped(stream, out)
    node = stream.split()
    # Both branches see every frame (overlay needs both inputs in step), but the pad
    # branch is only composited inside its ranges; its blur runs at 1/8 size, so the
    # extra cost is mostly the foreground scale.
    enable = "+".join(
        f"between(t,{float(a) - 0.001:.6f},{float(b) - 0.002:.6f})" for a, b in out.pad_ranges
    )
    return _cropped(node[0], out).overlay(pad(node[1], out), x=0, y=0, enable=enable)


def _cropped(stream: Any, out: OutputJob) -> Any:
    """Cut the output's shape out of the source along the crop path, then scale.

    Window size is fixed per output (FFmpeg's crop cannot change size mid-stream); its
    position may change over time through expressions of ``t``.
    """
    first = out.windows[0]
    stream = stream.filter(
        "crop",
        w=first.w,
        h=first.h,
        x=position_expr(out.windows, "x"),
        y=position_expr(out.windows, "y"),
        exact=1,
    )
    return stream.filter("scale", out.width, out.height, flags="lanczos")


def pad(stream: Any, out: OutputJob) -> Any:
    """Fit the whole picture inside the output, over a blurred, zoomed copy of itself.

    The blur runs at 1/8 size and is scaled up: blurring a full 1080x1920 background costs
    more than encoding it, and at that strength nobody can tell the difference.
    """
    node = stream.split()
    fg, bg = node[0], node[1]
    small_w, small_h = max(2, out.width // 8 // 2 * 2), max(2, out.height // 8 // 2 * 2)
    # boxblur refuses a radius of half the (4:2:0 chroma) plane or more: cap it for small outputs.
    radius = max(0, min(8, min(small_w, small_h) // 4 - 1))
    bg = (
        bg.filter("scale", small_w, small_h, force_original_aspect_ratio="increase")
        .filter("crop", small_w, small_h)
        .filter("boxblur", luma_radius=radius, luma_power=2)
        .filter("scale", out.width, out.height, flags="bilinear")
        .filter("setsar", 1)
    )
    fg = fg.filter(
        "scale",
        out.width,
        out.height,
        force_original_aspect_ratio="decrease",
        force_divisible_by=2,
        flags="lanczos",
    ).filter("setsar", 1)
    return bg.overlay(fg, x="(W-w)/2", y="(H-h)/2")


STRATEGIES: dict[str, AspectStrategy] = {"auto": crop, "crop": crop, "pad": pad}


def get_strategy(name: str) -> AspectStrategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise KeyError(
            f"unknown aspect strategy {name!r} (known: {', '.join(STRATEGIES)})"
        ) from None
