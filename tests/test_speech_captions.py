"""Captions from speech, end to end through `render` and `captions align|draft`: a case study
with only a transcript renders with timed sidecars and burned-in captions; one with
`captions: auto` gets a draft next to its manifest, marked in index.json and the summary,
never burned in or published; naming the reviewed draft in the manifest makes it final.

The footage is two real GRID talking-head clips joined (../shared/media) when present: real
speech, so the times mean something. Without that folder a generated clip with a tone
stands in: the engine then places nothing and every word is interpolated, which still
exercises the whole flow (and its report of unplaced words)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest

from pipeline.captions.read import read_track
from pipeline.cli import main
from tests.clips import SHARED_MEDIA, make_clip, run_ffmpeg

pytestmark = pytest.mark.render

GRID = [SHARED_MEDIA / "video" / "grid_bbaf2n.mpg", SHARED_MEDIA / "video" / "grid_lwbsza.mpg"]
TRANSCRIPT = """\
SPEAKER ONE: Bin blue at F two now.

[beep]

SPEAKER TWO: Lay white by S zero again.
"""
CAMPAIGN = """\
name: Speech test
hashtag: "#PCCsPreventingCrime"
defaults:
  encoder: {preset: superfast, crf: 35}
  end_card: false
stills: {enabled: false}
"""


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 6 s of two people talking (real) or a tone (generated)."""
    path = tmp_path_factory.mktemp("speech") / "interview.mp4"
    if all(p.is_file() for p in GRID):
        run_ffmpeg(
            "-i", str(GRID[0]), "-i", str(GRID[1]),
            "-filter_complex",
            "[0:v]setsar=1,fps=25[v0];[1:v]setsar=1,fps=25[v1];"
            "[0:a]aresample=48000[a0];[1:a]aresample=48000[a1];"
            "[v0][a0][v1][a1]concat=n=2:v=1:a=1[v][a]",
            "-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", "ultrafast",
            "-pix_fmt", "yuv420p", "-c:a", "aac", str(path),
        )  # fmt: skip
        return path
    return make_clip(path, size=(360, 288), duration=6.0)


def _study(captions: str) -> str:
    return f"""\
id: talk
title: Speech test
area: Testshire
source: ../media/interview.mp4
captions: {captions}
cuts:
  main: [[0, 5.9]]
outputs:
  - {{platform: x, cut: main, aspects: ["16:9"]}}
"""


@pytest.fixture
def speech_project(project: Callable[..., Path], footage: Path) -> Callable[[str], Path]:
    def make(captions: str) -> Path:
        root = project({"talk.yaml": _study(captions)}, campaign=CAMPAIGN)
        shutil.copyfile(footage, root / "media" / "interview.mp4")
        (root / "manifests" / "talk.en.txt").write_text(TRANSCRIPT)
        return root

    return make


def _index(root: Path) -> dict[str, object]:
    return json.loads((root / "out" / "index.json").read_text())


HAS_SPEECH = all(p.is_file() for p in GRID)
needs_speech = pytest.mark.skipif(
    not HAS_SPEECH,
    reason="aligning a transcript needs real speech (../shared/media's GRID clips): on a "
    "generated tone no word can be placed, which test_captions_commands checks instead",
)


@needs_speech
def test_a_transcript_renders_with_timed_sidecars_and_burned_captions(
    speech_project: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = speech_project("{en: talk.en.txt}")
    assert main(["-m", str(root / "manifests"), "render"]) == 0
    capsys.readouterr()
    [case] = _index(root)["case_studies"]  # type: ignore[index]
    assert case["draft_captions"] == []
    [out] = case["outputs"]
    assert out["burned_captions"] is True
    vtt = next(c["url"] for c in out["captions"] if c["format"] == "vtt")
    track = read_track(root / "out" / vtt, "en", vtt)
    texts = [c.text for c in track.cues]
    joined = " ".join(texts)
    for word in ("Bin", "blue", "F", "now.", "Lay", "white", "zero", "again."):
        assert word in joined, texts
    assert any(c.sound and "[beep]" in c.text for c in track.cues), texts
    speakers = {c.speaker for c in track.cues if not c.sound}
    assert speakers == {"SPEAKER ONE", "SPEAKER TWO"}, track.cues
    starts = [c.start for c in track.cues]
    assert starts == sorted(starts) and all(c.end > c.start for c in track.cues)
    assert track.cues[-1].end <= Fraction(59, 10) + Fraction(1, 10)
    if all(p.is_file() for p in GRID):
        # the second speaker's clip starts at 2.98 s: their cue cannot start before it
        two = next(c for c in track.cues if c.speaker == "SPEAKER TWO")
        assert Fraction(27, 10) < two.start < Fraction(4), two
        one = next(c for c in track.cues if c.speaker == "SPEAKER ONE")
        assert one.start < Fraction(15, 10) and one.end < Fraction(33, 10), one

    # nothing changed: the engine does not run again (its result is cached)
    import pipeline.speech.align as align

    def no_engine(*args: object, **kwargs: object) -> object:
        raise AssertionError("the aligner ran again for an unchanged transcript")

    original = align.align_tokens
    align.align_tokens = no_engine  # type: ignore[assignment]
    try:
        assert main(["-m", str(root / "manifests"), "render"]) == 0
    finally:
        align.align_tokens = original  # type: ignore[assignment]
    assert "nothing to do" in capsys.readouterr().err


def test_auto_captions_are_a_marked_draft_until_the_manifest_accepts_them(
    speech_project: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = speech_project("auto")
    summary = root / "out" / "summary.md"
    assert main(["-m", str(root / "manifests"), "render", "--summary", str(summary)]) == 0
    err = capsys.readouterr().err
    draft = root / "manifests" / "talk.en.draft.vtt"
    assert draft.is_file()
    text = draft.read_text()
    assert text.startswith("WEBVTT") and "Draft captions made by speech recognition" in text
    assert "DRAFT talk (en): manifests/talk.en.draft.vtt" in err, err
    assert "Draft captions" in summary.read_text()
    [case] = _index(root)["case_studies"]  # type: ignore[index]
    [d] = case["draft_captions"]
    assert d["draft"] is True and d["lang"] == "en" and d["file"] == "manifests/talk.en.draft.vtt"
    assert d["engine"] == "pocketsphinx"
    [out] = case["outputs"]
    assert out["captions"] == [] and out["burned_captions"] is False  # a draft is not used
    assert not any(p.suffix == ".vtt" for p in (root / "out").rglob("*.vtt") if "talk" in p.name)
    if all(p.is_file() for p in GRID):
        assert d["words"] >= 6 and d["cues"] >= 1
    # the review page says so
    assert "Draft captions" in (root / "out" / "review" / "talk.html").read_text()

    # an edited draft is never overwritten
    draft.write_text(text.replace("Draft captions made", "Reviewed captions made"))
    edited = draft.read_text()
    assert main(["-m", str(root / "manifests"), "render"]) == 0
    assert draft.read_text() == edited

    # accepted: the manifest names the reviewed file
    (root / "manifests" / "talk.yaml").write_text(_study("{en: talk.en.draft.vtt}"))
    assert main(["-m", str(root / "manifests"), "render"]) == 0
    [case] = _index(root)["case_studies"]  # type: ignore[index]
    assert case["draft_captions"] == []
    [out] = case["outputs"]
    assert out["burned_captions"] is True and {c["format"] for c in out["captions"]} == {
        "vtt",
        "srt",
    }


def test_captions_commands_align_and_draft_without_rendering(
    speech_project: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = speech_project("{en: talk.en.txt}")
    manifests = str(root / "manifests")
    aligned = root / "manifests" / "talk.en.aligned.vtt"
    if HAS_SPEECH:
        assert main(["-m", manifests, "captions", "align", "talk"]) == 0
        err = capsys.readouterr().err
        assert aligned.is_file() and "manifests/talk.en.aligned.vtt" in err
        assert read_track(aligned, "en", "aligned").cues
    else:  # a tone: nothing to align to, and it says so
        assert main(["-m", manifests, "captions", "align", "talk"]) == 2
        err = capsys.readouterr().err
        assert "talk.en.txt" in err and "could" in err, err
        assert not aligned.exists()
    assert main(["-m", manifests, "captions", "draft", "talk"]) == 0
    assert (root / "manifests" / "talk.en.draft.vtt").is_file()
    assert "DRAFT manifests/talk.en.draft.vtt" in capsys.readouterr().err
    assert not (root / "out").exists(), "no video is rendered"
    assert main(["-m", manifests, "captions", "align", "nobody"]) == 2
    assert "no case study 'nobody' (known: talk)" in capsys.readouterr().err
