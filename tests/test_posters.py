"""Posters, covers and thumbnails as ``render`` writes them: framed exactly as the output
frames that moment, pinned when the manifest says so, listed in index.json, explained."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.cli import main
from pipeline.errors import PlanError
from pipeline.stills import grab_frame
from tests.clips import make_clip

STUDY = """\
id: stills-case
title: Bins one year on
area: Testshire
source: ../media/clip.mp4
cuts:
  full: [[0, 6]]
  late: [[2, 5]]
poster_at: {late: 1.5}
outputs:
  - {platform: web, cut: full, aspects: ["16:9", "9:16"]}
  - {platform: youtube, cut: full, aspects: ["16:9"], poster_at: "00:04.2"}
  - {platform: web, cut: late, aspects: ["1:1"], strategy: pad}
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    root = tmp_path_factory.mktemp("stills")
    (root / "manifests").mkdir()
    (root / "manifests" / "campaign.yaml").write_text(
        'name: T\nhashtag: "#T"\ndefaults:\n  encoder: {preset: superfast, crf: 30}\n'
        "  end_card: false\n"
    )
    (root / "manifests" / "s.yaml").write_text(STUDY)
    make_clip(root / "media" / "clip.mp4", size=(640, 360), duration=6.0)
    assert main(["-q", "-m", str(root / "manifests"), "render"]) == 0
    return root, json.loads((root / "out" / "index.json").read_text())


def _outputs(index: dict[str, object]) -> dict[str, dict[str, object]]:
    (cs,) = index["case_studies"]  # type: ignore[index]
    return {o["url"]: o for o in cs["outputs"]}  # type: ignore[index]


def test_each_poster_is_the_outputs_own_picture_at_that_time(
    rendered: tuple[Path, dict[str, object]],
) -> None:
    root, index = rendered
    out = root / "out"
    for url, o in _outputs(index).items():
        poster = o["poster"]
        assert isinstance(poster, dict)
        with Image.open(out / poster["url"]) as im:
            picture = np.asarray(im.convert("RGB"), dtype=np.float32)
        assert picture.shape[:2] == (o["height"], o["width"])
        # the output's own frame at the poster's time, decoded from the rendered file: same
        # crop (or pad), same place; only the two encoders' losses differ
        frame = np.asarray(grab_frame(out / str(url), float(poster["time_s"])), dtype=np.float32)
        diff = float(np.abs(picture - frame).mean())
        assert diff < 12, f"{url}: poster differs from the output's frame by {diff:.1f}"
        with Image.open(out / poster["webp_url"]) as im:
            assert im.size == (o["width"], o["height"])


def test_pinned_times_win_and_covers_are_where_platforms_take_them(
    rendered: tuple[Path, dict[str, object]],
) -> None:
    _, index = rendered
    outs = _outputs(index)
    youtube = outs["stills-case/full/youtube-1920x1080.mp4"]
    # pinned times, snapped to the output's frame grid (1.5 s is half way between frames)
    assert youtube["poster"]["time_s"] == 4.2  # type: ignore[index]
    late = outs["stills-case/late/web-1080x1080.mp4"]["poster"]
    assert late["time_s"] == 1.52  # type: ignore[index]
    cover = youtube["cover"]
    assert isinstance(cover, dict)
    assert (cover["width"], cover["height"]) == (1280, 720) and cover["bytes"] < 2_000_000
    assert all(o["cover"] is None for u, o in outs.items() if "youtube" not in u)
    # scored picks never come from the half second at either end of the cut
    web = outs["stills-case/full/web-1920x1080.mp4"]["poster"]
    assert 0.5 <= web["time_s"] <= 5.5  # type: ignore[index]


def test_thumbnails_per_aspect_and_contact_sheet(rendered: tuple[Path, dict[str, object]]) -> None:
    root, index = rendered
    (cs,) = index["case_studies"]  # type: ignore[index]
    assert {t["aspect"] for t in cs["thumbnails"]} == {"16:9", "9:16", "1:1"}
    for t in cs["thumbnails"]:
        with Image.open(root / "out" / t["url"]) as im:
            assert im.size == (t["width"], t["height"]) and min(im.size) == 480
    assert (root / "out" / cs["contact_sheet"]["url"]).is_file()


def test_explain_says_why_the_winner_won(
    rendered: tuple[Path, dict[str, object]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = rendered
    assert (
        main(["-q", "-m", str(root / "manifests"), "thumbnails", "stills-case", "--explain"]) == 0
    )
    text = capsys.readouterr().out
    assert "full 16:9" in text and "winner" in text
    assert "pinned by the manifest" in text  # the late cut


def test_a_poster_time_past_the_cut_is_a_plan_error(project: Callable[..., Path]) -> None:
    from pipeline.build import plan_campaign

    root = project({"s.yaml": STUDY.replace("{late: 1.5}", "{late: 7}")})
    make_clip(root / "media" / "clip.mp4", size=(160, 90), duration=6.0)
    with pytest.raises(PlanError) as err:
        plan_campaign(root / "manifests", analyse=False)
    assert (
        "manifests/s.yaml:8: poster_at.late: poster time 00:00:07.000 is past the end of cut"
        in (str(err.value))
    )
