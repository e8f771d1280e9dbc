"""Frame rate as the probe reports it: the nominal rate unless the file really varies."""

from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace

import pytest

from pipeline.plan import conform_rate
from pipeline.probe import _frame_rate


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
