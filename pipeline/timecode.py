"""Exact time: parsing manifest timestamps and snapping them to frames.

Times are ``fractions.Fraction`` seconds everywhere, so that joining many segments
never accumulates float error. Snapping to the frame grid happens here and nowhere
else.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:\.(\d{1,3}))?$")
_SECONDS = re.compile(r"^\d+(?:\.\d+)?$")

TIMESTAMP_FORMATS = "hh:mm:ss.mmm, mm:ss(.mmm) or seconds (e.g. 12.5)"


def parse_timestamp(value: object) -> Fraction:
    """Parse ``hh:mm:ss.mmm``, ``mm:ss`` or plain seconds into exact seconds.

    Raises ``ValueError`` with a message that names the accepted forms.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a timestamp ({TIMESTAMP_FORMATS})")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is negative")
        return Fraction(value)
    if isinstance(value, float):
        if value < 0:
            raise ValueError(f"{value} is negative")
        # Through Decimal(str()) so 12.1 means 121/10, not the nearest binary float.
        return Fraction(Decimal(str(value)))
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a timestamp ({TIMESTAMP_FORMATS})")
    text = value.strip()
    if _SECONDS.match(text):
        try:
            return Fraction(Decimal(text))
        except InvalidOperation as exc:  # pragma: no cover - regex already guards
            raise ValueError(f"{value!r} is not a timestamp ({TIMESTAMP_FORMATS})") from exc
    m = _CLOCK.match(text)
    if not m:
        raise ValueError(f"{value!r} is not a timestamp ({TIMESTAMP_FORMATS})")
    hours, minutes, seconds, millis = m.groups()
    if int(minutes) >= 60 and hours is not None:
        raise ValueError(f"{value!r}: minutes must be below 60")
    if int(seconds) >= 60:
        raise ValueError(f"{value!r}: seconds must be below 60")
    total = Fraction(int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds))
    if millis:
        total += Fraction(int(millis.ljust(3, "0")), 1000)
    return total


def format_timestamp(t: Fraction) -> str:
    """``hh:mm:ss.mmm`` for messages (rounded to the millisecond)."""
    ms = round(t * 1000)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def frames_in(duration: Fraction, fps: Fraction) -> int:
    """Number of whole frames of a constant-rate stream that fit in ``duration``."""
    return round(duration * fps)


def snap(t: Fraction, fps: Fraction) -> Fraction:
    """The frame boundary nearest to ``t`` on a grid of ``fps``; halves round up, so a time
    exactly between two frames starts at the later one (Python's ``round`` would pick the
    even one, which reads as arbitrary in a plan)."""
    return Fraction(math.floor(t * fps + Fraction(1, 2))) / fps
