"""Speech engines behind one small interface, so a stronger local engine can replace the
default one: PocketSphinx (offline, English model in its wheel) aligns and recognises;
faster-whisper, when installed with a model, recognises.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pipeline.errors import SpeechError
from pipeline.speech.audio import PCM, frame_level_db, read_pcm, wav_rate
from pipeline.speech.model import Token, Word

__all__ = [
    "Engine",
    "FasterWhisperEngine",
    "PocketSphinxEngine",
    "ProgressFn",
    "SpeechError",
    "make_engine",
]

ProgressFn = Callable[[float], None]

ENGINE_ENV = "PIPELINE_ASR_ENGINE"
MODEL_ENV = "PIPELINE_ASR_MODEL"


class Engine(Protocol):
    name: str

    def recognize(self, wav: Path, lang: str, progress: ProgressFn | None = None) -> list[Word]:
        """Draft words with times and confidence, text as the engine wrote it (PocketSphinx:
        lowercase, no punctuation)."""
        ...

    def align(
        self, wav: Path, tokens: list[Token], progress: ProgressFn | None = None
    ) -> list[Word]:
        """One ``Word`` per token, in order, in source seconds; ``aligned=False`` where the
        time had to be guessed."""
        ...


# --- PocketSphinx ------------------------------------------------------------------------

RATE = 16000
FRAME = Fraction(1, 100)  # PocketSphinx's frame rate is 100 per second
# Aligning one long stretch costs more than linearly (measured: 110 s of speech 3.9 s, 330 s
# 25 s), so longer audio is aligned a few sentences at a time.
WHOLE_ALIGN_LIMIT_S = 60.0
# Recognition runs an utterance at a time, so progress can be reported on long audio; cut
# at a pause before this.
MAX_UTTERANCE_S = 30.0

_LOCK = threading.Lock()


@functools.cache
def _decoder() -> Any:
    """One decoder per process: loading the model takes about 1.7 s."""
    try:
        from pocketsphinx import Decoder
    except ImportError as exc:  # pragma: no cover - a main dependency
        raise SpeechError(
            "PocketSphinx is not installed: pip install 'pocketsphinx>=5.1.1,<6'"
        ) from exc
    try:
        return Decoder(samprate=RATE, loglevel="FATAL")
    except (RuntimeError, ValueError) as exc:  # pragma: no cover - the model is in the wheel
        raise SpeechError(f"cannot load PocketSphinx's English model: {exc}") from exc


def _fresh(decoder: Any) -> None:
    """Forget the previous utterance's cepstral mean: kept, it changed the next result
    (the JFK clip decoded twice in one decoder gave two different transcripts)."""
    decoder.reinit_feat()


_FILLER = re.compile(r"^(<.*>|\[.*\]|\+\+.*\+\+)$")
_VARIANT = re.compile(r"\(\d+\)$")
_GUESS = "__guess_"


@dataclass(frozen=True)
class _Seg:
    word: str
    start: int  # frames
    end: int  # frames, exclusive


def _segments(decoder: Any) -> list[_Seg] | None:
    segs = decoder.seg()
    if segs is None:
        return None
    out = []
    for s in segs:
        if _FILLER.match(s.word):
            continue
        out.append(_Seg(_VARIANT.sub("", s.word), s.start_frame, s.end_frame + 1))
    return out


class PocketSphinxEngine:
    """English only. Alignment runs a grammar of the transcript's words through the audio;
    recognition uses the wheel's general English language model (WER measured: JFK clip
    0.23, CMU digits 0.27, GRID sentences 1.0: it expects prose, not command grammars)."""

    name = "pocketsphinx"

    def __init__(self, whole_align_limit_s: float = WHOLE_ALIGN_LIMIT_S):
        self.whole_align_limit_s = whole_align_limit_s

    @staticmethod
    def check_language(lang: str) -> None:
        if not lang.lower().startswith("en"):
            raise SpeechError(
                f"PocketSphinx has only an English model, so it cannot handle language "
                f"{lang!r}: use faster-whisper with a multilingual Whisper model "
                f"({ENGINE_ENV}=faster-whisper, {MODEL_ENV}=<model folder>)"
            )

    def recognize(self, wav: Path, lang: str, progress: ProgressFn | None = None) -> list[Word]:
        self.check_language(lang)
        pcm = _read(wav)
        duration = Fraction(len(pcm), RATE)
        words: list[Word] = []
        if not len(pcm):
            return words
        with _LOCK:
            decoder = _decoder()
            decoder.activate_search()  # the language model, after any alignment grammar
            pieces = _utterances(pcm)
            for a, b in pieces:
                _fresh(decoder)
                decoder.start_utt()
                decoder.process_raw(pcm[a:b].tobytes(), full_utt=True)
                decoder.end_utt()
                decoder.get_prob()  # computes the word posteriors that seg() then reports
                offset = Fraction(a, RATE)
                for s in decoder.seg() or []:
                    if _FILLER.match(s.word):
                        continue
                    words.append(
                        Word(
                            text=_VARIANT.sub("", s.word).lower(),
                            start=offset + s.start_frame * FRAME,
                            end=min(duration, offset + (s.end_frame + 1) * FRAME),
                            confidence=min(1.0, max(0.0, float(s.prob))),
                        )
                    )
                if progress:
                    progress(b / len(pcm))
        return words

    def align(
        self, wav: Path, tokens: list[Token], progress: ProgressFn | None = None
    ) -> list[Word]:
        pcm = _read(wav)
        duration = Fraction(len(pcm), RATE)
        if not tokens:
            return []
        with _LOCK:
            decoder = _decoder()
            units = _units(decoder, tokens)
            spans: dict[int, tuple[Fraction, Fraction]] = {}
            if units:
                whole = None
                if duration <= self.whole_align_limit_s:
                    whole = _align_window(decoder, pcm, 0, len(pcm), units)
                if whole is not None:
                    spans = whole
                    if progress:
                        progress(1.0)
                else:
                    spans = _align_chunked(decoder, pcm, units, tokens, progress)
            decoder.activate_search()
        guessed = {u.token for u in units if u.guess}
        placed = {i for i in spans if i not in guessed}
        if units and not placed:
            raise SpeechError(
                f"could not align the transcript to {wav.name}: none of its words were found "
                "in the audio. Is it the transcript of this source, and in English?"
            )
        return _place(tokens, spans, placed, duration)


def _read(wav: Path) -> PCM:
    if not wav.is_file():
        raise SpeechError(f"{wav.name}: no such audio file")
    if wav_rate(wav) != RATE:
        raise SpeechError(f"{wav.name}: PocketSphinx needs {RATE} Hz audio (see speech_audio)")
    return read_pcm(wav)


# --- transcript words to dictionary words ---------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    """What one token may sound like: alternative dictionary word sequences. ``guess`` units
    carry a made-up pronunciation for a word the dictionary lacks, and may be skipped."""

    token: int
    alternatives: tuple[tuple[str, ...], ...]
    guess: bool


_QUOTES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'"})
_EDGE = re.compile(r"^[^\w']+|[^\w']+$")
_NUMBER = re.compile(r"^\d{1,3}(,\d{3})+$|^\d+$")
_DECIMAL = re.compile(r"^\d+\.\d+$")


def _units(decoder: Any, tokens: Sequence[Token]) -> list[_Unit]:
    units = []
    for i, tok in enumerate(tokens):
        if tok.sound:
            continue
        unit = _unit(decoder, i, tok.text)
        if unit is not None:
            units.append(unit)
    return units


def _unit(decoder: Any, index: int, text: str) -> _Unit | None:
    if text.strip() == "&":
        return _Unit(index, (("and",),), guess=False)
    core = _EDGE.sub("", text.translate(_QUOTES)).strip("'")
    if not core:
        return None
    percent = text.rstrip().endswith("%")
    if _NUMBER.match(core) or _DECIMAL.match(core):
        alts = _number_words(core)
        if percent:
            alts = [(*a, "percent") for a in alts]
        return _Unit(index, tuple(alts), guess=False)
    if decoder.lookup_word(core.lower()) is not None:
        return _Unit(index, ((core.lower(),),), guess=False)
    parts = [p for p in re.split(r"[-‐–—/]+", core) if p]
    if len(parts) > 1 and all(decoder.lookup_word(p.lower()) is not None for p in parts):
        return _Unit(index, (tuple(p.lower() for p in parts),), guess=False)
    # Not in the dictionary: a rough pronunciation from the spelling, optional in the grammar.
    # Left out, a spoken name pulled its neighbours' times off (measured on the JFK clip:
    # "ask" 1.6 s early); a wrong guess costs little, since the grammar may skip it.
    seq = []
    for part in parts:
        word = part.lower()
        if decoder.lookup_word(word) is not None:
            seq.append(word)
            continue
        phones = _guess_phones(decoder, part)
        if not phones:
            return None
        # Named by the pronunciation, so two spellings never fight over one entry.
        name = _GUESS + phones.replace(" ", "_")
        if decoder.lookup_word(name) is None:
            decoder.add_word(name, phones, True)
        seq.append(name)
    return _Unit(index, (tuple(seq),), guess=True)


_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _below_100(n: int) -> list[str]:
    if n < 20:
        return [_ONES[n]]
    tens, ones = divmod(n, 10)
    return [_TENS[tens]] + ([_ONES[ones]] if ones else [])


def _cardinal(n: int, british_and: bool) -> list[str]:
    """Words for 0 <= n < 10**9, with the British "and" before the last two digits if asked."""
    if n < 100:
        return _below_100(n)
    for size, name in ((10**6, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            head, rest = divmod(n, size)
            words = [*_cardinal(head, british_and), name]
            if rest:
                if rest < 100 and british_and:
                    words.append("and")
                words += _cardinal(rest, british_and)
            return words
    raise AssertionError(n)  # pragma: no cover


def _number_words(core: str) -> list[tuple[str, ...]]:
    """The ways a written number is commonly read out."""
    if "." in core:
        whole, frac = core.split(".")
        digits = [_ONES[int(c)] for c in frac]
        return [(*a, "point", *digits) for a in _number_words(whole)]
    digits_only = core.replace(",", "")
    n = int(digits_only)
    alts: list[tuple[str, ...]] = []
    if (len(digits_only) > 1 and digits_only.startswith("0")) or len(digits_only) > 9:
        # A code or phone number: read digit by digit, 0 as "zero" or "oh".
        alts.append(tuple(_ONES[int(c)] for c in digits_only))
        alts.append(tuple("oh" if c == "0" else _ONES[int(c)] for c in digits_only))
        return alts
    if "," not in core and 1100 <= n <= 2099 and not 2000 <= n <= 2009:
        head, tail = divmod(n, 100)
        if tail == 0:
            year = [*_below_100(head), "hundred"]
        else:
            year = _below_100(head) + (["oh", _ONES[tail]] if tail < 10 else _below_100(tail))
        alts.append(tuple(year))
    for british in (False, True):
        words = tuple(_cardinal(n, british))
        if words not in alts:
            alts.append(words)
    if len(digits_only) >= 5 and "," not in core:
        alts.append(tuple(_ONES[int(c)] for c in digits_only))  # a postcode, an account
    if n == 0:
        alts.append(("oh",))
    return alts


_DIGRAPHS = {
    "tch": "CH",
    "ch": "CH",
    "sh": "SH",
    "th": "TH",
    "ph": "F",
    "ck": "K",
    "ng": "NG",
    "qu": "K W",
    "wh": "W",
    "gh": "G",
    "ee": "IY",
    "ea": "IY",
    "ie": "IY",
    "oo": "UW",
    "ai": "EY",
    "ay": "EY",
    "ey": "EY",
    "oa": "OW",
    "ou": "AW",
    "ow": "OW",
    "oi": "OY",
    "oy": "OY",
    "au": "AO",
    "aw": "AO",
    "er": "ER",
    "ir": "ER",
    "ur": "ER",
    "ar": "AA R",
    "or": "AO R",
    "ll": "L",
}
_LETTERS = {
    "a": "AE",
    "b": "B",
    "c": "K",
    "d": "D",
    "e": "EH",
    "f": "F",
    "g": "G",
    "h": "HH",
    "i": "IH",
    "j": "JH",
    "k": "K",
    "l": "L",
    "m": "M",
    "n": "N",
    "o": "AA",
    "p": "P",
    "q": "K",
    "r": "R",
    "s": "S",
    "t": "T",
    "u": "AH",
    "v": "V",
    "w": "W",
    "x": "K S",
    "y": "IY",
    "z": "Z",
}


def _guess_phones(decoder: Any, part: str) -> str:
    """A rough pronunciation from the spelling: enough for the aligner to give the word its
    stretch of audio, not a dictionary entry."""
    letters = part.replace("'", "")
    if letters.isalpha() and len(letters) > 1 and letters.rstrip("s").isupper():
        # An initialism (PCC, PCCs): the letters' own names, from the dictionary.
        spelled = [decoder.lookup_word(c.lower()) for c in letters.rstrip("s")]
        if all(spelled):
            return " ".join([*spelled, *(["Z"] if letters.endswith("s") else [])])
    word = part.lower()
    if word.endswith("'s"):
        base = _guess_phones(decoder, word[:-2])
        return f"{base} Z" if base else ""
    word = re.sub(r"[^a-z]", "", word)
    if len(word) > 2 and word.endswith("e") and word[-2] not in "aeiouy":
        word = word[:-1]  # silent final e
    phones: list[str] = []
    i = 0
    while i < len(word):
        for size in (3, 2):
            chunk = word[i : i + size]
            if len(chunk) == size and chunk in _DIGRAPHS:
                phones.append(_DIGRAPHS[chunk])
                i += size
                break
        else:
            c = word[i]
            nxt = word[i + 1 : i + 2]
            if c == "c" and nxt in ("e", "i", "y"):
                phones.append("S")
            elif c == "y" and i == 0:
                phones.append("Y")
            elif c == nxt and c not in "aeiou":
                pass  # a doubled consonant is one sound
            else:
                phones.append(_LETTERS[c])
            i += 1
    return " ".join(phones)


# --- alignment ---------------------------------------------------------------------------

_SEARCH = "pipeline_align"


def _align_window(
    decoder: Any, pcm: PCM, a: int, b: int, units: Sequence[_Unit], cmn: str | None = None
) -> dict[int, tuple[Fraction, Fraction]] | None:
    """Align ``units`` to samples ``a:b``: token index -> (start, end) in seconds, or None
    when the grammar cannot be fitted to the audio. With ``cmn``, normalisation starts
    from that cepstral mean and follows the audio, instead of the window's own mean."""
    transitions: list[tuple[int, int, float] | tuple[int, int, float, str]] = []
    state, free = 0, 1
    for unit in units:
        end, free = free, free + 1
        for alt in unit.alternatives:
            here = state
            for k, word in enumerate(alt):
                if k == len(alt) - 1:
                    to = end
                else:
                    to, free = free, free + 1
                transitions.append((here, to, 1.0, word))
                here = to
        if unit.guess:
            transitions.append((state, end, 1.0))  # may be skipped: it may not be spoken
        state = end
    fsg = decoder.create_fsg(_SEARCH, 0, state, transitions)
    decoder.add_fsg(_SEARCH, fsg)
    decoder.activate_search(_SEARCH)
    try:
        _fresh(decoder)
        if cmn is not None:
            decoder.set_cmn(cmn)
        decoder.start_utt()
        decoder.process_raw(pcm[a:b].tobytes(), full_utt=cmn is None)
        decoder.end_utt()
        segs = _segments(decoder)
    finally:
        decoder.activate_search()
        decoder.remove_search(_SEARCH)
    if not segs:
        return None
    return _match(segs, units, Fraction(a, RATE))


def _match(
    segs: list[_Seg], units: Sequence[_Unit], offset: Fraction
) -> dict[int, tuple[Fraction, Fraction]] | None:
    """Which segments each unit became: the grammar fixes the order, so one walk does."""
    spans: dict[int, tuple[Fraction, Fraction]] = {}
    pos = 0
    for unit in units:
        for alt in sorted(unit.alternatives, key=len, reverse=True):
            if tuple(s.word for s in segs[pos : pos + len(alt)]) == alt:
                first, last = segs[pos], segs[pos + len(alt) - 1]
                spans[unit.token] = (offset + first.start * FRAME, offset + last.end * FRAME)
                pos += len(alt)
                break
        else:
            if not unit.guess:
                return None
    return spans if pos == len(segs) else None


def _chunks(units: Sequence[_Unit], tokens: Sequence[Token]) -> list[list[_Unit]]:
    """A few sentences' worth of words each, cut at a sentence end where there is one."""
    chunks: list[list[_Unit]] = [[]]
    for unit in units:
        current = chunks[-1]
        current.append(unit)
        text = tokens[unit.token].text.rstrip("\"')]”’")
        following = tokens[unit.token + 1] if unit.token + 1 < len(tokens) else None
        boundary = text.endswith((".", "?", "!", ";", ":")) or (
            following is not None and following.paragraph != tokens[unit.token].paragraph
        )
        if (len(current) >= 12 and boundary) or len(current) >= 40:
            chunks.append([])
    return [c for c in chunks if c]


def _align_chunked(
    decoder: Any,
    pcm: PCM,
    units: list[_Unit],
    tokens: Sequence[Token],
    progress: ProgressFn | None,
) -> dict[int, tuple[Fraction, Fraction]]:
    """Align a long transcript a chunk at a time. Each window holds the chunk and the one
    after it, and only the first chunk's times are kept: the next chunk's words soak up
    the speech that follows, so the kept words are not stretched over it when the window
    is longer than the chunk. A chunk that will not fit is left to interpolation."""
    levels = frame_level_db(pcm, RATE)
    speech = levels > _speech_threshold(levels)
    chars = {u.token: sum(len(w) for alt in u.alternatives[:1] for w in alt) + 1 for u in units}
    total_chars = sum(chars.values())
    n = len(pcm)
    spans: dict[int, tuple[Fraction, Fraction]] = {}
    chunks = _chunks(units, tokens)
    s_per_char = n / RATE / max(1, total_chars)
    cursor = 0  # samples
    done_chars = 0
    cmn: str | None = None
    for i, chunk in enumerate(chunks):
        pair = chunk + (chunks[i + 1] if i + 1 < len(chunks) else [])
        last = i + 1 == len(chunks)
        # From just before the next speech, so a long pause stays out of the window.
        start = max(cursor, _next_speech(speech, cursor) - RATE // 5)
        got = None
        for stretch in (1.5, 2.5):
            need = sum(chars[u.token] for u in pair) * s_per_char
            end = n if last else min(n, start + int((need * stretch + 2.0) * RATE))
            got = _align_window(decoder, pcm, start, end, pair, cmn)
            if got is None and not last:
                got = _align_window(decoder, pcm, start, end, chunk, cmn)
            if got is not None or end >= n:
                break
        kept = {u.token: got[u.token] for u in chunk if got and u.token in got}
        spans.update(kept)
        done_chars += sum(chars[u.token] for u in chunk)
        if kept:
            if cmn is None:
                # Later windows start from the first one's cepstral mean (a speech-rich
                # window) instead of their own: a window holding a long pause or noise
                # otherwise drew words into the pause before them (1 s early, measured).
                cmn = decoder.get_cmn(False)
            cursor = int(max(e for _, e in kept.values()) * RATE)
            spoken = Fraction(cursor, RATE)
            s_per_char = float(spoken) / max(1, done_chars)
        else:
            cursor = min(n, cursor + int(sum(chars[u.token] for u in chunk) * s_per_char * RATE))
        if progress:
            progress(min(1.0, done_chars / total_chars))
    return spans


def _speech_threshold(levels: np.ndarray) -> float:
    if len(levels) == 0:
        return 0.0
    floor = float(np.percentile(levels, 10))
    peak = float(np.percentile(levels, 95))
    return max(floor + 10.0, peak - 35.0)


def _next_speech(speech: np.ndarray, sample: int) -> int:
    frame = sample // (RATE // 100)
    ahead = np.flatnonzero(speech[frame:])
    return sample if len(ahead) == 0 else (frame + int(ahead[0])) * (RATE // 100)


def _utterances(pcm: PCM) -> list[tuple[int, int]]:
    """Sample ranges of at most MAX_UTTERANCE_S, cut at the quietest moment in the second
    half of each so a cut is unlikely to split a word."""
    n = len(pcm)
    limit = int(MAX_UTTERANCE_S * RATE)
    if n <= limit:
        return [(0, n)]
    hop = RATE // 100
    levels = frame_level_db(pcm, RATE)
    smooth = np.convolve(levels, np.ones(10) / 10, mode="same")
    pieces = []
    a = 0
    while n - a > limit:
        lo, hi = (a + limit // 2) // hop, (a + limit) // hop
        cut = (lo + int(np.argmin(smooth[lo:hi]))) * hop
        pieces.append((a, cut))
        a = cut
    pieces.append((a, n))
    return pieces


# --- placing the words -------------------------------------------------------------------


def _ms(t: Fraction) -> Fraction:
    return Fraction(round(t * 1000), 1000)


def _place(
    tokens: Sequence[Token],
    spans: dict[int, tuple[Fraction, Fraction]],
    placed: set[int],
    duration: Fraction,
) -> list[Word]:
    """Every token with a time: its own where aligned, else shared out between the
    neighbours' times in proportion to its length."""
    times: list[tuple[Fraction, Fraction] | None] = [spans.get(i) for i in range(len(tokens))]
    per_char = _seconds_per_char(tokens, spans)
    i = 0
    while i < len(tokens):
        if times[i] is not None:
            i += 1
            continue
        j = i
        while j < len(tokens) and times[j] is None:
            j += 1
        weights = [max(1, len(tokens[k].text)) for k in range(i, j)]
        prev_end = times[i - 1][1] if i > 0 and times[i - 1] else None  # type: ignore[index]
        next_start = times[j][0] if j < len(tokens) and times[j] else None  # type: ignore[index]
        need = per_char * sum(weights)
        lo = prev_end if prev_end is not None else max(Fraction(0), (next_start or 0) - need)
        hi = next_start if next_start is not None else min(duration, lo + need)
        lo, hi = min(max(lo, Fraction(0)), duration), min(max(hi, Fraction(0)), duration)
        hi = max(hi, lo)
        at = lo
        for k, w in zip(range(i, j), weights, strict=True):
            step = (hi - lo) * w / sum(weights)
            times[k] = (at, at + step)
            at += step
        i = j
    words = []
    previous = Fraction(0)
    for k, tok in enumerate(tokens):
        span = times[k]
        assert span is not None
        start = max(previous, min(_ms(span[0]), duration))
        end = max(start, min(_ms(span[1]), duration))
        previous = start
        words.append(
            Word(
                text=tok.text,
                start=start,
                end=end,
                speaker=tok.speaker,
                sound=tok.sound,
                aligned=k in placed,
                paragraph=tok.paragraph,
            )
        )
    return words


def _seconds_per_char(
    tokens: Sequence[Token], spans: dict[int, tuple[Fraction, Fraction]]
) -> Fraction:
    rates = sorted((e - s) / max(1, len(tokens[i].text)) for i, (s, e) in spans.items())
    return rates[len(rates) // 2] if rates else Fraction(7, 100)


# --- faster-whisper ----------------------------------------------------------------------


class FasterWhisperEngine:
    """Recognition with a local CTranslate2 Whisper model (``pip install faster-whisper``;
    the model folder holds model.bin, e.g. a download of Systran/faster-whisper-small).
    Alignment is not offered: Whisper's word times come from recognising, not from a given
    text; align with PocketSphinx."""

    name = "faster-whisper"

    def __init__(self, model_path: Path, device: str = "cpu", compute_type: str = "int8"):
        model_path = Path(model_path)
        if not (model_path / "model.bin").is_file():
            what = "does not exist" if not model_path.exists() else "has no model.bin"
            raise SpeechError(
                f"faster-whisper model folder {model_path} {what}: give the folder of a "
                "CTranslate2 Whisper model (with model.bin), e.g. Systran/faster-whisper-small"
            )
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise SpeechError(
                "the faster-whisper engine needs the faster-whisper package: "
                "pip install faster-whisper (into this project's environment)"
            ) from exc
        self.model_path = model_path
        self._model = WhisperModel(str(model_path), device=device, compute_type=compute_type)

    def recognize(self, wav: Path, lang: str, progress: ProgressFn | None = None) -> list[Word]:
        language = lang.split("-")[0].lower() or None
        segments, info = self._model.transcribe(str(wav), word_timestamps=True, language=language)
        duration = float(getattr(info, "duration", 0.0) or 0.0)
        words: list[Word] = []
        for segment in _iterate(segments):
            for w in segment.words or []:
                text = w.word.strip()
                if not text:
                    continue
                start = Fraction(w.start).limit_denominator(1000)
                end = max(start, Fraction(w.end).limit_denominator(1000))
                words.append(Word(text=text, start=start, end=end, confidence=float(w.probability)))
            if progress and duration > 0:
                progress(min(1.0, float(segment.end) / duration))
        return words

    def align(
        self, wav: Path, tokens: list[Token], progress: ProgressFn | None = None
    ) -> list[Word]:
        raise SpeechError(
            "faster-whisper does not align a given transcript here; align with pocketsphinx "
            f"({ENGINE_ENV}=pocketsphinx), or use faster-whisper to draft captions"
        )


def _iterate(segments: Any) -> Iterator[Any]:
    yield from segments


# --- choosing an engine ------------------------------------------------------------------


def make_engine(name: str | None = None, model: str | None = None) -> Engine:
    """The engine ``name`` (else $PIPELINE_ASR_ENGINE, else pocketsphinx), with ``model``
    (else $PIPELINE_ASR_MODEL) for engines that need one."""
    chosen = (name or os.environ.get(ENGINE_ENV) or "pocketsphinx").strip().lower()
    if chosen == "pocketsphinx":
        if model:
            raise SpeechError(
                "pocketsphinx uses the English model in its wheel and takes no model; "
                "a model folder is for faster-whisper"
            )
        return PocketSphinxEngine()
    if chosen in ("faster-whisper", "faster_whisper"):
        folder = model or os.environ.get(MODEL_ENV)
        if not folder:
            raise SpeechError(f"faster-whisper needs a model folder: give one, or set {MODEL_ENV}")
        return FasterWhisperEngine(Path(folder))
    raise SpeechError(
        f"unknown speech engine {chosen!r}: use pocketsphinx (offline English, the default) "
        "or faster-whisper (needs the package and a model folder)"
    )
