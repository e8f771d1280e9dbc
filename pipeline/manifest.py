"""The manifest schema: campaign file and case-study files, as pydantic v2 models.

These models only describe shape and local rules (types, ranges, names). Rules that need
the file system or several files at once (paths, duplicate ids) live in ``manifest_load``;
rules that need the probed source (segments past the end) live in ``plan``.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ByteSize,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from pipeline.profiles import ASPECTS, PROFILES
from pipeline.timecode import TIMESTAMP_FORMATS, format_timestamp, parse_timestamp

SLUG = r"^[a-z0-9][a-z0-9-]*[a-z0-9]$"
SLUG_RULE = "use lower-case letters, digits and '-', starting and ending with a letter or digit"
HASHTAG = r"^#\w+$"
LANGUAGE = r"[a-z]{2,3}(-([A-Z]{2}|[0-9]{3}))?"  # language, optional region (en, cy, en-GB)
# What each pattern means, in words, for error messages (the regex stays in the JSON Schema).
# S3's own rules for bucket names (AWS, MinIO and R2 share them).
BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
HTTP_URL = r"^https?://[^\s/?#]+[^\s?#]*$"
REGION = r"^[a-z0-9-]+$"
PATTERN_RULES = {
    SLUG: SLUG_RULE,
    BUCKET: "a bucket name is 3-63 lower-case letters, digits, '.' and '-', starting and "
    "ending with a letter or digit",
    HTTP_URL: "use an http:// or https:// URL without a query",
    REGION: "use a region name such as eu-west-2 (or auto for Cloudflare R2)",
    HASHTAG: "use '#' followed by letters, digits or '_' (e.g. #PCCsPreventingCrime)",
}
# No "ultrafast": it turns off CABAC and 8x8 transforms, so x264 can only signal Main
# profile and every platform profile here promises High.
X264_PRESETS = (
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)
Strategy = Literal["auto", "crop", "pad"]


# One problem a validator found below its own model: (location relative to it, message).
SubProblem = tuple[tuple[str | int, ...], str]


class FieldProblems(ValueError):
    """Raised by a validator that knows which nested fields are wrong.

    Pydantic places a validator's error at the model it validates; the loader reads
    ``problems`` from the error's context to report each one at its own field and line.
    """

    def __init__(self, problems: list[SubProblem] | tuple[SubProblem, ...]):
        self.problems = tuple(problems)
        super().__init__("; ".join(msg for _, msg in self.problems))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.problems,))


def _timestamp(value: Any) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{value!r} is not a timestamp ({TIMESTAMP_FORMATS})")
        if value < 0:
            raise ValueError(
                f"{value!r} is negative; times count from the start of the source, so 0 or more"
            )
    return parse_timestamp(value)


Timestamp = Annotated[
    Fraction,
    BeforeValidator(_timestamp),
    PlainSerializer(lambda t: format_timestamp(t), return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {
                    "type": "string",
                    "pattern": r"^(\d+:)?\d{1,2}:\d{1,2}(\.\d{1,3})?$|^\d+(\.\d+)?$",
                },
            ],
            "description": f"A time in the source: {TIMESTAMP_FORMATS}",
        }
    ),
]


def _path_text(v: str) -> str:
    # An empty path would name the manifests folder itself; a NUL byte cannot be in a file
    # name and makes the file system calls that check the path raise.
    if not v.strip():
        raise ValueError("a path cannot be empty")
    if "\x00" in v:
        raise ValueError(f"{v!r} holds a NUL character, which no file name can")
    return v


# A file or folder a manifest names. Where it may point is checked in ``manifest_load``.
PathText = Annotated[str, AfterValidator(_path_text)]


class Strict(BaseModel):
    """Unknown keys are errors: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Focus(Strict):
    """Point to keep in frame when cropping, as fractions of the source picture (0..1)."""

    x: float = Field(0.5, ge=0.0, le=1.0)
    y: float = Field(0.5, ge=0.0, le=1.0)


class Encoder(Strict):
    preset: Literal[X264_PRESETS] | None = Field(  # type: ignore[valid-type]
        None, description="x264 preset: slower presets give smaller files for the same quality"
    )
    crf: int | None = Field(None, ge=0, le=51, description="x264 constant rate factor (quality)")


class Settings(Strict):
    """Per-output settings that layer: pipeline default < campaign < case study < output."""

    strategy: Strategy | None = Field(
        None,
        description="auto (default): follow faces, or what moves, shot by shot, and blur-pad "
        "the shots whose subjects cannot fit; crop: always crop (at the focus point when one "
        "is given); pad: fit the whole picture over a blurred copy",
    )
    focus: Focus | None = None
    encoder: Encoder | None = None
    burn_captions: bool | None = Field(
        None,
        description="Burn captions into the picture (default: on for social platforms, off for "
        "web and YouTube, where players show the sidecar)",
    )
    caption_language: str | None = Field(
        None,
        description="Which caption language to burn in (default: the first listed)",
        pattern=r"^[a-z]{2,3}(-([A-Z]{2}|[0-9]{3}))?$",
    )
    end_card: bool | None = Field(
        None,
        description="End with the campaign's branded card (default: on for social platforms, "
        "off for the web page)",
    )


class Brand(Strict):
    font: PathText | None = Field(None, description="Font file, relative to the campaign file")
    primary_colour: str = "#1D3C78"
    secondary_colour: str = "#FFFFFF"
    logo: PathText | None = Field(None, description="Logo image, relative to the campaign file")

    @field_validator("primary_colour", "secondary_colour")
    @classmethod
    def _hex(cls, v: str) -> str:
        if not re.fullmatch(r"#[0-9A-Fa-f]{6}", v):
            raise ValueError(f"{v!r} is not a colour; use #RRGGBB")
        return v.upper()


def _platform(v: Any) -> str:
    if not isinstance(v, str) or v not in PROFILES:
        raise ValueError(f"{v!r} is not a known platform (allowed: {', '.join(PROFILES)})")
    return v


def _aspect(v: Any) -> str:
    if not isinstance(v, str) or v not in ASPECTS:
        raise ValueError(f"{v!r} is not a known aspect ratio (allowed: {', '.join(ASPECTS)})")
    return v


Platform = Annotated[str, BeforeValidator(_platform), WithJsonSchema({"enum": list(PROFILES)})]
Aspect = Annotated[str, BeforeValidator(_aspect), WithJsonSchema({"enum": list(ASPECTS)})]


class EndCardOptions(Strict):
    seconds: float = Field(
        3.0, ge=1.0, le=10.0, description="How long the card shows; counts toward platform limits"
    )
    audio_fade: float = Field(
        1.0, ge=0.0, le=5.0, description="The cut's sound fades out over this long before the card"
    )


class StillsOptions(Strict):
    enabled: bool = Field(
        True, description="Write posters, covers, thumbnails and contact sheets with the videos"
    )
    thumbnails: int = Field(
        3, ge=1, le=10, description="Thumbnails per case study and aspect ratio, best first"
    )
    cover_title: bool = Field(
        True, description="Put the case study's title on platform covers (YouTube, Reels)"
    )


MiB = 1024 * 1024
# SigV4 presigned URLs live at most 7 days.
MAX_PRESIGN_S = 7 * 24 * 3600


def _prefix(v: str) -> str:
    """Keys are ``<prefix>/<path>``: the prefix is written with or without slashes around it,
    and must not climb out of itself or hold empty segments."""
    v = v.strip("/")
    parts = v.split("/") if v else []
    if any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"{v!r} is not a key prefix: no empty, '.' or '..' segments")
    return v


# A size in bytes, or with a unit: 8MiB, 64 MB, 1.5GiB (pydantic's ByteSize reads it).
Size = Annotated[
    ByteSize,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*[A-Za-z]*\s*$"},
            ]
        }
    ),
]


class UploadSettings(Strict):
    """How files are sent to S3: boto3's transfer manager and botocore's own retries."""

    multipart_threshold: Size = Field(
        ByteSize(8 * MiB),
        description="Files this size or larger go up in parts, several at once, each part "
        "checksummed (e.g. 8MiB, 64MB, or bytes)",
    )
    multipart_chunksize: Size = Field(
        ByteSize(8 * MiB),
        description="Size of each part (S3 allows 5 MiB to 5 GiB; raised automatically for "
        "files that would need more than 10,000 parts)",
    )
    max_concurrency: int = Field(
        8, ge=1, le=64, description="Requests at once, across files and parts"
    )
    retry_mode: Literal["standard", "adaptive"] = Field(
        "standard",
        description="botocore's retry mode: standard retries throttling, 5xx and dropped "
        "connections with jittered exponential backoff; adaptive also slows the client down "
        "while the service throttles",
    )
    max_attempts: int = Field(
        5, ge=1, le=20, description="Attempts per request, the first included"
    )
    connect_timeout_s: float = Field(10.0, gt=0, le=300, description="Seconds to connect")
    read_timeout_s: float = Field(
        60.0, gt=0, le=3600, description="Seconds to wait for each response"
    )

    @field_validator("multipart_chunksize")
    @classmethod
    def _part_limits(cls, v: ByteSize) -> ByteSize:
        if not 5 * MiB <= v <= 5 * 1024 * MiB:
            raise ValueError(f"{v.human_readable()} is not a part size S3 takes (5MiB to 5GiB)")
        return v


class StorageSettings(Strict):
    """Where publish puts the rendered files and the index. Every field can be overridden
    by an environment variable (see the README); credentials never go here."""

    backend: Literal["local", "s3"] = Field(
        "local",
        description="local (default): the output folder is what is published, with relative "
        "URLs; s3: any S3-compatible store (AWS S3, MinIO, Cloudflare R2, ...)",
    )
    bucket: str | None = Field(None, pattern=BUCKET, description="Bucket name (s3)")
    prefix: Annotated[str, AfterValidator(_prefix)] = Field(
        "", description="Folder inside the bucket for this campaign's keys, e.g. campaign"
    )
    region: str | None = Field(
        None,
        pattern=REGION,
        description="Region (default: boto3's, from AWS_REGION / AWS_DEFAULT_REGION or the "
        "profile); R2 takes 'auto'",
    )
    endpoint_url: str | None = Field(
        None,
        pattern=HTTP_URL,
        description="S3 endpoint for anything but AWS, e.g. http://minio.local:9000 or "
        "https://<account>.r2.cloudflarestorage.com (default: boto3's, which also reads "
        "AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL)",
    )
    addressing_style: Literal["auto", "path", "virtual"] = Field(
        "auto",
        description="path: endpoint/bucket/key (MinIO); virtual: bucket.endpoint/key; "
        "auto: boto3 decides",
    )
    public_base_url: str | None = Field(
        None,
        pattern=HTTP_URL,
        description="Public base URL (a CDN or the bucket's public domain) that the index's "
        "URLs start with, followed by the object's key; default: the bucket's own URL",
    )
    urls: Literal["public", "presigned"] = Field(
        "public",
        description="public: plain URLs, for a bucket or CDN that anyone may read; "
        "presigned: signed URLs to private objects that expire after presign_expires_s",
    )
    presign_expires_s: int = Field(
        MAX_PRESIGN_S,
        ge=60,
        le=MAX_PRESIGN_S,
        description="Lifetime of presigned URLs in seconds (at most 7 days); publish again "
        "to renew them",
    )
    upload: UploadSettings = UploadSettings()

    @field_validator("public_base_url")
    @classmethod
    def _no_trailing_slash(cls, v: str | None) -> str | None:
        return v.rstrip("/") if v else v


class Campaign(Strict):
    name: str = Field(min_length=1)
    hashtag: str = Field(pattern=HASHTAG)
    brand: Brand = Brand()
    default_platforms: list[Platform] = Field(
        default_factory=list,
        description="Platforms for case studies that list no outputs (first cut, every aspect)",
    )
    output_dir: PathText = Field("out", description="Output folder, relative to the project root")
    media_roots: list[PathText] = Field(
        default_factory=list,
        description="Folders outside the project where source footage may also live (e.g. "
        "a shared drive), each relative to the project root or absolute. Sources must be "
        "inside the project root or one of these, after following symlinks; caption, font "
        "and logo files must be inside the project root. Default: none",
    )
    caption_country: str = Field(
        "GB",
        pattern=r"^[A-Z]{2}$",
        description="Country for caption file names where a platform wants one "
        "(Facebook: name.en_GB.srt) and the language code gives none",
    )
    defaults: Settings = Settings()
    end_card: EndCardOptions = EndCardOptions()
    stills: StillsOptions = StillsOptions()
    storage: StorageSettings = Field(
        StorageSettings(),
        description="Where `publish` (and `render --publish`) puts the files and index.json "
        "(default: the local output folder)",
    )


class Segment(Strict):
    """One source range ``[in, out]``; segments of a cut are joined in order."""

    start: Timestamp
    end: Timestamp

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise ValueError(
                    f"a segment is [in, out], e.g. [0:05, 0:12.5]; got {len(value)} value(s): "
                    f"{list(value)!r}"
                )
            return {"start": value[0], "end": value[1]}
        if not isinstance(value, dict):
            raise ValueError(f"a segment is [in, out], e.g. [0:05, 0:12.5]; got {value!r}")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Segment:
        if self.end <= self.start:
            raise ValueError(
                f"out point {format_timestamp(self.end)} is not after in point "
                f"{format_timestamp(self.start)}"
            )
        return self

    @property
    def duration(self) -> Fraction:
        return self.end - self.start


class FramingRange(Strict):
    """An override for part of the source: ``at: [in, out]`` in source time, like a segment."""

    at: Segment
    strategy: Strategy | None = Field(None, description="strategy for this range")
    focus: Focus | None = Field(
        None, description="hold the crop on this point for this range (implies crop)"
    )

    @model_validator(mode="after")
    def _says_something(self) -> FramingRange:
        if self.strategy is None and self.focus is None:
            raise ValueError("a framing range needs a strategy, a focus, or both")
        if self.strategy == "pad" and self.focus is not None:
            raise ValueError("a focus point means nothing with strategy pad")
        return self


class Output(Settings):
    platform: Platform
    cut: str
    aspects: list[Aspect] = Field(min_length=1)
    fit: Literal["error", "trim"] = Field(
        "error",
        description="What to do when the cut is longer than the platform allows: "
        "'error' stops, 'trim' keeps the first part up to the limit",
    )
    framing: list[FramingRange] = Field(
        default_factory=list,
        description="Framing overrides for ranges of the source, on top of the case study's",
    )
    poster_at: Timestamp | None = Field(
        None,
        description="Pin this output's poster to a time in the cut (from the cut's start) "
        "instead of choosing the best frame",
    )

    @model_validator(mode="after")
    def _aspects_allowed(self) -> Output:
        profile = PROFILES[self.platform]
        problems: list[SubProblem] = []
        seen: set[str] = set()
        for i, aspect in enumerate(self.aspects):
            if aspect not in profile.aspects:
                problems.append(
                    (
                        ("aspects", i),
                        f"{aspect!r} is not an aspect ratio {profile.label} takes "
                        f"(allowed for {self.platform}: {', '.join(profile.aspects)})",
                    )
                )
            elif aspect in seen:
                problems.append((("aspects", i), f"{aspect!r} is listed twice"))
            seen.add(aspect)
        if problems:
            raise FieldProblems(problems)
        return self


# `captions: auto`: draft captions by recognising the speech, in this language by default
AUTO, AUTO_LANGUAGE = "auto", "en"


class CaseStudy(Strict):
    id: str = Field(pattern=SLUG, min_length=2, max_length=64)
    title: str = Field(min_length=1)
    area: str = Field(min_length=1, description="PCC area, e.g. 'Avon and Somerset'")
    description: str = ""
    source: PathText = Field(
        description="Source footage, relative to this manifest; inside the project root or "
        "one of the campaign's media_roots"
    )
    captions: dict[str, PathText] = Field(
        default_factory=dict,
        description="Captions per language code: a timed caption file (.vtt, .srt), or a "
        "plain-text transcript (.txt) aligned to the speech, relative to this manifest and "
        "inside the project root; or `auto` to draft captions by speech recognition "
        "(`captions: auto` is `captions: {en: auto}`). Drafts are written next to the "
        "manifest as <id>.<lang>.draft.vtt and never burned in or published until the "
        "manifest names the reviewed file instead of `auto`",
    )
    cuts: dict[str, list[Segment]] = Field(min_length=1)
    defaults: Settings = Settings()
    framing: list[FramingRange] = Field(
        default_factory=list,
        description="Framing overrides for ranges of the source, for every output: "
        "e.g. {at: [0:12, 0:15], focus: {x: 0.3}} or {at: [0:20, 0:24], strategy: pad}",
    )
    outputs: list[Output] = Field(default_factory=list)
    poster_at: dict[str, Timestamp] = Field(
        default_factory=dict,
        description="Pin posters and thumbnails of a cut to a time in it (from the cut's "
        "start), per cut name, instead of choosing the best frame",
    )

    @field_validator("cuts")
    @classmethod
    def _cut_names(cls, v: dict[str, list[Segment]]) -> dict[str, list[Segment]]:
        problems: list[SubProblem] = []
        for name, segments in v.items():
            if not re.fullmatch(SLUG, name):
                problems.append(((name,), f"cut name {name!r} is not allowed: {SLUG_RULE}"))
            if not segments:
                problems.append(
                    ((name,), f"cut {name!r} has no segments; list at least one [in, out]")
                )
        if problems:
            raise FieldProblems(problems)
        return v

    @field_validator("captions", mode="before")
    @classmethod
    def _auto(cls, v: Any) -> Any:
        return {AUTO_LANGUAGE: AUTO} if v == AUTO else v

    @field_validator("captions")
    @classmethod
    def _languages(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [lang for lang in v if not re.fullmatch(LANGUAGE, lang)]
        if bad:
            raise FieldProblems(
                [
                    ((lang,), f"{lang!r} is not a language code (use e.g. en, cy, en-GB)")
                    for lang in bad
                ]
            )
        return v

    @model_validator(mode="after")
    def _cuts_exist(self) -> CaseStudy:
        problems: list[SubProblem] = [
            (
                ("outputs", i, "cut"),
                f"cut {out.cut!r} is not defined in cuts (defined: {', '.join(self.cuts)})",
            )
            for i, out in enumerate(self.outputs)
            if out.cut not in self.cuts
        ]
        problems += [
            (
                ("poster_at", cut),
                f"cut {cut!r} is not defined in cuts (defined: {', '.join(self.cuts)})",
            )
            for cut in self.poster_at
            if cut not in self.cuts
        ]
        if problems:
            raise FieldProblems(problems)
        return self


def json_schemas() -> dict[str, dict[str, Any]]:
    return {
        "campaign": Campaign.model_json_schema(),
        "case-study": CaseStudy.model_json_schema(),
    }
