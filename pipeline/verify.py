"""Verify: read every output back and check it against its platform's rules.

A failed check fails the output, which keeps it out of publishing and the index.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from pipeline.captions.fonts import glyph_warnings
from pipeline.captions.lint import lint, strict_failures
from pipeline.colour import OUTPUT_COLOUR, describe
from pipeline.errors import PipelineError
from pipeline.ffmpeg_run import ffmpeg_exe
from pipeline.jobs import CutJob, OutputJob
from pipeline.loudness import (
    LIMITED,
    LOUDNESS_TOLERANCE_LU,
    SILENT,
    TRUE_PEAK_TOLERANCE_DB,
    FileLoudness,
    measure_file,
    target_of,
)
from pipeline.probe import OutputFacts, inspect_output
from pipeline.profiles import PROFILES

# x264 honours the VBV model it is given (maxrate, bufsize = 2 s of maxrate: plan.py): a
# decoder's buffer may start full, so any 1 s of the stream can carry up to maxrate x 1 s
# plus the whole buffer. More than that breaks the model, whatever the content.
VBV_BUFFER_SECONDS = 2

# ftyp major brands of plain ISO MP4 that every platform's ingest reads. FFmpeg writes iso4
# when negative CTS offsets (version-1 ctts, which spare us edit lists) are in the file.
# QuickTime ("qt  "), DASH segments ("dash", "msdh") and 3GP are not uploads we make.
MP4_BRANDS = ("isom", "iso2", "iso4", "iso5", "iso6", "mp41", "mp42", "avc1")


@dataclass(frozen=True)
class CheckResult:
    path: str
    passed: bool
    failures: tuple[str, ...]
    caption_warnings: tuple[str, ...] = ()
    loudness: FileLoudness | None = None
    normalization: str = ""  # linear, limited or silent (pipeline.loudness), "" if unknown
    notes: tuple[str, ...] = field(default=())

    @property
    def checks(self) -> dict[str, Any]:
        """The output's ``checks`` entry in the render summary and index.json."""
        lufs = self.loudness.integrated if self.loudness else None
        peak = self.loudness.true_peak if self.loudness else None
        return {
            "passed": self.passed,
            "loudness_lufs": None if lufs is None else round(lufs, 1),
            "true_peak_dbtp": None if peak is None else round(peak, 1),
            "normalization": self.normalization or None,
            "failures": list(self.failures),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class _Mp4Facts:
    """What the probe does not report but platforms reject: edit lists, non-LC AAC, the
    H.264 level, bitrate peaks, a non-MP4 brand, frames of unequal length."""

    edit_lists: int
    audio_profile: str
    h264_level: int = 0  # level_idc: 41 for 4.1
    peak_kbps: float = 0.0  # most video bits in any 1 s, in kb/s
    peak_at: float = 0.0  # where that second starts, in s
    major_brand: str = ""
    frame_durations: tuple[int, ...] = ()  # distinct pts steps, in time_base ticks
    time_base: Fraction = Fraction(0)


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


def _major_brand(path: Path) -> str:
    """The ftyp box's major brand; "" if the file does not start with one."""
    with path.open("rb") as fh:
        head = fh.read(12)
    if len(head) < 12 or head[4:8] != b"ftyp":
        return ""
    return head[8:12].decode("latin-1")


def peak_rate(packets: list[tuple[float, int]], window: float = 1.0) -> tuple[float, float]:
    """(most bits in any ``window`` seconds, in kb/s; where it starts), from (dts s, bytes)
    in decode order: each window starts at a packet, where a burst begins."""
    best, at, j, total = 0, 0.0, 0, 0
    for i, (t, _) in enumerate(packets):
        while j < len(packets) and packets[j][0] < t + window:
            total += packets[j][1]
            j += 1
        if total > best:
            best, at = total, t
        total -= packets[i][1]
    return best * 8 / 1000 / window, at


def _mp4_facts(path: Path) -> _Mp4Facts:
    with av.open(str(path)) as c:
        audio = c.streams.audio[0].codec_context.profile if c.streams.audio else None
        v = c.streams.video[0]
        level = int(v.codec_context.level or 0)
        tb = Fraction(v.time_base) if v.time_base else Fraction(0)
        packets = [(p.dts, p.pts, p.size) for p in c.demux(v) if p.size and p.pts is not None]
    timed = sorted(
        (float((dts if dts is not None else pts) * tb), size) for dts, pts, size in packets
    )
    peak, at = peak_rate(timed)
    pts = sorted(p[1] for p in packets)
    steps = tuple(sorted({b - a for a, b in itertools.pairwise(pts)}))
    return _Mp4Facts(
        _edit_lists(path), str(audio or ""), level, peak, at, _major_brand(path), steps, tb
    )


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
    # Players take untagged HD as BT.709 but some take it as BT.601, and full range as
    # limited: only tags that say what the pixels are show the same colours everywhere.
    rule(
        f.colour == OUTPUT_COLOUR,
        "colour",
        f"{describe(f.colour)} (primaries/transfer/matrix/range)",
        describe(OUTPUT_COLOUR),
    )
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
    want_level = round(float(profile.h264_level) * 10)
    rule(
        0 < mp4.h264_level <= want_level,
        "H.264 level",
        f"{mp4.h264_level / 10:g}",
        f"<= {profile.h264_level}",
    )
    cap = profile.video_kbps_for(out.width, out.height)
    limit = cap * (1 + VBV_BUFFER_SECONDS)
    rule(
        mp4.peak_kbps <= limit,
        "peak video bitrate",
        f"{mp4.peak_kbps:.0f} kb/s over the 1 s from {mp4.peak_at:.2f} s",
        f"<= {limit} kb/s: cap {cap} kb/s + {VBV_BUFFER_SECONDS} s VBV buffer",
    )
    rule(
        mp4.major_brand in MP4_BRANDS,
        "container brand",
        repr(mp4.major_brand) if mp4.major_brand else "no ftyp box first",
        "/".join(MP4_BRANDS),
    )
    # Equal steps between consecutive frames' timestamps; one tick of slack only where a
    # frame's length is not a whole number of ticks (29.97 fps in a 1/1000 time base).
    nominal = 1 / (out.fps * mp4.time_base) if mp4.time_base else Fraction(0)
    slack = 0 if nominal.denominator == 1 else 1
    spread = mp4.frame_durations[-1] - mp4.frame_durations[0] if mp4.frame_durations else 0
    rule(
        spread <= slack,
        "constant frame rate",
        f"frame durations {', '.join(str(d) for d in mp4.frame_durations[:5])} "
        f"(x {mp4.time_base} s)",
        "all equal" if not slack else f"within {slack} tick",
    )
    return failures


def _loudness_rules(out: OutputJob, measured: FileLoudness, normalization: str) -> list[str]:
    """Integrated loudness within the EBU tolerance of the profile's target, true peak at
    or under its ceiling; silence only where the cut has no sound to normalise."""
    t = target_of(out)
    label = PROFILES[out.platform].label
    if measured.silent:
        if normalization in ("", SILENT):
            return []
        return [f"integrated loudness: silent (rule: {t.i:g} +-{LOUDNESS_TOLERANCE_LU:g} LUFS)"]
    failures = []
    assert measured.integrated is not None
    if abs(measured.integrated - t.i) > LOUDNESS_TOLERANCE_LU:
        failures.append(
            f"integrated loudness: {measured.integrated:.1f} LUFS (rule: {t.i:g} "
            f"+-{LOUDNESS_TOLERANCE_LU:g} LUFS for {label})"
        )
    peak = measured.true_peak
    if peak is not None and peak > t.tp + TRUE_PEAK_TOLERANCE_DB:
        failures.append(
            f"true peak: {peak:.1f} dBTP (rule: <= {t.tp:g} dBTP for {label}, "
            f"+{TRUE_PEAK_TOLERANCE_DB:g} dB meter tolerance)"
        )
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


def verify_output(
    out: OutputJob,
    out_dir: Path,
    strict_captions: bool = False,
    normalization: str = "",
    loudness_note: str = "",
) -> CheckResult:
    """Check one rendered output; caption lint findings fail it only with ``strict_captions``.

    ``normalization`` is what the render's loudness pass did (``OutputResult``): a silent
    output passes only when it was rendered from silence (or that is unknown).
    ``loudness_note`` says how, when it was not one plain gain (``Level.note``).
    """
    path = out_dir / out.path
    try:
        facts = inspect_output(path)
    except PipelineError as exc:
        return CheckResult(out.path, False, (str(exc),))
    failures = _rules(out, facts, _mp4_facts(path))
    try:
        measured: FileLoudness | None = measure_file(path, ffmpeg_exe())
    except (PipelineError, ValueError) as exc:
        measured = None
        failures.append(f"loudness: cannot measure ({exc})")
    loud_notes: list[str] = []
    if measured is not None:
        failures += _loudness_rules(out, measured, normalization)
        if measured.silent:
            normalization = SILENT
            loud_notes.append("loudness: silent (no sound to normalise)")
    if normalization == LIMITED and loudness_note:
        loud_notes.append(loudness_note)
    notes = tuple(caption_warnings(out, out_dir))
    missing_sidecar = [n for n in notes if n.endswith("is missing")]
    failures += missing_sidecar
    if strict_captions:
        failures += strict_failures(notes)
    return CheckResult(
        out.path, not failures, tuple(failures), notes, measured, normalization, tuple(loud_notes)
    )


def vmaf(job: CutJob, out: OutputJob, out_dir: Path) -> float:
    """VMAF (0-100) of the rendered file against its source, framed the same way."""
    import re
    import subprocess

    from pipeline.captions.fonts import fonts_dir
    from pipeline.graph import build_vmaf_argv
    from pipeline.render import STATE_DIR, ass_path

    subs = ass_path(out_dir, out) if out.burn else None
    subtitles = str(subs) if subs is not None and subs.is_file() else None
    fonts = str(fonts_dir(out_dir / STATE_DIR)) if subtitles else None
    argv = build_vmaf_argv(job, out, str(out_dir / out.path), ffmpeg_exe(), subtitles, fonts)
    proc = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace"
    )
    found = re.findall(r"VMAF score: ([\d.]+)", proc.stderr)
    if proc.returncode != 0 or not found:
        tail = " | ".join(proc.stderr.strip().splitlines()[-2:])
        raise PipelineError(f"VMAF of {out.path} failed: {tail or 'no score'}")
    return float(found[-1])
