"""Reframing end to end on generated footage: a red disc over moving noise, with a hard cut.

Shot 1 (0-2 s): the disc drifts a little: the window must hold still for the whole shot.
Shot 2 (2-4 s): the disc crosses most of the frame: the window must follow it, and it must
jump at the cut. In every output frame the disc must be whole (not cut by the crop).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from pipeline.framing import crop_at
from tests.clips import run_ffmpeg
from tests.render_checks import SMALL, frames, plan_cut, red_box, render_ok

W, H, FPS, R = 640, 360, 25, 20  # source size, rate, disc radius


def disc_x(t: float) -> float:
    """Disc centre x in the source at time t (seconds)."""
    return 110 + 15 * t if t < 2 else 80 + 230 * (t - 2)


DISC_Y = 180


@pytest.fixture(scope="module")
def disc_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reframe") / "disc.mp4"
    disc = (
        f"color=red:s={2 * R}x{2 * R}:r={FPS},format=rgba,"
        f"geq=r=255:g=0:b=0:a='if(lte((X-{R})^2+(Y-{R})^2,{R * R}),255,0)'"
    )
    graph = (
        f"color=0x707070:s={W}x{H}:r={FPS}:d=2,noise=c0s=30:c0f=t[bg1];"
        f"color=0x406080:s={W}x{H}:r={FPS}:d=2,noise=c0s=30:c0f=t[bg2];"
        f"{disc},split[d1][d2];"
        f"[bg1][d1]overlay=x='110+15*t-{R}':y={DISC_Y - R}:shortest=1[s1];"
        f"[bg2][d2]overlay=x='80+230*t-{R}':y={DISC_Y - R}:shortest=1[s2];"
        "[s1][s2]concat=n=2:v=1:a=0[v]"
    )
    run_ffmpeg(
        "-filter_complex",
        graph,
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:d=4:sample_rate=48000",
        "-map",
        "[v]",
        "-map",
        "0:a",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "12",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-t",
        "4",
        str(path),
    )
    return path


def test_disc_stays_whole_and_the_window_holds_then_jumps_then_follows(
    project: Callable[..., Path], disc_clip: Path
) -> None:
    job, out_dir = plan_cut(
        project,
        disc_clip,
        [[0, 4]],
        # a clean encode: at the test campaign's CRF 30 a fast red disc smears by a few pixels
        [{"platform": "x", "cut": "main", "aspects": ["9:16"], "encoder": {"crf": 16}}],
    )
    (out,) = job.outputs
    assert out.strategy == "auto"
    assert out.pad_ranges == ()
    assert Fraction(2) in out.shots, f"shot change at 2 s not found: {out.shots}"

    # shot 1: one still window; the frame before the cut and the cut frame differ
    shot1 = {crop_at(out.windows, Fraction(n, FPS))[0] for n in range(0, 2 * FPS)}
    assert len(shot1) == 1, f"window moved during a still shot: x in {sorted(shot1)}"
    before = crop_at(out.windows, Fraction(2 * FPS - 1, FPS))[0]
    at_cut = crop_at(out.windows, Fraction(2 * FPS, FPS))[0]
    assert at_cut != before, "window did not jump at the shot change"
    # shot 2: it moves, smoothly (no frame-to-frame jump bigger than the disc travels)
    xs = [crop_at(out.windows, Fraction(n, FPS))[0] for n in range(2 * FPS, 4 * FPS)]
    assert len(set(xs)) > 5, "window did not follow the disc"
    assert max(abs(b - a) for a, b in itertools.pairwise(xs)) <= 230 / FPS + 3

    (path,) = render_ok(job, out_dir)
    ow, oh = SMALL["9:16"]
    scale = oh / H
    cut_disc = []
    for n, rgb in enumerate(frames(path, "rgb24")):
        box = red_box(rgb)
        t = n / FPS
        if box is None:
            cut_disc.append((n, "missing"))
            continue
        x, _y, w, _h = box
        # whole: the same size as the disc, not clipped at the window's edge
        if w < 2 * R * scale - 3 or x <= 0 or x + w >= ow:
            cut_disc.append((n, box))
            continue
        # and where the plan's window puts it
        wx = crop_at(out.windows, Fraction(n, FPS))[0]
        expected = (disc_x(t) - wx) * scale
        assert abs((x + w / 2) - expected) <= 4, (n, x + w / 2, expected)
    assert not cut_disc, f"disc cut or missing in frames: {cut_disc[:10]}"


def test_padded_ranges_show_the_whole_picture_and_only_there(
    project: Callable[..., Path], disc_clip: Path
) -> None:
    """The render side of a padded shot: inside the range the output is the blur-pad of the
    whole picture (the disc small, at its place in the full frame); outside, the crop."""
    job, out_dir = plan_cut(
        project,
        disc_clip,
        [[0, 4]],
        [{"platform": "x", "cut": "main", "aspects": ["9:16"], "strategy": "crop"}],
    )
    (out,) = job.outputs
    padded = replace(out, pad_ranges=((Fraction(1), Fraction(2)),))
    job = replace(job, outputs=(padded,))
    (path,) = render_ok(job, out_dir)
    ow, _oh = SMALL["9:16"]
    fit = ow / W  # the whole 640x360 picture fitted to the output's width
    for n, rgb in enumerate(frames(path, "rgb24")):
        box = red_box(rgb)
        assert box is not None, n
        x, _y, w, _h = box
        small = w < 2 * R * fit + 4
        in_pad = FPS <= n < 2 * FPS
        assert small == in_pad, (n, box)
        if in_pad:
            assert abs((x + w / 2) - disc_x(n / FPS) * fit) <= 3, (n, box)
