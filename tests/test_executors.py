"""Where jobs run (pipeline.executors): the local process pool and a Dask cluster render the
same files; failures come back as results; Ctrl-C leaves nothing behind; a scheduler that
cannot be used is a clear error. The cluster is a LocalCluster of two worker processes, as
a real one of several machines sharing storage would be, on this machine's paths."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.build import Report, plan_campaign, render_campaign
from pipeline.cli import main
from pipeline.executors import (
    SCHEDULER_ENV,
    DaskExecutor,
    Executor,
    ExecutorError,
    LocalExecutor,
    default_workers,
    threads_per_job,
)
from pipeline.graph import build_argv
from pipeline.jobs import Plan
from pipeline.manifest_load import Manifests
from pipeline.render import FAILED, RENDERED, Lock, render_plan
from tests.clips import make_clip
from tests.render_checks import small_plan

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.render

STUDIES = ("alpha", "beta")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """Two worker processes with one thread each: one FFmpeg per worker."""
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as c:
        yield c.scheduler_address


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("executor-clips")
    return {
        "short": make_clip(folder / "short.mp4", duration=2.5),
        "long": make_clip(folder / "long.mp4", duration=10.0),
    }


def _project(project: Callable[..., Path], source: Path, seconds: float) -> Path:
    """Two case studies of one web output each, from their own copy of ``source``."""
    studies = {
        f"{name}.yaml": f"""\
            id: {name}
            title: Executor test {name}
            area: Test area
            source: ../media/{name}.mp4
            cuts:
              main: [[0, {seconds}]]
            outputs: {json.dumps([{"platform": "web", "cut": "main", "aspects": ["16:9"]}])}
            """
        for name in STUDIES
    }
    root = project(studies)
    for name in STUDIES:
        (root / "media" / f"{name}.mp4").write_bytes(source.read_bytes())
    return root


def _planned(root: Path, small: bool = True) -> tuple[Manifests, Plan]:
    """The plan (at test size unless not ``small``), without stills (not the executors'
    work)."""
    manifests, plan = plan_campaign(root / "manifests", analyse=False)
    return manifests, small_plan(plan) if small else replace(plan, stills=())


def _render(manifests: Manifests, plan: Plan, executor: Executor, **kw: object) -> Report:
    return render_campaign(manifests, plan, executor=executor, force=True, **kw)  # type: ignore[arg-type]


def _leftovers(out_dir: Path) -> list[Path]:
    return [p for p in out_dir.rglob("*") if ".partial" in p.name or ".worker-check" in p.name]


# ---------------------------------------------------------------------------------------
# Sizing: the pool follows the machine and the job count, threads are shared out
# ---------------------------------------------------------------------------------------


def test_pool_size_and_thread_share_follow_the_machine_and_the_jobs():
    assert default_workers(jobs=6, cpus=2) == 2
    assert default_workers(jobs=1, cpus=16) == 1
    assert default_workers(jobs=20, cpus=16) == 16
    assert LocalExecutor(None, cpus=8).size(3) == 3
    assert LocalExecutor(4, cpus=2).size(2) == 2  # never more processes than jobs
    assert threads_per_job(2, 1) is None  # alone: FFmpeg and x264 use every core
    assert threads_per_job(2, 2) == 1
    assert threads_per_job(8, 3) == 2


def test_shared_threads_reach_every_decoder_and_the_filter_graph(project, clips):
    _, plan = _planned(_project(project, clips["short"], 2.0))
    job = plan.jobs[0]
    plain = build_argv(job, job.outputs, ["t.mp4"])
    assert build_argv(job, job.outputs, ["t.mp4"], threads=None) == plain
    shared = build_argv(job, job.outputs, ["t.mp4"], threads=1)
    assert shared[1:5] == ["-filter_threads", "1", "-filter_complex_threads", "1"]
    inputs = [i for i, a in enumerate(shared) if a == "-i"]
    assert inputs and all(shared[i - 2 : i] == ["-threads", "1"] for i in inputs)
    assert "-filter_threads" not in plain and "-threads" not in plain


# ---------------------------------------------------------------------------------------
# Local pool
# ---------------------------------------------------------------------------------------


def test_local_pool_renders_both_jobs_at_once(project, clips):
    manifests, plan = _planned(_project(project, clips["short"], 2.4))
    ran: dict[str, tuple[float, str]] = {}
    ended: dict[str, float] = {}
    results = render_plan(
        plan.jobs,
        manifests.output_dir,
        executor=LocalExecutor(2, cpus=2),
        on_running=lambda job, where: ran.setdefault(job.name, (time.monotonic(), where)),
        on_done=lambda job, done: ended.setdefault(job.name, time.monotonic()),
    )
    assert [r.status for r in results] == [RENDERED, RENDERED], results
    a, b = (f"{s}/main" for s in STUDIES)
    assert ran[a][1] != ran[b][1], f"both jobs ran in one process: {ran}"
    # each started before the other ended: they overlapped
    assert ran[a][0] < ended[b] and ran[b][0] < ended[a], (ran, ended)


# ---------------------------------------------------------------------------------------
# Dask
# ---------------------------------------------------------------------------------------


def test_dask_renders_the_same_files_as_the_local_pool(project, clips, cluster):
    manifests, plan = _planned(_project(project, clips["short"], 2.0))
    out_dir = manifests.output_dir
    local = _render(manifests, plan, LocalExecutor(2, cpus=2))
    assert not local.failed, [(r.job.path, r.reason) for r in local.results]
    local_files = {r.job.path: r.sha256 for r in local.results}

    where: dict[str, str] = {}
    progress: list[str] = []
    with DaskExecutor(cluster) as ex:
        workers = set(ex.client.nthreads())
        dask = _render(
            manifests,
            plan,
            ex,
            on_running=lambda job, w: where.setdefault(job.name, w),
            on_progress=lambda name, secs: progress.append(name),
        )
    assert not dask.failed, [(r.job.path, r.reason) for r in dask.results]
    assert {r.status for r in dask.results} == {RENDERED}
    assert {r.job.path: r.sha256 for r in dask.results} == local_files
    assert set(where) == {f"{s}/main" for s in STUDIES} and set(where.values()) <= workers
    assert progress and set(progress) <= set(where), progress
    lock = Lock(out_dir)
    for path, digest in local_files.items():
        assert (out_dir / path).is_file() and lock.entries[path]["sha256"] == digest
    assert json.loads((out_dir / "index.json").read_text())  # the same summary and index
    assert not _leftovers(out_dir)


def test_a_job_failing_on_a_worker_comes_back_failed_and_the_other_renders(project, clips, cluster):
    manifests, plan = _planned(_project(project, clips["short"], 2.0))
    gone = manifests.root / "media" / "beta.mp4"
    gone.unlink()  # after planning: the worker finds no source
    with DaskExecutor(cluster) as ex:
        report = _render(manifests, plan, ex)
    by_case = {r.job.case_id: r for r in report.results}
    assert by_case["alpha"].status == RENDERED, by_case["alpha"].reason
    failed = by_case["beta"]
    assert failed.status == FAILED
    assert str(gone) in failed.reason and "on worker tcp://" in failed.reason, failed.reason
    assert "Traceback" not in failed.reason
    assert not (manifests.output_dir / failed.job.path).exists()
    assert not _leftovers(manifests.output_dir)


@pytest.mark.parametrize("kind", ["local", "dask"])
def test_ctrl_c_stops_every_job_and_leaves_nothing(project, clips, cluster, kind):
    # full 1920x1080: seconds of encoding per job, so both are stopped mid-render
    manifests, plan = _planned(_project(project, clips["long"], 9.5), small=False)
    out_dir = manifests.output_dir
    seen: list[str] = []

    def interrupt(name: str, secs: float) -> None:
        seen.append(name)
        if len(seen) == 1:  # FFmpeg under way: Ctrl-C
            raise KeyboardInterrupt

    executor = LocalExecutor(2, cpus=2) if kind == "local" else DaskExecutor(cluster)
    with pytest.raises(KeyboardInterrupt):
        render_plan(plan.jobs, out_dir, executor=executor, on_progress=interrupt)
    for job in plan.jobs:
        for out in job.outputs:
            assert not (out_dir / out.path).exists(), f"{out.path} renamed into place after Ctrl-C"
    assert not Lock(out_dir).entries
    # the executor waited for the stopped renders to remove their temporaries
    assert not _leftovers(out_dir), _leftovers(out_dir)


def test_unreachable_scheduler_is_a_clear_error_before_planning(
    project, clips, capsys, monkeypatch
):
    root = _project(project, clips["short"], 2.0)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    args = ["-m", str(root / "manifests"), "render", "--executor", "dask"]
    assert main([*args, "--scheduler", address]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach the Dask scheduler at {address}" in err, err
    assert "Traceback" not in err
    assert not (root / "out").exists(), "nothing may be planned or written"

    monkeypatch.setenv(SCHEDULER_ENV, address)  # the environment names it instead
    assert main(args) == 2
    assert f"cannot reach the Dask scheduler at {address}" in capsys.readouterr().err

    monkeypatch.delenv(SCHEDULER_ENV)
    assert main(args) == 2  # and no scheduler at all
    assert "--scheduler" in capsys.readouterr().err


def test_a_scheduler_without_workers_is_a_clear_error():
    with (
        distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as c,
        pytest.raises(ExecutorError, match="has no workers") as info,
    ):
        DaskExecutor(c.scheduler_address, worker_wait=0.5)
    assert c.scheduler_address in str(info.value)


def _blind(path: str, token: str) -> bool:
    return False


def test_a_worker_that_cannot_see_the_output_folder_is_a_clear_error(project, clips, monkeypatch):
    import pipeline.executors as executors

    manifests, plan = _planned(_project(project, clips["short"], 2.0))
    monkeypatch.setattr(executors, "_sees", _blind)  # as a worker on another machine would
    with (
        distributed.LocalCluster(
            n_workers=1, processes=False, threads_per_worker=1, dashboard_address=":0"
        ) as c,
        DaskExecutor(c.scheduler_address) as ex,
        pytest.raises(ExecutorError, match="cannot see the output folder") as info,
    ):
        render_plan(plan.jobs, manifests.output_dir, executor=ex)
    assert str(manifests.output_dir) in str(info.value) and "inproc://" in str(info.value)
    assert not _leftovers(manifests.output_dir)


def test_a_lost_worker_s_job_is_rendered_again_and_its_ffmpeg_dies_with_it(project, clips):
    """SIGKILL the worker mid-encode, as the OOM killer or a lost machine would: Dask runs
    the job again on a worker, the retry writes its own temporary file, the output is
    complete and passes verify, and the dead worker's FFmpeg does not go on encoding (its
    ``-progress`` pipe breaks with the worker, and FFmpeg stops at its next report)."""
    import os
    import signal

    import psutil

    from pipeline.verify import verify_output

    manifests, plan = _planned(_project(project, clips["long"], 9.5), small=False)
    plan = replace(plan, jobs=plan.jobs[:1])
    out_dir = manifests.output_dir
    killed: dict[str, object] = {}
    runs: list[str] = []

    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
        ) as c,
        DaskExecutor(c.scheduler_address) as ex,
    ):

        def kill_worker(name: str, secs: float) -> None:
            if killed:
                return
            address = runs[0]
            pid = ex.client.run(os.getpid, workers=[address])[address]
            ffmpeg = psutil.Process(pid).children(recursive=True)
            assert ffmpeg, "no FFmpeg under the worker"
            killed.update(address=address, ffmpeg=ffmpeg)
            os.kill(pid, signal.SIGKILL)

        results = render_plan(
            plan.jobs,
            out_dir,
            executor=ex,
            force=True,
            on_running=lambda job, where: runs.append(where),
            on_progress=kill_worker,
        )
    assert killed, "the render ended before the worker could be killed"
    assert len(runs) == 2, f"expected the job to run twice: {runs}"
    [result] = results
    assert result.status == RENDERED, result.reason
    check = verify_output(
        result.job, out_dir, normalization=result.normalization, loudness_note=result.loudness_note
    )
    assert not check.failures, check.failures
    orphans = killed["ffmpeg"]
    assert isinstance(orphans, list)
    _gone, alive = psutil.wait_procs(orphans, timeout=5)
    assert not alive, f"FFmpeg outlived its worker: {alive}"
    assert not _leftovers(out_dir), _leftovers(out_dir)


def test_pool_workers_log_their_ffmpeg_commands_at_vv(project, clips, capfd):
    root = _project(project, clips["short"], 1.0)
    args = ["-m", str(root / "manifests"), "-vv", "render", "-j", "2"]
    assert main(args) == 0
    err = capfd.readouterr().err
    # one FFmpeg command per job, each logged by the worker process that ran it
    assert err.count("-filter_complex") >= 2, err[-3000:]
    assert "Importing" not in err and "Decompiling" not in err  # no other library's DEBUG
