"""Captions through the whole pipeline: manifest -> retimed, reflowed sidecars next to each
output, burned-in text where the platform wants it, lint in the summary and index.json."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from pipeline.captions.read import read_track
from pipeline.cli import main
from tests.clips import make_marker_clip

CAPTIONS = """\
WEBVTT

00:00:00.500 --> 00:00:01.800
<v Officer>Before the cut.

00:00:02.200 --> 00:00:03.800
<v Officer>Kept, and shifted to the start.

00:00:04.000 --> 00:00:05.000
[music]
"""

STUDY = """\
id: capt
title: Captions
area: Testshire
source: ../media/clip.mp4
captions:
  en: ../media/clip.en.vtt
cuts:
  part: [[2, 5]]
outputs:
  - {platform: x, cut: part, aspects: ["16:9", "9:16"]}
  - {platform: web, cut: part, aspects: ["16:9"]}
"""


@pytest.fixture
def rendered(project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COLUMNS", "200")
    root = project({"capt.yaml": STUDY})
    # a still grey picture: any change between two frames is the burned-in caption
    make_marker_clip(
        root / "media" / "clip.mp4", size=(320, 180), marker=(0, 0, 2, 2), duration=6.0
    )
    (root / "media" / "clip.en.vtt").write_text(CAPTIONS)
    assert main(["-q", "-m", str(root / "manifests"), "render"]) == 0
    return root


def _frame(path: Path, at: float) -> np.ndarray:
    with av.open(str(path)) as c:
        for f in c.decode(c.streams.video[0]):
            if f.time is not None and f.time >= at:
                return np.asarray(f.to_ndarray(format="gray"), dtype=np.int16)
    raise AssertionError(f"no frame at {at} s in {path}")


@pytest.mark.render
def test_sidecars_are_retimed_to_the_cut_and_listed(rendered: Path) -> None:
    out = rendered / "out"
    index = json.loads((out / "index.json").read_text())
    outputs = {o["url"]: o for o in index["case_studies"][0]["outputs"]}
    x169 = outputs["capt/part/x-1280x720.mp4"]
    assert {(c["lang"], c["format"], c["url"]) for c in x169["captions"]} == {
        ("en", "vtt", "capt/part/x-1280x720.en.vtt"),
        ("en", "srt", "capt/part/x-1280x720.en_GB.srt"),
    }
    for c in x169["captions"]:
        assert (out / c["url"]).is_file()
    track = read_track(out / "capt/part/x-1280x720.en.vtt", "en", "vtt")
    # the cue at 0.5-1.8 s is outside the cut; 2.2-3.8 s moves to 0.2-1.8 s; [music] 2.0-3.0 s
    assert [(float(c.start), float(c.end)) for c in track.cues] == [(0.2, 1.8), (2.0, 3.0)]
    assert track.cues[0].speaker == "Officer" and track.cues[1].sound
    srt = (out / "capt/part/x-1280x720.en_GB.srt").read_text()
    assert srt.startswith("1\n00:00:00,200 --> 00:00:01,800\nOfficer: Kept")
    assert not srt.startswith("\ufeff")
    # social outputs burn captions in, the web output does not
    assert x169["burned_captions"] is True
    assert outputs["capt/part/web-1920x1080.mp4"]["burned_captions"] is False
    assert isinstance(x169["caption_lint"]["warnings"], list)


@pytest.mark.render
def test_burned_captions_sit_in_the_safe_area(rendered: Path) -> None:
    out = rendered / "out" / "capt" / "part"
    # 1.0 s: a caption is on screen; 1.9 s: none (between the cue and [music])
    for name, (w, h), bottom_margin in (
        ("x-1280x720.mp4", (1280, 720), 0.10),
        ("x-720x1280.mp4", (720, 1280), 0.35),
    ):
        on, off = _frame(out / name, 1.0), _frame(out / name, 1.9)
        assert on.shape == (h, w)
        diff = np.abs(on - off) > 40
        rows = np.nonzero(diff.sum(axis=1) > w * 0.02)[0]
        cols = np.nonzero(diff.sum(axis=0) > 3)[0]
        assert rows.size, f"no caption found in {name}"
        assert rows.max() <= h * (1 - bottom_margin) + 2, name
        assert cols.min() >= w * 0.05 - 2 and cols.max() <= w * 0.95 + 2, name


@pytest.mark.render
def test_strict_captions_fails_outputs_with_lint(
    rendered: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifests = str(rendered / "manifests")
    # the 1.6 s cue is fine, but 2 s of [music] then nothing: a gap under 1 s is flagged,
    # and "Kept, and shifted to the start." at 1.6 s is fast: lint has something to say
    index = json.loads((rendered / "out" / "index.json").read_text())
    warnings = [
        w for o in index["case_studies"][0]["outputs"] for w in o["caption_lint"]["warnings"]
    ]
    assert warnings, "the sample captions were chosen to trip at least one lint rule"
    capsys.readouterr()
    assert main(["-m", manifests, "render", "--strict-captions"]) == 1
    err = capsys.readouterr().err
    # every output has lint findings, so every output fails, and none is indexed
    assert "0 rendered, 3 up to date, 0 failed" not in err
    assert "3 failed" in err
    index = json.loads((rendered / "out" / "index.json").read_text())
    assert index["case_studies"][0]["outputs"] == []
    assert all("caption lint (--strict-captions)" in e for e in index["case_studies"][0]["errors"])
