"""Parse a plain-text transcript (interview notes, a transcription service's export) into
the tokens the aligner places in the audio: words, sound notes, speakers and paragraphs.

The conventions are the caption reader's (``pipeline.captions.read``), so a transcript and
a caption file mean the same by the same marks:

- Paragraphs are separated by blank lines; each token carries its paragraph's index,
  counting only paragraphs that have words, and a new paragraph starts a new cue.
- ``NAME:`` at the start of a paragraph or a line names the speaker, with the reader's
  rule for names (upper case up to four words, or one capitalised word), widened to
  title-case names of up to four words (``Jane Doe:``, ``Speaker 1:``), which interview
  notes and transcription services write. The speaker stays in force across paragraphs
  until the next prefix: an answer often runs to several paragraphs, and services repeat
  the prefix only when the voice changes.
- A prefix is not taken where it is probably prose: mid-line (``... Note: ...``) or a time
  (``10:30``, which cannot start a name); a mixed-case name on a line continuing the
  previous one (that line ends in a word or a comma), since hard-wrapped notes put any word
  at the start of a line; and a few words that introduce an annotation, not a voice
  (``Note:``, ``NB:``, ``PS:``). Those colons stay in the text.
- Bracketed notes, ``[applause]``, ``(laughter)``, ``♪ ... ♪``, become sound tokens with
  their brackets kept, so every output shows them as written. A note must close on its
  own line: an unclosed bracket is an error, because guessing where it ends would show
  spoken words as a note or a note as speech.
- Words keep their punctuation (``"crime,"``): cue splitting and line breaking read it.
- Timestamps from transcription services (a line holding only ``00:01:23``, or
  ``[00:01:23]`` / ``(0:05)`` anywhere) are dropped: they are not speech, and the aligner
  finds the times itself.
"""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.captions.read import _NEWLINE, _NOTE, _PREFIX, _decode, _prefix
from pipeline.errors import CaptionError
from pipeline.speech.model import Token

_TIME = r"(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d+)?"
_BRACKETED_TIME = re.compile(rf"[\[(]\s*{_TIME}\s*[\])]")
_TIME_LINE = re.compile(_TIME)
# Words that open an annotation in interview notes rather than name a speaker.
_NOT_SPEAKERS = frozenset({"note", "notes", "nb", "n.b.", "ps", "p.s.", "edit", "update"})
# The previous line stops mid-sentence, so this one continues it rather than starting a turn.
_CONTINUES = re.compile(r"[\w,;]$")
# A closing mark glued to a note ("[laughs].") belongs to the sentence around the note, and
# would read oddly inside a sound cue, which shows only the note.
_AFTER_NOTE = ".,;:!?…"
_OPENERS = "[("
_SPACES = re.compile(r"\s+")


def read_transcript(path: Path, label: str) -> list[Token]:
    """Read and parse the transcript at ``path`` (UTF-8, a byte-order mark allowed);
    ``label`` names the file in messages."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CaptionError(label, None, f"cannot read the transcript: {exc.strerror}") from exc
    return parse_transcript(_decode(data, label), label)


def parse_transcript(text: str, label: str) -> list[Token]:
    """The words and sound notes of ``text`` in order, each with its speaker and paragraph.

    Raises ``CaptionError`` naming the line for an unclosed note, and naming no line when
    there are no words at all.
    """
    tokens: list[Token] = []
    speaker: str | None = None
    paragraphs = 0  # paragraphs with tokens so far; the current one is paragraphs - 1
    counted = False  # whether the current paragraph has been counted
    previous = ""  # the last line of text in the current paragraph
    for number, raw in enumerate(_NEWLINE.split(text.removeprefix("\ufeff")), start=1):
        if not raw.strip():
            counted, previous = False, ""
            continue
        line = _SPACES.sub(" ", _BRACKETED_TIME.sub(" ", raw)).strip()
        if not line or _TIME_LINE.fullmatch(line):
            continue  # a timestamp is not a paragraph break, so the paragraph goes on
        found = _speaker(line, continues=bool(_CONTINUES.search(previous)))
        previous = line
        if found is not None:
            speaker, line = found
        items = _items(line, label, number)
        if items and not counted:
            counted, paragraphs = True, paragraphs + 1
        tokens.extend(Token(item, speaker, sound, paragraphs - 1) for item, sound in items)
    if not tokens:
        raise CaptionError(label, None, "the transcript has no words")
    return tokens


def _speaker(line: str, continues: bool) -> tuple[str, str] | None:
    """``(name, rest of the line)`` when the line starts with a speaker prefix."""
    match = _PREFIX.fullmatch(line)
    if match is None:
        return None
    name, rest = match.group(1).strip(), match.group(2).strip()
    if name.lower() in _NOT_SPEAKERS:
        return None
    upper = name == name.upper() and any(c.isupper() for c in name)
    if upper:
        # Upper case names a speaker even after an unpunctuated line: recognisers that
        # leave out punctuation still write the speaker in capitals.
        return (name, rest) if _prefix(line) is not None else None
    if continues:
        return None
    # The reader's one capitalised word, widened to names such as "Jane Doe", "Speaker 1".
    words = name.split()
    titled = all(w[0].isupper() or w.isdigit() for w in words)
    return (name, rest) if titled and len(words) <= 4 and len(name) <= 32 else None


def _items(line: str, label: str, number: int) -> list[tuple[str, bool]]:
    """``(text, is a sound note)`` for each word and note of one line."""
    items: list[tuple[str, bool]] = []
    pos = 0
    for match in _NOTE.finditer(line):
        items.extend(_words(line[pos : match.start()], label, number))
        note = match.group().strip()
        if note.strip("[]() "):  # an empty pair is nothing to show; a lone ♪ is music
            items.append((note, True))
        pos = match.end()
        while pos < len(line) and line[pos] in _AFTER_NOTE:
            pos += 1
    items.extend(_words(line[pos:], label, number))
    return items


def _words(text: str, label: str, number: int) -> list[tuple[str, bool]]:
    for opener in _OPENERS:
        if opener in text:
            closer = "]" if opener == "[" else ")"
            where = text[text.index(opener) :][:30]
            raise CaptionError(
                label,
                number,
                f"'{opener}' is not closed on this line ({where!r}): a sound note such as "
                f"[applause] or (laughter) must open and close on one line, with '{closer}'",
            )
    return [(word, False) for word in text.split()]
