"""Stills: frames read in display geometry, framed like the video, written whole or not at
all, titled inside the safe zone, and laid out on a review sheet."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline import stills
from pipeline.errors import SourceError
from pipeline.framing import CropWindow, crop_at
from pipeline.stills import (
    COVERS,
    HIGHLIGHT,
    SHEET_BACKGROUND,
    StillError,
    compose,
    contact_sheet,
    grab_frame,
    safe_margins,
    sheet_layout,
    title_overlay,
    write_images,
)
from tests.clips import run_ffmpeg
from tests.render_checks import make_geometry_clip, make_number_clip, read_number, red_box


def _rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB")).astype(int)


def _close(pixel: np.ndarray, want: tuple[int, int, int], tol: int = 12) -> bool:
    return all(abs(int(p) - w) <= tol for p, w in zip(pixel, want, strict=True))


def _noise(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


# --- grab_frame ---------------------------------------------------------------------------------


def test_grab_frame_returns_the_nearest_frame(tmp_path: Path) -> None:
    clip = make_number_clip(tmp_path / "numbers.mp4", duration=3.0)  # frame n shows n, 25 fps
    # Keyframes every 12 frames: 0.475 s is nearest frame 12 (a keyframe after the time),
    # 0.519 s nearest frame 13 (mid-GOP, after the time), 2.03 s nearest 51, not 50.
    cases = {0.0: 0, 0.475: 12, 0.5: 12, 0.519: 13, 1.0: 25, 2.01: 50, 2.03: 51, 2.96: 74}
    got = {}
    for t in cases:
        picture = grab_frame(clip, t)
        assert picture.mode == "RGB" and picture.size == (320, 180)
        got[t] = read_number(np.asarray(picture.convert("L")))
    assert got == cases
    with pytest.raises(SourceError, match=r"numbers\.mp4: has no frame near 3\.500 s"):
        grab_frame(clip, 3.5)


def test_grab_frames_reads_many_times_in_one_pass_with_the_same_answers(tmp_path: Path) -> None:
    clip = make_number_clip(tmp_path / "numbers.mp4", duration=8.0)  # frame n shows n, 25 fps
    # out of order and repeated; neighbours decoded forward, the 5 s gap sought across
    times = [2.03, 0.0, 0.475, 0.519, 0.5, 1.0, 7.5, 2.01, 0.519]
    pictures = stills.grab_frames(clip, times)
    assert sorted(pictures) == sorted(set(times))
    got = {t: read_number(np.asarray(p.convert("L"))) for t, p in pictures.items()}
    assert got == {0.0: 0, 0.475: 12, 0.5: 12, 0.519: 13, 1.0: 25, 2.01: 50, 2.03: 51, 7.5: 187}
    with pytest.raises(SourceError, match=r"numbers\.mp4: has no frame near 8\.500 s"):
        stills.grab_frames(clip, [1.0, 8.5])


def test_grab_frame_colour_changes_at_the_right_time(tmp_path: Path) -> None:
    clip = tmp_path / "red-then-blue.mp4"
    # fmt: off
    run_ffmpeg(
        "-f", "lavfi", "-i", "color=c=0xFF0000:s=160x90:r=25:d=2",
        "-vf", "drawbox=x=0:y=0:w=160:h=90:color=0x0000FF:t=fill:enable='gte(t,1)'",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p", str(clip),
    )
    # fmt: on
    colours = {t: _rgb(grab_frame(clip, t))[45, 80] for t in (0.2, 0.97, 0.99, 1.5)}
    assert _close(colours[0.2], (255, 0, 0), 20), colours[0.2]
    assert _close(colours[0.97], (255, 0, 0), 20), colours[0.97]  # frame 24 is nearer
    assert _close(colours[0.99], (0, 0, 255), 20), colours[0.99]  # frame 25 is nearer
    assert _close(colours[1.5], (0, 0, 255), 20), colours[1.5]


@pytest.mark.parametrize(
    ("coded", "box", "sar", "rotate"),
    [
        ((320, 180), (20, 30, 60, 40), (1, 1), 90),
        ((720, 576), (585, 200, 45, 64), (64, 45), 0),
    ],
    ids=["rotated", "anamorphic"],
)
def test_grab_frame_is_in_display_geometry(
    tmp_path: Path,
    coded: tuple[int, int],
    box: tuple[int, int, int, int],
    sar: tuple[int, int],
    rotate: int,
) -> None:
    m = make_geometry_clip(tmp_path / "g.mp4", coded=coded, box=box, sar=sar, rotate=rotate)
    picture = grab_frame(m.path, 0.4)
    assert picture.size == m.display
    got = red_box(_rgb(picture))
    assert got is not None
    assert all(abs(g - w) <= 2 for g, w in zip(got, m.box, strict=True)), (got, m.box)


def test_grab_frame_names_the_file_and_time(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.mp4"
    with pytest.raises(SourceError) as info:
        grab_frame(missing, 1.5)
    assert "nowhere.mp4" in str(info.value) and "1.500 s" in str(info.value)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(SourceError) as info:
        grab_frame(junk, 2.25, label="media/junk.mp4")
    assert str(info.value).startswith("media/junk.mp4:") and "2.250 s" in str(info.value)


# --- compose ------------------------------------------------------------------------------------


def _marker_frame() -> Image.Image:
    frame = Image.new("RGB", (640, 360), (128, 128, 128))
    frame.paste((255, 0, 0), (400, 100, 440, 140))
    return frame


def test_compose_crops_the_window_and_scales_it() -> None:
    windows = (CropWindow(Fraction(0), 0, 0, 200, 200), CropWindow(Fraction(1), 320, 40, 200, 200))
    window = crop_at(windows, 1.5)
    picture = compose(_marker_frame(), (400, 400), window)
    assert picture.size == (400, 400)
    # (400 - 320) * 2, (100 - 40) * 2, 40 * 2, 40 * 2
    got = red_box(_rgb(picture))
    assert got is not None
    assert all(abs(g - w) <= 2 for g, w in zip(got, (160, 120, 80, 80), strict=True)), got
    # the first window holds no marker at all
    assert red_box(_rgb(compose(_marker_frame(), (400, 400), crop_at(windows, 0.5)))) is None
    with pytest.raises(ValueError, match="not inside"):
        compose(_marker_frame(), (400, 400), (500, 0, 200, 200))


def test_compose_pad_keeps_the_whole_frame_over_a_blur() -> None:
    frame = _noise(640, 360)
    picture = compose(frame, (360, 640), None, pad=True)
    assert picture.size == (360, 640)
    px = _rgb(picture)
    row_std = px.std(axis=(1, 2))
    # The noise survives only where the frame itself is: 360 wide at 16:9 is 202 rows.
    content = np.flatnonzero(row_std > 15)
    assert content.size == 202 and content[-1] - content[0] == 201, content
    assert abs(int(content[0]) - (640 - 202) // 2) <= 1
    borders = np.concatenate([px[: content[0]], px[content[-1] + 1 :]])
    assert borders.mean() > 80  # the blurred copy, not black bars
    assert borders.std() < 5  # blurred: the noise (std 74) is gone
    # same with a window given: pad wins
    assert np.array_equal(_rgb(compose(frame, (360, 640), (0, 0, 100, 100), pad=True)), px)


# --- write_images -------------------------------------------------------------------------------


def test_write_images_writes_both_formats_without_metadata(tmp_path: Path) -> None:
    source = tmp_path / "in.jpg"
    # A picture that carries a comment naming a machine path must not pass it on.
    _noise(320, 180).save(source, comment=b"/home/someone/secret/footage.mov")
    with Image.open(source) as loaded:
        assert loaded.info.get("comment")
        written = write_images(loaded, tmp_path / "out" / "cover")
    assert [w.content_type for w in written] == ["image/jpeg", "image/webp"]
    assert [w.path.name for w in written] == ["cover.jpg", "cover.webp"]
    for w in written:
        assert w.path.stat().st_size == w.bytes and (w.width, w.height) == (320, 180)
        with Image.open(w.path) as im:
            assert im.size == (320, 180)
            assert "comment" not in im.info and "exif" not in im.info
            assert im.info.get("icc_profile")  # tagged sRGB
            if w.content_type == "image/jpeg":
                assert im.info.get("progressive") and im.format == "JPEG"
            else:
                assert im.format == "WEBP"
    assert b"/home/" not in (tmp_path / "out" / "cover.jpg").read_bytes()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["cover.jpg", "cover.webp"]


def test_write_images_lowers_quality_to_fit_max_bytes(tmp_path: Path) -> None:
    noisy = _noise(1280, 720)
    limit = 500_000
    assert len(stills._encode(noisy, "jpeg", stills.JPEG_QUALITY)) > limit
    (jpeg,) = write_images(noisy, tmp_path / "thumb", formats=("jpeg",), max_bytes=limit)
    assert jpeg.bytes < limit and jpeg.path.stat().st_size == jpeg.bytes
    assert (jpeg.width, jpeg.height) == (1280, 720)
    # The YouTube spec as data: a plain picture is far under its limit at full quality.
    yt = COVERS["youtube"]
    (cover,) = write_images(
        compose(noisy.resize((64, 36)), (yt.width, yt.height), None, pad=True),
        tmp_path / "youtube",
        yt.formats,
        yt.max_bytes,
    )
    assert cover.bytes < 2_000_000 and cover.path.suffix == ".jpg"
    with pytest.raises(StillError, match="not under the limit of 1000 bytes"):
        write_images(noisy, tmp_path / "tiny", max_bytes=1000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thumb.jpg", "youtube.jpg"]


def test_write_images_failure_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(stills.os, "fsync", broken)
    with pytest.raises(OSError, match="disk full"):
        write_images(_noise(64, 36), tmp_path / "new")
    assert list(tmp_path.iterdir()) == []
    # An earlier good file stays as it was.
    old = tmp_path / "kept.jpg"
    old.write_bytes(b"old")
    with pytest.raises(OSError, match="disk full"):
        write_images(_noise(64, 36), tmp_path / "kept", formats=("jpeg",))
    assert old.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["kept.jpg"]


# --- title_overlay ------------------------------------------------------------------------------


def test_safe_margins_follow_the_reference() -> None:
    # Reels: bottom 35% (672), sides 6% (65); the top 14% (269) grows to the profile grid's
    # crop of the centre 1350 rows (285).
    assert safe_margins("9:16", 1080, 1920) == (285, 65, 672, 65)
    assert safe_margins("16:9", 1280, 720) == (36, 64, 36, 64)
    with pytest.raises(ValueError, match="3:2"):
        safe_margins("3:2", 300, 200)


@pytest.mark.parametrize(
    ("aspect", "size", "title", "area"),
    [
        (
            "9:16",
            (1080, 1920),
            "Youth outreach walks in Bristol with volunteers",
            "Avon and Somerset",
        ),
        ("16:9", (1280, 720), "Cleveland café: Ŵales-style Ýouth pågès", None),
        ("1:1", (400, 400), "Supercalifragilisticexpialidociousnessless " * 2, "North Wales"),
    ],
    ids=["reels", "youtube", "long-word"],
)
def test_title_overlay_stays_inside_the_safe_margins(
    aspect: str, size: tuple[int, int], title: str, area: str | None
) -> None:
    base = _noise(*size, seed=3)
    safe = safe_margins(aspect, *size)
    titled = title_overlay(
        base, title, area=area, primary="#1D3C78", secondary="#FFFFFF", safe=safe
    )
    assert titled.size == base.size and titled.mode == "RGB"
    changed = np.any(_rgb(titled) != _rgb(base), axis=2)
    ys, xs = np.nonzero(changed)
    assert ys.size > 0
    top, right, bottom, left = safe
    assert xs.min() >= left and xs.max() < size[0] - right, (xs.min(), xs.max(), safe)
    assert ys.min() >= top and ys.max() < size[1] - bottom, (ys.min(), ys.max(), safe)
    # white text on the band: some pure white pixels (noise is rarely pure white)
    white = np.all(_rgb(titled) >= 250, axis=2) & changed
    assert white.sum() > 50


def test_title_that_cannot_fit_is_an_error() -> None:
    with pytest.raises(StillError, match="does not fit"):
        title_overlay(
            _noise(200, 100),
            "A title far too long " * 20,
            area=None,
            primary="#000000",
            secondary="#FFFFFF",
            safe=(40, 10, 40, 10),
        )


# --- contact_sheet ------------------------------------------------------------------------------


def test_contact_sheet_size_and_highlight(tmp_path: Path) -> None:
    colours = [(200, 40, 40), (40, 200, 40), (40, 40, 200), (200, 200, 40), (40, 200, 200)]
    tiles = [
        (Image.new("RGB", (160, 90), c), f"00:0{i}.50 score 0.{80 + i}", i == 1)
        for i, c in enumerate(colours)
    ]
    path = tmp_path / "sheets" / "case.jpg"
    written = contact_sheet(tiles, path)
    m, g, label = stills.SHEET_MARGIN, stills.SHEET_GAP, stills.LABEL_H
    want = (2 * m + 4 * 320 + 3 * g, 2 * m + 2 * (180 + label) + g)
    assert (written.width, written.height) == want
    assert written.content_type == "image/jpeg" and written.bytes == path.stat().st_size
    with Image.open(path) as im:
        assert im.size == want and im.format == "JPEG"
        px = _rgb(im)
    layout = sheet_layout([t[0].size for t in tiles])
    b = stills.HIGHLIGHT_BORDER
    for i, (_, _, highlighted) in enumerate(tiles):
        x, y = layout.origin(i)
        assert _close(px[y + 90, x + 160], colours[i]), i  # the picture itself, whole
        edge = px[y + 90, x - b // 2 - 1], px[y - b // 2 - 1, x + 160]
        want_edge = HIGHLIGHT if highlighted else SHEET_BACKGROUND
        assert all(_close(e, want_edge, 30) for e in edge), (i, edge)
    assert [p.name for p in path.parent.iterdir()] == ["case.jpg"]


def test_contact_sheet_rows_take_the_height_of_their_own_tiles(tmp_path: Path) -> None:
    wide = [(Image.new("RGB", (160, 90), (200, 40, 40)), "16:9", False)] * 4
    tall = [(Image.new("RGB", (90, 160), (40, 40, 200)), "9:16", False)] * 4
    written = contact_sheet([*wide, *tall], tmp_path / "mixed.jpg")
    m, g, label = stills.SHEET_MARGIN, stills.SHEET_GAP, stills.LABEL_H
    assert written.height == 2 * m + (180 + label) + (569 + label) + g
