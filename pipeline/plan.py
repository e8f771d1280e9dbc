"""Plan: manifests + probed sources -> fully determined jobs. Pure: no disk, no subprocess.

One ``CutJob`` per (case study, cut): one FFmpeg process decodes that cut once and splits it
into every output that uses it. Every cut point is snapped to the source's frame grid here,
and every duration is a whole number of output frames, so joins never drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, replace
from fractions import Fraction
from typing import Any

from pipeline.captions.model import Track
from pipeline.errors import CaptionError, PlanError, Problem, SourceError
from pipeline.framing import CropWindow
from pipeline.jobs import (
    CutJob,
    Encode,
    EndCard,
    FailedCase,
    KeyParts,
    OutputJob,
    Plan,
    PosterJob,
    SegmentSpan,
    StillsCut,
    StillsJob,
    cut_key,
    digest,
)
from pipeline.manifest import FramingRange, Output
from pipeline.manifest_load import LoadedCaseStudy, Manifests
from pipeline.plan_captions import plan_captions
from pipeline.probe import SourceInfo
from pipeline.profiles import PROFILES, PlatformProfile
from pipeline.reframe import Framing, Override, frame_output
from pipeline.scene import ANALYSIS_VERSION, SourceAnalysis
from pipeline.settings import resolve
from pipeline.timecode import format_timestamp, snap

STANDARD_RATES = tuple(
    Fraction(r) for r in ("24000/1001", "24", "25", "30000/1001", "30", "50", "60000/1001", "60")
)


def conform_rate(fps: Fraction) -> Fraction:
    """The constant rate to render a source at: the standard rate it is within 1% of
    (containers often report 29.97 as 989/33 or 2997/100), else the nearest whole rate."""
    nearest = min(STANDARD_RATES, key=lambda r: abs(fps - r))
    if abs(fps - nearest) / nearest < Fraction(1, 100):
        return nearest
    return max(Fraction(1), Fraction(round(fps)))


def _outputs_for(
    loaded: LoadedCaseStudy, default_platforms: list[str]
) -> list[tuple[int | None, Output]]:
    study = loaded.study
    if study.outputs:
        return list(enumerate(study.outputs))
    first_cut = next(iter(study.cuts))
    return [
        (None, Output(platform=p, cut=first_cut, aspects=list(PROFILES[p].aspects)))
        for p in default_platforms
    ]


def _segments(
    loaded: LoadedCaseStudy, cut: str, info: SourceInfo, problems: list[Problem]
) -> tuple[SegmentSpan, ...]:
    spans = []
    file = str(loaded.file)
    for i, seg in enumerate(loaded.study.cuts[cut]):
        start, end = snap(seg.start, info.fps), snap(seg.end, info.fps)
        if end > snap(info.duration, info.fps):
            problems.append(
                Problem(
                    file,
                    loaded.line("cuts", cut, i),
                    f"cuts.{cut}[{i}]",
                    f"segment [{format_timestamp(seg.start)}, {format_timestamp(seg.end)}] "
                    "ends past the end "
                    f"of the source ({format_timestamp(info.duration)}, {loaded.study.source})",
                )
            )
            continue
        if end <= start:
            problems.append(
                Problem(
                    file,
                    loaded.line("cuts", cut, i),
                    f"cuts.{cut}[{i}]",
                    "segment is shorter than one frame of the source",
                )
            )
            continue
        spans.append(SegmentSpan(start, end))
    return tuple(spans)


def _output_duration(
    loaded: LoadedCaseStudy,
    where: tuple[int | None, Output],
    cut_duration: Fraction,
    fps: Fraction,
    problems: list[Problem],
    card: Fraction = Fraction(0),
) -> tuple[Fraction, tuple[str, ...]]:
    """The cut's part of the output (a whole number of frames), and notes. ``card`` is the
    end card's length: it counts toward the platform's limits."""
    index, out = where
    profile = PROFILES[out.platform]
    file = str(loaded.file)
    field = f"outputs[{index}]" if index is not None else "outputs (campaign default)"
    line = loaded.line("outputs", index) if index is not None else None
    frames = round(cut_duration * fps)
    notes: tuple[str, ...] = ()
    with_card = f" with the {format_timestamp(card)} end card" if card else ""
    if profile.max_duration is not None and cut_duration + card > profile.max_duration:
        if out.fit == "trim":
            frames = int((profile.max_duration - card) * fps)
            notes = (
                f"trimmed from {format_timestamp(cut_duration)} "
                f"to {format_timestamp(frames / fps)}{with_card} "
                f"({profile.label} allows at most {format_timestamp(profile.max_duration)})",
            )
        else:
            problems.append(
                Problem(
                    file,
                    line,
                    field,
                    f"cut {out.cut!r} is {format_timestamp(cut_duration)} long{with_card} "
                    f"but {profile.label} allows at most "
                    f"{format_timestamp(profile.max_duration)}; shorten the cut or set 'fit: trim'",
                )
            )
    if cut_duration + card < profile.min_duration:
        problems.append(
            Problem(
                file,
                line,
                field,
                f"cut {out.cut!r} is {format_timestamp(cut_duration)} long{with_card} "
                f"but {profile.label} needs at least "
                f"{format_timestamp(profile.min_duration)}",
            )
        )
    return Fraction(frames) / fps, notes


def _end_card(
    manifests: Manifests,
    loaded: LoadedCaseStudy,
    aspect: str,
    fps: Fraction,
    assets: Mapping[str, str],
) -> EndCard:
    """The card for one output: its length is whole frames at the output's rate."""
    from pipeline.endcard import card_size, safe_margins

    campaign = manifests.campaign.campaign
    opts = campaign.end_card
    logo = ""
    if campaign.brand.logo:
        logo = str((manifests.campaign.file.parent / campaign.brand.logo).resolve())
    w, h = card_size(aspect)
    frames = max(1, round(Fraction(opts.seconds) * fps))
    return EndCard(
        aspect=aspect,
        width=w,
        height=h,
        seconds=Fraction(frames) / fps,
        title=loaded.study.title,
        area=loaded.study.area,
        hashtag=campaign.hashtag,
        primary_colour=campaign.brand.primary_colour,
        secondary_colour=campaign.brand.secondary_colour,
        logo=logo,
        logo_sha256=assets.get(logo, "") if logo else "",
        safe=safe_margins(aspect, w, h),
        audio_fade=Fraction(opts.audio_fade).limit_denominator(1000),
    )


def _manifest_fields(
    manifests: Manifests, loaded: LoadedCaseStudy, out: Output, aspect: str
) -> dict[str, Any]:
    """The manifest fields one output is resolved from (``KeyParts.manifest``): not the
    other aspects of its entry, nor its poster time (stills only), nor paths whose files'
    bytes count elsewhere (source, captions, logo)."""
    campaign = manifests.campaign.campaign
    study = loaded.study
    return {
        "case_study": {
            "id": study.id,
            "title": study.title,
            "area": study.area,
            "cut": [s.model_dump() for s in study.cuts[out.cut]],
            "defaults": study.defaults.model_dump(),
            "framing": [r.model_dump() for r in study.framing],
        },
        "output": {**out.model_dump(exclude={"aspects", "poster_at"}), "aspect": aspect},
        "campaign": {
            "defaults": campaign.defaults.model_dump(),
            "end_card": campaign.end_card.model_dump(),
            "hashtag": campaign.hashtag,
            "colours": [campaign.brand.primary_colour, campaign.brand.secondary_colour],
            "caption_country": campaign.caption_country,
        },
    }


def _captions_part(tracks: Mapping[str, Track]) -> str:
    """Every caption track as read, without the file line numbers kept for messages."""
    return digest(
        {
            lang: [(c.start, c.end, c.lines, c.speaker, c.sound) for c in track.cues]
            for lang, track in tracks.items()
        }
    )


def _plan_case(
    manifests: Manifests,
    loaded: LoadedCaseStudy,
    info: SourceInfo,
    tracks: Mapping[str, Track],
    versions: tuple[str, str],
    problems: list[Problem],
    analysis: SourceAnalysis | None = None,
    assets: Mapping[str, str] | None = None,
) -> list[CutJob]:
    campaign = manifests.campaign.campaign
    study = loaded.study
    case_overrides = _overrides(loaded, ("framing",), study.framing, info, problems)
    wanted = _outputs_for(loaded, campaign.default_platforms)
    seen: dict[tuple[str, str, str], int | None] = {}
    by_cut: dict[str, list[tuple[int | None, Output]]] = {}
    for index, out in wanted:
        for aspect in out.aspects:
            k = (out.platform, out.cut, aspect)
            if k in seen:
                problems.append(
                    Problem(
                        str(loaded.file),
                        loaded.line("outputs", index or 0),
                        f"outputs[{index}]",
                        f"{out.platform} {aspect} of cut {out.cut!r} is already listed "
                        f"at outputs[{seen[k]}]",
                    )
                )
            seen[k] = index
        by_cut.setdefault(out.cut, []).append((index, out))

    disp_w, disp_h = info.display_size
    cut_fps = conform_rate(info.fps)
    source_part = info.sha256[:16]
    captions_part = _captions_part(tracks)
    tools_part = digest([*versions, ANALYSIS_VERSION])
    jobs = []
    for cut, outs in by_cut.items():
        segments = _segments(loaded, cut, info, problems)
        if not segments:
            continue
        # Whole frames per segment at the cut's rate: this is the one place durations are fixed.
        cut_frames = sum(round(s.duration * cut_fps) for s in segments)
        cut_duration = Fraction(cut_frames) / cut_fps
        notes = (
            ()
            if info.has_audio
            else (f"{_relative(info.path, manifests)} has no audio track: rendering silent audio",)
        )
        output_overrides = {
            index: _overrides(
                loaded,
                ("outputs", index, "framing") if index is not None else ("framing",),
                out.framing,
                info,
                problems,
            )
            for index, out in outs
        }
        outputs = []
        for index, out in outs:
            profile = PROFILES[out.platform]
            fps = min(max(cut_fps, profile.min_fps), profile.max_fps)
            settings = resolve(profile, campaign.defaults, study.defaults, out)
            cards = {
                a: _end_card(manifests, loaded, a, fps, assets or {}) if settings.end_card else None
                for a in out.aspects
            }
            reserve = next((c.seconds for c in cards.values() if c), Fraction(0))
            duration, out_notes = _output_duration(
                loaded, (index, out), cut_duration, fps, problems, reserve
            )
            for aspect in out.aspects:
                size = profile.sizes[aspect]
                card = cards[aspect]
                windows: tuple[CropWindow, ...] = ()
                strategy = settings.strategy
                framing = None
                if strategy != "pad":
                    framing = frame_output(
                        analysis,
                        segments,
                        cut_fps,
                        (disp_w, disp_h),
                        (size.width, size.height),
                        strategy,
                        settings.focus,
                        (*case_overrides, *output_overrides[index]),
                    )
                    windows = framing.windows
                    if framing.pad_ranges == ((Fraction(0), cut_duration),):
                        strategy, windows = "pad", ()
                maxrate = profile.video_kbps_for(size.width, size.height)
                encode = Encode(
                    preset=settings.preset,
                    crf=settings.crf,
                    profile=settings.profile,
                    level=settings.level,
                    maxrate_kbps=maxrate,
                    bufsize_kbps=2 * maxrate,
                    keyint=max(1, round(profile.keyint_seconds * fps)),
                    audio_kbps=settings.audio_kbps,
                    audio_rate=settings.audio_rate,
                    audio_channels=settings.audio_channels,
                    loudness_lufs=profile.loudness_lufs,
                    true_peak_dbtp=profile.true_peak_dbtp,
                    loudness_lra=profile.loudness_lra,
                )
                planned = OutputJob(
                    case_id=study.id,
                    cut=cut,
                    platform=out.platform,
                    aspect=aspect,
                    width=size.width,
                    height=size.height,
                    fps=fps,
                    duration=duration + (card.seconds if card else 0),
                    strategy=strategy,
                    windows=windows,
                    pad_ranges=framing.pad_ranges if framing and strategy != "pad" else (),
                    shots=framing.shots if framing else _joins(segments, cut_fps),
                    encode=encode,
                    path=f"{study.id}/{cut}/{out.platform}-{size.width}x{size.height}.mp4",
                    notes=(*notes, *out_notes, *_framing_notes(framing, aspect)),
                    end_card=card,
                )
                captions, burn, problem = plan_captions(
                    planned, tracks, segments, cut_fps, settings, campaign.caption_country
                )
                if problem:
                    field = f"outputs[{index}]" if index is not None else "defaults"
                    line = loaded.line("outputs", index) if index is not None else None
                    problems.append(Problem(str(loaded.file), line, field, problem))
                parts = KeyParts(
                    source=source_part,
                    captions=captions_part,
                    manifest=digest(_manifest_fields(manifests, loaded, out, aspect)),
                    profile=digest(asdict(profile)),
                    brand=digest(card.logo_sha256) if card else "",
                    tools=tools_part,
                )
                outputs.append(replace(planned, captions=captions, burn=burn, key_parts=parts))
        sdr = info.dynamic_range == "sdr"
        job = CutJob(
            case_id=study.id,
            cut=cut,
            source=info.path,
            source_label=_relative(info.path, manifests),
            source_sha256=info.sha256,
            source_fps=info.fps,
            display_size=(disp_w, disp_h),
            needs_square_pixels=info.sar != 1,
            has_audio=info.has_audio,
            deinterlace=info.interlaced,
            tone_map=info.dynamic_range if info.dynamic_range != "sdr" else "",
            # the tone map converts HDR's matrix and range itself
            colour_matrix=info.matrix if info.matrix != "bt709" and sdr else "",
            full_range=info.full_range and sdr,
            segments=segments,
            fps=cut_fps,
            outputs=tuple(outputs),
            notes=notes,
            tool_versions=versions,
        )
        key = cut_key(job)
        jobs.append(replace(job, key=key, outputs=tuple(o.with_key(key) for o in outputs)))
    return jobs


def _stills(
    manifests: Manifests,
    loaded: LoadedCaseStudy,
    info: SourceInfo,
    jobs: list[CutJob],
    versions: tuple[str, str],
    problems: list[Problem],
) -> StillsJob | None:
    """The case study's posters, covers and thumbnails, framed as each output frames them."""
    if not jobs:
        return None
    campaign = manifests.campaign.campaign
    study = loaded.study
    posters = []
    for job in jobs:
        for out in job.outputs:
            index, entry = next(
                (
                    (i, o)
                    for i, o in enumerate(study.outputs)
                    if o.platform == out.platform and o.cut == out.cut and out.aspect in o.aspects
                ),
                (None, None),
            )
            pinned = entry.poster_at if entry and entry.poster_at is not None else None
            where: tuple[str | int, ...] = ("outputs", index or 0, "poster_at")
            if pinned is None and out.cut in study.poster_at:
                pinned, where = study.poster_at[out.cut], ("poster_at", out.cut)
            if pinned is not None and pinned >= out.content_duration:
                problems.append(
                    Problem(
                        str(loaded.file),
                        loaded.line(*where),
                        ".".join(str(w) for w in where),
                        f"poster time {format_timestamp(pinned)} is past the end of cut "
                        f"{out.cut!r} ({format_timestamp(out.content_duration)} long)",
                    )
                )
                pinned = None
            profile: PlatformProfile = PROFILES[out.platform]
            cover = profile.cover
            # a platform's cover has the shape of the output it goes with
            if (
                cover is not None
                and abs(cover.width * out.height - cover.height * out.width)
                > (out.width * out.height) // 100
            ):
                cover = None
            posters.append(
                PosterJob(
                    output_path=out.path,
                    base=out.path.removesuffix(".mp4") + "-poster",
                    cut=out.cut,
                    platform=out.platform,
                    aspect=out.aspect,
                    width=out.width,
                    height=out.height,
                    strategy=out.strategy,
                    windows=out.windows,
                    pad_ranges=out.pad_ranges,
                    duration=out.content_duration,
                    pinned=snap(pinned, out.fps) if pinned is not None else None,
                    cover=(cover.width, cover.height) if cover else None,
                    cover_max_bytes=profile.cover_max_bytes if cover else None,
                )
            )
    cuts = tuple(
        StillsCut(job.cut, job.segments, job.fps, job.outputs[0].shots if job.outputs else ())
        for job in jobs
    )
    return StillsJob(
        case_id=study.id,
        title=study.title,
        area=study.area,
        source=info.path,
        source_label=_relative(info.path, manifests),
        source_sha256=info.sha256,
        display_size=info.display_size,
        cuts=cuts,
        posters=tuple(posters),
        thumbnails=campaign.stills.thumbnails,
        cover_title=campaign.stills.cover_title,
        primary_colour=campaign.brand.primary_colour,
        secondary_colour=campaign.brand.secondary_colour,
        tool_versions=versions,
    ).with_key()


def _overrides(
    loaded: LoadedCaseStudy,
    where: tuple[str | int, ...],
    ranges: list[FramingRange],
    info: SourceInfo,
    problems: list[Problem],
) -> tuple[Override, ...]:
    out = []
    for i, r in enumerate(ranges):
        if r.at.start >= info.duration:
            problems.append(
                Problem(
                    str(loaded.file),
                    loaded.line(*where, i),
                    ".".join(str(w) for w in where) + f"[{i}].at",
                    f"framing range [{format_timestamp(r.at.start)}, "
                    f"{format_timestamp(r.at.end)}] starts past the end of the source "
                    f"({format_timestamp(info.duration)}, {loaded.study.source})",
                )
            )
            continue
        focus = (r.focus.x, r.focus.y) if r.focus else None
        out.append(Override(r.at.start, r.at.end, r.strategy, focus))
    return tuple(out)


def _joins(segments: tuple[SegmentSpan, ...], fps: Fraction) -> tuple[Fraction, ...]:
    frames, out = 0, []
    for seg in segments[:-1]:
        frames += round(seg.duration * fps)
        out.append(Fraction(frames) / fps)
    return tuple(out)


def _framing_notes(framing: Framing | None, aspect: str) -> tuple[str, ...]:
    if framing is None:
        return ()
    return tuple(
        f"{aspect}: blur-padded {format_timestamp(d.start)}-{format_timestamp(d.end)} ({d.reason})"
        for d in framing.decisions
        if d.mode == "pad" and not d.reason.startswith("manifest")
    )


def needs_analysis(manifests: Manifests) -> set[str]:
    """Case studies with an output that follows faces (``auto``, or ``crop`` without a focus
    point): only their sources are worth analysing."""
    campaign = manifests.campaign.campaign
    wanted = set()
    for loaded in manifests.case_studies:
        study = loaded.study
        for _, out in _outputs_for(loaded, campaign.default_platforms):
            settings = resolve(PROFILES[out.platform], campaign.defaults, study.defaults, out)
            strategy, focus = settings.strategy, settings.focus
            if strategy == "auto" or (strategy == "crop" and focus is None):
                wanted.add(study.id)
            for r in (*study.framing, *out.framing):
                if r.focus is None and r.strategy in ("auto", "crop"):
                    wanted.add(study.id)
    return wanted


def _relative(path: str, manifests: Manifests) -> str:
    """For messages and labels: never an absolute machine path (see ``Manifests.label``)."""
    from pathlib import Path

    # a relative path is as the manifests wrote it already
    return manifests.label(Path(path)) if Path(path).is_absolute() else path


def make_plan(
    manifests: Manifests,
    sources: Mapping[str, SourceInfo | SourceError],
    pipeline_version: str,
    ffmpeg_version: str,
    captions: Mapping[str, Mapping[str, Track] | CaptionError] | None = None,
    analyses: Mapping[str, SourceAnalysis] | None = None,
    assets: Mapping[str, str] | None = None,
) -> Plan:
    """Turn validated manifests and probed sources into jobs.

    ``sources`` maps case-study id to its probe result; a ``SourceError`` there makes that
    case study a ``FailedCase`` and the rest go on; so does a ``CaptionError`` in ``captions``
    (case-study id -> language -> parsed track). Problems that are the manifest's fault
    (a cut too long for a platform, a segment past the source's end) raise ``PlanError``
    with all of them listed. ``assets`` maps brand files (the logo) to their sha256.
    """
    problems: list[Problem] = []
    jobs: list[CutJob] = []
    stills: list[StillsJob] = []
    failed: list[FailedCase] = []
    for loaded in manifests.case_studies:
        result = sources[loaded.study.id]
        tracks = (captions or {}).get(loaded.study.id, {})
        if isinstance(result, SourceError) or isinstance(tracks, CaptionError):
            failed.append(
                FailedCase(
                    loaded.study.id, str(result if isinstance(result, SourceError) else tracks)
                )
            )
            continue
        versions = (pipeline_version, ffmpeg_version)
        analysis = (analyses or {}).get(loaded.study.id)
        case_jobs = _plan_case(
            manifests, loaded, result, tracks, versions, problems, analysis, assets
        )
        jobs.extend(case_jobs)
        still = _stills(manifests, loaded, result, case_jobs, versions, problems)
        if still is not None and manifests.campaign.campaign.stills.enabled:
            stills.append(still)
    if problems:
        raise PlanError([replace(p, file=_relative(p.file, manifests)) for p in problems])
    return Plan(
        campaign=manifests.campaign.campaign.name,
        output_dir=manifests.campaign.campaign.output_dir,
        jobs=tuple(jobs),
        failed=tuple(failed),
        case_studies=tuple(
            {
                "id": c.study.id,
                "title": c.study.title,
                "area": c.study.area,
                "description": c.study.description,
            }
            for c in manifests.case_studies
        ),
        stills=tuple(stills),
    )
