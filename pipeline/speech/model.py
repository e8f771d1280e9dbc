"""What the speech stages pass between them: words with times, on the source's timeline."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Word:
    """One word as written in the transcript (punctuation kept: ``"crime,"``), or one
    sound note (``"[applause]"``, ``sound=True``), with its time in the source audio.

    ``aligned`` is False when the engine could not place the word and its time was
    interpolated between its neighbours. ``speaker`` is the transcript's ``NAME:`` prefix in
    force; ``paragraph`` counts the transcript's paragraphs (a new one starts a new cue).
    """

    text: str
    start: Fraction
    end: Fraction
    speaker: str | None = None
    sound: bool = False
    aligned: bool = True
    paragraph: int = 0
    confidence: float | None = None  # recognition only: the engine's posterior, 0..1


@dataclass(frozen=True)
class Token:
    """One item of a parsed transcript, before alignment: a word or a sound note."""

    text: str
    speaker: str | None = None
    sound: bool = False
    paragraph: int = 0
