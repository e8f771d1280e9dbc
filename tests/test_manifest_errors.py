"""Malformed manifests: each kind gives one exact message naming the file (relative to the
project root), the line, the field path, the bad value and what is allowed; every problem
in every file is reported at once; the CLI exits 2 and renders nothing.

Manifest checks need no media: a missing source is not a manifest error. Plan-time checks
(segment past the source's end, cut too long for a platform) use fixed source facts; only
the CLI tests at the end touch FFmpeg, with one tiny generated clip.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.errors import ManifestError, PlanError, Problem
from pipeline.manifest_load import load_manifests
from pipeline.plan import make_plan
from pipeline.probe import SourceInfo
from tests.clips import make_clip

REPO = Path(__file__).resolve().parents[1]

# Line numbers below are this text's: 1 id, 2 title, 3 area, 4 source, 5 cuts, 6 short,
# 7 its segment, 8 outputs, 9 platform, 10 cut, 11 aspects.
GOOD = """\
id: alpha
title: Alpha case
area: Avon and Somerset
source: ../media/alpha.mp4
cuts:
  short:
    - [0, 2]
outputs:
  - platform: x
    cut: short
    aspects: ["16:9"]
"""

ALLOWED_STUDY_KEYS = (
    "id, title, area, description, source, captions, cuts, defaults, framing, outputs, poster_at"
)
PLATFORMS = "x, linkedin, facebook, reels, youtube, youtube_shorts, web, broadcast"
TIMESTAMPS = "hh:mm:ss.mmm, mm:ss(.mmm) or seconds (e.g. 12.5)"
SLUG_RULE = "use lower-case letters, digits and '-', starting and ending with a letter or digit"

Project = Callable[..., Path]


def edit(old: str, new: str, text: str = GOOD) -> str:
    assert old in text, f"test bug: {old!r} not in the manifest"
    return text.replace(old, new, 1)


def problems_of(root: Path) -> list[str]:
    with pytest.raises(ManifestError) as info:
        load_manifests(root / "manifests")
    return [str(p) for p in info.value.problems]


# (test id, alpha.yaml text, the one expected problem, exactly)
CASES: list[tuple[str, str, str]] = [
    (
        "unknown-key",
        edit("source:", "colour: red\nsource:"),
        f"manifests/alpha.yaml:4: colour: unknown key 'colour' (allowed: {ALLOWED_STUDY_KEYS})",
    ),
    (
        "misspelt-key-gets-a-suggestion",
        edit("title:", "titel:"),
        "manifests/alpha.yaml:2: titel: unknown key 'titel' (allowed: "
        f"{ALLOWED_STUDY_KEYS}); did you mean 'title'?",
    ),
    (
        "unknown-nested-key",
        edit("    cut: short", "    cut: short\n    aspect: ['1:1']"),
        "manifests/alpha.yaml:11: outputs[0].aspect: unknown key 'aspect' (allowed: strategy, "
        "focus, encoder, burn_captions, caption_language, end_card, platform, cut, aspects, fit, "
        "framing, poster_at); did you mean 'aspects'?",
    ),
    (
        "wrong-type",
        edit("title: Alpha case", "title: [1, 2]"),
        "manifests/alpha.yaml:2: title: Input should be a valid string (got [1, 2])",
    ),
    (
        "wrong-type-number-range",
        edit("cuts:", "defaults:\n  encoder: {crf: 99}\ncuts:"),
        "manifests/alpha.yaml:6: defaults.encoder.crf: Input should be less than or equal to 51 "
        "(got 99)",
    ),
    (
        "bad-timestamp-not-a-time",
        edit("[0, 2]", "[0, soon]"),
        f"manifests/alpha.yaml:7: cuts.short[0].end: 'soon' is not a timestamp ({TIMESTAMPS})",
    ),
    (
        "bad-timestamp-seconds-over-59",
        edit("[0, 2]", '[0, "1:75"]'),
        "manifests/alpha.yaml:7: cuts.short[0].end: '1:75': seconds must be below 60",
    ),
    (
        "bad-timestamp-infinite",
        edit("[0, 2]", "[0, .inf]"),
        f"manifests/alpha.yaml:7: cuts.short[0].end: inf is not a timestamp ({TIMESTAMPS})",
    ),
    (
        "negative-timestamp",
        edit("[0, 2]", "[-1.5, 2]"),
        "manifests/alpha.yaml:7: cuts.short[0].start: -1.5 is negative; times count from the "
        "start of the source, so 0 or more",
    ),
    (
        "out-before-in",
        edit("[0, 2]", '["00:03", 1]'),
        "manifests/alpha.yaml:7: cuts.short[0]: out point 00:00:01.000 is not after in point "
        "00:00:03.000",
    ),
    (
        "segment-with-three-values",
        edit("[0, 2]", "[0, 1, 2]"),
        "manifests/alpha.yaml:7: cuts.short[0]: a segment is [in, out], e.g. [0:05, 0:12.5]; "
        "got 3 value(s): [0, 1, 2]",
    ),
    (
        "segment-not-a-pair",
        edit("[0, 2]", '"0-2"'),
        "manifests/alpha.yaml:7: cuts.short[0]: a segment is [in, out], e.g. [0:05, 0:12.5]; "
        "got '0-2'",
    ),
    (
        "cut-with-no-segments",
        edit("  short:\n    - [0, 2]", "  short: []"),
        "manifests/alpha.yaml:6: cuts.short: cut 'short' has no segments; list at least one "
        "[in, out]",
    ),
    (
        "bad-cut-name",
        edit("  short:", "  Short_1:"),
        f"manifests/alpha.yaml:6: cuts.Short_1: cut name 'Short_1' is not allowed: {SLUG_RULE}",
    ),
    (
        "unknown-platform",
        edit("platform: x", "platform: tiktok"),
        "manifests/alpha.yaml:9: outputs[0].platform: 'tiktok' is not a known platform "
        f"(allowed: {PLATFORMS})",
    ),
    (
        "unknown-aspect",
        edit('["16:9"]', '["16:9", "21:9"]'),
        "manifests/alpha.yaml:11: outputs[0].aspects[1]: '21:9' is not a known aspect ratio "
        "(allowed: 16:9, 1:1, 4:5, 9:16)",
    ),
    (
        "aspect-not-allowed-for-platform",
        edit("platform: x", "platform: youtube", edit('["16:9"]', '["9:16"]')),
        "manifests/alpha.yaml:11: outputs[0].aspects[0]: '9:16' is not an aspect ratio YouTube "
        "takes (allowed for youtube: 16:9)",
    ),
    (
        "aspect-listed-twice",
        edit('["16:9"]', '["16:9", "16:9"]'),
        "manifests/alpha.yaml:11: outputs[0].aspects[1]: '16:9' is listed twice",
    ),
    (
        "literal-not-allowed",
        edit("    cut: short", "    cut: short\n    strategy: zoom"),
        "manifests/alpha.yaml:11: outputs[0].strategy: 'zoom' is not allowed "
        "(allowed: 'auto', 'crop' or 'pad')",
    ),
    (
        "framing-range-that-says-nothing",
        edit("    cut: short", "    cut: short\n    framing: [{at: [0, 1]}]"),
        "manifests/alpha.yaml:11: outputs[0].framing[0]: a framing range needs a strategy, "
        "a focus, or both",
    ),
    (
        "framing-range-pad-with-focus",
        edit(
            "    cut: short",
            "    cut: short\n    framing: [{at: [0, 1], strategy: pad, focus: {x: 0.2}}]",
        ),
        "manifests/alpha.yaml:11: outputs[0].framing[0]: a focus point means nothing with "
        "strategy pad",
    ),
    (
        "framing-range-backwards",
        edit("    cut: short", "    cut: short\n    framing: [{at: [2, 1], strategy: pad}]"),
        "manifests/alpha.yaml:11: outputs[0].framing[0].at: out point 00:00:01.000 is not after "
        "in point 00:00:02.000",
    ),
    (
        "cut-used-but-not-defined",
        edit("cut: short", "cut: long"),
        "manifests/alpha.yaml:10: outputs[0].cut: cut 'long' is not defined in cuts "
        "(defined: short)",
    ),
    (
        "bad-id-slug",
        edit("id: alpha", "id: Alpha_Case"),
        f"manifests/alpha.yaml:1: id: 'Alpha_Case' is not allowed: {SLUG_RULE}",
    ),
    (
        "missing-required-field",
        edit("area: Avon and Somerset\n", ""),
        "manifests/alpha.yaml:1: area: required field is missing",
    ),
    (
        "source-escapes-root",
        edit("../media/alpha.mp4", "../../elsewhere/alpha.mp4"),
        "manifests/alpha.yaml:4: source: '../../elsewhere/alpha.mp4' is outside the project "
        "root; keep footage inside the project (e.g. media/)",
    ),
    (
        "source-absolute-outside-root",
        edit("../media/alpha.mp4", "/etc/passwd"),
        "manifests/alpha.yaml:4: source: '/etc/passwd' is outside the project root; keep "
        "footage inside the project (e.g. media/)",
    ),
    (
        "caption-file-missing",
        edit("cuts:", "captions:\n  en: ../media/alpha.en.vtt\ncuts:"),
        "manifests/alpha.yaml:6: captions.en: caption file '../media/alpha.en.vtt' does not "
        "exist (looked for media/alpha.en.vtt; paths are relative to this manifest)",
    ),
    (
        "caption-language-code",
        edit("cuts:", "captions:\n  English: alpha.vtt\ncuts:"),
        "manifests/alpha.yaml:6: captions.English: 'English' is not a language code "
        "(use e.g. en, cy, en-GB)",
    ),
    (
        "yaml-syntax-error",
        edit("title: Alpha case", "title: [Alpha case"),
        "manifests/alpha.yaml:3: YAML syntax error: expected ',' or ']', but got ':' at column 5 "
        "(while parsing a flow sequence from line 2)",
    ),
    (
        "yaml-tab-indent",
        edit("title:", "\ttitle:"),
        "manifests/alpha.yaml:2: YAML syntax error: found character '\\t' that cannot start "
        "any token at column 1",
    ),
    (
        "yaml-two-documents",
        GOOD + "---\nid: beta\n",
        "manifests/alpha.yaml:12: YAML syntax error: but found another document at column 1 "
        "(expected a single document in the stream from line 1)",
    ),
    (
        "duplicate-yaml-key",
        edit("area:", "title: Again\narea:"),
        "manifests/alpha.yaml:3: title: key 'title' appears twice (first at line 2); YAML "
        "would silently keep only this one, so delete one of them",
    ),
    (
        "duplicate-nested-yaml-key",
        edit("    cut: short", "    cut: short\n    cut: short"),
        "manifests/alpha.yaml:11: outputs[0].cut: key 'cut' appears twice (first at line 10); "
        "YAML would silently keep only this one, so delete one of them",
    ),
    (
        "empty-file",
        "",
        "manifests/alpha.yaml: file is empty; a manifest is a mapping of keys to values",
    ),
    (
        "only-comments",
        "# TODO: fill this in\n",
        "manifests/alpha.yaml: file has only comments; a manifest is a mapping of keys to values",
    ),
    (
        "not-a-mapping",
        "- id: alpha\n- id: beta\n",
        "manifests/alpha.yaml:1: a manifest must be a mapping of keys to values, not a list",
    ),
    (
        "unsafe-yaml-tag",
        edit("title: Alpha case", "title: !!python/object/apply:os.system [ls]"),
        "manifests/alpha.yaml:2: YAML error: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_malformed_manifest_has_its_exact_error(
    project: Project, text: str, expected: str
) -> None:
    root = project({"alpha.yaml": text})
    assert problems_of(root) == [expected]


def test_at_least_eighteen_kinds_are_covered() -> None:
    assert len({c[0] for c in CASES}) == len(CASES) >= 18


def test_not_utf8(project: Project) -> None:
    root = project({})
    (root / "manifests" / "alpha.yaml").write_bytes(GOOD.encode().replace(b"Alpha", b"Al\xe9ha"))
    assert problems_of(root) == [
        "manifests/alpha.yaml:2: not UTF-8 text (invalid continuation byte: byte 0xe9); "
        "save the file as UTF-8"
    ]


def test_duplicate_ids_across_two_files(project: Project) -> None:
    root = project({"alpha.yaml": GOOD, "beta.yaml": edit("title: Alpha case", "title: Copy")})
    assert problems_of(root) == [
        "manifests/beta.yaml:1: id: id 'alpha' is already used by manifests/alpha.yaml:1; "
        "ids must be unique across the campaign"
    ]


def test_missing_campaign_file(project: Project) -> None:
    root = project({"alpha.yaml": GOOD})
    (root / "manifests" / "campaign.yaml").unlink()
    assert problems_of(root) == [
        "manifests/campaign.yaml: campaign file is missing; every manifests folder needs a "
        "campaign.yaml with at least name and hashtag"
    ]


def test_campaign_file_with_the_wrong_extension_is_named(project: Project) -> None:
    root = project({"alpha.yaml": GOOD})
    campaign = root / "manifests" / "campaign.yaml"
    campaign.rename(campaign.with_suffix(".yml"))
    assert problems_of(root) == [
        "manifests/campaign.yaml: campaign file is missing (found campaign.yml: rename it to "
        "campaign.yaml)"
    ]


def test_campaign_errors(project: Project) -> None:
    campaign = """\
    name: Test campaign
    hashtag: PCCs
    default_platforms: [x, myspace]
    output_dir: ../../somewhere
    defaults:
      encoder: {preset: ultrafast}
    """
    root = project({"alpha.yaml": GOOD}, campaign=campaign)
    assert problems_of(root) == [
        "manifests/campaign.yaml:2: hashtag: 'PCCs' is not allowed: use '#' followed by "
        "letters, digits or '_' (e.g. #PCCsPreventingCrime)",
        "manifests/campaign.yaml:3: default_platforms[1]: 'myspace' is not a known platform "
        f"(allowed: {PLATFORMS})",
        "manifests/campaign.yaml:6: defaults.encoder.preset: 'ultrafast' is not allowed "
        "(allowed: 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower' or "
        "'veryslow')",
    ]


def test_output_dir_outside_the_root(project: Project) -> None:
    root = project({"alpha.yaml": GOOD}, campaign='name: C\nhashtag: "#C"\noutput_dir: ../out\n')
    assert problems_of(root) == [
        "manifests/campaign.yaml:3: output_dir: '../out' is outside the project root; outputs "
        "must be written inside the project (e.g. out)"
    ]


def test_no_outputs_and_no_default_platforms(project: Project) -> None:
    root = project({"alpha.yaml": GOOD.split("outputs:")[0]})
    assert problems_of(root) == [
        "manifests/alpha.yaml:1: outputs: no outputs listed and the campaign has no "
        "default_platforms; add outputs here or default_platforms to the campaign"
    ]


def test_every_problem_in_every_file_at_once(project: Project) -> None:
    root = project(
        {
            "alpha.yaml": edit("platform: x", "platform: tiktok", edit("[0, 2]", "[3, 1]")),
            "beta.yaml": "id: beta\ntitle: [Beta\n",
            "gamma.yaml": edit("id: alpha", "id: gamma", edit("area:", "areas:")),
        },
        campaign='name: C\nhashtag: "#C"\nbrand: {primary_colour: blue}\n',
    )
    assert problems_of(root) == [
        "manifests/campaign.yaml:3: brand.primary_colour: 'blue' is not a colour; use #RRGGBB",
        "manifests/alpha.yaml:7: cuts.short[0]: out point 00:00:01.000 is not after in point "
        "00:00:03.000",
        "manifests/alpha.yaml:9: outputs[0].platform: 'tiktok' is not a known platform "
        f"(allowed: {PLATFORMS})",
        "manifests/beta.yaml:3: YAML syntax error: expected ',' or ']', but got '<stream end>' "
        "at column 1 (while parsing a flow sequence from line 2)",
        "manifests/gamma.yaml:3: areas: unknown key 'areas' (allowed: "
        f"{ALLOWED_STUDY_KEYS}); did you mean 'area'?",
    ]


def test_problems_carry_their_parts_and_survive_pickling(project: Project) -> None:
    root = project({"alpha.yaml": edit("platform: x", "platform: tiktok")})
    with pytest.raises(ManifestError) as info:
        load_manifests(root / "manifests")
    err = info.value
    assert err.problems == (
        Problem(
            "manifests/alpha.yaml",
            9,
            "outputs[0].platform",
            f"'tiktok' is not a known platform (allowed: {PLATFORMS})",
        ),
    )
    assert err.exit_code == 2
    again = pickle.loads(pickle.dumps(err))
    assert again.problems == err.problems and str(again) == str(err)
    assert str(err).startswith("1 problem in the manifests:\n  manifests/alpha.yaml:9: ")
    assert str(root) not in str(err)


def test_unquoted_aspects_and_clock_times_are_strings_not_base_60(project: Project) -> None:
    """YAML 1.1 reads 16:9 as 969 and 1:30 as 90; the loader keeps them as written."""
    text = edit('["16:9"]', "[16:9, 1:1]", edit("[0, 2]", "[0:00.5, 1:30]"))
    text = edit("cuts:", "captions: {no: ../media/no.vtt}\ncuts:", text)  # Norwegian, not False
    root = project({"alpha.yaml": text})
    (root / "media" / "no.vtt").write_text("WEBVTT\n")
    study = load_manifests(root / "manifests").case_studies[0].study
    assert study.outputs[0].aspects == ["16:9", "1:1"]
    assert (study.cuts["short"][0].start, study.cuts["short"][0].end) == (Fraction(1, 2), 90)
    assert list(study.captions) == ["no"]


# --- plan-time problems: well-formed manifests that do not fit the source or the platform


def _source(path: Path, duration: Fraction) -> SourceInfo:
    return SourceInfo(
        path=str(path), sha256="0" * 64, size=1, duration=duration, width=320, height=180,
        sar=Fraction(1), rotation=0, fps=Fraction(25), video_codec="h264", has_audio=True,
        audio_rate=44100, audio_channels=2,
    )  # fmt: skip


def _plan(root: Path, duration: Fraction = Fraction(4)):  # type: ignore[no-untyped-def]
    manifests = load_manifests(root / "manifests")
    sources = {c.study.id: _source(c.source_path, duration) for c in manifests.case_studies}
    return make_plan(manifests, sources, "test", "ffmpeg-test")


def test_segment_past_the_source_end(project: Project) -> None:
    root = project({"alpha.yaml": edit("[0, 2]", "[1, 2]\n    - [3, 9.5]")})
    with pytest.raises(PlanError) as info:
        _plan(root, duration=Fraction(4))
    assert [str(p) for p in info.value.problems] == [
        "manifests/alpha.yaml:8: cuts.short[1]: segment [00:00:03.000, 00:00:09.500] ends past "
        "the end of the source (00:00:04.000, ../media/alpha.mp4)"
    ]
    assert info.value.exit_code == 2


def test_cut_longer_than_the_platform_allows(project: Project) -> None:
    text = edit("[0, 2]", "[0, 100]", edit("platform: x", "platform: reels"))
    root = project({"alpha.yaml": edit('["16:9"]', '["9:16"]', text)})
    with pytest.raises(PlanError) as info:
        _plan(root, duration=Fraction(120))
    assert [str(p) for p in info.value.problems] == [
        "manifests/alpha.yaml:9: outputs[0]: cut 'short' is 00:01:40.000 long but Facebook / "
        "Instagram Reels allows at most 00:01:30.000; shorten the cut or set 'fit: trim'"
    ]


def test_fit_trim_makes_a_long_cut_pass_with_a_note(project: Project) -> None:
    text = edit("[0, 2]", "[0, 100]", edit("platform: x", "platform: reels"))
    text = edit('["16:9"]', '["9:16"]\n    fit: trim', text)
    plan = _plan(project({"alpha.yaml": text}), duration=Fraction(120))
    (out,) = plan.jobs[0].outputs
    assert out.duration == 90
    assert out.notes == (
        "trimmed from 00:01:40.000 to 00:01:30.000 (Facebook / Instagram Reels allows at most "
        "00:01:30.000)",
    )


# --- through the command line


@pytest.fixture
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich wraps at the terminal width (80 when not a terminal); messages are one line each."""
    monkeypatch.setenv("COLUMNS", "500")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def test_cli_validate_reports_everything_and_exits_2(
    project: Project, capsys: pytest.CaptureFixture[str], wide_console: None
) -> None:
    root = project(
        {
            "alpha.yaml": edit("platform: x", "platform: tiktok"),
            "beta.yaml": edit("id: alpha", "id: beta", edit("[0, 2]", "[0, -2]")),
        }
    )
    assert main(["-m", str(root / "manifests"), "validate"]) == 2
    err = _one_line(capsys.readouterr().err)
    assert "2 problems in the manifests:" in err
    assert (
        "manifests/alpha.yaml:9: outputs[0].platform: 'tiktok' is not a known platform "
        f"(allowed: {PLATFORMS})"
    ) in err
    assert (
        "manifests/beta.yaml:7: cuts.short[0].end: -2 is negative; times count from the start "
        "of the source, so 0 or more"
    ) in err
    assert str(root) not in err


def test_cli_validate_reports_a_missing_source_and_exits_2(
    project: Project, capsys: pytest.CaptureFixture[str], wide_console: None
) -> None:
    root = project({"alpha.yaml": GOOD})
    assert main(["-m", str(root / "manifests"), "validate"]) == 2
    err = _one_line(capsys.readouterr().err)
    assert "alpha: source media/alpha.mp4: file does not exist" in err
    assert "1 source(s) missing or unreadable" in err


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """320x180, 25 fps, 2.0 s with a tone."""
    return make_clip(tmp_path_factory.mktemp("clips") / "alpha.mp4", duration=2.0)


def _render_writes_nothing(root: Path) -> None:
    out = root / "out"
    left = sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) if out.exists() else []
    # The source-hash cache is state, not output; nothing else may appear.
    assert [p for p in left if not p.startswith(".pipeline")] == []


def test_cli_render_with_one_invalid_manifest_renders_nothing(
    project: Project, clip: Path, capsys: pytest.CaptureFixture[str], wide_console: None
) -> None:
    root = project(
        {"alpha.yaml": GOOD, "beta.yaml": edit("id: alpha", "id: beta", edit("cuts:", "cut:"))}
    )
    (root / "media" / "alpha.mp4").write_bytes(clip.read_bytes())
    assert main(["-m", str(root / "manifests"), "render"]) == 2
    err = _one_line(capsys.readouterr().err)
    assert "manifests/beta.yaml:5: cut: unknown key 'cut' (allowed: " in err
    assert "did you mean 'cuts'?" in err
    assert not (root / "out").exists()


def test_cli_render_with_a_plan_error_renders_nothing(
    project: Project, clip: Path, capsys: pytest.CaptureFixture[str], wide_console: None
) -> None:
    root = project(
        {
            "alpha.yaml": GOOD,
            "beta.yaml": edit("id: alpha", "id: beta", edit("[0, 2]", '[1, "00:05"]')),
        }
    )
    (root / "media" / "alpha.mp4").write_bytes(clip.read_bytes())
    assert main(["-m", str(root / "manifests"), "render"]) == 2
    err = _one_line(capsys.readouterr().err)
    assert (
        "manifests/beta.yaml:7: cuts.short[0]: segment [00:00:01.000, 00:00:05.000] ends past "
        "the end of the source (00:00:02.000, ../media/alpha.mp4)"
    ) in err
    _render_writes_nothing(root)


def test_python_m_pipeline_validate_exits_2(project: Project) -> None:
    root = project({"alpha.yaml": edit("id: alpha", "id: Alpha!")})
    env = {**os.environ, "COLUMNS": "500", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "validate"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"manifests/alpha.yaml:1: id: 'Alpha!' is not allowed: {SLUG_RULE}" in _one_line(
        proc.stderr
    )
    assert str(root) not in proc.stderr + proc.stdout
    assert not (root / "out").exists()
