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
    # pass 2's target (pipeline.loudness): the profile's, fixed here so it is in the key
    loudness_lufs: float
    true_peak_dbtp: float
    loudness_lra: float


@dataclass(frozen=True)
class EndCard:
    """The branded closing card joined to a social output: composed once per case study and
    aspect ratio (``pipeline.endcard``), then scaled to each output in the main FFmpeg pass.
    Every field changes the card's pixels, so all of them are in the output's key."""

    aspect: str
    width: int  # the card's own canvas (1080 on the short side); outputs scale it
    height: int
    seconds: Fraction
    title: str
    area: str
    hashtag: str
    primary_colour: str  # background, "#RRGGBB"
    secondary_colour: str  # text
    logo: str  # image file (absolute at run time; relative to the project in golden files)
    logo_sha256: str
    # margins (top, right, bottom, left) in card pixels that text and logo keep clear of: the
    # tightest platform UI overlay for this aspect ratio
    safe: tuple[int, int, int, int]
    audio_fade: Fraction  # the cut's audio fades out over this long before the card


# What each digest in ``KeyParts`` covers, and what ``render`` says when it changes.
KEY_PARTS: tuple[tuple[str, str], ...] = (
    ("source", "source changed"),
    ("captions", "captions changed"),
    ("manifest", "manifest changed"),
    ("profile", "profile changed"),
    ("brand", "brand assets changed"),
    ("tools", "pipeline or FFmpeg version changed"),
)


@dataclass(frozen=True)
class KeyParts:
    """Digests of the inputs an output is made from, one per kind of input, so that a
    changed key can be explained ("source changed", "profile changed"). Not part of the
    key itself: the key hashes the planned job, which these inputs determine.

    - ``source``: the source file's bytes (its SHA-256);
    - ``captions``: every caption file of the case study, as read (all become sidecars);
    - ``manifest``: the manifest fields this output is resolved from: the case study's id,
      title and area, the cut's segments, framing overrides, settings layers (campaign,
      case study, output), the output entry itself, and the campaign's hashtag, brand
      colours, end card options and caption country;
    - ``profile``: the platform profile's values (sizes, limits, rates, loudness targets);
    - ``brand``: the brand files' bytes (the end card's logo);
    - ``tools``: the pipeline's and FFmpeg's versions, and the source analysis' version.
    """

    source: str = ""
    captions: str = ""
    manifest: str = ""
    profile: str = ""
    brand: str = ""
    tools: str = ""

    def changed(self, recorded: dict[str, Any]) -> tuple[str, ...]:
        """The reasons (``KEY_PARTS``) for the parts that differ from ``recorded``."""
        mine = asdict(self)
        return tuple(why for name, why in KEY_PARTS if recorded.get(name) != mine[name])


def digest(value: Any) -> str:
    """Short content hash of a JSON-able value (Fractions as 'n/d'), for ``KeyParts``."""
    text = json.dumps(_jsonable(value), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
    end_card: EndCard | None = None  # joined after the cut; ``duration`` includes it
    key: str = ""  # content hash of everything that affects the bytes; set by ``with_key``
    key_parts: KeyParts = KeyParts()  # what the key was made from, to say why it changed

    @property
    def sidecars(self) -> tuple[str, ...]:
        return tuple(path for track in self.captions for _, path in track.files)

    @property
    def content_duration(self) -> Fraction:
        """The cut's part of the output: everything before the end card."""
        return self.duration - (self.end_card.seconds if self.end_card else Fraction(0))

    @property
    def burned_track(self) -> CaptionTrackJob | None:
        return next((t for t in self.captions if t.lang == self.burn), None)

    def with_key(self, cut_key: str) -> OutputJob:
        skip = ("key", "key_parts", "notes", "shots")
        body = {k: v for k, v in _jsonable(asdict(self)).items() if k not in skip}
        if body.get("end_card"):
            # the logo's bytes are in (logo_sha256); its path is where this checkout lives
            body["end_card"] = {k: v for k, v in body["end_card"].items() if k != "logo"}
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
    deinterlace: bool = False  # the source's frames are woven fields
    tone_map: str = ""  # the source's HDR transfer ("pq", "hlg"), mapped to SDR BT.709
    # the source's YCbCr matrix where it is not BT.709 (FFmpeg's name: "bt601" for SD), and
    # whether it is full range: converted, as every output is BT.709 limited range
    colour_matrix: str = ""
    full_range: bool = False

    @property
    def duration(self) -> Fraction:
        return sum((s.duration for s in self.segments), Fraction(0))

    @property
    def name(self) -> str:
        return f"{self.case_id}/{self.cut}"


@dataclass(frozen=True)
class PosterJob:
    """One output's still images: its poster at its own size (JPEG and WebP), and the
    platform's cover where the platform takes one. The frame is chosen by score unless
    ``pinned``, and is framed as the output frames it at that moment."""

    output_path: str  # the video these images belong to
    base: str  # image path without suffix, relative to the output folder
    cut: str
    platform: str
    aspect: str
    width: int
    height: int
    strategy: str
    windows: tuple[CropWindow, ...]
    pad_ranges: tuple[tuple[Fraction, Fraction], ...]
    duration: Fraction  # the cut's part of the output (frames after it are the end card)
    pinned: Fraction | None = None  # output time from the manifest's poster_at
    cover: tuple[int, int] | None = None
    cover_max_bytes: int | None = None


@dataclass(frozen=True)
class StillsCut:
    cut: str
    segments: tuple[SegmentSpan, ...]
    fps: Fraction
    shots: tuple[Fraction, ...]  # output times of shot changes and joins


@dataclass(frozen=True)
class StillsJob:
    """Posters, covers, thumbnails and the review contact sheet of one case study: one pass
    over each cut's frames, scored once per output framing."""

    case_id: str
    title: str
    area: str
    source: str
    source_label: str
    source_sha256: str
    display_size: tuple[int, int]
    cuts: tuple[StillsCut, ...]
    posters: tuple[PosterJob, ...]
    thumbnails: int  # per aspect ratio, best first, each visually different from the others
    cover_title: bool
    primary_colour: str
    secondary_colour: str
    tool_versions: tuple[str, str] = ("", "")
    key: str = ""

    def with_key(self) -> StillsJob:
        body = {k: v for k, v in _jsonable(asdict(self)).items() if k not in ("key", "source")}
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        return replace(self, key=digest)


@dataclass(frozen=True)
class FailedCase:
    """A case study that could not be planned (e.g. its source is missing); the batch goes on."""

    case_id: str
    reason: str


@dataclass(frozen=True)
class DraftCaptions:
    """Draft captions by speech recognition (`captions: auto`), written for review: never a
    caption track of any output until the manifest names the reviewed file."""

    case_id: str
    lang: str
    file: str  # relative to the project root
    cues: int
    words: int
    engine: str
    kept: bool = False  # edited by hand since it was drafted, so not rewritten


@dataclass(frozen=True)
class Plan:
    campaign: str
    output_dir: str
    jobs: tuple[CutJob, ...]
    failed: tuple[FailedCase, ...] = ()
    case_studies: tuple[dict[str, str], ...] = field(default=())  # id, title, area, description
    stills: tuple[StillsJob, ...] = ()
    drafts: tuple[DraftCaptions, ...] = ()


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
