"""Bad source media: each gives a clear error naming the file (relative to the project root),
fails only its own case study, and leaves no partial output; a source with no audio track
renders with silent stereo audio and says so.

Clips are generated with lavfi; each fixture states its truth.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import av
import numpy as np
import pytest

from pipeline.cli import main
from pipeline.errors import SourceError
from pipeline.probe import _top_level_boxes, inspect_output, probe
from tests.clips import make_clip, run_ffmpeg

X264 = ("-c:v", "libx264", "-preset", "ultrafast", "-g", "12")
STUDY = """\
id: {id}
title: Case {id}
area: Testshire
source: ../media/{source}
cuts:
  all:
    - [0, 2]
outputs:
  - platform: x
    cut: all
    aspects: ["1:1"]
"""


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Good and bad sources, each 320x180 at 25 fps where it has video.

    - good.mp4: 3 s picture and tone, moov after mdat (FFmpeg's default layout)
    - faststart.mp4: the same with moov before mdat
    - silent.mp4: 3 s picture, no audio stream at all
    - voice.m4a: 3 s tone, no video stream
    - half.mp4 / half-faststart.mp4: the first half of the bytes of the two above
    - notes.mp4: a text file
    - empty.mp4: zero bytes
    """
    d = tmp_path_factory.mktemp("media")
    good = make_clip(d / "good.mp4", duration=3.0, video_args=X264)
    fast = make_clip(
        d / "faststart.mp4",
        duration=3.0,
        video_args=(*X264, "-movflags", "+faststart"),
    )
    plain, faststart = _top_level_boxes(good), _top_level_boxes(fast)
    assert plain.index("mdat") < plain.index("moov")
    assert faststart.index("moov") < faststart.index("mdat")
    for src, name in ((good, "half.mp4"), (fast, "half-faststart.mp4")):
        data = src.read_bytes()
        (d / name).write_bytes(data[: len(data) // 2])
    make_clip(d / "silent.mp4", duration=3.0, audio=False)
    run_ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=3", "-c:a", "aac", str(d / "voice.m4a"))
    (d / "notes.mp4").write_text("Interview notes: not footage.\n")
    (d / "empty.mp4").write_bytes(b"")
    return {p.name: p for p in d.iterdir()}


def _probe_error(path: Path) -> str:
    with pytest.raises(SourceError) as info:
        probe(path, label=f"media/{path.name}")
    err = info.value
    assert err.path == f"media/{path.name}"
    message = str(err)
    assert str(path.parent) not in message, "messages must not leak machine paths"
    return message


def test_truncated_mp4_with_the_index_at_the_end(media: dict[str, Path]) -> None:
    size = media["half.mp4"].stat().st_size
    message = _probe_error(media["half.mp4"])
    m = re.fullmatch(
        r"media/half\.mp4: is truncated: only (\d+) of (\d+) bytes are present \(its 'mdat' box "
        r"runs past the end of the file\) and its index \(the moov box\) is missing; "
        r"copy the file again",
        message,
    )
    assert m, message
    assert int(m[1]) == size < int(m[2]) <= media["good.mp4"].stat().st_size


def test_truncated_faststart_mp4(media: dict[str, Path]) -> None:
    """moov first: FFmpeg opens this file happily; only the end of the frames is missing."""
    size = media["half-faststart.mp4"].stat().st_size
    av.open(str(media["half-faststart.mp4"])).close()  # the truth: it does open
    message = _probe_error(media["half-faststart.mp4"])
    assert message == (
        f"media/half-faststart.mp4: is truncated: only {size} of "
        f"{media['faststart.mp4'].stat().st_size} bytes are present (its 'mdat' box runs past "
        "the end of the file); copy the file again"
    )


def test_a_faststart_file_cut_in_its_last_percent_is_still_truncated(
    media: dict[str, Path], tmp_path: Path
) -> None:
    data = media["faststart.mp4"].read_bytes()
    cut = tmp_path / "almost.mp4"
    cut.write_bytes(data[:-200])
    assert "is truncated: only" in _probe_error(cut)


def test_text_file_named_mp4(media: dict[str, Path]) -> None:
    assert _probe_error(media["notes.mp4"]) == (
        "media/notes.mp4: is not a video file FFmpeg can read "
        "(Invalid data found when processing input)"
    )


def test_empty_file(media: dict[str, Path]) -> None:
    assert _probe_error(media["empty.mp4"]) == "media/empty.mp4: is empty (0 bytes)"


def test_audio_only_file(media: dict[str, Path]) -> None:
    assert _probe_error(media["voice.m4a"]) == "media/voice.m4a: has no video stream (found: audio)"


def test_missing_file(tmp_path: Path) -> None:
    assert _probe_error(tmp_path / "gone.mp4") == "media/gone.mp4: file does not exist"


def test_whole_files_probe_fine(media: dict[str, Path]) -> None:
    for name in ("good.mp4", "faststart.mp4"):
        info = probe(media[name])
        assert (info.width, info.height, info.duration, info.has_audio) == (320, 180, 3, True)
    silent = probe(media["silent.mp4"])
    assert (silent.has_audio, silent.audio_rate, silent.audio_channels) == (False, None, None)


# --- a whole campaign run: bad sources fail their own case study only

BAD = {
    "missing": "nowhere.mp4",
    "half": "half.mp4",
    "half-fast": "half-faststart.mp4",
    "text": "notes.mp4",
    "voice": "voice.m4a",
}
GOOD_CASES = {"good": "good.mp4", "silent": "silent.mp4"}


def _run_cli(argv: list[str]) -> tuple[int, str]:
    """``main(argv)`` with stdout and stderr captured together (capsys is per test, and the
    campaign is rendered once per module)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(argv)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def campaign_run(
    media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, int, str, str]:
    """One render of seven case studies: two good sources, five bad.

    Returns the project root, the exit code, and the plan and render output.
    """
    root = tmp_path_factory.mktemp("campaign")
    (root / "manifests").mkdir()
    (root / "media").mkdir()
    (root / "manifests" / "campaign.yaml").write_text(
        'name: Bad media\nhashtag: "#Test"\ndefaults:\n  encoder: {preset: superfast, crf: 30}\n'
        "  end_card: false\n"
    )
    for case, source in {**BAD, **GOOD_CASES}.items():
        (root / "manifests" / f"{case}.yaml").write_text(STUDY.format(id=case, source=source))
        if source in media:
            (root / "media" / source).write_bytes(media[source].read_bytes())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLUMNS", "500")  # Rich wraps at 80 columns otherwise
        plan_code, plan_out = _run_cli(["-m", str(root / "manifests"), "plan"])
        code, render_out = _run_cli(["-m", str(root / "manifests"), "render", "-j", "2"])
    assert plan_code == 1, plan_out  # the plan already knows five case studies cannot render
    return root, code, " ".join(plan_out.split()), " ".join(render_out.split())


def test_run_exits_1_when_some_case_studies_failed(
    campaign_run: tuple[Path, int, str, str],
) -> None:
    _, code, _, _ = campaign_run
    assert code == 1


def test_good_sources_render_despite_bad_ones(campaign_run: tuple[Path, int, str, str]) -> None:
    root, _, _, _ = campaign_run
    for case in GOOD_CASES:
        facts = inspect_output(root / "out" / case / "all" / "x-720x720.mp4")
        assert (facts.width, facts.height, facts.duration) == (720, 720, 2)


def test_failed_case_studies_leave_no_output(campaign_run: tuple[Path, int, str, str]) -> None:
    root, _, _, _ = campaign_run
    out = root / "out"
    for case in BAD:
        assert not (out / case).exists(), case
    leftovers = [p for p in out.rglob("*") if p.name.endswith(".partial")]
    assert leftovers == []
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mp4"))
    assert files == ["good/all/x-720x720.mp4", "silent/all/x-720x720.mp4"]


EXPECTED_REASONS = {
    "missing": "media/nowhere.mp4: file does not exist",
    "half": "media/half.mp4: is truncated: only",
    "half-fast": "media/half-faststart.mp4: is truncated: only",
    "text": "media/notes.mp4: is not a video file FFmpeg can read "
    "(Invalid data found when processing input)",
    "voice": "media/voice.m4a: has no video stream (found: audio)",
}


def test_index_lists_failed_case_studies_with_their_reason(
    campaign_run: tuple[Path, int, str, str],
) -> None:
    root, _, _, _ = campaign_run
    index = json.loads((root / "out" / "index.json").read_text())
    studies = {s["id"]: s for s in index["case_studies"]}
    assert set(studies) == set(BAD) | set(GOOD_CASES)
    for case, reason in EXPECTED_REASONS.items():
        assert studies[case]["status"] == "failed", case
        assert studies[case]["outputs"] == []
        (error,) = studies[case]["errors"]
        assert error.startswith(reason), error
        assert str(root) not in error
    for case in GOOD_CASES:
        assert studies[case]["status"] == "ok" and len(studies[case]["outputs"]) == 1


def test_summary_names_every_failure_and_its_reason(
    campaign_run: tuple[Path, int, str, str],
) -> None:
    root, _, _, render_out = campaign_run
    row = r"\s*(?:\W\s*)+".join  # cells are separated by box-drawing characters
    for case, reason in EXPECTED_REASONS.items():
        assert re.search(row([re.escape(case), "failed", re.escape(reason)]), render_out), case
    assert re.search(row([re.escape("good/all/x-720x720.mp4"), "rendered"]), render_out)
    assert "2 rendered, 0 up to date, 5 failed" in render_out
    assert f"{root}/media" not in render_out


def test_source_without_audio_gets_silent_stereo_aac(
    campaign_run: tuple[Path, int, str, str],
) -> None:
    root, _, plan_out, render_out = campaign_run
    path = root / "out" / "silent" / "all" / "x-720x720.mp4"
    facts = inspect_output(path)
    assert (facts.audio_codec, facts.audio_channels, facts.audio_rate) == ("aac", 2, 48000)
    with av.open(str(path)) as container:
        samples = np.concatenate(
            [f.to_ndarray().ravel() for f in container.decode(container.streams.audio[0])]
        )
    assert samples.size >= 2 * 48000 * 1.9  # two channels, about 2 s
    assert np.abs(samples).max() < 1e-4
    note = "media/silent.mp4 has no audio track: rendering silent audio"
    assert note in plan_out
    assert note in render_out  # the render summary says so too
    index = json.loads((root / "out" / "index.json").read_text())
    (silent,) = [s for s in index["case_studies"] if s["id"] == "silent"]
    assert silent["outputs"][0]["notes"] == [note]


def test_validate_reports_every_bad_source_and_exits_2(
    campaign_run: tuple[Path, int, str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, _, _, _ = campaign_run
    monkeypatch.setenv("COLUMNS", "500")
    assert main(["-m", str(root / "manifests"), "validate"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    for case, reason in EXPECTED_REASONS.items():
        assert f"{case}: source {reason}" in err
    assert "5 source(s) missing or unreadable" in err
