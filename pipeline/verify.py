"""Verify: read every output back and check it against its platform's rules.

A failed check fails the output, which keeps it out of publishing and the index.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from pipeline.captions.fonts import glyph_warnings
from pipeline.captions.lint import lint
from pipeline.errors import PipelineError
from pipeline.jobs import OutputJob
from pipeline.probe import OutputFacts, inspect_output
from pipeline.profiles import PROFILES


@dataclass(frozen=True)
class CheckResult:
    path: str
    passed: bool
    failures: tuple[str, ...]
    caption_warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Mp4Facts:
    """What the probe does not report but platforms reject: edit lists, non-LC AAC."""

    edit_lists: int
    audio_profile: str


def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of each box in ``data``, one level deep."""
    found, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[pos + 8 : pos + 16])[0], 16
        elif size == 0:
            size = len(data) - pos
        if size < header:
            break
        found.append((kind, data[pos + header : pos + size]))
        pos += size
    return found


def _moov(path: Path) -> bytes:
    """The top-level moov box's payload, skipping over mdat without reading it."""
    with path.open("rb") as fh:
        while header := fh.read(16):
            if len(header) < 8:
                break
            size, kind = struct.unpack(">I4s", header[:8])
            skip = 8
            if size == 1 and len(header) == 16:
                size, skip = struct.unpack(">Q", header[8:16])[0], 16
            if size < skip:  # size 0 (to end of file) or garbage: nothing after it to find
                break
            if kind == b"moov":
                fh.seek(fh.tell() - len(header) + skip)
                return fh.read(size - skip)
            fh.seek(fh.tell() - len(header) + size)
    return b""


def _edit_lists(path: Path) -> int:
    """Number of ``elst`` boxes in moov/trak/edts."""
    return sum(
        1
        for kind, trak in _boxes(_moov(path))
        if kind == b"trak"
        for kind2, edts in _boxes(trak)
        if kind2 == b"edts"
        for kind3, _ in _boxes(edts)
        if kind3 == b"elst"
    )


def _mp4_facts(path: Path) -> _Mp4Facts:
    with av.open(str(path)) as c:
        audio = c.streams.audio[0].codec_context.profile if c.streams.audio else None
    return _Mp4Facts(_edit_lists(path), str(audio or ""))


def _rules(out: OutputJob, f: OutputFacts, mp4: _Mp4Facts) -> list[str]:
    profile = PROFILES[out.platform]
    failures = []

    def rule(ok: bool, name: str, value: object, limit: object) -> None:
        if not ok:
            failures.append(f"{name}: {value} (rule: {limit})")

    rule(
        (f.width, f.height) == (out.width, out.height),
        "dimensions",
        f"{f.width}x{f.height}",
        f"{out.width}x{out.height} for {out.aspect} on {profile.label}",
    )
    frame = 1 / out.fps
    rule(
        abs(f.duration - out.duration) <= frame,
        "duration",
        f"{float(f.duration):.3f} s",
        f"{float(out.duration):.3f} s within one frame",
    )
    rule(
        f.duration >= profile.min_duration,
        "minimum duration",
        f"{float(f.duration):.3f} s",
        f">= {float(profile.min_duration)} s",
    )
    if profile.max_duration is not None:
        rule(
            f.duration <= profile.max_duration,
            "maximum duration",
            f"{float(f.duration):.3f} s",
            f"<= {float(profile.max_duration)} s",
        )
    rule(
        f.bytes <= profile.max_bytes,
        "file size",
        f"{f.bytes} bytes",
        f"<= {profile.max_bytes} bytes",
    )
    rule(f.video_codec == "h264", "video codec", f.video_codec, "h264")
    rule(
        f.video_profile.lower() == profile.h264_profile,
        "H.264 profile",
        f.video_profile,
        profile.h264_profile,
    )
    rule(f.pix_fmt == "yuv420p", "pixel format", f.pix_fmt, "yuv420p")
    rule(
        profile.min_fps <= f.fps <= profile.max_fps,
        "frame rate",
        f"{float(f.fps):.3f}",
        f"{float(profile.min_fps):.3f}-{float(profile.max_fps):.3f} fps",
    )
    rule(
        abs(f.fps - out.fps) < Fraction(1, 1000),
        "frame rate",
        f"{float(f.fps):.3f}",
        f"{float(out.fps):.3f} constant",
    )
    rule(f.audio_codec == "aac", "audio codec", f.audio_codec, "aac")
    rule(f.audio_rate == profile.audio_rate, "audio sample rate", f.audio_rate, profile.audio_rate)
    rule(
        f.audio_channels == profile.audio_channels,
        "audio channels",
        f.audio_channels,
        profile.audio_channels,
    )
    rule(mp4.audio_profile == "LC", "AAC profile", mp4.audio_profile, "LC")
    rule(f.moov_before_mdat, "faststart", "moov after mdat", "moov before mdat")
    # Timing must come from the samples alone: Reels rejects edit lists, and players that
    # ignore them would play audio and video out of step.
    rule(mp4.edit_lists == 0, "edit lists", mp4.edit_lists, "none")
    return failures


def caption_warnings(out: OutputJob, out_dir: Path) -> list[str]:
    """Lint each caption track as delivered, and check its sidecars are in place."""
    warnings = []
    for track in out.captions:
        warnings += [f"{track.lang}: {w}" for w in lint(track.cues, out.fps)]
        for fmt, rel in track.files:
            if not (out_dir / rel).is_file():
                warnings.append(f"{track.lang}: {fmt} sidecar {rel} is missing")
    burned = out.burned_track
    if burned is not None:
        warnings += glyph_warnings(burned.cues, f"{burned.lang} burned-in captions")
    return warnings


def verify_output(out: OutputJob, out_dir: Path, strict_captions: bool = False) -> CheckResult:
    """Check one rendered output; caption lint findings fail it only with ``strict_captions``."""
    path = out_dir / out.path
    try:
        facts = inspect_output(path)
    except PipelineError as exc:
        return CheckResult(out.path, False, (str(exc),))
    failures = _rules(out, facts, _mp4_facts(path))
    notes = tuple(caption_warnings(out, out_dir))
    missing_sidecar = [n for n in notes if n.endswith("is missing")]
    failures += missing_sidecar
    if strict_captions:
        failures += [
            f"caption lint (--strict-captions): {n}" for n in notes if n not in missing_sidecar
        ]
    return CheckResult(out.path, not failures, tuple(failures), notes)
