"""Check one output's captions against the reading and timing norms (anchors §4.1, §4.2).

Lint only warns: an output with a fast cue is still better than an output without
captions, and the fix (editing the text, moving a cue) is a human's call. Each warning
starts with the cue's time so it can be found in an editor, and states the value found
against the limit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from pipeline.captions.model import Cue
from pipeline.timecode import format_timestamp

# BBC: at most 160-180 words per minute (§4.1). 20 characters per second goes with it:
# 180 wpm at 20 cps allows 6.7 characters a word (its space included), above the English
# average of about 5.5, so wpm catches fast ordinary speech and cps catches runs of long
# words (names, numbers). Netflix's adult 17 cps (§4.2) is stricter than the BBC; these
# are the BBC's. Characters are counted as shown: spaces and punctuation, not line breaks.
MAX_WPM = 180
MAX_CPS = 20
# Netflix: at least 5/6 s (20 frames at 24 fps), at most 7 s on screen.
MIN_DURATION = Fraction(5, 6)
MAX_DURATION = Fraction(7)
# BBC §4.5: cues either run on or leave a gap of at least 1 s; Netflix's minimum gap is
# 2 frames, so a gap of up to 2 frames still counts as running on.
RUN_ON_FRAMES = 2
MIN_GAP = Fraction(1)
# BBC §6: a cue that starts or ends a frame or two off a shot change flickers across the
# cut; it should change on the shot change instead.
NEAR_SHOT_FRAMES = 2


STRICT_PREFIX = "caption lint (--strict-captions): "


def strict_failures(warnings: Sequence[str]) -> list[str]:
    """What ``--strict-captions`` turns into failures: verify's caption warnings, except a
    missing sidecar, which fails an output anyway."""
    return [f"{STRICT_PREFIX}{w}" for w in warnings if not w.endswith("is missing")]


def lint(
    cues: Sequence[Cue], fps: Fraction, shot_changes: Sequence[Fraction] = ()
) -> tuple[str, ...]:
    """Warnings for ``cues`` shown at ``fps``, in cue order, each naming the cue's start."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, not {fps}")
    ordered = sorted(cues, key=lambda c: (c.start, c.end))
    shots = sorted(_frame(s, fps) for s in shot_changes)
    warnings: list[str] = []
    for k, cue in enumerate(ordered):
        warnings.extend(_reading_speed(cue))
        warnings.extend(_duration(cue))
        if k + 1 < len(ordered):
            warnings.extend(_gap(cue, ordered[k + 1], fps))
        warnings.extend(_shot_changes(cue, fps, shots))
    return tuple(warnings)


def _reading_speed(cue: Cue) -> list[str]:
    # Sound cues are exempt: "[music]" is taken in at a glance, not read word by word.
    if cue.sound or cue.duration <= 0:
        return []
    words = len(cue.text.split())
    chars = len(cue.text)
    wpm = words * 60 / cue.duration
    cps = chars / cue.duration
    if wpm <= MAX_WPM and cps <= MAX_CPS:
        return []
    return [
        f"{_at(cue)}: reading speed {float(wpm):.0f} wpm, {float(cps):.1f} cps "
        f"({words} words, {chars} characters in {_s(cue.duration)}) is above "
        f"{MAX_WPM} wpm / {MAX_CPS} cps"
    ]


def _duration(cue: Cue) -> list[str]:
    if cue.duration < MIN_DURATION:
        return [f"{_at(cue)}: on screen {_s(cue.duration)}, below the {_s(MIN_DURATION)} minimum"]
    if cue.duration > MAX_DURATION:
        return [f"{_at(cue)}: on screen {_s(cue.duration)}, above the {_s(MAX_DURATION)} maximum"]
    return []


def _gap(cue: Cue, after: Cue, fps: Fraction) -> list[str]:
    gap = after.start - cue.end
    if gap < 0:
        return [
            f"{_at(cue)}: overlaps the next cue (at {format_timestamp(after.start)}) by {_s(-gap)}"
        ]
    if RUN_ON_FRAMES / fps < gap < MIN_GAP:
        return [
            f"{_at(cue)}: gap of {_s(gap)} to the next cue (at {format_timestamp(after.start)}); "
            f"run on (at most {RUN_ON_FRAMES} frames) or leave at least {_s(MIN_GAP)}"
        ]
    return []


def _shot_changes(cue: Cue, fps: Fraction, shots: Sequence[int]) -> list[str]:
    """A start or end one or two frames off a shot change (on the frame it is fine)."""
    found = []
    for edge, t in (("starts", cue.start), ("ends", cue.end)):
        frame = _frame(t, fps)
        for shot in shots:
            off = frame - shot
            if 0 < abs(off) <= NEAR_SHOT_FRAMES:
                side = "before" if off < 0 else "after"
                found.append(
                    f"{_at(cue)}: {edge} {abs(off)} frame{'s' if abs(off) != 1 else ''} {side} "
                    f"the shot change at {format_timestamp(Fraction(shot) / fps)}; "
                    "move it onto the shot change"
                )
    return found


def _frame(t: Fraction, fps: Fraction) -> int:
    """The frame a time falls on when shown, halves rounding up like ``timecode.snap``."""
    return math.floor(t * fps + Fraction(1, 2))


def _at(cue: Cue) -> str:
    line = f" (line {cue.source_line})" if cue.source_line is not None else ""
    return f"{format_timestamp(cue.start)}{line}"


def _s(t: Fraction) -> str:
    return f"{float(t):.3f} s"
