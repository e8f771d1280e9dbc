"""End cards: safe areas from the cited platform numbers, a content-named cache that is never
left half-written, the card's pixels inside the safe area on the brand colour, and the card
joined to a cut in the render's one FFmpeg pass with the cut's sound faded out before it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

import pipeline.endcard as endcard
from pipeline.endcard import (
    EndCardError,
    card_path,
    card_size,
    ensure_card,
    logo_sha256,
    safe_margins,
)
from pipeline.ffmpeg_run import ffmpeg_exe, run
from pipeline.graph import build_argv
from pipeline.jobs import EndCard
from pipeline.loudness import levels_for
from pipeline.probe import inspect_output
from pipeline.render import STATE_DIR
from pipeline.verify import verify_output
from tests.clips import make_clip
from tests.render_checks import audio_samples, frames, plan_cut

REPO = Path(__file__).resolve().parents[1]
LOGO = REPO / "manifests" / "brand" / "logo.png"
PRIMARY = (0x1D, 0x3C, 0x78)


def make_card(aspect: str = "9:16", logo: Path = LOGO, **changes: object) -> EndCard:
    w, h = card_size(aspect)
    card = EndCard(
        aspect=aspect,
        width=w,
        height=h,
        seconds=Fraction(2),
        title="Youth outreach walks in Bristol",
        area="Avon and Somerset",
        hashtag="#PCCsPreventingCrime",
        primary_colour="#1D3C78",
        secondary_colour="#FFFFFF",
        logo=str(logo),
        logo_sha256=logo_sha256(logo),
        safe=safe_margins(aspect, w, h),
        audio_fade=Fraction(1, 2),
    )
    return replace(card, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The 9:16 and 16:9 cards, rendered once for the session."""
    cache = tmp_path_factory.mktemp("endcards")
    return {a: ensure_card(make_card(a), cache) for a in ("9:16", "16:9")}


def test_card_sizes_put_1080_on_the_short_side() -> None:
    assert card_size("16:9") == (1920, 1080)
    assert card_size("1:1") == (1080, 1080)
    assert card_size("4:5") == (1080, 1350)
    assert card_size("9:16") == (1080, 1920)
    with pytest.raises(ValueError, match="3:2"):
        card_size("3:2")


def test_safe_margins_match_the_cited_numbers() -> None:
    # Reels: 14% top, 35% bottom, 6% sides (the reference's 269 / 672 / 65 px on 1080x1920),
    # the right side doubled for the icon rail
    assert safe_margins("9:16", 1080, 1920) == (269, 130, 672, 65)
    # feed players: 10% top and bottom; BBC widths 68% (16:9) and 90% (square-ish)
    assert safe_margins("16:9", 1920, 1080) == (108, 308, 108, 308)
    assert safe_margins("1:1", 1080, 1080) == (108, 54, 108, 54)
    assert safe_margins("4:5", 1080, 1350) == (135, 54, 135, 54)
    # scale with the frame: the same shares at 720p
    assert safe_margins("9:16", 720, 1280) == (180, 87, 448, 44)


def test_card_path_changes_with_every_field_and_the_logo(tmp_path: Path) -> None:
    base = make_card()
    first = card_path(tmp_path, base)
    assert card_path(tmp_path, make_card()) == first
    other: dict[str, object] = {
        "aspect": "4:5",
        "width": 1082,
        "height": 1922,
        "seconds": Fraction(3),
        "title": "Another title",
        "area": "Northumbria",
        "hashtag": "#Other",
        "primary_colour": "#000000",
        "secondary_colour": "#FFFF00",
        "safe": (1, 2, 3, 4),
        "audio_fade": Fraction(1),
    }
    left = {f.name for f in dataclasses.fields(EndCard)} - set(other)
    assert left == {"logo", "logo_sha256"}, "a new EndCard field needs a case here"
    for name, value in other.items():
        assert card_path(tmp_path, replace(base, **{name: value})) != first, name  # type: ignore[arg-type]

    # the logo's bytes count, its location does not
    moved = tmp_path / "elsewhere.png"
    moved.write_bytes(LOGO.read_bytes())
    assert card_path(tmp_path, make_card(logo=moved)) == first
    with Image.open(LOGO) as img:
        changed = img.copy()
    changed.putpixel((0, 0), (255, 255, 255, 255))
    changed.save(moved)
    assert card_path(tmp_path, make_card(logo=moved)) != first
    # a logo edited after planning no longer matches the plan's hash
    with pytest.raises(EndCardError, match=r"elsewhere\.png.*plan again"):
        card_path(tmp_path, replace(base, logo=str(moved)))


def test_bad_logo_or_colour_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-logo.png"
    with pytest.raises(EndCardError, match=r"no-such-logo\.png"):
        ensure_card(replace(make_card(), logo=str(missing), logo_sha256=""), tmp_path)
    garbage = tmp_path / "garbage.png"
    garbage.write_text("not a picture")
    with pytest.raises(EndCardError, match=r"garbage\.png.*not a readable image"):
        ensure_card(make_card(logo=garbage), tmp_path / "cache")
    with pytest.raises(EndCardError, match=r"primary_colour.*'blue'"):
        ensure_card(make_card(primary_colour="blue"), tmp_path / "cache")
    with pytest.raises(EndCardError, match=r"secondary_colour.*'#FFF'"):
        ensure_card(make_card(secondary_colour="#FFF"), tmp_path / "cache")
    # nothing is rendered, or cached, for a card that cannot be made
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_ensure_card_is_cached(rendered: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    path = rendered["9:16"]
    before = path.stat().st_mtime_ns

    def fail(card: EndCard, target: Path) -> None:
        raise AssertionError("rendered again")

    monkeypatch.setattr(endcard, "_compose", fail)
    assert ensure_card(make_card("9:16"), path.parent) == path
    assert path.stat().st_mtime_ns == before


def test_a_failed_render_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MoviePy dies part-way through writing: neither the cached name nor the temporary
    file is left behind, and the next call renders from scratch."""
    from moviepy.video.io.ffmpeg_writer import FFMPEG_VideoWriter

    real = FFMPEG_VideoWriter.write_frame
    written = []

    def write_some(self: FFMPEG_VideoWriter, img: np.ndarray) -> None:
        if len(written) == 10:
            raise RuntimeError("disk full")
        written.append(1)
        real(self, img)

    monkeypatch.setattr(FFMPEG_VideoWriter, "write_frame", write_some)
    card = make_card("1:1", seconds=Fraction(1))
    with pytest.raises(RuntimeError, match="disk full"):
        ensure_card(card, tmp_path)
    assert written, "the failure came before anything was written"
    assert list(tmp_path.iterdir()) == []


def _last_frame(path: Path) -> np.ndarray:
    *_, last = frames(path, "rgb24")
    return last


@pytest.mark.parametrize("aspect", ["9:16", "16:9"])
def test_card_pixels_stay_inside_the_safe_area(rendered: dict[str, Path], aspect: str) -> None:
    path = rendered[aspect]
    card = make_card(aspect)
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == card_size(aspect)
        assert v.codec_context.pix_fmt == "yuv420p"
        assert not c.streams.audio
    all_frames = list(frames(path, "rgb24"))
    assert len(all_frames) == 60  # 2 s at 30 fps
    assert all_frames[0].mean() < 8, "the card fades in from black"
    rgb = _last_frame(path).astype(int)
    h, w, _ = rgb.shape
    bg = np.median(rgb.reshape(-1, 3), axis=0)
    assert np.abs(bg - PRIMARY).max() <= 3, f"background {bg}, want {PRIMARY}"
    ink = np.abs(rgb - np.array(PRIMARY)).max(axis=2) > 24
    assert ink.sum() > 0.01 * w * h, "no text or logo drawn"
    ys, xs = np.nonzero(ink)
    top, right, bottom, left = card.safe
    assert ys.min() >= top and ys.max() < h - bottom, (ys.min(), ys.max(), card.safe)
    assert xs.min() >= left and xs.max() < w - right, (xs.min(), xs.max(), card.safe)
    # text and logo both there: ink in the logo's band and in the text's, with a gap between
    rows = np.flatnonzero(ink.any(axis=1))
    assert (np.diff(rows) > 10).sum() >= 2, "expected logo, title and lines below as bands"


def test_output_with_card_joins_it_with_the_sound_faded_out(
    project: Callable[..., Path], tmp_path: Path, rendered: dict[str, Path]
) -> None:
    source = make_clip(tmp_path / "src.mp4", duration=4.0)
    job, out_dir = plan_cut(
        project,
        source,
        [[0.5, 3.5]],
        [
            {"platform": "x", "cut": "main", "aspects": ["9:16", "16:9"]},
            {"platform": "reels", "cut": "main", "aspects": ["9:16"]},
        ],
    )
    outs = []
    for out in job.outputs:
        card = make_card(out.aspect)
        content = out.content_duration
        if out.aspect == "16:9":
            # as ``fit: trim`` plans it: the cut's end cut off, the card after what is left
            content -= Fraction(2, 5)
        outs.append(replace(out, end_card=card, duration=content + card.seconds))
    job = replace(job, outputs=tuple(outs))
    targets = [out_dir / o.path for o in outs]
    for t in targets:
        t.parent.mkdir(parents=True, exist_ok=True)
    # both 9:16 outputs take the same card file, so one input feeds two chains
    cards = [str(rendered[o.aspect]) for o in outs]
    # loudness normalised as render_cut does it, so the fade and the card's silence are
    # checked after loudnorm's resampling too
    levels = levels_for(job, tuple(outs), out_dir / STATE_DIR, ffmpeg_exe(), tmp_path / "p1.log")
    loudness = [lv.graph_options() for lv in levels]
    argv = build_argv(
        job, outs, [str(t) for t in targets], ffmpeg_exe(), cards=cards, loudness=loudness
    )
    run(argv, "end card test", tmp_path / "ffmpeg.log")

    for out, path in zip(outs, targets, strict=True):
        assert out.end_card is not None
        checked = verify_output(out, out_dir)
        assert checked.passed, checked.failures
        facts = inspect_output(path)
        content = round(out.content_duration * out.fps)
        card_n = round(out.end_card.seconds * out.fps)
        assert facts.frames == content + card_n, path.name
        assert abs(facts.duration - out.duration) <= 1 / out.fps, path.name

        pictures = list(frames(path, "rgb24"))
        assert len(pictures) == content + card_n
        assert pictures[content - 1].mean() > 40, "the cut runs up to the card"
        assert pictures[content].mean() < 20, "the card starts, from black, right after it"
        for rgb in pictures[-round(out.fps) :]:  # the last second
            colour = np.median(rgb.reshape(-1, 3), axis=0)
            assert np.abs(colour - PRIMARY).max() <= 6, (path.name, colour)

        rate, samples, first = audio_samples(path)
        assert abs(first) < 1e-3
        assert abs(samples.shape[1] - out.duration * rate) <= 1024, "audio as long as video"
        end = int(out.content_duration * rate)
        fade = int(out.end_card.audio_fade * rate)

        def rms(a: int, b: int, s: np.ndarray = samples) -> float:
            return float(np.sqrt(np.mean(np.square(s[:, a:b]))))

        body = rms(rate // 10, end - fade)
        assert body > 0.03, "the cut's sound is there"
        assert rms(end - fade // 5, end) < body / 3, "and fades out before the card"
        assert rms(end + rate // 20, samples.shape[1]) < 1e-3, "the card is silent"
