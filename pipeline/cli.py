"""Command line: ``python -m pipeline
{validate,plan,render,verify,publish,reframe-preview,thumbnails,schema,samples}``.

The only place that prints, configures logging, and turns errors into exit codes:
0 success, 1 some job failed, 2 invalid manifests or usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import shlex
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from pipeline import __version__, logs
from pipeline.errors import ManifestError, PipelineError, PlanError

if TYPE_CHECKING:
    from pipeline.build import Report
    from pipeline.changes import Changed
    from pipeline.executors import Executor
    from pipeline.jobs import DraftCaptions, OutputJob, Plan
    from pipeline.manifest_load import Manifests
    from pipeline.publish import PublishReport
    from pipeline.storage import StorageConfig

log = logging.getLogger("pipeline")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pipeline", description="Case-study media pipeline")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument(
        "-m",
        "--manifests",
        type=Path,
        default=Path("manifests"),
        help="folder with campaign.yaml and one YAML file per case study (default: manifests)",
    )
    p.add_argument(
        "-v", "--verbose", action="count", default=0, help="more detail (-vv for FFmpeg commands)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("validate", help="check every manifest and source; report all problems at once")
    pl = sub.add_parser("plan", help="print the jobs a render would run")
    pl.add_argument(
        "--dry-run", action="store_true", help="also print each job's exact FFmpeg command"
    )
    pl.add_argument("--json", action="store_true", help="print the plan as JSON")
    r = sub.add_parser(
        "render", help="render every stale output, verify, write index.json (and --publish)"
    )
    r.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=None,
        help="local executor: FFmpeg processes at once (default: one per core, no more than "
        "there are jobs); the cores are shared out between them as FFmpeg threads",
    )
    r.add_argument(
        "--executor",
        choices=("local", "dask"),
        default="local",
        help="where jobs run: local (a process pool on this machine, the default) or dask "
        "(a Dask distributed cluster: --scheduler; workers need the sources and the output "
        "folder at the same paths, e.g. an NFS mount)",
    )
    r.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="with --executor dask: the scheduler, e.g. tcp://HOST:8786 (default: "
        "$PIPELINE_DASK_SCHEDULER)",
    )
    r.add_argument("--force", action="store_true", help="re-render outputs even when up to date")
    r.add_argument(
        "--changed-since",
        metavar="REF",
        default=None,
        help="render only the case studies whose manifest, source or captions changed in git "
        "since REF (all of them if the campaign file, the profiles or a brand file did); the "
        "others are left as they are and stay in index.json",
    )
    r.add_argument(
        "--strict-captions",
        action="store_true",
        help="fail outputs whose captions break a lint rule (reading speed, durations, gaps)",
    )
    r.add_argument(
        "--publish",
        action="store_true",
        help="after a render with no failures, publish to the configured storage (nothing "
        "more with the default local storage)",
    )
    r.add_argument(
        "--dry-run",
        action="store_true",
        help="with --publish: list what would be uploaded and why; upload nothing",
    )
    r.add_argument(
        "--summary",
        type=Path,
        default=None,
        metavar="PATH",
        help="also write the render summary (per output: path, status, reason, loudness, "
        "checks) to PATH: JSON if it ends in .json, else Markdown (e.g. for CI)",
    )
    pb = sub.add_parser(
        "publish",
        help="publish what is already rendered (out/index.json) to the configured storage",
    )
    how = pb.add_mutually_exclusive_group()
    how.add_argument(
        "--dry-run", action="store_true", help="list what would be uploaded and why; change nothing"
    )
    how.add_argument(
        "--history", action="store_true", help="list the kept copies of earlier indexes"
    )
    how.add_argument(
        "--rollback",
        nargs="?",
        const="",
        default=None,
        metavar="WHEN",
        help="make an earlier index live again: the one before the live one, or the kept copy "
        "named WHEN (or starting with it, e.g. 20261126T12); every object it lists is checked "
        "first",
    )
    ve = sub.add_parser(
        "verify",
        help="re-check every rendered output against its platform's rules and loudness target",
    )
    ve.add_argument(
        "--quality",
        action="store_true",
        help="also score each output's picture with VMAF against the same framing of its "
        "source (slow: decodes the source again)",
    )
    s = sub.add_parser(
        "schema", help="write JSON Schemas for manifests and index.json (for editors)"
    )
    s.add_argument(
        "--out", type=Path, default=Path("schemas"), help="folder to write to (default: schemas)"
    )
    rp = sub.add_parser(
        "reframe-preview",
        help="write a contact sheet per cut of a case study: frames, faces and crop windows",
    )
    rp.add_argument("case", help="case study id")
    rp.add_argument("--cut", default=None, help="only this cut (default: every cut)")
    rp.add_argument(
        "--out",
        type=Path,
        default=None,
        help="PNG to write (one cut only; default: OUTPUT_DIR/reframe-preview/CASE-CUT.png)",
    )
    th = sub.add_parser(
        "thumbnails",
        help="choose and write one case study's posters, covers and thumbnails (no video)",
    )
    th.add_argument("case", help="case study id")
    th.add_argument(
        "--explain",
        action="store_true",
        help="print the top candidates per framing with their scores and why the winner won, "
        "without writing images",
    )
    th.add_argument("--force", action="store_true", help="write the images even when up to date")
    rv = sub.add_parser(
        "review",
        help="write the review pages (OUTPUT_DIR/review/index.html) from the rendered "
        "index.json; --serve to view them in a browser",
    )
    rv.add_argument(
        "--serve",
        action="store_true",
        help="serve the output folder on 127.0.0.1 and print the review page's address "
        "(Ctrl-C stops it)",
    )
    rv.add_argument(
        "--port", type=int, default=8000, help="port to serve on (default 8000; 0: any free one)"
    )
    cp = sub.add_parser(
        "captions",
        help="captions from speech without rendering: align a case study's transcripts, or "
        "draft captions by speech recognition",
    )
    cpsub = cp.add_subparsers(dest="captions_command", required=True, metavar="ACTION")
    ca = cpsub.add_parser(
        "align",
        help="align each transcript (.txt under captions:) to the speech; write "
        "<id>.<lang>.aligned.vtt next to the manifest to check the timing",
    )
    ca.add_argument("case", help="case study id")
    cd = cpsub.add_parser(
        "draft",
        help="recognise the speech and write <id>.<lang>.draft.vtt next to the manifest "
        "(the languages set to auto, else --lang)",
    )
    cd.add_argument("case", help="case study id")
    cd.add_argument(
        "--lang", default=None, help="language to draft (default: the auto ones, or en)"
    )
    sm = sub.add_parser("samples", help="generate the sample campaign's footage into media/")
    sm.add_argument("--force", action="store_true", help="regenerate even if present")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # A shell starts background jobs (`make render &`, nohup, some CI runners) with SIGINT
    # ignored, and Python then never turns it into KeyboardInterrupt: `kill -INT` would let
    # the render run on. The stop-cleanly promise needs the signal, wherever we started.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    console = Console(stderr=True)
    logs.setup(console, -1 if args.quiet else args.verbose)
    try:
        return int(COMMANDS[args.command](args, console))
    except (ManifestError, PlanError) as exc:
        console.print(str(exc), style="red", markup=False, highlight=False, soft_wrap=True)
        return exc.exit_code
    except PipelineError as exc:
        console.print(f"error: {exc}", style="red", markup=False, highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        console.print("interrupted: no partial outputs were left at output paths", style="yellow")
        return 130


def _validate(args: argparse.Namespace, console: Console) -> int:
    from pipeline.build import probe_sources
    from pipeline.errors import SourceError
    from pipeline.ffmpeg_run import ffmpeg_version
    from pipeline.manifest_load import load_manifests
    from pipeline.plan import make_plan

    manifests = load_manifests(args.manifests)
    sources = probe_sources(manifests)
    # Planning too, so that cuts too long for a platform or past the end of their source
    # are caught here and not only at render time.
    plan = make_plan(manifests, sources, __version__, ffmpeg_version())
    bad = {k: v for k, v in sources.items() if isinstance(v, SourceError)}
    n_out = sum(len(j.outputs) for j in plan.jobs)
    console.print(
        f"{len(manifests.case_studies)} case studies, {n_out} outputs: manifests valid",
        style="green",
    )
    if bad:
        for cid, err in bad.items():
            console.print(f"  {cid}: source {err}", style="red", markup=False, soft_wrap=True)
        console.print(
            f"{len(bad)} source(s) missing or unreadable: those case studies will fail to render"
        )
        return 2
    return 0


def _progress(
    args: argparse.Namespace,
    console: Console,
    *,
    eta: bool = False,
    transient: bool = False,
    transfer: bool = False,
) -> Progress:
    """The one look of progress bars: what, bar, percent (and time left for long work), or
    for transfers bytes and rate; none with -q."""
    columns: list[ProgressColumn] = [TextColumn("{task.description}"), BarColumn()]
    if transfer:
        columns += [DownloadColumn(), TransferSpeedColumn()]
    else:
        columns.append(TextColumn("{task.percentage:>3.0f}%"))
    if eta:
        columns.append(TimeRemainingColumn())
    return Progress(*columns, console=console, disable=args.quiet, transient=transient)


def _planned(args: argparse.Namespace, console: Console) -> tuple[Manifests, Plan]:
    """Plan the campaign, with a progress bar per source while sources are analysed."""
    from pipeline.build import plan_campaign

    with _progress(args, console, transient=True) as progress:
        tasks: dict[str, TaskID] = {}

        def on_analysis(case_id: str, done: float) -> None:
            if case_id not in tasks:
                tasks[case_id] = progress.add_task(f"analysing {case_id}", total=1.0)
            progress.update(tasks[case_id], completed=done)

        return plan_campaign(args.manifests, on_analysis=on_analysis)


def _plan(args: argparse.Namespace, console: Console) -> int:
    from pipeline.captions.fonts import fonts_folder
    from pipeline.endcard import card_path
    from pipeline.ffmpeg_run import ffmpeg_exe
    from pipeline.graph import build_argv
    from pipeline.jobs import to_jsonable
    from pipeline.loudness import cached_levels, pending_level, target_of
    from pipeline.render import STATE_DIR, ass_path, temp_name

    manifests, plan = _planned(args, console)
    if args.json:
        print(json.dumps(to_jsonable(plan), indent=2))
        return 1 if plan.failed else 0
    out = Console(width=max(120, Console().width))
    table = Table(
        title=f"{plan.campaign}: {len(plan.jobs)} FFmpeg jobs (one per cut), "
        f"{sum(len(j.outputs) for j in plan.jobs)} outputs"
    )
    columns = ("job", "source [segments]", "output", "aspect", "framing", "length", "captions")
    for col in (*columns, "notes"):
        table.add_column(col, overflow="fold")
    for job in plan.jobs:
        segs = ", ".join(f"{float(s.start):g}-{float(s.end):g}" for s in job.segments)
        for i, o in enumerate(job.outputs):
            table.add_row(
                job.name if i == 0 else "",
                f"{job.source_label} [{segs}]" if i == 0 else "",
                o.path,
                o.aspect,
                _framing(o),
                f"{float(o.duration):.2f} s",
                ",".join(t.lang for t in o.captions) + (f"; burn {o.burn}" if o.burn else ""),
                "; ".join(o.notes),
                end_section=i == len(job.outputs) - 1,
            )
    out.print(table)
    caption_notes = [
        f"{o.path} [{t.lang}]: {n}"
        for j in plan.jobs
        for o in j.outputs
        for t in o.captions
        for n in t.notes
    ]
    if caption_notes:
        out.print("Caption retiming and reflow:", style="bold")
        for line in caption_notes:
            out.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    for f in plan.failed:
        console.print(
            f"{f.case_id}: cannot render: {f.reason}", style="red", markup=False, soft_wrap=True
        )
    if args.dry_run:
        for job in plan.jobs:
            targets = [str(temp_name(manifests.output_dir / o.path)) for o in job.outputs]
            out.print(f"\n# {job.name}", style="bold", markup=False)
            subs = [str(ass_path(manifests.output_dir, o)) if o.burn else None for o in job.outputs]
            fonts = str(fonts_folder(manifests.output_dir / STATE_DIR))
            # where render keeps each end card (composed on first use, not here)
            cards = [
                str(card_path(manifests.output_dir / STATE_DIR / "cards", o.end_card))
                if o.end_card
                else None
                for o in job.outputs
            ]
            levels, pass1 = cached_levels(
                job, job.outputs, manifests.output_dir / STATE_DIR, ffmpeg_exe()
            )
            for argv in pass1:
                out.print("# loudness pass 1 (its figures fill the <pass 1> fields below)")
                print(shlex.join(argv))
            loudness = [
                (lv.graph_options() if lv is not None else pending_level(target_of(o)))
                for lv, o in zip(levels, job.outputs, strict=True)
            ]
            argv = build_argv(
                job, job.outputs, targets, ffmpeg_exe(), subs, fonts, cards=cards, loudness=loudness
            )
            print(shlex.join(argv))
    return 1 if plan.failed else 0


def _framing(o: OutputJob) -> str:
    moves = sum((a.x, a.y) != (b.x, b.y) for a, b in itertools.pairwise(o.windows))
    parts = [o.strategy]
    if moves:
        parts.append(f"{moves} moves")
    if o.pad_ranges:
        parts.append(f"{len(o.pad_ranges)} padded")
    return ", ".join(parts)


def _render(args: argparse.Namespace, console: Console) -> int:
    from pipeline.build import render_campaign
    from pipeline.jobs import CutJob
    from pipeline.render import FAILED, KEPT, RENDERED, UP_TO_DATE, OutputResult
    from pipeline.storage import open_storage

    if args.dry_run and not args.publish:
        console.print("--dry-run goes with --publish (for the render's own plan: plan --dry-run)")
        return 2
    if args.scheduler and args.executor != "dask":
        console.print("--scheduler goes with --executor dask")
        return 2
    # a Dask scheduler is checked now (reachable, workers, versions), before planning
    executor = _executor(args)
    changed = None
    if args.changed_since is not None:
        from pipeline.changes import changed_files

        changed = changed_files(args.manifests, args.changed_since)  # a bad ref fails now
    manifests, plan = _planned(args, console)
    only = _selected(console, manifests, changed) if changed is not None else None
    publish_to = _storage_config(manifests) if args.publish else None
    if publish_to is not None and publish_to.backend == "local":
        publish_to = None  # out/ is what is published: exactly a plain render
        if args.dry_run:
            console.print("nothing would be uploaded: storage is the local output folder")
    if publish_to is not None:
        # credentials, endpoint and bucket checked now, not after a long render
        open_storage(publish_to).check()
    tasks: dict[str, TaskID] = {}
    with _progress(args, console, eta=True) as progress:
        # one bar per running job (added when it starts, removed when it ends), under one
        # counting the jobs done
        jobs_bar: TaskID | None = None
        queued = 0

        def on_start(job: CutJob, outs: tuple[OutputJob, ...], why: tuple[str, ...]) -> None:
            nonlocal jobs_bar, queued
            log.info("%s: rendering %d output(s) (%s)", job.name, len(outs), _why(outs, why))
            queued += 1
            if jobs_bar is None:
                jobs_bar = progress.add_task(f"jobs done ({executor.label})", total=queued)
            progress.update(jobs_bar, total=queued)

        def on_running(job: CutJob, where: str) -> None:
            name = f"{job.name} on {where}" if executor.label != "local" else job.name
            if job.name in tasks:  # Dask runs it again: its worker was lost
                progress.update(tasks[job.name], description=name, completed=0)
            else:
                tasks[job.name] = progress.add_task(name, total=float(job.duration))

        def on_progress(name: str, secs: float) -> None:
            if name in tasks:
                progress.update(tasks[name], completed=secs)

        def on_done(job: CutJob, results: list[OutputResult]) -> None:
            if job.name in tasks:
                progress.remove_task(tasks.pop(job.name))
            if jobs_bar is not None:
                progress.advance(jobs_bar)

        def on_stills(case_id: str, done: float) -> None:
            name = f"{case_id}: posters"
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=1.0)
            progress.update(tasks[name], completed=done)

        report = render_campaign(
            manifests,
            plan,
            executor=executor,
            force=args.force,
            strict_captions=args.strict_captions,
            only=only,
            on_start=on_start,
            on_running=on_running,
            on_progress=on_progress,
            on_done=on_done,
            on_stills=on_stills,
        )

    counts = {s: sum(r.status == s for r in report.results) for s in (RENDERED, UP_TO_DATE, FAILED)}
    counts[FAILED] += len(plan.failed)
    if only is not None:
        counts[KEPT] = sum(r.status == KEPT for r in report.results)
    # nothing rendered, nothing failed: one line says so (-v still shows the table)
    idle = (
        counts[RENDERED] == counts[FAILED] == 0
        and all(st.status == UP_TO_DATE for st in report.stills)
        and not args.verbose
    )
    table = Table(title="Render summary")
    for col in ("output", "status", "captions", "loudness", "detail"):
        table.add_column(col, overflow="fold")
    styles = {RENDERED: "green", UP_TO_DATE: "cyan", FAILED: "red", KEPT: "yellow"}
    for f in plan.failed:
        table.add_row(f.case_id, f"[red]{FAILED}[/]", "", "", f.reason)
    for r in sorted(report.results, key=lambda r: r.job.path):
        if r.status == KEPT:
            detail = f"not selected by --changed-since; stale ({r.reason})"
        elif r.status == FAILED:
            detail = r.reason or "; ".join(r.job.notes)
        else:  # why it rendered, then the plan's notes
            detail = "; ".join([r.reason, *r.job.notes] if r.reason else r.job.notes)
        langs = ",".join(t.lang for t in r.job.captions) or "-"
        burned = f"; burned {r.job.burn}" if r.job.burn else ""
        n_lint = len(report.caption_lint.get(r.job.path, ()))
        lint = f"; {n_lint} lint" if n_lint else ""
        table.add_row(
            r.job.path,
            f"[{styles[r.status]}]{r.status}[/]",
            langs + burned + lint,
            _loudness_cell(report.checks.get(r.job.path)),
            detail,
        )
    for st in report.stills:
        what = f"{len(st.posters)} posters, {len(st.thumbnails)} thumbnails"
        table.add_row(
            f"{st.case_id} (stills)",
            f"[{styles[st.status]}]{st.status}[/]",
            "",
            "",
            st.reason or what,
        )
    lint_lines = [(p, w) for p, ws in sorted(report.caption_lint.items()) for w in ws]
    index_at = os.path.relpath(report.index_path or "")
    review_at = os.path.join(os.path.dirname(index_at), "review", "index.html")
    kept = f", {counts[KEPT]} not selected (kept as they are)" if counts.get(KEPT) else ""
    if idle:
        n_lint = len(lint_lines)
        plural = "" if n_lint == 1 else "s"
        lint_note = f"; {n_lint} caption lint warning{plural} (-v lists them)" if n_lint else ""
        n = counts[UP_TO_DATE]
        console.print(
            f"nothing to do: {n} output{'' if n == 1 else 's'} up to date{kept}; "
            f"index: {index_at}; review: {review_at}{lint_note}",
            soft_wrap=True,
        )
    else:
        Console().print(table)
        if lint_lines:
            console.print(
                f"caption lint ({len(lint_lines)} warnings; --strict-captions fails them):"
            )
            for path, warning in lint_lines:
                console.print(f"  {path}: {warning}", markup=False, highlight=False, soft_wrap=True)
        console.print(
            f"{counts[RENDERED]} rendered, {counts[UP_TO_DATE]} up to date{kept}, "
            f"{counts[FAILED]} failed; index: {index_at}; review: {review_at}"
        )
    for d in plan.drafts:
        console.print(_draft_line(d), style="yellow", markup=False, soft_wrap=True)
    if args.summary is not None:
        # before publishing, so a failed upload still leaves the summary (CI uploads it)
        _write_summary(args.summary, plan, report, counts)
    if publish_to is not None and report.failed:
        console.print(
            f"not published to {publish_to.where}: {counts[FAILED]} output(s) failed, and a "
            "partial index would drop them from the live one; fix them and render again, or "
            "`publish` what did render",
            style="yellow",
        )
    elif publish_to is not None:
        _run_publish(args, console, manifests.output_dir, publish_to)
    return 1 if report.failed else 0


def _executor(args: argparse.Namespace) -> Executor:
    """``render --executor``: a local pool (``-j``) or a Dask cluster (``--scheduler``)."""
    from pipeline.executors import make_executor

    if args.executor != "local" and args.jobs:
        log.warning("-j is for the local executor: on Dask each worker thread runs one job")
    return make_executor(args.executor, workers=args.jobs, scheduler=args.scheduler)


def _why(outs: tuple[OutputJob, ...], reasons: tuple[str, ...]) -> str:
    """Why a cut's outputs render, for its log line: the reason, or each output's."""
    if len(set(reasons)) == 1:
        return reasons[0]
    named = zip((o.path.rsplit("/", 1)[-1] for o in outs), reasons, strict=True)
    return "; ".join(f"{name}: {why}" for name, why in named)


def _selected(console: Console, manifests: Manifests, changed: Changed) -> frozenset[str] | None:
    """``render --changed-since``: the case studies to render (None: all), said with why."""
    from pipeline.changes import select

    sel = select(manifests, changed)
    n = len(sel.all_ids)
    if sel.everything:
        console.print(
            f"changed since {sel.ref}: all {n} case studies ({'; '.join(sel.everything)})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print(
            f"changed since {sel.ref}: {len(sel.selected)} of {n} case studies",
            markup=False,
            highlight=False,
        )
        for case_id in sel.selected:
            console.print(
                f"  {case_id}: {'; '.join(sel.reasons[case_id])}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        left = [i for i in sel.all_ids if i not in sel.reasons]
        if left:
            console.print(
                f"  not selected (left as they are): {', '.join(left)}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    if sel.untracked:
        console.print(
            f"  note: git does not track the source of {', '.join(sel.untracked)}: a change "
            "to it is not seen here (a render without --changed-since catches it)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    return sel.case_ids


def _draft_line(d: DraftCaptions) -> str:
    edited = "; edited by hand, kept as it is" if d.kept else ""
    return (
        f"DRAFT {d.case_id} ({d.lang}): {d.file}, {d.cues} cues from {d.words} recognised "
        f"words ({d.engine}){edited}; not burned in or published: review it, then name it "
        "under captions: in the manifest in place of auto"
    )


def _write_summary(path: Path, plan: Plan, report: Report, counts: dict[str, int]) -> None:
    """The render summary as a file: JSON when ``path`` ends in .json, else Markdown. Written
    to a temporary file beside it and renamed, so a reader never sees half of one."""
    from pipeline.render import FAILED, KEPT

    rows: list[dict[str, object]] = [
        {"path": f.case_id, "status": FAILED, "reason": f.reason, "loudness": "", "checks": None}
        for f in plan.failed
    ]
    for r in sorted(report.results, key=lambda r: r.job.path):
        checks = report.checks.get(r.job.path)
        reason = r.reason
        if r.status == KEPT:
            reason = "not selected by --changed-since" + (f"; stale ({reason})" if reason else "")
        rows.append(
            {
                "path": r.job.path,
                "status": r.status,
                "reason": reason,
                "loudness": _loudness_cell(checks),
                "checks": checks,
            }
        )
    for st in report.stills:
        rows.append(
            {
                "path": f"{st.case_id} (stills)",
                "status": st.status,
                "reason": st.reason,
                "loudness": "",
                "checks": None,
            }
        )
    index = os.path.relpath(report.index_path) if report.index_path else None
    if path.suffix.lower() == ".json":
        doc = {
            "campaign": plan.campaign,
            "counts": counts,
            "index": index,
            "outputs": rows,
            "draft_captions": [asdict(d) for d in plan.drafts],
        }
        text = json.dumps(doc, indent=2) + "\n"
    else:

        def cell(value: object) -> str:
            return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

        def checked(c: object) -> str:
            if not isinstance(c, dict):
                return ""
            words = ["passed" if c.get("passed") else "failed"]
            words += [*c.get("failures", ()), *c.get("notes", ())]
            return "; ".join(str(w) for w in words)

        lines = [
            f"# Render summary: {plan.campaign}",
            "",
            ", ".join(f"{n} {status}" for status, n in counts.items())
            + (f"; index: `{index}`" if index else ""),
            "",
            "| output | status | reason | loudness | checks |",
            "|---|---|---|---|---|",
        ]
        lines += [
            "| "
            + " | ".join(cell(v) for v in (r["path"], r["status"], r["reason"], r["loudness"]))
            + f" | {cell(checked(r['checks']))} |"
            for r in rows
        ]
        if plan.drafts:
            lines += ["", "## Draft captions (speech recognition): review before use", ""]
            lines += [f"- {_draft_line(d)}" for d in plan.drafts]
        text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")  # same folder: atomic rename
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _storage_config(manifests: Manifests) -> StorageConfig:
    from pipeline.storage import storage_config

    return storage_config(manifests.campaign.campaign.storage, os.environ)


def _publish(args: argparse.Namespace, console: Console) -> int:
    from pipeline.manifest_load import load_manifests
    from pipeline.publish import history, rollback

    manifests = load_manifests(args.manifests)
    config = _storage_config(manifests)
    if args.history:
        entries = history(config)
        if not entries:
            console.print("no earlier index kept yet: one is kept each time index.json changes")
            return 0
        table = Table(title=f"Kept indexes in {config.where}/index-history/ (oldest first)")
        for col in ("name (published, UTC)", "bytes", ""):
            table.add_column(col)
        for e in entries:
            table.add_row(e.name, str(e.bytes), "live" if e.live else "")
        Console().print(table)
        return 0
    if args.rollback is not None:
        done = rollback(config, args.rollback or None)
        console.print(
            f"rolled back: index.json is now the one published {done.restored} "
            f"({done.checked} objects checked); "
            + (f"the index it replaced is kept as {done.history_key}" if done.history_key else "")
        )
        console.print(f"index: {_shown_url(done.index_url)}", markup=False, soft_wrap=True)
        return 0
    _run_publish(args, console, manifests.output_dir, config)
    return 0


def _run_publish(
    args: argparse.Namespace, console: Console, out_dir: Path, config: StorageConfig
) -> PublishReport:
    from pipeline.publish import publish

    with _progress(args, console, transfer=True) as progress:
        task: TaskID | None = None

        def on_progress(done: int, total: int) -> None:
            nonlocal task
            if task is None and total:
                task = progress.add_task(f"uploading to {config.where}", total=total)
            if task is not None:
                progress.update(task, completed=done)

        report = publish(out_dir, config, dry_run=args.dry_run, progress=on_progress)
    if args.dry_run:
        _print_dry_run(report)
        return report
    if config.backend == "local":
        log.debug("storage is the local output folder: nothing to send")
        return report
    mb = report.uploaded_bytes / 1e6
    console.print(
        f"published {len(report.uploaded)} objects ({mb:.1f} MB), skipped "
        f"{len(report.skipped)} already present; index ({report.index_action}): "
        f"{_shown_url(report.index_url)}",
        markup=False,
        soft_wrap=True,
    )
    if report.history_key:
        console.print(f"previous index kept as {report.history_key}", markup=False)
    if report.review_url:
        console.print(f"review: {_shown_url(report.review_url)}", markup=False, soft_wrap=True)
    return report


def _print_dry_run(report: PublishReport) -> None:
    table = Table(title=f"Dry run: publish to {report.where} (nothing is sent)")
    for col in ("key", "bytes", "why"):
        table.add_column(col, overflow="fold")
    for p in report.planned:
        table.add_row(p.key, f"{p.bytes:,}", p.reason if p.upload else f"[dim]{p.reason}[/]")
    out = Console(width=max(120, Console().width))
    out.print(table)
    sending = [p for p in report.planned if p.upload]
    out.print(
        f"would upload {len(sending)} objects ({sum(p.bytes for p in sending) / 1e6:.1f} MB), "
        f"skip {len(report.planned) - len(sending)}; {report.index_key}: {report.index_action}",
        markup=False,
    )


def _shown_url(url: str) -> str:
    """A URL fit to print: a presigned one without its signature (it names the access key)."""
    if "X-Amz-" in url or "Signature=" in url:
        return url.split("?", 1)[0] + " (presigned; the signature is not shown)"
    return url


def _loudness_cell(checks: dict[str, object] | None) -> str:
    if not checks:
        return ""
    mode = checks.get("normalization")
    if checks.get("loudness_lufs") is None:
        return "silent" if mode == "silent" else ""
    cell = f"{checks['loudness_lufs']} LUFS, {checks['true_peak_dbtp']} dBTP"
    return cell + (" (limited)" if mode == "limited" else "")


def _verify(args: argparse.Namespace, console: Console) -> int:
    from pipeline.render import Lock
    from pipeline.verify import verify_output, vmaf

    manifests, plan = _planned(args, console)
    out_dir = manifests.output_dir
    lock = Lock(out_dir)
    table = Table(title="Verify" + (" and quality (VMAF)" if args.quality else ""))
    columns = ["output", "status", "loudness"] + (["VMAF"] if args.quality else []) + ["detail"]
    for col in columns:
        table.add_column(col, overflow="fold")
    failed = bool(plan.failed)
    for job in plan.jobs:
        for out in job.outputs:
            if not (out_dir / out.path).is_file():
                table.add_row(out.path, "[yellow]not rendered[/]", *[""] * (len(columns) - 2))
                continue
            entry = lock.entries.get(out.path, {})
            check = verify_output(
                out,
                out_dir,
                normalization=str(entry.get("normalization", "")),
                loudness_note=str(entry.get("loudness_note", "")),
            )
            failed |= not check.passed
            row = [
                out.path,
                "[green]passed[/]" if check.passed else "[red]failed[/]",
                _loudness_cell(check.checks),
            ]
            if args.quality:
                try:
                    row.append(f"{vmaf(job, out, out_dir):.2f}")
                except PipelineError as exc:
                    row.append("-")
                    log.error("%s", exc)
            row.append("; ".join([*check.failures, *check.notes]))
            table.add_row(*row)
    Console(width=max(120, Console().width)).print(table)
    return 1 if failed else 0


def _schema(args: argparse.Namespace, console: Console) -> int:
    from pipeline.index import schema as index_schema
    from pipeline.manifest import json_schemas

    args.out.mkdir(parents=True, exist_ok=True)
    files = {f"{name}.schema.json": s for name, s in json_schemas().items()}
    files["index.schema.json"] = index_schema()
    for name, body in files.items():
        (args.out / name).write_text(json.dumps(body, indent=2) + "\n")
        console.print(f"wrote {args.out / name}")
    return 0


def _reframe_preview(args: argparse.Namespace, console: Console) -> int:
    from pipeline.analyze import analyze
    from pipeline.build import CACHE_DIR
    from pipeline.errors import SourceError
    from pipeline.preview import contact_sheet

    manifests, plan = _planned(args, console)
    known = sorted(c.study.id for c in manifests.case_studies)
    if args.case not in known:
        console.print(
            f"unknown case study {args.case!r}; known: {', '.join(known)}",
            style="red",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return 2
    failed = next((f for f in plan.failed if f.case_id == args.case), None)
    if failed is not None:
        console.print(
            f"{args.case}: cannot preview: {failed.reason}",
            style="red",
            markup=False,
            soft_wrap=True,
        )
        return 1
    jobs = [j for j in plan.jobs if j.case_id == args.case]
    cuts = [j.cut for j in jobs]
    if args.cut is not None:
        jobs = [j for j in jobs if j.cut == args.cut]
        if not jobs:
            console.print(
                f"{args.case} has no cut {args.cut!r} with outputs; cuts: {', '.join(cuts)}",
                style="red",
                markup=False,
                soft_wrap=True,
            )
            return 2
    if args.out is not None and len(jobs) > 1:
        console.print(
            f"--out names one file but {args.case} has {len(jobs)} cuts: "
            f"add --cut ({', '.join(cuts)})",
            style="red",
            markup=False,
            soft_wrap=True,
        )
        return 2
    for job in jobs:
        try:
            # planning analysed the source already: this reads the cached result
            analysis = analyze(
                Path(job.source), job.source_sha256, manifests.root / CACHE_DIR / "analysis"
            )
        except SourceError as exc:
            log.warning("%s: no source analysis (%s); drawing crop windows only", job.name, exc)
            analysis = None
        target = args.out or (
            manifests.output_dir / "reframe-preview" / f"{job.case_id}-{job.cut}.png"
        )
        written = contact_sheet(job, analysis, Path(job.source), target)
        inside = written.resolve().is_relative_to(Path.cwd())
        print(os.path.relpath(written) if inside else written)
    return 0


def _thumbnails(args: argparse.Namespace, console: Console) -> int:
    from pipeline.posters import FAILED, choose, render_stills

    manifests, plan = _planned(args, console)
    job = next((s for s in plan.stills if s.case_id == args.case), None)
    if job is None:
        known = sorted(s.case_id for s in plan.stills)
        failed = next((f for f in plan.failed if f.case_id == args.case), None)
        why = failed.reason if failed else f"unknown case study; known: {', '.join(known)}"
        console.print(f"{args.case}: {why}", style="red", markup=False, soft_wrap=True)
        return 2 if failed is None else 1
    with _progress(args, console) as progress:
        task = progress.add_task(f"{job.case_id}: frames", total=1.0)

        def report(done: float) -> None:
            progress.update(task, completed=done)

        if args.explain:
            choices = choose(job, report)
        else:
            result = render_stills(job, manifests.output_dir, force=args.force, progress=report)
    if args.explain:
        from pipeline.posters import framing_key
        from pipeline.thumbnails import explain

        shown: set[object] = set()
        for poster in job.posters:
            key = framing_key(poster)
            outs = [p.output_path for p in job.posters if framing_key(p) == key]
            if key in shown:
                continue
            shown.add(key)
            choice = choices[key]
            print(f"{poster.cut} {poster.aspect} ({', '.join(outs)}):")
            if choice.pinned is not None:
                print(f"  pinned by the manifest at {choice.pinned}s")
                continue
            for line in explain(choice.scored, choice.picked):
                print(f"  {line}")
        return 0
    if result.status == FAILED:
        console.print(f"{job.case_id}: {result.reason}", style="red", markup=False)
        return 1
    for img in result.files:
        print(os.path.relpath(manifests.output_dir / img.path))
    console.print(f"{job.case_id}: {len(result.files)} images {result.status}")
    return 0


def _samples(args: argparse.Namespace, console: Console) -> int:
    from pipeline.samples import make_samples

    root = args.manifests.resolve().parent
    for path, made in make_samples(root / "media", force=args.force):
        console.print(f"{'generated' if made else 'present  '} {path.relative_to(root)}")
    return 0


def _review(args: argparse.Namespace, console: Console) -> int:

    from pipeline import review
    from pipeline.errors import ReviewError
    from pipeline.index import read_index
    from pipeline.manifest_load import load_manifests

    out_dir = load_manifests(args.manifests).output_dir
    index = read_index(
        out_dir,
        ReviewError,
        _shown_path(out_dir),
        "nothing is rendered yet (run `make render` first)",
    )
    page = review.write(index, out_dir)
    console.print(f"review: {_shown_path(page)}", markup=False, soft_wrap=True)
    if not args.serve:
        return 0
    from pipeline.review_server import HOST, server

    try:
        srv = server(out_dir, args.port)
    except OSError as exc:
        raise ReviewError(
            f"cannot serve on {HOST}:{args.port}: {exc.strerror or exc} (another server there? "
            "try --port 0)"
        ) from None
    port = srv.server_address[1]
    console.print(
        f"serving {_shown_path(out_dir)} at http://{HOST}:{port}/  (Ctrl-C to stop)\n"
        f"review page: http://{HOST}:{port}/{review.REVIEW_DIR}/{review.OVERVIEW}",
        markup=False,
        soft_wrap=True,
    )
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        console.print("stopped")
    finally:
        srv.server_close()
    return 0


def _shown_path(path: Path) -> str:
    """``path`` relative to the working folder when it is under it (messages never show
    where the project lives on this machine otherwise)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _captions(args: argparse.Namespace, console: Console) -> int:
    from pipeline.build import CACHE_DIR, TRANSCRIPT_SUFFIX, probe_sources
    from pipeline.captions.sidecar import to_webvtt
    from pipeline.errors import SourceError, SpeechError
    from pipeline.manifest_load import load_manifests
    from pipeline.speech.captions import draft_captions, transcript_track

    manifests = load_manifests(args.manifests)
    found = [c for c in manifests.case_studies if c.study.id == args.case]
    if not found:
        known = ", ".join(c.study.id for c in manifests.case_studies)
        raise SpeechError(f"no case study {args.case!r} (known: {known})")
    loaded = found[0]
    cache = manifests.root / CACHE_DIR
    info = probe_sources(manifests)[loaded.study.id]  # cached: no source is read again
    if isinstance(info, SourceError):
        raise info
    with _progress(args, console, eta=True) as progress:

        def bar(what: str) -> Callable[[float], None]:
            task = progress.add_task(what, total=1.0)
            return lambda done: progress.update(task, completed=done)

        if args.captions_command == "align":
            transcripts = {
                lang: p
                for lang, p in loaded.caption_paths().items()
                if p.suffix.lower() == TRANSCRIPT_SUFFIX
            }
            if not transcripts:
                raise SpeechError(
                    f"{manifests.label(loaded.file)}: no transcript (.txt) under captions: to align"
                )
            for lang, path in transcripts.items():
                label = manifests.label(path)
                track = transcript_track(
                    path, lang, label, Path(info.path), info.sha256, cache,
                    progress=bar(f"aligning {label}"),
                )  # fmt: skip
                target = loaded.file.parent / f"{loaded.study.id}.{lang}.aligned.vtt"
                tmp = target.with_name(f".{target.name}.partial")
                tmp.write_text(to_webvtt(track.cues), encoding="utf-8")
                os.replace(tmp, target)
                for w in track.warnings:
                    console.print(f"  {w}", markup=False, soft_wrap=True)
                console.print(
                    f"{label}: {len(track.cues)} cues, {len(track.warnings)} word(s) not "
                    f"placed by the aligner; timing to check: {manifests.label(target)}",
                    markup=False,
                    soft_wrap=True,
                )
            return 0
        langs = [args.lang] if args.lang else (loaded.auto_captions() or ["en"])
        for lang in langs:
            draft = draft_captions(
                loaded.draft_path(lang), lang, Path(info.path), info.sha256, cache,
                progress=bar(f"recognising {loaded.study.id} ({lang})"),
            )  # fmt: skip
            state = " (edited by hand: kept as it is)" if draft.kept else ""
            console.print(
                f"DRAFT {manifests.label(draft.path)}: {draft.cues} cues from {draft.words} "
                f"recognised words ({draft.engine}){state}; review it, then name it under "
                "captions: in the manifest in place of auto",
                markup=False,
                soft_wrap=True,
            )
    return 0


COMMANDS = {
    "captions": _captions,
    "review": _review,
    "validate": _validate,
    "plan": _plan,
    "render": _render,
    "verify": _verify,
    "publish": _publish,
    "schema": _schema,
    "samples": _samples,
    "reframe-preview": _reframe_preview,
    "thumbnails": _thumbnails,
}

if __name__ == "__main__":
    sys.exit(main())
