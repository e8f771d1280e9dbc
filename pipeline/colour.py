"""Colour: which matrix a source's YCbCr uses, and HDR to SDR tone mapping in numpy.

The render converts colour in FFmpeg (``pipeline.graph``); stills are made from PyAV
frames in Python (``pipeline.stills``), so they need the same decisions and the same
curve here, or a poster would not look like its video.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
# numpy is imported by the functions below, for stills: probing and planning use only the
# constants and ``source_matrix``, and need not load it

# FFmpeg's numbers (AVColorPrimaries, AVColorTransferCharacteristic, AVColorSpace and
# AVColorRange), which PyAV reports as plain ints.
BT709 = 1  # primaries, transfer and matrix alike
UNSPECIFIED = 2
RANGE_LIMITED = 1  # "tv", "mpeg": Y' 16-235
RANGE_FULL = 2  # "pc", "jpeg": Y' 0-255, as phones and MJPEG cameras write
# The HDR transfers (AVColorTransferCharacteristic): SMPTE ST 2084 and ARIB STD-B67.
HDR_TRANSFERS = {16: "pq", 18: "hlg"}

# AVColorSpace -> the matrix's name in FFmpeg's scale filter (in_color_matrix). bt470bg (5)
# and smpte170m (6) are the same BT.601 matrix, for 625 and 525 lines.
_MATRICES = {1: "bt709", 4: "fcc", 5: "bt601", 6: "bt601", 7: "smpte240m", 9: "bt2020"}

# Untagged video is SD, so BT.601, up to 576 lines and narrower than 1280 (mpv's rule, and
# BT.601's and BT.709's own picture sizes); larger is HD, so BT.709. Players show untagged
# video that way, so that is how the source looked to whoever shot and checked it.
# (FFmpeg's swscale takes untagged as BT.601 at every size: wrong for HD.)
SD_MAX_HEIGHT = 576
HD_MIN_WIDTH = 1280


# FFmpeg's names for the numbers outputs and common sources carry, for messages.
_NAMES = (
    {1: "bt709", 2: "unspecified", 5: "bt470bg", 6: "smpte170m", 9: "bt2020"},
    {
        1: "bt709",
        2: "unspecified",
        6: "smpte170m",
        14: "bt2020-10",
        16: "smpte2084",
        18: "arib-std-b67",
    },
    {0: "gbr", 1: "bt709", 2: "unspecified", 5: "bt470bg", 6: "smpte170m", 9: "bt2020nc"},
    {0: "unspecified", 1: "tv", 2: "pc"},
)
# What every output is: BT.709 primaries, transfer and matrix, limited range.
OUTPUT_COLOUR = (BT709, BT709, BT709, RANGE_LIMITED)


def describe(colour: tuple[int, int, int, int]) -> str:
    """(primaries, transfer, matrix, range) in FFmpeg's words: "bt709/bt709/bt709/tv"."""
    return "/".join(names.get(v, str(v)) for names, v in zip(_NAMES, colour, strict=True))


def source_matrix(colorspace: int, width: int, height: int, hdr: bool = False) -> str:
    """The YCbCr matrix a source is coded with, as FFmpeg's scale filter names it: its tag,
    or for an untagged (or unusual) one, by its coded size (``SD_MAX_HEIGHT``); HDR is
    BT.2020 at any size."""
    if colorspace in _MATRICES:
        return _MATRICES[colorspace]
    if hdr:
        return "bt2020"
    sd = height <= SD_MAX_HEIGHT and width < HD_MIN_WIDTH
    return "bt601" if sd else "bt709"


# --- HDR to SDR -------------------------------------------------------------------------------

# HDR reference white (ITU-R BT.2408: 203 cd/m2) is the SDR output's white: linear light 1.0.
HDR_REFERENCE_WHITE = 203
# Tone-mapping curve's input peak, relative to reference white: HDR10 is mostly mastered to
# 1000 cd/m2 and HLG's nominal display is 1000 cd/m2. Mastering metadata is not read, so a
# brighter master clips a little earlier than it would need to.
HDR_PEAK = round(Fraction(1000, HDR_REFERENCE_WHITE), 2)
# Mobius is linear up to this knee (above 18% grey, at 0.13) and rolls off only highlights.
MOBIUS_KNEE = 0.5

# SMPTE ST 2084 / ITU-R BT.2100 PQ constants.
_PQ_M1 = 2610 / 16384
_PQ_M2 = 2523 / 4096 * 128
_PQ_C1 = 3424 / 4096
_PQ_C2 = 2413 / 4096 * 32
_PQ_C3 = 2392 / 4096 * 32
PQ_PEAK = 10000  # cd/m2 at signal 1.0

# ITU-R BT.2100 HLG constants, and its reference display: 1000 cd/m2, system gamma 1.2.
_HLG_A = 0.17883277
_HLG_B = 1 - 4 * _HLG_A
_HLG_C = 0.5 - _HLG_A * math.log(4 * _HLG_A)
HLG_DISPLAY_PEAK = 1000
HLG_GAMMA = 1.2

# BT.1886's reference display: pure gamma 2.4 (black at 0). zscale's "bt709" output uses it
# for display light, which is what tone mapping gives.
BT1886_GAMMA = 2.4

# Primaries (x, y of red, green, blue) and the D65 white point both share: ITU-R BT.709
# and BT.2020.
_BT709_XY = ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060))
_BT2020_XY = ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046))
_D65_XY = (0.3127, 0.3290)


def pq_eotf(signal: np.ndarray) -> np.ndarray:
    """PQ signal (0-1) to display light in cd/m2 (ST 2084)."""
    import numpy as np

    p = np.power(np.clip(signal, 0, 1), 1 / _PQ_M2)
    return PQ_PEAK * np.power(np.maximum(p - _PQ_C1, 0) / (_PQ_C2 - _PQ_C3 * p), 1 / _PQ_M1)


def hlg_eotf(signal: np.ndarray) -> np.ndarray:
    """HLG signal (0-1) to display light in cd/m2 on BT.2100's 1000 cd/m2 reference display:
    inverse OETF to scene light, then the OOTF's system gamma 1.2 on each channel, as zimg
    (FFmpeg's zscale) applies it. BT.2100 raises scene luminance instead, which keeps
    saturated colours a little brighter; measured on 200 random colours, that differed from
    the rendered video by up to 70 code values, this by at most 1.6."""
    import numpy as np

    e = np.clip(signal, 0, 1)
    with np.errstate(over="ignore"):
        scene = np.where(e <= 0.5, e * e / 3, (np.exp((e - _HLG_C) / _HLG_A) + _HLG_B) / 12)
    return HLG_DISPLAY_PEAK * np.power(scene, HLG_GAMMA)


def _rgb_to_xyz(primaries: tuple[tuple[float, float], ...]) -> np.ndarray:
    """RGB to CIE XYZ for these primaries and D65 white (SMPTE RP 177's derivation)."""
    import numpy as np

    def xyz(x: float, y: float) -> np.ndarray:
        return np.array([x / y, 1.0, (1 - x - y) / y])

    m = np.stack([xyz(*p) for p in primaries], axis=1)
    scale = np.linalg.solve(m, xyz(*_D65_XY))
    return m * scale


@lru_cache(maxsize=1)
def _bt2020_to_bt709() -> np.ndarray:
    """Linear BT.2020 RGB to linear BT.709 RGB (BT.2087's matrix, derived from the
    primaries): ``BT2020_TO_BT709``."""
    import numpy as np

    return np.linalg.solve(_rgb_to_xyz(_BT709_XY), _rgb_to_xyz(_BT2020_XY))


def __getattr__(name: str) -> Any:
    # BT2020_TO_BT709, computed (with numpy) on first use rather than at import
    if name == "BT2020_TO_BT709":
        return _bt2020_to_bt709()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def mobius(sig: np.ndarray, knee: float = MOBIUS_KNEE, peak: float = float(HDR_PEAK)) -> np.ndarray:
    """FFmpeg's tonemap=mobius: the identity up to ``knee``, then a curve that reaches 1.0
    at ``peak`` with a continuous slope."""
    import numpy as np

    j = knee
    a = -j * j * (peak - 1) / (j * j - 2 * j + peak)
    b = (j * j - 2 * j * peak + peak) / max(peak - 1, 1e-6)
    rolled = (b * b + 2 * b * j + j * j) / (b - a) * (sig + a) / (sig + b)
    return np.where(sig <= j, sig, rolled)


@lru_cache(maxsize=2)
def _light_table(transfer: str) -> np.ndarray:
    """Display light relative to reference white for every 16-bit code of ``transfer``."""
    import numpy as np

    codes = np.arange(65536) / 65535
    light = pq_eotf(codes) if transfer == "pq" else hlg_eotf(codes)
    return (light / HDR_REFERENCE_WHITE).astype(np.float32)


def hdr_to_sdr(rgb: np.ndarray, transfer: str) -> np.ndarray:
    """BT.2020 R'G'B' coded with ``transfer`` ("pq" or "hlg"), as 16-bit codes (uint16, last
    axis), to BT.709 R'G'B' (0-1) for a BT.1886 display: ``pipeline.graph``'s tone map,
    step for step.

    Display light relative to reference white, to BT.709 primaries, then Mobius on each
    pixel's brightest channel with all three scaled alike (so hues do not shift, as
    tonemap's desat=0 does), then BT.1886's gamma. The transfer is a table lookup and the
    rest float32: a 4K frame took 5 s in float64 and through the transfer functions."""
    import numpy as np

    linear = _light_table(transfer)[rgb] @ _bt2020_to_bt709().T.astype(np.float32)
    brightest = np.maximum(np.maximum(linear[..., 0], linear[..., 1]), linear[..., 2])
    sig = np.maximum(brightest, np.float32(1e-6))[..., None]
    mapped = linear * (mobius(sig) / sig)
    return np.power(np.clip(mapped, 0, 1), np.float32(1 / BT1886_GAMMA))
