"""Crop paths from analysis values: still shots hold, moving subjects are followed smoothly,
shot changes cut hard, unfit shots pad, manifest overrides win. Pure: no media."""

from __future__ import annotations

import itertools
import random
import re
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.framing import CropWindow, crop_at, position_expr
from pipeline.graph import GRAPH_INLINE_MAX, graph_to_file
from pipeline.jobs import SegmentSpan
from pipeline.reframe import DEAD_BAND, MAX_SPEED, Override, frame_output
from pipeline.scene import Box, Sample, SourceAnalysis
from tests.clips import run_ffmpeg

FPS = Fraction(25)
SRC = (1920, 1080)
PORTRAIT = (1080, 1920)  # 9:16 output: a 606x1080 window moving along x


def face(cx: float, cy: float = 0.4, w: float = 0.08) -> Box:
    return Box(cx - w / 2, cy - w, w, w * 1.78 * 9 / 16 * 2, 0.9)


def analysis(
    seconds: float, faces_at: object, shots: tuple[float, ...] = (), salient: object = None
) -> SourceAnalysis:
    samples = []
    for k in range(int(seconds * 5)):
        t = k / 5
        fs = faces_at(t) if callable(faces_at) else ()
        sal = salient(t) if callable(salient) else None
        samples.append(Sample(t, tuple(fs), sal))
    return SourceAnalysis("0" * 64, seconds, 5.0, *SRC, shots, tuple(samples))


def frame(a: SourceAnalysis | None, seconds: float = 10, **kw: object) -> object:
    segments = kw.pop("segments", (SegmentSpan(Fraction(0), Fraction(seconds)),))
    return frame_output(
        a,
        segments,  # type: ignore[arg-type]
        FPS,
        SRC,
        kw.pop("out", PORTRAIT),  # type: ignore[arg-type]
        kw.pop("strategy", "auto"),  # type: ignore[arg-type]
        kw.pop("focus", None),  # type: ignore[arg-type]
        kw.pop("overrides", ()),  # type: ignore[arg-type]
    )


def inside(f: Box, win: tuple[int, int, int, int]) -> bool:
    x, _, w, _ = win
    return x <= f.x * SRC[0] and (f.x + f.w) * SRC[0] <= x + w


def test_a_still_face_off_centre_is_held_with_one_window() -> None:
    rng = random.Random(1)
    # detections wobble by a few pixels from sample to sample, as real ones do
    a = analysis(10, lambda t: [face(0.2 + rng.uniform(-0.005, 0.005))])
    f = frame(a)
    assert len(f.windows) == 1
    assert not f.windows[0].glide
    assert inside(face(0.2), crop_at(f.windows, 3))
    assert [d.mode for d in f.decisions] == ["still"]


def test_the_window_jumps_at_a_shot_change_and_only_there() -> None:
    a = analysis(10, lambda t: [face(0.2 if t < 5 else 0.8)], shots=(5.0,))
    f = frame(a)
    assert [w.start for w in f.windows] == [0, 5]
    assert not any(w.glide for w in f.windows)
    assert f.shots == (Fraction(5),)
    assert inside(face(0.2), crop_at(f.windows, Fraction(124, 25)))
    assert inside(face(0.8), crop_at(f.windows, 5))


def test_a_walking_subject_is_followed_smoothly_and_kept_in_frame() -> None:
    def at(t: float) -> float:
        return 0.2 + 0.06 * t  # 0.2 -> 0.8 of the width in 10 s

    f = frame(analysis(10, lambda t: [face(at(t))]))
    assert any(w.glide for w in f.windows)
    length = f.windows[0].w
    for n in range(250):
        t = Fraction(n, 25)
        assert inside(face(at(float(t))), crop_at(f.windows, t)), t
    # speed limit between consecutive frames (a hair over for the containment rule)
    xs = [crop_at(f.windows, Fraction(n, 25))[0] for n in range(250)]
    assert max(abs(b - a) for a, b in itertools.pairwise(xs)) <= MAX_SPEED * length / 25 + 2
    assert DEAD_BAND > 0


def test_two_faces_that_fit_are_both_kept() -> None:
    f = frame(analysis(6, lambda t: [face(0.45), face(0.55)]), 6)
    win = crop_at(f.windows, 1)
    assert inside(face(0.45), win) and inside(face(0.55), win)
    assert [d.mode for d in f.decisions] == ["still"]


def test_two_faces_at_opposite_edges_pad_under_auto() -> None:
    a = analysis(10, lambda t: [face(0.12), face(0.88)] if t >= 4 else [face(0.5)], shots=(4.0,))
    f = frame(a)
    assert f.pad_ranges == ((Fraction(4), Fraction(10)),)
    assert [d.mode for d in f.decisions] == ["still", "pad"]


def test_two_faces_at_opposite_edges_keep_the_bigger_under_crop() -> None:
    a = analysis(6, lambda t: [face(0.12, w=0.06), face(0.85, w=0.1)])
    f = frame(a, 6, strategy="crop")
    assert f.pad_ranges == ()
    assert inside(face(0.85, w=0.1), crop_at(f.windows, 2))


def test_a_one_off_detection_does_not_steer_the_crop() -> None:
    a = analysis(10, lambda t: [face(0.7)] + ([face(0.05)] if t == 3.0 else []))
    f = frame(a)
    assert len(f.windows) == 1 and inside(face(0.7), crop_at(f.windows, 3))


def test_no_face_follows_the_salient_region() -> None:
    a = analysis(6, None, salient=lambda t: Box(0.75, 0.4, 0.1, 0.1, 0.8))
    f = frame(a, 6)
    x, _, w, _ = crop_at(f.windows, 1)
    assert x <= 0.8 * SRC[0] <= x + w
    assert f.decisions[0].mode == "still"


def test_motion_that_jumps_between_two_places_holds_on_where_most_of_it_is() -> None:
    # two things move in turn, 3 samples of 10 on the right: chasing every jump would whip
    # the window across the frame; holding on the left keeps most of the action
    def region(t: float) -> Box:
        right = round(t * 5) % 10 in (2, 5, 8)
        return Box(0.8 if right else 0.15, 0.4, 0.08, 0.1, 0.6)

    f = frame(analysis(6, None, salient=region), 6)
    assert [d.mode for d in f.decisions] == ["still"]
    assert "70% of motion" in f.decisions[0].reason
    x, _, w, _ = crop_at(f.windows, 2)
    assert x <= 0.19 * SRC[0] <= x + w


def test_motion_spread_evenly_is_followed_rather_than_held() -> None:
    def region(t: float) -> Box:
        return Box(0.05 + 0.85 * t / 6, 0.4, 0.05, 0.1, 0.6)

    f = frame(analysis(6, None, salient=region), 6)
    assert [d.mode for d in f.decisions] == ["track"]


def test_a_confident_face_seen_seldom_is_kept_in_frame_when_it_fits_a_moving_window() -> None:
    # the subject walks left; a second person is caught twice, confidently, just left of
    # them: under the shot's subject threshold, but the moving window can take them in
    def faces(t: float, score: float = 0.9) -> list[Box]:
        main = face(0.75 - 0.025 * t)
        if abs(t - 4.0) < 0.01 or abs(t - 4.2) < 0.01:
            b = face(0.75 - 0.025 * t - 0.17)
            return [main, Box(b.x, b.y, b.w, b.h, score)]
        return [main]

    f = frame(analysis(8, faces), 8)
    assert [d.mode for d in f.decisions] == ["track"]
    extra = face(0.75 - 0.025 * 4.0 - 0.17)
    assert inside(extra, crop_at(f.windows, 4))
    # the same face, detected weakly, is not followed
    g = frame(analysis(8, lambda t: faces(t, 0.2)), 8)
    assert not inside(extra, crop_at(g.windows, 4))
    assert inside(face(0.75 - 0.025 * 4.0), crop_at(g.windows, 4))


def test_nothing_to_follow_falls_back_to_the_focus_point_or_the_centre() -> None:
    a = analysis(6, None)
    centre = crop_at(frame(a, 6).windows, 0)
    assert abs(centre[0] + centre[2] / 2 - 960) <= 1
    left = crop_at(frame(a, 6, focus=(0.1, 0.5)).windows, 0)
    assert left[0] == 0


def test_without_analysis_the_crop_is_centred() -> None:
    f = frame(None, 6)
    assert len(f.windows) == 1 and f.decisions[0].mode == "centre"


def test_same_shape_output_never_moves() -> None:
    f = frame(analysis(6, lambda t: [face(0.2)]), 6, out=(1920, 1080))
    assert f.windows == (CropWindow(Fraction(0), 0, 0, 1920, 1080),)


def test_manifest_ranges_win_and_are_mapped_through_the_cut() -> None:
    a = analysis(20, lambda t: [face(0.5)])
    segments = (SegmentSpan(Fraction(2), Fraction(6)), SegmentSpan(Fraction(10), Fraction(16)))
    overrides = (
        Override(Fraction(3), Fraction(5), None, (0.9, 0.5)),
        Override(Fraction(12), Fraction(14), "pad", None),
    )
    f = frame(a, segments=segments, overrides=overrides)
    # source 3-5 s is output 1-3 s; source 12-14 s is output 6-8 s (4 s + 2 s into segment 2)
    assert f.pad_ranges == ((Fraction(6), Fraction(8)),)
    assert crop_at(f.windows, 2)[0] == SRC[0] - f.windows[0].w
    assert inside(face(0.5), crop_at(f.windows, Fraction(1, 2)))
    assert inside(face(0.5), crop_at(f.windows, Fraction(7, 2)))
    assert Fraction(4) in f.shots  # the join cuts hard


def test_a_vertical_source_moves_the_window_along_y() -> None:
    def fx(t: float) -> tuple[Box, ...]:
        return (Box(0.4, 0.1, 0.2, 0.1, 0.9),)

    a = SourceAnalysis(
        "0" * 64, 6, 5.0, 1080, 1920, (), tuple(Sample(k / 5, fx(k / 5), None) for k in range(30))
    )
    f = frame_output(
        a, (SegmentSpan(Fraction(0), Fraction(6)),), FPS, (1080, 1920), (1920, 1080), "auto", None
    )
    _, y, _, h = crop_at(f.windows, 1)
    assert y <= 0.1 * 1920 and y + h >= 0.2 * 1920


def _evaluate(expr: str, t: float) -> float:
    """Evaluate a crop position expression the way FFmpeg's expression evaluator would."""
    py = re.sub(r"\bgte\(", "_gte(", expr)
    py = re.sub(r"\bmin\(", "_min(", py)
    py = re.sub(r"\bmax\(", "_max(", py)
    return float(
        eval(
            py,
            {"__builtins__": {}},
            {
                "t": t,
                "_gte": lambda a, b: 1.0 if a >= b else 0.0,
                "_min": lambda a, b: a if a < b else b,
                "_max": lambda a, b: a if a > b else b,
            },
        )
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 30), st.integers(0, 1300), st.booleans()),
        min_size=1,
        max_size=25,
    )
)
def test_the_ffmpeg_expression_and_crop_at_agree_on_every_frame(
    steps: list[tuple[int, int, bool]],
) -> None:
    start, windows = 0, []
    for gap, x, glide in steps:
        windows.append(CropWindow(Fraction(start, 25), x, 0, 606, 1080, glide))
        start += gap
    windows_t = tuple(windows)
    expr = position_expr(windows_t, "x")
    for n in range(start + 5):
        t = n / 25
        # exact while holding; float rounding may differ by a pixel mid-glide
        assert abs(int(_evaluate(expr, t)) - crop_at(windows_t, Fraction(n, 25))[0]) <= 1, (
            n,
            expr,
        )


@pytest.mark.parametrize("n", [40, 300, 5000])
def test_a_long_tracking_path_is_an_expression_ffmpeg_accepts(n: int, tmp_path: Path) -> None:
    """FFmpeg refuses sums of more than about 95 terms; an hour of tracking has thousands."""
    windows = tuple(
        CropWindow(Fraction(k, 5), (k * 37) % 97, 0, 100, 180, k % 3 == 0) for k in range(n)
    )
    expr = position_expr(windows, "x")
    for n_frame in (0, 7, 3 * n // 2):
        got = int(_evaluate(expr, n_frame / 25))
        assert abs(got - crop_at(windows, Fraction(n_frame, 25))[0]) <= 1
    # as the renderer passes it: in a file once the graph is too long for one argument
    escaped = expr.replace(",", "\\,")
    graph = f"[0:v]crop=w=100:h=180:x={escaped}:y=0:exact=1[v]"
    argv, text = graph_to_file(["ffmpeg", "-filter_complex", graph], str(tmp_path / "graph.txt"))
    assert (text is not None) == (len(graph) > GRAPH_INLINE_MAX)
    assert n < 5000 or text is not None
    if text is not None:
        (tmp_path / "graph.txt").write_text(text)
    run_ffmpeg(
        "-f", "lavfi", "-i", "color=s=320x180:d=0.2", *argv[1:3], "-map", "[v]", "-f", "null", "-",
    )  # fmt: skip


def test_the_expression_is_finite_when_ffmpeg_evaluates_it_at_setup() -> None:
    """crop evaluates x once with t = NaN while configuring; NaN there fails the filter."""
    windows = (
        CropWindow(Fraction(0), 10, 0, 606, 1080, True),
        CropWindow(Fraction(1), 90, 0, 606, 1080),
        CropWindow(Fraction(2), 300, 0, 606, 1080),
    )
    value = _evaluate(position_expr(windows, "x"), float("nan"))
    assert value == value  # not NaN


def test_a_close_up_too_wide_with_margins_is_held_on_the_face_not_padded() -> None:
    # 0.3 of 1920 is 576 px: fits the 606 px window alone, not with room around it
    f = frame(analysis(6, lambda t: [face(0.4, w=0.3)]), 6)
    assert f.pad_ranges == ()
    assert [d.mode for d in f.decisions] == ["still"]
    assert inside(face(0.4, w=0.3), crop_at(f.windows, 1))
