"""reframe-preview: output times map back to the right source frames, and the contact sheet
shows the crop windows where the plan puts them, read back from the PNG's pixels."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.build import plan_campaign
from pipeline.cli import main
from pipeline.framing import CropWindow, crop_at
from pipeline.jobs import CutJob, Encode, OutputJob, SegmentSpan
from pipeline.plan import _framing_notes
from pipeline.preview import (
    BACKGROUND,
    BORDER,
    CROP_LINE,
    SHOT_BORDER,
    SHOT_LEAD,
    choose_times,
    describe,
    output_groups,
    output_to_source_time,
    pad_reason,
    read_frames,
    sheet_layout,
    tile_size,
)
from pipeline.reframe import Framing, ShotFraming, frame_output
from pipeline.scene import Box, Sample, SourceAnalysis
from tests.clips import make_clip
from tests.conftest import CAMPAIGN
from tests.render_checks import make_geometry_clip, make_number_clip, read_number, red_box

F = Fraction


def cut(segments: list[tuple[Fraction, Fraction]], fps: Fraction) -> CutJob:
    return CutJob(
        case_id="c",
        cut="main",
        source="src.mp4",
        source_label="src.mp4",
        source_sha256="0" * 64,
        source_fps=fps,
        display_size=(1920, 1080),
        needs_square_pixels=False,
        has_audio=True,
        segments=tuple(SegmentSpan(a, b) for a, b in segments),
        fps=fps,
        outputs=(),
    )


def test_output_time_maps_through_both_segments() -> None:
    job = cut([(F(1), F(5)), (F(9), F(14))], F(25))
    assert output_to_source_time(job, 0) == 1
    assert output_to_source_time(job, F(399, 100)) == F(499, 100)
    assert output_to_source_time(job, 4) == 9  # the join's frame is the second segment's first
    assert output_to_source_time(job, F(13, 2)) == F(23, 2)
    assert output_to_source_time(job, 9) == 14  # past the end: clamped to the last segment
    with pytest.raises(ValueError):
        output_to_source_time(job, -1)


def test_segment_offsets_count_whole_frames_as_the_plan_does() -> None:
    ntsc = F(30000, 1001)
    # 2 s is 59.94 frames: the plan makes it 60, so the second segment starts at 60 frames
    job = cut([(F(0), F(2)), (F(5), F(7))], ntsc)
    join = 60 / ntsc
    assert join > 2
    assert output_to_source_time(job, 2) == 2
    assert output_to_source_time(job, join) == 5
    assert output_to_source_time(job, join + 1 / ntsc) == 5 + 1 / ntsc


def test_tiles_open_every_shot_and_stay_within_the_limit() -> None:
    job = cut([(F(1), F(5)), (F(9), F(14))], F(25))
    times = choose_times(job)
    assert 2 < len(times) <= 16
    assert [t.t for t in times] == sorted(t.t for t in times)
    lead = F(SHOT_LEAD, 25)
    assert [t.t for t in times if t.opens_shot] == [lead, 4 + lead]
    assert all(0 <= t.t < job.duration for t in times)
    many = cut([(F(k), F(k) + F(1, 5)) for k in range(30)], F(25))
    assert len(choose_times(many)) == 16


def test_tiles_show_the_exact_source_frame_across_a_join(tmp_path: Path) -> None:
    clip = make_number_clip(tmp_path / "numbers.mp4", duration=6.0)  # frame n shows n
    fps = F(25)
    job = cut([(F(13, 25), F(2)), (F(3), F(5))], fps)
    # both sides of the join, mid-GOP frames, and out of order: each is its own seek
    frames = [0, 1, 36, 37, 38, 60, 11, 40]
    times = [output_to_source_time(job, F(n, 25)) for n in frames]
    pictures = read_frames(clip, times, tile_size((320, 180)))
    got = [read_number(np.asarray(p.convert("L"))) for p in pictures]
    want = [round(t * fps) for t in times]
    assert want == [13, 14, 49, 75, 76, 98, 24, 78]  # output frame 37 is the join
    assert got == want


def test_tiles_are_upright_for_a_rotated_source(tmp_path: Path) -> None:
    m = make_geometry_clip(
        tmp_path / "phone.mp4", coded=(320, 180), box=(20, 30, 60, 40), rotate=90
    )
    size = tile_size(m.display)
    assert size == (270, 480)
    (picture,) = read_frames(m.path, [F(1, 5)], size)
    assert picture.size == size
    got = red_box(np.asarray(picture))
    s = size[0] / m.display[0]
    want = tuple(round(v * s) for v in m.box)
    assert got is not None and all(abs(g - w) <= 2 for g, w in zip(got, want, strict=True)), (
        got,
        want,
    )


def test_pad_reasons_come_from_the_plan_notes() -> None:
    framing = Framing(
        windows=(CropWindow(F(0), 0, 0, 606, 1080),),
        pad_ranges=((F(2), F(5)),),
        shots=(F(2), F(5)),
        decisions=(
            ShotFraming(F(0), F(2), "still", "face held"),
            ShotFraming(F(2), F(5), "pad", "2 faces too far apart for the crop"),
            ShotFraming(F(5), F(7), "pad", "manifest: strategy pad"),
        ),
    )
    encode = Encode("fast", 23, "high", "4.0", 5000, 10000, 50, 128, 48000, 2, -16, -1.5, 11)
    out = OutputJob(
        "c", "main", "x", "9:16", 1080, 1920, F(25), F(7), "auto", framing.windows, encode,
        "c/main/x.mp4", notes=_framing_notes(framing, "9:16"), pad_ranges=((F(2), F(7)),),
    )  # fmt: skip
    assert pad_reason(out, F(1)) is None
    assert pad_reason(out, F(2)) == "2 faces too far apart for the crop"
    assert pad_reason(out, F(6)) is None  # the manifest's pad leaves no note


def test_reasons_are_shown_only_where_the_rebuilt_path_is_the_planned_one() -> None:
    def faces(t: float) -> tuple[Box, ...]:
        cx = 0.2 if t < 5 else 0.8
        return (Box(cx - 0.04, 0.3, 0.08, 0.14, 0.9),)

    samples = tuple(Sample(k / 5, faces(k / 5), None) for k in range(50))
    analysis = SourceAnalysis("0" * 64, 10.0, 5.0, 1920, 1080, (5.0,), samples)
    job = cut([(F(0), F(10))], F(25))
    framing = frame_output(
        analysis, job.segments, job.fps, job.display_size, (1080, 1920), "auto", None
    )
    assert [w.start for w in framing.windows] == [0, 5]
    first, second = framing.windows
    moved = (first, replace(second, x=second.x - 200))  # as a manifest focus would
    encode = Encode("fast", 23, "high", "4.0", 5000, 10000, 50, 128, 48000, 2, -16, -1.5, 11)
    out = OutputJob(
        "c", "main", "x", "9:16", 1080, 1920, F(25), F(10), "auto", framing.windows, encode,
        "c/main/x.mp4", shots=framing.shots,
    )  # fmt: skip
    (planned,) = output_groups(replace(job, outputs=(out,)), analysis)
    assert not planned.unexplained
    assert describe(planned, F(1)) == "9:16 still: face held"
    assert describe(planned, F(6)) == "9:16 still: face held"
    (overridden,) = output_groups(replace(job, outputs=(replace(out, windows=moved),)), analysis)
    assert overridden.unexplained
    assert describe(overridden, F(1)) == "9:16 still: face held"
    assert describe(overridden, F(6)) == "9:16 held (manifest framing)"


@dataclass(frozen=True)
class Previewed:
    root: Path
    code: int
    out: str
    err: str
    job: CutJob


STUDY = """\
id: study
title: Preview test
area: Test area
source: ../media/clip.mp4
cuts:
  main: [[0.5, 1.5], [2, 3.5]]
outputs: [{platform: x, cut: main, aspects: ["9:16", "16:9"]}]
"""


@pytest.fixture(scope="module")
def previewed(tmp_path_factory: pytest.TempPathFactory) -> Previewed:
    """One project, one ``reframe-preview`` run; the job as planned, for the expectations."""
    import contextlib
    import io

    root = tmp_path_factory.mktemp("preview")
    (root / "manifests").mkdir()
    (root / "manifests" / "campaign.yaml").write_text(textwrap.dedent(CAMPAIGN))
    (root / "manifests" / "study.yaml").write_text(STUDY)
    make_clip(root / "media" / "clip.mp4", size=(320, 180), duration=4.0)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["-q", "-m", str(root / "manifests"), "reframe-preview", "study"])
    _, plan = plan_campaign(root / "manifests")
    (job,) = plan.jobs
    return Previewed(root, code, out.getvalue(), err.getvalue(), job)


def sheet(p: Previewed) -> np.ndarray:
    path = p.root / "out" / "reframe-preview" / "study-main.png"
    assert path.is_file(), p.out + p.err
    return np.asarray(Image.open(path).convert("RGB"))


def test_the_command_writes_one_sheet_and_prints_its_path(previewed: Previewed) -> None:
    assert previewed.code == 0, previewed.err
    lines = previewed.out.splitlines()
    assert len(lines) == 1 and lines[0].endswith("study-main.png"), previewed.out
    assert not list((previewed.root / "out" / "reframe-preview").glob(".*"))  # no temp file left


def test_sheet_size_follows_from_the_tile_count(previewed: Previewed) -> None:
    img = sheet(previewed)
    times = choose_times(previewed.job)
    layout = sheet_layout(previewed.job, len(times))
    assert 3 <= len(times) <= 16
    assert layout.tile == (480, 270)  # a 320x180 source, tiles 480 wide
    assert (img.shape[1], img.shape[0]) == layout.size
    tw, th = layout.tile
    for i in range(layout.rows * layout.columns):
        x, y = layout.tile_origin(i)
        patch = img[y : y + th, x : x + tw].reshape(-1, 3)
        empty = bool((patch == BACKGROUND).all(axis=1).mean() > 0.99)
        assert empty == (i >= len(times)), f"tile slot {i} of {len(times)} tiles"


def test_shot_openings_have_a_red_border(previewed: Previewed) -> None:
    img = sheet(previewed)
    times = choose_times(previewed.job)
    layout = sheet_layout(previewed.job, len(times))
    assert sum(t.opens_shot for t in times) == 2  # the start and the join
    for i, t in enumerate(times):
        x, y = layout.tile_origin(i)
        above = img[y - BORDER + 1, x + 10 : x + layout.tile[0] - 10]
        red = (above == SHOT_BORDER).all(axis=1).mean()
        assert (red > 0.95) == t.opens_shot, f"tile {i} at {t.t}: {red:.0%} red"


def test_crop_window_is_drawn_where_crop_at_puts_it(previewed: Previewed) -> None:
    img = sheet(previewed)
    job = previewed.job
    times = choose_times(job)
    layout = sheet_layout(job, len(times))
    groups = {g.label: g for g in output_groups(job, None)}
    portrait = groups["9:16"]
    assert groups["16:9"].whole_frame and not portrait.whole_frame
    scale = layout.tile[0] / job.display_size[0]
    checked = 0
    for i, t in enumerate(times):
        if portrait.padded(t.t):
            continue
        ox, oy = layout.tile_origin(i)
        x, y, w, h = crop_at(portrait.first.windows, t.t)
        left, right = ox + x * scale, ox + (x + w) * scale - 1
        top, bottom = oy + y * scale, oy + (y + h) * scale - 1
        rows = np.arange(int(top) + 10, int(bottom) - 30, 4)

        def share(cols: list[int], rows: np.ndarray = rows) -> float:
            hits = [(img[r, cols] == portrait.colour).all(axis=1).any() for r in rows]
            return float(np.mean(hits))

        edge_l = [round(left) + k for k in range(-1, CROP_LINE + 1)]
        edge_r = [round(right) - k for k in range(-1, CROP_LINE + 1)]
        assert share(edge_l) > 0.9, f"tile {i}: left edge not at x={left:.1f}"
        assert share(edge_r) > 0.9, f"tile {i}: right edge not at x={right:.1f}"
        # just inside the window is picture, not outline
        assert share([round(left) + 10]) < 0.2 and share([round(right) - 10]) < 0.2
        top_row = img[round(top) + 1, round(left) + 5 : round(right) - 5]
        assert (top_row == portrait.colour).all(axis=1).mean() > 0.9
        checked += 1
    assert checked >= 3


def test_unknown_case_exits_2_naming_the_known_ids(
    previewed: Previewed, capsys: pytest.CaptureFixture[str]
) -> None:
    manifests = str(previewed.root / "manifests")
    assert main(["-q", "-m", manifests, "reframe-preview", "nope"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "known: study" in err
    assert main(["-q", "-m", manifests, "reframe-preview", "study", "--cut", "long"]) == 2
    assert "cuts: main" in capsys.readouterr().err


def test_out_names_the_file(previewed: Previewed, tmp_path: Path) -> None:
    target = tmp_path / "sheets" / "mine.png"
    manifests = str(previewed.root / "manifests")
    assert main(["-q", "-m", manifests, "reframe-preview", "study", "--out", str(target)]) == 0
    assert (
        Image.open(target).size
        == Image.open(previewed.root / "out" / "reframe-preview" / "study-main.png").size
    )
