"""Reading WebVTT and SRT: every real file in ../shared/media/captions read or rejected as
its SOURCES.md entry says, plus synthetic snippets (our own text) exercising the same
features, so the features stay tested when the shared media is absent."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from fractions import Fraction as F
from pathlib import Path

import pytest
import webvtt

from pipeline.captions.model import Track
from pipeline.captions.read import read_text, read_track
from pipeline.errors import CaptionError
from tests.clips import SHARED_MEDIA

CAPTIONS = SHARED_MEDIA / "captions"
REAL = sorted(p.name for p in CAPTIONS.iterdir()) if CAPTIONS.is_dir() else []


@dataclass(frozen=True)
class Expect:
    """What reading one file must give: cues kept and dropped, or the line of the error."""

    kept: int = 0
    dropped: int = 0
    error_line: int | None = None
    features: frozenset[str] = frozenset()


def _f(names: str) -> frozenset[str]:
    return frozenset(names.split())


# Counted by hand from the files (see SOURCES.md, captions section).
EXPECTED = {
    "moviepy_subtitles.srt": Expect(5, features=_f("srt-zero-based single-digit-seconds")),
    "popeye_p2.eng.srt": Expect(16, features=_f("bom-utf8 formatting-tags sound")),
    "pysrt_capability_tester.srt": Expect(
        35,
        2,
        features=_f(
            "bom-utf8 crlf formatting-tags font-tag zero-length srt-coordinates "
            "identical-timings ass-override non-latin overlap"
        ),
    ),
    "vttjs_regions.vtt": Expect(6, features=_f("region-header cue-settings overlap")),
    "vttjs_spec-example.vtt": Expect(
        13, features=_f("voice short-timestamp cue-settings overlap formatting-tags")
    ),
    "webvttpy_captions_with_bom.vtt": Expect(4, features=_f("bom-utf8 no-trailing-newline")),
    "webvttpy_cue_tags.vtt": Expect(3, features=_f("inline-timestamp class-tag short-timestamp")),
    "webvttpy_missing_timeframe.srt": Expect(error_line=6, features=_f("missing-timing")),
    "webvttpy_sample.srt": Expect(5),
    "webvttpy_sample.vtt": Expect(16),
    "webvttpy_styles.vtt": Expect(1, features=_f("style-block formatting-tags")),
    "webvttpy_youtube_dl.vtt": Expect(
        4,
        features=_f("header-metadata cue-settings inline-timestamp class-tag no-blank-line"),
    ),
}

# Our own minimal files, one per feature group: (suffix, bytes, expectation).
WELSH = "Mae'r dŵr yn y tŷ, ŵyn a ŷd"
ARABIC = "مرحبا بكم في المدينة"
_VTT_ALL = """WEBVTT - our own
Kind: captions
Language: cy
Region: id=top width=40% lines=2

STYLE
::cue(.loud) { color: yellow; }

REGION
id:low width:40%

NOTE a comment block
that runs two lines

intro
00:01.000 --> 00:02.500 align:start position:10%
<v Mair>Bore <00:01.500><c.loud>da</c> i <i>chi</i>
00:02.500 --> 00:04.000
[drws yn cau]

00:03.000 --> 00:05.000 region:low
<b>♪ tra la ♪</b>

00:06.000 --> 00:06.000
gone
"""
_SRT_MESSY = (
    "0\r\n00:00:1,000 --> 00:00:02,000  X1:10 X2:90 Y1:10 Y2:20\r\n"
    '{\\an8}<font color="#ff0000">ANNA: Helo</font>\r\n\r\n'
    "1\r\n00:00:02,000 --> 00:00:03,000\r\n<u>日本語</u> " + ARABIC + "\r\n"
    "2\r\n00:00:02,000 --> 00:00:03,000\r\n(chwerthin)\r\n\r\n"
    "3\r\n00:00:04,000 --> 00:00:04,000\r\nhidden\r\n\r\n"
    "4\r\n00:00:03,500 --> 00:00:05,000\r\n<b><i>" + WELSH + "</i></b>"
)
SYNTHETIC: dict[str, tuple[str, bytes, Expect]] = {
    "vtt_all": (
        ".vtt",
        _VTT_ALL.encode(),
        Expect(
            3,
            1,
            features=_f(
                "header-metadata region-header style-block region-block note-block cue-settings "
                "voice inline-timestamp class-tag formatting-tags short-timestamp no-blank-line "
                "zero-length overlap sound"
            ),
        ),
    ),
    "srt_messy": (
        ".srt",
        b"\xef\xbb\xbf" + _SRT_MESSY.encode(),
        Expect(
            4,
            1,
            features=_f(
                "bom-utf8 crlf srt-zero-based single-digit-seconds srt-coordinates ass-override "
                "font-tag formatting-tags no-blank-line identical-timings zero-length overlap "
                "sound non-latin srt-speaker no-trailing-newline"
            ),
        ),
    ),
    "srt_unnumbered_no_ms": (
        ".srt",
        b"00:00:05 --> 00:00:07\nfirst\n\n00:00:07.5 --> 00:00:09\nsecond\n",
        Expect(2, features=_f("srt-unnumbered no-millis")),
    ),
    "utf16le": (
        ".vtt",
        b"\xff\xfe"
        + f"WEBVTT\r\n\r\n00:00.000 --> 00:01.000\r\n{WELSH}\r\n{ARABIC}\r\n".encode("utf-16-le"),
        Expect(1, features=_f("utf16le crlf non-latin short-timestamp")),
    ),
    "utf16be": (
        ".srt",
        b"\xfe\xff" + f"1\n00:00:00,000 --> 00:00:01,000\n{WELSH}\n".encode("utf-16-be"),
        Expect(1, features=_f("utf16be non-latin")),
    ),
    "missing_timing": (
        ".srt",
        b"1\n00:00:00,000 --> 00:00:01,000\none\n\n2\ntwo\n\n3\n00:00:02,000 --> 00:00:03,000\n3",
        Expect(error_line=6, features=_f("missing-timing")),
    ),
}


def _check(got: Track | CaptionError, expect: Expect) -> None:
    if expect.error_line is not None:
        assert isinstance(got, CaptionError), f"expected an error, got {got}"
        assert got.line == expect.error_line, str(got)
        return
    assert isinstance(got, Track), str(got)
    dropped = [w for w in got.warnings if "dropped" in w]
    assert (len(got.cues), len(dropped)) == (expect.kept, expect.dropped), got


def _read(path: Path) -> Track | CaptionError:
    try:
        return read_track(path, "en", path.name)
    except CaptionError as exc:
        return exc


def _real(name: str) -> Path:
    path = CAPTIONS / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: its features are covered by the synthetic files")
    return path


@pytest.mark.parametrize("name", REAL)
def test_every_real_file_is_read_or_rejected(name: str) -> None:
    assert name in EXPECTED, f"new caption file {name}: add its expected counts to EXPECTED"
    _check(_read(CAPTIONS / name), EXPECTED[name])


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_synthetic_file(tmp_path: Path, name: str) -> None:
    suffix, data, expect = SYNTHETIC[name]
    path = tmp_path / f"{name}{suffix}"
    path.write_bytes(data)
    _check(_read(path), expect)


def test_synthetic_files_cover_every_real_feature() -> None:
    """Without ../shared/media the synthetic files must still exercise everything."""
    real = frozenset().union(*(e.features for e in EXPECTED.values()))
    synthetic = frozenset().union(*(e.features for _, _, e in SYNTHETIC.values()))
    assert real - synthetic == set()
    assert len(SYNTHETIC) >= 6


@pytest.mark.parametrize("name", [n for n in REAL if EXPECTED.get(n, Expect()).error_line is None])
def test_times_agree_with_webvtt_py(name: str) -> None:
    """webvtt-py (lenient, no line numbers) as an oracle for the times we read."""
    path = CAPTIONS / name
    theirs = webvtt.read(str(path)) if path.suffix == ".vtt" else webvtt.from_srt(str(path))
    # They keep zero-length cues, which we drop with a warning.
    expected = sorted((_ms(c.start), _ms(c.end)) for c in theirs.captions if c.start != c.end)
    ours = sorted((c.start * 1000, c.end * 1000) for c in read_track(path, "en", name).cues)
    assert ours == expected


def _ms(clock: str) -> int:
    h, m, s = clock.split(":")
    return round((int(h) * 3600 + int(m) * 60 + float(s)) * 1000)


def test_moviepy_lenient_srt() -> None:
    cues = read_track(_real("moviepy_subtitles.srt"), "en", "m.srt").cues
    assert [(c.start, c.end) for c in cues] == [
        (0, 1), (2, F(7, 2)), (5, 6), (7, 8), (9, 10)
    ]  # fmt: skip
    assert [c.text for c in cues] == ["Red!", "More Red!", "Green!", "Blue", "More Blue!"]


def test_webvttpy_sample_vtt() -> None:
    cues = read_track(_real("webvttpy_sample.vtt"), "en", "s.vtt").cues
    assert len(cues) == 16
    assert (cues[0].start, cues[0].end, cues[0].lines) == (F(1, 2), 7, ("Caption text #1",))
    assert (cues[-1].start, cues[-1].end) == (F(6135, 100), F(643, 10))
    assert [c.source_line for c in cues[:3]] == [3, 6, 9]


def test_pysrt_capability_tester() -> None:
    track = read_track(_real("pysrt_capability_tester.srt"), "en", "cap.srt")
    assert len(track.cues) == 35
    assert track.warnings == (
        "cap.srt:2: cue at 00:00:00.000 has zero length; dropped",
        "cap.srt:15: cue at 00:00:04.500 has zero length; dropped",
    )
    text = "\n".join(line for c in track.cues for line in c.lines)
    assert "日本語" in text and "È" in text
    assert "<font" not in text and "<b>" not in text and "{\\an" not in text
    assert "2<3,5>1,4<6" in text  # not a tag
    coords = next(c for c in track.cues if c.start == F(21501, 1000))
    assert coords.lines == ("This text should NOT be in the normal position",)
    same = [c for c in track.cues if c.start == F(22501, 1000)]
    assert [c.source_line for c in same] == [68, 74, 79]  # identical timings keep file order
    assert not any(c.speaker or c.sound for c in track.cues)


def test_spec_example_voices_and_overlaps() -> None:
    cues = read_track(_real("vttjs_spec-example.vtt"), "en", "spec.vtt").cues
    assert [c.start for c in cues] == sorted(c.start for c in cues)
    assert {c.speaker for c in cues} == {"Roger Bingham", "Neil deGrasse Tyson"}
    assert cues[0].lines == ("We are in New York City",)
    laughs = next(c for c in cues if c.start == F(65, 2))
    assert (laughs.speaker, laughs.lines) == ("Neil deGrasse Tyson", ("Laughs",))
    assert cues[10].start < cues[9].end  # overlapping cues are kept


def test_youtube_dl_karaoke_and_missing_blank_line() -> None:
    cues = read_track(_real("webvttpy_youtube_dl.vtt"), "en", "yt.vtt").cues
    assert [c.lines for c in cues] == [
        ("yeah",), ("yeah", "what"), ("this will happen is I'm telling",),
        ("this will happen is I'm telling",),
    ]  # fmt: skip
    assert cues[2].start == F(304080, 1000) and cues[2].source_line == 19


def test_popeye_sound_cues_and_italics() -> None:
    cues = read_track(_real("popeye_p2.eng.srt"), "en", "p.srt").cues
    assert [c.text for c in cues if c.sound] == [
        "[laughing]", "[muttering]", "[squawk]", "[squawk]", "[scream]"
    ]  # fmt: skip
    assert cues[1].lines == ("Who's the most phenominal", "Extra ordinary fellow?")


def test_missing_timeframe_rejected_with_line() -> None:
    with pytest.raises(CaptionError, match=r"^mt\.srt:6: cue 2 has no timing line"):
        read_track(_real("webvttpy_missing_timeframe.srt"), "en", "mt.srt")


def test_short_and_styled_vtt() -> None:
    tags = read_track(_real("webvttpy_cue_tags.vtt"), "en", "t.vtt").cues
    assert [(c.start, c.text) for c in tags] == [
        (F(33, 2), "When the moon hits your eye"),
        (F(37, 2), "Like a big-a pizza pie"),
        (F(41, 2), "That's amore"),
    ]
    styled = read_track(_real("webvttpy_styles.vtt"), "en", "s.vtt").cues
    assert [c.lines for c in styled] == [("- Hello world.",)]


# --- synthetic details -------------------------------------------------------------


def _write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_synthetic_vtt_details(tmp_path: Path) -> None:
    track = read_track(_write(tmp_path, "all.cy.vtt", _VTT_ALL), "cy", "all.cy.vtt")
    first, sound, song = track.cues
    assert (first.start, first.end, first.speaker) == (1, F(5, 2), "Mair")
    assert first.lines == ("Bore da i chi",)
    assert (sound.lines, sound.sound, sound.source_line) == (("[drws yn cau]",), True, 18)
    assert (song.lines, song.sound) == (("♪ tra la ♪",), True)
    assert track.warnings == ("all.cy.vtt:24: cue at 00:00:06.000 has zero length; dropped",)


def test_synthetic_srt_details(tmp_path: Path) -> None:
    track = read_track(_write(tmp_path, "m.srt", b"\xef\xbb\xbf" + _SRT_MESSY.encode()), "en", "m")
    anna, mixed, laugh, welsh = track.cues
    assert (anna.start, anna.speaker, anna.lines) == (1, "ANNA", ("Helo",))
    assert mixed.lines == (f"日本語 {ARABIC}",) and mixed.source_line == 6
    assert (laugh.lines, laugh.sound, laugh.source_line) == (("(chwerthin)",), True, 9)
    assert welsh.lines == (WELSH,)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-8-sig", "utf-8"])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_encodings_and_newlines_keep_text(tmp_path: Path, codec: str, newline: str) -> None:
    text = newline.join(["WEBVTT", "", "00:00:00.000 --> 00:00:01.000", WELSH, ARABIC, ""])
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}.get(codec, b"")
    track = read_track(_write(tmp_path, "x.vtt", bom + text.encode(codec)), "cy", "x.vtt")
    assert [c.lines for c in track.cues] == [(WELSH, ARABIC)]


def test_timestamp_forms() -> None:
    text = (
        "00:00:05 --> 00:00:06\na\n\n"  # no milliseconds
        "00:07.5 --> 00:08\nb\n\n"  # mm:ss.t
        "1:02:03,4 --> 1:02:04,25\nc\n\n"  # one-digit hours, short fractions
        "100:00:00.000 --> 100:00:01.000\nd\n"  # hours past 99
    )
    cues = read_text(text, "en", "t.srt").cues
    assert [(c.start, c.end) for c in cues] == [
        (5, 6), (F(15, 2), 8), (F(37234, 10), F(372425, 100)), (360000, 360001)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "text", "line", "message"),
    [
        ("nohead.vtt", "00:00.000 --> 00:01.000\nhi\n", 1, "no WEBVTT header"),
        ("bad.srt", "1\n00:00:01,000 --> 00:00:0x,000\nhi\n", 2, "unparseable timestamp '00:00:0x"),
        ("bad.vtt", "WEBVTT\n\n00:00.000 --> 00:61.000\nhi\n", 3, "unparseable timestamp '00:61"),
        ("noend.srt", "1\n00:00:01,000 -->\nhi\n", 2, "no end time"),
        ("back.srt", "1\n00:00:02,000 --> 00:00:01,000\nhi\n", 2, "ends at 00:00:01.000, before"),
        ("stray.vtt", "WEBVTT\n\n00:00.000 --> 00:01.000\nhi\n\nstray\n", 6, "outside any cue"),
        ("latin1.srt", b"1\n00:00:00,000 --> 00:00:01,000\ncaf\xe9\n", 3, "not valid UTF-8"),
    ],
)
def test_broken_files_name_file_and_line(
    tmp_path: Path, name: str, text: str | bytes, line: int, message: str
) -> None:
    with pytest.raises(CaptionError) as info:
        read_track(_write(tmp_path, name, text), "en", f"captions/{name}")
    assert str(info.value).startswith(f"captions/{name}:{line}: "), str(info.value)
    assert message in str(info.value)


def test_utf16_without_bom_and_unreadable_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.srt", "1\n00:00:00,000 --> 00:00:01,000\nhi\n".encode("utf-16-le"))
    with pytest.raises(CaptionError, match="UTF-16 without a byte-order mark"):
        read_track(path, "en", "x.srt")
    with pytest.raises(CaptionError, match=r"^gone\.srt: cannot read"):
        read_track(tmp_path / "gone.srt", "en", "gone.srt")


def test_caption_error_pickles() -> None:
    err = pickle.loads(pickle.dumps(CaptionError("a.vtt", 7, "bad")))
    assert (err.label, err.line, err.reason, str(err)) == ("a.vtt", 7, "bad", "a.vtt:7: bad")
    assert str(CaptionError("a.vtt", None, "gone")) == "a.vtt: gone"


@pytest.mark.parametrize(
    ("text", "speaker", "lines"),
    [
        ("VOLUNTEER: We walk here.", "VOLUNTEER", ("We walk here.",)),
        ("DR. O'NEILL: Hello", "DR. O'NEILL", ("Hello",)),
        ("Rhodri: Bore da\nsut wyt ti?", "Rhodri", ("Bore da", "sut wyt ti?")),
        ("ANNA:\nYes, it was.", "ANNA", ("Yes, it was.",)),
        ("ANNA: Yes.\nANNA: Really.", "ANNA", ("Yes.", "Really.")),
        ("JOHN: Hi\nMARY: Hello", None, ("JOHN: Hi", "MARY: Hello")),
        ("Roger Bingham: hi", None, ("Roger Bingham: hi",)),  # spec: upper or one word
        ("Hide these tags: x", None, ("Hide these tags: x",)),
        ("At 10:30 we met", None, ("At 10:30 we met",)),
        ("see http://x.example", None, ("see http://x.example",)),
        (f"{ARABIC}: نص", None, (f"{ARABIC}: نص",)),  # caseless script: no names guessed
        ("<v Sam>hi there", "Sam", ("hi there",)),
    ],
)
def test_srt_speakers(text: str, speaker: str | None, lines: tuple[str, ...]) -> None:
    (cue,) = read_text(f"1\n00:00:00,000 --> 00:00:01,000\n{text}\n", "en", "s.srt").cues
    assert (cue.speaker, cue.lines) == (speaker, lines)


@pytest.mark.parametrize(
    ("text", "speaker", "lines"),
    [
        ("<v.loud Bob Smith>Hi</v>", "Bob Smith", ("Hi",)),
        ("<v Tom &amp; Jo>Hi &lt;3", "Tom & Jo", ("Hi <3",)),
        ("<v A>one\n<v B>two", None, ("A: one", "B: two")),
        ("<v A>one\n<v A>two", "A", ("one", "two")),
        ("ANNA: Hi", None, ("ANNA: Hi",)),  # the NAME: rule is SRT's only
        ("<v>Hi", None, ("Hi",)),
    ],
)
def test_vtt_voices(text: str, speaker: str | None, lines: tuple[str, ...]) -> None:
    (cue,) = read_text(f"WEBVTT\n\n00:00.000 --> 00:01.000\n{text}\n", "en", "v.vtt").cues
    assert (cue.speaker, cue.lines) == (speaker, lines)


@pytest.mark.parametrize(
    ("text", "sound"),
    [
        ("[music]", True),
        ("(laughter)", True),
        ("♪ la la la ♪", True),
        ("♪♪", True),
        ("[door\nslams]", True),
        ("[music]\n[applause]", True),
        ("- [laughs]", True),
        ("<i>[sighs]</i>", True),
        ("[music] Hello", False),
        ("♪ la la", False),
        ("Hello (quietly)", False),
        ("(aside)\nBut then", False),
    ],
)
def test_sound_cues(text: str, sound: bool) -> None:
    (cue,) = read_text(f"1\n00:00:00,000 --> 00:00:01,000\n{text}\n", "en", "s.srt").cues
    assert cue.sound is sound


def test_empty_cue_and_file_warn(tmp_path: Path) -> None:
    track = read_text("WEBVTT\n\n00:00.000 --> 00:01.000\n<i></i>\n", "en", "e.vtt")
    assert track.cues == ()
    assert track.warnings == ("e.vtt:3: cue at 00:00:00.000 has no text; dropped", "e.vtt: no cues")
    assert read_text("", "en", "e.srt").warnings == ("e.srt: no cues",)


def test_format_by_content_then_extension(tmp_path: Path) -> None:
    vtt_named_srt = _write(tmp_path, "a.srt", "WEBVTT\n\n00:00.000 --> 00:01.000\n<v Al>hi\n")
    assert read_track(vtt_named_srt, "en", "a.srt").cues[0].speaker == "Al"
    plain_txt = _write(tmp_path, "a.txt", "1\n00:00:00,000 --> 00:00:01,000\nAL: hi\n")
    assert read_track(plain_txt, "en", "a.txt").cues[0].speaker == "AL"
    track = read_track(plain_txt, "en-GB", "captions/a.txt")
    assert (track.lang, track.source) == ("en-GB", "captions/a.txt")
