"""Loudness: two-pass EBU R128 normalisation with FFmpeg's ``loudnorm``, and an independent
re-measurement of each rendered file with ``ebur128``.

Pass 1 decodes only the cut's joined audio and measures it; the figures are cached per
source and cut, because they depend on nothing else. Pass 2 is part of the main render
(``graph.build_argv``): ``loudnorm`` fed the measured figures applies one linear gain when
it can, which keeps the mix's dynamics as they were.
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
from pipeline.jobs import CutJob
from pipeline.profiles import PROFILES

LINEAR, DYNAMIC, SILENT = "linear", "dynamic", "silent"

# BS.1770's absolute gate: blocks below -70 LUFS never count, so a cut measuring at or below
# it has no programme loudness to normalise (loudnorm reports -inf or -70).
SILENCE_LUFS = -70.0

# Verify's allowance: EBU R128 v4.0 production tolerance is +-1 LU around the target.
LOUDNESS_TOLERANCE_LU = 1.0
# ebur128 (4x oversampling of the 48 kHz output) and loudnorm (its own 192 kHz resampler)
# read true peaks of the same file up to 0.1 dB apart: a ceiling check tighter than that
# would be judging the meters, not the file.
TRUE_PEAK_TOLERANCE_DB = 0.1
# loudnorm aims this far under the profile's true-peak ceiling: AAC re-encoding raises
# inter-sample peaks (a dynamic-mode speech render limited to -1.5 dBTP measured -1.2 after
# AAC), and the ceiling is checked on the encoded file.
AAC_HEADROOM_DB = 0.5


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
        """The true peak loudnorm is asked for: the ceiling less ``AAC_HEADROOM_DB``."""
        return self.tp - AAC_HEADROOM_DB


def target_for(platform: str) -> Target:
    p = PROFILES[platform]
    return Target(p.loudness_lufs, p.true_peak_dbtp, p.loudness_lra)


@dataclass(frozen=True)
class Measurement:
    """Pass 1's figures for one cut (loudnorm's ``input_*``) and its ``target_offset``."""

    input_i: float
    input_tp: float
    input_lra: float
    input_thresh: float
    target_offset: float

    @property
    def silent(self) -> bool:
        return not math.isfinite(self.input_i) or self.input_i <= SILENCE_LUFS


def mode(m: Measurement | None, t: Target) -> str:
    """What pass 2 will do, decided the way loudnorm decides it (``af_loudnorm.c``,
    ``config_input``): one linear gain if that gain keeps the true peak under the ceiling
    and the range is within the target's; otherwise its dynamic compressor and limiter."""
    if m is None or m.silent:
        return SILENT
    gain = t.i - m.input_i
    if m.input_tp + gain <= t.aim_tp and m.input_lra <= t.lra:
        return LINEAR
    return DYNAMIC


def dynamic_reason(m: Measurement, t: Target) -> str:
    gain = t.i - m.input_i
    why = []
    if m.input_tp + gain > t.aim_tp:
        why.append(
            f"true peak {m.input_tp:.1f} dBTP + gain {gain:+.1f} dB would be "
            f"{m.input_tp + gain:.1f} dBTP, over {t.aim_tp:g}"
        )
    if m.input_lra > t.lra:
        why.append(f"loudness range {m.input_lra:.1f} LU is over {t.lra:g} LU")
    return "; ".join(why)


def pass2_options(m: Measurement, t: Target) -> dict[str, Any]:
    """Keyword options of pass 2's ``loudnorm`` filter."""
    return {
        "I": t.i,
        "TP": t.aim_tp,
        "LRA": t.lra,
        "measured_I": round(m.input_i, 2),
        "measured_TP": round(m.input_tp, 2),
        # loudnorm reads measured_LRA=0 as "not measured" (its default) and then refuses
        # linear mode; steady material (a tone, a drone) really measures 0.00, so pass the
        # smallest value loudnorm prints instead.
        "measured_LRA": max(round(m.input_lra, 2), 0.01),
        "measured_thresh": round(m.input_thresh, 2),
        "offset": round(m.target_offset, 2),
        "linear": "true",
        "print_format": "json",
    }


def cache_key(job: CutJob, audio_rate: int) -> str:
    """What pass 1's figures depend on: the source's bytes, the segments and the rate."""
    body = {
        "source_sha256": job.source_sha256,
        "segments": [[str(s.start), str(s.end)] for s in job.segments],
        "fps": str(job.fps),  # segment lengths are whole frames at the cut's rate
        "audio_rate": audio_rate,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def cache_path(state_dir: Path, job: CutJob, audio_rate: int) -> Path:
    return state_dir / "loudness" / f"{cache_key(job, audio_rate)[:32]}.json"


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
    """Pass 1's one FFmpeg run (a seam for tests that count runs)."""
    return _ffmpeg_stderr(argv, what, log_path)


def measure_cut(
    job: CutJob,
    target: Target,
    audio_rate: int,
    state_dir: Path,
    ffmpeg: str,
    log_path: Path | None = None,
) -> Measurement | None:
    """Pass 1 for ``job`` and ``target``, from the cache when it has them; None for a cut
    without sound (the graph fills it with generated silence). FFmpeg's messages go to
    ``log_path`` (the render's own log then replaces them when it runs)."""
    if not job.has_audio:
        return None
    path = cache_path(state_dir, job, audio_rate)
    cached: dict[str, Any] = {}
    if path.is_file():
        try:
            cached = dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            cached = {}
    offsets = dict(cached.get("target_offsets", {}))
    if "input_i" in cached and target.label in offsets:
        return _measurement(cached, offsets[target.label])

    from pipeline.graph import build_measure_argv

    argv = build_measure_argv(job, audio_rate, target, ffmpeg)
    what = f"loudness of {job.name} from {job.source_label}"
    stats = parse_loudnorm(_run_pass1(argv, what, log_path))
    offsets[target.label] = stats["target_offset"]
    record = {
        "source_sha256": job.source_sha256,
        "segments": [[str(s.start), str(s.end)] for s in job.segments],
        "audio_rate": audio_rate,
        **{k: stats[k] for k in ("input_i", "input_tp", "input_lra", "input_thresh")},
        "target_offsets": offsets,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    os.replace(tmp, path)
    return _measurement(record, stats["target_offset"])


def cached_measurement(
    job: CutJob, target: Target, audio_rate: int, state_dir: Path
) -> Measurement | None:
    """Pass 1's figures if they are cached (for reports; never runs FFmpeg)."""
    path = cache_path(state_dir, job, audio_rate)
    try:
        cached = dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None
    offset = cached.get("target_offsets", {}).get(target.label, "0")
    return _measurement(cached, offset) if "input_i" in cached else None


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
