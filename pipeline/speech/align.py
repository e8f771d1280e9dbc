"""A plain transcript aligned to the source audio, with a line for every word that could
not be placed and so had its time guessed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from pipeline.speech.engines import Engine, ProgressFn, SpeechError
from pipeline.speech.model import Token, Word
from pipeline.timecode import format_timestamp


def align_tokens(
    engine: Engine, wav: Path, tokens: list[Token], progress: ProgressFn | None = None
) -> tuple[list[Word], list[str]]:
    """The engine's alignment of ``tokens`` and one warning per word it could not place.

    Word and paragraph numbers in the warnings count from 1, as a reader would.
    """
    words = engine.align(wav, tokens, progress)
    if len(words) != len(tokens):
        raise SpeechError(
            f"{engine.name} returned {len(words)} words for a transcript of {len(tokens)}"
        )
    warnings = [
        f"word {i + 1} {w.text!r} (paragraph {w.paragraph + 1}) could not be aligned: "
        f"placed at {format_timestamp(w.start)} between its neighbours"
        for i, w in enumerate(words)
        if not w.aligned and not w.sound
    ]
    return words, warnings


def _words(text: str | Sequence[str]) -> list[str]:
    items = text.split() if isinstance(text, str) else list(text)
    cleaned = (re.sub(r"[^\w']+", "", w.lower()) for w in items)
    return [w for w in cleaned if w]


def word_error_rate(reference: str | Sequence[str], hypothesis: str | Sequence[str]) -> float:
    """Word-level Levenshtein distance over the reference's length, case and punctuation
    ignored: (substitutions + deletions + insertions) / reference words."""
    ref, hyp = _words(reference), _words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / len(ref)
