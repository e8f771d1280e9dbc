"""Thumbnail selection on generated clips whose truth is known (what is black, blurred, fading
or sharp, and when), and on the real clips in ../shared/media when they are there."""

from __future__ import annotations

import itertools
import statistics
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from pipeline.analyze import analyze
from pipeline.jobs import SegmentSpan
from pipeline.plan import conform_rate
from pipeline.probe import file_sha256, probe
from pipeline.scene import Box
from pipeline.thumbnails import (
    MIN_DISTANCE,
    W_FACE_OUTSIDE,
    Candidate,
    cut_duration,
    explain,
    hist_distance,
    mark_transitions,
    pick,
    sample_candidates,
    score,
)
from tests.clips import SHARED_MEDIA, run_ffmpeg

FPS = Fraction(25)
SIZE = (640, 360)
FACE_CLIP = SHARED_MEDIA / "video" / "grid_bbaf2n.mpg"
# The truth of the generated clip, in seconds: black, a blurred picture, a sharp picture
# fading out to black, then a sharp picture with a face (or a drawn target) on it.
BLACK = (0.0, 1.5)
BLURRED = (1.5, 3.5)
FADE = (3.5, 5.5)
SHARP = (5.5, 8.0)
REAL_CAP_S = 20  # seconds of each real clip that are sampled and analysed


def _source(kind: str, seconds: float) -> str:
    return f"testsrc2=s={SIZE[0]}x{SIZE[1]}:r={FPS}:d={seconds}" if kind == "testsrc2" else kind


def make_truth_clip(path: Path) -> tuple[Path, bool]:
    """The four-part clip above; True if its sharp part has a real face on it."""
    w, h = SIZE
    face = FACE_CLIP.is_file()
    inputs = ["-i", str(FACE_CLIP)] if face else []
    sharp_s = SHARP[1] - SHARP[0]
    parts = [
        f"color=c=black:s={w}x{h}:r={FPS}:d={BLACK[1] - BLACK[0]}[a]",
        f"{_source('testsrc2', BLURRED[1] - BLURRED[0])},gblur=sigma=6[b]",
        f"{_source('testsrc2', FADE[1] - FADE[0])},fade=t=out:st=0:d={FADE[1] - FADE[0]}[c]",
    ]
    if face:
        # a real frontal face, sharp, over the detailed picture: the one frame type that
        # should win on both sharpness and the face part
        parts.append(
            f"[0:v]fps={FPS},trim=duration={sharp_s},setpts=PTS-STARTPTS,setsar=1[f];"
            f"{_source('testsrc2', sharp_s)}[bg];[bg][f]overlay=x=260:y=36:shortest=1[d]"
        )
    else:
        parts.append(
            f"{_source('testsrc2', sharp_s)},"
            "drawbox=x=300:y=80:w=200:h=200:color=white:t=fill,"
            "drawgrid=x=300:y=80:w=20:h=20:t=3:color=black[d]"
        )
    graph = ";".join(parts) + ";[a][b][c][d]concat=n=4:v=1:a=0,format=yuv420p[v]"
    run_ffmpeg(*inputs, "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264",
               "-preset", "veryfast", "-crf", "16", "-g", "25", str(path))  # fmt: skip
    return path, face


def make_scenes_clip(path: Path) -> Path:
    """Three 3-second scenes that look different: a sharp colour test picture, then softer
    pictures in other colours (colour bars and a Mandelbrot set, both slightly blurred)."""
    w, h = SIZE
    graph = (
        f"{_source('testsrc2', 3)}[a];"
        f"smptehdbars=s={w}x{h}:r={FPS}:d=3,gblur=sigma=1.2[b];"
        f"mandelbrot=s={w}x{h}:r={FPS},trim=duration=3,gblur=sigma=1.2[c];"
        "[a][b][c]concat=n=3:v=1:a=0,format=yuv420p[v]"
    )
    run_ffmpeg("-filter_complex", graph, "-map", "[v]", "-c:v", "libx264",
               "-preset", "veryfast", "-crf", "16", "-g", "25", str(path))  # fmt: skip
    return path


def _within(c: Candidate, span: tuple[float, float]) -> bool:
    return span[0] <= float(c.out_t) < span[1]


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Candidate], bool]:
    path, face = make_truth_clip(tmp_path_factory.mktemp("thumbs") / "truth.mp4")
    segments = (SegmentSpan(Fraction(0), Fraction(SHARP[1])),)
    # no shot times: fades must be found from the pictures alone
    return sample_candidates(path, segments, FPS, ()), face


def test_winner_is_in_the_sharp_stretch_and_black_and_fade_frames_are_rejected(
    truth: tuple[list[Candidate], bool],
) -> None:
    candidates, face = truth
    # every half second, on the frame grid (0.5 s is 12.5 frames at 25 fps)
    assert len(candidates) == 16
    for k, c in enumerate(candidates):
        assert (c.out_t * FPS).denominator == 1 and abs(c.out_t - Fraction(k, 2)) <= 1 / (2 * FPS)
    scored = score(candidates, SIZE)
    by_time = {float(s.candidate.out_t): s for s in scored}
    for s in scored:
        c = s.candidate
        if _within(c, BLACK):
            assert s.rejected and "black" in s.rejected, s
        # every frame of the fade, including its first (still full brightness), is found by
        # the luma ramp alone: no shot times were given
        if _within(c, FADE):
            assert c.transition, c
            assert s.rejected and "transition" in s.rejected, s
        if _within(c, BLURRED) and float(c.out_t) > BLURRED[0]:
            assert not c.transition, c  # a blurred picture is not a transition
    assert by_time[0.0].rejected and "transition" in by_time[0.0].rejected  # the cut's start
    winner = pick(scored)[0]
    assert _within(winner.candidate, SHARP), explain(scored, [winner])
    assert winner.rejected is None and not winner.fallback
    sharp = [c.sharpness for c in candidates if _within(c, SHARP)]
    blurred = [c.sharpness for c in candidates if _within(c, BLURRED)]
    assert min(sharp) > 5 * max(blurred)
    if face:
        assert winner.candidate.faces, "the real face in the sharp stretch was not found"
        assert dict(winner.parts)["face"] > 0
        assert winner.candidate.eyes is not None and winner.candidate.eyes >= 1
    lines = explain(scored, [winner])
    assert any(line.startswith("winner 00:0") for line in lines), lines


def test_frames_near_a_shot_change_are_transitions_and_never_picked(
    truth: tuple[list[Candidate], bool],
) -> None:
    candidates, _ = truth
    before = pick(score(candidates, SIZE))[0].candidate
    # a shot change just after the frame that wins without one
    shot = before.out_t + Fraction(1, 10)
    marked = mark_transitions(candidates, [shot], Fraction(SHARP[1]))
    near = [c for c in marked if abs(c.out_t - shot) < Fraction(1, 2)]
    assert before.out_t in {c.out_t for c in near}
    assert all(c.transition for c in near)
    picked = pick(score(marked, SIZE), n=5, min_distance=0.0)
    assert picked, "other good frames remain"
    assert all(abs(p.candidate.out_t - shot) >= Fraction(1, 2) for p in picked)
    assert all(p.rejected is None for p in picked)


def test_a_face_outside_the_crop_window_lowers_the_score(
    truth: tuple[list[Candidate], bool],
) -> None:
    candidates, _ = truth
    winner = pick(score(candidates, SIZE))[0].candidate
    if not winner.faces:
        # no real face available: give the winner a confident one, right of centre
        winner = replace(winner, faces=(Box(0.5, 0.2, 0.15, 0.27, 0.95),), eyes=2)
    cands = [winner if c.out_t == winner.out_t else c for c in candidates]
    face = winner.faces[0]
    crop_w = SIZE[1] * 9 // 16  # a 9:16 window of the 640x360 source
    away = 0 if face.cx > 0.5 else SIZE[0] - crop_w
    onto = min(max(0, round(face.cx * SIZE[0] - crop_w / 2)), SIZE[0] - crop_w)

    def scored_with(x: int | None) -> dict[str, float]:
        window = None if x is None else (x, 0, crop_w, SIZE[1])
        found = score(cands, SIZE, lambda t: window)
        mine = next(s for s in found if s.candidate.out_t == winner.out_t)
        return {**dict(mine.parts), "score": mine.score}

    whole, inside, outside = scored_with(None), scored_with(onto), scored_with(away)
    assert inside["face"] == whole["face"] > 0
    assert inside["score"] == whole["score"]
    assert "face" not in outside and "eyes" not in outside
    assert outside["face_outside_crop"] == -W_FACE_OUTSIDE
    assert outside["score"] < inside["score"] - 0.1


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> list[Candidate]:
    path = make_scenes_clip(tmp_path_factory.mktemp("thumbs") / "scenes.mp4")
    segments = (SegmentSpan(Fraction(0), Fraction(9)),)
    return sample_candidates(path, segments, FPS, (Fraction(3), Fraction(6)))


def test_several_picks_are_visually_different_not_neighbours(scenes: list[Candidate]) -> None:
    scored = score(scenes, SIZE)
    usable = sorted((s for s in scored if not s.rejected), key=lambda s: -s.score)

    def scene(s: object) -> int:
        assert isinstance(s, type(scored[0]))
        return int(s.candidate.out_t // 3)

    # without the diversity rule the three best would all come from the sharp first scene
    assert {scene(s) for s in usable[:3]} == {0}
    picked = pick(scored, n=3)
    assert len(picked) == 3
    assert sorted(scene(s) for s in picked) == [0, 1, 2]
    assert picked[0] is usable[0]
    for a, b in itertools.combinations(picked, 2):
        assert hist_distance(a.candidate.hist, b.candidate.hist) >= MIN_DISTANCE
    # and neighbours in one scene are closer than that, which is what the rule relies on
    first = [s for s in usable if scene(s) == 0]
    assert hist_distance(first[0].candidate.hist, first[1].candidate.hist) < MIN_DISTANCE


def test_pick_falls_back_to_the_best_rejected_frame_and_says_so(
    truth: tuple[list[Candidate], bool],
) -> None:
    candidates, _ = truth
    black = [c for c in candidates if _within(c, BLACK)]
    scored = score(black, SIZE)
    picked = pick(scored)
    assert len(picked) == 1 and picked[0].fallback and picked[0].rejected
    assert any("every candidate was rejected" in line for line in explain(scored, picked))


def _analysis_copy(path: Path, info_duration: float, work: Path) -> Path:
    """The analysis decodes the whole file: give it only the part that is sampled."""
    if info_duration <= REAL_CAP_S + 1:
        return path
    short = work / f"{path.stem}-first{REAL_CAP_S}s{path.suffix}"
    run_ffmpeg("-i", str(path), "-t", str(REAL_CAP_S), "-map", "0:v:0", "-c", "copy", str(short))
    return short


def test_real_clips_get_a_bright_sharp_thumbnail_away_from_shot_changes(
    tmp_path: Path,
) -> None:
    folder = SHARED_MEDIA / "video"
    if not folder.is_dir():
        pytest.skip(f"needs the real clips in ../shared/media/video ({folder} is missing)")
    rows = []
    problems = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        started = time.perf_counter()
        info = probe(path)
        fps = conform_rate(info.fps)
        frames = min(int(info.duration * fps) - 1, REAL_CAP_S * int(fps))
        segments = (SegmentSpan(Fraction(0), Fraction(frames) / fps),)
        end = cut_duration(segments, fps)
        copy = _analysis_copy(path, float(info.duration), tmp_path)
        analysis = analyze(copy, file_sha256(copy), tmp_path / "cache")
        shots = sorted(
            {Fraction(round(Fraction(t) * fps)) / fps for t in analysis.shots} - {Fraction(0)}
        )
        shots = [s for s in shots if s < end]
        candidates = sample_candidates(path, segments, fps, shots, analysis=analysis)
        scored = score(candidates, info.display_size)
        winner = pick(scored)[0]
        c = winner.candidate
        mid = statistics.median(x.sharpness for x in candidates)
        with_face = [s for s in scored if s.rejected is None and "face" in dict(s.parts)]
        checks = {
            "not black": c.luma_mean >= 20,
            "not soft": c.sharpness >= mid,
            "away from shots": all(abs(c.out_t - s) >= Fraction(1, 2) for s in shots),
            "has a face": not with_face or "face" in dict(winner.parts),
            "not a fallback": not winner.fallback,
        }
        failed = [name for name, ok in checks.items() if not ok]
        if failed:
            problems.append(f"{path.name}: {failed}\n" + "\n".join(explain(scored, [winner])))
        rows.append(
            f"{path.name:34} {len(candidates):3} {len(shots):5} {float(c.out_t):7.2f} "
            f"{winner.score:6.3f} {c.sharpness / mid:6.2f} {c.luma_mean:5.0f} "
            f"{'yes' if 'face' in dict(winner.parts) else 'no':>5} "
            f"{time.perf_counter() - started:6.1f}"
        )
    print(f"\n{'clip':34} {'n':>3} {'shots':>5} {'win_t':>7} {'score':>6} "
          f"{'sh/med':>6} {'luma':>5} {'face':>5} {'secs':>6}")  # fmt: skip
    print("\n".join(rows))
    assert not problems, "\n\n".join(problems)
