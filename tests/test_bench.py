"""The benchmark's promises that a test can keep: its hand-written FFmpeg rows use exactly the
pipeline's encoder settings, and its measuring harness sees CPU time and FFmpeg memory.
(Speed itself is measured by `make bench`, never asserted here.)"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from harness import FPS, SIZES, crop_filter, ffmpeg, x264_args  # noqa: E402
from measure import measure  # noqa: E402

from pipeline.graph import _encode_args  # noqa: E402
from pipeline.manifest_load import load_manifests  # noqa: E402
from pipeline.plan import make_plan  # noqa: E402
from tests.clips import fake_source  # noqa: E402


def _pairs(args: list[str]) -> dict[str, str]:
    return {args[i].lstrip("-"): args[i + 1] for i in range(0, len(args) - 1, 2)}


@pytest.mark.parametrize("aspect", list(SIZES))
def test_hand_written_rows_use_the_pipelines_encoder_settings(tmp_path: Path, aspect: str) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "campaign.yaml").write_text(
        'name: B\nhashtag: "#B"\ndefaults: {encoder: {preset: faster, crf: 23}}\n'
    )
    (tmp_path / "manifests" / "b.yaml").write_text(
        "id: bench\ntitle: B\narea: B\nsource: ../media/s.mp4\ncuts: {full: [[0, 20]]}\n"
        f'outputs: [{{platform: web, cut: full, aspects: ["{aspect}"]}}]\n'
    )
    source = fake_source("s.mp4", size=1, fps=Fraction(FPS), audio_rate=48000)
    plan = make_plan(load_manifests(tmp_path / "manifests"), {"bench": source}, "v", "f")
    job = plan.jobs[0]
    ours = {k: str(v) for k, v in _encode_args(job, job.outputs[0]).items()}
    theirs = _pairs(x264_args(aspect, "faster", 23))
    for key in (
        "c:v",
        "preset",
        "crf",
        "profile:v",
        "level:v",
        "maxrate",
        "bufsize",
        "g",
        "keyint_min",
        "sc_threshold",
        "bf",
        "flags",
        "c:a",
        "b:a",
        "ar",
        "ac",
    ):
        assert theirs[key] == ours[key], key
    w, h = SIZES[aspect]
    assert crop_filter(aspect).endswith(f"scale={w}:{h}:flags=lanczos,setsar=1")


def test_measure_sees_cpu_and_ffmpeg_memory(tmp_path: Path) -> None:
    m = measure(
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=640x360:d=2",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            str(tmp_path / "x.mp4"),
        )
    )
    assert m.returncode == 0
    assert m.wall_s > 0 and m.cpu_s > 0
    assert m.ffmpeg_rss_mb > 5  # FFmpeg itself was sampled, not only its parent
