"""The plan's vocabulary: frozen values that say everything about each output.

Jobs are data, not behaviour: ``plan`` makes them, ``render`` executes them, ``verify``,
``publish`` and ``index`` read them. They pickle, so they can go to a worker process.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from typing import Any

from pipeline.captions.model import Cue
from pipeline.framing import CropWindow


@dataclass(frozen=True)
class CaptionTrackJob:
    """One language's captions for one output: retimed through its cut, reflowed for its frame."""

    lang: str
    cues: tuple[Cue, ...]
    files: tuple[tuple[str, str], ...]  # (format, path relative to the output folder)
    notes: tuple[str, ...] = ()  # what retiming and reflow dropped, merged or split


@dataclass(frozen=True)
class Encode:
    preset: str
    crf: int
    profile: str
    level: str
    maxrate_kbps: int
    bufsize_kbps: int
    keyint: int  # frames between IDR frames (closed GOP)
    audio_kbps: int
    audio_rate: int
    audio_channels: int


@dataclass(frozen=True)
class OutputJob:
    """One file: a platform's encode of one cut at one aspect ratio."""

    case_id: str
    cut: str
    platform: str
    aspect: str
    width: int
    height: int
    fps: Fraction
    duration: Fraction  # exact: a whole number of frames at ``fps``
    strategy: str  # name in the aspect-strategy registry
    windows: tuple[CropWindow, ...]  # the crop path; empty for "pad"
    encode: Encode
    path: str  # relative to the output folder, '/'-separated
    notes: tuple[str, ...] = ()
    captions: tuple[CaptionTrackJob, ...] = ()
    burn: str | None = None  # language burned into the picture, if any
    pad_ranges: tuple[tuple[Fraction, Fraction], ...] = ()  # output times blur-padded ("auto")
    shots: tuple[Fraction, ...] = ()  # output times of shot changes and joins (not in the key)
    key: str = ""  # content hash of everything that affects the bytes; set by ``with_key``

    @property
    def sidecars(self) -> tuple[str, ...]:
        return tuple(path for track in self.captions for _, path in track.files)

    @property
    def burned_track(self) -> CaptionTrackJob | None:
        return next((t for t in self.captions if t.lang == self.burn), None)

    def with_key(self, cut_key: str) -> OutputJob:
        skip = ("key", "notes", "shots")
        body = {k: v for k, v in _jsonable(asdict(self)).items() if k not in skip}
        digest = hashlib.sha256(json.dumps([cut_key, body], sort_keys=True).encode()).hexdigest()
        return replace(self, key=digest)


@dataclass(frozen=True)
class SegmentSpan:
    """A source range snapped to the source's frame grid."""

    start: Fraction
    end: Fraction

    @property
    def duration(self) -> Fraction:
        return self.end - self.start


@dataclass(frozen=True)
class CutJob:
    """One FFmpeg process: a cut of one source, split into all its outputs."""

    case_id: str
    cut: str
    source: str  # path as given to FFmpeg (absolute at run time; relative in golden files)
    source_label: str  # for messages: relative to the project root
    source_sha256: str
    source_fps: Fraction
    display_size: tuple[int, int]  # square-pixel picture size after rotation
    needs_square_pixels: bool
    has_audio: bool
    segments: tuple[SegmentSpan, ...]
    fps: Fraction  # the cut's conformed constant frame rate
    outputs: tuple[OutputJob, ...]
    notes: tuple[str, ...] = ()
    tool_versions: tuple[str, str] = ("", "")  # (pipeline, ffmpeg): part of every key
    key: str = ""

    @property
    def duration(self) -> Fraction:
        return sum((s.duration for s in self.segments), Fraction(0))

    @property
    def name(self) -> str:
        return f"{self.case_id}/{self.cut}"


@dataclass(frozen=True)
class FailedCase:
    """A case study that could not be planned (e.g. its source is missing); the batch goes on."""

    case_id: str
    reason: str


@dataclass(frozen=True)
class Plan:
    campaign: str
    output_dir: str
    jobs: tuple[CutJob, ...]
    failed: tuple[FailedCase, ...] = ()
    case_studies: tuple[dict[str, str], ...] = field(default=())  # id, title, area, description


def cut_key(job: CutJob) -> str:
    body = {
        k: v
        for k, v in _jsonable(asdict(job)).items()
        if k not in ("key", "outputs", "notes", "source", "source_label")
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def to_jsonable(value: Any) -> Any:
    """Plain JSON view of a job (Fractions as 'n/d'), for ``plan --json`` and golden files."""
    return _jsonable(asdict(value))
