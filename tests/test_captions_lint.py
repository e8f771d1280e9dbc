"""Caption lint: each rule fires exactly at its limit, with the cue's time and the value
against the limit in the message."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from pipeline.captions.lint import lint
from pipeline.captions.model import Cue

FPS = F(25)


def cue(start: str, end: str, text: str, **kw: object) -> Cue:
    return Cue(F(start), F(end), (text,), **kw)  # type: ignore[arg-type]


def test_clean_captions_have_no_warnings():
    cues = [
        cue("0", "2", "Hello there."),
        cue("2", "4", "Back to back is fine."),
        cue("4.08", "6", "So is a two-frame gap."),
        cue("7", "9", "And a gap of one second."),
    ]
    assert lint(cues, FPS) == ()


def test_reading_speed_words_and_characters():
    cues = [
        # 10 words, 52 characters in 1 s.
        cue("1", "2", "This sentence has far too many words for one second.", source_line=4),
        # 3 words in 1 s is 180 wpm, 18 characters: at both limits, not above.
        cue("3", "4", "Exactly at limits."),
        # 2 words (120 wpm) but 26 characters in 1 s: characters catch long words.
        cue("5", "6", "Extraordinary circumstance"),
        # Sound cues are looked at, not read.
        cue("7", "8", "[dramatic orchestral music swells and fades]", sound=True),
    ]
    assert lint(cues, FPS) == (
        "00:00:01.000 (line 4): reading speed 600 wpm, 52.0 cps (10 words, 52 characters "
        "in 1.000 s) is above 180 wpm / 20 cps",
        "00:00:05.000: reading speed 120 wpm, 26.0 cps (2 words, 26 characters in 1.000 s) "
        "is above 180 wpm / 20 cps",
    )


def test_duration_limits():
    cues = [
        cue("0", "0.8", "Hi."),  # 20 frames at 25 fps: under 5/6 s
        cue("2", "2.84", "Hi."),  # 21 frames: over 5/6 s
        cue("4", "11", "Seven seconds exactly is allowed here."),
        cue("12", "19.04", "Seven seconds and a frame is too long now."),
    ]
    assert lint(cues, FPS) == (
        "00:00:00.000: on screen 0.800 s, below the 0.833 s minimum",
        "00:00:12.000: on screen 7.040 s, above the 7.000 s maximum",
    )


def test_gaps_run_on_or_leave_a_second():
    # A gap is reported on the cue before it.
    cues = [
        cue("0", "1", "One."),
        cue("1.08", "2", "Two."),  # 2 frames after One: still running on
        cue("2.12", "3", "Three."),  # 3 frames after Two: too short a gap
        cue("3.96", "5", "Four."),  # 0.96 s after Three: too short
        cue("6", "7", "Five."),  # 1 s after Four: fine
        cue("6.5", "8", "Six."),  # overlaps Five
    ]
    assert lint(cues, FPS) == (
        "00:00:01.080: gap of 0.120 s to the next cue (at 00:00:02.120); run on "
        "(at most 2 frames) or leave at least 1.000 s",
        "00:00:02.120: gap of 0.960 s to the next cue (at 00:00:03.960); run on "
        "(at most 2 frames) or leave at least 1.000 s",
        "00:00:06.000: overlaps the next cue (at 00:00:06.500) by 0.500 s",
    )


def test_cues_a_frame_or_two_off_a_shot_change():
    shots = [F(10), F(20), F(30), F(31)]
    cues = [
        cue("8", "9.92", "Early."),  # ends 2 frames before the cut at 10 s
        cue("20.04", "22", "Late."),  # starts a frame after the cut at 20 s
        cue("24", "30", "On the cut."),
        cue("31.12", "33", "Three frames."),  # 3 frames after 31 s: no flicker
    ]
    assert lint(cues, FPS, shots) == (
        "00:00:08.000: ends 2 frames before the shot change at 00:00:10.000; "
        "move it onto the shot change",
        "00:00:20.040: starts 1 frame after the shot change at 00:00:20.000; "
        "move it onto the shot change",
    )


def test_without_shot_changes_nothing_is_said_about_them():
    assert lint([cue("10.04", "12", "A frame after a cut.")], FPS) == ()


def test_fps_must_be_positive():
    with pytest.raises(ValueError):
        lint([], F(0))
