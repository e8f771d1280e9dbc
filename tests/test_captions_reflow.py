"""Line breaking per output frame: exact breaks for sentences a reader would judge, and
properties for any text (no line too long, every word kept in order, time shared out
exactly)."""

from __future__ import annotations

from fractions import Fraction as F
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.captions.model import Cue
from pipeline.captions.reflow import break_cost, reflow


def one(text: str, max_chars: int, max_lines: int) -> tuple[str, ...]:
    cues, _ = reflow([Cue(F(0), F(3), (text,))], max_chars, max_lines)
    assert len(cues) == 1
    return cues[0].lines


@pytest.mark.parametrize(
    "text, max_chars, max_lines, lines",
    [
        # One line whenever it fits.
        ("Thank you.", 37, 2, ("Thank you.",)),
        # At the comma, although the lines are then unequal.
        (
            "I went to the shop, and then I bought some bread.",
            37,
            2,
            ("I went to the shop,", "and then I bought some bread."),
        ),
        # 9:16: three short lines beat two with a line ending on "and".
        (
            "I went to the shop, and then I bought some bread.",
            25,
            3,
            ("I went to the shop,", "and then I bought", "some bread."),
        ),
        # Before the preposition, not after "the" (article + noun stay together).
        ("She gave the report to the police.", 20, 2, ("She gave the report", "to the police.")),
        # Not between a pronoun and its verb ("they / said").
        (
            "When we arrived they said it was closed.",
            37,
            2,
            ("When we arrived", "they said it was closed."),
        ),
        # A word longer than a line gets a line of its own and is never broken.
        (
            "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch is a village.",
            25,
            3,
            ("Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch", "is a village."),
        ),
    ],
)
def test_line_breaks(text, max_chars, max_lines, lines):
    assert one(text, max_chars, max_lines) == lines


def test_the_authors_breaks_are_redone():
    cue = Cue(F(0), F(3), ("I went to the", "shop, and then I bought some bread."))
    cues, notes = reflow([cue], 37, 2)
    assert cues[0].lines == ("I went to the shop,", "and then I bought some bread.")
    assert notes == ()


def test_break_costs_rank_the_bbc_preferences():
    sentence, clause = break_cost("down.", "People"), break_cost("shop,", "and")
    phrase, plain = break_cost("report", "to"), break_cost("report", "today")
    verb, pronoun, article = (
        break_cost("have", "been"),
        break_cost("they", "said"),
        break_cost("the", "police"),
    )
    assert sentence < clause < phrase < plain < verb < pronoun < article
    assert break_cost('"Stop!"', "he") == sentence  # punctuation inside quotes still counts
    assert break_cost("Chief", "Constable") > plain  # a name stays on one line


def test_a_cue_that_cannot_fit_is_split_at_sentences_sharing_time_by_length():
    cue = Cue(
        F(10),
        F(16),
        ("It's working. Crime is down. People feel safer. The numbers prove it every month.",),
        speaker="Ann",
        source_line=7,
    )
    cues, notes = reflow([cue], 37, 2)
    # Every cue and every line ends a sentence.
    assert [c.lines for c in cues] == [
        ("It's working.", "Crime is down. People feel safer."),
        ("The numbers prove it every month.",),
    ]
    # 47 and 33 characters of 80: the first cue gets 6 s x 47/80 = 3.525 s.
    assert [(c.start, c.end) for c in cues] == [(F(10), F("13.525")), (F("13.525"), F(16))]
    assert all(c.speaker == "Ann" and c.source_line == 7 for c in cues)
    assert notes == (
        "cue at line 7 (00:00:10.000-00:00:16.000) split into 2 cues to fit 2 lines "
        "of 37 characters",
    )


def test_a_split_without_punctuation_falls_at_a_phrase_boundary():
    cue = Cue(
        F(0), F(6), ("We saw a big drop in burglaries across the whole of the county this year.",)
    )
    cues, _ = reflow([cue], 37, 2)
    assert [c.lines for c in cues] == [
        ("We saw a big drop in burglaries",),
        ("across the whole", "of the county this year."),
    ]
    assert [(c.start, c.end) for c in cues] == [(F(0), F(31, 12)), (F(31, 12), F(6))]


def test_sound_cues_keep_their_flag_and_brackets_when_split():
    cue = Cue(F(0), F(6), ("[upbeat electronic music playing in the background]",), sound=True)
    cues, _ = reflow([cue], 25, 2)
    assert [c.lines for c in cues] == [
        ("[upbeat electronic", "music playing"),
        ("in the background]",),
    ]
    assert all(c.sound for c in cues)


def test_long_words_are_reported_and_empty_cues_pass_through():
    empty = Cue(F(0), F(1), ())
    long = Cue(F(1), F(2), ("Supercalifragilistic!",), source_line=2)
    cues, notes = reflow([empty, long], 10, 2)
    assert cues == (empty, long)
    assert notes == (
        "cue at line 2 (00:00:01.000-00:00:02.000): 'Supercalifragilistic!' longer than "
        "10 characters, on a line of its own",
    )


def test_nonsense_limits_are_refused():
    with pytest.raises(ValueError):
        reflow([], 0, 2)


# --- properties -------------------------------------------------------------------------

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzAIŵŷ'", min_size=1, max_size=14)
PUNCT = st.sampled_from(["", "", "", ",", ".", "?", "!", ";", "—", ']"'])
TEXT = st.lists(st.tuples(WORD, PUNCT).map("".join), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(TEXT, min_size=1, max_size=3),
    st.integers(1, 45),
    st.integers(1, 3),
    st.integers(0, 10_000),
    st.integers(1, 10_000),
    st.booleans(),
)
def test_any_text_fits_keeps_its_words_and_shares_time_exactly(
    texts, max_chars, max_lines, start_ms, length_ms, sound
):
    start, end = F(start_ms, 1000), F(start_ms + length_ms, 1000)
    # The author's own line breaks, arbitrary: reflow must ignore them.
    cue = Cue(start, end, tuple(" ".join(t) for t in texts), speaker="Bo", sound=sound)
    out, _ = reflow([cue], max_chars, max_lines)
    assert " ".join(line for c in out for line in c.lines) == " ".join(cue.text.split())
    for c in out:
        assert 1 <= len(c.lines) <= max_lines
        for line in c.lines:
            assert len(line) <= max_chars or " " not in line, line
            assert line == line.strip() and "  " not in line
        assert c.start < c.end
        assert (c.speaker, c.sound) == ("Bo", sound)
    assert out[0].start == start and out[-1].end == end
    assert all(a.end == b.start for a, b in pairwise(out))
