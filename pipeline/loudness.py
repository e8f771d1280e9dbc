"""Loudness: two-pass EBU R128 normalisation with FFmpeg's ``loudnorm``, and an independent
re-measurement of each rendered file with ``ebur128``.

Pass 1 measures the sound exactly as an output carries it: the cut's joined audio up to
where that output ends, with its end-card fade-out (``graph.audio_shape``). Measuring the
cut instead would leave a faded output up to 1.5 LU under target. The figures are cached
per source, cut and shape, because they depend on nothing else.

Pass 2 is part of the main render (``graph.build_argv``) and is always one linear gain, so
an output keeps the mix's dynamics:

- ``linear``: ``loudnorm`` fed pass 1's figures, ``linear=true``. Its loudness-range target
  is raised to the measured range when that is wider (as ffmpeg-normalize's
  ``--keep-lra-above-loudness-range-target`` does), because loudnorm would otherwise
  refuse linear mode for any lively mix, and a range target is not a platform rule.
- ``limited``: when the gain would push true peaks over the ceiling, loudnorm would switch
  to its dynamic mode: a compressor with a 3 s window that undershoots on short clips (a
  3 s GRID clip came out at -17.7 LUFS). Instead: the same gain, then a look-ahead limiter
  on a 4x oversampled signal (BS.1770's true-peak meter oversamples 4x too), and the gain
  corrected once by measuring the limited sound, since limiting takes a little loudness.
- ``silent``: nothing to normalise (no sound, or only sound below BS.1770's gate).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import FFmpegError
from pipeline.graph import audio_shape, build_measure_argv, sample_bounds
from pipeline.jobs import CutJob, OutputJob
from pipeline.profiles import PROFILES

LINEAR, LIMITED, SILENT = "linear", "limited", "silent"
# What loudnorm itself would fall back to where we use LIMITED; never rendered.
DYNAMIC = "dynamic"

# BS.1770's absolute gate: blocks below -70 LUFS never count, so a cut measuring at or below
# it has no programme loudness to normalise (loudnorm reports -inf or -70).
SILENCE_LUFS = -70.0

# Verify's allowance: EBU R128 v4.0 production tolerance is +-1 LU around the target.
LOUDNESS_TOLERANCE_LU = 1.0
# ebur128 (4x oversampling of the 48 kHz output) and loudnorm (its own 192 kHz resampler)
# read true peaks of the same file up to 0.1 dB apart: a ceiling check tighter than that
# would be judging the meters, not the file.
TRUE_PEAK_TOLERANCE_DB = 0.1
# Pass 2 aims this far under the profile's true-peak ceiling: AAC re-encoding raises
# inter-sample peaks (a dynamic-mode speech render limited to -1.5 dBTP measured -1.2 after
# AAC), and the ceiling is checked on the encoded file.
AAC_HEADROOM_DB = 0.5
# loudnorm's LRA option range: a measured range above it cannot be kept in linear mode.
LOUDNORM_MAX_LRA = 50.0
# The limited output is accepted without a second correction when this close to target.
LIMITED_CLOSE_ENOUGH_LU = 0.2


@dataclass(frozen=True)
class Target:
    """A profile's loudness: integrated LUFS, true-peak ceiling in dBTP, loudness range LU."""

    i: float
    tp: float
    lra: float

    @property
    def label(self) -> str:
        return f"I={self.i:g}:TP={self.tp:g}:LRA={self.lra:g}"

    @property
    def aim_tp(self) -> float:
        """The true peak pass 2 aims for: the ceiling less ``AAC_HEADROOM_DB``."""
        return self.tp - AAC_HEADROOM_DB


def target_for(platform: str) -> Target:
    p = PROFILES[platform]
    return Target(p.loudness_lufs, p.true_peak_dbtp, p.loudness_lra)


def target_of(out: OutputJob) -> Target:
    """The output's target as the plan fixed it (it is part of the output's key)."""
    e = out.encode
    return Target(e.loudness_lufs, e.true_peak_dbtp, e.loudness_lra)


@dataclass(frozen=True)
class Shape:
    """The part of the cut's sound an output carries: samples ``AAC_PRIMING`` to ``end`` of
    the cut (at the output's rate), the last ``fade`` of them fading out to the end card."""

    end: int
    fade: int


@dataclass(frozen=True)
class Measurement:
    """Pass 1's figures for one shape of a cut (loudnorm's ``input_*``, ``target_offset``)."""

    input_i: float
    input_tp: float
    input_lra: float
    input_thresh: float
    target_offset: float

    @property
    def silent(self) -> bool:
        return not math.isfinite(self.input_i) or self.input_i <= SILENCE_LUFS


def _passed(value: float, digits: int = 2) -> float:
    return round(value, digits)


def _lra_option(m: Measurement, t: Target) -> float:
    # loudnorm reads measured_LRA=0 as "not measured" (its default) and then refuses linear
    # mode; steady material (a tone, a drone) really measures 0.00, so pass the smallest
    # value loudnorm prints instead.
    return max(_passed(m.input_lra), 0.01)


def loudnorm_mode(m: Measurement, t: Target) -> str:
    """What loudnorm's pass 2 does with ``pass2_options``, decided the way it decides
    (``af_loudnorm.c``, ``config_input``): one linear gain if that gain keeps the true peak
    under the ceiling and the measured range is within the range target; else dynamic."""
    measured_lra = _lra_option(m, t)
    range_target = min(max(t.lra, measured_lra), LOUDNORM_MAX_LRA)
    gain = t.i - _passed(m.input_i)
    fits = _passed(m.input_tp) + gain <= t.aim_tp and measured_lra <= range_target
    # loudnorm takes these exact values as "not measured" and never goes linear on them
    unmeasured = _passed(m.input_thresh) == -70 or _passed(m.input_i) == 0
    return LINEAR if fits and not unmeasured else DYNAMIC


def mode(m: Measurement | None, t: Target) -> str:
    """What pass 2 does: ``linear`` through loudnorm, ``limited`` where loudnorm would go
    dynamic, ``silent`` when there is nothing to normalise."""
    if m is None or m.silent:
        return SILENT
    return LINEAR if loudnorm_mode(m, t) == LINEAR else LIMITED


def limited_reason(m: Measurement, t: Target) -> str:
    """Why one gain needs a limiter here (and loudnorm alone would have gone dynamic)."""
    gain = t.i - m.input_i
    why = []
    if m.input_tp + gain > t.aim_tp:
        why.append(
            f"true peak {m.input_tp:.1f} dBTP + gain {gain:+.1f} dB would be "
            f"{m.input_tp + gain:.1f} dBTP, over {t.aim_tp:g}"
        )
    if m.input_lra > LOUDNORM_MAX_LRA:
        why.append(f"loudness range {m.input_lra:.1f} LU is over loudnorm's {LOUDNORM_MAX_LRA:g}")
    return "; ".join(why) or "loudnorm would not take the measured figures for linear mode"


def pass2_options(m: Measurement, t: Target) -> dict[str, Any]:
    """Keyword options of pass 2's ``loudnorm`` filter."""
    measured_lra = _lra_option(m, t)
    return {
        "I": t.i,
        "TP": t.aim_tp,
        "LRA": min(max(t.lra, measured_lra), LOUDNORM_MAX_LRA),
        "measured_I": _passed(m.input_i),
        "measured_TP": _passed(m.input_tp),
        "measured_LRA": measured_lra,
        "measured_thresh": _passed(m.input_thresh),
        "offset": _passed(m.target_offset),
        "linear": "true",
        "print_format": "json",
    }


@dataclass(frozen=True)
class Level:
    """What pass 2 does to one output's sound (see the module's docstring)."""

    mode: str
    loudnorm: dict[str, Any] | None = None  # LINEAR: loudnorm's options
    gain_db: float = 0.0  # LIMITED: this gain, then the limiter at ``ceiling_dbtp``
    ceiling_dbtp: float = 0.0
    note: str = ""  # for the summary and checks.notes

    def graph_options(self) -> dict[str, Any] | None:
        """The per-output ``loudness`` entry ``graph.build_argv`` takes."""
        if self.mode == LINEAR:
            return {"loudnorm": self.loudnorm}
        if self.mode == LIMITED:
            return {"gain_db": self.gain_db, "ceiling_dbtp": self.ceiling_dbtp}
        return None


def cache_key(job: CutJob, audio_rate: int, shape: Shape) -> str:
    """What pass 1's figures depend on: the source's bytes, the segments, the rate, the shape."""
    body = {
        "source_sha256": job.source_sha256,
        "segments": [[str(s.start), str(s.end)] for s in job.segments],
        "fps": str(job.fps),  # segment lengths are whole frames at the cut's rate
        "audio_rate": audio_rate,
        "shape": [shape.end, shape.fade],
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def cache_path(state_dir: Path, job: CutJob, audio_rate: int, shape: Shape) -> Path:
    return state_dir / "loudness" / f"{cache_key(job, audio_rate, shape)[:32]}.json"


_JSON_BLOCK = re.compile(r"\{[^{}]*\"input_i\"[^{}]*\}", re.S)


def parse_loudnorm(text: str) -> dict[str, str]:
    """The last JSON block loudnorm printed (``print_format=json``)."""
    blocks = _JSON_BLOCK.findall(text)
    if not blocks:
        raise ValueError("no loudnorm statistics in FFmpeg's output")
    return {k: str(v) for k, v in json.loads(blocks[-1]).items()}


def _number(value: str) -> float:
    return float(value)  # "-inf" is what loudnorm prints for silence, and float() reads it


def _ffmpeg_stderr(argv: list[str], what: str, log_path: Path | None = None) -> str:
    proc = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace"
    )
    if log_path is not None:
        log_path.write_text(proc.stderr)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if "rror" in ln]
        tail = " | ".join(lines[:1] + lines[-2:]) or proc.stderr.strip()[-300:]
        log = str(log_path) if log_path is not None else None
        raise FFmpegError(what, proc.returncode, tail or "no error message", log)
    return proc.stderr


def _run_pass1(argv: list[str], what: str, log_path: Path | None) -> str:
    """One measuring FFmpeg run (a seam for tests that count runs)."""
    return _ffmpeg_stderr(argv, what, log_path)


class _Cache:
    """One shape's record: pass 1's figures, loudnorm's offset per target, and the corrected
    gain of the limited path per target."""

    def __init__(self, state_dir: Path, job: CutJob, audio_rate: int, shape: Shape):
        self.path = cache_path(state_dir, job, audio_rate, shape)
        self.record: dict[str, Any] = {}
        if self.path.is_file():
            try:
                self.record = dict(json.loads(self.path.read_text()))
            except (OSError, ValueError):
                self.record = {}
        self.record.update(
            source_sha256=job.source_sha256,
            segments=[[str(s.start), str(s.end)] for s in job.segments],
            audio_rate=audio_rate,
            shape=[shape.end, shape.fade],
        )

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.partial")
        tmp.write_text(json.dumps(self.record, indent=1, sort_keys=True))
        os.replace(tmp, self.path)


def _measure_argv(
    job: CutJob, audio_rate: int, shape: Shape, target: Target, ffmpeg: str, level: Level | None
) -> list[str]:
    options = level.graph_options() if level is not None else None
    return build_measure_argv(job, audio_rate, shape, target, ffmpeg, options)


def measure(
    job: CutJob,
    shape: Shape,
    target: Target,
    audio_rate: int,
    state_dir: Path,
    ffmpeg: str,
    log_path: Path | None = None,
) -> Measurement | None:
    """Pass 1 for one shape of ``job`` and ``target``, from the cache when it has them;
    None for a cut without sound (the graph fills it with generated silence). FFmpeg's
    messages go to ``log_path`` (the render's own log then replaces them when it runs)."""
    if not job.has_audio:
        return None
    cache = _Cache(state_dir, job, audio_rate, shape)
    offsets = dict(cache.record.get("target_offsets", {}))
    if "input_i" in cache.record and target.label in offsets:
        return _measurement(cache.record, offsets[target.label])
    argv = _measure_argv(job, audio_rate, shape, target, ffmpeg, None)
    what = f"loudness of {job.name} from {job.source_label}"
    stats = parse_loudnorm(_run_pass1(argv, what, log_path))
    offsets[target.label] = stats["target_offset"]
    cache.record.update({k: stats[k] for k in ("input_i", "input_tp", "input_lra", "input_thresh")})
    cache.record["target_offsets"] = offsets
    cache.save()
    return _measurement(cache.record, stats["target_offset"])


def level_for(
    job: CutJob,
    shape: Shape,
    target: Target,
    audio_rate: int,
    state_dir: Path,
    ffmpeg: str,
    log_path: Path | None = None,
) -> Level:
    """Pass 2 for one shape of ``job``: measured (pass 1), and for the limited path the gain
    corrected by one more measurement of the limited sound; all of it cached."""
    m = measure(job, shape, target, audio_rate, state_dir, ffmpeg, log_path)
    how = mode(m, target)
    if how == SILENT or m is None:
        return Level(SILENT, note="loudness: silent (no sound to normalise)")
    if how == LINEAR:
        return Level(LINEAR, loudnorm=pass2_options(m, target))
    cache = _Cache(state_dir, job, audio_rate, shape)
    corrected = dict(cache.record.get("limited_gain_db", {}))
    raw = target.i - m.input_i
    if target.label not in corrected:
        gain = raw
        trial = Level(LIMITED, gain_db=round(gain, 2), ceiling_dbtp=target.aim_tp)
        argv = _measure_argv(job, audio_rate, shape, target, ffmpeg, trial)
        what = f"loudness of {job.name} from {job.source_label}, limited"
        stats = parse_loudnorm(_run_pass1(argv, what, log_path))
        shortfall = target.i - _number(stats["input_i"])
        if math.isfinite(shortfall) and abs(shortfall) > LIMITED_CLOSE_ENOUGH_LU:
            gain += shortfall
        corrected[target.label] = round(gain, 2)
        cache.record["limited_gain_db"] = corrected
        cache.save()
    gain = float(corrected[target.label])
    made_up = gain - raw
    extra = f", +{made_up:.1f} dB for what the limiter takes" if made_up >= 0.05 else ""
    note = (
        f"loudness: gain {gain:+.1f} dB with a true-peak limiter at {target.aim_tp:g} dBTP "
        f"({limited_reason(m, target)}{extra}; loudnorm alone would have used its dynamic mode)"
    )
    return Level(LIMITED, gain_db=gain, ceiling_dbtp=target.aim_tp, note=note)


def shape_of(job: CutJob, out: OutputJob) -> Shape:
    rate = out.encode.audio_rate
    end, fade = audio_shape(out, sample_bounds(job, rate)[-1], rate)
    return Shape(end, fade)


def levels_for(
    job: CutJob,
    outputs: tuple[OutputJob, ...],
    state_dir: Path,
    ffmpeg: str,
    log_path: Path | None = None,
) -> list[Level]:
    """Pass 2 per output, measuring each distinct (shape, target) once (pass 1, cached)."""
    done: dict[tuple[Shape, Target], Level] = {}
    levels = []
    for out in outputs:
        key = (shape_of(job, out), target_of(out))
        if key not in done:
            done[key] = level_for(job, *key, out.encode.audio_rate, state_dir, ffmpeg, log_path)
        levels.append(done[key])
    return levels


def cached_levels(
    job: CutJob, outputs: tuple[OutputJob, ...], state_dir: Path, ffmpeg: str
) -> tuple[list[Level | None], list[list[str]]]:
    """For ``plan --dry-run``, without running FFmpeg: pass 2 per output where pass 1's
    figures are cached (None where not), and the pass-1 commands still to run."""
    levels: list[Level | None] = []
    pending: dict[tuple[Shape, Target], list[str]] = {}
    for out in outputs:
        shape, target, rate = shape_of(job, out), target_of(out), out.encode.audio_rate
        if not job.has_audio:
            levels.append(Level(SILENT))
            continue
        m = cached_measurement(job, shape, target, rate, state_dir)
        how = mode(m, target) if m is not None else ""
        limited = _Cache(state_dir, job, rate, shape).record.get("limited_gain_db", {})
        if m is None or (how == LIMITED and target.label not in limited):
            levels.append(None)
            argv = _measure_argv(job, rate, shape, target, ffmpeg, None)
            pending.setdefault((shape, target), argv)
        elif how == LIMITED:
            gain = float(limited[target.label])
            levels.append(Level(LIMITED, gain_db=gain, ceiling_dbtp=target.aim_tp))
        elif how == LINEAR:
            levels.append(Level(LINEAR, loudnorm=pass2_options(m, target)))
        else:
            levels.append(Level(SILENT))
    return levels, list(pending.values())


PENDING = "<pass 1>"


def pending_level(target: Target) -> dict[str, Any]:
    """Pass 2 as ``plan --dry-run`` prints it before pass 1 has run: loudnorm with the
    measured fields marked. (If pass 1 finds true peaks too high for one gain, the render
    uses the limiter instead; the dry run cannot know that yet.)"""
    measured = ("measured_I", "measured_TP", "measured_LRA", "measured_thresh", "offset")
    options: dict[str, Any] = {"I": target.i, "TP": target.aim_tp, "LRA": target.lra}
    options |= {k: PENDING for k in measured}
    return {"loudnorm": options | {"linear": "true", "print_format": "json"}}


def cached_measurement(
    job: CutJob, shape: Shape, target: Target, audio_rate: int, state_dir: Path
) -> Measurement | None:
    """Pass 1's figures if they are cached (for reports; never runs FFmpeg)."""
    path = cache_path(state_dir, job, audio_rate, shape)
    try:
        cached = dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None
    offset = cached.get("target_offsets", {}).get(target.label)
    return _measurement(cached, offset) if "input_i" in cached and offset is not None else None


def _measurement(record: dict[str, Any], offset: str) -> Measurement:
    try:
        return Measurement(
            _number(record["input_i"]),
            _number(record["input_tp"]),
            _number(record["input_lra"]),
            _number(record["input_thresh"]),
            # loudnorm prints inf offsets for silence; they are never used then
            _number(offset) if math.isfinite(_number(offset)) else 0.0,
        )
    except (KeyError, ValueError) as exc:
        raise ValueError(f"unreadable loudness measurement: {exc}") from exc


@dataclass(frozen=True)
class FileLoudness:
    """A file's integrated loudness (LUFS) and true peak (dBTP); None for silence."""

    integrated: float | None
    true_peak: float | None

    @property
    def silent(self) -> bool:
        return self.integrated is None


_SUMMARY_I = re.compile(r"Integrated loudness:\s*I:\s*(-?[\d.]+|-?inf|nan)\s*LUFS", re.S)
_SUMMARY_TP = re.compile(r"True peak:\s*Peak:\s*(-?[\d.]+|-?inf|nan)\s*dBFS", re.S)


def parse_ebur128(text: str) -> FileLoudness:
    summary = text[text.rfind("Summary:") :]
    i, tp = _SUMMARY_I.search(summary), _SUMMARY_TP.search(summary)
    if i is None or tp is None:
        raise ValueError("no ebur128 summary in FFmpeg's output")
    integrated, peak = float(i.group(1)), float(tp.group(1))
    if not math.isfinite(integrated) or integrated <= SILENCE_LUFS:
        return FileLoudness(None, peak if math.isfinite(peak) else None)
    return FileLoudness(integrated, peak if math.isfinite(peak) else None)


def measure_file(path: Path, ffmpeg: str) -> FileLoudness:
    """Re-measure a rendered file with ``ebur128`` (a different meter from the one that
    normalised it), decoding its first audio stream only."""
    argv = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "info",
        "-i",
        f"file:{path}",
        "-map",
        "0:a:0",
        "-af",
        "ebur128=peak=true",
        "-f",
        "null",
        "-",
    ]
    text = _ffmpeg_stderr(argv, f"loudness of {path.name}")
    return parse_ebur128(text)
