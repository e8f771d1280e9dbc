"""Golden tests of plans: the exact FFmpeg argv and filter graph for fixed manifests and
fixed source facts, without running FFmpeg or touching media.

Regenerate after an intended change with:
    UPDATE_GOLDEN=1 python -m pytest tests/test_plan_golden.py
and review the diff of tests/golden/ like any other code change.
"""

from __future__ import annotations

import json
import os
import textwrap
from fractions import Fraction
from pathlib import Path

import pytest

from pipeline.graph import build_argv
from pipeline.jobs import CutJob, to_jsonable
from pipeline.manifest_load import load_manifests
from pipeline.plan import make_plan
from tests.clips import fake_source as _source

GOLDEN = Path(__file__).parent / "golden"

CAMPAIGN = """\
name: Golden
hashtag: "#PCCsPreventingCrime"
default_platforms: [x]
defaults:
  encoder: {preset: veryfast, crf: 23}
"""

STUDY = """\
id: golden-case
title: Golden case
area: Testshire
source: ../media/src.mp4
cuts:
  full: [[0, 12]]
  short: [["00:01.000", "00:03"], [5.5, "00:00:07.250"]]
outputs:
  - {platform: x, cut: short, aspects: ["16:9", "9:16"], focus: {x: 0.8, y: 0.5}}
  - {platform: linkedin, cut: full, aspects: ["4:5"], strategy: pad}
  - {platform: reels, cut: short, aspects: ["9:16"]}
"""

NO_AUDIO_STUDY = """\
id: silent-case
title: Silent phone clip
area: Testshire
source: ../media/phone.mp4
cuts:
  only: [[0.5, 4]]
"""


def _cards(job: CutJob) -> list[str | None]:
    """Stand-in end card files: the graph needs a name, not the card itself."""
    return [f"card-{o.aspect.replace(':', 'x')}.mp4" if o.end_card else None for o in job.outputs]


@pytest.fixture
def plan(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "campaign.yaml").write_text(CAMPAIGN)
    (tmp_path / "manifests" / "golden.yaml").write_text(STUDY)
    (tmp_path / "manifests" / "silent.yaml").write_text(NO_AUDIO_STUDY)
    manifests = load_manifests(tmp_path / "manifests")
    sources = {
        "golden-case": _source("media/src.mp4"),
        # anamorphic, rotated, no audio, 29.97 fps reported the way FLV does
        "silent-case": _source(
            "media/phone.mp4",
            width=1440,
            height=1080,
            sar=Fraction(4, 3),
            rotation=90,
            fps=Fraction(989, 33),
            has_audio=False,
            audio_rate=None,
            audio_channels=None,
        ),
    }
    return make_plan(manifests, sources, "0.0.0-golden", "ffmpeg-golden")


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"{path.name} missing: run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(), (
        f"{path.name} differs; if intended, regenerate with UPDATE_GOLDEN=1"
    )


def test_argv_golden(plan) -> None:  # type: ignore[no-untyped-def]
    for job in plan.jobs:
        targets = [f"out/{o.path}.partial" for o in job.outputs]
        argv = build_argv(job, job.outputs, targets, "ffmpeg", cards=_cards(job))
        # one argument per line so a diff points at the exact option that changed
        _check(f"{job.case_id}.{job.cut}.argv.txt", "\n".join(argv) + "\n")


def test_plan_json_golden(plan) -> None:  # type: ignore[no-untyped-def]
    _check("plan.json", json.dumps(to_jsonable(plan), indent=1, sort_keys=True) + "\n")


def test_plan_is_deterministic(tmp_path: Path, plan) -> None:  # type: ignore[no-untyped-def]
    again = [o.key for j in plan.jobs for o in j.outputs]
    assert len(set(again)) == len(again), "every output has its own key"
    assert all(len(k) == 64 for k in again)


def test_filter_graph_shape(plan) -> None:  # type: ignore[no-untyped-def]
    short = next(j for j in plan.jobs if j.cut == "short")
    argv = build_argv(short, short.outputs, ["a", "b", "c"], "ffmpeg", cards=_cards(short))
    graph = argv[argv.index("-filter_complex") + 1]
    # one decode per segment, joined once, split once into the three outputs; one input
    # per distinct end card (the two 9:16 outputs share theirs)
    assert argv.count("-i") == 2 + len({c for c in _cards(short) if c})
    # the segments' join, then each output's join to its end card
    assert graph.count("concat=") == 1 + sum(o.end_card is not None for o in short.outputs)
    assert "split=3" in graph and "asplit=3" in graph
    assert argv.count("-map") == 6
    # in points snapped to the 25 fps grid and passed exactly (floored to the microsecond)
    # an in point within the first 2 s is decoded from the file's start (some demuxers
    # seek badly there); later ones seek 1 s early and pick the exact frame by timestamp
    assert argv.count("-ss") == 1 and argv[argv.index("-ss") + 1] == "4.520000"
    assert "setpts=PTS-1/1/TB" in graph
    # 5.5 s is between frames 137 and 138: halves round up, to 5.52 s, sought 1 s early


def test_silent_anamorphic_rotated_source(plan) -> None:  # type: ignore[no-untyped-def]
    job = next(j for j in plan.jobs if j.case_id == "silent-case")
    assert job.display_size == (1080, 1920), "1440x1080 at SAR 4:3 is 1920x1080, turned upright"
    assert job.needs_square_pixels
    assert job.fps == Fraction(30000, 1001), "989/33 conforms to NTSC 29.97"
    assert any("no audio track" in n for n in job.notes)
    targets = [f"t{i}" for i in range(len(job.outputs))]
    argv = build_argv(job, job.outputs, targets, "ffmpeg", cards=_cards(job))
    assert "anullsrc=r=48000:cl=stereo" in argv
    # campaign default platforms (x) with every aspect, for a case study listing no outputs
    assert sorted(o.aspect for o in job.outputs) == sorted(["16:9", "1:1", "4:5", "9:16"])


def test_keys_change_only_with_what_affects_bytes(tmp_path: Path) -> None:
    counter = iter(range(100))

    def keys(study: str, sha: str = "0" * 64) -> dict[str, str]:
        d = tmp_path / f"m{next(counter)}"
        (d / "manifests").mkdir(parents=True)
        (d / "manifests" / "campaign.yaml").write_text(CAMPAIGN)
        (d / "manifests" / "golden.yaml").write_text(study)
        p = make_plan(
            load_manifests(d / "manifests"),
            {"golden-case": _source("media/src.mp4", sha256=sha)},
            "v",
            "f",
        )
        return {o.path: o.key for j in p.jobs for o in j.outputs}

    base = keys(STUDY)
    assert keys(STUDY) == base
    # a comment changes no bytes; the title is on every output's end card
    assert keys("# note\n" + STUDY) == base
    renamed = keys(STUDY.replace("Golden case", "Renamed"))
    assert all(base[p] != renamed[p] for p in base)
    no_cards = STUDY.replace("area: Testshire", "area: Testshire\ndefaults: {end_card: false}")
    assert keys(no_cards.replace("Golden case", "Renamed")) == keys(no_cards)
    # the linkedin output's strategy changes only that output
    changed = keys(STUDY.replace("strategy: pad", "strategy: crop"))
    assert {p for p in base if base[p] != changed[p]} == {"golden-case/full/linkedin-1080x1350.mp4"}
    # new source bytes change every output
    other = keys(STUDY, sha="1" * 64)
    assert all(base[p] != other[p] for p in base)


def test_fit_trim_and_too_long(tmp_path: Path) -> None:
    from pipeline.errors import PlanError

    long_study = textwrap.dedent("""\
        id: long-case
        title: Long
        area: Testshire
        source: ../media/src.mp4
        cuts:
          full: [[0, 150]]
        outputs:
          - {platform: x, cut: full, aspects: ["16:9"]FIT}
        """)
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "campaign.yaml").write_text(CAMPAIGN)
    src = {"long-case": _source("media/src.mp4", duration=Fraction(200))}
    (tmp_path / "manifests" / "long.yaml").write_text(long_study.replace("FIT", ""))
    with pytest.raises(PlanError) as err:
        make_plan(load_manifests(tmp_path / "manifests"), src, "v", "f")
    assert (
        "manifests/long.yaml:8: outputs[0]: cut 'full' is 00:02:30.000 long "
        "with the 00:00:03.000 end card but X / Twitter allows at most "
        "00:02:20.000; shorten the cut or set 'fit: trim'" in str(err.value)
    )
    (tmp_path / "manifests" / "long.yaml").write_text(long_study.replace("FIT", ", fit: trim"))
    plan = make_plan(load_manifests(tmp_path / "manifests"), src, "v", "f")
    out = plan.jobs[0].outputs[0]
    # the card counts toward X's 140 s: 137 s of the cut, then 3 s of card
    assert out.duration == 140 and out.content_duration == 137
    assert out.notes and "trimmed" in out.notes[0] and "end card" in out.notes[0]
