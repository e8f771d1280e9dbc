"""Re-break caption lines for one output's frame, splitting cues that cannot fit.

Line length and count come from the caller (the caption layout of the output's aspect
ratio). Where to break follows the BBC subtitle guidelines §3.4 (anchors §4.1): break at
punctuation, keep an article with its noun, a preposition with its phrase, a pronoun
with its verb and the parts of a verb together; among equally good breaks prefer
balanced lines, the lower one a little longer (a "pyramid"), which reads best. Words are
never split, and never reordered.

Every possible break between two words gets a cost in character-equivalents, so the
preferences trade against line balance on one scale, and the cheapest layout wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from fractions import Fraction
from itertools import pairwise

from pipeline.captions.model import Cue
from pipeline.captions.retime import describe

_CLOSERS = "'\"”’)]"
_CLOSING = f"[{re.escape(_CLOSERS)}]*$"  # punctuation may sit inside quotes or brackets
_SENTENCE_END = re.compile(r"[.!?…]" + _CLOSING)
_CLAUSE_END = re.compile(r"([,;:]|--|[–—])" + _CLOSING)
_DASH = re.compile(r"^(--|[-–—])")

# Words a line should not end on, with how much breaking after them hurts. A line ending
# on an article, determiner or possessive strands it from its noun; on a preposition or
# conjunction it splits the phrase it opens; on a subject pronoun or auxiliary it splits
# the pronoun from its verb or a complex verb (BBC §3.4).
_DETERMINERS = "a an the this that these those my your his her its our their some any every each no"
_PREPOSITIONS = (
    "to of in on at for with from by about into onto over under after before between "
    "through during without within against among around across behind beyond near upon via per"
)
_CONJUNCTIONS = "and but or nor if because as than when while whether although though unless until"
_PRONOUNS = "i you he she we they it"
_AUXILIARIES = (
    "is are was were be been being am has have had do does did will would shall should "
    "can could may might must not"
)
_CONTRACTION = re.compile(r"(n't|'ll|'re|'ve|'m|'d)$")

# Costs, in characters of imbalance a break is worth.
_SENTENCE = 0.0  # after . ! ? - the best place
_CLAUSE = 2.0  # after , ; : or a dash
_BEFORE_PHRASE = 6.0  # before a conjunction or preposition: a phrase boundary
_PLAIN = 12.0  # between two ordinary words
_SPLITS_NAME = 25.0  # between two capitalised words: likely one name
_SPLITS_VERB = 25.0  # after an auxiliary or a contraction such as "we've"
_SPLITS_PHRASE = 30.0  # after a preposition, conjunction or subject pronoun
_STRANDS_ARTICLE = 40.0  # after an article or determiner
_BEFORE_DASH = 30.0  # a line starting with a dash reads as a new speaker

# One line whenever the text fits (Netflix, anchors §4.2); beyond two, a third line is
# worth it only to avoid a poor break, since it hides more of the picture.
_EXTRA_LINE = 8.0
_TOP_LONGER = 1.0  # per character the upper of two lines is longer than the lower
_BOTTOM_LONGER = 0.5  # ... the lower is longer: a slight pyramid is preferred, so cheaper

# Splitting a cue: a break between cues weighs four times one between lines, since the
# reader loses the earlier text. An extra cue costs a little less than a plain break
# between cues, so one more cue split at sentence ends beats one fewer split between two
# ordinary words; the time per character is the same either way. A cue with less than
# a full line of text is penalised per missing character, so no scrap of a cue flashes by.
_PER_CUE = 40.0
_CUE_BREAK_WEIGHT = 4.0
_SHORT_CUE = 1.0


def _lexicon(*groups: tuple[str, float]) -> dict[str, float]:
    return {word: cost for words, cost in groups for word in words.split()}


_AFTER_COST = _lexicon(
    (_AUXILIARIES, _SPLITS_VERB),
    (_PRONOUNS, _SPLITS_PHRASE),
    (_CONJUNCTIONS, _SPLITS_PHRASE),
    (_PREPOSITIONS, _SPLITS_PHRASE),
    (_DETERMINERS, _STRANDS_ARTICLE),
)
_PHRASE_OPENERS = frozenset((_PREPOSITIONS + " " + _CONJUNCTIONS).split())


def reflow(
    cues: Sequence[Cue], max_chars: int, max_lines: int
) -> tuple[tuple[Cue, ...], tuple[str, ...]]:
    """Re-break every cue into at most ``max_lines`` lines of at most ``max_chars``.

    A word longer than ``max_chars`` gets a line of its own. A cue whose text cannot fit
    is split into consecutive cues that share its time in proportion to their text
    length, each keeping the speaker and sound flag. Returns the cues and notes on every
    split and over-long word.
    """
    if max_chars < 1 or max_lines < 1:
        raise ValueError(f"need at least one line of one character, not {max_lines}x{max_chars}")
    out: list[Cue] = []
    notes: list[str] = []
    for cue in cues:
        words = tuple(cue.text.split())
        if not words:
            out.append(cue)
            continue
        long_words = [w for w in words if len(w) > max_chars]
        if long_words:
            notes.append(
                f"cue {describe(cue)}: {', '.join(repr(w) for w in long_words)} longer than "
                f"{max_chars} characters, on a line of its own"
            )
        pieces = _Breaker(words, max_chars, max_lines).pieces()
        if len(pieces) > 1 and cue.duration > 0:
            notes.append(
                f"cue {describe(cue)} split into {len(pieces)} cues to fit "
                f"{max_lines} line{_s(max_lines)} of {max_chars} character{_s(max_chars)}"
            )
            out.extend(_share_time(cue, pieces))
        else:
            # One cue, or one with no time to share out: lint will flag its lines then.
            out.append(replace(cue, lines=tuple(line for p in pieces for line in p)))
    return tuple(out), tuple(notes)


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _share_time(cue: Cue, pieces: Sequence[tuple[str, ...]]) -> Iterator[Cue]:
    """Consecutive cues covering ``cue`` exactly, each lasting in proportion to its text."""
    weights = [len(" ".join(p)) for p in pieces]
    total, done = sum(weights), 0
    start = cue.start
    for lines, weight in zip(pieces, weights, strict=True):
        done += weight
        end = cue.start + cue.duration * Fraction(done, total)
        yield replace(cue, start=start, end=end, lines=lines)
        start = end


def break_cost(prev: str, word: str) -> float:
    """What a line break between ``prev`` and ``word`` costs (lower is better)."""
    if _SENTENCE_END.search(prev):
        return _SENTENCE
    if _DASH.match(word):
        return _BEFORE_DASH
    if _CLAUSE_END.search(prev):
        return _CLAUSE
    bare = prev.strip(_CLOSERS + "([").lower()
    if bare in _AFTER_COST or _CONTRACTION.search(bare.replace("’", "'")):
        return _AFTER_COST.get(bare, _SPLITS_VERB)
    if prev[:1].isupper() and word[:1].isupper():
        return _SPLITS_NAME
    if word.strip(_CLOSERS + "([").lower() in _PHRASE_OPENERS:
        return _BEFORE_PHRASE
    return _PLAIN


class _Breaker:
    """Best lines and cue splits for one cue's words."""

    def __init__(self, words: Sequence[str], max_chars: int, max_lines: int):
        self.words = words
        self.max_chars = max_chars
        self.max_lines = max_lines
        self.ends = [0]  # ends[i]: characters in words[:i] with one space between words
        for w in words:
            self.ends.append(self.ends[-1] + len(w) + (1 if self.ends[-1] else 0))
        self.after = [break_cost(a, b) for a, b in pairwise(words)]
        # No cue of max_lines lines is wider than this, even with an over-long word in it.
        self.widest = max_lines * (max(max_chars, *map(len, words)) + 1)
        self.memo: dict[tuple[int, int], tuple[float, tuple[int, ...]] | None] = {}

    def width(self, i: int, j: int) -> int:
        """Characters in words[i:j] on one line."""
        return self.ends[j] - self.ends[i] - (1 if i else 0)

    def fits(self, i: int, j: int) -> bool:
        return j - i == 1 or self.width(i, j) <= self.max_chars

    def pieces(self) -> list[tuple[str, ...]]:
        """The lines of each cue: one cue when the words fit, else the best split."""
        n = len(self.words)
        if self.layout(0, n) is not None:
            return [self.laid_out(0, n)]
        # best[j]: cheapest split of words[:j] into cues, with the start of its last cue.
        best: list[tuple[float, int] | None] = [(0.0, 0)] + [None] * n
        for j in range(1, n + 1):
            for i in range(j - 1, -1, -1):
                before = best[i]
                if before is None:
                    continue
                laid = self.layout(i, j)
                if laid is None:
                    if self.width(i, j) > self.widest:
                        break  # longer cues ending at j will not fit either
                    continue
                cost = before[0] + laid[0] + _PER_CUE
                cost += _SHORT_CUE * max(0, self.max_chars - self.width(i, j))
                if i:
                    cost += _CUE_BREAK_WEIGHT * self.after[i - 1]
                current = best[j]
                if current is None or cost < current[0]:
                    best[j] = (cost, i)
        starts, j = [], n
        while j:
            found = best[j]
            assert found is not None  # a single word always fits, so every j is reachable
            starts.append(found[1])
            j = found[1]
        bounds = [*reversed(starts), n]
        return [self.laid_out(i, j) for i, j in pairwise(bounds)]

    def laid_out(self, i: int, j: int) -> tuple[str, ...]:
        """The lines of words[i:j], which must fit."""
        found = self.layout(i, j)
        assert found is not None
        cuts = [i, *found[1], j]
        return tuple(" ".join(self.words[a:b]) for a, b in pairwise(cuts))

    def layout(self, i: int, j: int) -> tuple[float, tuple[int, ...]] | None:
        """(cost, line starts after the first) of the best layout of words[i:j], or None
        when they need more than max_lines."""
        if (i, j) not in self.memo:
            self.memo[i, j] = self._layout(i, j)
        return self.memo[i, j]

    def _layout(self, i: int, j: int) -> tuple[float, tuple[int, ...]] | None:
        if self.fits(i, j):
            return (0.0, ())
        found: tuple[float, tuple[int, ...]] | None = None
        for count in range(2, self.max_lines + 1):
            for breaks in self._splits(i, j, count):
                cost = self._cost(i, j, breaks) + _EXTRA_LINE * (count - 2)
                if found is None or cost < found[0]:
                    found = (cost, breaks)
        return found

    def _splits(self, i: int, j: int, count: int) -> Iterator[tuple[int, ...]]:
        """Every way to lay words[i:j] out in exactly ``count`` lines that all fit."""
        if count == 1:
            if self.fits(i, j):
                yield ()
            return
        for k in range(i + 1, j):
            if not self.fits(i, k):
                break  # a longer first line fits no better
            for rest in self._splits(k, j, count - 1):
                yield (k, *rest)

    def _cost(self, i: int, j: int, breaks: tuple[int, ...]) -> float:
        cuts = [i, *breaks, j]
        widths = [self.width(a, b) for a, b in pairwise(cuts)]
        cost = sum(self.after[k - 1] for k in breaks)
        for upper, lower in pairwise(widths):
            diff = upper - lower
            cost += diff * _TOP_LONGER if diff > 0 else -diff * _BOTTOM_LONGER
        return cost
