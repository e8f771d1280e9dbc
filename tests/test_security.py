"""Manifests are untrusted input.

- Paths: a manifest cannot name a file outside the project root (sources: or the campaign's
  media_roots), whether by ``..``, an absolute path, or a symlink (the file or any folder on
  the way) that leads out; messages say why, with file, line and field, and never print an
  absolute machine path.
- Injection: no field reaches FFmpeg as an option or as filter-graph syntax (source paths go
  as one ``file:`` argument, caption text is literal ASS text, titles are drawn by Pillow);
  ids and cut names are slugs.
- YAML: a safe loader, no python tags, bounded alias expansion, nesting and size; duplicate
  keys are errors.
- Fuzz: random documents and mutations of the sample manifests raise nothing but
  ``ManifestError``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.captions.ass import escape_text, fit_percent
from pipeline.captions.layout import caption_layout
from pipeline.captions.model import Cue
from pipeline.errors import ManifestError
from pipeline.graph import build_argv
from pipeline.manifest_load import load_manifests
from pipeline.manifest_yaml import MAX_BYTES, MAX_DEPTH, MAX_VALUES
from pipeline.plan import make_plan
from pipeline.probe import SourceInfo
from tests.test_captions_burn import frame, ink_box, libass_reads, write_ass

REPO = Path(__file__).resolve().parents[1]
Project = Callable[..., Path]

STUDY = """\
id: alpha
title: Alpha case
area: Avon and Somerset
source: {source}
cuts:
  short:
    - [0, 2]
outputs:
  - platform: x
    cut: short
    aspects: ["16:9"]
"""


def study(source: str = "../media/alpha.mp4", extra: str = "") -> str:
    return STUDY.format(source=yaml.safe_dump(source, default_style='"').strip()) + extra


def problems(root: Path) -> list[str]:
    with pytest.raises(ManifestError) as info:
        load_manifests(root / "manifests")
    text = [str(p) for p in info.value.problems]
    # Never a machine path: everything is relative to the project root or as written.
    assert not any(str(root) in t or str(root.parent) in t for t in text), text
    return text


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the project, with a file a manifest must not reach."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "secret.mp4").write_bytes(b"not yours")
    (folder / "secret.vtt").write_text("WEBVTT\n")
    (folder / "logo.png").write_bytes(b"not yours")
    return folder


# ---------------------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------------------

OUT = "is outside the project root"
KEEP = "; keep footage inside the project (e.g. media/)"


def test_source_dotdot_and_absolute_paths_outside_are_refused(
    project: Project, outside: Path
) -> None:
    for source in ("../../elsewhere/secret.mp4", "../media/../../elsewhere/secret.mp4"):
        root = project({"alpha.yaml": study(source)})
        assert problems(root) == [f"manifests/alpha.yaml:4: source: {source!r} {OUT}{KEEP}"]
    root = project({"alpha.yaml": study(str(outside / "secret.mp4"))})
    [problem] = problems_raw(root)
    assert problem.line == 4 and problem.field == "source"
    assert problem.message.endswith(f"{OUT}{KEEP}")


def problems_raw(root: Path) -> list[Any]:
    with pytest.raises(ManifestError) as info:
        load_manifests(root / "manifests")
    return list(info.value.problems)


def test_absolute_and_dotdot_paths_that_stay_inside_are_fine(project: Project) -> None:
    root = project({"alpha.yaml": study("../media/../media/alpha.mp4")})
    assert load_manifests(root / "manifests").case_studies[0].source_path.name == "alpha.mp4"
    root = project({"alpha.yaml": study(str(root / "media" / "alpha.mp4"))})
    assert load_manifests(root / "manifests").case_studies[0].source_path.name == "alpha.mp4"


def test_symlinked_file_leading_out_is_refused_and_named(project: Project, outside: Path) -> None:
    root = project({"alpha.yaml": study("../media/link.mp4")})
    (root / "media" / "link.mp4").symlink_to(outside / "secret.mp4")
    assert problems(root) == [
        "manifests/alpha.yaml:4: source: '../media/link.mp4' is outside the project root "
        f"(resolves outside it through a symlink at media/link.mp4){KEEP}"
    ]


def test_symlinked_folder_leading_out_is_refused_and_named(project: Project, outside: Path) -> None:
    root = project({"alpha.yaml": study("../media/link/secret.mp4")})
    (root / "media" / "link").symlink_to(outside, target_is_directory=True)
    assert problems(root) == [
        "manifests/alpha.yaml:4: source: '../media/link/secret.mp4' is outside the project "
        f"root (resolves outside it through a symlink at media/link){KEEP}"
    ]
    # ".." after a symlink is taken where the symlink leads, as the file system takes it
    (root / "manifests" / "alpha.yaml").write_text(study("../media/link/../elsewhere/x.mp4"))
    assert problems(root)[0].endswith(
        f"(resolves outside it through a symlink at media/link){KEEP}"
    )


def test_symlinks_inside_the_project_are_fine(project: Project) -> None:
    root = project({"alpha.yaml": study("../media/link.mp4")})
    (root / "media" / "real.mp4").write_bytes(b"x")
    (root / "media" / "link.mp4").symlink_to("real.mp4")
    (root / "media" / "sub").symlink_to(root / "media", target_is_directory=True)
    loaded = load_manifests(root / "manifests")
    assert loaded.case_studies[0].source_path == (root / "media" / "real.mp4").resolve()


def test_symlink_loop_is_a_problem_not_a_crash(project: Project) -> None:
    root = project({"alpha.yaml": study("../media/loop.mp4")})
    (root / "media" / "loop.mp4").symlink_to("loop.mp4")
    assert problems(root) == [
        "manifests/alpha.yaml:4: source: '../media/loop.mp4' is not a path that can be "
        f"followed (a symlink loop, or a name too long){KEEP}"
    ]


def test_caption_files_cannot_leave_the_project(project: Project, outside: Path) -> None:
    captions = "captions:\n  en: ../../elsewhere/secret.vtt\n  cy: ../media/cy.vtt\n"
    root = project({"alpha.yaml": study(extra=captions)})
    (root / "media" / "cy.vtt").symlink_to(outside / "secret.vtt")
    assert problems(root) == [
        f"manifests/alpha.yaml:13: captions.en: '../../elsewhere/secret.vtt' {OUT}; keep "
        "caption files inside the project",
        "manifests/alpha.yaml:14: captions.cy: '../media/cy.vtt' is outside the project root "
        "(resolves outside it through a symlink at media/cy.vtt); keep caption files inside "
        "the project",
    ]


def test_brand_files_and_output_dir_cannot_leave_the_project(
    project: Project, outside: Path
) -> None:
    campaign = """\
    name: C
    hashtag: "#C"
    brand:
      logo: brand/logo.png
      font: ../../elsewhere/logo.png
    output_dir: out
    """
    root = project({"alpha.yaml": study()}, campaign=campaign)
    (root / "manifests" / "brand").symlink_to(outside, target_is_directory=True)
    (root / "out").symlink_to(outside, target_is_directory=True)
    msgs = problems(root)
    assert msgs == [
        "manifests/campaign.yaml:4: brand.logo: 'brand/logo.png' is outside the project root "
        "(resolves outside it through a symlink at manifests/brand)",
        f"manifests/campaign.yaml:5: brand.font: '../../elsewhere/logo.png' {OUT}",
        "manifests/campaign.yaml:6: output_dir: 'out' is outside the project root (resolves "
        "outside it through a symlink at out); outputs must be written inside the project "
        "(e.g. out)",
    ]


def test_a_manifest_symlinked_from_outside_is_not_read(project: Project, outside: Path) -> None:
    (outside / "beta.yaml").write_text(study().replace("alpha", "beta"))
    root = project({"alpha.yaml": study()})
    (root / "manifests" / "beta.yaml").symlink_to(outside / "beta.yaml")
    assert problems(root) == [
        "manifests/beta.yaml: is a symlink to a file outside the project root; copy the "
        "manifest into the manifests folder instead"
    ]


def test_nul_and_empty_paths_are_refused(project: Project) -> None:
    root = project({"alpha.yaml": study("../media/a\0.mp4")})
    assert problems(root) == [
        "manifests/alpha.yaml:4: source: '../media/a\\x00.mp4' holds a NUL character, which no "
        "file name can"
    ]
    root = project({"alpha.yaml": study(" ")})
    assert problems(root) == ["manifests/alpha.yaml:4: source: a path cannot be empty"]


def test_a_very_long_path_is_a_problem_not_a_crash(project: Project) -> None:
    root = project({"alpha.yaml": study(extra=f"captions:\n  en: {'a' * 5000}.vtt\n")})
    [msg] = problems(root)
    assert msg.startswith("manifests/alpha.yaml:13: captions.en: ")


# --- media roots --------------------------------------------------------------------------

CAMPAIGN = 'name: C\nhashtag: "#C"\nend_card: {{}}\nmedia_roots: {roots}\n'


def test_sources_may_live_in_a_media_root(project: Project, tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "footage"
    shared.mkdir(parents=True)
    (shared / "a.mp4").write_bytes(b"x")
    nas = tmp_path / "nas"
    nas.mkdir()
    (nas / "b.mp4").write_bytes(b"x")
    roots = yaml.safe_dump(["../shared/footage", "nas-link"], default_flow_style=True).strip()
    root = project(
        {
            "alpha.yaml": study("../../shared/footage/a.mp4"),
            # absolute, through a symlinked media root
            "beta.yaml": study(str(tmp_path / "proj" / "nas-link" / "b.mp4")).replace(
                "alpha", "beta"
            ),
            "gamma.yaml": study("../media/c.mp4").replace("alpha", "gamma"),
        },
        campaign=CAMPAIGN.format(roots=roots),
    )
    (root / "nas-link").symlink_to(nas, target_is_directory=True)
    loaded = load_manifests(root / "manifests")
    labels = [loaded.label(c.source_path) for c in loaded.case_studies]
    assert labels == ["../shared/footage/a.mp4", "nas-link/b.mp4", "media/c.mp4"]


def test_outside_both_the_root_and_the_media_roots_is_refused(
    project: Project, tmp_path: Path, outside: Path
) -> None:
    footage = tmp_path / "footage"
    footage.mkdir()
    (footage / "link.mp4").symlink_to(outside / "secret.mp4")
    root = project(
        {
            "alpha.yaml": study("../../elsewhere/secret.mp4"),
            "beta.yaml": study("../../footage/link.mp4").replace("alpha", "beta"),
            # media roots are for footage only
            "gamma.yaml": study(extra="captions:\n  en: ../../footage/a.vtt\n").replace(
                "alpha", "gamma"
            ),
        },
        campaign=CAMPAIGN.format(roots="[../footage]"),
    )
    (footage / "a.vtt").write_text("WEBVTT\n")
    where = "is outside the project root and the media roots (../footage)"
    assert problems(root) == [
        f"manifests/alpha.yaml:4: source: '../../elsewhere/secret.mp4' {where}; keep footage "
        "inside one of them",
        f"manifests/beta.yaml:4: source: '../../footage/link.mp4' {where} (resolves outside "
        "them through a symlink at ../footage/link.mp4); keep footage inside one of them",
        f"manifests/gamma.yaml:13: captions.en: '../../footage/a.vtt' {OUT}; keep caption "
        "files inside the project",
    ]


def test_a_media_root_must_be_a_folder(project: Project) -> None:
    root = project({"alpha.yaml": study()}, campaign=CAMPAIGN.format(roots="[media/x.mp4, gone]"))
    (root / "media" / "x.mp4").write_bytes(b"x")
    # "gone" is allowed: a drive not mounted makes its sources missing, at render time
    assert problems(root) == [
        "manifests/campaign.yaml:4: media_roots[0]: 'media/x.mp4' is not a folder"
    ]


# ---------------------------------------------------------------------------------------
# Injection
# ---------------------------------------------------------------------------------------

HOSTILE_NAMES = [
    "-y.mp4",
    "-i",
    "--help",
    "a:b.mp4",
    "file:x.mp4",
    "pipe:1",
    "concat:a.mp4|b.mp4",
    "a,b;c.mp4",
    "[0:v]split[x];[x]null.mp4",
    'it\'s "quoted".mp4',
    "new\nline.mp4",
    "back\\slash %d.mp4",
    "movie=evil.mp4",
]

SLUG_FIELDS_BAD = ["../x", "-x", "--help", "a/b", "a:b", "x;y", "a b", "a,b", "A", "x\n", "-"]


@pytest.mark.parametrize("bad", SLUG_FIELDS_BAD)
def test_ids_and_cut_names_are_slugs(project: Project, bad: str) -> None:
    quoted = yaml.safe_dump(bad, default_style='"').strip()
    text = study().replace("id: alpha", f"id: {quoted}")
    msgs = problems(project({"alpha.yaml": text}))
    assert len(msgs) == 1 and msgs[0].startswith("manifests/alpha.yaml:1: id: "), msgs
    text = study().replace("  short:", f"  {quoted}:").replace("cut: short", f"cut: {quoted}")
    msgs = problems(project({"alpha.yaml": text}))
    assert any("is not allowed: use lower-case" in m for m in msgs), msgs


def _source(path: Path, duration: Fraction = Fraction(4)) -> SourceInfo:
    return SourceInfo(
        path=str(path), sha256="0" * 64, size=1, duration=duration, width=320, height=180,
        sar=Fraction(1), rotation=0, fps=Fraction(25), video_codec="h264", has_audio=True,
        audio_rate=44100, audio_channels=2,
    )  # fmt: skip


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_source_names_are_one_file_argument(project: Project, name: str) -> None:
    quoted = yaml.safe_dump(f"../media/{name}", default_style='"').strip()
    extra = '  - platform: facebook\n    cut: short\n    aspects: ["9:16", "1:1"]\n'
    root = project({"alpha.yaml": STUDY.format(source=quoted) + extra})
    manifests = load_manifests(root / "manifests")
    path = manifests.case_studies[0].source_path
    assert path.name == name
    plain = path.with_name("plain.mp4")

    def argvs(source: Path) -> list[list[str]]:
        plan = make_plan(manifests, {"alpha": _source(source)}, "test", "ffmpeg-test")
        return [
            build_argv(job, job.outputs, [f"/t/{o.path}" for o in job.outputs]) for job in plan.jobs
        ]

    for hostile, benign in zip(argvs(path), argvs(plain), strict=True):
        # The same command as for a plain name, but for the source argument itself: once per
        # segment, the value of -i, behind the file: protocol, which takes the rest of the
        # argument as a file name (no option, no other protocol). The filter graph, which
        # refers to inputs by number, is the same text.
        assert len(hostile) == len(benign)
        for i, (a, b) in enumerate(zip(hostile, benign, strict=True)):
            if b == f"file:{plain}":
                assert a == f"file:{path}" and hostile[i - 1] == "-i"
            elif not b.startswith("comment="):  # the key hashes the source's path
                assert a == b
        assert hostile.count(f"file:{path}") == benign.count(f"file:{plain}") >= 1
        graph = hostile[hostile.index("-filter_complex") + 1]
        assert str(path) not in graph


@pytest.mark.render
def test_a_source_with_a_hostile_name_renders_end_to_end(project: Project) -> None:
    from pipeline.probe import probe
    from pipeline.render import RENDERED, render_cut
    from tests.clips import make_clip

    name = "-y [0:v];a,b:c 'q' \"d\" %d.mp4"
    quoted = yaml.safe_dump(f"../media/{name}", default_style='"').strip()
    root = project({"alpha.yaml": STUDY.format(source=quoted)})
    make_clip(root / "media" / "clip.mp4", duration=2.5)
    os.rename(root / "media" / "clip.mp4", root / "media" / name)
    manifests = load_manifests(root / "manifests")
    path = manifests.case_studies[0].source_path
    info = probe(path, None, label=manifests.label(path))
    plan = make_plan(manifests, {"alpha": info}, "test", "ffmpeg-test")
    [job] = plan.jobs
    results = render_cut(job, job.outputs, str(root / "out"))
    assert [r.status for r in results] == [RENDERED], [r.reason for r in results]
    assert sorted(p.name for p in (root / "media").iterdir()) == [name]  # nothing overwritten


# --- caption text ----------------------------------------------------------------------------

ASS_ATTACKS = [
    "{\\fs200}BIG",
    "{\\pos(0,0)}moved",
    "{\\an8}top",
    "line\\Nbreak",
    "{\\p1}m 0 0 l 300 0 300 300 0 300{\\p0}",
    "\\{\\fs200\\}",
    "}{\\fs200}",
    "{\\r}{\\k100}{\\t(\\fs200)}",
]


@pytest.mark.parametrize("text", ASS_ATTACKS)
def test_ass_override_tags_and_drawings_in_captions_are_literal(text: str) -> None:
    drawn, blocks = libass_reads(escape_text(text))
    assert blocks == 0
    assert drawn.replace("\ufeff", "") == text


@pytest.mark.render
def test_override_tags_and_drawing_commands_draw_as_text(tmp_path: Path) -> None:
    size = w, h = (360, 640)
    style = caption_layout(w, h, "9:16")
    text = "{\\fs200}{\\p1}m 0 0 l 300 0 300 300 0 300{\\p0}"
    shrink = fit_percent([text], style, w, h)
    ass = write_ass(tmp_path / "c.ass", [Cue(Fraction(0), Fraction(1), (text,))], style, size)
    burned, _log = frame(size, ass)
    left, top, right, bottom = ink_box(size, burned)
    # One line of (shrunk) caption text in the caption band: no 200 px font, no 300 px square
    assert bottom - top <= style.font_px * shrink / 100 + 2 * style.pad_px + 4
    assert h - style.margin_bottom - style.font_px - 2 * style.pad_px <= bottom
    assert bottom <= h - style.margin_bottom
    assert style.margin_left <= left and right <= w - style.margin_right


# --- titles and areas -------------------------------------------------------------------------

TITLE = "{\\fs200} 100% a:b, c;d [x] 'q' \"r\" \\N %{pts} drawtext=text=x"


@pytest.mark.render
def test_titles_reach_pillow_only_never_an_ffmpeg_argument(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The end card's and the covers' titles are drawn with Pillow; MoviePy gets pictures."""
    from PIL import Image

    from pipeline import endcard, stills
    from pipeline.jobs import EndCard

    argvs: list[list[str]] = []
    real_popen = subprocess.Popen

    def spy(args: Any, *a: Any, **kw: Any) -> Any:
        argvs.append([str(x) for x in args])
        return real_popen(args, *a, **kw)

    monkeypatch.setattr(subprocess, "Popen", spy)
    w, h = endcard.card_size("16:9")
    card = EndCard(
        aspect="16:9", width=w, height=h, seconds=Fraction(1), title=TITLE, area=TITLE[:30],
        hashtag="#C", audio_fade=Fraction(1), primary_colour="#1D3C78",
        secondary_colour="#FFFFFF", logo="", logo_sha256="",
        safe=endcard.safe_margins("16:9", w, h),
    )  # fmt: skip
    path = endcard.ensure_card(card, tmp_path)
    assert path.is_file() and argvs
    for argv in argvs:
        assert not any("100%" in a or "fs200" in a or "drawtext" in a for a in argv), argv
    cover = stills.title_overlay(
        Image.new("RGB", (640, 360)), TITLE, area=TITLE[:30], primary="#1D3C78",
        secondary="#FFFFFF", safe=stills.safe_margins("16:9", 640, 360),
    )  # fmt: skip
    assert cover.size == (640, 360)


# ---------------------------------------------------------------------------------------
# YAML
# ---------------------------------------------------------------------------------------

PYTHON_TAGS = [
    "!!python/object/apply:os.system ['touch {pwned}']",
    "!!python/object/new:os.system ['touch {pwned}']",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!python/tuple [1, 2]",
    "!<tag:yaml.org,2002:python/object/apply:os.system> ['touch {pwned}']",
    "!!python/object/apply:subprocess.check_output [['touch', '{pwned}']]",
]


@pytest.mark.parametrize("value", PYTHON_TAGS)
def test_python_tags_are_refused(project: Project, tmp_path: Path, value: str) -> None:
    pwned = tmp_path / "pwned"
    text = study().replace("title: Alpha case", f"title: {value.format(pwned=pwned)}")
    msgs = problems(project({"alpha.yaml": text}))
    assert len(msgs) == 1 and msgs[0].startswith("manifests/alpha.yaml:2: YAML error: ")
    assert "python/" in msgs[0]
    assert not pwned.exists()


def test_python_tags_through_a_tag_directive_are_refused(project: Project, tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    text = f"%TAG !p! tag:yaml.org,2002:python/\n---\n{study()}".replace(
        "title: Alpha case", f"title: !p!object/apply:os.system ['touch {pwned}']"
    )
    assert problems(project({"alpha.yaml": text})) == [
        "manifests/alpha.yaml:4: YAML error: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'"
    ]
    assert not pwned.exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!!set {a, b}", "the tag '!!set' is not allowed"),
        ("!!binary aGVsbG8=", "the tag '!!binary' is not allowed"),
        ("!!timestamp 2024-01-01", "the tag '!!timestamp' is not allowed"),
        ("!!omap [a: 1]", "the tag '!!omap' is not allowed"),
        ("!!int abc", "'abc' is not a valid !!int"),
        ("!!int 0x10", "'0x10' is not a valid !!int"),
        ("!!float one", "'one' is not a valid !!float"),
        ("!!bool maybe", "'maybe' is not a valid !!bool"),
        ("!!null x", "'x' is not a valid !!null"),
        ("!!map [1]", "the tag '!!map' is for a mapping, not a list"),
        ("!!str {a: 1}", "the tag '!!str' is for a single value, not a mapping"),
        ("!foo bar", "could not determine a constructor for the tag '!foo'"),
    ],
)
def test_other_tags_are_typed_errors(project: Project, value: str, message: str) -> None:
    text = study().replace("title: Alpha case", f"title: {value}")
    [msg] = problems(project({"alpha.yaml": text}))
    assert msg.startswith(f"manifests/alpha.yaml:2: YAML error: {message}"), msg


def test_plain_tags_still_work(project: Project) -> None:
    text = (
        study()
        .replace("title: Alpha case", "title: !!str 16:9")
        .replace("area: Avon and Somerset", "area: =")
    )
    loaded = load_manifests(project({"alpha.yaml": text}) / "manifests")
    assert (loaded.case_studies[0].study.title, loaded.case_studies[0].study.area) == ("16:9", "=")


BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


@contextmanager
def bounded(seconds: float, megabytes: float) -> Iterator[None]:
    tracemalloc.start()
    start = time.perf_counter()
    try:
        yield
        took, (_, peak) = time.perf_counter() - start, tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert took < seconds and peak < megabytes * 1e6, (took, peak)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            BILLION_LAUGHS,
            f"manifests/alpha.yaml:9: YAML error: holds more than {MAX_VALUES} values once its "
            "aliases (*name) are expanded; a manifest needs far fewer",
        ),
        # an alias inside its own anchor: an endless list
        ("id: &x [*x]\n", f"manifests/alpha.yaml:1: YAML error: nested more than {MAX_DEPTH} "
         "levels deep"),
        ("id: &x {a: *x}\n", f"manifests/alpha.yaml:1: YAML error: nested more than {MAX_DEPTH} "
         "levels deep"),
        ("id: " + "[" * 40 + "]" * 40 + "\n", "manifests/alpha.yaml:1: YAML syntax error: nested "
         f"more than {MAX_DEPTH} levels deep at column 37"),
        # PyYAML alone: minutes of scanning (quadratic in depth), then a RecursionError
        ("id: " + "[" * 500_000 + "\n", "manifests/alpha.yaml:1: YAML syntax error: nested "
         f"more than {MAX_DEPTH} levels deep at column 37"),
        ("a:\n" + "".join(" " * i + "- x:\n" for i in range(0, 200, 2)), "manifests/alpha.yaml"
         f":33: YAML syntax error: nested more than {MAX_DEPTH} levels deep at column 66"),
    ],
    ids=["billion-laughs", "self-list", "self-map", "deep-flow", "deeper-than-pyyaml",
         "deep-block"],
)  # fmt: skip
def test_alias_bombs_and_deep_nesting_are_refused_quickly(
    project: Project, text: str, message: str
) -> None:
    root = project({"alpha.yaml": text})
    with bounded(seconds=3, megabytes=200):
        msgs = problems(root)
    assert msgs == [message]


def test_aliases_within_bounds_still_work(project: Project) -> None:
    text = study().replace("outputs:", "x-out: &o {platform: x, cut: short}\noutputs:")
    text = text.replace("  - platform: x\n    cut: short\n", "  - <<: *o\n")
    msgs = problems(project({"alpha.yaml": text}))
    assert msgs == [
        "manifests/alpha.yaml:8: x-out: unknown key 'x-out' (allowed: id, title, area, "
        "description, source, captions, cuts, defaults, framing, outputs, poster_at)"
    ]
    text = text.replace("x-out: &o", "defaults: {}\n_o: &o").replace("_o", "description")
    text = study().replace('aspects: ["16:9"]', 'aspects: &a ["16:9"]')
    assert load_manifests(project({"alpha.yaml": text}) / "manifests").case_studies


def test_a_huge_file_is_refused_without_being_parsed(project: Project) -> None:
    root = project({"alpha.yaml": study() + "description: " + "x" * MAX_BYTES + "\n"})
    with bounded(seconds=2, megabytes=20):
        msgs = problems(root)
    assert msgs == [
        "manifests/alpha.yaml: file is larger than 1024 KiB; a manifest is a few KiB of text"
    ]


def test_duplicate_keys_are_errors_at_every_level(project: Project) -> None:
    text = (
        study()
        .replace("area:", "title: Again\narea:")
        .replace("    cut: short", "    cut: short\n    cut: short")
    )
    assert problems(project({"alpha.yaml": text})) == [
        "manifests/alpha.yaml:3: title: key 'title' appears twice (first at line 2); YAML "
        "would silently keep only this one, so delete one of them",
        "manifests/alpha.yaml:12: outputs[0].cut: key 'cut' appears twice (first at line 11); "
        "YAML would silently keep only this one, so delete one of them",
    ]


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("id: " + "9" * 5000 + "\n", "manifests/alpha.yaml:1: YAML error: an integer of 5000"),
        ("id: a\x07b\n", "manifests/alpha.yaml: YAML syntax error: unacceptable character"),
        ("id: a\n---\nid: b\n", "manifests/alpha.yaml:2: YAML syntax error: but found another"),
        ("{[1, 2]: x}\n", "manifests/alpha.yaml:1: YAML error: found unhashable key"),
        ("<<: [1]\n", "manifests/alpha.yaml:1: YAML error: expected a mapping for merging"),
    ],
    ids=["huge-int", "control-char", "two-documents", "unhashable-key", "bad-merge"],
)
def test_odd_yaml_is_a_typed_error(project: Project, text: str, start: str) -> None:
    [msg] = problems(project({"alpha.yaml": text}))
    assert msg.startswith(start), msg


# ---------------------------------------------------------------------------------------
# Fuzz
# ---------------------------------------------------------------------------------------

SAMPLES = REPO / "manifests"
KEYS = sorted(
    {
        *[
            "id",
            "title",
            "area",
            "description",
            "source",
            "captions",
            "cuts",
            "defaults",
            "framing",
            "outputs",
        ],
        *[
            "poster_at",
            "platform",
            "cut",
            "aspects",
            "strategy",
            "focus",
            "x",
            "y",
            "at",
            "fit",
            "encoder",
            "crf",
            "preset",
        ],
        *[
            "name",
            "hashtag",
            "brand",
            "logo",
            "font",
            "media_roots",
            "output_dir",
            "end_card",
            "stills",
        ],
        *["default_platforms", "seconds", "burn_captions", "caption_language", "<<"],
    }
)
WEIRD = st.sampled_from(
    [
        "", " ", "-", "--help", "..", "../../etc/passwd", "/etc/passwd", "\x00", "a\nb", "16:9",
        "1:30", "00:00:01.5", "=", "~", "null", ".inf", ".nan", "-0", "1e400", "9" * 5000,
        "{\\fs200}", "%n%s", "\ufeff", "\u2028", "é", "🙂", "x" * 300, "#", "!!", "*", "&",
        "file:x", "[0:v]", "a,b;c", "'", '"', "\\", "no", "yes", "0x10", "010",
    ]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    WEIRD,
    st.sampled_from(KEYS),
)
KEY = st.one_of(st.sampled_from(KEYS), st.text(max_size=10), WEIRD)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(KEY, inner, max_size=6)),
    max_leaves=30,
)


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's own manifests folder (sources need not exist to load)."""
    root = tmp_path_factory.mktemp("fuzz") / "proj"
    shutil.copytree(SAMPLES, root / "manifests")
    (root / "media").mkdir()
    load_manifests(root / "manifests")  # the untouched copy is valid
    return root


def load_only_typed_errors(root: Path) -> None:
    try:
        load_manifests(root / "manifests")
    except ManifestError as exc:
        assert exc.problems
        text = str(exc)
        assert str(root) not in text and str(root.parent) not in text, text


def sample_files() -> list[str]:
    return sorted(p.name for p in SAMPLES.glob("*.yaml"))


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


FUZZ = settings(
    # FUZZ_EXAMPLES=5000 for a longer hunt; 150 keeps the file to seconds
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(data=VALUES, name=st.sampled_from(sample_files()))
def test_fuzz_random_documents(sample_root: Path, data: Any, name: str) -> None:
    target = sample_root / "manifests" / name
    original = target.read_text()
    try:
        target.write_text(_dump(data) if data is not None else "")
        load_only_typed_errors(sample_root)
    finally:
        target.write_text(original)


def _replace_at(data: Any, path: list[int], value: Any) -> Any:
    """``data`` with the node chosen by ``path`` (indices into each level) replaced."""
    if not path or not isinstance(data, dict | list) or not data:
        return value
    keys = list(data) if isinstance(data, dict) else list(range(len(data)))
    key = keys[path[0] % len(keys)]
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[key] = _replace_at(data[key], path[1:], value)  # type: ignore[index]
    return copy


@FUZZ
@given(
    name=st.sampled_from(sample_files()),
    path=st.lists(st.integers(0, 20), max_size=5),
    value=VALUES,
    new_key=st.one_of(st.none(), KEY),
)
def test_fuzz_mutated_sample_values(
    sample_root: Path, name: str, path: list[int], value: Any, new_key: str | None
) -> None:
    target = sample_root / "manifests" / name
    original = target.read_text()
    data = yaml.safe_load(original)
    data = _replace_at(data, path, value)
    if new_key is not None and isinstance(data, dict):
        data = {**data, new_key: value}
    try:
        target.write_text(_dump(data))
        load_only_typed_errors(sample_root)
    finally:
        target.write_text(original)


SYNTAX = st.sampled_from(
    [*list("{}[]&*!|>:-,?'\"#%@`\\ \t\n"), "<<", "*a", "&a", "!!", "---", "...", "\x00", "é"]
)


@FUZZ
@given(
    name=st.sampled_from(sample_files()),
    edits=st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.integers(0, 20),
            st.one_of(st.lists(SYNTAX, max_size=6).map("".join), st.text(max_size=8), WEIRD),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_fuzz_mutated_sample_text(
    sample_root: Path, name: str, edits: list[tuple[int, int, str]]
) -> None:
    target = sample_root / "manifests" / name
    original = target.read_bytes()
    text = original.decode()
    for at, cut, insert in edits:
        at %= len(text) + 1
        text = text[:at] + insert + text[at + cut :]
    try:
        target.write_bytes(text.encode("utf-8", "surrogatepass"))
        load_only_typed_errors(sample_root)
    finally:
        target.write_bytes(original)
