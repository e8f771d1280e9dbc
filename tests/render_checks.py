"""What the render tests need beyond tests/clips.py: clips whose pictures carry their own
truth (frame numbers, square markers in odd geometries, flashes with beeps), a way to plan
a cut through the real manifest -> plan path at test-sized outputs, and measurements that
read rendered files back (pixels, onsets, MP4 boxes, H.264 NAL types)."""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from pipeline.build import plan_campaign
from pipeline.jobs import CutJob, OutputJob, Plan
from pipeline.render import RENDERED, render_cut
from tests.clips import run_ffmpeg

# ---------------------------------------------------------------------------------------
# Clips
# ---------------------------------------------------------------------------------------

STRIPES = 10  # bits of frame number drawn per picture: up to 1023 frames

# Codec arguments per container for the number clips: 12-frame GOPs, so that most in
# points fall between keyframes and need the frames before them decoded first.
# fmt: off
NUMBER_CODECS: dict[str, tuple[str, ...]] = {
    "mp4": ("-c:v", "libx264", "-preset", "ultrafast", "-g", "12", "-c:a", "aac"),
    # MKV stores times in whole milliseconds: at 24000/1001 fps frame 2 sits at 83 ms,
    # before its nominal 83.417 ms.
    "mkv": ("-c:v", "libx264", "-preset", "ultrafast", "-g", "12", "-c:a", "aac"),
    "webm": ("-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M",
             "-g", "12", "-c:a", "libvorbis"),
    # MPEG-PS: FFmpeg's seek lands on any frame, not a keyframe (see graph.SEEK_PREROLL).
    # No B-frames: FFmpeg's own MPEG-PS muxer then writes some frames with repeated times,
    # and the clip would no longer be its own truth (the GRID .mpg files are regular).
    "mpg": ("-c:v", "mpeg1video", "-b:v", "1500k", "-maxrate", "1500k", "-bufsize", "1000k",
            "-g", "12", "-bf", "0", "-c:a", "mp2", "-ac", "2"),
}
# fmt: on


def make_number_clip(
    path: Path, *, fps: str = "25", duration: float = 6.0, size: tuple[int, int] = (320, 180)
) -> Path:
    """Frame ``n`` shows ``n`` in binary: stripe ``k`` (of 10, left to right) is white when
    bit ``k`` is set, black otherwise. A 440 Hz tone plays throughout.

    Truth: the frame decoded at index ``n`` reads ``n``; keyframes every 12 frames.
    """
    w, h = size
    lum = f"if(bitand(N\\,pow(2\\,floor(X*{STRIPES}/W)))\\,235\\,16)"
    # fmt: off
    run_ffmpeg(
        "-f", "lavfi", "-i", f"color=c=black:s={w}x{h}:r={fps}:d={duration},"
        f"geq=lum='{lum}':cb=128:cr=128",
        "-f", "lavfi", "-i", f"sine=f=440:d={duration}:sample_rate=44100",
        *NUMBER_CODECS[path.suffix.lstrip(".")], "-pix_fmt", "yuv420p", "-shortest", str(path),
    )
    # fmt: on
    return path


def read_number(gray: np.ndarray) -> int:
    w = gray.shape[1]
    bits = [gray[:, int((k + 0.5) * w / STRIPES)].mean() > 128 for k in range(STRIPES)]
    return sum(int(b) << k for k, b in enumerate(bits))


@dataclass(frozen=True)
class Marker:
    """A clip with one pure red box; ``box`` is where a viewer sees it, in display pixels
    (after pixel aspect and rotation), as (x, y, w, h)."""

    path: Path
    display: tuple[int, int]
    box: tuple[int, int, int, int]

    @property
    def focus(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return (x + w / 2) / self.display[0], (y + h / 2) / self.display[1]


def make_geometry_clip(
    path: Path,
    *,
    coded: tuple[int, int],
    box: tuple[int, int, int, int],
    sar: tuple[int, int] = (1, 1),
    rotate: int = 0,
    duration: float = 1.0,
) -> Marker:
    """Grey picture of ``coded`` size with a red box at ``box`` (coded pixels), stored with
    sample aspect ratio ``sar`` and, if ``rotate`` is 90, a display matrix that turns it a
    quarter counter-clockwise (FFmpeg's ``-display_rotation``).

    Truth: the returned ``Marker.box`` is where the box shows on screen. Lossless 4:4:4,
    so odd sizes are allowed and the red is exact.
    """
    w, h = coded
    x, y, bw, bh = box
    target = path if not rotate else path.with_name(f"unrotated-{path.name}")
    # fmt: off
    run_ffmpeg(
        "-f", "lavfi", "-i", f"color=c=0x808080:s={w}x{h}:r=25:d={duration}",
        "-f", "lavfi", "-i", f"sine=f=440:d={duration}",
        "-vf", f"drawbox=x={x}:y={y}:w={bw}:h={bh}:color=0xFF0000:t=fill,setsar={sar[0]}/{sar[1]}",
        "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv444p",
        "-c:a", "aac", "-shortest", str(target),
    )
    # fmt: on
    sx = Fraction(*sar)
    dw, dx, dbw = round(w * sx), round(x * sx), round(bw * sx)
    if not rotate:
        return Marker(path, (dw, h), (dx, y, dbw, bh))
    assert rotate == 90, "only a quarter turn is generated"
    run_ffmpeg("-display_rotation", "90", "-i", str(target), "-c", "copy", str(path))
    target.unlink()
    # A quarter turn counter-clockwise: the right edge becomes the top.
    return Marker(path, (h, dw), (y, dw - dx - dbw, bh, dbw))


def make_flash_beep(
    path: Path,
    *,
    events: Sequence[float],
    fps: str,
    duration: float,
    audio: str = "pcm48",
    size: tuple[int, int] = (160, 90),
) -> Path:
    """Black video with a white picture and a 1 kHz beep starting at the same instant at each
    time in ``events``, which must lie on the frame grid (flash 2 frames, beep 80 ms).
    ``audio`` picks the source's sound: ``pcm48`` (48 kHz PCM in MOV) or ``aac44`` (44.1 kHz
    AAC in MP4, with its own priming and edit list, resampled on the way).

    Truth: every flash onset coincides with a beep onset; keyframes every 50 frames.
    """
    w, h = size
    rate = 48000 if audio == "pcm48" else 44100
    beep = "+".join(f"between(t,{t},{t}+0.079)" for t in events)
    # Half a frame of slack either side: an event on the frame grid is then lit however the
    # frame's time rounds.
    flash = "+".join(f"between(t,{t}-0.5/({fps}),{t}+1.5/({fps}))" for t in events)
    codec = ("-c:a", "pcm_s16le") if audio == "pcm48" else ("-c:a", "aac", "-b:a", "128k")
    # fmt: off
    run_ffmpeg(
        "-f", "lavfi", "-i", f"color=c=black:s={w}x{h}:r={fps}:d={duration}",
        "-f", "lavfi", "-i", f"aevalsrc='({beep})*0.8*sin(2*PI*1000*t)':s={rate}:d={duration}",
        "-vf", f"drawbox=x=0:y=0:w={w}:h={h}:color=white:t=fill:enable='{flash}'",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p",
        *codec, "-shortest", str(path),
    )
    # fmt: on
    return path


# ---------------------------------------------------------------------------------------
# Planning at test size
# ---------------------------------------------------------------------------------------

# Platform sizes shrunk for speed, keeping each aspect's exact shape (so the planned crop
# windows still fit) and even dimensions (4:2:0).
SMALL = {"16:9": (320, 180), "1:1": (180, 180), "4:5": (144, 180), "9:16": (180, 320)}
MEDIUM = {"16:9": (640, 360), "1:1": (360, 360), "4:5": (288, 360), "9:16": (360, 640)}


def plan_cut(
    project: Callable[..., Path],
    source: Path,
    segments: Sequence[Sequence[float]],
    outputs: Sequence[dict[str, object]],
    sizes: dict[str, tuple[int, int]] | None = SMALL,
) -> tuple[CutJob, Path]:
    """Plan one cut of ``source`` through manifests -> probe -> plan, outputs resized to
    ``sizes`` (None keeps the platform's). Returns the job and its output folder."""
    root = project(
        {
            "study.yaml": f"""\
            id: study
            title: Render test
            area: Test area
            source: ../media/{source.name}
            cuts:
              main: {json.dumps([[float(t) for t in s] for s in segments])}
            outputs: {json.dumps(list(outputs))}
            """
        }
    )
    media = root / "media" / source.name
    if source.resolve() != media.resolve():
        shutil.copyfile(source, media)
    manifests, plan = plan_campaign(root / "manifests")
    assert not plan.failed, plan.failed
    (job,) = plan.jobs
    if sizes is not None:
        job = replace(job, outputs=tuple(resized(o, *sizes[o.aspect]) for o in job.outputs))
    return job, manifests.output_dir


def small_plan(plan: Plan, *, keep_stills: bool = False) -> Plan:
    """``plan`` with every output at its aspect's test size (``SMALL``), so renders take a
    fraction of a second; without its stills unless ``keep_stills``."""
    jobs = tuple(
        replace(
            j,
            outputs=tuple(
                replace(o, width=SMALL[o.aspect][0], height=SMALL[o.aspect][1]) for o in j.outputs
            ),
        )
        for j in plan.jobs
    )
    return replace(plan, jobs=jobs) if keep_stills else replace(plan, jobs=jobs, stills=())


def resized(out: OutputJob, width: int, height: int) -> OutputJob:
    assert Fraction(width, height) == Fraction(out.width, out.height), "shape must not change"
    return replace(out, width=width, height=height)


def render_ok(job: CutJob, out_dir: Path) -> list[Path]:
    results = render_cut(job, job.outputs, str(out_dir))
    failed = [f"{r.job.path}: {r.reason}" for r in results if r.status != RENDERED]
    assert not failed, "\n".join(failed)
    return [out_dir / o.path for o in job.outputs]


def segment_frames(job: CutJob) -> list[int]:
    return [round(s.duration * job.fps) for s in job.segments]


# ---------------------------------------------------------------------------------------
# Reading outputs back
# ---------------------------------------------------------------------------------------


def frames(path: Path, fmt: str = "gray") -> Iterator[np.ndarray]:
    with av.open(str(path)) as c:
        for f in c.decode(c.streams.video[0]):
            yield f.to_ndarray(format=fmt)


def frame_at(path: Path, index: int = 0) -> np.ndarray:
    for i, rgb in enumerate(frames(path, "rgb24")):
        if i == index:
            return rgb
    raise AssertionError(f"{path.name} has no frame {index}")


def red_box(rgb: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box (x, y, w, h) of clearly red pixels; the blurred background of a pad is
    too washed out to count."""
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    ys, xs = np.nonzero((r > 150) & (g < 90) & (b < 90))
    if not len(xs):
        return None
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def luma_onsets(path: Path, threshold: float = 128) -> list[int]:
    """Indices of frames where the mean luma rises through ``threshold``."""
    means = [float(g.mean()) for g in frames(path)]
    return [
        i for i, m in enumerate(means) if m > threshold and (i == 0 or means[i - 1] <= threshold)
    ]


def audio_samples(path: Path) -> tuple[int, np.ndarray, float]:
    """(rate, samples as channels x n float array, pts of the first sample in seconds)."""
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        chunks, first = [], None
        for f in c.decode(s):
            if first is None:
                first = float(f.pts * f.time_base) if f.pts is not None else 0.0
            a = f.to_ndarray()
            chunks.append(a if f.format.is_planar else a.reshape(-1, len(f.layout.channels)).T)
        return s.rate, np.concatenate(chunks, axis=1), first or 0.0


def beep_onsets(path: Path, level: float = 0.2, quiet: float = 0.02) -> list[float]:
    """Seconds at which the sound first exceeds ``level`` after at least ``quiet`` s below it."""
    rate, a, first = audio_samples(path)
    loud = np.flatnonzero(np.abs(a).max(axis=0) > level)
    starts = [int(i) for k, i in enumerate(loud) if k == 0 or i - loud[k - 1] > quiet * rate]
    return [first + i / rate for i in starts]


def mp4_boxes(path: Path) -> list[tuple[str, bytes]]:
    """Every box as ("moov/trak/mdia/...", payload), descending into the containers that
    matter here."""
    containers = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"}
    data = path.read_bytes()
    found: list[tuple[str, bytes]] = []

    def walk(start: int, end: int, prefix: str) -> None:
        pos = start
        while pos + 8 <= end:
            size, kind = struct.unpack(">I4s", data[pos : pos + 8])
            header = 8
            if size == 1:
                size, header = struct.unpack(">Q", data[pos + 8 : pos + 16])[0], 16
            elif size == 0:
                size = end - pos
            if size < header:
                break
            name = f"{prefix}{kind.decode('latin-1')}"
            found.append((name, data[pos + header : pos + size]))
            if kind in containers:
                walk(pos + header, pos + size, name + "/")
            pos += size

    walk(0, len(data), "")
    return found


@dataclass(frozen=True)
class VideoPackets:
    pts: list[int]  # presentation order
    durations: list[int]
    keyframes: list[int]  # presentation indices of keyframe packets
    idr: list[bool]  # per keyframe: does it carry an IDR slice (NAL type 5)?
    leading: int  # frames shown before a keyframe that are decoded after it (open-GOP sign)
    time_base: Fraction


def _nal_types(data: bytes) -> set[int]:
    types, pos = set(), 0
    while pos + 4 <= len(data):
        n = int.from_bytes(data[pos : pos + 4], "big")
        if pos + 4 < len(data):
            types.add(data[pos + 4] & 0x1F)
        pos += 4 + n
    return types


def video_packets(path: Path) -> VideoPackets:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        packets = [(p.pts, p.duration, p.is_keyframe, bytes(p)) for p in c.demux(s) if p.size]
        tb = Fraction(s.time_base)
    order = sorted(p[0] for p in packets)
    index = {pts: i for i, pts in enumerate(order)}
    keys = [(index[p[0]], 5 in _nal_types(p[3])) for p in packets if p[2]]
    leading = 0
    last_key_pts = None
    for pts, _, is_key, _ in packets:  # decode order
        if is_key:
            last_key_pts = pts
        elif last_key_pts is not None and pts < last_key_pts:
            leading += 1
    return VideoPackets(
        pts=order,
        durations=[p[1] for p in packets],
        keyframes=[k for k, _ in keys],
        idr=[i for _, i in keys],
        leading=leading,
        time_base=tb,
    )
