"""Transcripts into tokens, and aligned words into cues that pass the caption lint."""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from fractions import Fraction as F
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.captions.lint import MAX_DURATION, MIN_DURATION, MIN_GAP, lint
from pipeline.captions.model import Cue
from pipeline.captions.retime import retime
from pipeline.captions.sidecar import to_webvtt
from pipeline.errors import CaptionError
from pipeline.speech.cues import balanced_lines, words_to_cues
from pipeline.speech.model import Token, Word
from pipeline.speech.transcript import parse_transcript, read_transcript

# --- parsing -----------------------------------------------------------------------------


def texts(tokens: Sequence[Token]) -> list[str]:
    return [t.text for t in tokens]


def test_paragraphs_speakers_and_punctuation():
    tokens = parse_transcript(
        "INSPECTOR JONES: We cut crime, mostly.\n"
        "It took a year.\n"
        "\n"
        "\n"
        "Jane Doe: Really?\n"
        "Speaker 2: Yes!\n"
        "\n"
        "And it stayed down.\n",
        "t.txt",
    )
    assert [(t.text, t.speaker, t.paragraph) for t in tokens] == [
        ("We", "INSPECTOR JONES", 0),
        ("cut", "INSPECTOR JONES", 0),
        ("crime,", "INSPECTOR JONES", 0),
        ("mostly.", "INSPECTOR JONES", 0),
        ("It", "INSPECTOR JONES", 0),
        ("took", "INSPECTOR JONES", 0),
        ("a", "INSPECTOR JONES", 0),
        ("year.", "INSPECTOR JONES", 0),
        ("Really?", "Jane Doe", 1),
        ("Yes!", "Speaker 2", 1),
        # The speaker stays in force across paragraphs until the next prefix.
        ("And", "Speaker 2", 2),
        ("it", "Speaker 2", 2),
        ("stayed", "Speaker 2", 2),
        ("down.", "Speaker 2", 2),
    ]
    assert not any(t.sound for t in tokens)


def test_no_speaker_until_a_prefix():
    tokens = parse_transcript("Hello there.\nRHODRI: Bore da.", "t.txt")
    assert [t.speaker for t in tokens] == [None, None, "RHODRI", "RHODRI"]


def test_sound_notes_keep_their_brackets():
    tokens = parse_transcript(
        "JANE: It was [door slams] loud (laughter). [applause]\n♪ la la ♪ Right.", "t.txt"
    )
    assert [(t.text, t.sound) for t in tokens] == [
        ("It", False),
        ("was", False),
        ("[door slams]", True),
        ("loud", False),
        # The full stop glued to the note is the sentence's, not the note's.
        ("(laughter)", True),
        ("[applause]", True),
        ("♪ la la ♪", True),
        ("Right.", False),
    ]
    assert {t.speaker for t in tokens} == {"JANE"}


def test_colons_that_are_not_speakers():
    tokens = parse_transcript(
        "10:30: we met at the station.\n"
        "We left at 10:30 sharp.\n"
        "Note: the tape was noisy.\n"
        "He said this: nothing.\n"
        "We waited for the\n"
        "Police: they came.\n",
        "t.txt",
    )
    assert {t.speaker for t in tokens} == {None}
    assert "10:30:" in texts(tokens)
    assert "Note:" in texts(tokens)
    assert "Police:" in texts(tokens)


def test_capitals_name_a_speaker_even_after_an_unpunctuated_line():
    tokens = parse_transcript("JANE: so we went there\nJOHN: right", "t.txt")
    assert [(t.text, t.speaker) for t in tokens][-1] == ("right", "JOHN")


def test_bom_crlf_and_timestamps_ignored():
    tokens = parse_transcript(
        "\ufeff[00:00:01] ALI: One two.\r\n00:01:23\r\nthree (0:05) four.\r\n\r\n"
        "Speaker 1 (00:03): five.",
        "t.txt",
    )
    assert [(t.text, t.speaker, t.paragraph) for t in tokens] == [
        ("One", "ALI", 0),
        ("two.", "ALI", 0),
        ("three", "ALI", 0),  # a timestamp line does not end the paragraph
        ("four.", "ALI", 0),
        ("five.", "Speaker 1", 1),
    ]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", None, "no words"),
        ("\n  \n00:01:02\n", None, "no words"),
        ("ALI: fine.\n\nThen [applause\ncame.", 3, "'[' is not closed"),
        ("ALI: fine\r\n(laughs and\r\nstops)", 2, "'(' is not closed"),
    ],
)
def test_errors_name_the_line(text: str, line: int | None, words: str):
    with pytest.raises(CaptionError) as info:
        parse_transcript(text, "notes/t.txt")
    assert info.value.line == line
    assert words in info.value.reason
    assert str(info.value).startswith("notes/t.txt" + (f":{line}" if line else ""))


def test_read_transcript(tmp_path: Path):
    path = tmp_path / "t.txt"
    path.write_bytes(codecs.BOM_UTF8 + b"JANE: Croeso.\r\n")
    assert parse_transcript("JANE: Croeso.", "t") == read_transcript(path, "t.txt")
    path.write_bytes(b"JANE: fine.\nbad \xff byte\n")
    with pytest.raises(CaptionError, match=r"t\.txt:2: not valid UTF-8"):
        read_transcript(path, "t.txt")
    with pytest.raises(CaptionError, match="cannot read the transcript"):
        read_transcript(tmp_path / "missing.txt", "missing.txt")


# --- segmentation ------------------------------------------------------------------------


def speak(
    text: str,
    start: F,
    wpm: int = 150,
    speaker: str | None = None,
    paragraph: int = 0,
) -> list[Word]:
    """Words of ``text`` from ``start`` at ``wpm``, each taking time in proportion to its
    length as speech roughly does, the last tenth of each word's time silent."""
    words = text.split()
    per_char = F(60, wpm) * len(words) / sum(len(w) + 1 for w in words)
    out, t = [], start
    for w in words:
        length = per_char * (len(w) + 1)
        out.append(Word(w, t, t + length * F(9, 10), speaker, paragraph=paragraph))
        t += length
    return out


def sound(text: str, start: F, length: F = F(1)) -> Word:
    return Word(text, start, start + length, sound=True)


def check_order(cues: Sequence[Cue]) -> None:
    for cue in cues:
        assert cue.end > cue.start
    for a, b in pairwise(cues):
        assert a.end <= b.start


def spoken(cues: Sequence[Cue]) -> list[str]:
    """The cues' words in order, a sound note as one."""
    return [w for c in cues for w in ([c.text] if c.sound else c.text.split())]


def test_speaker_change_splits_without_a_pause():
    words = speak("Did it work?", F(0), speaker="JANE")
    words += speak("It did.", words[-1].end + F(1, 10), speaker="ALI")
    cues = words_to_cues(words)
    assert [(c.text, c.speaker) for c in cues] == [("Did it work?", "JANE"), ("It did.", "ALI")]
    check_order(cues)


def test_pause_and_paragraph_split():
    first = speak("We waited a while", F(0))
    second = speak("and then it rained", first[-1].end + F(1, 2))
    third = speak("all day", second[-1].end + F(1, 10), paragraph=1)
    cues = words_to_cues(first + second + third)
    assert [c.text for c in cues] == ["We waited a while", "and then it rained", "all day"]
    # A gap under the lint's 1 s is closed: the cue runs on into the pause.
    assert cues[0].end == cues[1].start


def test_prefers_a_sentence_end():
    text = (
        "The scheme started in the spring of last year. "
        "By the autumn burglaries in the town were down by a third."
    )
    cues = words_to_cues(speak(text, F(0)))
    assert cues[0].text == "The scheme started in the spring of last year."
    assert all(len(c.text) <= 74 for c in cues)


def test_prefers_a_clause_end_to_a_plain_break():
    text = (
        "When the officers arrived at the house on the corner of the street, "
        "nobody answered the door or the phone."
    )
    cues = words_to_cues(speak(text, F(0)))
    assert cues[0].text.endswith("street,")


@pytest.mark.parametrize(("max_chars", "max_lines"), [(74, 2), (84, 2), (40, 2), (75, 3)])
def test_max_chars_and_lines(max_chars: int, max_lines: int):
    text = " ".join(["Neighbourhood policing works best when people know their officers."] * 6)
    cues = words_to_cues(speak(text, F(0), wpm=170), max_chars=max_chars, max_lines=max_lines)
    assert len(cues) > 3
    for cue in cues:
        assert len(cue.text) <= max_chars
        assert 1 <= len(cue.lines) <= max_lines
        assert cue.duration <= MAX_DURATION
    assert " ".join(c.text for c in cues) == text
    check_order(cues)


def test_long_slow_speech_splits_at_seven_seconds():
    cues = words_to_cues(speak("so " * 20, F(0), wpm=60))
    assert len(cues) > 1
    assert all(c.duration <= MAX_DURATION for c in cues)


def test_short_cue_extended_to_the_minimum():
    cues = words_to_cues([Word("Yes.", F(10), F(103, 10))])
    assert cues[0].start == 10 and cues[0].duration >= MIN_DURATION
    # ... but never over the next cue: with the next word 0.6 s on, it runs on to it.
    words = [Word("Yes.", F(10), F(103, 10)), *speak("That is right.", F(109, 10))]
    cues = words_to_cues(words)
    assert cues[0].end == cues[1].start == F(109, 10)


def test_short_reply_starts_earlier_rather_than_overlap():
    # A one-word answer, the next speaker straight after: no room after it, so it comes up
    # a little before its speech (BBC: up to 1.5 s), in the pause before it.
    words = speak("Were you there on the night?", F(0), speaker="Q")
    yes = Word("Yes.", words[-1].end + F(2), words[-1].end + F(23, 10), "A")
    words += [yes, *speak("So was I.", yes.end + F(1, 10), speaker="Q")]
    cues = words_to_cues(words)
    assert [c.text for c in cues] == ["Were you there on the night?", "Yes.", "So was I."]
    assert cues[1].duration >= MIN_DURATION
    assert cues[1].start >= yes.start - F(3, 2)
    assert cues[1].start - cues[0].end >= MIN_GAP
    check_order(cues)
    assert lint(cues, F(25)) == ()


def test_short_reply_takes_time_from_the_cue_before():
    # No pause at all around the answer: the question's cue, which has time to spare, ends
    # a little sooner so the answer can be read.
    words = speak("Were you there on the night of the fire?", F(0), speaker="Q")
    yes = Word("Yes.", words[-1].end + F(1, 10), words[-1].end + F(4, 10), "A")
    words += [yes, *speak("So was I, as it happens.", yes.end + F(1, 10), speaker="Q")]
    cues = words_to_cues(words)
    assert [c.text for c in cues][1] == "Yes."
    assert cues[0].end == cues[1].start < yes.start
    assert cues[1].end == cues[2].start
    check_order(cues)
    assert lint(cues, F(25)) == ()


def test_a_sentence_gets_its_own_cue_rather_than_straddle_two():
    text = (
        "We started in May. Then over the following six months we visited every "
        "single house on the estate and talked to everyone who would talk to us."
    )
    cues = words_to_cues(speak(text, F(0)))
    assert cues[0].text == "We started in May."
    assert [len(c.text) <= 74 for c in cues] == [True] * len(cues)


def test_reading_speed_extends_display():
    # Ten words said in 2.7 s (220 wpm), then silence: shown long enough to read at 180 wpm.
    words = speak("We were all there and we all saw it happen.", F(0), wpm=220)
    (cue,) = words_to_cues(words)
    assert cue.end - words[-1].end <= F(3, 2)  # hangs no more than BBC's 1.5 s
    assert len(cue.text.split()) * 60 / cue.duration <= 180
    # Said in 1.4 s (430 wpm): held for BBC's 1.5 s after the speech, and no longer.
    words = speak("We were all there and we all saw it happen.", F(0), wpm=430)
    (cue,) = words_to_cues(words)
    assert cue.end - words[-1].end == F(3, 2)


def test_sound_notes_alone():
    words = speak("Thank you all.", F(0), speaker="JANE")
    words += [sound("[applause]", words[-1].end + F(1, 5), F(3))]
    words += speak("Next question.", words[-1].end + F(1, 5), speaker="JANE")
    words += [sound("[music]", words[-1].end + F(2), F(20))]
    cues = words_to_cues(words)
    assert [(c.lines, c.sound, c.speaker) for c in cues] == [
        (("Thank you all.",), False, "JANE"),
        (("[applause]",), True, None),
        (("Next question.",), False, "JANE"),
        (("[music]",), True, None),
    ]
    assert cues[-1].duration == MAX_DURATION  # a long note marks the sound's start
    check_order(cues)


def test_unaligned_words_go_in():
    words = speak("They never caught him.", F(0))
    words[1] = Word(words[1].text, words[1].start, words[1].start, aligned=False)
    assert words_to_cues(words)[0].text == "They never caught him."


def test_rejects_words_out_of_order():
    with pytest.raises(ValueError, match="starts before"):
        words_to_cues([Word("b", F(2), F(3)), Word("a", F(1), F(2))])
    with pytest.raises(ValueError, match="before its start"):
        words_to_cues([Word("a", F(2), F(1))])
    assert words_to_cues([]) == []


def test_balanced_lines():
    assert balanced_lines(["Short", "one."], 74, 2) == ("Short one.",)
    words = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    assert balanced_lines(words, 40, 2) == ("one two three four five", "six seven eight nine")
    assert balanced_lines(words, 30, 3) == ("one two three", "four five six", "seven eight nine")
    # Three lines allowed but two fit: the fewest lines that fit.
    assert balanced_lines(words[:6], 60, 3) == ("one two three", "four five six")


# Times in tenths of a second: gaps from overlapping (-) through short to long pauses.
_ITEM = st.tuples(
    st.integers(-2, 25),
    st.integers(0, 40),
    st.sampled_from(["a", "crime,", "Officers", "said.", "well", "—", "extraordinarily"]),
    st.sampled_from([None, "A", "B"]),
    st.integers(0, 12),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_ITEM, max_size=40))
def test_cues_are_ordered_and_keep_every_word(items: list[tuple[int, int, str, str | None, int]]):
    words: list[Word] = []
    t = F(0)
    for gap, length, text, speaker, kind in items:
        start = max(t + F(gap, 10), words[-1].start if words else F(0))
        if kind == 0:
            word = Word("[noise]", start, start + F(length, 10), sound=True)
        else:
            word = Word(text, start, start + F(length, 10), speaker, paragraph=kind // 10)
        words.append(word)
        t = word.end
    cues = words_to_cues(words)
    check_order(cues)
    assert spoken(cues) == [w.text for w in words]
    for cue in cues:
        assert cue.duration <= MAX_DURATION
        assert len(cue.text) <= 74 or " " not in cue.text


# --- a realistic interview passes the lint -------------------------------------------------

INTERVIEW = [
    (
        "INTERVIEWER",
        "So tell me how the project started. What was the problem you were trying to solve?",
    ),
    (
        "INSPECTOR JONES",
        "Well, we had a run of burglaries on the estate, mostly sheds and garages, and people "
        "had stopped reporting them because they felt nothing would happen. So the first thing "
        "we did was go door to door. We knocked on every door on the estate over six weeks.",
    ),
    ("INTERVIEWER", "Every door?"),
    ("INSPECTOR JONES", "Every single one. [laughter] It took a while."),
    (
        "INSPECTOR JONES",
        "And what we heard was that the lighting on the back lanes was poor, so we worked "
        "with the council on that, and within a year reports were down by a third.",
    ),
    ("INTERVIEWER", "That's remarkable. Thank you."),
]


def interview() -> list[Word]:
    """The interview spoken at 150 wpm, with natural pauses: short between words, longer
    at sentence ends, longer still between turns and paragraphs."""
    words: list[Word] = []
    t = F(1)
    for paragraph, (speaker, text) in enumerate(INTERVIEW):
        tokens = parse_transcript(f"{speaker}: {text}", "t")
        spoken = [tok.text for tok in tokens if not tok.sound]
        # Each word's time in proportion to its length, 150 words a minute in all.
        per_char = F(60, 150) * len(spoken) / sum(len(w) + 1 for w in spoken)
        for k, token in enumerate(tokens):
            if token.sound:
                words.append(sound(token.text, t, F(3, 2)))
                t += F(17, 10)
                continue
            length = per_char * (len(token.text) + 1)
            words.append(Word(token.text, t, t + length * F(9, 10), speaker, paragraph=paragraph))
            t += length
            if token.text[-1] in ".?!" and k + 1 < len(tokens):
                t += F(3, 5) if k % 2 else F(1, 5)  # some pauses split cues, some do not
        t += F(6, 5)
    return words


def test_realistic_interview_passes_the_lint():
    words = interview()
    cues = words_to_cues(words)
    check_order(cues)
    assert spoken(cues) == [w.text for w in words]
    assert lint(cues, F(25)) == ()
    # ... and still after an output snaps them to its frame grid.
    end = cues[-1].end + 1
    for fps in (F(24000, 1001), F(25), F(30000, 1001), F(50)):
        snapped, notes = retime(cues, [(F(0), end)], fps, end)
        assert notes == ()
        assert lint(snapped, fps) == ()
    vtt = to_webvtt(cues)
    assert vtt.startswith("WEBVTT\n\n00:00:01.000 --> ")
    assert "<v INSPECTOR JONES>Well," in vtt
