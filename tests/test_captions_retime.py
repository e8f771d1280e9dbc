"""Retiming captions through a cut: golden cuts worked out by hand, and properties that
must hold for any cut (order, no new overlaps, inside the output, text untouched)."""

from __future__ import annotations

import math
from fractions import Fraction as F
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.captions.model import Cue
from pipeline.captions.retime import READABLE_MINIMUM, retime


def cue(line: int, start: str, end: str, text: str, **kw: object) -> Cue:
    return Cue(F(start), F(end), (text,), source_line=line, **kw)  # type: ignore[arg-type]


def shape(cues: tuple[Cue, ...]) -> list[tuple[F, F, str]]:
    return [(c.start, c.end, c.text) for c in cues]


def test_single_segment_clips_drops_and_snaps():
    # Cut: source 10 s to 20 s, so output = source - 10, at 25 fps, 10 s long.
    cues = [
        cue(1, "9", "10.52", "Before"),  # clipped to 0.52 s: under 5/6 s, dropped
        cue(2, "11", "12.6", "Inside"),  # -> 1 .. 2.6
        cue(3, "12.61", "13.01", "Snapped"),  # 2.61 -> frame 65 (2.6), 3.01 -> frame 75 (3.0)
        cue(4, "15", "15.01", "Blink"),  # 5 .. 5.01 both snap to frame 125: nothing left
        cue(5, "19", "22", "Straddles end"),  # clipped to 9 .. 10, 1 s: kept
        cue(6, "25", "26", "After"),  # outside the cut: gone without a note
    ]
    out, notes = retime(cues, [(F(10), F(20))], F(25), F(10))
    assert shape(out) == [
        (F(1), F("2.6"), "Inside"),
        (F("2.6"), F(3), "Snapped"),
        (F(9), F(10), "Straddles end"),
    ]
    assert notes == (
        "cue at line 1 (00:00:09.000-00:00:10.520) clipped by the cut to 0.520 s, "
        "under the 0.833 s readable minimum: dropped",
        "cue at line 4 (00:00:15.000-00:00:15.010) would last under one frame at 25 fps: dropped",
    )


def test_multi_segment_cut_reorders_source_time():
    # Segments 0-4, 10-13, 6-8: output offsets 0, 4, 7; 9 s long.
    cues = [
        cue(1, "1", "2", "A"),  # seg 1 -> 1 .. 2
        cue(2, "3", "5", "B"),  # seg 1 clipped to 3 .. 4 (1 s, kept)
        cue(3, "6.52", "7.52", "C"),  # seg 3 -> 7.52 .. 8.52
        cue(4, "9.5", "11", "D"),  # seg 2 clipped to 10 .. 11 -> 4 .. 5
        cue(5, "12", "12.52", "E"),  # seg 2 whole -> 6 .. 6.52 (short, not clipped: kept)
        cue(6, "12.8", "14", "F"),  # seg 2 clipped to 12.8 .. 13 -> 6.8 .. 7 (0.2 s): dropped
        cue(7, "7.9", "8.5", "G"),  # seg 3 clipped to 7.9 .. 8 -> 8.9 .. 9 (0.1 s): dropped
    ]
    segments = [(F(0), F(4)), (F(10), F(13)), (F(6), F(8))]
    out, notes = retime(cues, segments, F(25), F(9))
    assert shape(out) == [
        (F(1), F(2), "A"),
        (F(3), F(4), "B"),
        (F(4), F(5), "D"),
        (F(6), F("6.52"), "E"),
        (F("7.52"), F("8.52"), "C"),
    ]
    assert notes == (
        "cue at line 6 (00:00:12.800-00:00:14.000) clipped by the cut to 0.200 s, "
        "under the 0.833 s readable minimum: dropped",
        "cue at line 7 (00:00:07.900-00:00:08.500) clipped by the cut to 0.080 s, "
        "under the 0.833 s readable minimum: dropped",
    )


def test_jump_cut_merges_repeat_duplicates_and_output_end_trims():
    # Segments 0-5, 5.52-10, 2-4 (a repeat): offsets 0, 5, 9.48; the cut is 11.48 s long, the
    # output is trimmed to 11 s.
    cues = [
        cue(1, "2.52", "3.6", "Again", speaker="Ann"),  # seg 1, and seg 3 at 10 .. 11.08 -> 11
        cue(2, "3.6", "3.96", "Once"),  # seg 1; its repeat at 11.08 is past the end
        cue(3, "4", "7", "Jump"),  # 4 .. 5 and 5 .. 6.48 meet at the join: one cue
    ]
    segments = [(F(0), F(5)), (F("5.52"), F(10)), (F(2), F(4))]
    out, notes = retime(cues, segments, F(25), F(11))
    assert shape(out) == [
        (F("2.52"), F("3.6"), "Again"),
        (F("3.6"), F("3.96"), "Once"),
        (F(4), F("6.48"), "Jump"),
        (F(10), F(11), "Again"),
    ]
    assert [c.speaker for c in out] == ["Ann", None, None, "Ann"]
    assert notes == (
        "1 cue after the output's end at 00:00:11.000 dropped, "
        "the first at line 2 (00:00:03.600-00:00:03.960)",
        "cue at line 3 (00:00:04.000-00:00:07.000) carries on across the join at "
        "00:00:05.000: merged with itself into one cue",
    )


def test_ntsc_times_land_on_the_output_frame_grid():
    frame = F(1001, 30000)
    out, notes = retime([cue(1, "1.5", "2.5", "Hi")], [(F(1), F(3))], F(30000, 1001), 60 * frame)
    # 0.5 s is frame 14.985 -> 15; 1.5 s is frame 44.955 -> 45.
    assert shape(out) == [(15 * frame, 45 * frame, "Hi")]
    assert notes == ()


def test_min_duration_is_a_parameter():
    cues = [cue(1, "0", "2", "Long enough?")]
    segments = [(F("1.48"), F(3))]  # clipped to 0.52 s
    assert retime(cues, segments, F(25), F("1.52"))[0] == ()
    out, _ = retime(cues, segments, F(25), F("1.52"), min_duration=F("0.4"))
    assert shape(out) == [(F(0), F("0.52"), "Long enough?")]
    assert F(5, 6) == READABLE_MINIMUM


@pytest.mark.parametrize(
    "segments, fps, duration",
    [([(F(1), F(1))], F(25), F(1)), ([(F(0), F(1))], F(0), F(1)), ([(F(0), F(1))], F(25), F(-1))],
)
def test_bad_arguments_are_refused(segments, fps, duration):
    with pytest.raises(ValueError):
        retime([], segments, fps, duration)


# --- properties -------------------------------------------------------------------------

FPS = st.sampled_from([F(24), F(25), F(30000, 1001), F(50), F(60)])
MS = F(1, 1000)


@st.composite
def tracks(draw: st.DrawFn) -> list[Cue]:
    """Non-overlapping cues (back to back allowed) with distinct texts and lines."""
    t, cues = 0, []
    for i, (gap, length) in enumerate(
        draw(st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 4000)), max_size=12))
    ):
        t += gap
        cues.append(Cue(t * MS, (t + length) * MS, (f"cue {i}",), source_line=i, sound=i % 3 == 0))
        t += length
    return cues


SEGMENT = st.tuples(st.integers(0, 30000), st.integers(1, 8000)).map(
    lambda s: (s[0] * MS, (s[0] + s[1]) * MS)
)


def _run(cues, segments, fps, fraction_kept):
    total = sum(e - s for s, e in segments)
    duration = F(math.floor(total * fps * fraction_kept)) / fps
    out, notes = retime(cues, segments, fps, duration)
    return out, notes, duration


def _check_common(cues, out, fps, duration):
    by_line = {c.source_line: c for c in cues}
    for c in out:
        assert 0 <= c.start < c.end <= duration
        assert (c.start * fps).denominator == 1 and (c.end * fps).denominator == 1
        source = by_line[c.source_line]
        assert (c.lines, c.speaker, c.sound) == (source.lines, source.speaker, source.sound)
    for a, b in pairwise(out):
        assert a.end <= b.start  # in order, and no overlap introduced


@settings(max_examples=200, deadline=None)
@given(tracks(), st.lists(SEGMENT, min_size=1, max_size=4), FPS, st.fractions(F(1, 2), 1))
def test_any_cut_keeps_order_inside_output_and_text(cues, segments, fps, kept):
    out, _, duration = _run(cues, segments, fps, kept)
    _check_common(cues, out, fps, duration)


@settings(max_examples=200, deadline=None)
@given(tracks(), st.lists(SEGMENT, min_size=1, max_size=4), FPS)
def test_a_forward_cut_keeps_source_order(cues, raw, fps):
    # Segments in source order, not overlapping: the output reads in source order.
    segments, end = [], F(0)
    for s, e in sorted(raw):
        if s >= end:
            segments.append((s, e))
            end = e
    out, _, duration = _run(cues, segments, fps, 1)
    _check_common(cues, out, fps, duration)
    lines = [c.source_line for c in out]
    assert lines == sorted(lines)


@settings(max_examples=200, deadline=None)
@given(tracks(), st.lists(SEGMENT, min_size=1, max_size=4), FPS)
def test_a_cue_wholly_inside_a_segment_is_never_lost(cues, segments, fps):
    out, _, duration = _run(cues, segments, fps, 1)
    last = duration * fps  # whole frames: the output's end, on the grid
    offset = F(0)
    for s, e in segments:
        for c in cues:
            if s <= c.start and c.end <= e:
                start = math.floor((offset + c.start - s) * fps + F(1, 2))
                end = math.floor((offset + c.end - s) * fps + F(1, 2))
                if start < end <= last:
                    assert any(
                        o.source_line == c.source_line
                        and o.start * fps <= start
                        and end <= o.end * fps
                        for o in out
                    ), (c, offset)
        offset += e - s
