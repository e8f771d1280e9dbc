"""Burned-in captions: layout numbers, ASS escaping, the packaged font, and real libass
renders checked from decoded pixels (caption ink inside each aspect's safe area; hostile
text drawn literally; the packaged font used; odd file names surviving the filter graph)."""

from __future__ import annotations

import re
import subprocess
from fractions import Fraction
from functools import cache
from pathlib import Path

import ffmpeg
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.captions.ass import (
    ZERO_WIDTH,
    ass_time,
    burn_filter,
    escape_text,
    fit_percent,
    to_ass,
)
from pipeline.captions.fonts import (
    font_family,
    font_file,
    fonts_dir,
    glyph_warnings,
    missing_glyphs,
    text_width,
)
from pipeline.captions.layout import REGIONS, CaptionStyle, caption_layout
from pipeline.captions.model import Cue
from pipeline.ffmpeg_run import ffmpeg_exe

F = Fraction
FULL = {"16:9": (1920, 1080), "1:1": (1080, 1080), "4:5": (1080, 1350), "9:16": (1080, 1920)}
SMALL = {"16:9": (1280, 720), "1:1": (720, 720), "4:5": (720, 900), "9:16": (720, 1280)}

SENTENCE = "Police and crime commissioners worked with local people to make streets safer"


def fill_lines(style: CaptionStyle) -> tuple[str, ...]:
    """``max_lines`` lines of prose, each as close to ``max_chars`` as whole words allow."""
    words, lines = (SENTENCE + " ") * 4, []
    for _ in range(style.max_lines):
        cut = words.rfind(" ", 0, style.max_chars + 1)
        lines.append(words[:cut])
        words = words[cut + 1 :]
    return tuple(lines)


URL = "https://example.org/a-very-long-address-that-no-line-can-hold"


# ---------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------


def test_layout_follows_bbc_line_lengths_and_reels_safe_zone() -> None:
    wide = caption_layout(1920, 1080, "16:9")
    assert (wide.max_chars, wide.max_lines) == (37, 2)
    tall = caption_layout(1080, 1920, "9:16")
    assert (tall.max_chars, tall.max_lines) == (25, 3)
    assert tall.margin_bottom >= 0.35 * 1920 and tall.margin_top >= 0.14 * 1920
    assert min(tall.margin_left, tall.margin_right) >= 0.06 * 1080
    for aspect in ("1:1", "4:5"):
        mid = caption_layout(*FULL[aspect], aspect)
        assert 25 <= mid.max_chars <= 37 and mid.max_lines == 2


@pytest.mark.parametrize("aspect", list(REGIONS))
def test_layout_scales_with_the_frame(aspect: str) -> None:
    big, small = caption_layout(*FULL[aspect], aspect), caption_layout(*SMALL[aspect], aspect)
    assert (big.max_chars, big.max_lines) == (small.max_chars, small.max_lines)
    w, h = FULL[aspect]
    assert small.font_px == pytest.approx(big.font_px * 2 / 3, abs=1)
    # max_lines lines, with the box's padding, fit between the top and bottom margins.
    assert big.margin_bottom + big.max_lines * big.font_px + 2 * big.pad_px <= h - big.margin_top
    assert big.margin_left + big.margin_right < w


def test_unknown_aspect_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'2:1'.*16:9, 1:1, 4:5, 9:16"):
        caption_layout(1000, 500, "2:1")


# ---------------------------------------------------------------------------------------
# Escaping, checked against a model of how libass reads Dialogue text
# ---------------------------------------------------------------------------------------


def libass_reads(text: str) -> tuple[str, int]:
    """The characters libass draws for ASS ``text`` (WrapStyle 0), and how many override
    blocks it runs: libass's text loop (an override block is ``{`` with a ``}`` after it)
    and its ``get_next_char`` escapes (``\\N \\n \\h \\{ \\}``)."""
    out: list[str] = []
    blocks = i = 0
    while i < len(text):
        if text[i] == "{" and "}" in text[i:]:
            blocks += 1
            i = text.index("}", i) + 1
            continue
        pair = text[i : i + 2]
        special = {"\\N": "\n", "\\n": " ", "\\h": "\xa0", "\\{": "{", "\\}": "}"}
        if pair in special:
            out.append(special[pair])
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out), blocks


HOSTILE = '{\\pos(0,0)}"Q": it\'s a:b, c\\d \\N \\n \\h \\\\N {\\an8} \\{x\\} }{'


@given(st.text(alphabet=st.sampled_from(list("{}\\Nnha :,'\"[]\n\r\tŵ")), max_size=40))
def test_escaped_text_reads_back_literally(text: str) -> None:
    drawn, blocks = libass_reads(escape_text(text))
    assert blocks == 0
    expected = re.sub(r"[\r\n\t]", " ", text)
    assert drawn.replace(ZERO_WIDTH, "") == expected


def test_hostile_caption_reads_back_literally() -> None:
    drawn, blocks = libass_reads(escape_text(HOSTILE))
    assert blocks == 0 and drawn.replace(ZERO_WIDTH, "") == HOSTILE


def test_to_ass_writes_speakers_sound_cues_and_our_own_line_breaks() -> None:
    style = caption_layout(1080, 1920, "9:16")
    cues = [
        Cue(F(1), F(3), ("Croeso i {Gymru}", "ŵ ŷ"), speaker="Dai, Jones"),
        Cue(F(3), F(4), ("[music]",), sound=True),
    ]
    script = to_ass(cues, style, 1080, 1920, font_family())
    assert "PlayResX: 1080\nPlayResY: 1920\nWrapStyle: 0\n" in script
    style_line = next(ln for ln in script.splitlines() if ln.startswith("Style: "))
    fields = style_line[len("Style: ") :].split(",")
    assert len(fields) == 23 and fields[1] == "Source Sans Pro Semibold"
    assert fields[15] == "3"  # BorderStyle 3: opaque box
    # Margins move the glyphs inward by the box's padding, so the box meets the safe area.
    assert int(fields[21]) == style.margin_bottom + style.pad_px
    events = [ln for ln in script.splitlines() if ln.startswith("Dialogue: ")]
    assert events[0].split(",", 9)[9] == (
        "{\\c&H00FFFF&}Dai, Jones:{\\c&HFFFFFF&} Croeso i \\{Gymru\\}\\Nŵ ŷ"
    )
    assert events[1].endswith(",[music]")
    outlined = to_ass(cues, caption_layout(1080, 1920, "9:16", box=False), 1080, 1920, "F")
    assert ",0,0,0,0,100,100,0,0,1," in outlined  # BorderStyle 1: outline, no box
    with pytest.raises(ValueError, match="font name"):
        to_ass(cues, style, 1080, 1920, "Evil,Font")


@pytest.mark.parametrize("aspect", list(REGIONS))
def test_reflowed_cues_keep_full_size_and_overlong_ones_shrink(aspect: str) -> None:
    w, h = FULL[aspect]
    style = caption_layout(w, h, aspect)
    assert fit_percent(fill_lines(style), style, w, h) == 100
    long_word = to_ass([Cue(F(0), F(1), (URL,))], style, w, h, font_family())
    assert re.search(r",,\{\\fscx(\d+)\\fscy\1\}https:", long_word)
    # More lines than fit between the top and bottom margins (more than max_lines fit).
    room = (h - style.margin_top - style.margin_bottom - 2 * style.pad_px) // style.font_px
    assert fit_percent(("line",) * room, style, w, h) == 100
    assert fit_percent(("line",) * (room + 1), style, w, h) < 100


def test_burn_filter_passes_odd_paths_as_escaped_options() -> None:
    src = ffmpeg.input("in.mp4")["v"]
    cmd = ffmpeg.output(burn_filter(src, "/t/a,b:c'd[e].ass", "/t/f"), "out.mp4")
    graph = cmd.get_args()[cmd.get_args().index("-filter_complex") + 1]
    # Option level (\ ' = :) then graph level (\ ' [ ] , ;), as FFmpeg unescapes them.
    assert "ass=filename=/t/a\\,b\\\\:c\\\\\\'d\\[e\\].ass:fontsdir=/t/f" in graph
    with pytest.raises(ValueError, match="whitespace"):
        burn_filter(src, "/t/x.ass ", "/t/f")


@pytest.mark.parametrize("fps", [F(24), F(25), F(30000, 1001), F(50), F(60)])
def test_ass_times_cover_exactly_the_cues_frames(fps: Fraction) -> None:
    """FFmpeg gives libass ``pts * time_base * 1000`` truncated to whole ms; libass shows an
    event when start <= now < end. Cue [a/fps, b/fps) must cover frames a .. b-1 exactly."""

    def ms(stamp: str) -> int:
        h, m, s = stamp.split(":")
        return (int(h) * 3600 + int(m) * 60) * 1000 + round(float(s) * 1000)

    tb = float(1 / fps)
    for a, b in [(0, 1), (1, 2), (3, 10), (24, 48), (25, 75), (1001, 1500)]:
        start, end = ms(ass_time(a / fps)), ms(ass_time(b / fps))
        shown = [k for k in range(a - 3, b + 3) if start <= int(k * tb * 1000) < end]
        assert shown == list(range(a, b)), (a, b)


# ---------------------------------------------------------------------------------------
# Font
# ---------------------------------------------------------------------------------------


def test_packaged_font_covers_welsh_and_names_what_it_lacks() -> None:
    assert font_file().is_file()
    assert font_family() == "Source Sans Pro Semibold"
    assert missing_glyphs("Ŵyt ti’n hoffi’r ŷd? Â ê î ô û ẁ ẃ ẅ ỳ ♪ — “é”") == set()
    assert missing_glyphs("سلام 你好") == set("سلام你好")
    cues = [Cue(F(0), F(1), ("fine",)), Cue(F(2), F(3), ("مرحبا",), source_line=7)]
    (warning,) = glyph_warnings(cues, "talk.ar.vtt")
    assert "talk.ar.vtt" in warning and "U+0645 ARABIC LETTER MEEM" in warning
    assert "00:00:02.000 (line 7)" in warning
    assert glyph_warnings(cues[:1], "x") == ()


# ---------------------------------------------------------------------------------------
# Rendering: real FFmpeg and libass, small frames, one frame each
# ---------------------------------------------------------------------------------------


def frame(
    size: tuple[int, int],
    ass_path: Path | None = None,
    fonts: Path | None = None,
    loglevel: str = "level+warning",
) -> tuple[np.ndarray, str]:
    """The first frame of a testsrc2 picture, with the captions of ``ass_path`` burned in
    when given, decoded to RGB; and FFmpeg's stderr. The argv is built as the pipeline
    builds it: ffmpeg-python and ``burn_filter``."""
    w, h = size
    stream = ffmpeg.input(f"testsrc2=s={w}x{h}:r=25:d=0.2", f="lavfi")["v"]
    if ass_path is not None:
        stream = burn_filter(stream, str(ass_path), str(fonts or fonts_dir(ass_path.parent)))
    cmd = ffmpeg.output(stream, "pipe:", f="rawvideo", pix_fmt="rgb24", frames=1)
    argv = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", loglevel, *cmd.get_args()]
    done = subprocess.run(argv, capture_output=True, check=False)
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, stderr
    return np.frombuffer(done.stdout, np.uint8).reshape(h, w, 3), stderr


@cache
def plain(size: tuple[int, int]) -> np.ndarray:
    return frame(size)[0]


def ink_box(size: tuple[int, int], burned: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom), exclusive, of the pixels the captions changed."""
    changed = np.abs(plain(size).astype(int) - burned.astype(int)).max(axis=2) > 12
    ys, xs = np.nonzero(changed)
    assert len(xs), "no caption ink at all"
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def write_ass(path: Path, cues: list[Cue], style: CaptionStyle, size: tuple[int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_ass(cues, style, *size, font_family()), encoding="utf-8")
    return path


SIZES = {"16:9": (320, 180), "1:1": (240, 240), "4:5": (240, 300), "9:16": (180, 320)}


@pytest.mark.render
@pytest.mark.parametrize("aspect", list(SIZES))
@pytest.mark.parametrize("fitted", [True, False], ids=["fitted", "overlong"])
def test_burned_captions_stay_inside_the_safe_area(
    aspect: str, fitted: bool, tmp_path: Path
) -> None:
    """A cue reflowed to the layout's budget sits on the bottom of the caption band, as
    many lines tall as written; one far too wide and too tall (an unbreakable address, six
    lines) is shrunk to fit. Neither leaves the safe area."""
    size = w, h = SIZES[aspect]
    style = caption_layout(w, h, aspect)
    lines = fill_lines(style) if fitted else (URL, *fill_lines(style), "a", "b", "c")
    cue = Cue(F(0), F(1), lines, speaker="Dai")
    burned, log = frame(size, write_ass(tmp_path / "c.ass", [cue], style, size))
    assert log == ""
    left, top, right, bottom = ink_box(size, burned)
    assert left >= style.margin_left and right <= w - style.margin_right, (left, right)
    assert top >= style.margin_top and bottom <= h - style.margin_bottom, (top, bottom)
    if fitted:
        assert bottom >= h - style.margin_bottom - 2
        lines_tall = (bottom - top - 2 * style.pad_px) / style.font_px
        assert lines_tall == pytest.approx(style.max_lines, abs=0.3)


@pytest.mark.render
def test_hostile_text_and_file_names_render_literally_in_the_packaged_font(
    tmp_path: Path,
) -> None:
    size = w, h = (360, 640)
    style = caption_layout(w, h, "9:16")
    # Both paths carry every character the filter graph gives meaning to.
    odd = tmp_path / "we,ird: 'dir' [a];b=c\\d"
    fonts = fonts_dir(odd / "fo,nts: 'x' [y];z")
    assert [p.name for p in fonts.iterdir()] == [font_file().name]
    tag, text = "{\\an8\\pos(0,0)}", '"Q": a\\Nb'
    assert fit_percent([tag + text], style, w, h) == 100  # drawn at full size

    def ink(line: str) -> tuple[tuple[int, int, int, int], str]:
        ass = write_ass(odd / "cap, 'x': [1].ass", [Cue(F(0), F(1), (line,))], style, size)
        burned, log = frame(size, ass, fonts, loglevel="level+verbose")
        return ink_box(size, burned), log

    (left, top, right, bottom), log = ink(tag + text)
    # Not moved to the top (\an8) or to (0,0), not broken in two by \N: one line sitting
    # on the bottom of the caption band.
    assert h - style.margin_bottom - 2 <= bottom <= h - style.margin_bottom
    assert bottom - top <= style.font_px + 2 * style.pad_px + 2
    # The tag is drawn: the ink is wider than without it by about the tag's width.
    (left2, _, right2, _), _ = ink(text)
    extra = (right - left) - (right2 - left2)
    assert extra == pytest.approx(text_width(tag, style.font_px), rel=0.2)
    # libass loaded the font from the odd folder and drew everything in it: a memory font
    # shows as its PostScript name; a system font would show as a file path.
    assert f"Loading font file '{fonts / font_file().name}'" in log
    picks = re.findall(r"fontselect: \((.*?)\) -> (.*)", log)
    assert picks and all(got.startswith("SourceSansPro-Semibold, 0,") for _, got in picks), picks
    assert "not found" not in log and "fallback" not in log
    assert "[warning]" not in log and "[error]" not in log, log
