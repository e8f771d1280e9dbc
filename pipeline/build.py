"""Run the stages in order for a whole campaign: manifest -> plan -> render -> verify ->
publish -> index. Each stage only reads what the previous one produced."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.captions.model import Track
from pipeline.captions.read import read_track
from pipeline.errors import CaptionError, SourceError
from pipeline.ffmpeg_run import ffmpeg_version
from pipeline.index import IndexedOutput, build_index, write_index
from pipeline.jobs import CutJob, OutputJob, Plan
from pipeline.manifest_load import Manifests, load_manifests
from pipeline.objects import content_type
from pipeline.plan import make_plan, needs_analysis
from pipeline.posters import Image, StillsResult, render_stills
from pipeline.probe import SourceInfo, probe
from pipeline.render import FAILED, OutputResult, render_plan
from pipeline.scene import SourceAnalysis
from pipeline.storage import LocalFolder
from pipeline.verify import verify_output

# Caches that are not outputs live beside the project, not in the output folder, so a run
# that stops at planning leaves the output folder untouched.
CACHE_DIR = ".pipeline-cache"

log = logging.getLogger(__name__)


def probe_sources(manifests: Manifests) -> dict[str, SourceInfo | SourceError]:
    """Probe every case study's source; a bad source is recorded, not raised."""
    cache = manifests.root / CACHE_DIR / "source-hashes.json"
    results: dict[str, SourceInfo | SourceError] = {}
    for loaded in manifests.case_studies:
        label = manifests.label(loaded.source_path)
        try:
            results[loaded.study.id] = probe(loaded.source_path, cache, label=label)
        except SourceError as exc:
            log.error("%s: source %s", loaded.study.id, exc)
            results[loaded.study.id] = exc
    return results


def read_captions(manifests: Manifests) -> dict[str, dict[str, Track] | CaptionError]:
    """Parse every case study's caption files; a broken file fails only its case study."""
    results: dict[str, dict[str, Track] | CaptionError] = {}
    for loaded in manifests.case_studies:
        tracks: dict[str, Track] = {}
        try:
            for lang, path in loaded.caption_paths().items():
                label = manifests.label(path)
                tracks[lang] = read_track(path, lang, label)
                for warning in tracks[lang].warnings:
                    log.warning("%s: %s", loaded.study.id, warning)
        except CaptionError as exc:
            log.error("%s: captions %s", loaded.study.id, exc)
            results[loaded.study.id] = exc
            continue
        results[loaded.study.id] = tracks
    return results


def analyze_sources(
    manifests: Manifests,
    sources: dict[str, SourceInfo | SourceError],
    on_progress: Callable[[str, float], None] | None = None,
) -> dict[str, SourceAnalysis]:
    """Find shots, faces and motion in every readable source, once per content hash.

    A source that probes but cannot be analysed is rendered with a centred crop (and a
    warning), not failed: the analysis only improves framing.
    """
    from pipeline.analyze import analyze  # OpenCV: only imported when needed

    cache = manifests.root / CACHE_DIR / "analysis"
    results: dict[str, SourceAnalysis] = {}
    wanted = needs_analysis(manifests)
    for case_id, info in sources.items():
        if isinstance(info, SourceError) or case_id not in wanted:
            continue

        def progress(done: float, case_id: str = case_id) -> None:
            if on_progress is not None:
                on_progress(case_id, done)

        try:
            results[case_id] = analyze(Path(info.path), info.sha256, cache, progress=progress)
        except SourceError as exc:
            log.warning("%s: cannot analyse the source for framing (%s); centring", case_id, exc)
    return results


def plan_campaign(
    manifest_dir: Path,
    root: Path | None = None,
    *,
    analyse: bool = True,
    on_analysis: Callable[[str, float], None] | None = None,
) -> tuple[Manifests, Plan]:
    """Load, probe, read captions, analyse (unless ``analyse`` is False: crops are then
    centred, which is enough to validate) and plan."""
    manifests = load_manifests(manifest_dir, root)
    sources = probe_sources(manifests)
    captions = read_captions(manifests)
    analyses = analyze_sources(manifests, sources, on_analysis) if analyse else {}
    plan = make_plan(
        manifests,
        sources,
        __version__,
        ffmpeg_version(),
        captions=captions,
        analyses=analyses,
        assets=brand_assets(manifests),
    )
    return manifests, plan


def brand_assets(manifests: Manifests) -> dict[str, str]:
    """sha256 of each brand file the campaign names (the loader has checked they exist):
    a new logo must re-render every end card."""
    from pipeline.render import sha256_file

    brand = manifests.campaign.campaign.brand
    folder = manifests.campaign.file.parent
    return {
        str((folder / rel).resolve()): sha256_file((folder / rel).resolve())
        for rel in (brand.logo, brand.font)
        if rel
    }


@dataclass
class Report:
    plan: Plan
    results: list[OutputResult] = field(default_factory=list)
    index_path: Path | None = None
    caption_lint: dict[str, tuple[str, ...]] = field(default_factory=dict)
    stills: list[StillsResult] = field(default_factory=list)
    # per output path, verify's ``checks`` (loudness figures, failures): the render summary's
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return (
            bool(self.plan.failed)
            or any(r.status == FAILED for r in self.results)
            or any(s.status == FAILED for s in self.stills)
        )


def render_campaign(
    manifests: Manifests,
    plan: Plan,
    *,
    workers: int = 1,
    force: bool = False,
    strict_captions: bool = False,
    on_start: Callable[[CutJob, tuple[OutputJob, ...], str], None] | None = None,
    on_progress: Callable[[str, float], None] | None = None,
    on_done: Callable[[CutJob, list[OutputResult]], None] | None = None,
    on_stills: Callable[[str, float], None] | None = None,
) -> Report:
    out_dir = manifests.output_dir
    results = render_plan(
        plan.jobs,
        out_dir,
        workers=workers,
        force=force,
        on_start=on_start,
        on_progress=on_progress,
        on_done=on_done,
    )

    # stills: posters, covers, thumbnails, contact sheets, for case studies with any video
    rendered = {r.job.case_id for r in results if r.status != FAILED}
    stills: list[StillsResult] = []
    for job in plan.stills:
        if job.case_id not in rendered:
            continue

        def progress(done: float, case_id: str = job.case_id) -> None:
            if on_stills is not None:
                on_stills(case_id, done)

        stills.append(render_stills(job, out_dir, force=force, progress=progress))

    # verify: a failed check fails the output and keeps it out of the index
    verified: list[OutputResult] = []
    lint: dict[str, tuple[str, ...]] = {}
    checks: dict[str, dict[str, Any]] = {}
    for r in results:
        if r.status != FAILED:
            check = verify_output(
                r.job,
                out_dir,
                strict_captions=strict_captions,
                normalization=r.normalization,
                loudness_note=r.loudness_note,
            )
            lint[r.job.path] = check.caption_warnings
            checks[r.job.path] = check.checks
            if not check.passed:
                r = replace(r, status=FAILED, reason="verify: " + "; ".join(check.failures))
        verified.append(r)

    # the local index: URLs relative to the output folder (``publish`` sends them elsewhere)
    storage = LocalFolder(out_dir)
    indexed: list[IndexedOutput] = []
    errors: dict[str, list[str]] = {f.case_id: [f.reason] for f in plan.failed}
    for s in stills:
        if s.status == FAILED:
            errors.setdefault(s.case_id, []).append(f"posters and thumbnails: {s.reason}")

    def put_image(img: Image | None) -> dict[str, Any] | None:
        if img is None:
            return None
        url = storage.put(out_dir / img.path, img.path, img.content_type)
        return {"url": url, "width": img.width, "height": img.height, "bytes": img.bytes}

    posters: dict[str, dict[str, Any]] = {}
    thumbnails: dict[str, list[dict[str, Any]]] = {}
    sheets: dict[str, dict[str, Any] | None] = {}
    for s in stills:
        if s.status == FAILED:
            continue
        for p in s.posters:
            entry = put_image(p.jpeg) or {}
            webp = put_image(p.webp) or {}
            entry["webp_url"] = webp.get("url", "")
            entry["time_s"] = round(p.time_s, 3)
            posters[p.output_path] = {"poster": entry, "cover": put_image(p.cover)}
        thumbnails[s.case_id] = [
            {"aspect": t.aspect, **(put_image(t.image) or {}), "time_s": round(t.time_s, 3)}
            for t in s.thumbnails
        ]
        sheets[s.case_id] = put_image(s.contact_sheet)
    for r in verified:
        if r.status == FAILED:
            errors.setdefault(r.job.case_id, []).append(f"{r.job.path}: {r.reason}")
            continue
        url = storage.put(out_dir / r.job.path, r.job.path, "video/mp4")
        o = r.job
        sidecars = [
            (track.lang, fmt, storage.put(out_dir / path, path, content_type(path)))
            for track in o.captions
            for fmt, path in track.files
        ]
        indexed.append(
            IndexedOutput(
                o.case_id,
                o.platform,
                o.cut,
                o.aspect,
                o.width,
                o.height,
                o.fps,
                r.duration,
                r.bytes,
                r.sha256,
                url,
                o.notes,
                tuple(sidecars),
                o.burn is not None,
                lint.get(o.path, ()),
                posters.get(o.path, {}).get("poster"),
                posters.get(o.path, {}).get("cover"),
                float(o.end_card.seconds) if o.end_card else 0.0,
                checks.get(o.path),
            )
        )

    # index, last
    camp = manifests.campaign.campaign
    index = build_index(
        camp.name,
        camp.hashtag,
        list(plan.case_studies),
        indexed,
        errors,
        __version__,
        thumbnails=thumbnails,
        contact_sheets=sheets,
    )
    report = Report(plan, verified, write_index(index, out_dir), lint, stills, checks)
    return report


def build_campaign(manifest_dir: Path, **kwargs: object) -> Report:
    manifests, plan = plan_campaign(manifest_dir)
    return render_campaign(manifests, plan, **kwargs)  # type: ignore[arg-type]
