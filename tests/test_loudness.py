"""Loudness normalisation and the verify stage, checked by measuring rendered files with
FFmpeg's ebur128 here in the test (not with the pipeline's own meter)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

import pipeline.build as build
import pipeline.loudness as loudness
from pipeline.build import plan_campaign, render_campaign
from pipeline.profiles import PROFILES, PlatformProfile
from pipeline.render import STATE_DIR
from tests.clips import FFMPEG, run_ffmpeg
from tests.render_checks import plan_cut, render_ok, small_plan

pytestmark = pytest.mark.render


def make_speechy(path: Path, amplitude: float, *, duration: float = 4.0) -> Path:
    """Tone bursts, 0.6 s on and 0.4 s off, every other burst 6 dB quieter (so the loudness
    range is not zero), at ``amplitude`` of full scale in both channels."""
    wave = f"{amplitude}*(1-0.5*mod(floor(t)\\,2))*sin(2*PI*440*t)*lt(mod(t\\,1)\\,0.6)"
    # fmt: off
    run_ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=s=160x90:r=25:d={duration}",
        "-f", "lavfi", "-i", f"aevalsrc='{wave}|{wave}':s=48000:d={duration}",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
        "-c:a", "pcm_s16le", "-shortest", str(path),
    )
    # fmt: on
    return path


EBUR128 = ("-af", "ebur128=peak=true", "-f", "null", "-")


def ebur128(path: Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) of ``path``'s audio, read from ebur128's summary."""
    err = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostats", "-i", str(path), "-map", "0:a:0", *EBUR128],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    summary = err[err.rfind("Summary:") :]
    i = re.search(r"I:\s+(\S+) LUFS", summary)
    tp = re.search(r"Peak:\s+(\S+) dBFS", summary)
    assert i and tp, summary
    return float(i.group(1)), float(tp.group(1))


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("loudness-clips")
    return {
        "quiet": make_speechy(folder / "quiet.mov", 0.025),
        "loud": make_speechy(folder / "loud.mov", 0.7),
    }


@pytest.mark.parametrize("level", ["quiet", "loud"])
def test_quiet_and_loud_sources_land_on_target(project, sources, level):
    before, _ = ebur128(sources[level])
    job, out_dir = plan_cut(
        project,
        sources[level],
        [[0.0, 2.0], [2.0, 3.8]],
        [
            {"platform": "web", "cut": "main", "aspects": ["16:9"]},
            {"platform": "x", "cut": "main", "aspects": ["1:1"]},
        ],
    )
    paths = render_ok(job, out_dir)
    for path in paths:
        lufs, peak = ebur128(path)
        print(f"{level}: {before:.1f} LUFS -> {path.name} {lufs:.1f} LUFS, {peak:.1f} dBTP")
        assert abs(lufs - -16) <= 1.0, f"{path.name}: {lufs} LUFS (source {before})"
        assert peak <= -1.5, f"{path.name}: true peak {peak} dBTP"
    assert (before < -30) if level == "quiet" else (before > -10), before


def test_measurement_is_cached(project, sources, monkeypatch):
    runs: list[str] = []
    real = loudness._run_pass1

    def counting(argv: list[str], what: str, log_path: Path | None) -> str:
        runs.append(what)
        return real(argv, what, log_path)

    monkeypatch.setattr(loudness, "_run_pass1", counting)
    job, out_dir = plan_cut(
        project,
        sources["quiet"],
        [[0.0, 3.0]],
        [{"platform": "web", "cut": "main", "aspects": ["16:9"]}],
    )
    render_ok(job, out_dir)
    cached = list((out_dir / STATE_DIR / "loudness").glob("*.json"))
    assert len(runs) == 1 and len(cached) == 1, (runs, cached)
    record = json.loads(cached[0].read_text())
    assert float(record["input_i"]) < -30
    render_ok(job, out_dir)  # same cut again: the figures come from the cache
    assert len(runs) == 1, runs
    # another cut of the same source is another measurement
    shorter = replace(job, segments=(replace(job.segments[0], end=job.segments[0].end / 2),))
    target = loudness.target_of(job.outputs[0])
    shape = loudness.shape_of(shorter, job.outputs[0])
    loudness.measure(shorter, shape, target, 48000, out_dir / STATE_DIR, FFMPEG)
    assert len(runs) == 2, runs
    # and so is another shape of the same cut (a shorter output, or one with a fade)
    loudness.measure(job, replace(shape, fade=4800), target, 48000, out_dir / STATE_DIR, FFMPEG)
    assert len(runs) == 3, runs


def test_broadcast_output_lands_at_minus_23(project, sources):
    job, out_dir = plan_cut(
        project,
        sources["loud"],
        [[0.0, 3.8]],
        [{"platform": "broadcast", "cut": "main", "aspects": ["16:9"]}],
    )
    assert job.outputs[0].end_card is None and job.outputs[0].burn is None
    (path,) = render_ok(job, out_dir)
    lufs, peak = ebur128(path)
    print(f"broadcast: {path.name} {lufs:.1f} LUFS, {peak:.1f} dBTP")
    assert abs(lufs - -23) <= 1.0 and peak <= -1.0, (lufs, peak)


def test_mode_matches_loudnorms_own_decision(tmp_path):
    """Our prediction of linear/dynamic against what loudnorm reports for pass 2."""
    src = tmp_path / "spiky.wav"
    # quiet tone with one near-full-scale click: a +20 dB gain would push it over the ceiling
    wave = "0.02*sin(2*PI*440*t)*(1-0.5*mod(floor(t)\\,2))+0.9*between(t\\,1.5\\,1.5002)"
    run_ffmpeg("-f", "lavfi", "-i", f"aevalsrc='{wave}':s=48000:d=4", str(src))
    modes: list[str] = []
    for wav, target in ((src, loudness.Target(-16, -1.5, 11)), (src, loudness.Target(-40, -1, 11))):
        analyse = f"loudnorm=I={target.i}:TP={target.aim_tp}:LRA={target.lra}:print_format=json"
        err = subprocess.run(
            [FFMPEG, "-hide_banner", "-nostats", "-i", str(wav), "-af", analyse, "-f", "null", "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        stats = loudness.parse_loudnorm(err)
        m = loudness.Measurement(
            *(
                float(stats[k])
                for k in ("input_i", "input_tp", "input_lra", "input_thresh", "target_offset")
            )
        )
        opts = ":".join(f"{k}={v}" for k, v in loudness.pass2_options(m, target).items())
        err = subprocess.run(
            [
                FFMPEG,
                "-hide_banner",
                "-nostats",
                "-i",
                str(wav),
                "-af",
                f"loudnorm={opts}",
                "-f",
                "null",
                "-",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        actual = loudness.parse_loudnorm(err)["normalization_type"]
        assert loudness.loudnorm_mode(m, target) == actual, (target, m)
        # where loudnorm would compress, pass 2 takes the limiter path instead
        assert loudness.mode(m, target) == ("linear" if actual == "linear" else "limited")
        modes.append(actual)
    assert modes == ["dynamic", "linear"], modes


def _campaign(project: Callable[..., Path], source: Path, outputs: list[dict[str, object]]) -> Path:
    root = project(
        {
            "study.yaml": f"""\
            id: study
            title: Loudness test
            area: Test area
            source: ../media/{source.name}
            cuts:
              main: [[0, 2.5]]
            outputs: {json.dumps(outputs)}
            """
        }
    )
    (root / "media" / source.name).write_bytes(source.read_bytes())
    return root


def test_silent_source_is_reported_silent_not_failed(project, tmp_path):
    src = tmp_path / "mute.mp4"
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=3",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(src),
    )  # fmt: skip
    root = _campaign(project, src, [{"platform": "web", "cut": "main", "aspects": ["16:9"]}])
    manifests, plan = plan_campaign(root / "manifests", analyse=False)
    report = render_campaign(manifests, small_plan(plan))
    assert not report.failed, [r.reason for r in report.results]
    index = json.loads(report.index_path.read_text())
    (out,) = index["case_studies"][0]["outputs"]
    assert out["checks"]["passed"] and out["checks"]["normalization"] == "silent", out["checks"]
    assert out["checks"]["loudness_lufs"] is None
    assert not list((manifests.output_dir / STATE_DIR / "loudness").glob("*.json"))


def test_index_has_checks_and_a_nonconforming_output_is_failed(project, sources, monkeypatch):
    root = _campaign(
        project,
        sources["quiet"],
        [
            {"platform": "web", "cut": "main", "aspects": ["16:9"]},
            {"platform": "x", "cut": "main", "aspects": ["16:9"]},
        ],
    )
    manifests, plan = plan_campaign(root / "manifests", analyse=False)
    real_verify = build.verify_output

    def stricter(out, out_dir, **kw):
        # after the render: X's rules tightened, so its (good) file no longer conforms
        with pytest.MonkeyPatch.context() as mp:
            if out.platform == "x":
                mp.setitem(PROFILES, "x", replace(PROFILES["x"], h264_level="3.0"))
                mp.setattr(PlatformProfile, "video_kbps_for", lambda self, w, h: 1)
            return real_verify(out, out_dir, **kw)

    monkeypatch.setattr(build, "verify_output", stricter)
    report = render_campaign(manifests, small_plan(plan))
    assert report.failed
    index = json.loads(report.index_path.read_text())
    study = index["case_studies"][0]
    assert [o["platform"] for o in study["outputs"]] == ["web"]
    checks = study["outputs"][0]["checks"]
    assert checks["passed"] and checks["failures"] == []
    assert abs(checks["loudness_lufs"] - -16) <= 1 and checks["true_peak_dbtp"] <= -1.5, checks
    assert checks["normalization"] == "linear"
    (error,) = study["errors"]
    assert "H.264 level: 4.1 (rule: <= 3.0)" in error, error
    assert re.search(r"peak video bitrate: \d+ kb/s .*\(rule: <= 3 kb/s", error), error
    assert study["status"] == "partial"
    assert report.checks["study/main/x-1280x720.mp4"]["passed"] is False


def make_peaky(path: Path, seconds: float = 3.0) -> Path:
    """Speech-like bursts around -20 LUFS with a full-scale click in every burst: a gain to
    -16 LUFS would push true peaks far over the ceiling, so loudnorm would go dynamic."""
    body = "0.08*sin(2*PI*300*t)*lt(mod(t\\,0.5)\\,0.35)"
    click = "0.99*lt(mod(t\\,0.5)\\,0.0004)"
    wave = f"{body}+{click}"
    # fmt: off
    run_ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=s=160x90:r=25:d={seconds}",
        "-f", "lavfi", "-i", f"aevalsrc='{wave}|{wave}':s=48000:d={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
        "-c:a", "pcm_s16le", "-shortest", str(path),
    )
    # fmt: on
    return path


def test_peaky_short_clip_is_limited_onto_target_not_compressed(project, tmp_path):
    """loudnorm's dynamic mode undershoots on clips shorter than its 3 s window; pass 2 uses
    one gain and a true-peak limiter instead, and lands on target."""
    src = make_peaky(tmp_path / "peaky.mov")
    job, out_dir = plan_cut(
        project, src, [[0.0, 2.8]], [{"platform": "web", "cut": "main", "aspects": ["16:9"]}]
    )
    out = job.outputs[0]
    shape, target = loudness.shape_of(job, out), loudness.target_of(out)
    m = loudness.measure(job, shape, target, 48000, out_dir / STATE_DIR, FFMPEG)
    assert m is not None and loudness.loudnorm_mode(m, target) == "dynamic", m
    (path,) = render_ok(job, out_dir)
    level = loudness.level_for(job, shape, target, 48000, out_dir / STATE_DIR, FFMPEG)
    assert level.mode == "limited" and "dynamic mode" in level.note, level
    lufs, peak = ebur128(path)
    print(f"peaky: {m.input_i:.1f} LUFS, {m.input_tp:.1f} dBTP -> {lufs:.1f} LUFS, {peak:.1f} dBTP")
    assert abs(lufs - target.i) <= 0.5, lufs
    assert peak <= target.tp, peak


def test_a_faded_end_card_output_is_measured_as_delivered(project, sources):
    """The end card's fade and silence are part of what pass 1 measures, so the output as
    delivered (not the cut before its fade) is on target."""
    job, out_dir = plan_cut(
        project,
        sources["loud"],
        [[0.0, 3.0]],
        [{"platform": "reels", "cut": "main", "aspects": ["9:16"], "end_card": True}],
    )
    out = job.outputs[0]
    assert out.end_card is not None and out.end_card.audio_fade > 0, out
    (path,) = render_ok(job, out_dir)
    lufs, peak = ebur128(path)
    print(f"reels with end card: {lufs:.2f} LUFS, {peak:.1f} dBTP")
    assert abs(lufs - -16) <= 0.5 and peak <= -1.5, (lufs, peak)


def test_loudness_target_is_part_of_the_output_key(project, sources, monkeypatch):
    job, _ = plan_cut(
        project,
        sources["loud"],
        [[0.0, 2.0]],
        [{"platform": "web", "cut": "main", "aspects": ["16:9"]}],
        sizes=None,
    )
    monkeypatch.setitem(PROFILES, "web", replace(PROFILES["web"], loudness_lufs=-20.0))
    again, _ = plan_cut(
        project,
        sources["loud"],
        [[0.0, 2.0]],
        [{"platform": "web", "cut": "main", "aspects": ["16:9"]}],
        sizes=None,
    )
    (a,), (b,) = job.outputs, again.outputs
    assert b.encode.loudness_lufs == -20.0 and a.encode.loudness_lufs == -16.0
    assert a.key != b.key


def test_dry_run_prints_the_loudness_passes(project, sources, capsys):
    from pipeline.cli import main

    root = _campaign(
        project, sources["quiet"], [{"platform": "web", "cut": "main", "aspects": ["16:9"]}]
    )
    args = ["-m", str(root / "manifests"), "plan", "--dry-run"]
    assert main(args) == 0
    before = capsys.readouterr().out
    assert "loudness pass 1" in before and "loudnorm=" in before, before
    assert "measured_I=<pass 1>" in before or "measured_I='<pass 1>'" in before, before
    manifests, plan = plan_campaign(root / "manifests", analyse=False)
    assert not render_campaign(manifests, small_plan(plan)).failed
    assert main(args) == 0
    after = capsys.readouterr().out
    assert "loudness pass 1" not in after and "<pass 1>" not in after, after
    assert re.search(r"loudnorm=.*measured_I=-\d", after), after


def test_off_target_loudness_fails_verify(project, sources):
    from pipeline.verify import verify_output

    job, out_dir = plan_cut(
        project,
        sources["loud"],
        [[0.0, 2.0]],
        [{"platform": "web", "cut": "main", "aspects": ["16:9"]}],
    )
    render_ok(job, out_dir)
    out = job.outputs[0]
    assert verify_output(out, out_dir).passed
    # the same file judged against a -23 LUFS target: 7 LU too loud
    quieter = replace(out, encode=replace(out.encode, loudness_lufs=-23.0))
    check = verify_output(quieter, out_dir)
    assert not check.passed
    assert any(
        re.fullmatch(r"integrated loudness: -1[56]\.\d LUFS \(rule: -23 \+-1 LUFS for .*\)", f)
        for f in check.failures
    ), check.failures
