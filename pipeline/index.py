"""Index: write ``index.json``, the web team's contract, last and atomically."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

INDEX_FILE = "index.json"


@dataclass(frozen=True)
class IndexedOutput:
    case_id: str
    platform: str
    cut: str
    aspect: str
    width: int
    height: int
    fps: Fraction
    duration: Fraction
    bytes: int
    sha256: str
    url: str
    notes: tuple[str, ...] = ()
    captions: tuple[tuple[str, str, str], ...] = ()  # (lang, format, url)
    burned_captions: bool = False
    caption_lint: tuple[str, ...] = ()
    poster: dict[str, Any] | None = None  # url, width, height, bytes, webp_url, time_s
    cover: dict[str, Any] | None = None  # the platform's cover image, where it takes one
    end_card_s: float = 0.0
    # verify's findings: passed, loudness_lufs, true_peak_dbtp, normalization, failures, notes
    checks: dict[str, Any] | None = None


def schema() -> dict[str, Any]:
    text = resources.files("pipeline").joinpath("schemas/index.schema.json").read_text()
    return dict(json.loads(text))


def build_index(
    campaign: str,
    hashtag: str,
    case_studies: list[dict[str, str]],
    outputs: list[IndexedOutput],
    errors: dict[str, list[str]],
    pipeline_version: str,
    now: datetime | None = None,
    *,
    thumbnails: dict[str, list[dict[str, Any]]] | None = None,
    contact_sheets: dict[str, dict[str, Any] | None] | None = None,
    drafts: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    when = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    studies = []
    for cs in case_studies:
        outs = sorted(
            (o for o in outputs if o.case_id == cs["id"]),
            key=lambda o: (o.cut, o.platform, o.aspect),
        )
        errs = errors.get(cs["id"], [])
        status = "ok" if not errs else ("partial" if outs else "failed")
        studies.append(
            {
                "id": cs["id"],
                "title": cs["title"],
                "area": cs["area"],
                "description": cs.get("description", ""),
                "status": status,
                "errors": errs,
                "outputs": [
                    {
                        "platform": o.platform,
                        "cut": o.cut,
                        "aspect": o.aspect,
                        "width": o.width,
                        "height": o.height,
                        "fps": round(float(o.fps), 3),
                        "duration_s": round(float(o.duration), 3),
                        "bytes": o.bytes,
                        "sha256": o.sha256,
                        "url": o.url,
                        "content_type": "video/mp4",
                        "notes": list(o.notes),
                        "captions": [
                            {"lang": lang, "format": fmt, "url": url}
                            for lang, fmt, url in o.captions
                        ],
                        "burned_captions": o.burned_captions,
                        "caption_lint": {"warnings": list(o.caption_lint)},
                        "end_card_s": round(o.end_card_s, 3),
                        "poster": o.poster,
                        "cover": o.cover,
                        "checks": o.checks,
                    }
                    for o in outs
                ],
                "thumbnails": (thumbnails or {}).get(cs["id"], []),
                "contact_sheet": (contact_sheets or {}).get(cs["id"]),
                # `captions: auto`: recognised drafts awaiting review, next to the manifest;
                # not published, not in any output until the manifest names the reviewed file
                "draft_captions": (drafts or {}).get(cs["id"], []),
            }
        )
    return {
        "campaign": campaign,
        "hashtag": hashtag,
        "generated_at": when,
        "pipeline_version": pipeline_version,
        "case_studies": studies,
    }


def read_index(out_dir: Path, error: type[Exception], where: str, missing: str) -> dict[str, Any]:
    """The ``index.json`` a render wrote in ``out_dir``; ``error`` (naming ``where``) when it
    is missing (with ``missing``: what to do), unreadable, or not a pipeline index."""
    try:
        doc = json.loads((out_dir / INDEX_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"no {INDEX_FILE} in {where}: {missing}") from None
    except (OSError, ValueError) as exc:
        raise error(f"cannot read {INDEX_FILE} in {where}: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("case_studies"), list):
        raise error(f"{INDEX_FILE} in {where} is not a pipeline index (no case_studies)")
    return doc


def write_index(index: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / INDEX_FILE
    tmp = out_dir / f".{INDEX_FILE}.partial"
    tmp.write_text(json.dumps(index, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, target)
    return target
