"""Face-in-frame figures for reframing, on the real clips in ../shared/media.

For every clip (and two longer "interviews" built from them: talking heads joined with
hard cuts and placed off-centre, and the group clips joined and upscaled), and every
output shape that crops it, this reports the share of checked frames in which a face's
centre is inside the window, for our crop path and for a plain centre crop side by side,
and the window's movement during still shots (jitter; should be zero).

The faces checked are found by a second, independent pass: frames at 2.5 fps, offset from
the analysis's 5 fps grid, at 640 px wide, with another cascade and a stricter setting, and a
face must be seen in two checks in a row. So the figure is not the crop path grading its own
homework on the detections it was built from.

Usage: python bench/reframe_eval.py [--json FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import cv2.data
import imageio_ffmpeg
import numpy as np

from pipeline.analyze import analyze
from pipeline.framing import crop_at, crop_size, fixed_window
from pipeline.jobs import SegmentSpan
from pipeline.plan import conform_rate
from pipeline.probe import probe
from pipeline.reframe import Framing, frame_output
from pipeline.scene import Box

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "media" / "video"
WORK = ROOT / "bench" / "scratch" / "reframe-eval"
SHAPES = {"16:9": (1920, 1080), "1:1": (1080, 1080), "4:5": (1080, 1350), "9:16": (1080, 1920)}
CHECK_FPS, CHECK_OFFSET, CHECK_WIDTH = 2.5, 0.1, 640


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-y",
            "-loglevel",
            "error",
            *args,
        ],
        check=True,
        stdin=subprocess.DEVNULL,
    )


def build_interviews(shared: Path, work: Path) -> list[Path]:
    """Longer test footage from the short real clips (made once, kept in bench/scratch)."""
    work.mkdir(parents=True, exist_ok=True)
    made = []
    talk = work / "interview-talking-heads-v2.mp4"
    if not talk.exists():
        # three takes of GRID talking heads, 2x upscaled, each placed at a different third of
        # a 1280x720 frame over a blurred copy of itself, joined with hard cuts
        clips = ["grid_bbaf2n.mpg", "grid_lwbsza.mpg", "grid_bbaf2n.mpg"]
        xs = [60, 760, 280]
        parts, labels = [], []
        for i, x in enumerate(xs):
            # a plain backdrop: a blurred copy of the clip would put a big blurred face in
            # the middle, which the checking detector finds
            parts.append(
                f"[{i}:v]fps=25,scale=720:576,setsar=1[f{i}];"
                f"color=0x2a3440:s=1280x720:r=25,noise=c0s=8:c0f=t[bg{i}];"
                f"[bg{i}][f{i}]overlay=x={x}:y=72:shortest=1,format=yuv420p[v{i}]"
            )
            labels.append(f"[v{i}]")
        graph = ";".join(parts) + ";" + "".join(labels) + f"concat=n={len(xs)}:v=1:a=0[v]"
        args: list[str] = []
        for c in clips:
            args += ["-i", str(shared / c)]
        tmp = talk.with_name(".partial-" + talk.name)
        _ffmpeg(*args, "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264",
                "-preset", "veryfast", "-crf", "18", "-f", "mp4", str(tmp))  # fmt: skip
        tmp.replace(talk)
    made.append(talk)
    group = work / "interview-group.mp4"
    if not group.exists():
        graph = (
            "[0:v]fps=25,scale=1280:960,crop=1280:720,setsar=1[a];"
            "[1:v]fps=25,scale=1280:960,crop=1280:720,setsar=1[b];[a][b]concat=n=2:v=1:a=0[v]"
        )
        tmp = group.with_name(".partial-" + group.name)
        inputs = ["-i", str(shared / "openmpf_video_01.mp4")]
        inputs += ["-i", str(shared / "openmpf_video_02.mp4")]
        _ffmpeg(*inputs, "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264",
                "-preset", "veryfast", "-crf", "18", "-f", "mp4", str(tmp))  # fmt: skip
        tmp.replace(group)
    made.append(group)
    return made


_cascade: Any = None


def check_faces(path: Path, duration: float, rotation: int) -> list[tuple[float, list[Box]]]:
    """The independent pass: (source time, faces) at CHECK_FPS, offset from the analysis,
    with another cascade (alt2) than the analysis uses. A face counts only if it is seen
    again near the same place in the check before or after: the strict setting still
    finds the odd face in a shirt or a cartoon, but not twice in a row."""
    global _cascade
    if _cascade is None:
        _cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_alt2.xml")
    out: list[tuple[float, list[Box]]] = []
    wanted = [CHECK_OFFSET + k / CHECK_FPS for k in range(int(duration * CHECK_FPS) + 1)]
    wanted = [t for t in wanted if t < duration - 0.05]
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        v.thread_type = "AUTO"
        start = (c.start_time or 0) / 1e6
        i = 0
        for frame in c.decode(v):
            if i >= len(wanted):
                break
            t = float(frame.time or 0) - start
            if t + 0.5 / 25 < wanted[i]:
                continue
            dw, dh = frame.width * float(v.sample_aspect_ratio or 1), frame.height
            gray = frame.to_ndarray(
                width=CHECK_WIDTH, height=round(CHECK_WIDTH * dh / dw), format="gray"
            )
            if rotation:
                # clockwise display rotation, as FFmpeg's autorotate applies it
                gray = np.ascontiguousarray(np.rot90(gray, -rotation // 90))
            h, w = gray.shape
            found = _cascade.detectMultiScale(
                gray, scaleFactor=1.05, minNeighbors=6, minSize=(w // 16, w // 16)
            )
            faces = [Box(x / w, y / h, fw / w, fh / h) for x, y, fw, fh in found]
            out.append((t, faces))
            i += 1
    return [(t, [f for f in faces if _seen_again(f, out, k)]) for k, (t, faces) in enumerate(out)]


def _seen_again(face: Box, checks: list[tuple[float, list[Box]]], k: int) -> bool:
    for j in (k - 1, k + 1):
        if 0 <= j < len(checks):
            for g in checks[j][1]:
                near = abs(g.cx - face.cx) < face.w and abs(g.cy - face.cy) < face.h
                if near and 0.5 < g.w / face.w < 2:
                    return True
    return False


@dataclass
class Figures:
    clip: str
    aspect: str
    checked: int  # frames with at least one checked face
    ours_main: float  # share of those frames whose largest face centre is inside our window
    centre_main: float
    ours_all: float  # share of all checked face centres inside (padded time counts as inside)
    centre_all: float
    padded: float  # share of checked frames that fall in padded shots
    still_jitter_px: int  # largest frame-to-frame window move inside still shots
    modes: str


def evaluate(path: Path, cache: Path) -> list[Figures]:
    info = probe(path)
    analysis = analyze(path, info.sha256, cache)
    fps = conform_rate(info.fps)
    frames = int(info.duration * fps) - 1
    segments = (SegmentSpan(Fraction(0), Fraction(frames) / fps),)
    src_w, src_h = info.display_size
    checks = check_faces(path, float(segments[0].end), info.rotation)
    rows = []
    for aspect, size in SHAPES.items():
        if crop_size(src_w, src_h, *size) == (src_w // 2 * 2, src_h // 2 * 2):
            continue  # the output has the source's shape: nothing to frame
        framing = frame_output(analysis, segments, fps, (src_w, src_h), size, "auto", None)
        centre = fixed_window(src_w, src_h, *size, 0.5, 0.5)
        rows.append(_figures(path.stem, aspect, framing, centre, checks, fps, (src_w, src_h)))
    return rows


def _inside(face: Box, win: tuple[int, int, int, int], src: tuple[int, int]) -> bool:
    x, y, w, h = win
    cx, cy = face.cx * src[0], face.cy * src[1]
    return x <= cx <= x + w and y <= cy <= y + h


def _figures(
    clip: str,
    aspect: str,
    framing: Framing,
    centre: Any,
    checks: list[tuple[float, list[Box]]],
    fps: Fraction,
    src: tuple[int, int],
) -> Figures:
    centre_win = (centre.x, centre.y, centre.w, centre.h)
    n = ours_main = centre_main = padded = 0
    all_n = ours_all = centre_all = 0
    for t, faces in checks:
        if not faces:
            continue
        n += 1
        out_t = Fraction(round(t * fps)) / fps
        pad = any(a <= out_t < b for a, b in framing.pad_ranges)
        padded += pad
        win = crop_at(framing.windows, out_t)
        main = max(faces, key=lambda f: f.area)
        ours_main += pad or _inside(main, win, src)
        centre_main += _inside(main, centre_win, src)
        for f in faces:
            all_n += 1
            ours_all += pad or _inside(f, win, src)
            centre_all += _inside(f, centre_win, src)
    jitter = 0
    for d in framing.decisions:
        if d.mode != "still":
            continue
        first, last = round(d.start * fps), round(d.end * fps)
        xs = [crop_at(framing.windows, Fraction(k) / fps)[:2] for k in range(first, last)]
        for a, b in itertools.pairwise(xs):
            jitter = max(jitter, abs(a[0] - b[0]), abs(a[1] - b[1]))
    modes: dict[str, int] = {}
    for d in framing.decisions:
        modes[d.mode] = modes.get(d.mode, 0) + 1
    return Figures(
        clip,
        aspect,
        n,
        ours_main / n if n else 1.0,
        centre_main / n if n else 1.0,
        ours_all / all_n if all_n else 1.0,
        centre_all / all_n if all_n else 1.0,
        padded / n if n else 0.0,
        jitter,
        ", ".join(f"{v} {k}" for k, v in sorted(modes.items())),
    )


def clips(shared: Path) -> list[Path]:
    return sorted(p for p in shared.iterdir() if p.is_file()) + build_interviews(shared, WORK)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "reframe.json")
    args = ap.parse_args()
    if not SHARED.is_dir():
        print("no ../shared/media/video beside the project: nothing to evaluate")
        return 1
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Face centres inside the crop: ours vs a plain centre crop")
    for col in ("clip", "aspect", "frames", "main face: ours", "centre", "all faces: ours",
                "centre", "padded", "still jitter px", "shots"):  # fmt: skip
        table.add_column(col, justify="left" if col in ("clip", "aspect", "shots") else "right")
    rows = []
    for path in clips(SHARED):
        for f in evaluate(path, WORK / "cache"):
            rows.append(f)
            table.add_row(
                f.clip, f.aspect, str(f.checked), f"{f.ours_main:.0%}", f"{f.centre_main:.0%}",
                f"{f.ours_all:.0%}", f"{f.centre_all:.0%}", f"{f.padded:.0%}",
                str(f.still_jitter_px), f.modes,
            )  # fmt: skip
    Console(width=160).print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps([f.__dict__ for f in rows], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
