"""The one cue model every caption stage shares. Times are exact ``Fraction`` seconds."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction


@dataclass(frozen=True)
class Cue:
    """One caption on screen from ``start`` to ``end``.

    ``lines`` are plain text (markup removed; line breaks as the author made them, or as
    reflow decided). ``speaker`` comes from a WebVTT voice span (``<v Name>``) or an
    ``NAME:`` prefix; ``sound`` marks a non-speech cue such as ``[music]`` or ``(laughter)``,
    whose brackets are kept in ``lines`` so every output shows them.
    """

    start: Fraction
    end: Fraction
    lines: tuple[str, ...]
    speaker: str | None = None
    sound: bool = False
    source_line: int | None = None  # line in the caption file, for messages

    @property
    def text(self) -> str:
        return " ".join(self.lines)

    @property
    def duration(self) -> Fraction:
        return self.end - self.start


@dataclass(frozen=True)
class Track:
    """All cues of one language from one file, in start order."""

    lang: str
    source: str  # file label for messages (relative to the project root)
    cues: tuple[Cue, ...]
    warnings: tuple[str, ...] = field(default=())
