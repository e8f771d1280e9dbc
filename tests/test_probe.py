"""Frame rate as the probe reports it: the nominal rate unless the file really varies."""

from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace

import pytest

from pipeline.plan import conform_rate
from pipeline.probe import _frame_rate, typical_interval


def stream(average: Fraction | None, base: Fraction | None, guessed: Fraction | None = None):
    return SimpleNamespace(average_rate=average, base_rate=base, guessed_rate=guessed)


@pytest.mark.parametrize(
    ("average", "base", "expected"),
    [
        # 599 frames over 20 s: the average alone would conform to 29.97 and drop frames
        (Fraction(599, 20), Fraction(30), Fraction(30)),
        (Fraction(2997, 100), Fraction(30000, 1001), Fraction(30000, 1001)),
        (Fraction(25), Fraction(25), Fraction(25)),
        # variable-rate phone footage: the time base rate says nothing about the frames
        (Fraction(2894, 100), Fraction(90000), Fraction(2894, 100)),
        (Fraction(24), None, Fraction(24)),
        (None, Fraction(50), Fraction(50)),
    ],
)
def test_nominal_rate_wins_when_the_average_agrees(
    average: Fraction | None, base: Fraction | None, expected: Fraction
) -> None:
    assert _frame_rate(stream(average, base)) == expected


def test_a_thirty_fps_file_short_of_its_last_frame_stays_thirty() -> None:
    assert conform_rate(_frame_rate(stream(Fraction(599, 20), Fraction(30)))) == 30


def test_a_disagreeing_average_asks_for_the_typical_interval_and_only_then() -> None:
    asked: list[bool] = []

    def measure() -> Fraction:
        asked.append(True)
        return Fraction(30)

    # a phone clip at 30 fps holding frames to 1/15 s in low light: average 20
    assert _frame_rate(stream(Fraction(20), Fraction(90000)), measure) == 30
    assert _frame_rate(stream(Fraction(25), Fraction(25)), measure) == 25
    assert asked == [True]
    # nothing measurable (too few packets): the average, as before
    assert _frame_rate(stream(Fraction(20), Fraction(90000)), lambda: None) == 20


def _times(*steps: int, start: int = 0) -> list[int]:
    out = [start]
    for s in steps:
        out.append(out[-1] + s)
    return out


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        # 30 fps (512 ticks of 1/15360 s), then every other frame (15 fps) for longer: the
        # commonest interval is 1/15 s, the camera's is 1/30 s
        (_times(*[512] * 29, *[1024] * 31), Fraction(512)),
        # 29.97 fps in a millisecond time base: 33, 33, 34 ms, averaged back
        (_times(*[33, 33, 34] * 20), Fraction(100, 3)),
        # a camera that held a few frames a little longer than one interval: not the rate
        (_times(*[40] * 40, *[60] * 5), Fraction(40)),
        # 25 fps at 90 kHz, a few packets without a timestamp of their own
        (_times(*[3600] * 40, 7200, *[3600] * 10, 7200), Fraction(3600)),
    ],
)
def test_typical_interval_is_the_shortest_common_one(times: list[int], expected: Fraction) -> None:
    assert typical_interval(times) == expected


def test_typical_interval_needs_enough_frames() -> None:
    assert typical_interval(_times(512, 512, 512)) is None
