"""Captions from speech, for the planner: a transcript aligned to the source's audio
becomes a caption track like any timed file; `auto` recognises the speech into a draft file
next to the manifest, for review.

Both run on the whole source's audio (extracted once per source, ``speech.audio``), so
their cues are on the source's timeline and go through each cut's retiming like a caption
file's. Results are cached by what they depend on (the source's content hash, the
transcript's bytes, the engine), so a render with nothing changed runs no engine at all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.captions.model import Track
from pipeline.errors import SpeechError
from pipeline.speech.model import Word

if TYPE_CHECKING:
    from pipeline.speech.engines import Engine

log = logging.getLogger(__name__)

# Bump when alignment, recognition or the word-to-cue rules change what they produce.
SPEECH_VERSION = "1"
DRAFT_NOTE = (
    "NOTE\nDraft captions made by speech recognition ({engine}). Review and correct them, "
    "then name this file under captions: in the manifest instead of auto.\n\n"
)

Progress = Callable[[float], None]


@dataclass(frozen=True)
class Draft:
    """A case study's draft captions in one language, written for review."""

    lang: str
    path: Path
    cues: int
    words: int
    engine: str
    kept: bool  # the file on disk was edited by hand since it was drafted: left as it is


def _engine(engine: Engine | None) -> Engine:
    if engine is not None:
        return engine
    from pipeline.speech.engines import make_engine

    return make_engine(None, None)


def _engine_name(engine: Engine | None) -> str:
    if engine is not None:
        return engine.name
    return os.environ.get("PIPELINE_ASR_ENGINE", "pocketsphinx")


def _key(*parts: str) -> str:
    return hashlib.sha256("\n".join((SPEECH_VERSION, *parts)).encode()).hexdigest()[:32]


def _save(path: Path, words: list[Word], notes: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "words": [
            {
                "text": w.text,
                "start": str(w.start),
                "end": str(w.end),
                "speaker": w.speaker,
                "sound": w.sound,
                "aligned": w.aligned,
                "paragraph": w.paragraph,
                "confidence": w.confidence,
            }
            for w in words
        ],
        "notes": notes,
    }
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)


def _load(path: Path) -> tuple[list[Word], list[str]] | None:
    try:
        doc: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    words = [
        Word(
            w["text"],
            Fraction(w["start"]),
            Fraction(w["end"]),
            w["speaker"],
            w["sound"],
            w["aligned"],
            w["paragraph"],
            w["confidence"],
        )
        for w in doc["words"]
    ]
    return words, list(doc["notes"])


def transcript_track(
    transcript: Path,
    lang: str,
    label: str,
    source: Path,
    source_sha256: str,
    cache: Path,
    *,
    engine: Engine | None = None,
    progress: Progress | None = None,
) -> Track:
    """The transcript's words aligned to the source's speech and grouped into cues by the
    caption rules; words the engine could not place are interpolated and each is named in
    the track's warnings."""
    from pipeline.speech.cues import words_to_cues
    from pipeline.speech.transcript import read_transcript

    tokens = read_transcript(transcript, label)
    digest = hashlib.sha256(transcript.read_bytes()).hexdigest()
    stored = cache / "speech" / f"align-{_key(source_sha256, digest, _engine_name(engine))}.json"
    found = _load(stored)
    if found is None:
        from pipeline.speech.align import align_tokens
        from pipeline.speech.audio import speech_audio

        aligner = _engine(engine)
        check = getattr(aligner, "check_language", None)
        if check is not None:  # the engine's model is of one language
            check(lang)
        wav = speech_audio(source, source_sha256, cache / "speech")
        try:
            words, notes = align_tokens(aligner, wav, tokens, progress)
        except SpeechError as exc:  # name the files the user knows, not the cached audio
            raise SpeechError(f"{label}: {str(exc).replace(wav.name, source.name)}") from None
        _save(stored, words, notes)
    else:
        words, notes = found
    cues = words_to_cues(words)
    placed = sum(w.aligned for w in words if not w.sound)
    spoken = sum(not w.sound for w in words)
    log.info("%s: %d of %d words aligned, %d cues", label, placed, spoken, len(cues))
    return Track(lang, label, tuple(cues), tuple(f"{label}: {n}" for n in notes))


def draft_captions(
    draft: Path,
    lang: str,
    source: Path,
    source_sha256: str,
    cache: Path,
    *,
    engine: Engine | None = None,
    progress: Progress | None = None,
) -> Draft:
    """Recognise the source's speech into ``draft`` (WebVTT, marked as a draft). A draft
    edited by hand since the pipeline wrote it is never overwritten."""
    from pipeline.captions.sidecar import to_webvtt
    from pipeline.speech.cues import words_to_cues

    name = _engine_name(engine)
    stored = cache / "speech" / f"draft-{_key(source_sha256, lang, name)}.json"
    found = _load(stored)
    if found is None:
        from pipeline.speech.audio import speech_audio

        wav = speech_audio(source, source_sha256, cache / "speech")
        words = _engine(engine).recognize(wav, lang, progress)
        _save(stored, words, [])
    else:
        words, _ = found
    cues = words_to_cues(words)
    body = to_webvtt(cues).removeprefix("WEBVTT").lstrip("\n")
    text = "WEBVTT\n\n" + DRAFT_NOTE.format(engine=name) + body
    # the hash of what was last written there: a file that matches neither it nor the new
    # draft was edited by hand
    written = cache / "speech" / f"written-{hashlib.sha256(str(draft).encode()).hexdigest()[:16]}"
    new = hashlib.sha256(text.encode()).hexdigest()
    current = hashlib.sha256(draft.read_bytes()).hexdigest() if draft.is_file() else None
    ours = written.read_text().strip() if written.is_file() else ""
    kept = current is not None and current not in (ours, new)
    if not kept:
        if current != new:  # unchanged drafts are not rewritten on every render
            tmp = draft.with_name(f".{draft.name}.partial")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, draft)
        if ours != new:
            written.parent.mkdir(parents=True, exist_ok=True)
            written.write_text(new)
    return Draft(lang, draft, len(cues), sum(not w.sound for w in words), name, kept)


__all__ = ["DRAFT_NOTE", "Draft", "draft_captions", "transcript_track"]
