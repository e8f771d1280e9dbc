"""The source's speech as the recognisers want it: mono 16 kHz 16-bit WAV, made once per
source content and kept in the cache."""

from __future__ import annotations

import contextlib
import os
import tempfile
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pipeline.errors import FFmpegError, SpeechError
from pipeline.ffmpeg_run import ffmpeg_exe, run

PCM = npt.NDArray[np.int16]


def speech_audio(source: Path, sha256: str, cache_dir: Path, rate: int = 16000) -> Path:
    """The first audio stream of ``source`` as mono ``rate`` Hz s16le WAV, at
    ``cache_dir/<sha256>-<rate>.wav``. Time 0 of the WAV is time 0 of the source, as in
    the renders, so word times need no offset.

    ``SpeechError`` naming the file when the source has no audio stream or its audio
    cannot be extracted. Not ``SourceError``: the file is a valid source (its video renders);
    only captions from speech are impossible, and the build fails those alone, for the one
    case study, on ``SpeechError``. Not ``CaptionError``: no caption file is at fault.
    """
    target = cache_dir / f"{sha256}-{rate}.wav"
    if target.is_file():
        return target
    _check_audio(source)
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".wav", dir=cache_dir)
    os.close(fd)
    try:
        argv = [
            ffmpeg_exe(),
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            str(source),
            "-map",
            "0:a:0",
            "-vn",
            # A stream that starts after the container does (some MP4s start their audio
            # late) is padded with silence, as the render's aresample does, so a word's
            # time in the WAV is its time in the source.
            "-af",
            "aresample=first_pts=0",
            "-ac",
            "1",
            "-ar",
            str(rate),
            "-c:a",
            "pcm_s16le",
            "-f",
            "wav",
            tmp,
        ]
        try:
            run(argv, f"speech audio of {source.name}")
        except FFmpegError as exc:
            raise SpeechError(f"{source.name}: cannot extract its audio: {exc.tail}") from exc
        # Concurrent extractions of the same source each write their own temporary file;
        # os.replace is atomic, so a reader sees a whole WAV or none.
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _check_audio(source: Path) -> None:
    import av

    from pipeline.probe import _reason

    if not source.is_file():
        raise SpeechError(f"{source.name}: file does not exist")
    try:
        with av.open(str(source)) as container:
            kinds = sorted({s.type for s in container.streams})
            has_audio = bool(container.streams.audio)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise SpeechError(f"{source.name}: cannot be opened ({_reason(exc)})") from exc
    if not has_audio:
        found = ", ".join(kinds) or "no streams"
        raise SpeechError(
            f"{source.name}: has no audio stream (found: {found}), so there is no speech "
            "to align or recognise"
        )


def read_pcm(wav: Path) -> PCM:
    """The samples of a mono 16-bit WAV as written by ``speech_audio``."""
    with contextlib.closing(wave.open(str(wav), "rb")) as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise SpeechError(f"{wav.name}: is not mono 16-bit PCM")
        data = w.readframes(w.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def wav_rate(wav: Path) -> int:
    with contextlib.closing(wave.open(str(wav), "rb")) as w:
        return int(w.getframerate())


def frame_level_db(pcm: PCM, rate: int, hop_s: float = 0.01) -> npt.NDArray[np.float64]:
    """RMS level of each ``hop_s`` frame in dB relative to full scale (silence: -120)."""
    hop = max(1, round(rate * hop_s))
    n = len(pcm) // hop
    if n == 0:
        return np.zeros(0)
    frames = pcm[: n * hop].astype(np.float64).reshape(n, hop) / 32768.0
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    return np.asarray(20 * np.log10(np.maximum(rms, 1e-6)))
