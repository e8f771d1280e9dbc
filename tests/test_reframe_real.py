"""Reframing on real faces (../shared/media): the face a viewer looks at stays in the crop.

Uses the evaluation behind `python bench/reframe_eval.py` (its face check is a second,
independent detector pass) on the talking-head "interview" it builds (three real takes,
speakers off-centre, hard cuts between) and on the group clip, where a centre crop loses the
woman in the left third.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.clips import SHARED_MEDIA

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from reframe_eval import build_interviews, evaluate  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (SHARED_MEDIA / "video").is_dir(),
    reason="needs the real clips in ../shared/media; generated footage has no faces "
    "(tests/test_reframe_render.py covers reframing on generated clips)",
)


@pytest.fixture(scope="module")
def talking_heads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_interviews(SHARED_MEDIA / "video", tmp_path_factory.mktemp("interviews"))[0]


def test_off_centre_speakers_stay_in_frame_and_still_shots_do_not_move(
    talking_heads: Path, tmp_path: Path
) -> None:
    rows = evaluate(talking_heads, tmp_path / "cache")
    assert {r.aspect for r in rows} == {"1:1", "4:5", "9:16"}
    for r in rows:
        assert r.checked >= 15, r
        assert r.ours_main >= 0.95, r
        assert r.still_jitter_px == 0, r
        assert "3 still" in r.modes, r  # three takes, three shots, each held
    # and the centre crop would have lost the speaker in 9:16
    assert next(r for r in rows if r.aspect == "9:16").centre_main < 0.5


def test_the_main_face_of_a_group_stays_in_frame(tmp_path: Path) -> None:
    rows = evaluate(SHARED_MEDIA / "video" / "openmpf_video_01.mp4", tmp_path / "cache")
    narrow = [r for r in rows if r.aspect in ("4:5", "9:16")]
    assert narrow
    for r in narrow:
        assert r.ours_main >= 0.95, r
        assert r.centre_main < 0.5, r  # the woman in the left third: a centre crop loses her
        assert r.still_jitter_px == 0, r
