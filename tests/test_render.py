"""Render correctness, checked by reading every output back: picture geometry (where a
marker lands for each aspect and strategy, from any source shape), frame-exact joins,
stream facts, the temporary-then-rename contract, incremental re-renders, and the real
clips in ../shared/media/video (or generated stand-ins for them on a fresh clone).

Set RENDER_TESTS_GENERATED=1 to run the fresh-clone path even where the shared media is.
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from pipeline.errors import FFmpegError
from pipeline.ffmpeg_run import ffmpeg_exe, run
from pipeline.graph import build_argv
from pipeline.jobs import CutJob, OutputJob
from pipeline.probe import inspect_output
from pipeline.profiles import ASPECTS
from pipeline.render import FAILED, RENDERED, STATE_DIR, UP_TO_DATE, Lock, render_cut, render_plan
from pipeline.verify import verify_output
from tests.clips import SHARED_MEDIA, make_clip, make_marker_clip, run_ffmpeg
from tests.render_checks import (
    MEDIUM,
    Marker,
    frame_at,
    frames,
    make_geometry_clip,
    make_number_clip,
    mp4_boxes,
    plan_cut,
    read_number,
    red_box,
    render_ok,
    segment_frames,
    video_packets,
)

pytestmark = pytest.mark.render

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def clip(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str, Callable[[Path], object]], Path]:
    """Generate each named clip once per session: ``clip("name.mp4", maker)``."""
    folder = tmp_path_factory.mktemp("render-clips")
    made: dict[str, Path] = {}

    def get(name: str, make: Callable[[Path], object]) -> Path:
        if name not in made:
            make(folder / name)
            made[name] = folder / name
        return made[name]

    return get


def facts_ok(job: CutJob, out: OutputJob, path: Path) -> None:
    """What every output promises: size, whole frames, stream formats, faststart."""
    f = inspect_output(path)
    frames_wanted = round(out.duration * out.fps)
    assert (f.width, f.height) == (out.width, out.height), path.name
    assert f.frames == frames_wanted, f"{path.name}: {f.frames} frames, planned {frames_wanted}"
    assert abs(f.duration - job.duration) <= 1 / out.fps, (
        f"{path.name}: {float(f.duration):.4f} s, segments add up to {float(job.duration):.4f} s"
    )
    assert (f.video_codec, f.video_profile, f.pix_fmt) == ("h264", "High", "yuv420p")
    assert (f.audio_codec, f.audio_rate, f.audio_channels) == ("aac", 48000, 2)
    assert f.moov_before_mdat, f"{path.name}: moov after mdat (no faststart)"
    boxes = [name for name, _ in mp4_boxes(path)]
    assert not [b for b in boxes if b.endswith(("edts", "elst"))], f"{path.name} has an edit list"


# ---------------------------------------------------------------------------------------
# Geometry: where the picture comes from
# ---------------------------------------------------------------------------------------

MARKER = (520, 140, 40, 40)  # the red box in the 640x360 marker clip


def marker_clip(clip: Callable[..., Path]) -> Marker:
    path = clip("marker.mp4", lambda p: make_marker_clip(p, marker=MARKER))
    return Marker(path, (640, 360), MARKER)


def crop_box(m: Marker, out: OutputJob) -> tuple[int, int, int, int]:
    """Where the crop window and the scale put the marker in the output."""
    win = out.windows[0]
    sx, sy = out.width / win.w, out.height / win.h
    x, y, w, h = m.box
    return round((x - win.x) * sx), round((y - win.y) * sy), round(w * sx), round(h * sy)


def fitted(display: tuple[int, int], out: OutputJob) -> tuple[float, float, int, int]:
    """(x, y, w, h) of the whole picture fitted inside the output, even-sized, centred."""
    dw, dh = display
    s = min(out.width / dw, out.height / dh)
    fw, fh = int(dw * s) // 2 * 2, int(dh * s) // 2 * 2
    return (out.width - fw) / 2, (out.height - fh) / 2, fw, fh


def pad_box(m: Marker, out: OutputJob) -> tuple[int, int, int, int]:
    """Where fitting the whole picture inside the output puts the marker."""
    dw, dh = m.display
    ox, oy, fw, fh = fitted(m.display, out)
    x, y, w, h = m.box
    return round(ox + x * fw / dw), round(oy + y * fh / dh), round(w * fw / dw), round(h * fh / dh)


def near(got: tuple[int, ...] | None, want: tuple[int, ...], tol: int = 2) -> bool:
    return got is not None and all(abs(g - w) <= tol for g, w in zip(got, want, strict=True))


def test_crop_around_focus_point_puts_marker_where_the_window_says(project, clip):
    m = marker_clip(clip)
    fx, fy = m.focus
    job, out_dir = plan_cut(
        project,
        m.path,
        [[0.2, 1.2]],
        [
            {
                "platform": "x",
                "cut": "main",
                "aspects": list(ASPECTS),
                "strategy": "crop",
                "focus": {"x": fx, "y": fy},
            }
        ],
        sizes=MEDIUM,
    )
    for out, path in zip(job.outputs, render_ok(job, out_dir), strict=True):
        got, want = red_box(frame_at(path, 3)), crop_box(m, out)
        assert near(got, want), (
            f"{out.aspect}: red box at {got}, crop math says {want} ({out.windows[0]})"
        )
        x, y, w, h = got
        assert x > 0 and y >= 0 and x + w < out.width and y + h <= out.height, (
            f"{out.aspect}: focus point on the marker but the marker is cut: {got}"
        )


def test_a_centre_crop_leaves_an_off_centre_marker_out_and_auto_keeps_it(project, clip):
    m = marker_clip(clip)
    centre = {"strategy": "crop", "focus": {"x": 0.5, "y": 0.5}}
    job, out_dir = plan_cut(
        project,
        m.path,
        [[0.2, 1.2]],
        [
            {"platform": "x", "cut": "main", "aspects": ["9:16", "1:1", "16:9"], **centre},
            {"platform": "facebook", "cut": "main", "aspects": ["9:16", "1:1"]},
        ],
    )
    boxes = {
        (o.platform, o.aspect): red_box(frame_at(p, 3))
        for o, p in zip(job.outputs, render_ok(job, out_dir), strict=True)
    }
    assert boxes["x", "9:16"] is None and boxes["x", "1:1"] is None, boxes
    assert boxes["x", "16:9"] is not None, "the full-frame output must still show it"
    # the default, auto: no face, so it holds on what stands out, the marker
    assert boxes["facebook", "9:16"] is not None and boxes["facebook", "1:1"] is not None, boxes


def test_pad_shows_the_whole_picture_over_a_blurred_copy(project, clip):
    m = marker_clip(clip)
    job, out_dir = plan_cut(
        project,
        m.path,
        [[0.2, 1.2]],
        [{"platform": "x", "cut": "main", "aspects": ["9:16", "4:5"], "strategy": "pad"}],
        sizes=MEDIUM,
    )
    for out, path in zip(job.outputs, render_ok(job, out_dir), strict=True):
        got, want = red_box(frame_at(path, 3)), pad_box(m, out)
        assert near(got, want), f"{out.aspect}: red box at {got}, fitting the frame gives {want}"

    # On a busy picture the band above the fitted frame is the picture again, blurred: not
    # black bars, and with far less fine detail than the sharp foreground.
    busy = clip("busy.mp4", lambda p: make_clip(p, size=(640, 360), duration=2.0))
    job, out_dir = plan_cut(
        project,
        busy,
        [[0.2, 1.2]],
        [{"platform": "x", "cut": "main", "aspects": ["9:16"], "strategy": "pad"}],
        sizes=MEDIUM,
    )
    (path,) = render_ok(job, out_dir)
    rgb = frame_at(path, 3).astype(float)
    _, top, _, fh = fitted((640, 360), job.outputs[0])
    top = int(top)
    band, middle = rgb[8 : top - 8], rgb[top + 8 : top + fh - 8]
    detail = lambda a: float(np.abs(np.diff(a, axis=1)).mean())  # noqa: E731
    assert band.mean() > 40, f"background is dark ({band.mean():.0f}): bars, not the picture"
    assert detail(band) < detail(middle) / 4, (
        f"background not blurred: detail {detail(band):.2f} vs foreground {detail(middle):.2f}"
    )


GEOMETRIES = {
    "4:3": {"coded": (640, 480), "box": (500, 300, 40, 40)},
    "portrait": {"coded": (360, 640), "box": (40, 520, 40, 40)},
    "phone-rotated": {"coded": (640, 360), "box": (520, 140, 40, 40), "rotate": 90},
    "1440x1074": {"coded": (1440, 1074), "box": (1200, 800, 80, 80)},
    "odd-721x405": {"coded": (721, 405), "box": (600, 101, 41, 41)},
    "pal-sar-16:15": {"coded": (720, 576), "box": (600, 200, 60, 64), "sar": (16, 15)},
    "anamorphic-64:45": {"coded": (720, 576), "box": (585, 200, 45, 64), "sar": (64, 45)},
}


@pytest.mark.parametrize("shape", list(GEOMETRIES))
def test_any_source_shape_gives_exact_sizes_without_stretching(project, tmp_path, shape):
    m = make_geometry_clip(tmp_path / f"{shape}.mp4", **GEOMETRIES[shape])
    fx, fy = m.focus
    job, out_dir = plan_cut(
        project,
        m.path,
        [[0.2, 0.8]],
        [
            {
                "platform": "x",
                "cut": "main",
                "aspects": ["9:16", "16:9"],
                "strategy": "crop",
                "focus": {"x": fx, "y": fy},
            },
            {"platform": "x", "cut": "main", "aspects": ["1:1"], "strategy": "pad"},
        ],
        sizes=MEDIUM,
    )
    assert job.display_size == m.display, "probe + plan must see the picture a viewer sees"
    for out, path in zip(job.outputs, render_ok(job, out_dir), strict=True):
        facts_ok(job, out, path)
        got = red_box(frame_at(path, 3))
        want = crop_box(m, out) if out.strategy == "crop" else pad_box(m, out)
        assert near(got, want, tol=3), (
            f"{shape} {out.aspect} {out.strategy}: marker at {got}, expected {want}"
        )
        _, _, w, h = got
        assert abs(w - h) <= max(2, 0.08 * w), (
            f"{shape} {out.aspect}: square marker shows as {w}x{h}"
        )


# ---------------------------------------------------------------------------------------
# Time: frame-exact joins and stream facts
# ---------------------------------------------------------------------------------------

# In and out points in source frames. None of the in points is on a keyframe (every 12th
# frame); the last two start past 2 s, where the renderer seeks instead of decoding from 0;
# one segment goes backwards in time.
JOIN_FRAMES = [(3, 17), (40, 52), (25, 31), (77, 90), (101, 126)]


@pytest.mark.parametrize(
    "container, fps", [("mp4", "25"), ("mkv", "24000/1001"), ("webm", "24"), ("mpg", "25")]
)
def test_joins_are_frame_exact_without_keyframe_snapping(project, clip, container, fps):
    src = clip(
        f"numbers-{fps.replace('/', '_')}.{container}", lambda p: make_number_clip(p, fps=fps)
    )
    rate = Fraction(fps)
    job, out_dir = plan_cut(
        project,
        src,
        [[a / rate, b / rate] for a, b in JOIN_FRAMES],
        [{"platform": "x", "cut": "main", "aspects": ["16:9"]}],
    )
    assert segment_frames(job) == [b - a for a, b in JOIN_FRAMES]
    (path,) = render_ok(job, out_dir)
    got = [read_number(g) for g in frames(path)]
    want = [n for a, b in JOIN_FRAMES for n in range(a, b)]
    assert len(got) == len(want), f"{len(got)} frames, segments hold {len(want)}"
    firsts, pos = [], 0
    for a, b in JOIN_FRAMES:
        firsts.append((a, got[pos]))
        pos += b - a
    assert got == want, f"(in point, first frame shown) per segment: {firsts}"


def test_outputs_have_the_promised_streams_gop_and_timing(project, clip):
    """Three platforms' encodes of one three-segment cut, all from one FFmpeg process."""
    src = clip("numbers-25.mp4", lambda p: make_number_clip(p, fps="25"))
    job, out_dir = plan_cut(
        project,
        src,
        [[0.12, 1.0], [2.52, 3.4], [4.04, 5.0]],
        [
            {"platform": "x", "cut": "main", "aspects": ["16:9", "1:1"]},
            {"platform": "youtube", "cut": "main", "aspects": ["16:9"]},
        ],
    )
    targets = [f"/out/target-{i}.mp4" for i in range(3)]
    argv = build_argv(job, job.outputs, targets, "ffmpeg")
    assert argv.count("-filter_complex") == 1 and argv.count("-i") == len(job.segments)
    assert [a for a in argv if "target-" in a] == [f"file:{t}" for t in targets]

    for out, path in zip(job.outputs, render_ok(job, out_dir), strict=True):
        facts_ok(job, out, path)
        with av.open(str(path)) as c:
            assert c.streams.audio[0].codec_context.profile == "LC"
        p = video_packets(path)
        tick = 1 / (out.fps * p.time_base)
        assert set(p.durations) == {tick}, (
            f"{path.name}: frame durations {set(p.durations)} (not CFR)"
        )
        assert set(np.diff(p.pts)) == {tick}, f"{path.name}: uneven frame times"
        n = round(out.duration * out.fps)
        assert p.keyframes == list(range(0, n, out.encode.keyint)), (
            f"{path.name}: keyframes at {p.keyframes}, want every {out.encode.keyint} frames"
        )
        assert all(p.idr) and p.leading == 0, (
            f"{path.name}: GOP not closed (IDR {p.idr}, leading {p.leading})"
        )
        check = verify_output(out, out_dir)
        assert check.passed, check.failures


def test_verify_rejects_what_platforms_reject(project, clip):
    """A plain FFmpeg MP4 (edit list, 4:4:4, 44.1 kHz mono, moov at the end, no colour tags)
    at an output path."""
    m = marker_clip(clip)
    job, out_dir = plan_cut(
        project,
        m.path,
        [[0.2, 1.2]],
        [{"platform": "x", "cut": "main", "aspects": ["9:16"]}],
        sizes=None,
    )
    (out,) = job.outputs
    (out_dir / out.path).parent.mkdir(parents=True)
    shutil.copyfile(m.path, out_dir / out.path)
    check = verify_output(out, out_dir)
    rules = {f.split(":")[0] for f in check.failures}
    assert not check.passed
    assert {"edit lists", "faststart", "pixel format", "audio channels", "dimensions"} <= rules, (
        check.failures
    )
    assert (
        "colour: unspecified/unspecified/unspecified/unspecified (primaries/transfer/matrix/"
        "range) (rule: bt709/bt709/bt709/tv)"
    ) in check.failures, check.failures


# ---------------------------------------------------------------------------------------
# Temporary name, then rename: interruption and failure
# ---------------------------------------------------------------------------------------


def _ffmpeg_pids(marker: str) -> list[int]:
    """FFmpeg processes whose command line mentions ``marker`` (a test's own temp folder)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:  # not a process, or gone
            continue
        if "ffmpeg" in Path(argv[0]).name and any(marker in a for a in argv):
            pids.append(int(proc.name))
    return pids


@pytest.mark.parametrize("who", ["cli-process", "process-group"])
def test_interrupted_render_leaves_nothing_at_output_paths(project, clip, who):
    """Ctrl-C in a terminal signals the whole process group; ``kill -INT`` only the CLI."""
    src = clip("long.mp4", lambda p: make_clip(p, duration=40.0))
    job, out_dir = plan_cut(
        project,
        src,
        [[0, 38]],
        [{"platform": "x", "cut": "main", "aspects": ["9:16", "16:9"]}],
        sizes=None,
    )
    root = out_dir.parent
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "-m", str(root / "manifests"), "render", "-j", "1"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, so signalling the group spares pytest
    )
    try:
        deadline = time.monotonic() + 60
        while not list(out_dir.rglob("*.partial")):
            assert proc.poll() is None, (
                f"render ended before it could be interrupted: {proc.communicate()}"
            )
            assert time.monotonic() < deadline, "FFmpeg never started writing"
            time.sleep(0.05)
        time.sleep(0.3)  # the whole encode takes tens of seconds
        assert _ffmpeg_pids(str(root)), "FFmpeg should be running now"
        if who == "cli-process":
            proc.send_signal(signal.SIGINT)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    for out in job.outputs:
        assert not (out_dir / out.path).exists(), f"{out.path} exists after the interrupt"
    assert not list(out_dir.rglob("*.partial")), "temporary files left behind"
    assert not Lock(out_dir).entries, "nothing was rendered, so nothing may be recorded"
    deadline = time.monotonic() + 5
    while (left := _ffmpeg_pids(str(root))) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:  # ours: clean up before failing
        os.kill(pid, signal.SIGKILL)
    assert not left, f"FFmpeg still running after the CLI exited: {left}"


def test_ffmpeg_failure_raises_with_the_cause_and_keeps_a_log(tmp_path):
    log = tmp_path / "fail.log"
    argv = [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "level+warning",
        "-progress",
        "pipe:1",
        "-f",
        "lavfi",
        "-i",
        "color=s=64x64:d=0.2",
        "-c:v",
        "no_such_encoder",
        str(tmp_path / "x.mp4"),
    ]
    with pytest.raises(FFmpegError) as info:
        run(argv, "impossible job", log)
    err = info.value
    assert err.returncode != 0 and "no_such_encoder" in err.tail, err.tail
    assert "Conversion failed" not in err.tail
    assert err.log_path == str(log) and "no_such_encoder" in log.read_text()
    assert str(log) in str(err) and "impossible job" in str(err)
    again = pickle.loads(pickle.dumps(err))  # errors cross from worker processes
    assert (again.tail, again.log_path) == (err.tail, err.log_path)

    with pytest.raises(FFmpegError, match="cannot start"):
        run([str(tmp_path / "no-ffmpeg-here")], "missing binary")


def test_failed_render_reports_and_leaves_no_files(project, clip):
    m = marker_clip(clip)
    job, out_dir = plan_cut(
        project,
        m.path,
        [[0.2, 1.2]],
        [{"platform": "x", "cut": "main", "aspects": ["9:16", "16:9"]}],
    )
    broken = replace(job, source=str(out_dir / "gone.mp4"))  # vanished after planning
    results = render_cut(broken, broken.outputs, str(out_dir))
    assert [r.status for r in results] == [FAILED, FAILED]
    assert all("FFmpeg failed" in r.reason and "gone.mp4" in r.reason for r in results), results[
        0
    ].reason
    assert not [p for p in out_dir.rglob("*") if p.suffix in (".mp4", ".partial")]
    assert (out_dir / STATE_DIR / "logs" / "study.main.log").read_text()


# ---------------------------------------------------------------------------------------
# Incremental: nothing changed renders nothing
# ---------------------------------------------------------------------------------------


def test_rerender_touches_only_what_changed(project, clip):
    m = marker_clip(clip)
    outputs = [
        {"platform": "x", "cut": "main", "aspects": ["1:1"]},
        {"platform": "x", "cut": "main", "aspects": ["16:9"]},
    ]
    started: list[tuple[list[str], str]] = []

    out_dir = Path()

    def render(outs: list[dict[str, object]]) -> dict[str, str]:
        nonlocal out_dir
        job, out_dir = plan_cut(project, m.path, [[0.2, 1.2]], outs)
        started.clear()
        results = render_plan(
            [job], out_dir, on_start=lambda j, o, why: started.append(([x.aspect for x in o], why))
        )
        return {r.job.aspect: r.status for r in results}

    assert render(outputs) == {"1:1": RENDERED, "16:9": RENDERED}
    files = {p.name: p.stat().st_mtime_ns for p in out_dir.rglob("*.mp4")}

    assert render(outputs) == {"1:1": UP_TO_DATE, "16:9": UP_TO_DATE}
    assert started == [], "an up-to-date output was re-rendered"

    outputs[1] = {**outputs[1], "encoder": {"crf": 35}}
    assert render(outputs) == {"1:1": UP_TO_DATE, "16:9": RENDERED}
    assert started == [(["16:9"], ("manifest changed",))]
    now = {p.name: p.stat().st_mtime_ns for p in out_dir.rglob("*.mp4")}
    assert now["x-720x720.mp4"] == files["x-720x720.mp4"], "the unchanged output was rewritten"
    assert now["x-1280x720.mp4"] != files["x-1280x720.mp4"]


# ---------------------------------------------------------------------------------------
# The real clips (or generated stand-ins with the same containers, codecs and shapes)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RealClip:
    name: str
    segments: tuple[tuple[float, float], ...]
    has_audio: bool
    stand_in: tuple[str, ...]  # FFmpeg arguments that make a similar clip at ``name``
    stand_in_cut: tuple[tuple[float, float], ...] = ()  # when the stand-in is shorter


def _lavfi(size: str, rate: str, seconds: float, audio: str | None) -> tuple[str, ...]:
    args = ("-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}:d={seconds}")
    if audio:
        args += ("-f", "lavfi", "-i", f"sine=f=330:d={seconds}:sample_rate=44100", "-ac", audio)
    return args


# fmt: off
MPEG1 = ("-c:v", "mpeg1video", "-b:v", "1500k", "-maxrate", "1500k", "-bufsize", "1000k",
         "-g", "12", "-c:a", "mp2")
X264 = ("-c:v", "libx264", "-preset", "ultrafast")
REAL_CLIPS = [
    RealClip("grid_bbaf2n.mpg", ((0.5, 1.3), (1.9, 2.7)), True,
             (*_lavfi("360x288", "25", 3, "2"), *MPEG1)),
    RealClip("grid_lwbsza.mpg", ((0.1, 0.9), (2.0, 2.9)), True,
             (*_lavfi("360x288", "25", 3, "2"), *MPEG1)),
    RealClip("cremad_1001_DFA_ANG_XX.flv", ((0.2, 0.9), (1.2, 2.0)), True,
             (*_lavfi("480x360", "30000/1001", 2.24, "1"), "-c:v", "flv", "-q:v", "4",
              "-c:a", "libmp3lame")),
    RealClip("moviepy_chaplin.mp4", ((1.0, 2.0), (4.5, 5.5)), True,
             (*_lavfi("480x360", "25", 6, "2"), "-vf", "pad=640:360:80:0", *X264,
              "-c:a", "libmp3lame")),
    RealClip("moviepy_big_buck_bunny_0_30.webm", ((2.0, 3.0), (21.0, 22.0)), True,
             (*_lavfi("1280x720", "24", 9, "2"), "-c:v", "libvpx", "-deadline", "realtime",
              "-cpu-used", "16", "-b:v", "300k", "-c:a", "libvorbis"), ((2.0, 3.0), (7.5, 8.5))),
    RealClip("openmpf_video_01.mp4", ((0.3, 1.0), (2.0, 2.9)), True,
             (*_lavfi("640x480", "30000/1001", 3, "2"), *X264, "-c:a", "aac")),
    RealClip("openmpf_video_02.mp4", ((3.0, 4.0), (12.0, 13.0)), True,
             (*_lavfi("640x480", "30000/1001", 14, "2"), *X264, "-c:a", "aac")),
    RealClip("openmpf_10001-90210-01803.mp4", ((1.0, 2.0), (5.0, 6.0)), True,
             (*_lavfi("1920x1080", "24", 6.5, "2"), *X264, "-c:a", "aac")),
    RealClip("popeye_T01-2_pgs.mkv", ((10.0, 11.0), (40.0, 41.0)), False,
             (*_lavfi("1440x1074", "24", 1.5, None), "-c:v", "libx265", "-preset", "ultrafast",
              "-x265-params", "log-level=error"), ((0.1, 0.7), (0.8, 1.4))),
]
# fmt: on

SHARED_VIDEO = SHARED_MEDIA / "video"
USE_SHARED = SHARED_VIDEO.is_dir() and not os.environ.get("RENDER_TESTS_GENERATED")


@pytest.mark.parametrize("real", REAL_CLIPS, ids=[c.name for c in REAL_CLIPS])
def test_real_clip_renders_to_two_aspects(project, clip, real):
    if USE_SHARED:
        src, segments = SHARED_VIDEO / real.name, [list(s) for s in real.segments]
        assert src.is_file(), f"{src} is listed in SOURCES.md but missing"
    else:
        src = clip(real.name, lambda p: run_ffmpeg(*real.stand_in, "-pix_fmt", "yuv420p", str(p)))
        segments = [list(s) for s in real.stand_in_cut or real.segments]
    job, out_dir = plan_cut(
        project,
        src,
        segments,
        [
            {"platform": "x", "cut": "main", "aspects": ["9:16"]},
            {"platform": "x", "cut": "main", "aspects": ["1:1"], "strategy": "pad"},
        ],
    )
    assert job.has_audio == real.has_audio
    for out, path in zip(job.outputs, render_ok(job, out_dir), strict=True):
        facts_ok(job, out, path)
        with av.open(str(path)) as c:
            sound = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
        peak = float(np.abs(sound).max())
        if real.has_audio:
            assert peak > 1e-3, f"{path.name}: the source's sound is missing"
        else:
            assert peak < 1e-4, f"{path.name}: a source without audio must give silence"
