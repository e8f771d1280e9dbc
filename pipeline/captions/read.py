"""Read one language's WebVTT or SRT file into the shared cue model.

Real caption files bend both specs, so the reader is lenient where the meaning is still
clear (byte-order marks, CRLF, UTF-16, missing cue numbers, short or millisecond-less
timestamps, a cue with no blank line before the next, markup of every kind) and strict
where guessing would put wrong words on screen at the wrong time: those raise
``CaptionError`` naming the file and line. We scan lines ourselves rather than through
webvtt-py because every message must name its line and webvtt-py quietly folds a cue
without a timing line into the one before; the tests use webvtt-py as an oracle instead.
"""

from __future__ import annotations

import codecs
import html
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from pipeline.captions.model import Cue, Track
from pipeline.captions.sidecar import clock
from pipeline.errors import CaptionError

# UTF-32 first: its little-endian mark starts with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# WebVTT's line terminators; str.splitlines() would also split on form feeds and U+2028.
_NEWLINE = re.compile(r"\r\n|\r|\n")
_HEADER = re.compile(r"WEBVTT(?:[ \t].*)?")
# hh:mm:ss.mmm with hours optional, one-digit fields and "," or "." allowed, ms optional.
_TIMESTAMP = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[.,](\d+))?")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?(?:[ \t]+([^>]*))?>")
# In WebVTT every "<" opens a tag (a literal one is written &lt;); only tag-like ones are
# removed so a stray "2<3" survives. Timestamp tags (karaoke) start with a digit.
_VTT_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<\d[\d:.]*>")
# SRT has no escaping, so only the tags players honour are markup; "<3" stays text.
_SRT_TAG = re.compile(r"</?(?:b|i|u|s|font|c|v|lang|ruby|rt)(?:[.\s][^<>]*)?>|<\d[\d:.]*>", re.I)
# ASS override blocks such as {\an8} (position) that many SRT players obey.
_ASS_OVERRIDE = re.compile(r"\{\\[^{}]*\}")
_SPACES = re.compile(r"[ \t]+")
_PREFIX = re.compile(r"([^\W\d_][\w .'’-]*?)[ \t]*:(?:[ \t]+|$)(.*)")
_NOTE = re.compile(r"\[[^\[\]]*\]|\([^()]*\)|♪[^♪]*♪|♪+")
_EXPECTED = "expected hh:mm:ss.mmm"


@dataclass
class _Scan:
    label: str
    lines: list[str]
    srt: bool
    cues: list[Cue]
    warnings: list[str]


def read_track(path: Path, lang: str, label: str) -> Track:
    """Read ``path`` (label names it in messages); format from content, then extension."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CaptionError(label, None, f"cannot read the caption file: {exc.strerror}") from exc
    return read_text(_decode(data, label), lang, label, path.suffix)


def read_text(text: str, lang: str, label: str, suffix: str = "") -> Track:
    """Parse caption text: WebVTT if it starts with ``WEBVTT``, else SRT rules.

    A ``.vtt`` suffix demands the header, so a mislabelled file is caught, not guessed at.
    """
    lines = _NEWLINE.split(text.removeprefix("\ufeff"))
    vtt = bool(_HEADER.fullmatch(lines[0]))
    if not vtt and suffix.lower() == ".vtt":
        found = lines[0][:40]
        raise CaptionError(label, 1, f"no WEBVTT header: a .vtt must start 'WEBVTT', not {found!r}")
    scan = _Scan(label, lines, srt=not vtt, cues=[], warnings=[])
    _scan(scan, _skip_header(lines) if vtt else 0)
    if not scan.cues:
        scan.warnings.append(f"{label}: no cues")
    cues = sorted(scan.cues, key=lambda c: c.start)  # stable: ties keep file order
    return Track(lang=lang, source=label, cues=tuple(cues), warnings=tuple(scan.warnings))


def _decode(data: bytes, label: str) -> str:
    encoding = "utf-8"
    for bom, name in _BOMS:
        if data.startswith(bom):
            data, encoding = data[len(bom) :], name
            break
    else:
        if b"\x00" in data[:200]:
            raise CaptionError(
                label, None, "looks like UTF-16 without a byte-order mark; save it as UTF-8"
            )
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1 if encoding == "utf-8" else None
        raise CaptionError(
            label, line, f"not valid {encoding.upper()} text ({exc.reason}); save it as UTF-8"
        ) from exc


def _skip_header(lines: list[str]) -> int:
    """Index after the header block (Kind:, Language:, old-style Region: lines, ...)."""
    i = 1
    while i < len(lines) and lines[i].strip() and "-->" not in lines[i]:
        i += 1
    return i


def _is_meta_block(head: str) -> bool:
    return head in ("STYLE", "REGION") or head == "NOTE" or head.startswith(("NOTE ", "NOTE\t"))


def _scan(scan: _Scan, i: int) -> None:
    lines, n = scan.lines, len(scan.lines)
    while i < n:
        head = lines[i].strip()
        if not head:
            i += 1
            continue
        if not scan.srt and "-->" not in head and _is_meta_block(head):
            while i < n and lines[i].strip():
                i += 1
            continue
        if "-->" in head:
            timing = i
        elif i + 1 < n and "-->" in lines[i + 1]:
            timing = i + 1  # a cue number or WebVTT identifier comes first
        elif head.isdigit() and i + 1 < n:
            found = lines[i + 1].strip()
            raise CaptionError(
                scan.label, i + 2, f"cue {head} has no timing line ('start --> end'): {found!r}"
            )
        else:
            raise CaptionError(
                scan.label, i + 1, f"text outside any cue (no timing line before it): {head!r}"
            )
        start, end = _timing(scan.label, timing + 1, lines[timing])
        i = timing + 1
        payload: list[str] = []
        while i < n and lines[i].strip() and "-->" not in lines[i]:
            payload.append(lines[i])
            i += 1
        if i < n and payload and payload[-1].strip().isdigit():
            # No blank line before the next cue: its number was read as our last line.
            payload.pop()
            i -= 1
        _add(scan, timing + 1, start, end, payload)


def _timestamp(text: str) -> Fraction | None:
    match = _TIMESTAMP.fullmatch(text)
    if not match:
        return None
    hours, minutes, seconds, frac = match.groups()
    if int(minutes) > 59 or int(seconds) > 59:
        return None
    t = Fraction(int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds))
    if frac:
        t += Fraction(int(frac), 10 ** len(frac))
    return t


def _timing(label: str, line_no: int, line: str) -> tuple[Fraction, Fraction]:
    left, _, right = line.partition("-->")
    # After the end time come WebVTT cue settings or SRT X1:/Y2: coordinates: ignored.
    words = [left.strip(), *right.split()[:1]]
    times = [_timestamp(word) for word in words]
    if len(words) < 2:
        raise CaptionError(label, line_no, f"timing line has no end time ({_EXPECTED})")
    for word, t in zip(words, times, strict=True):
        if t is None:
            raise CaptionError(label, line_no, f"unparseable timestamp {word!r} ({_EXPECTED})")
    start, end = (t or Fraction(0) for t in times)
    if end < start:
        raise CaptionError(
            label, line_no, f"cue ends at {clock(end)}, before it starts at {clock(start)}"
        )
    return start, end


def _add(scan: _Scan, line_no: int, start: Fraction, end: Fraction, payload: list[str]) -> None:
    where = f"{scan.label}:{line_no}: cue at {clock(start)}"
    if start == end:
        scan.warnings.append(f"{where} has zero length; dropped")
        return
    lines, speaker = _plain_lines(payload, scan.srt)
    if not lines:
        scan.warnings.append(f"{where} has no text; dropped")
        return
    if speaker is None and scan.srt:
        lines, speaker = _srt_speaker(lines)
    cue = Cue(start, end, tuple(lines), speaker, _is_sound(" ".join(lines)), line_no)
    scan.cues.append(cue)


def _plain_lines(payload: list[str], srt: bool) -> tuple[list[str], str | None]:
    """Markup removed; the speaker when every voice span in the cue names the same one."""
    text = "\n".join(payload)
    names = [m.group(1).strip() for m in _VOICE.finditer(text) if (m.group(1) or "").strip()]
    if not srt:
        names = [html.unescape(name) for name in names]
    distinct = list(dict.fromkeys(names))

    def voice(match: re.Match[str]) -> str:
        # Several voices in one cue: no single speaker, so keep who says what in the text.
        name = (match.group(1) or "").strip()
        if len(distinct) > 1 and name:
            return f"{html.unescape(name) if not srt else name}: "
        return ""

    text = _VOICE.sub(voice, text)
    if srt:
        text = _SRT_TAG.sub("", _ASS_OVERRIDE.sub("", text))
    else:
        text = html.unescape(_VTT_TAG.sub("", text))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return [line for line in lines if line], distinct[0] if len(distinct) == 1 else None


def _prefix(line: str) -> tuple[str, str] | None:
    """``NAME: text`` when NAME is upper case or one capitalised word (``Rhodri: text``)."""
    match = _PREFIX.fullmatch(line)
    if not match:
        return None
    name, rest = match.group(1).strip(), match.group(2)
    words = name.split()
    # Caseless scripts (Arabic, CJK) never qualify: a colon there says nothing about names.
    upper = name == name.upper() and any(c.isupper() for c in name)
    upper = upper and len(words) <= 4 and len(name) <= 32
    capitalised = len(words) == 1 and name[0].isupper() and name[1:].islower()
    return (name, rest) if upper or capitalised else None


def _srt_speaker(lines: list[str]) -> tuple[list[str], str | None]:
    first = _prefix(lines[0])
    if first is None:
        return lines, None
    name = first[0]
    prefixes = [_prefix(line) for line in lines]
    if any(p is not None and p[0] != name for p in prefixes):
        return lines, None  # two people in one cue: leave their names in the text
    kept = [p[1] if p else line for p, line in zip(prefixes, lines, strict=True)]
    kept = [line for line in kept if line]
    return (kept, name) if kept else (lines, None)


def _is_sound(text: str) -> bool:
    """Wholly non-speech: [music], (laughter), ♪ ... ♪, or only such notes."""
    return bool(_NOTE.search(text)) and not _NOTE.sub("", text).strip(" .,;:!?-–—")
