"""Test clips generated with FFmpeg's lavfi sources. Each generator states its truth
(what is where, and when), so tests can check outputs against it by probing."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg

from pipeline.probe import SourceInfo

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
SHARED_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


def run_ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-v", "error", "-nostdin", "-y", *args], check=True)


def make_clip(
    path: Path,
    *,
    size: tuple[int, int] = (320, 180),
    fps: str = "25",
    duration: float = 4.0,
    audio: bool = True,
    extra_vf: str = "",
    video_args: tuple[str, ...] = ("-c:v", "libx264", "-preset", "ultrafast", "-g", "12"),
) -> Path:
    """A testsrc2 picture (moving, with a clock) and a 440 Hz tone."""
    w, h = size
    vf = f",{extra_vf}" if extra_vf else ""
    args = ["-f", "lavfi", "-i", f"testsrc2=s={w}x{h}:r={fps}:d={duration}{vf}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=f=440:d={duration}:sample_rate=44100"]
    args += [*video_args, "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-shortest"]
    path.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(*args, str(path))
    return path


def make_marker_clip(
    path: Path,
    *,
    size: tuple[int, int] = (640, 360),
    marker: tuple[int, int, int, int] = (520, 140, 40, 40),
    fps: str = "25",
    duration: float = 2.0,
) -> Path:
    """Grey frame with one pure red box at ``marker`` = (x, y, w, h) for the whole clip.

    Truth: red pixels exist only inside that box.
    """
    w, h = size
    x, y, mw, mh = marker
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"color=c=0x808080:s={w}x{h}:r={fps}:d={duration}",
        "-f",
        "lavfi",
        "-i",
        f"sine=f=440:d={duration}",
        "-vf",
        f"drawbox=x={x}:y={y}:w={mw}:h={mh}:color=0xFF0000:t=fill",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-qp",
        "0",
        "-pix_fmt",
        "yuv444p",
        "-c:a",
        "aac",
        "-shortest",
        str(path),
    )
    return path


def make_flash_beep_clip(
    path: Path,
    *,
    events: tuple[float, ...],
    duration: float = 10.0,
    fps: str = "25",
    size: tuple[int, int] = (320, 180),
) -> Path:
    """Black video with a white frame and a 1 kHz beep starting at exactly the same instant
    at each time in ``events`` (each flash lasts 2 frames, each beep 80 ms).

    Truth: every flash onset coincides with a beep onset.
    """
    w, h = size
    enable = "+".join(f"between(t,{t},{t}+0.079)" for t in events)
    flash = "+".join(f"between(t,{t},{t}+0.0799)" for t in events)
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"color=c=black:s={w}x{h}:r={fps}:d={duration}",
        "-f",
        "lavfi",
        "-i",
        f"aevalsrc='({enable})*0.8*sin(2*PI*1000*t)':s=48000:d={duration}",
        "-vf",
        f"drawbox=x=0:y=0:w={w}:h={h}:color=white:t=fill:enable='{flash}'",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "50",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "pcm_s16le",
        "-shortest",
        str(path.with_suffix(".mov")),
    )
    return path.with_suffix(".mov")


def fake_source(path: str, **kw: object) -> SourceInfo:
    """Probe facts for plan tests that never touch media: 1080p25 with audio, 20 s."""
    facts: dict[str, object] = dict(
        path=path,
        sha256="0" * 64,
        size=1000,
        duration=Fraction(20),
        width=1920,
        height=1080,
        sar=Fraction(1),
        rotation=0,
        fps=Fraction(25),
        video_codec="h264",
        has_audio=True,
        audio_rate=44100,
        audio_channels=2,
    )
    facts.update(kw)
    return SourceInfo(**facts)  # type: ignore[arg-type]
