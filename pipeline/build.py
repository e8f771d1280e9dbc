"""Run the stages in order for a whole campaign: manifest -> plan -> render -> verify ->
publish -> index. Each stage only reads what the previous one produced."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import __version__, review
from pipeline.captions.lint import strict_failures
from pipeline.captions.model import Track
from pipeline.captions.read import read_track
from pipeline.errors import CaptionError, SourceError, SpeechError
from pipeline.ffmpeg_run import ffmpeg_version
from pipeline.index import IndexedOutput, build_index, write_index
from pipeline.jobs import CutJob, DraftCaptions, OutputJob, Plan
from pipeline.manifest_load import Manifests, load_manifests
from pipeline.objects import content_type
from pipeline.plan import make_plan, needs_analysis
from pipeline.posters import Image, StillsResult, kept_stills, render_stills
from pipeline.probe import SourceInfo, probe
from pipeline.render import FAILED, KEPT, RENDERED, Lock, OutputResult, render_plan
from pipeline.scene import SourceAnalysis, cached_analysis
from pipeline.speech.captions import Draft, draft_captions, transcript_track
from pipeline.storage import LocalFolder

if TYPE_CHECKING:
    from pipeline.executors import Executor

    # verify (PyAV, FFmpeg's loudness meter) is imported when an output needs checking: a
    # run with nothing new reads every output's findings from the lock instead
    from pipeline.verify import CheckResult

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


TRANSCRIPT_SUFFIX = ".txt"  # a caption "file" that is a plain transcript, to be aligned


def read_captions(
    manifests: Manifests,
    sources: dict[str, SourceInfo | SourceError] | None = None,
    on_speech: Callable[[str, float], None] | None = None,
) -> tuple[dict[str, dict[str, Track] | CaptionError], dict[str, list[Draft]]]:
    """Every case study's caption tracks: timed files parsed, transcripts (.txt) aligned to
    the source's speech; and the drafts `auto` languages get by recognition (written next to
    the manifest, never a track). A broken file fails only its case study. ``on_speech``
    reports (case study, fraction done) while an engine runs."""
    results: dict[str, dict[str, Track] | CaptionError] = {}
    drafts: dict[str, list[Draft]] = {}
    cache = manifests.root / CACHE_DIR
    for loaded in manifests.case_studies:
        cid = loaded.study.id
        info = (sources or {}).get(cid)
        tracks: dict[str, Track] = {}

        def progress(done: float, cid: str = cid) -> None:
            if on_speech is not None:
                on_speech(cid, done)

        try:
            for lang, path in loaded.caption_paths().items():
                label = manifests.label(path)
                if path.suffix.lower() == TRANSCRIPT_SUFFIX:
                    if not isinstance(info, SourceInfo):
                        continue  # the source is missing: the case study fails for that
                    tracks[lang] = transcript_track(
                        path, lang, label, Path(info.path), info.sha256, cache, progress=progress
                    )
                else:
                    tracks[lang] = read_track(path, lang, label)
                for warning in tracks[lang].warnings:
                    log.warning("%s: %s", cid, warning)
            if isinstance(info, SourceInfo):
                for lang in loaded.auto_captions():
                    draft = draft_captions(
                        loaded.draft_path(lang),
                        lang,
                        Path(info.path),
                        info.sha256,
                        cache,
                        progress=progress,
                    )
                    drafts.setdefault(cid, []).append(draft)
        except (CaptionError, SpeechError) as exc:
            log.error("%s: captions %s", cid, exc)
            results[cid] = (
                exc
                if isinstance(exc, CaptionError)
                else CaptionError(manifests.label(loaded.file), None, str(exc))
            )
            continue
        results[cid] = tracks
    return results, drafts


def analyze_sources(
    manifests: Manifests,
    sources: dict[str, SourceInfo | SourceError],
    on_progress: Callable[[str, float], None] | None = None,
) -> dict[str, SourceAnalysis]:
    """Find shots, faces and motion in every readable source, once per content hash.

    A source that probes but cannot be analysed is rendered with a centred crop (and a
    warning), not failed: the analysis only improves framing.
    """
    cache = manifests.root / CACHE_DIR / "analysis"
    results: dict[str, SourceAnalysis] = {}
    wanted = needs_analysis(manifests)
    for case_id, info in sources.items():
        if isinstance(info, SourceError) or case_id not in wanted:
            continue
        found = cached_analysis(cache, info.sha256)
        if found is not None:  # without importing OpenCV and PyAV, or a progress bar
            results[case_id] = found
            continue
        from pipeline.analyze import analyze  # OpenCV: only imported when needed

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
    on_speech: Callable[[str, float], None] | None = None,
) -> tuple[Manifests, Plan]:
    """Load, probe, read captions (aligning transcripts and drafting `auto` captions),
    analyse (unless ``analyse`` is False: crops are then centred, which is enough to
    validate) and plan."""
    manifests = load_manifests(manifest_dir, root)
    sources = probe_sources(manifests)
    captions, drafts = read_captions(manifests, sources, on_speech)
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
    planned_drafts = tuple(
        DraftCaptions(cid, d.lang, manifests.label(d.path), d.cues, d.words, d.engine, d.kept)
        for cid, ds in drafts.items()
        for d in ds
    )
    return manifests, replace(plan, drafts=planned_drafts)


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
    only: Collection[str] | None = None,
    on_start: Callable[[CutJob, tuple[OutputJob, ...], tuple[str, ...]], None] | None = None,
    on_progress: Callable[[str, float], None] | None = None,
    on_done: Callable[[CutJob, list[OutputResult]], None] | None = None,
    on_stills: Callable[[str, float], None] | None = None,
    on_running: Callable[[CutJob, str], None] | None = None,
    executor: Executor | None = None,
) -> Report:
    """Render, verify and index the plan. ``only``: the case studies to render (``render
    --changed-since``); the others are left as they are, and their outputs that are on disk
    stay in the index, stale or not (``KEPT``)."""
    out_dir = manifests.output_dir
    why: dict[str, str] = {}

    def started(job: CutJob, outs: tuple[OutputJob, ...], reasons: tuple[str, ...]) -> None:
        why.update(zip((o.path for o in outs), reasons, strict=True))
        if on_start is not None:
            on_start(job, outs, reasons)

    selected = [j for j in plan.jobs if only is None or j.case_id in only]
    results = render_plan(
        selected,
        out_dir,
        workers=workers,
        force=force,
        on_start=started,
        on_progress=on_progress,
        on_done=on_done,
        on_running=on_running,
        executor=executor,  # where the jobs run (pipeline.executors); default a local pool
    )
    # a rendered output says why it was rendered
    results = [
        replace(r, reason=why.get(r.job.path, "")) if r.status == RENDERED and not r.reason else r
        for r in results
    ]
    lock = Lock(out_dir)  # as render_plan left it
    left = [j for j in plan.jobs if only is not None and j.case_id not in only]
    for cut_job in left:
        for out in cut_job.outputs:
            kept = lock.kept_result(out, out_dir)
            if kept is not None:
                results.append(kept)

    # stills: posters, covers, thumbnails, contact sheets, for case studies with any video
    rendered = {r.job.case_id for r in results if r.status != FAILED}
    stills: list[StillsResult] = []
    for job in plan.stills:
        if job.case_id not in rendered:
            continue
        if only is not None and job.case_id not in only:
            kept_images = kept_stills(job, out_dir)
            if kept_images is not None:
                stills.append(kept_images)
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
            found = _verified(r, out_dir, lock)
            failures = list(found["failures"])
            if strict_captions:
                failures += strict_failures(found["caption_warnings"])
            lint[r.job.path] = tuple(found["caption_warnings"])
            checks[r.job.path] = {**found["checks"], "passed": not failures, "failures": failures}
            if failures:
                r = replace(r, status=FAILED, reason="verify: " + "; ".join(failures))
        verified.append(r)
    if lock.dirty:
        lock.save()

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
        drafts=_drafts_for_index(plan),
    )
    # the review pages show what the index lists; written first, so index.json stays last
    review.write(index, out_dir)
    report = Report(plan, verified, write_index(index, out_dir), lint, stills, checks)
    return report


def _drafts_for_index(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for d in plan.drafts:
        found.setdefault(d.case_id, []).append(
            {
                "lang": d.lang,
                "draft": True,
                "file": d.file,
                "cues": d.cues,
                "words": d.words,
                "engine": d.engine,
                "edited": d.kept,
            }
        )
    return found


def verify_output(out: OutputJob, out_dir: Path, **kwargs: Any) -> CheckResult:
    """``pipeline.verify.verify_output``, imported on first use."""
    from pipeline.verify import verify_output as verify

    return verify(out, out_dir, **kwargs)


def _verified(r: OutputResult, out_dir: Path, lock: Lock) -> dict[str, Any]:
    """Verify's findings for a rendered or current output, without ``--strict-captions``
    (the caller adds those): from the lock when its file was checked before and has not
    changed since (a verify reads the whole file and runs FFmpeg's loudness meter on it);
    else checked now, and kept in the lock for the next run."""
    if r.status != RENDERED:
        cached = lock.check_for(r.job, out_dir, any_key=r.status == KEPT)
        if cached is not None:
            return dict(cached)
    check = verify_output(
        r.job, out_dir, normalization=r.normalization, loudness_note=r.loudness_note
    )
    found = {
        "failures": list(check.failures),
        "caption_warnings": list(check.caption_warnings),
        "checks": check.checks,
    }
    lock.record_check(r.job, out_dir, found)
    return found


def build_campaign(manifest_dir: Path, **kwargs: object) -> Report:
    manifests, plan = plan_campaign(manifest_dir)
    return render_campaign(manifests, plan, **kwargs)  # type: ignore[arg-type]
