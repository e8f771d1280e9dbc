"""Writing WebVTT and SRT sidecars: exact output, escaping, rounding that keeps order, and
round trips through our reader (and webvtt-py as an outside check)."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction as F
from itertools import pairwise
from pathlib import Path

import pytest
import webvtt
from hypothesis import given
from hypothesis import strategies as st

from pipeline.captions.model import Cue
from pipeline.captions.read import read_text, read_track
from pipeline.captions.sidecar import clock, sidecar_names, to_ms, to_srt, to_webvtt
from tests.clips import SHARED_MEDIA

CAPTIONS = SHARED_MEDIA / "captions"
REAL = sorted(p.name for p in CAPTIONS.iterdir()) if CAPTIONS.is_dir() else []
BROKEN = {"webvttpy_missing_timeframe.srt"}

WELSH = "Mae'r dŵr yn y tŷ, ŵyn a ŷd"
ARABIC = "مرحبا بكم في المدينة"
CUES = (
    Cue(F(1, 2), F(5, 2), ("[music]",), sound=True),
    Cue(F(5, 2), F(4), ("Tom & Jerry <3 >_<", "second line"), speaker="ANNA"),
    Cue(F(1, 3), F(2, 3), (WELSH, ARABIC), speaker="Rhodri"),
)


def _ms_cues(cues: tuple[Cue, ...]) -> tuple[Cue, ...]:
    """What the cues read back as: times to the ms, in start order, no source lines."""
    out = [
        replace(c, start=F(to_ms(c.start), 1000), end=F(to_ms(c.end), 1000), source_line=None)
        for c in cues
    ]
    return tuple(sorted(out, key=lambda c: c.start))


def _bare(cues: tuple[Cue, ...]) -> tuple[Cue, ...]:
    return tuple(replace(c, source_line=None) for c in cues)


def test_clock() -> None:
    assert clock(F(0)) == "00:00:00.000"
    assert clock(F(3723004, 1000), ",") == "01:02:03,004"
    assert clock(F(1, 3)) == "00:00:00.333"
    assert clock(F(2, 3)) == "00:00:00.667"
    assert clock(F(1, 2000)) == "00:00:00.001"  # half a millisecond rounds up
    assert clock(F(360000)) == "100:00:00.000"
    with pytest.raises(ValueError, match="negative"):
        clock(F(-1, 10))


def test_to_webvtt_exact() -> None:
    assert to_webvtt(CUES[:2]) == (
        "WEBVTT\n\n"
        "00:00:00.500 --> 00:00:02.500\n[music]\n\n"
        "00:00:02.500 --> 00:00:04.000\n<v ANNA>Tom &amp; Jerry &lt;3 &gt;_&lt;\nsecond line\n"
    )
    assert to_webvtt([]) == "WEBVTT\n"


def test_to_srt_exact() -> None:
    assert to_srt(CUES[:2]) == (
        "1\n00:00:00,500 --> 00:00:02,500\n[music]\n\n"
        "2\n00:00:02,500 --> 00:00:04,000\nANNA: Tom & Jerry <3 >_<\nsecond line\n"
    )
    assert to_srt([]) == ""


def test_writers_never_break_a_cue() -> None:
    cues = [
        Cue(F(0), F(1), ("", "  ")),  # nothing to show: left out
        Cue(F(1), F(1), ("never seen",)),  # no time on screen: left out
        Cue(F(1), F(2), ("a\nb", "", "x --> y"), speaker="Zed <Z>"),
        Cue(F(2), F(2) + F(1, 10000), ("blink",)),  # shorter than rounding
    ]
    vtt = read_text(to_webvtt(cues), "en", "w.vtt")
    assert [(c.lines, c.speaker) for c in vtt.cues] == [
        (("a", "b", "x --> y"), "Zed <Z>"),
        (("blink",), None),
    ]
    assert vtt.warnings == ()
    assert vtt.cues[1].end - vtt.cues[1].start == F(1, 1000)
    srt = read_text(to_srt(cues), "en", "w.srt")
    assert [c.lines for c in srt.cues] == [("Zed <Z>: a", "b", "x -- > y"), ("blink",)]
    assert srt.cues[0].source_line == 2  # numbered from 1 after the empty cue was left out


def test_round_trip_webvtt() -> None:
    back = read_text(to_webvtt(CUES), "cy", "r.vtt")
    assert _bare(back.cues) == _ms_cues(CUES)
    assert back.warnings == ()


def test_round_trip_srt() -> None:
    back = read_text(to_srt(CUES), "cy", "r.srt")
    assert _bare(back.cues) == _ms_cues(CUES)


def test_srt_cannot_carry_a_multi_word_mixed_case_speaker() -> None:
    """The reader only takes NAME: or one capitalised word, so the name stays in the text."""
    (cue,) = read_text(to_srt([Cue(F(0), F(1), ("hi",), "Roger Bingham")]), "en", "x.srt").cues
    assert (cue.speaker, cue.lines) == (None, ("Roger Bingham: hi",))
    (cue,) = read_text(to_webvtt([Cue(F(0), F(1), ("hi",), "Roger Bingham")]), "en", "x").cues
    assert (cue.speaker, cue.lines) == ("Roger Bingham", ("hi",))


def test_webvtt_py_reads_what_we_write() -> None:
    theirs = webvtt.from_string(to_webvtt(CUES))
    assert [(c.start, c.end, c.voice) for c in theirs.captions] == [
        ("00:00:00.500", "00:00:02.500", None),
        ("00:00:02.500", "00:00:04.000", "ANNA"),
        ("00:00:00.333", "00:00:00.667", "Rhodri"),
    ]
    assert theirs.captions[2].text == f"{WELSH}\n{ARABIC}"


def test_webvtt_py_reads_our_srt(tmp_path: Path) -> None:
    path = tmp_path / "x.srt"
    path.write_text(to_srt(CUES), encoding="utf-8")
    theirs = webvtt.from_srt(str(path))
    assert [c.start for c in theirs.captions] == ["00:00:00.500", "00:00:02.500", "00:00:00.333"]


@pytest.mark.parametrize("name", [n for n in REAL if n not in BROKEN])
def test_round_trip_real_files(name: str) -> None:
    track = read_track(CAPTIONS / name, "en", name)
    via_vtt = read_text(to_webvtt(track.cues), "en", "v.vtt").cues
    assert _bare(via_vtt) == _bare(track.cues)
    if name.endswith(".srt"):  # SRT speakers only survive in SRT's own NAME: form
        via_srt = read_text(to_srt(track.cues), "en", "v.srt").cues
        assert _bare(via_srt) == _bare(track.cues)


_times = st.fractions(min_value=0, max_value=7200, max_denominator=100_000)


@given(st.lists(_times, min_size=2, max_size=40, unique=True))
def test_rounding_keeps_order_and_never_overlaps(points: list[F]) -> None:
    """Back-to-back cues between sorted points: after rounding still sorted, no overlap."""
    points.sort()
    cues = tuple(Cue(a, b, (f"cue {i}",)) for i, (a, b) in enumerate(pairwise(points)))
    for back in (
        read_text(to_webvtt(cues), "en", "p.vtt").cues,
        read_text(to_srt(cues), "en", "p.srt").cues,
    ):
        assert [c.lines for c in back] == [c.lines for c in cues]
        assert all(c.end > c.start for c in back)
        # Only a cue under 1 ms, stretched to 1 ms so it is not lost, may overlap the next.
        for before, after, orig in zip(back, back[1:], cues, strict=False):
            assert before.end <= after.start or orig.duration < F(1, 1000)


@pytest.mark.parametrize(
    ("stem", "lang", "country", "vtt", "srt"),
    [
        ("x-1280x720", "en", "GB", "x-1280x720.en.vtt", "x-1280x720.en_GB.srt"),
        ("x-1280x720", "en-GB", "US", "x-1280x720.en.vtt", "x-1280x720.en_GB.srt"),
        ("a", "EN_gb", "", "a.en.vtt", "a.en_GB.srt"),
        ("a", "cy", "gb", "a.cy.vtt", "a.cy_GB.srt"),
        ("a", "en", "", "a.en.vtt", "a.en.srt"),
        ("a", "es-419", "", "a.es.vtt", "a.es_419.srt"),
    ],
)
def test_sidecar_names(stem: str, lang: str, country: str, vtt: str, srt: str) -> None:
    assert sidecar_names(stem, lang, country) == {"vtt": vtt, "srt": srt}


@pytest.mark.parametrize(("lang", "country"), [("english", "GB"), ("", "GB"), ("en", "GBR")])
def test_sidecar_names_rejects_bad_codes(lang: str, country: str) -> None:
    with pytest.raises(ValueError, match="code like"):
        sidecar_names("x", lang, country)
