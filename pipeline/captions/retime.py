"""Retime a track through a cut: source cues in, output cues on the output's frame grid out.

A cut is a list of source segments ``[start, end)`` played one after another, so segment
``k`` starts in the output at the sum of the durations before it. A segment may come from
earlier in the source than the one before it, and segments may repeat source time; each
source cue is mapped through every segment it overlaps, so one cue can yield several
output cues.

Every decision that changes what a viewer reads (a fragment dropped, a cue that carries on
across a join kept as one) is returned as a note, so the build log can say why a line of
dialogue is missing from an output.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from pipeline.captions.model import Cue
from pipeline.timecode import format_timestamp, snap

# The readable minimum for a cue the cut has clipped. Netflix sets 5/6 s (20 frames at
# 24 fps) as the shortest any subtitle may be on screen (anchors §4.2); below that a
# caption reads as a flash. The BBC's 0.3 s per word (§4.1) is a reading *target* that
# depends on the text, and lint warns about it for every cue; here the question is only
# whether a fragment of a cue, whose speech the cut has mostly removed, is worth showing
# at all, so the text-independent floor is the right test.
READABLE_MINIMUM = Fraction(5, 6)


@dataclass(frozen=True)
class _Piece:
    """Part of one source cue placed in the output, before and after snapping."""

    index: int  # position of the source cue in the input, to merge its own pieces
    cue: Cue
    start: Fraction
    end: Fraction
    exact: Fraction  # unsnapped time on screen, to tell a clipped piece from a whole cue


def retime(
    cues: Sequence[Cue],
    segments: Sequence[tuple[Fraction, Fraction]],
    fps: Fraction,
    duration: Fraction,
    min_duration: Fraction = READABLE_MINIMUM,
) -> tuple[tuple[Cue, ...], tuple[str, ...]]:
    """Map ``cues`` through the cut ``segments`` onto an output of ``duration`` at ``fps``.

    Returns the output cues in start order, on the frame grid, inside ``[0, duration]``,
    with their text, speaker and sound flag untouched, plus notes on every cue dropped or
    merged. Cues outside every segment are simply gone: the cut removed their speech.

    A piece the cut or the output's end has clipped to less than ``min_duration`` is
    dropped rather than merged into a neighbour: its words belong to speech the cut mostly
    removed, and merging would keep them on screen longer and change the neighbour's text.
    The one merge is of a cue with itself: two pieces of the same source cue that meet at a
    join (a jump cut inside a sentence) stay one cue instead of blinking off and on.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, not {fps}")
    if duration < 0:
        raise ValueError(f"duration must not be negative, not {duration}")
    for start, end in segments:
        if end <= start:
            raise ValueError(f"segment [{start}, {end}) is empty")

    # Stable sort: cues that start together keep the author's order.
    order = sorted(range(len(cues)), key=lambda i: cues[i].start)
    # The last whole frame boundary: snapping must not carry an end past the output's end.
    last = Fraction(math.floor(duration * fps)) / fps
    pieces: list[_Piece] = []
    offset = Fraction(0)
    for seg_start, seg_end in segments:
        for i in order:
            cue = cues[i]
            start, end = max(cue.start, seg_start), min(cue.end, seg_end)
            if start < end:
                out_start, out_end = offset + start - seg_start, offset + end - seg_start
                pieces.append(
                    _Piece(
                        i,
                        cue,
                        snap(out_start, fps),
                        min(snap(out_end, fps), last),
                        min(out_end, duration) - out_start,
                    )
                )
        offset += seg_end - seg_start

    notes: list[str] = []
    kept: list[Cue] = []
    after_end = [p for p in pieces if p.start >= last]
    if after_end:
        notes.append(_after_end_note(after_end, duration))
    for piece in _merge_continuations([p for p in pieces if p.start < last], notes):
        cue, shown = piece.cue, piece.end - piece.start
        if shown <= 0:
            notes.append(
                f"cue {describe(cue)} would last under one frame at {_fps(fps)} fps: dropped"
            )
        # Clipped means the cut took at least a frame away: less is lost in snapping anyway,
        # and the output's end, a whole number of frames, may shave a cue by a fraction.
        elif cue.duration - piece.exact >= 1 / fps and shown < min_duration:
            notes.append(
                f"cue {describe(cue)} clipped by the cut to {_seconds(shown)}, under the "
                f"{_seconds(min_duration)} readable minimum: dropped"
            )
        else:
            kept.append(replace(cue, start=piece.start, end=piece.end))
    return tuple(kept), tuple(notes)


def _merge_continuations(pieces: Iterable[_Piece], notes: list[str]) -> list[_Piece]:
    """Join consecutive pieces of one source cue that meet exactly in the output."""
    merged: list[_Piece] = []
    for piece in pieces:
        prev = merged[-1] if merged else None
        if prev is not None and prev.index == piece.index and prev.end == piece.start:
            merged[-1] = replace(prev, end=piece.end, exact=prev.exact + piece.exact)
            notes.append(
                f"cue {describe(piece.cue)} carries on across the join at "
                f"{format_timestamp(piece.start)}: merged with itself into one cue"
            )
        else:
            merged.append(piece)
    return merged


def _after_end_note(pieces: Sequence[_Piece], duration: Fraction) -> str:
    n = len(pieces)
    return (
        f"{n} cue{'s' if n != 1 else ''} after the output's end at {format_timestamp(duration)} "
        f"dropped, the first {describe(pieces[0].cue)}"
    )


def describe(cue: Cue) -> str:
    """A cue as a reader finds it: its line in the caption file and its times."""
    times = f"{format_timestamp(cue.start)}-{format_timestamp(cue.end)}"
    return times if cue.source_line is None else f"at line {cue.source_line} ({times})"


def _seconds(t: Fraction) -> str:
    return f"{float(t):.3f} s"


def _fps(fps: Fraction) -> str:
    return str(fps.numerator) if fps.denominator == 1 else f"{float(fps):.3f}"
