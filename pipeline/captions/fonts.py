"""The caption font: shipped by a PyPI package, so a render never depends on which fonts a
machine happens to have.

Source Sans Pro (SIL OFL 1.1, from the ``font-source-sans-pro`` wheel) covers Latin with
Welsh (ŵ ŷ, ẁ ẃ ẅ ỳ), Vietnamese, Greek, Cyrillic and ♪; it has no Arabic, Hebrew, Indic or
CJK. Lato's wheel was rejected: its Lato 1.x files lack ŵ and ŷ. Semibold rather than
Regular: thin strokes break up when a 1080p frame is scaled down on a phone.
"""

from __future__ import annotations

import os
import shutil
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pipeline.captions.model import Cue
from pipeline.timecode import format_timestamp

FONT_PACKAGE = "font_source_sans_pro"
FONT_FILE = "SourceSansPro-Semibold.ttf"


def font_file() -> Path:
    """The TrueType file libass renders captions with."""
    path = Path(str(resources.files(FONT_PACKAGE) / "files" / FONT_FILE))
    if not path.is_file():
        raise FileNotFoundError(
            f"caption font {FONT_FILE} missing from the {FONT_PACKAGE} package at {path}: "
            "reinstall the pipeline's dependencies (pip install -e .)"
        )
    return path


def fonts_folder(parent: Path) -> Path:
    """Where ``fonts_dir`` puts the caption font, without creating it (for printed commands)."""
    return parent / "caption-fonts"


def fonts_dir(parent: Path) -> Path:
    """A folder holding only the caption font, to hand FFmpeg's ``ass`` filter as
    ``fontsdir``: ``parent / "caption-fonts"``, filled on first use.

    Not the package's own folder: libass loads every file in a fonts folder, and that one
    holds 24 fonts (each weight twice, TTF and OTF, the same family names) and a licence
    file it warns it cannot open, on every render.
    """
    src = font_file()
    folder = fonts_folder(parent)
    dest = folder / src.name
    if not (dest.is_file() and dest.stat().st_size == src.stat().st_size):
        folder.mkdir(parents=True, exist_ok=True)
        # Copy under a private name beside the folder (libass would try to load it inside),
        # then rename: parallel renders may fill it at once and none may see half a font.
        tmp = parent / f".{src.name}.{os.getpid()}.tmp"
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    return folder


@dataclass(frozen=True)
class _Metrics:
    family: str
    advances: dict[int, float]  # code point -> advance width in em
    em_per_size: float  # em size per unit of ASS Fontsize


@lru_cache(maxsize=1)
def _metrics() -> _Metrics:
    from fontTools.ttLib import TTFont

    font = TTFont(str(font_file()), lazy=True)
    try:
        # Name ID 1, the legacy family ("Source Sans Pro Semibold"): the name libass matches
        # a style's Fontname against, so the ASS style can ask for this weight by name.
        family = font["name"].getDebugName(1)
        cmap = font.getBestCmap()
        upem = font["head"].unitsPerEm
        hmtx = font["hmtx"]
        advances = {cp: hmtx[glyph][0] / upem for cp, glyph in cmap.items()}
        # libass sizes a font so that its Windows ascent plus descent equal the Fontsize.
        os2 = font["OS/2"]
        em_per_size = upem / (os2.usWinAscent + os2.usWinDescent)
    finally:
        font.close()
    if not family or not cmap:
        raise ValueError(f"{font_file()} has no family name or no Unicode character map")
    return _Metrics(family, advances, em_per_size)


def font_family() -> str:
    """The family name to put in the ASS style's ``Fontname``."""
    return _metrics().family


def text_width(text: str, font_px: float) -> float:
    """Width in pixels of ``text`` set in the caption font at ASS Fontsize ``font_px``.

    Advance widths without kerning (which only ever tightens Latin text a little); a
    character the font lacks counts as a full em, the width of a CJK ideograph, the widest
    thing a fallback font is likely to draw.
    """
    m = _metrics()
    em = sum(m.advances.get(ord(ch), 1.0) for ch in text)
    return em * m.em_per_size * font_px


def _needs_glyph(ch: str) -> bool:
    # Whitespace and control characters are never drawn (to_ass turns them into spaces or
    # drops them), so a font without them is not missing anything.
    return not ch.isspace() and unicodedata.category(ch) != "Cc"


def missing_glyphs(text: str) -> set[str]:
    """Characters of ``text`` the caption font cannot draw.

    libass then looks for another font on the system (fontconfig): Arabic came out in
    DejaVu Sans on the development machine, CJK as empty boxes. Callers warn, naming these
    characters.
    """
    advances = _metrics().advances
    return {ch for ch in text if _needs_glyph(ch) and ord(ch) not in advances}


def describe_glyph(ch: str) -> str:
    """``'م' U+0645 ARABIC LETTER MEEM``: a character a reader can find again."""
    name = unicodedata.name(ch, "unnamed")
    return f"{ch!r} U+{ord(ch):04X} {name}"


def glyph_warnings(cues: Iterable[Cue], label: str, limit: int = 8) -> tuple[str, ...]:
    """One warning naming the characters the caption font lacks (the first ``limit`` of
    them, in order of appearance) and the first cue that uses them; empty when all render."""
    seen: dict[str, Cue] = {}
    for cue in cues:
        for ch in sorted(missing_glyphs(cue.text + (cue.speaker or "")), key=cue.text.find):
            seen.setdefault(ch, cue)
    if not seen:
        return ()
    first = min(seen.values(), key=lambda c: c.start)
    where = f" (line {first.source_line})" if first.source_line is not None else ""
    shown = ", ".join(describe_glyph(ch) for ch in list(seen)[:limit])
    more = f" and {len(seen) - limit} more" if len(seen) > limit else ""
    return (
        f"{label}: the caption font {font_family()} has no glyph for {len(seen)} "
        f"character{'s' if len(seen) != 1 else ''}: {shown}{more}; first used at "
        f"{format_timestamp(first.start)}{where}. Burned-in captions will show them in a system "
        "fallback font if the machine has one, otherwise as empty boxes; the sidecar files "
        "are unaffected",
    )
