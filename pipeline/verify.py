"""Verify: read every output back and check it against its platform's rules.

A failed check fails the output, which keeps it out of publishing and the index.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.jobs import OutputJob
from pipeline.probe import OutputFacts, inspect_output
from pipeline.profiles import PROFILES


@dataclass(frozen=True)
class CheckResult:
    path: str
    passed: bool
    failures: tuple[str, ...]


def _rules(out: OutputJob, f: OutputFacts) -> list[str]:
    profile = PROFILES[out.platform]
    failures = []

    def rule(ok: bool, name: str, value: object, limit: object) -> None:
        if not ok:
            failures.append(f"{name}: {value} (rule: {limit})")

    rule((f.width, f.height) == (out.width, out.height), "dimensions", f"{f.width}x{f.height}",
         f"{out.width}x{out.height} for {out.aspect} on {profile.label}")
    frame = 1 / out.fps
    rule(abs(f.duration - out.duration) <= frame, "duration", f"{float(f.duration):.3f} s",
         f"{float(out.duration):.3f} s within one frame")
    rule(f.duration >= profile.min_duration, "minimum duration", f"{float(f.duration):.3f} s",
         f">= {float(profile.min_duration)} s")
    if profile.max_duration is not None:
        rule(f.duration <= profile.max_duration, "maximum duration", f"{float(f.duration):.3f} s",
             f"<= {float(profile.max_duration)} s")
    rule(f.bytes <= profile.max_bytes, "file size", f"{f.bytes} bytes", f"<= {profile.max_bytes} bytes")
    rule(f.video_codec == "h264", "video codec", f.video_codec, "h264")
    rule(f.video_profile.lower() == profile.h264_profile, "H.264 profile", f.video_profile, profile.h264_profile)
    rule(f.pix_fmt == "yuv420p", "pixel format", f.pix_fmt, "yuv420p")
    rule(profile.min_fps <= f.fps <= profile.max_fps, "frame rate", f"{float(f.fps):.3f}",
         f"{float(profile.min_fps):.3f}-{float(profile.max_fps):.3f} fps")
    rule(abs(f.fps - out.fps) < Fraction(1, 1000), "frame rate", f"{float(f.fps):.3f}", f"{float(out.fps):.3f} constant")
    rule(f.audio_codec == "aac", "audio codec", f.audio_codec, "aac")
    rule(f.audio_rate == profile.audio_rate, "audio sample rate", f.audio_rate, profile.audio_rate)
    rule(f.audio_channels == profile.audio_channels, "audio channels", f.audio_channels, profile.audio_channels)
    rule(f.moov_before_mdat, "faststart", "moov after mdat", "moov before mdat")
    return failures


def verify_output(out: OutputJob, out_dir: Path) -> CheckResult:
    path = out_dir / out.path
    try:
        facts = inspect_output(path)
    except PipelineError as exc:
        return CheckResult(out.path, False, (str(exc),))
    failures = tuple(_rules(out, facts))
    return CheckResult(out.path, not failures, failures)
