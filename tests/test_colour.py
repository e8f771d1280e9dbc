"""Colour decisions and the stills' tone map (``pipeline.colour``), against the standards'
numbers and the levels the rendered video has (tests/test_footage.py measures the video)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.colour import (
    BT2020_TO_BT709,
    HDR_PEAK,
    MOBIUS_KNEE,
    describe,
    hdr_to_sdr,
    hlg_eotf,
    mobius,
    pq_eotf,
    source_matrix,
)


@pytest.mark.parametrize(
    ("colorspace", "size", "expected"),
    [
        (1, (640, 480), "bt709"),  # tags win over size
        (6, (1920, 1080), "bt601"),
        (5, (720, 576), "bt601"),
        (9, (3840, 2160), "bt2020"),
        (2, (720, 576), "bt601"),  # untagged SD (PAL DV, DVD)
        (2, (640, 360), "bt601"),
        (2, (1280, 720), "bt709"),  # untagged HD
        (2, (1280, 536), "bt709"),  # letterboxed HD: HD by its width
        (2, (960, 720), "bt709"),
    ],
)
def test_source_matrix(colorspace: int, size: tuple[int, int], expected: str) -> None:
    assert source_matrix(colorspace, *size) == expected


def test_untagged_hdr_is_bt2020() -> None:
    assert source_matrix(2, 640, 360, hdr=True) == "bt2020"


def test_describe_names_what_ffmpeg_calls_it() -> None:
    assert describe((1, 1, 1, 1)) == "bt709/bt709/bt709/tv"
    assert describe((2, 2, 6, 2)) == "unspecified/unspecified/smpte170m/pc"
    assert describe((2, 3, 99, 0)) == "unspecified/3/99/unspecified"


def test_transfer_functions_hit_the_standards_reference_points() -> None:
    # ST 2084: signal 1.0 is 10000 cd/m2; BT.2408's reference white, 203 cd/m2, is 58%
    assert pq_eotf(np.array(1.0)) == pytest.approx(10000)
    assert pq_eotf(np.array(0.5806)) == pytest.approx(203, rel=0.01)
    # HLG: signal 1.0 is the 1000 cd/m2 display's peak; reference white is 75%
    assert hlg_eotf(np.array(1.0)) == pytest.approx(1000, rel=1e-6)
    assert hlg_eotf(np.array(0.75)) == pytest.approx(203, rel=0.01)


def test_bt2020_to_bt709_keeps_white_and_matches_bt2087() -> None:
    assert BT2020_TO_BT709.sum(axis=1) == pytest.approx([1, 1, 1], abs=1e-9)
    assert BT2020_TO_BT709[0] == pytest.approx([1.6605, -0.5876, -0.0728], abs=1e-4)


def test_mobius_is_linear_to_its_knee_and_reaches_white_at_the_peak() -> None:
    low = np.linspace(0, MOBIUS_KNEE, 5)
    assert mobius(low) == pytest.approx(low)
    assert mobius(np.array(float(HDR_PEAK))) == pytest.approx(1.0, abs=1e-6)
    rising = mobius(np.linspace(0, 2 * float(HDR_PEAK), 200))
    assert (np.diff(rising) > 0).all()


@pytest.mark.parametrize(("transfer", "white"), [("pq", 0.58), ("hlg", 0.75)])
def test_bt2408_levels_land_where_the_video_puts_them(transfer: str, white: float) -> None:
    """18% grey (38% signal in both) and reference white as 8-bit RGB: the rendered video
    shows 108 and 228 (tests/test_footage.py's HDR cases)."""
    grey_rgb, white_rgb = (
        hdr_to_sdr(np.full((1, 3), round(level * 65535), np.uint16), transfer)[0] * 255
        for level in (0.38, white)
    )
    assert grey_rgb == pytest.approx([108] * 3, abs=1.5)
    assert white_rgb == pytest.approx([228] * 3, abs=1.5)
