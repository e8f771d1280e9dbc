"""Source analysis for reframing: frame-exact shot changes, salient regions and faces, in
display geometry, cached by content hash. Generated clips carry their own truth (where the
cut is, where the disc is drawn); the real clips in ../shared/media/video check the face
detector and the cut detector on footage, and are skipped where that folder is absent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest

import pipeline.analyze as analysis
from pipeline.analyze import analyze, cache_path
from pipeline.errors import SourceError
from pipeline.scene import ANALYSIS_VERSION, Box, SourceAnalysis
from tests.clips import run_ffmpeg
from tests.render_checks import make_geometry_clip

pytestmark = pytest.mark.render

SHA = "ab" * 32
FPS = 25
SIZE = (320, 180)
X264 = ("-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p")


@pytest.fixture(scope="module")
def clip(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str, Callable[[Path], object]], Path]:
    """Generate each named clip once per module: ``clip("name.mp4", maker)``."""
    folder = tmp_path_factory.mktemp("analyze-clips")
    made: dict[str, Path] = {}

    def get(name: str, make: Callable[[Path], object]) -> Path:
        if name not in made:
            make(folder / name)
            made[name] = folder / name
        return made[name]

    return get


def disc(name: str, colour: tuple[int, int, int], radius: int, duration: float) -> str:
    """A lavfi chain that makes a filled disc of ``colour`` on a transparent square."""
    r, g, b = colour
    side = 2 * radius
    c = radius - 0.5
    return (
        f"color=c=black:s={side}x{side}:r={FPS}:d={duration},format=rgba,"
        f"geq=r={r}:g={g}:b={b}:a='255*lte(hypot(X-{c},Y-{c}),{radius})'[{name}]"
    )


def make_graph_clip(path: Path, graph: str) -> None:
    """Encode the lavfi filter graph ``graph``, whose output is labelled [v]."""
    run_ffmpeg("-filter_complex", graph, "-map", "[v]", *X264, str(path))


# ---------------------------------------------------------------------------------------
# Shot changes
# ---------------------------------------------------------------------------------------

CUT_FRAME = 47  # the first frame of the second shot


def make_cut_clip(path: Path) -> None:
    """A moving test card for CUT_FRAME frames, then drifting colour gradients with a disc
    crossing them: two unrelated shots, both moving, joined by a hard cut."""
    w, h = SIZE
    first = CUT_FRAME / FPS
    second = 2.0
    make_graph_clip(
        path,
        f"testsrc2=s={w}x{h}:r={FPS}:d={first}[a];"
        f"gradients=s={w}x{h}:r={FPS}:d={second}:speed=0.03:seed=7[g];"
        f"{disc('d', (240, 200, 40), 18, second)};"
        f"[g][d]overlay=x='30+80*t':y=60:format=auto[b];"
        f"[a][b]concat=n=2:v=1:a=0,format=yuv420p[v]",
    )


# A disc crossing a textured picture while the camera pans over it, 4 s, no cut.
def make_pan_clip(path: Path) -> None:
    w, h = SIZE
    make_graph_clip(
        path,
        f"testsrc2=s={2 * w}x{2 * h}:r={FPS}:d=4,crop={w}:{h}:x='70*t':y='25*t'[bg];"
        f"{disc('d', (220, 40, 40), 20, 4)};"
        f"[bg][d]overlay=x='20+60*t':y='50+30*sin(2*t)':format=auto,format=yuv420p[v]",
    )


def test_a_hard_cut_is_found_at_its_first_frame(clip: Callable[..., Path]) -> None:
    path = clip("cut.mp4", make_cut_clip)
    result = analyze(path, SHA)
    assert len(result.shots) == 1, result.shots
    assert abs(result.shots[0] - CUT_FRAME / FPS) < 0.5 / FPS, result.shots


def test_camera_and_object_motion_without_a_cut_is_one_shot(clip: Callable[..., Path]) -> None:
    path = clip("pan.mp4", make_pan_clip)
    assert analyze(path, SHA).shots == ()


# ---------------------------------------------------------------------------------------
# Salient region
# ---------------------------------------------------------------------------------------

DISC_R = 20


def disc_centre(t: float) -> tuple[float, float]:
    """Where make_noise_disc_clip draws the disc's centre at ``t``, in fractions."""
    w, h = SIZE
    return (20 + 60 * t + DISC_R) / w, (70 + 40 * math.sin(2 * t) + DISC_R) / h


def make_noise_disc_clip(path: Path) -> None:
    """A blue disc moving over grey with fresh noise on every frame, 4 s."""
    w, h = SIZE
    make_graph_clip(
        path,
        f"color=c=0x707070:s={w}x{h}:r={FPS}:d=4,noise=alls=30:allf=t+u[bg];"
        f"{disc('d', (40, 90, 230), DISC_R, 4)};"
        f"[bg][d]overlay=x='20+60*t':y='70+40*sin(2*t)':format=auto,format=yuv420p[v]",
    )


def contains(box: Box | None, x: float, y: float) -> bool:
    return box is not None and box.x <= x <= box.x + box.w and box.y <= y <= box.y + box.h


def test_salient_box_follows_a_disc_over_noise(clip: Callable[..., Path]) -> None:
    path = clip("noise-disc.mp4", make_noise_disc_clip)
    result = analyze(path, SHA)
    assert len(result.samples) == 20
    misses = [
        (s.t, s.salient, disc_centre(s.t))
        for s in result.samples
        if not contains(s.salient, *disc_centre(s.t))
    ]
    assert len(misses) <= 0.2 * len(result.samples), misses
    # The box is about the disc, not most of the picture.
    assert all(s.salient.area < 0.25 for s in result.samples if s.salient)


def test_a_flat_picture_has_no_salient_region(clip: Callable[..., Path]) -> None:
    path = clip("flat.mp4", lambda p: make_graph_clip(p, "color=c=0x406080:s=320x180:d=1[v]"))
    result = analyze(path, SHA)
    assert result.samples
    assert all(s.salient is None and not s.faces for s in result.samples)


# ---------------------------------------------------------------------------------------
# Display geometry
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("coded", "box", "sar", "rotate", "display"),
    [
        # portrait phone footage: stored landscape with a quarter-turn flag
        ((320, 180), (240, 30, 40, 40), (1, 1), 90, (180, 320)),
        # anamorphic: 240 stored pixels shown 320 wide
        ((240, 180), (180, 30, 30, 40), (4, 3), 0, (320, 180)),
    ],
    ids=["rotated", "anamorphic"],
)
def test_analysis_sees_the_displayed_picture(
    tmp_path: Path,
    coded: tuple[int, int],
    box: tuple[int, int, int, int],
    sar: tuple[int, int],
    rotate: int,
    display: tuple[int, int],
) -> None:
    marker = make_geometry_clip(tmp_path / "m.mp4", coded=coded, box=box, sar=sar, rotate=rotate)
    assert marker.display == display
    result = analyze(marker.path, SHA)
    assert (result.width, result.height) == display
    # The red box is the only thing in the picture: the salient region is where a viewer
    # sees it, which only holds if the picture was turned and stretched the right way.
    assert result.samples
    for s in result.samples:
        assert contains(s.salient, *marker.focus), (s.salient, marker.focus)


# ---------------------------------------------------------------------------------------
# Cache, progress, errors
# ---------------------------------------------------------------------------------------


def test_second_call_reads_the_cache_and_a_corrupt_cache_is_rewritten(
    clip: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = clip("cut.mp4", make_cut_clip)
    cache_dir = tmp_path / "cache"
    seen: list[float] = []
    first = analyze(path, SHA, cache_dir, progress=seen.append)
    stored = cache_dir / f"analysis-{SHA[:20]}-w480-v{ANALYSIS_VERSION}.json"
    assert cache_path(cache_dir, SHA) == stored
    assert cache_path(cache_dir, SHA, 320) != stored
    assert stored.is_file()
    assert [p.name for p in cache_dir.iterdir()] == [stored.name], "temporary file left behind"
    assert seen and seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen)
    assert seen == sorted(seen)

    def no_decoding(*args: object, **kwargs: object) -> SourceAnalysis:
        raise AssertionError("decoded again instead of reading the cache")

    with monkeypatch.context() as m:
        m.setattr(analysis._Analysis, "run", no_decoding)
        assert analyze(path, SHA, cache_dir) == first

    stored.write_text('{"sha256": "' + SHA + '", "samples": [')
    again = analyze(path, SHA, cache_dir)
    assert again.shots == first.shots and again.samples == first.samples
    assert SourceAnalysis.from_json(json.loads(stored.read_text())) == again


def test_an_unreadable_file_names_itself(tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video at all\n" * 100)
    with pytest.raises(SourceError, match=r"notes\.mp4"):
        analyze(bad, SHA)
    with pytest.raises(SourceError, match=r"missing\.mp4"):
        analyze(tmp_path / "missing.mp4", SHA)


# ---------------------------------------------------------------------------------------
# Real footage (../shared/media/video)
# ---------------------------------------------------------------------------------------


def real(shared_media: Path | None, name: str) -> Path:
    if shared_media is None:
        pytest.skip("../shared/media is absent: real-footage checks need its clips")
    path = shared_media / "video" / name
    if not path.is_file():
        pytest.skip(f"{name} is absent from the shared media folder")
    return path


def face_share(result: SourceAnalysis, where: Callable[[Box], bool] = lambda b: True) -> float:
    return sum(any(where(f) for f in s.faces) for s in result.samples) / len(result.samples)


def test_a_frontal_talking_head_is_found_in_the_centre(shared_media: Path | None) -> None:
    result = analyze(real(shared_media, "grid_bbaf2n.mpg"), SHA)
    central = face_share(result, lambda b: abs(b.cx - 0.5) < 0.15 and abs(b.cy - 0.45) < 0.25)
    assert central >= 0.9, result.samples


def test_several_people_with_a_large_face_in_the_left_third(shared_media: Path | None) -> None:
    result = analyze(real(shared_media, "openmpf_video_01.mp4"), SHA)
    assert face_share(result) >= 0.8
    assert face_share(result, lambda b: b.cx < 1 / 3) >= 0.5
    # several people: more than one face in some samples
    assert max(len(s.faces) for s in result.samples) >= 2


def test_animation_without_people_has_few_faces_and_real_cuts(shared_media: Path | None) -> None:
    result = analyze(real(shared_media, "moviepy_big_buck_bunny_0_30.webm"), SHA)
    assert face_share(result) <= 0.1
    # Big Buck Bunny's first 30 s cut between several shots, far fewer than one a second.
    assert 3 <= len(result.shots) <= result.duration / 2, result.shots
