"""Plan each output's captions (pure): retime every language through the cut, reflow it for
the output's frame, name its sidecar files, and choose which language, if any, to burn in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import PurePosixPath

from pipeline.captions.layout import caption_layout
from pipeline.captions.model import Cue, Track
from pipeline.captions.reflow import reflow
from pipeline.captions.retime import retime
from pipeline.captions.sidecar import sidecar_names
from pipeline.jobs import CaptionTrackJob, OutputJob, SegmentSpan
from pipeline.settings import Resolved


def _reflow(
    cues: Sequence[Cue], max_chars: int, max_lines: int
) -> tuple[tuple[Cue, ...], list[str]]:
    """Reflow cue by cue, leaving room on the line for a speaker's "Name: " label, which
    the sidecars and the burned-in text put in front of the first line."""
    out: list[Cue] = []
    notes: list[str] = []
    for cue in cues:
        room = max_chars - (len(cue.speaker) + 2 if cue.speaker else 0)
        pieces, said = reflow([cue], max(room, max_chars // 2), max_lines)
        out += pieces
        notes += said
    return tuple(out), notes


def plan_captions(
    out: OutputJob,
    tracks: Mapping[str, Track],
    segments: Sequence[SegmentSpan],
    cut_fps: Fraction,
    settings: Resolved,
    country: str,
) -> tuple[tuple[CaptionTrackJob, ...], str | None, str | None]:
    """Return (caption tracks, language to burn or None, problem or None) for one output."""
    if not tracks:
        return (), None, None
    style = caption_layout(out.width, out.height, out.aspect)
    path = PurePosixPath(out.path)
    # Each segment lasts what the renderer makes of it: whole frames at the cut's rate. With
    # a conformed rate (989/33 -> 30000/1001) that differs from end - start in the source.
    spans = [(s.start, s.start + round(s.duration * cut_fps) / cut_fps) for s in segments]
    planned = []
    for lang, track in tracks.items():
        cues, retimed = retime(track.cues, spans, out.fps, out.content_duration)
        cues, reflowed = _reflow(cues, style.max_chars, style.max_lines)
        names = sidecar_names(path.stem, lang, country)
        files = tuple((fmt, str(path.with_name(names[fmt]))) for fmt in sorted(names))
        planned.append(CaptionTrackJob(lang, cues, files, (*track.warnings, *retimed, *reflowed)))
    if not settings.burn_captions:
        return tuple(planned), None, None
    burn = settings.caption_language or next(iter(tracks))
    if burn not in tracks:
        return (
            tuple(planned),
            None,
            f"caption_language {burn!r} has no caption file (available: {', '.join(tracks)})",
        )
    return tuple(planned), burn, None
