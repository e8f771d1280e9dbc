"""Group timed words into caption cues that pass the project's caption lint.

Numbers are the caption lint's (``pipeline.captions.lint``, anchors §4.1 BBC and §4.2
Netflix) unless a caller passes others:

- At most ``max_chars`` characters a cue: 74 is two lines (BBC §3.3) of 37, the BBC's
  broadcast line (§3.1); Netflix's 42 a line (§4.2) would give 84. Lines are only roughly
  balanced here: each output's ``reflow`` re-breaks them for its own frame.
- At most 7 s and at least 5/6 s on screen (Netflix §4.2), and no faster than 180 wpm
  (BBC §4: 160-180 wpm) or the lint's 20 characters a second.
- Cues run on (end where the next starts) or leave a gap of at least 1 s (BBC §4.5).
- A new cue at every speaker change, paragraph and pause of at least ``pause`` (speech
  that stops is a natural place for a caption to change), and a sound note
  (``[applause]``) on its own: it is looked at, not read with the words around it.
- Within that, the words between two such breaks are split into cues at the cheapest set
  of breaks, as ``reflow`` splits an over-long cue: each cue costs a little, so there are
  no more than needed; a cue ends best at a sentence end, then at a clause end, worst after
  an article (``reflow.break_cost``, the BBC §3.4 preferences, so cue and line breaks
  agree); a cue shorter than a line is a scrap that flashes by; a cue that finishes one
  sentence and starts another it does not finish makes the reader carry half a thought
  into the next cue; and a cue the lint would flag (too fast, too short) costs more than
  any of these. So cues hold whole sentences where they can and end at clauses where not.

Times: a cue starts with its first word and ends with its last, then is extended to its
minimum time and reading time where the next cue leaves room, hanging at most 1.5 s after
the speech (BBC §5.4). A cue still too short starts up to 1.5 s before its speech
(BBC §5.2), taking time from a gap or from a previous cue that can spare it. Every length
and gap the lint checks gets a twentieth of a second to spare, because each output snaps
cues to its frame grid, which moves a cue edge by up to half a frame (a twentieth covers a
whole frame at 20 fps and above).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise

from pipeline.captions.lint import MAX_CPS, MAX_DURATION, MAX_WPM, MIN_DURATION, MIN_GAP
from pipeline.captions.model import Cue
from pipeline.captions.reflow import _SENTENCE_END, break_cost
from pipeline.speech.model import Word

# BBC §5.2 and §5.4: a caption should not come up more than 1.5 s before its speech or
# stay more than 1.5 s after it.
MAX_LEAD = Fraction(3, 2)
MAX_HANG = Fraction(3, 2)
_SNAP_MARGIN = Fraction(1, 20)
_GAP = MIN_GAP + _SNAP_MARGIN
# Distinct starts for cues whose words the aligner put at one instant.
_TICK = Fraction(1, 1000)

# Costs of a cue, in reflow.break_cost's units (a plain break between two words costs 12),
# weighted as reflow weighs them when it splits a cue, so the two agree on what a good
# cue break is. _SPILL is above _PER_CUE, so a sentence that would otherwise straddle two
# cues behind the end of another gets a cue of its own.
_PER_CUE = 40.0
_BREAK_WEIGHT = 4.0
_SHORT = 1.0  # per character a cue falls short of a full line
_SPILL = 50.0
_LINT_FLAG = 200.0


@dataclass(frozen=True)
class _Rules:
    max_chars: int
    max_lines: int
    max_duration: Fraction
    min_duration: Fraction
    max_wpm: int
    pause: Fraction


def words_to_cues(
    words: Sequence[Word],
    *,
    max_chars: int = 74,
    max_lines: int = 2,
    max_duration: Fraction = MAX_DURATION,
    min_duration: Fraction = MIN_DURATION,
    max_wpm: int = MAX_WPM,
    pause: Fraction = Fraction(1, 2),
) -> list[Cue]:
    """Cues for ``words`` (in spoken order, times on the source's timeline), in time
    order, each ending after it starts and none overlapping the next.

    Every word is in exactly one cue, in order, including words the aligner could not place
    (``aligned=False``, at their interpolated times). Raises ``ValueError`` for words out of
    order or ending before they start: the aligner never produces them.
    """
    if max_chars < 1 or max_lines < 1:
        raise ValueError(f"need at least one line of one character, not {max_lines}x{max_chars}")
    if not 0 < min_duration < max_duration or max_wpm <= 0 or pause <= 0:
        raise ValueError(
            f"need 0 < min_duration < max_duration, a positive max_wpm and pause, not "
            f"{min_duration}, {max_duration}, {max_wpm}, {pause}"
        )
    for k, word in enumerate(words):
        if word.end < word.start:
            raise ValueError(f"word {k} {word.text!r} ends at {word.end}, before its start")
        if k and word.start < words[k - 1].start:
            raise ValueError(f"word {k} {word.text!r} starts before the word before it")
    rules = _Rules(max_chars, max_lines, max_duration, min_duration, max_wpm, pause)
    groups = _Grouper(words, rules).groups()
    times = _Timer(words, rules).times(groups)
    cues = []
    for (i, j), (start, end) in zip(groups, times, strict=True):
        texts = [w.text for w in words[i:j]]
        if words[i].sound:
            # A note in a speaker's paragraph is as often the room (applause, music) as the
            # speaker, so no name goes on it.
            cues.append(Cue(start, end, (texts[0],), None, sound=True))
        else:
            lines = balanced_lines(texts, max_chars, max_lines)
            cues.append(Cue(start, end, lines, words[i].speaker))
    return cues


def balanced_lines(words: Sequence[str], max_chars: int, max_lines: int) -> tuple[str, ...]:
    """``words`` on the fewest lines (at most ``max_lines``) of ``max_chars / max_lines``
    characters, as even as possible; a rough layout that each output's reflow redoes."""
    per_line = -(-max_chars // max_lines)
    text = " ".join(words)
    if len(text) <= per_line or max_lines == 1 or len(words) == 1:
        return (text,)
    best: tuple[str, ...] = (text,)
    for count in range(2, min(max_lines, len(words)) + 1):
        best = _even(words, count)
        if max(map(len, best)) <= per_line:
            break
    return best


def _even(words: Sequence[str], count: int) -> tuple[str, ...]:
    """``words`` on exactly ``count`` lines with the longest line as short as possible."""
    n = len(words)

    def width(i: int, j: int) -> int:
        return sum(len(w) for w in words[i:j]) + j - i - 1

    # best[c][j]: (longest line, line starts) laying words[:j] on c lines.
    best: list[dict[int, tuple[int, tuple[int, ...]]]] = [{0: (0, ())}]
    for c in range(1, count + 1):
        row: dict[int, tuple[int, tuple[int, ...]]] = {}
        for j in range(c, n + 1):
            for i, (longest, starts) in best[c - 1].items():
                if i < j:
                    found = (max(longest, width(i, j)), (*starts, i))
                    if j not in row or found[0] < row[j][0]:
                        row[j] = found
        best.append(row)
    starts = (*best[count][n][1], n)
    return tuple(" ".join(words[a:b]) for a, b in pairwise(starts))


class _Grouper:
    """Which words go in which cue: half-open index ranges into the words."""

    def __init__(self, words: Sequence[Word], rules: _Rules):
        self.words = words
        self.rules = rules
        self.per_line = -(-rules.max_chars // rules.max_lines)
        self.ends = [0]  # ends[i]: characters in words[:i], one space between words
        for w in words:
            self.ends.append(self.ends[-1] + len(w.text) + 1)

    def groups(self) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        first = 0
        for j in range(1, len(self.words) + 1):
            if j == len(self.words) or self._hard_break(j):
                out.extend(self._split_run(first, j))
                first = j
        return out

    def _hard_break(self, j: int) -> bool:
        """Whether words j-1 and j must be in different cues."""
        a, b = self.words[j - 1], self.words[j]
        return (
            a.sound
            or b.sound
            or a.speaker != b.speaker
            or a.paragraph != b.paragraph
            or b.start - a.end >= self.rules.pause
        )

    def _split_run(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """The cheapest cues for words[lo:hi], which have no hard break between them."""
        # best[j - lo]: (cost, start of the last cue) of the cheapest cues for words[lo:j].
        best: list[tuple[float, int]] = [(0.0, lo)]
        for j in range(lo + 1, hi + 1):
            found = (float("inf"), j - 1)
            for i in range(j - 1, lo - 1, -1):
                if not self._fits(i, j):
                    break  # a longer cue ending at j fits no better
                cost = best[i - lo][0] + self._cost(i, j, hi)
                if cost < found[0]:
                    found = (cost, i)
            best.append(found)
        bounds = [hi]
        while bounds[-1] > lo:
            bounds.append(best[bounds[-1] - lo][1])
        return list(pairwise(reversed(bounds)))

    def _cost(self, i: int, j: int, hi: int) -> float:
        """What making words[i:j] one cue costs, in a run ending at ``hi``."""
        cost = _PER_CUE + _SHORT * max(0, self.per_line - self._width(i, j))
        if j < hi:
            after = break_cost(self.words[j - 1].text, self.words[j].text)
            cost += _BREAK_WEIGHT * after
            if after > 0 and any(_SENTENCE_END.search(w.text) for w in self.words[i : j - 1]):
                cost += _SPILL
        shown = self._least_end(j - 1) - self.words[i].start
        if self._too_fast(i, j) or shown < self.rules.min_duration:
            cost += _LINT_FLAG
        return cost

    def _fits(self, i: int, j: int) -> bool:
        """Whether words[i:j] can be one cue: one word always can."""
        if j - i == 1:
            return True
        shown = self._least_end(j - 1) - self.words[i].start
        return self._width(i, j) <= self.rules.max_chars and shown <= self.rules.max_duration

    def _too_fast(self, i: int, j: int) -> bool:
        """Whether words[i:j] cannot be read in the most time they could be shown."""
        if self.words[i].sound:
            return False  # looked at, not read (as the lint has it)
        texts = [w.text for w in self.words[i:j]]
        shown = self._most_end(j - 1) - self.words[i].start
        return reading_time(texts, self.rules.max_wpm) > shown

    def _width(self, i: int, j: int) -> int:
        return self.ends[j] - self.ends[i] - 1

    def _least_end(self, k: int) -> Fraction:
        """The earliest a cue ending with word ``k`` can end: at its speech's end, or where
        the next word starts when too close for a gap (the cues run on)."""
        word = self.words[k]
        if k + 1 < len(self.words) and self.words[k + 1].start - word.end < _GAP:
            return max(word.end, self.words[k + 1].start)
        return word.end

    def _most_end(self, k: int) -> Fraction:
        """The latest a cue ending with word ``k`` can end without a lint flag or hanging."""
        word = self.words[k]
        if k + 1 == len(self.words):
            return word.end + MAX_HANG
        after = self.words[k + 1].start
        if after - word.end < _GAP:
            return max(word.end, after)
        return max(word.end, min(after - _GAP, word.end + MAX_HANG))


def reading_time(texts: Sequence[str], max_wpm: int = MAX_WPM) -> Fraction:
    """The least time on screen for ``texts`` at ``max_wpm`` and the lint's characters a
    second, counted as the lint counts them (words as split, characters as shown)."""
    words = sum(len(t.split()) for t in texts)
    chars = len(" ".join(texts))
    return max(Fraction(60 * words, max_wpm), Fraction(chars, MAX_CPS))


class _Timer:
    """When each group of words is on screen."""

    def __init__(self, words: Sequence[Word], rules: _Rules):
        self.words = words
        self.rules = rules

    def times(self, groups: Sequence[tuple[int, int]]) -> list[tuple[Fraction, Fraction]]:
        starts: list[Fraction] = []
        for i, _ in groups:
            start = self.words[i].start
            starts.append(max(start, starts[-1] + _TICK) if starts else start)
        needs = [self._need(i, j) for i, j in groups]
        ends = []
        for k, (i, j) in enumerate(groups):
            speech_end = max(w.end for w in self.words[i:j])
            after = starts[k + 1] if k + 1 < len(groups) else None
            ends.append(self._end(starts[k], speech_end, needs[k], after))
        for k in range(len(groups)):
            if ends[k] - starts[k] < self.rules.min_duration:
                self._start_earlier(k, starts, ends, needs)
        return list(zip(starts, ends, strict=True))

    def _need(self, i: int, j: int) -> Fraction:
        """How long the group should be shown, the snapping margin included."""
        if self.words[i].sound:
            return self.rules.min_duration + _SNAP_MARGIN
        texts = [w.text for w in self.words[i:j]]
        least = max(self.rules.min_duration, reading_time(texts, self.rules.max_wpm))
        return least + _SNAP_MARGIN

    def _end(
        self, start: Fraction, speech_end: Fraction, need: Fraction, after: Fraction | None
    ) -> Fraction:
        # Held past the speech for reading at most MAX_HANG, but always for the minimum.
        least = start + self.rules.min_duration + _SNAP_MARGIN
        limit = min(start + self.rules.max_duration, max(speech_end + MAX_HANG, least))
        want = min(max(speech_end, start + need), limit)
        if after is None or want <= after - _GAP:
            return want
        # Too close to the next cue for a gap: run on, unless that holds the caption too
        # long, when a gap is kept instead if the cue can still be shown for its minimum.
        run_on_fits = after - start <= self.rules.max_duration
        if run_on_fits and (
            after - speech_end <= MAX_HANG or after - _GAP - start < self.rules.min_duration
        ):
            return after
        end = min(want, after - _GAP)
        return end if end > start else after  # only when max_duration is below the gap

    def _start_earlier(
        self, k: int, starts: list[Fraction], ends: list[Fraction], needs: Sequence[Fraction]
    ) -> None:
        """Lengthen short cue ``k`` backwards, into a gap or a previous cue that can spare
        the time, never more than MAX_LEAD before its speech."""
        earliest = starts[k] - MAX_LEAD
        wanted = max(ends[k] - (self.rules.min_duration + _SNAP_MARGIN), earliest)
        if k == 0:
            starts[k] = max(min(wanted, starts[k]), Fraction(0))
            return
        before = ends[k - 1]
        if before < starts[k]:
            if wanted >= before + _GAP:
                starts[k] = wanted
            elif earliest <= before and ends[k] - before <= self.rules.max_duration:
                starts[k] = before  # run on from the previous cue
            else:
                starts[k] = min(starts[k], max(before + _GAP, wanted))
            return
        # Running on from the previous cue: move the boundary if it keeps what it needs.
        spare = max(wanted, starts[k - 1] + needs[k - 1])
        if spare < starts[k]:
            ends[k - 1] = starts[k] = spare
