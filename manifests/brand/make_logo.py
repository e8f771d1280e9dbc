"""Draw the campaign mark, ``logo.png``: a white shield outline with "PCC" across it, on a
transparent background, so it sits on any brand colour the end card is filled with.

    .venv/bin/python manifests/brand/make_logo.py

Drawn from scratch with Pillow and the pipeline's bundled font (no external artwork), at 4x
and scaled down, because Pillow draws polygons and lines without anti-aliasing.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from pipeline.captions.fonts import font_file

SIZE = 512
SCALE = 4  # supersampling factor
WHITE = (255, 255, 255, 255)


def _shield(s: float) -> list[tuple[float, float]]:
    """Outline points of a heater shield inside a square of side ``s``: flat top with
    shoulders, straight sides, curved flanks meeting at a point."""
    top, left, right = 0.08 * s, 0.14 * s, 0.86 * s
    pts = [(left, top + 0.06 * s), (0.5 * s, top), (right, top + 0.06 * s), (right, 0.5 * s)]
    # the flanks: quadratic curves from each side's foot to the point at the bottom
    tip = (0.5 * s, 0.94 * s)
    ctrl_r, ctrl_l = (right, 0.78 * s), (left, 0.78 * s)
    steps = 48
    for i in range(1, steps + 1):
        t = i / steps
        x = (1 - t) ** 2 * right + 2 * (1 - t) * t * ctrl_r[0] + t**2 * tip[0]
        y = (1 - t) ** 2 * (0.5 * s) + 2 * (1 - t) * t * ctrl_r[1] + t**2 * tip[1]
        pts.append((x, y))
    for i in range(1, steps + 1):
        t = i / steps
        x = (1 - t) ** 2 * tip[0] + 2 * (1 - t) * t * ctrl_l[0] + t**2 * left
        y = (1 - t) ** 2 * tip[1] + 2 * (1 - t) * t * ctrl_l[1] + t**2 * (0.5 * s)
        pts.append((x, y))
    return pts


def make_logo(path: Path) -> Path:
    s = SIZE * SCALE
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    outline = _shield(s)
    stroke = round(0.045 * s)
    draw.line([*outline, outline[0], outline[1]], fill=WHITE, width=stroke, joint="curve")
    # an inner rule under the lettering, echoing a badge's band
    draw.line([(0.3 * s, 0.64 * s), (0.7 * s, 0.64 * s)], fill=WHITE, width=round(0.02 * s))
    font = ImageFont.truetype(str(font_file()), round(0.26 * s))
    draw.text((0.5 * s, 0.47 * s), "PCC", font=font, fill=WHITE, anchor="mm")
    img = img.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    # White everywhere and the shape carried by alpha alone: resampling would otherwise
    # pull the transparent black into the edges as a dark fringe.
    alpha = img.getchannel("A")
    out = Image.new("RGBA", (SIZE, SIZE), WHITE)
    out.putalpha(alpha)
    out.save(path, optimize=True)
    return path


if __name__ == "__main__":
    make_logo(Path(__file__).with_name("logo.png"))
