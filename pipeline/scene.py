"""What the analysis of a source found: shot changes, faces and salient regions over time.

Plain frozen values, so the plan can stay pure: ``analyze`` makes them (and caches them as
JSON by the source's content hash), ``reframe`` turns them into crop paths. Boxes are
fractions of the displayed picture (after rotation, in square pixels), so they do not
depend on the resolution the analysis ran at. Times are seconds of source time, counted
from the start of the file, the same clock as a manifest's cut points.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Bump when the analysis would find something different for the same bytes: it is part of
# the cache key, and of every output key through the crop path it produces.
ANALYSIS_VERSION = 1
# How ``analyze`` samples a source unless told otherwise: frames a second, and the width
# they are scaled to. ``cached_analysis`` looks for a result made with these.
SAMPLE_FPS = 5.0
SAMPLE_WIDTH = 480


@dataclass(frozen=True)
class Box:
    """A rectangle as fractions of the picture: x, y of the top-left corner, width, height."""

    x: float
    y: float
    w: float
    h: float
    score: float = 1.0  # detector confidence (faces) or saliency strength, 0..1

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def area(self) -> float:
        return self.w * self.h


@dataclass(frozen=True)
class Sample:
    """One analysed frame."""

    t: float  # source seconds
    faces: tuple[Box, ...]
    salient: Box | None  # where motion or visual contrast concentrates; None if flat


@dataclass(frozen=True)
class SourceAnalysis:
    sha256: str
    duration: float
    sample_fps: float
    width: int  # the displayed picture size the analysis saw, before its own downscale
    height: int
    shots: tuple[float, ...]  # source time of the first frame of each shot after the first
    samples: tuple[Sample, ...]
    seconds: float = 0.0  # wall time the analysis took (not part of what it found)
    version: int = ANALYSIS_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> SourceAnalysis:
        samples = tuple(
            Sample(
                t=float(s["t"]),
                faces=tuple(Box(**f) for f in s["faces"]),
                salient=Box(**s["salient"]) if s.get("salient") else None,
            )
            for s in data["samples"]
        )
        return SourceAnalysis(
            sha256=str(data["sha256"]),
            duration=float(data["duration"]),
            sample_fps=float(data["sample_fps"]),
            width=int(data["width"]),
            height=int(data["height"]),
            shots=tuple(float(t) for t in data["shots"]),
            samples=samples,
            seconds=float(data.get("seconds", 0.0)),
            version=int(data.get("version", 0)),
        )


def cache_path(cache_dir: Path, sha256: str, width: int = SAMPLE_WIDTH) -> Path:
    """Where ``pipeline.analyze`` keeps the analysis of the source with this content hash."""
    # the analysis width changes what is found, so it is part of the name
    return cache_dir / f"analysis-{sha256[:20]}-w{width}-v{ANALYSIS_VERSION}.json"


def read_cached(path: Path, sha256: str, sample_fps: float) -> SourceAnalysis | None:
    """The stored analysis at ``path`` if it is of these bytes, by this version, at this
    sample rate; else None (an unreadable file is ignored with a warning)."""
    try:
        found = SourceAnalysis.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("ignoring unreadable analysis cache %s: %s", path.name, exc)
        return None
    # The file name holds hash and version; the sample rate is a parameter it does not hold.
    if (
        found.sha256 != sha256
        or found.version != ANALYSIS_VERSION
        or not math.isclose(found.sample_fps, sample_fps)
    ):
        return None
    return found


def cached_analysis(
    cache_dir: Path, sha256: str, *, sample_fps: float = SAMPLE_FPS, width: int = SAMPLE_WIDTH
) -> SourceAnalysis | None:
    """What ``analyze`` would return from its cache for these defaults, without importing
    it (OpenCV, PyAV, numpy): a run whose sources were all analysed before needs none."""
    return read_cached(cache_path(cache_dir, sha256, width), sha256, sample_fps)
