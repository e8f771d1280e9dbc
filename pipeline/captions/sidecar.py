"""Write cues as WebVTT and SRT sidecar files, and name those files for each platform.

Times are written to the millisecond. Every time is rounded the same way (half up), which
is monotonic, so cues that were in order and did not overlap still are. A cue shorter than a
millisecond can collapse to nothing (which readers drop), so it keeps one millisecond
instead, even if that touches the next cue: frame-snapped cues are never that short.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from fractions import Fraction

from pipeline.captions.model import Cue

_HALF = Fraction(1, 2)


def to_ms(t: Fraction) -> int:
    """Whole milliseconds, half rounded up: monotonic, so order survives rounding."""
    if t < 0:
        raise ValueError(f"caption time {float(t):.3f} s is negative")
    return math.floor(t * 1000 + _HALF)


def clock(t: Fraction, sep: str = ".") -> str:
    """``hh:mm:ss.mmm`` (``sep=","`` for SRT); hours grow past two digits rather than wrap."""
    return _clock_ms(to_ms(t), sep)


def _clock_ms(ms: int, sep: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{sep}{millis:03d}"


def _span(cue: Cue, sep: str) -> str:
    start, end = to_ms(cue.start), to_ms(cue.end)
    if end <= start:
        end = start + 1  # under a millisecond long: keep it visible rather than lose it
    return f"{_clock_ms(start, sep)} --> {_clock_ms(end, sep)}"


def _text_lines(cue: Cue) -> list[str]:
    # A blank line ends a cue in both formats, so blank lines (and stray newlines inside a
    # line) must never reach the file.
    out: list[str] = []
    for line in cue.lines:
        out.extend(part.strip() for part in line.splitlines() if part.strip())
    return out


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_webvtt(cues: Iterable[Cue]) -> str:
    """A WebVTT file: speakers as ``<v Name>`` voice spans, ``& < >`` escaped.

    Cues without text or time are left out: they show nothing and readers drop them.
    """
    out = ["WEBVTT", ""]
    for cue in cues:
        lines = [_escape(line) for line in _text_lines(cue)]
        if not lines or cue.end <= cue.start:
            continue
        if cue.speaker:
            # One span at the start covers the whole cue (it runs to the end of the cue).
            lines[0] = f"<v {_escape(cue.speaker.strip())}>{lines[0]}"
        out += [_span(cue, "."), *lines, ""]
    return "\n".join(out)


def to_srt(cues: Iterable[Cue]) -> str:
    """An SRT file numbered from 1, with a ``Name: `` prefix on a speaker's first line.

    SRT has no escaping, so text goes out as it is, except that ``-->`` (which would read
    as a timing line) becomes ``-- >``. Cues without text or time are left out.
    """
    out: list[str] = []
    number = 0
    for cue in cues:
        lines = [line.replace("-->", "-- >") for line in _text_lines(cue)]
        if not lines or cue.end <= cue.start:
            continue
        if cue.speaker:
            lines[0] = f"{cue.speaker.strip()}: {lines[0]}"
        number += 1
        out += [str(number), _span(cue, ","), *lines, ""]
    return "\n".join(out)


# A language with an optional region: "en", "cy", "en-GB", "en_GB", "es-419".
_LANG = re.compile(r"([A-Za-z]{2,3})(?:[-_]([A-Za-z]{2}|\d{3}))?")
_REGION = re.compile(r"[A-Za-z]{2}|\d{3}")


def sidecar_names(stem: str, lang: str, country: str) -> dict[str, str]:
    """File names for an output's sidecars.

    WebVTT players match on the language alone (``x.en.vtt``); Facebook-style SRT uploads
    want the locale in the name (``x.en_GB.srt``). A region in ``lang`` wins over
    ``country``; with neither, the SRT name carries the language only.
    """
    match = _LANG.fullmatch(lang.strip())
    if not match:
        raise ValueError(f"caption language {lang!r} is not a code like 'en', 'cy' or 'en-GB'")
    language = match.group(1).lower()
    region = (match.group(2) or country.strip()).upper()
    if region and not _REGION.fullmatch(region):
        raise ValueError(f"country {country!r} is not a two-letter code like 'GB'")
    locale = f"{language}_{region}" if region else language
    return {"vtt": f"{stem}.{language}.vtt", "srt": f"{stem}.{locale}.srt"}
