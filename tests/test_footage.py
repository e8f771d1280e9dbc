"""Footage that breaks naive pipelines, one row per case: each source is generated with
FFmpeg (or taken from ../shared/media/video), put in a project of its own and rendered
through the command line, and each is either rendered correctly, checked by reading the
outputs back, or refused with exit code 1, a message naming the file and nothing at any
output path. Never a traceback, never a partial output.

Every row's outcome and wall time go into a table printed at the end of the module
(``pytest -s tests/test_footage.py`` shows it).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from pipeline.cli import main
from pipeline.colour import OUTPUT_COLOUR, describe
from pipeline.probe import OutputFacts, inspect_output, probe
from pipeline.stills import grab_frame
from tests.clips import SHARED_MEDIA, make_clip, run_ffmpeg
from tests.render_checks import (
    STRIPES,
    audio_samples,
    beep_onsets,
    frame_at,
    frames,
    luma_onsets,
    read_number,
    red_box,
)

pytestmark = pytest.mark.render

X264 = ("-c:v", "libx264", "-preset", "ultrafast")
AAC = ("-c:a", "aac", "-b:a", "96k")
SHARED_VIDEO = SHARED_MEDIA / "video"


# ---------------------------------------------------------------------------------------
# Sources: each maker writes one file into a folder and returns it; its docstring is its truth
# ---------------------------------------------------------------------------------------


def _tone(seconds: float, rate: int = 48000) -> tuple[str, ...]:
    return ("-f", "lavfi", "-i", f"sine=f=440:d={seconds}:sample_rate={rate}")


# Display box of the marker in the rotated phone clip: top-left corner of the portrait picture.
PHONE_MARKER = (10, 10, 40, 40)


def make_phone(folder: Path) -> Path:
    """Portrait phone video stored as landscape: 320x180 coded, display matrix turning it a
    quarter counter-clockwise (what phones write), so a viewer sees 180x320. A red box sits
    in the viewer's top-left corner (``PHONE_MARKER``); in coded pixels it is at the right
    edge, top. H.264 4:2:0 and AAC 48 kHz, as phones record."""
    coded = folder / "coded.mp4"
    x, y, w, h = PHONE_MARKER
    # A quarter turn counter-clockwise puts coded (cx, cy) at display (cy, 320 - cx - w).
    cx, cy = 320 - y - h, x
    # fmt: off
    run_ffmpeg(
        "-f", "lavfi", "-i", "color=c=0x808080:s=320x180:r=30:d=2", *_tone(2),
        "-vf", f"drawbox=x={cx}:y={cy}:w={h}:h={w}:color=0xFF0000:t=fill",
        *X264, "-pix_fmt", "yuv420p", *AAC, "-shortest", str(coded),
    )
    # fmt: on
    out = folder / "phone.mp4"
    run_ffmpeg("-display_rotation", "90", "-i", str(coded), "-c", "copy", str(out))
    return out


def _number_filter(size: str, rate: str, seconds: float) -> str:
    """Frame ``n`` of the lavfi source shows ``n`` in binary (tests.render_checks.read_number)."""
    lum = f"if(bitand(N\\,pow(2\\,floor(X*{STRIPES}/W)))\\,235\\,16)"
    return f"color=c=black:s={size}:r={rate}:d={seconds},geq=lum='{lum}':cb=128:cr=128"


def make_vfr(folder: Path) -> Path:
    """Variable frame rate, as a phone in low light records: frames of a 30 fps number clip
    (frame ``n`` shows ``n``, taken at ``n/30`` s), all of them for the first second, every
    other one after it (15 fps), timestamps kept. 3 s, 60 frames."""
    out = folder / "vfr.mp4"
    # fmt: off
    run_ffmpeg(
        "-f", "lavfi", "-i", _number_filter("320x180", "30", 3), *_tone(3),
        "-vf", "select='lt(n\\,30)+not(mod(n\\,2))'", "-fps_mode", "vfr",
        *X264, "-pix_fmt", "yuv420p", *AAC, "-shortest", str(out),
    )
    # fmt: on
    return out


BAR_SPEED = 16  # pixels per field


def make_interlaced(folder: Path) -> Path:
    """1080i-style camcorder footage at test size (AVCHD: interlaced H.264 + AC-3 in MPEG-TS):
    a white full-height bar moving ``BAR_SPEED`` px per field over flat grey, 50 fields/s woven
    top field first into 25 frames/s. Every frame is combed wherever the bar's edges are."""
    out = folder / "camcorder.mts"
    left = f"mod(T*50*{BAR_SPEED}\\,280)"
    bar = f"format=yuv420p,geq=lum='if(between(X\\,{left}\\,{left}+39)\\,235\\,96)':cb=128:cr=128"
    # fmt: off
    run_ffmpeg(
        "-f", "lavfi", "-i", f"color=c=0x606060:s=320x180:r=50:d=2,{bar}",
        *_tone(2),
        "-vf", "tinterlace=mode=interleave_top,setfield=tff",
        *X264, "-x264-params", "interlaced=1:tff=1", "-pix_fmt", "yuv420p",
        "-c:a", "ac3", "-shortest", str(out),
    )
    # fmt: on
    return out


def _marker_clip(
    path: Path,
    size: tuple[int, int],
    box: tuple[int, int, int, int],
    *,
    sar: str = "1/1",
    pix_fmt: str = "yuv420p",
    codec: tuple[str, ...] = X264,
) -> Path:
    w, h = size
    x, y, bw, bh = box
    # fmt: off
    run_ffmpeg(
        "-f", "lavfi", "-i", f"color=c=0x808080:s={w}x{h}:r=25:d=2", *_tone(2),
        "-vf", f"drawbox=x={x}:y={y}:w={bw}:h={bh}:color=0xFF0000:t=fill,setsar={sar}",
        *codec, "-pix_fmt", pix_fmt, *AAC, "-shortest", str(path),
    )
    # fmt: on
    return path


def make_odd(folder: Path) -> Path:
    """481x271 (both odd: only 4:4:4 can code it), a red 40x40 box at (400, 20)."""
    return _marker_clip(
        folder / "odd.mp4",
        (481, 271),
        (400, 20, 40, 40),
        pix_fmt="yuv444p",
        codec=(*X264, "-qp", "0"),
    )


def make_anamorphic(folder: Path) -> Path:
    """1440x1074 with 4:3 pixels (HDV-style anamorphic): displays as 1920x1074. The red box is
    60x80 coded pixels at (1200, 100), so a viewer sees a square 80x80 at (1600, 100)."""
    return _marker_clip(folder / "anamorphic.mp4", (1440, 1074), (1200, 100, 60, 80), sar="4/3")


# Test card for the colour cases, in 10-bit limited-range code values (Y', Cb, Cr): flat
# background, a "white" square and a "highlight" square; levels per ITU-R BT.2408 (HDR) and
# BT.709 (SDR). (background, white, highlight) as fractions of the signal range.
GREY_SIGNAL = {"sdr": 0.42, "pq": 0.38, "hlg": 0.38}  # 18% grey card
WHITE_SIGNAL = {"sdr": 1.0, "pq": 0.58, "hlg": 0.75}  # reference (diffuse) white
HIGHLIGHT_SIGNAL = {"sdr": 1.0, "pq": 0.75, "hlg": 0.90}  # 1000 cd/m2 specular, in HDR
WHITE_BOX = (40, 40, 80, 80)
HIGHLIGHT_BOX = (200, 40, 80, 80)


def _colour_card(kind: str) -> str:
    def code(signal: float) -> int:
        return round(64 + signal * 876)

    g, wh, hi = code(GREY_SIGNAL[kind]), code(WHITE_SIGNAL[kind]), code(HIGHLIGHT_SIGNAL[kind])

    def inside(box: tuple[int, int, int, int]) -> str:
        x, y, w, h = box
        return f"between(X\\,{x}\\,{x + w - 1})*between(Y\\,{y}\\,{y + h - 1})"

    lum = f"if({inside(WHITE_BOX)}\\,{wh}\\,if({inside(HIGHLIGHT_BOX)}\\,{hi}\\,{g}))"
    return f"color=c=black:s=320x180:r=25:d=2,format=yuv420p10le,geq=lum='{lum}':cb=512:cr=512"


def make_10bit(folder: Path) -> Path:
    """10-bit BT.709 SDR (H.264 High 10): the colour card, background at 18% grey."""
    out = folder / "tenbit.mp4"
    # fmt: off
    run_ffmpeg(
        "-f", "lavfi", "-i", _colour_card("sdr"), *_tone(2),
        *X264, "-pix_fmt", "yuv420p10le", "-profile:v", "high10",
        "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709",
        *AAC, "-shortest", str(out),
    )
    # fmt: on
    return out


def _make_hdr(path: Path, kind: str) -> Path:
    trc = {"pq": "smpte2084", "hlg": "arib-std-b67"}[kind]
    # fmt: off
    run_ffmpeg(
        "-f", "lavfi", "-i", _colour_card(kind), *_tone(2),
        "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le",
        "-x265-params", f"log-level=error:colorprim=bt2020:transfer={trc}:colormatrix=bt2020nc",
        "-color_primaries", "bt2020", "-color_trc", trc, "-colorspace", "bt2020nc",
        "-tag:v", "hvc1", *AAC, "-shortest", str(path),
    )
    # fmt: on
    return path


def make_pq(folder: Path) -> Path:
    """HDR10 (HEVC Main 10, BT.2020, PQ): the colour card at BT.2408 levels (18% grey 38%,
    reference white 58%, 1000 cd/m2 highlight 75%)."""
    return _make_hdr(folder / "hdr-pq.mp4", "pq")


def make_hlg(folder: Path) -> Path:
    """HLG (HEVC Main 10, BT.2020, ARIB STD-B67): the colour card at BT.2408 levels (18% grey
    38%, reference white 75%, highlight 90%)."""
    return _make_hdr(folder / "hdr-hlg.mp4", "hlg")


# Colour bars for the matrix and range cases: eight RGB patches, left to right, as the camera
# saw them: a skin tone, red, green, blue, grey, yellow, cyan, magenta.
BARS = (
    (224, 172, 105),
    (200, 30, 30),
    (30, 180, 40),
    (30, 40, 200),
    (118, 118, 118),
    (230, 220, 40),
    (40, 200, 210),
    (190, 50, 180),
)


def _bars(path: Path, size: tuple[int, int], matrix: str, full: bool, tags: str) -> Path:
    """``BARS`` coded with ``matrix`` (and full range if ``full``), tagged as ``tags`` says
    (setparams' options; "colorspace=unknown" leaves the matrix untagged), losslessly."""
    w, h = size
    rgb = []
    for c in range(3):
        expr = str(BARS[-1][c])
        for i in range(len(BARS) - 2, -1, -1):
            expr = f"if(lt(X\\,{(i + 1) * w // len(BARS)})\\,{BARS[i][c]}\\,{expr})"
        rgb.append(expr)
    r, g, b = rgb
    rng = "pc" if full else "tv"
    # geq draws one frame (it is slow at HD), loop repeats it for 2 s
    vf = (
        f"format=gbrp,geq=r='{r}':g='{g}':b='{b}',loop=loop=49:size=1,setpts=N/25/TB,"
        f"scale=out_color_matrix={matrix}:out_range={rng},format=yuv420p,setparams={tags}"
    )
    # fmt: off
    run_ffmpeg(
        "-f", "lavfi", "-i", f"color=c=black:s={w}x{h}:r=25:d=0.04", *_tone(2),
        "-vf", vf, *X264, "-qp", "0", *AAC, "-shortest", str(path),
    )
    # fmt: on
    return path


def make_sd_bars(folder: Path) -> Path:
    """SD (640x480) colour bars, BT.601 matrix, limited range, tagged smpte170m as NTSC DV
    and DVD video are: ``BARS`` read back with BT.601."""
    tags = "color_primaries=smpte170m:color_trc=smpte170m:colorspace=smpte170m"
    return _bars(folder / "sd-bars.mp4", (640, 480), "bt601", False, tags)


def make_full_range(folder: Path) -> Path:
    """SD colour bars, BT.601 matrix left untagged, full range tagged as such (a webcam's or
    an MJPEG camera's): ``BARS`` read back as SD video is, with BT.601, at full range."""
    return _bars(folder / "full-range.mp4", (640, 480), "bt601", True, "colorspace=unknown")


def make_hd_bars(folder: Path) -> Path:
    """HD (1280x720) colour bars, BT.709 matrix, untagged: ``BARS`` read back as HD is, with
    BT.709. Must not be taken for BT.601, as FFmpeg's scaler takes untagged video."""
    return _bars(folder / "hd-bars.mp4", (1280, 720), "bt709", False, "colorspace=unknown")


def make_4k60(folder: Path) -> Path:
    """3840x2160 at 60 fps, 1.5 s, testsrc2 and a tone."""
    return make_clip(
        folder / "uhd60.mp4",
        size=(3840, 2160),
        fps="60",
        duration=1.5,
        video_args=(*X264, "-g", "60"),
    )


def _number_clip(path: Path, rate: str, seconds: float) -> Path:
    # fmt: off
    run_ffmpeg(
        "-f", "lavfi", "-i", _number_filter("320x180", rate, seconds), *_tone(seconds),
        *X264, "-g", "12", "-pix_fmt", "yuv420p", *AAC, "-shortest", str(path),
    )
    # fmt: on
    return path


def make_50(folder: Path) -> Path:
    """50 fps number clip (frame ``n`` shows ``n``), 3.2 s."""
    return _number_clip(folder / "fifty.mp4", "50", 3.2)


def make_25(folder: Path) -> Path:
    """25 fps number clip (frame ``n`` shows ``n``), 3.2 s."""
    return _number_clip(folder / "twentyfive.mp4", "25", 3.2)


LATE_VIDEO = 0.5  # seconds the video stream starts after the audio
EVENTS = (1.0, 2.0)  # presentation times where a flash and a beep start together


def make_late_video(folder: Path) -> Path:
    """A video stream that starts ``LATE_VIDEO`` s after the audio (its first timestamp is
    0.5 s), 25 fps. On the file's presentation timeline a white flash and a 1 kHz beep start
    together at each of ``EVENTS``."""
    out = folder / "late-video.mov"
    # -itsoffset shifts the timestamps filters see: ``t`` here is already presentation time
    flash = "+".join(f"between(t,{t - 0.02},{t + 0.06})" for t in EVENTS)
    beep = "+".join(f"between(t,{t},{t}+0.079)" for t in EVENTS)
    # fmt: off
    run_ffmpeg(
        "-itsoffset", str(LATE_VIDEO),
        "-f", "lavfi", "-i", "color=c=black:s=160x90:r=25:d=2.5",
        "-f", "lavfi", "-i", f"aevalsrc='({beep})*0.8*sin(2*PI*1000*t)':s=48000:d=3",
        "-vf", f"drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='{flash}'",
        *X264, "-g", "50", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le", str(out),
    )
    # fmt: on
    return out


def _audio_clip(path: Path, audio_in: tuple[str, ...], audio_args: tuple[str, ...]) -> Path:
    # fmt: off
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=320x180:r=25:d=2", *audio_in,
        *X264, "-pix_fmt", "yuv420p", *audio_args, "-shortest", str(path),
    )
    # fmt: on
    return path


def make_mono(folder: Path) -> Path:
    """Mono AAC, a 440 Hz tone at -6 dBFS."""
    src = ("-f", "lavfi", "-i", "sine=f=440:d=2:sample_rate=48000,volume=0.5")
    return _audio_clip(folder / "mono.mp4", src, ("-c:a", "aac", "-ac", "1"))


SURROUND_TONES = {"FL": 440.0, "FR": 660.0, "FC": 880.0}


def make_surround(folder: Path) -> Path:
    """5.1 AAC: 440 Hz in front left only, 660 Hz in front right only, 880 Hz in the centre;
    LFE and surrounds silent."""
    fl, fr, fc = (f"0.3*sin(2*PI*{SURROUND_TONES[c]}*t)" for c in ("FL", "FR", "FC"))
    exprs = "|".join((fl, fr, fc, "0", "0", "0"))  # 5.1 order: FL FR FC LFE BL BR
    src = ("-f", "lavfi", "-i", f"aevalsrc='{exprs}':s=48000:d=2:c=5.1")
    return _audio_clip(folder / "surround.mp4", src, ("-c:a", "aac", "-b:a", "256k"))


def make_silent_track(folder: Path) -> Path:
    """An audio track of digital silence (stereo AAC), as a camera with its mic off writes."""
    src = ("-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo")
    return _audio_clip(folder / "silent-track.mp4", src, ("-c:a", "aac"))


def make_no_audio(folder: Path) -> Path:
    """Picture only: no audio stream at all."""
    return make_clip(folder / "no-audio.mp4", duration=2.0, audio=False)


def make_audio_only(folder: Path) -> Path:
    """A voice memo: AAC in M4A, no video stream."""
    out = folder / "voice-memo.m4a"
    run_ffmpeg(*_tone(2), "-c:a", "aac", str(out))
    return out


def make_truncated(folder: Path) -> Path:
    """The first 60% of the bytes of a whole 2 s MP4, as an interrupted copy leaves it."""
    whole = make_clip(folder / "whole.mp4", duration=2.0)
    out = folder / "truncated.mp4"
    data = whole.read_bytes()
    out.write_bytes(data[: len(data) * 6 // 10])
    return out


def make_empty(folder: Path) -> Path:
    out = folder / "empty.mp4"
    out.write_bytes(b"")
    return out


def make_not_media(folder: Path) -> Path:
    """A PDF saved with a video name."""
    out = folder / "interview.mp4"
    out.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n")
    return out


AWKWARD_NAME = '-Tom\'s "café" clip ✓ 東京.mp4'


def make_awkward_name(folder: Path) -> Path:
    """A good clip whose name has a leading dash, spaces, both quotes and non-ASCII letters."""
    return make_clip(folder / AWKWARD_NAME, duration=2.0)


# The real clips are long: a fixed crop needs no face analysis of the whole file.
REAL = (
    {"platform": "x", "cut": "main", "aspects": ["16:9"], "strategy": "pad"},
    {
        "platform": "x",
        "cut": "main",
        "aspects": ["1:1"],
        "strategy": "crop",
        "focus": {"x": 0.5, "y": 0.4},
    },
)


def shared(name: str) -> Callable[[Path], Path]:
    def get(folder: Path) -> Path:
        path = SHARED_VIDEO / name
        if not path.is_file():
            pytest.skip(f"{name} is not in ../shared/media/video")
        return path

    get.__doc__ = f"The real clip {name} from ../shared/media/video."
    return get


# ---------------------------------------------------------------------------------------
# Checks: each reads the rendered outputs back and says what it found
# ---------------------------------------------------------------------------------------


@dataclass
class Run:
    root: Path
    source: Path
    code: int
    text: str  # everything the command printed, whitespace collapsed
    outputs: dict[str, Path] = field(default_factory=dict)  # "platform aspect" -> file

    def out(self, platform: str, aspect: str) -> Path:
        return self.outputs[f"{platform} {aspect}"]


BT709 = 1  # FFmpeg's value for BT.709 primaries, transfer and matrix alike


def _colour_tags(path: Path) -> tuple[int, int, int]:
    with av.open(str(path)) as c:
        cc = c.streams.video[0].codec_context
        return int(cc.color_primaries), int(cc.color_trc), int(cc.colorspace)


def _comb(gray: np.ndarray) -> float:
    """Combing on vertically uniform content: mean difference between neighbouring rows.
    Zero for a progressive picture of a vertical bar; large where two fields disagree."""
    g = gray.astype(float)
    return float(np.abs(g[1:] - g[:-1]).mean())


def _tone_level(samples: np.ndarray, rate: int, freq: float) -> float:
    """Amplitude of the ``freq`` component of one channel (0..1 full scale)."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    bin_ = round(freq * len(samples) / rate)
    return float(spectrum[bin_ - 2 : bin_ + 3].max() * 4 / len(samples))


def check_rotated(run: Run) -> str:
    path = run.out("x", "9:16")
    box = red_box(next(frames(path, "rgb24")))
    # The portrait picture fills the 720x1280 output exactly: display pixels times four.
    want = tuple(4 * v for v in PHONE_MARKER)
    assert box is not None and all(abs(g - w) <= 6 for g, w in zip(box, want, strict=True)), (
        f"marker at {box}, expected {want} (top-left of the upright picture)"
    )
    return f"turned upright: the top-left marker is at {box[:2]} in the 720x1280 output"


def check_vfr(run: Run) -> str:
    path = run.out("x", "16:9")
    facts = inspect_output(path)
    src = probe(run.source)
    # Conformed to the camera's rate, from its typical frame interval: not the average (20
    # fps, which drops a third of the frames captured at 30) nor the nominal rate.
    assert facts.fps == src.fps == 30, (facts.fps, src.fps)
    assert facts.frames == round(Fraction(29, 10) * facts.fps) == 87, facts.frames
    # Source frame n was taken at n/30 s: all of them in the first second, even n after.
    taken = [n for n in range(90) if n < 30 or n % 2 == 0]
    wrong, shown_all = [], []
    for k, gray in enumerate(frames(path)):
        t = Fraction(k) / facts.fps
        on_screen = max(n for n in taken if Fraction(n, 30) <= t)
        shown = read_number(gray)
        shown_all.append(shown)
        if shown != on_screen:
            wrong.append((k, shown, on_screen))
    assert not wrong, f"(output frame, source frame shown, source frame on screen): {wrong[:8]}"
    kept = len(set(shown_all) & set(taken))
    assert kept == len([n for n in taken if n < 87]), f"{kept} source frames kept"
    held = len(shown_all) - len(set(shown_all))
    with av.open(str(run.source)) as c:
        average = float(c.streams.video[0].average_rate or 0)
    return (
        f"conformed to {float(facts.fps):g} fps CFR (the camera's rate; average "
        f"{average:.1f}), {facts.frames} frames, "
        f"{float(facts.duration):.3f} s: all {kept} source frames kept, {held} held frames "
        "repeated, each frame the source frame on screen at its time"
    )


def check_interlaced(run: Run) -> str:
    src = [_comb(g) for i, g in enumerate(frames(run.source)) if i < 20]
    out_path = run.out("x", "16:9")
    # crop-free 16:9 output of a 16:9 source: compare like with like at source scale
    out = [_comb(g[::4, ::4]) for i, g in enumerate(frames(out_path)) if i < 20]
    assert np.median(src) > 5, f"the source is not combed ({np.median(src):.2f}): bad fixture"
    assert max(out) < np.median(src) / 5, (
        f"combing in the output {max(out):.2f}, source {np.median(src):.2f}"
    )
    facts = inspect_output(out_path)
    return (
        f"deinterlaced: combing {np.median(src):.1f} in the source, at most {max(out):.2f} "
        f"in the output; {float(facts.fps):g} fps"
    )


def check_geometry(
    box: tuple[int, int, int, int], display: tuple[int, int]
) -> Callable[[Run], str]:
    """The pad output fits the whole display picture; the marker lands where scaling says."""

    def check(run: Run) -> str:
        path = run.out("x", "16:9")
        dw, dh = display
        s = min(1280 / dw, 720 / dh)
        fw, fh = dw * s, dh * s
        ox, oy = (1280 - fw) / 2, (720 - fh) / 2
        x, y, w, h = box
        want = (ox + x * s, oy + y * s, w * s, h * s)
        got = red_box(next(frames(path, "rgb24")))
        assert got is not None, "marker lost"
        assert all(abs(g - v) <= 4 for g, v in zip(got, want, strict=True)), (got, want)
        expected = tuple(round(v) for v in want)
        return f"square pixels, whole picture: marker at {got}, expected {expected}"

    return check


def _card_levels(rgb: np.ndarray) -> tuple[float, float, float]:
    """(grey, white, highlight) mean levels (RGB mean, 0-255) of the colour card in a 16:9
    picture of it (the 16:9 output, or its poster)."""

    def mean(box: tuple[float, float, float, float]) -> float:
        h, w = rgb.shape[:2]
        x0, y0 = int(box[0] * w), int(box[1] * h)
        x1, y1 = int((box[0] + box[2]) * w), int((box[1] + box[3]) * h)
        return float(rgb[y0:y1, x0:x1].mean())

    def frac(box: tuple[int, int, int, int]) -> tuple[float, float, float, float]:
        x, y, w, h = box
        return ((x + 10) / 320, (y + 10) / 180, (w - 20) / 320, (h - 20) / 180)

    return mean((0.1, 0.75, 0.8, 0.15)), mean(frac(WHITE_BOX)), mean(frac(HIGHLIGHT_BOX))


def _poster_and_frame(run: Run, platform: str, aspect: str) -> tuple[np.ndarray, np.ndarray]:
    """(the output's poster, the output's own frame at the poster's time), RGB arrays: what
    the render's stills made from the source, and what its video shows then."""
    out_dir = run.root / "out"
    path = run.out(platform, aspect)
    index = json.loads((out_dir / "index.json").read_text())
    (entry,) = (
        o
        for cs in index["case_studies"]
        for o in cs["outputs"]
        if o["url"] == path.relative_to(out_dir).as_posix()
    )
    with Image.open(out_dir / entry["poster"]["url"]) as im:
        poster = np.asarray(im.convert("RGB"))
    frame = np.asarray(grab_frame(path, float(entry["poster"]["time_s"])))
    return poster, frame


# SDR 18% grey on a BT.709 display is about 105-125 of 255 (BT.709 OETF / BT.1886): a
# washed-out or crushed tone map misses this band.
GREY_BAND = (85.0, 145.0)
# How far a poster's flat patches may be from the video's: JPEG's and x264's rounding.
POSTER_TOLERANCE = 4.0


def check_colour(run: Run) -> str:
    path = run.out("x", "16:9")
    grey, white, high = _card_levels(frame_at(path, 5))
    tags = _colour_tags(path)
    facts = inspect_output(path)
    assert facts.pix_fmt == "yuv420p"
    # every output is BT.709, SDR sources too: what players assume of HD, said outright
    want = (BT709, BT709, BT709)
    assert tags == want, f"colour tags (primaries, transfer, matrix): {tags}, want {want}"
    assert GREY_BAND[0] <= grey <= GREY_BAND[1], f"18% grey came out at {grey:.0f}"
    assert white >= 215, f"reference white came out at {white:.0f}: dim or washed out"
    assert high >= white - 2, f"highlight {high:.0f} darker than white {white:.0f}"
    poster, frame = _poster_and_frame(run, "x", "16:9")
    p_levels, v_levels = _card_levels(poster), _card_levels(frame)
    off = max(abs(p - v) for p, v in zip(p_levels, v_levels, strict=True))
    assert off <= POSTER_TOLERANCE, f"poster (grey, white, highlight) {p_levels}, video {v_levels}"
    poster_says, video_says = ("/".join(f"{v:.0f}" for v in lv) for lv in (p_levels, v_levels))
    return (
        f"8-bit yuv420p, tags (primaries, trc, matrix) {tags}; 18% grey -> {grey:.0f}, "
        f"white -> {white:.0f}, highlight -> {high:.0f} (of 255); poster grey/white/highlight "
        f"{poster_says} vs video {video_says}"
    )


def _bar_colours(rgb: np.ndarray, source: tuple[int, int]) -> np.ndarray:
    """Mean RGB of each of the ``BARS`` in a 16:9 picture that fits the source inside it."""
    h, w = rgb.shape[:2]
    fit = min(w / source[0], h / source[1])
    fw, fh = source[0] * fit, source[1] * fit
    ox, oy = (w - fw) / 2, (h - fh) / 2
    bar = fw / len(BARS)
    return np.array(
        [
            rgb[
                int(oy + fh / 4) : int(oy + 3 * fh / 4),
                int(ox + (i + 0.3) * bar) : int(ox + (i + 0.7) * bar),
            ]
            .reshape(-1, 3)
            .mean(axis=0)
            for i in range(len(BARS))
        ]
    )


# How far a bar may come out from its RGB: x264 at CRF 30 and two scalings (measured: 3-5);
# BT.601 read as BT.709, or full range as limited, is 20-25 off.
BAR_TOLERANCE = 8


def check_bars(run: Run) -> str:
    path = run.out("x", "16:9")
    src = probe(run.source)
    assert _colour_tags(path) == (BT709, BT709, BT709)
    # read back as BT.709, which the tags say and players assume of HD
    got = _bar_colours(frame_at(path, 5), src.display_size)
    off = np.abs(got - np.array(BARS)).max(axis=1)
    assert off.max() <= BAR_TOLERANCE, (
        f"bars off by {off.round(1).tolist()}: (got, want) "
        f"{[(g.round().tolist(), w) for g, w in zip(got, BARS, strict=True)]}"
    )
    poster, frame = _poster_and_frame(run, "x", "16:9")
    p_off = np.abs(_bar_colours(poster, src.display_size) - _bar_colours(frame, src.display_size))
    assert p_off.max() <= POSTER_TOLERANCE, f"poster bars off the video's by {p_off.max(axis=1)}"
    skin = got[0].round().astype(int).tolist()
    return (
        f"{src.matrix} {'full' if src.full_range else 'limited'} range -> BT.709 limited: every "
        f"bar within {off.max():.1f} of its RGB (skin {skin}, want {list(BARS[0])}); poster "
        f"within {p_off.max():.1f} of the video"
    )


def check_4k60(run: Run) -> str:
    facts = inspect_output(run.out("x", "16:9"))
    assert facts.fps == 60 and facts.frames == 90, (facts.fps, facts.frames)
    return f"60 fps kept: {facts.frames} frames at 1280x720 and 720x720"


def check_rate(source_fps: int, platform: str, out_fps: float) -> Callable[[Run], str]:
    """Frame k of the output shows the source frame nearest k / out_fps."""

    def check(run: Run) -> str:
        path = run.out(platform, "16:9")
        facts = inspect_output(path)
        assert abs(float(facts.fps) - out_fps) < 0.01, facts.fps
        off = []
        for k, gray in enumerate(frames(path)):
            want = k * source_fps / float(facts.fps)
            if abs(read_number(gray[:, :: gray.shape[1] // 320 or 1]) - want) > 1:
                off.append(k)
        assert not off, f"frames showing the wrong source frame: {off[:10]}"
        return (
            f"{source_fps} fps -> {float(facts.fps):.3f} fps on {platform}, "
            f"{facts.frames} frames, each the source frame of its time"
        )

    return check


def check_late_video(run: Run) -> str:
    path = run.out("x", "16:9")
    facts = inspect_output(path)
    flashes = [i / float(facts.fps) for i in luma_onsets(path)]
    beeps = beep_onsets(path)
    assert len(flashes) == len(beeps) == len(EVENTS), (flashes, beeps)
    skew = [b - f for f, b in zip(flashes, beeps, strict=True)]
    assert all(abs(s) <= 1 / float(facts.fps) for s in skew), skew
    with av.open(str(run.source)) as c:
        v = c.streams.video[0]
        lead = float(v.start_time * v.time_base) if v.start_time is not None else 0.0
    assert lead >= LATE_VIDEO - 0.05, f"bad fixture: the video starts at {lead:.3f} s"
    skews = ", ".join(f"{s * 1000:+.0f} ms" for s in skew)
    return f"first frame held over the {lead:.2f} s gap; A/V sync kept: beep - flash = {skews}"


def check_mono(run: Run) -> str:
    rate, a, _ = audio_samples(run.out("x", "16:9"))
    assert a.shape[0] == 2
    left, right = (_tone_level(c[rate // 2 : rate + rate // 2], rate, 440) for c in a)
    assert left > 0.05 and abs(left - right) < 0.01 * left + 1e-3, (left, right)
    return f"mono -> stereo, the voice in both channels ({left:.2f} / {right:.2f})"


def check_surround(run: Run) -> str:
    rate, a, _ = audio_samples(run.out("x", "16:9"))
    assert a.shape[0] == 2
    part = a[:, rate // 2 : rate + rate // 2]
    lv = {k: _tone_level(part[0], rate, f) for k, f in SURROUND_TONES.items()}
    rv = {k: _tone_level(part[1], rate, f) for k, f in SURROUND_TONES.items()}
    assert lv["FL"] > 0.05 and rv["FR"] > 0.05 and lv["FC"] > 0.03 and rv["FC"] > 0.03, (lv, rv)
    assert lv["FR"] < lv["FL"] / 20 and rv["FL"] < rv["FR"] / 20, (lv, rv)
    return "5.1 downmixed: front left in L, front right in R, centre in both"


def check_silence(run: Run) -> str:
    rate, a, _ = audio_samples(run.out("x", "16:9"))
    assert a.shape[0] == 2 and a.shape[1] >= 1.9 * rate
    assert float(np.abs(a).max()) < 1e-3
    return "rendered with silent stereo AAC 48 kHz"


def check_shared_clip(run: Run) -> str:
    facts = inspect_output(run.out("x", "16:9"))
    src = probe(run.source)
    return (
        f"{src.video_codec} {src.width}x{src.height} {float(src.fps):.3g} fps, "
        f"audio {src.audio_channels or 'none'} ch -> {facts.width}x{facts.height} "
        f"{float(facts.fps):.3g} fps"
    )


def check_ok(run: Run) -> str:
    return "rendered end to end"


# ---------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------

TWO = (
    {"platform": "x", "cut": "main", "aspects": ["16:9"], "strategy": "pad"},
    {"platform": "x", "cut": "main", "aspects": ["1:1"]},
)
# Colour cases read the whole picture: the crop adds nothing but analysis time.
PAD_ONLY = TWO[:1]


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path], Path]
    check: Callable[[Run], str] | None  # None: the source must be refused
    refusal: str = ""  # what the message must say after "media/<file>: "
    cut: tuple[float, float] = (0, 2)
    outputs: tuple[dict[str, object], ...] = TWO


CASES = [
    Case(
        "phone video, rotation metadata",
        make_phone,
        check_rotated,
        outputs=(
            {"platform": "x", "cut": "main", "aspects": ["9:16"], "strategy": "pad"},
            {"platform": "x", "cut": "main", "aspects": ["1:1"]},
        ),
    ),
    Case("variable frame rate (30 fps, then 15)", make_vfr, check_vfr, cut=(0, 2.9)),
    Case("interlaced (H.264 TFF in MPEG-TS)", make_interlaced, check_interlaced),
    Case("odd size 481x271", make_odd, check_geometry((400, 20, 40, 40), (481, 271))),
    Case("1440x1074, SAR 4:3", make_anamorphic, check_geometry((1600, 100, 80, 80), (1920, 1074))),
    Case("10-bit SDR (H.264 High 10)", make_10bit, check_colour),
    Case("HDR10 PQ (HEVC Main 10)", make_pq, check_colour),
    Case("HDR HLG (HEVC Main 10)", make_hlg, check_colour),
    Case("SD BT.601 colour bars (smpte170m)", make_sd_bars, check_bars, outputs=PAD_ONLY),
    Case("full range, matrix untagged (webcam)", make_full_range, check_bars, outputs=PAD_ONLY),
    Case("HD colour bars, untagged (BT.709)", make_hd_bars, check_bars, outputs=PAD_ONLY),
    Case("4K 60 fps", make_4k60, check_4k60, cut=(0, 1.5)),
    Case(
        "50 fps into a 30 fps target",
        make_50,
        check_rate(50, "linkedin", 30000 / 1001),
        cut=(0, 3),
        outputs=(
            {"platform": "linkedin", "cut": "main", "aspects": ["16:9"], "strategy": "pad"},
            {"platform": "x", "cut": "main", "aspects": ["16:9"], "strategy": "pad"},
        ),
    ),
    Case(
        "25 fps with a 30 fps target",
        make_25,
        check_rate(25, "linkedin", 25),
        cut=(0, 3),
        outputs=(
            {"platform": "linkedin", "cut": "main", "aspects": ["16:9"], "strategy": "pad"},
            {"platform": "x", "cut": "main", "aspects": ["1:1"]},
        ),
    ),
    Case("video starts 0.5 s after audio", make_late_video, check_late_video, cut=(0, 2.5)),
    Case("mono audio", make_mono, check_mono),
    Case("5.1 audio", make_surround, check_surround),
    Case("silent audio track", make_silent_track, check_silence),
    Case("no audio track", make_no_audio, check_silence),
    Case("audio-only file", make_audio_only, None, "has no video stream (found: audio)"),
    Case("truncated file", make_truncated, None, "is truncated: only"),
    Case("zero-byte file", make_empty, None, "is empty (0 bytes)"),
    Case("not media (PDF named .mp4)", make_not_media, None, "is not a video file FFmpeg can read"),
    Case("name: leading dash, spaces, quotes, unicode", make_awkward_name, check_ok),
    Case(
        "real: HEVC 1440x1074, no audio (popeye)",
        shared("popeye_T01-2_pgs.mkv"),
        check_shared_clip,
        cut=(10, 12),
        outputs=REAL,
    ),
    Case(
        "real: FLV/VP6, mono, video 27 ms late (CREMA-D)",
        shared("cremad_1001_DFA_ANG_XX.flv"),
        check_shared_clip,
        cut=(0.2, 2.0),
        outputs=REAL,
    ),
    Case(
        "real: VP8 WebM (Big Buck Bunny)",
        shared("moviepy_big_buck_bunny_0_30.webm"),
        check_shared_clip,
        cut=(2, 4),
        outputs=REAL,
    ),
    Case(
        "real: MPEG-1 PS (GRID)",
        shared("grid_bbaf2n.mpg"),
        check_shared_clip,
        cut=(0.5, 2.5),
        outputs=REAL,
    ),
]


ROWS: list[tuple[str, str, float]] = []


@pytest.fixture(scope="module", autouse=True)
def table() -> Iterator[list[tuple[str, str, float]]]:
    """Collects (case, what happened, seconds) and prints the table when the module ends."""
    yield ROWS
    if not ROWS:
        return
    width = max(len(r[0]) for r in ROWS)
    lines = ["", f"{'case':<{width}} | {'time':>6} | what happened", "-" * (width + 40)]
    lines += [f"{c:<{width}} | {t:5.1f}s | {what}" for c, what, t in ROWS]
    print("\n".join(lines))


STUDY = """\
id: case
title: Footage case
area: Testshire
source: {source}
cuts:
  main: [[{start}, {end}]]
outputs: {outputs}
"""


def _run(case: Case, project: Callable[..., Path], folder: Path) -> Run:
    src = case.make(folder)
    root = project(
        {
            "case.yaml": STUDY.format(
                source=json.dumps(f"../media/{src.name}"),
                start=case.cut[0],
                end=case.cut[1],
                outputs=json.dumps(list(case.outputs)),
            )
        }
    )
    media = root / "media" / src.name
    media.write_bytes(src.read_bytes())
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(["-m", str(root / "manifests"), "render", "-j", "1"])
    run = Run(root, media, code, " ".join(out.getvalue().split()))
    for o in case.outputs:
        for aspect in o["aspects"]:  # type: ignore[attr-defined]
            found = list((root / "out" / "case" / "main").glob(f"{o['platform']}-*.mp4"))
            sized = [p for p in found if _shape(p.name) == aspect]
            if sized:
                run.outputs[f"{o['platform']} {aspect}"] = sized[0]
    return run


def _shape(name: str) -> str:
    w, h = (int(v) for v in name.rsplit("-", 1)[1].removesuffix(".mp4").split("x"))
    g = math.gcd(w, h)
    return f"{w // g}:{h // g}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_footage(
    case: Case,
    project: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    table: list[tuple[str, str, float]],
) -> None:
    monkeypatch.setenv("COLUMNS", "500")  # Rich wraps at 80 columns otherwise
    folder = tmp_path / "made"
    folder.mkdir()
    started = time.monotonic()
    what = "FAILED"
    try:
        run = _run(case, project, folder)
        assert "Traceback" not in run.text, run.text
        if case.check is None:
            name = f"media/{run.source.name}"
            assert run.code == 1, run.text
            assert f"{name}: {case.refusal}" in run.text, run.text
            left = [p for p in (run.root / "out").rglob("*") if p.suffix in (".mp4", ".partial")]
            assert left == [], left
            reason = run.text.split(f"{name}: ", 1)[1].split(" Render summary")[0]
            what = f"refused, exit 1, nothing written: {name}: {reason}"
        else:
            assert run.code == 0, _failures(run.text)
            wanted = sum(len(o["aspects"]) for o in case.outputs)  # type: ignore[misc,arg-type]
            assert len(run.outputs) == wanted, (run.outputs, run.text)
            for path in run.outputs.values():
                _facts_ok(inspect_output(path))
            what = case.check(run)
    except pytest.skip.Exception:
        what = "skipped: clip not present"
        raise
    except BaseException as exc:
        what = f"FAILED: {type(exc).__name__}: {str(exc).splitlines()[0][:100] if str(exc) else ''}"
        traceback.print_exc()
        raise
    finally:
        table.append((case.name, what, time.monotonic() - started))


def _failures(text: str) -> str:
    """The render summary's failure details (the whole output when there are none)."""
    found = re.findall(r"│ (\S+) │ failed │([^\n]*?)(?=│ \S+ │ (?:failed|rendered)|└)", text)
    return "; ".join(f"{path}:{detail.strip(' │')}" for path, detail in found) or text


def _facts_ok(f: OutputFacts) -> None:
    """What every output promises: whole frames at a constant rate, H.264 High 8-bit 4:2:0,
    AAC stereo 48 kHz, index first, BT.709 limited range."""
    assert (f.video_codec, f.video_profile, f.pix_fmt) == ("h264", "High", "yuv420p"), f
    assert abs(f.duration * f.fps - f.frames) < 1, f
    assert (f.audio_codec, f.audio_rate, f.audio_channels) == ("aac", 48000, 2), f
    assert f.moov_before_mdat, f
    assert f.colour == OUTPUT_COLOUR, f"colour {describe(f.colour)}, want {describe(OUTPUT_COLOUR)}"
