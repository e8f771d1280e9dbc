"""Where cut jobs render: a local process pool, or a Dask distributed cluster.

Either way each job is one FFmpeg process (``pipeline.render.render_cut``) and the caller
sees the same things: ``submit`` a job's stale outputs, then ``as_completed`` yields each
job's results as it ends, reporting through a callback when a job starts running (and
where) and how far it has got. ``cancel`` stops everything: FFmpeg is stopped, nothing
more is renamed into place and the temporaries are removed. A job that fails, a worker
that raises or a worker that is lost comes back as FAILED results with the reason, never as
an exception, so one bad job does not sink the others.

The Dask executor needs every worker to see the same absolute paths as this machine:
sources and the output folder on shared storage (an NFS mount, or an S3 bucket mounted at
the same path). It checks what it can before any job runs: the scheduler is reachable,
has workers, and every worker runs the same pipeline and FFmpeg and can see the output
folder; a source missing on the worker that picked the job fails that job, naming both.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import queue as queue_mod
import signal
import socket
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pipeline.errors import PipelineError

if TYPE_CHECKING:
    from concurrent.futures import Future

    from pipeline.jobs import CutJob, OutputJob
    from pipeline.render import OutputResult

log = logging.getLogger(__name__)

RUNNING, PROGRESS = "running", "progress"


@dataclass(frozen=True)
class Event:
    """What a job is doing: ``RUNNING`` once it has started (``where``: a worker), then
    ``PROGRESS`` with the seconds of the cut FFmpeg has written."""

    kind: str
    name: str  # the job's name (CutJob.name)
    seconds: float = 0.0
    where: str = ""


OnEvent = Callable[[Event], None]
# each job with its results, as it ends; closing it early stops and waits for the workers
Finished = Generator["tuple[CutJob, list[OutputResult]]", None, None]


class ExecutorError(PipelineError):
    """The executor cannot run anything (scheduler unreachable, no workers, workers that
    cannot see the output folder); nothing was rendered."""

    exit_code = 2


# ---------------------------------------------------------------------------------------
# How many jobs at once, and how many threads each
# ---------------------------------------------------------------------------------------

# Cores per concurrent FFmpeg in the local pool's default size: one job per core, never more
# jobs than there are to run. On this 2-core machine two jobs at once (FFmpeg's filter and
# decoder threads shared out, x264 on its own count) were no slower than one after the
# other (`make bench`, executors table).
CORES_PER_JOB = 1


def available_cpus() -> int:
    """The cores this process may run on (CPU affinity, e.g. a container's cpuset), else
    the machine's count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(jobs: int, cpus: int | None = None) -> int:
    """The local pool's size: one FFmpeg per ``CORES_PER_JOB`` cores, at most ``jobs``."""
    cpus = cpus or available_cpus()
    return max(1, min(jobs, cpus // CORES_PER_JOB))


def threads_per_job(cpus: int, concurrent: int) -> int | None:
    """Each FFmpeg's share of ``cpus`` when ``concurrent`` run at once; None (FFmpeg and
    x264 pick their own, i.e. every core) when one runs alone."""
    if concurrent <= 1:
        return None
    return max(1, cpus // concurrent)


# ---------------------------------------------------------------------------------------
# The interface
# ---------------------------------------------------------------------------------------


class Executor(ABC):
    """Runs cut jobs; single use: submit every job, then iterate ``as_completed``."""

    #: what the progress display calls this executor's workers
    label = "local"

    @abstractmethod
    def submit(self, job: CutJob, outputs: tuple[OutputJob, ...], out_dir: Path) -> None:
        """Queue one job: render ``outputs`` (a subset of ``job.outputs``) into ``out_dir``."""

    @abstractmethod
    def as_completed(self, on_event: OnEvent | None = None) -> Finished:
        """Run what was submitted; yield each job with its results as it ends."""

    @abstractmethod
    def cancel(self) -> None:
        """Stop: running FFmpeg processes are stopped, nothing more is renamed into place,
        temporaries are removed. Called after KeyboardInterrupt; the caller re-raises it."""

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release processes and connections (safe to call twice)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _failed(outputs: tuple[OutputJob, ...], reason: str) -> list[OutputResult]:
    from pipeline.render import FAILED, OutputResult

    return [OutputResult(o, FAILED, reason) for o in outputs]


# ---------------------------------------------------------------------------------------
# Local: a process pool on this machine
# ---------------------------------------------------------------------------------------

_cancel: Any = None  # in a pool worker: the parent's "stop now" event (see _init_worker)


def _init_worker(cancel: Any, log_level: int) -> None:
    """Pool initializer. Ctrl-C goes to the whole process group, but only the parent acts on
    it: it sets ``cancel`` and waits, so a worker is never cut down between FFmpeg finishing
    and the rename. The event comes here, not with each job: a plain multiprocessing Event
    can only be inherited, and a manager's proxy shares one connection per thread with the
    progress queue, which a Ctrl-C in the middle of a ``get`` leaves holding a stale reply."""
    global _cancel
    from pipeline.logs import setup_worker

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _cancel = cancel
    setup_worker(log_level)


def _worker_cancelled() -> bool:
    return _cancel is not None and bool(_cancel.is_set())


class _QueueReporter:
    """Picklable progress callback: workers put events on a manager queue."""

    def __init__(self, queue: Any):
        self.queue = queue

    def __call__(self, name: str, seconds: float) -> None:
        self.queue.put((PROGRESS, name, seconds, ""))

    def running(self, name: str) -> None:
        self.queue.put((RUNNING, name, 0.0, f"pid {os.getpid()}"))


def _pool_render(
    job: CutJob,
    outputs: tuple[OutputJob, ...],
    out_dir: str,
    reporter: _QueueReporter,
    threads: int | None,
) -> list[OutputResult]:
    """One job in a pool worker."""
    from pipeline.render import render_cut

    reporter.running(job.name)
    return render_cut(job, outputs, out_dir, reporter, _worker_cancelled, threads=threads)


class LocalExecutor(Executor):
    """A process pool on this machine (spawned, so it works the same on every platform).

    ``workers``: FFmpeg processes at once (None: ``default_workers``); each gets an equal
    share of the cores as its thread count (``threads_per_job``). One job, or one worker,
    renders in this process with no pool at all.
    """

    def __init__(self, workers: int | None = None, *, cpus: int | None = None):
        self.workers = workers
        self.cpus = cpus or available_cpus()
        self._todo: list[tuple[CutJob, tuple[OutputJob, ...], Path]] = []
        self._cancel: Any = None
        self._pending: set[Future[list[OutputResult]]] = set()

    def submit(self, job: CutJob, outputs: tuple[OutputJob, ...], out_dir: Path) -> None:
        self._todo.append((job, outputs, out_dir))

    def size(self, jobs: int) -> int:
        """Processes the pool would start for ``jobs`` jobs."""
        wanted = self.workers if self.workers else default_workers(jobs, self.cpus)
        return max(1, min(wanted, jobs))

    def as_completed(self, on_event: OnEvent | None = None) -> Finished:
        from pipeline.render import render_cut

        todo, self._todo = self._todo, []
        workers = self.size(len(todo))
        if workers <= 1:
            # One at a time: no pool and no manager process to spawn (about a second of Python
            # start-up each). Ctrl-C reaches FFmpeg's runner here directly, which stops FFmpeg;
            # render_cut then removes its temporaries.
            def progress(name: str, seconds: float) -> None:
                if on_event:
                    on_event(Event(PROGRESS, name, seconds))

            for job, outs, out_dir in todo:
                if on_event:
                    on_event(Event(RUNNING, job.name, where="this process"))
                yield job, render_cut(job, outs, str(out_dir), progress)
            return
        yield from self._pooled(todo, workers, on_event)

    def _pooled(
        self,
        todo: list[tuple[CutJob, tuple[OutputJob, ...], Path]],
        workers: int,
        on_event: OnEvent | None,
    ) -> Finished:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        threads = threads_per_job(self.cpus, workers)
        log.info("local pool: %d processes, %s FFmpeg threads each", workers, threads)
        ctx = multiprocessing.get_context("spawn")
        with ctx.Manager() as manager:
            q = manager.Queue()
            reporter = _QueueReporter(q)
            self._cancel = ctx.Event()
            with ProcessPoolExecutor(
                max_workers=workers,
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(self._cancel, logging.getLogger("pipeline").getEffectiveLevel()),
            ) as pool:
                futures: dict[Future[list[OutputResult]], tuple[CutJob, tuple[OutputJob, ...]]]
                futures = {}
                for job, outs, out_dir in todo:
                    fut = pool.submit(_pool_render, job, outs, str(out_dir), reporter, threads)
                    futures[fut] = (job, outs)
                    self._pending.add(fut)
                try:
                    while self._pending:
                        with contextlib.suppress(queue_mod.Empty):
                            while True:
                                kind, name, secs, where = q.get(timeout=0.2)
                                if on_event:
                                    on_event(Event(kind, name, secs, where))
                        for fut in [f for f in self._pending if f.done()]:
                            self._pending.discard(fut)
                            job, outs = futures[fut]
                            try:
                                done = fut.result()
                            except Exception as exc:  # a worker crash must not sink the batch
                                done = _failed(outs, f"worker failed: {exc!r}")
                            yield job, done
                except BaseException:
                    # Leaving the pool's block waits for the workers; without this they would
                    # finish their renders and rename complete files into place after Ctrl-C.
                    self.cancel()
                    raise

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
        for f in self._pending:
            f.cancel()


# ---------------------------------------------------------------------------------------
# Dask distributed: workers on other machines, sharing storage
# ---------------------------------------------------------------------------------------

SCHEDULER_ENV = "PIPELINE_DASK_SCHEDULER"
CONNECT_TIMEOUT_S = 10.0  # reaching the scheduler
WORKER_WAIT_S = 10.0  # for a first worker, when the scheduler has none yet
NO_WORKERS_GRACE_S = 60.0  # jobs still waiting after this long with no worker at all fail
CANCEL_WAIT_S = 30.0  # after Ctrl-C, for running jobs to stop FFmpeg and remove temporaries
PROGRESS_EVERY_S = 0.5  # per job, at most this often over the network
# Workers' events, to the client through the scheduler's event log: one topic for every
# render (the scheduler keeps a bounded log per topic), each event naming its render
TOPIC = "pipeline-render"


def _worker_facts() -> dict[str, Any]:
    """Runs on each worker (``Client.run``): what the up-front checks compare."""
    from pipeline import __version__
    from pipeline.ffmpeg_run import ffmpeg_version

    return {
        "host": socket.gethostname(),
        "cpus": available_cpus(),
        "version": __version__,
        "ffmpeg": ffmpeg_version(),
    }


def _sees(path: str, token: str) -> bool:
    """Runs on each worker: is ``path`` there with ``token`` in it (the same folder)?"""
    try:
        return Path(path).read_text() == token
    except OSError:
        return False


def _dask_render(
    job: CutJob,
    outputs: tuple[OutputJob, ...],
    out_dir: str,
    token: str,
    threads_by_worker: dict[str, int | None],
) -> list[OutputResult] | None:
    """One job on a Dask worker; None if the render was cancelled before it ended."""
    from distributed import Event as DaskEvent
    from distributed import get_worker

    from pipeline.render import render_cut

    worker = get_worker()
    where = worker.address
    stop_flag = DaskEvent(f"pipeline-cancel-{token}")

    def cancelled() -> bool:
        return bool(stop_flag.is_set())

    if cancelled():
        return None
    worker.log_event(TOPIC, [token, RUNNING, job.name, 0.0, where])
    if not Path(out_dir).is_dir():
        return _failed(outputs, f"output folder {out_dir} does not exist on worker {where}")
    if not Path(job.source).is_file():
        return _failed(
            outputs,
            f"source {job.source} does not exist on worker {where} ({socket.gethostname()}): "
            "workers need the sources at the same path as the machine that planned the render",
        )
    last = [0.0]

    def progress(name: str, seconds: float) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            worker.log_event(TOPIC, [token, PROGRESS, name, seconds, where])

    try:
        # the share worked out when connecting; a worker that joined since shares its own
        threads = threads_by_worker.get(
            where, threads_per_job(available_cpus(), worker.state.nthreads)
        )
        # own temporary names: Dask may run this again elsewhere while a lost worker's
        # FFmpeg still writes
        attempt = uuid.uuid4().hex[:12]
        return render_cut(
            job, outputs, out_dir, progress, cancelled, threads=threads, attempt=attempt
        )
    except KeyboardInterrupt:  # cancelled: FFmpeg stopped, temporaries removed
        return None
    except Exception as exc:  # reported, not raised: Dask would print the traceback
        log.exception("%s on %s", job.name, where)
        return _failed(outputs, f"error on worker {where}: {type(exc).__name__}: {exc}")


class DaskExecutor(Executor):
    """Jobs on a Dask distributed cluster (``distributed.Client(scheduler)``).

    Connecting checks the scheduler and its workers (``ExecutorError`` naming the address
    if anything is wrong); the first job for an output folder checks that every worker sees
    it. Each job is one task calling ``render_cut`` on a worker: run workers with
    ``--nthreads 1`` for one FFmpeg per worker process.
    """

    label = "dask"

    def __init__(
        self,
        scheduler: str,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        worker_wait: float = WORKER_WAIT_S,
    ):
        try:
            import distributed
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ExecutorError(
                "--executor dask needs Dask distributed: pip install 'case-study-pipeline[dask]'"
            ) from exc
        self.address = scheduler
        self.client: Any = None
        self.token = uuid.uuid4().hex
        self._todo: list[tuple[CutJob, tuple[OutputJob, ...], str]] = []
        self._checked: set[str] = set()
        self._swept: list[tuple[tuple[OutputJob, ...], str]] = []
        self._events: queue_mod.Queue[Event] = queue_mod.Queue()
        self._futures: dict[Any, tuple[CutJob, tuple[OutputJob, ...]]] = {}
        self._running: set[str] = set()
        _probe(scheduler, connect_timeout)
        try:
            self.client = distributed.Client(
                scheduler, timeout=connect_timeout, set_as_default=False
            )
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(
                f"cannot connect to the Dask scheduler at {scheduler}: {exc}"
            ) from exc
        try:
            self._check_workers(worker_wait)
        except BaseException:
            self.close()
            raise

    def _check_workers(self, wait: float) -> None:
        from pipeline import __version__
        from pipeline.ffmpeg_run import ffmpeg_version

        try:
            self.client.wait_for_workers(1, timeout=wait)
        except TimeoutError:
            raise ExecutorError(
                f"the Dask scheduler at {self.address} has no workers (waited {wait:g} s): "
                f"start some with `dask worker {self.address} --nthreads 1`"
            ) from None
        try:
            facts: dict[str, dict[str, Any]] = self.client.run(_worker_facts)
        except Exception as exc:
            raise ExecutorError(
                f"workers of {self.address} cannot run the pipeline ({type(exc).__name__}: "
                f"{exc}): install the same version of case-study-pipeline on every worker"
            ) from exc
        mine = {"version": __version__, "ffmpeg": ffmpeg_version()}
        for address, f in sorted(facts.items()):
            for what, ours in mine.items():
                if f[what] != ours:
                    name = "pipeline" if what == "version" else "FFmpeg"
                    raise ExecutorError(
                        f"worker {address} ({f['host']}) has {name} {f[what]}, this machine "
                        f"{ours}: install the same version of case-study-pipeline everywhere"
                    )
        # each host's cores shared out between the worker threads on it, as the local pool does
        slots: dict[str, int] = {}
        nthreads: dict[str, int] = self.client.nthreads()
        for address, f in facts.items():
            slots[f["host"]] = slots.get(f["host"], 0) + nthreads.get(address, 1)
        self.threads = {a: threads_per_job(f["cpus"], slots[f["host"]]) for a, f in facts.items()}
        log.info("dask: %d workers on %d hosts at %s", len(facts), len(slots), self.address)

    def _check_shared(self, out_dir: str) -> None:
        """Every worker must see ``out_dir``: write a file there and ask them to read it."""
        if out_dir in self._checked:
            return
        probe = Path(out_dir) / ".pipeline" / f".worker-check-{self.token}"
        probe.parent.mkdir(parents=True, exist_ok=True)
        probe.write_text(self.token)
        try:
            seen: dict[str, bool] = self.client.run(_sees, str(probe), self.token)
        finally:
            probe.unlink(missing_ok=True)
        blind = sorted(a for a, ok in seen.items() if not ok)
        if blind:
            raise ExecutorError(
                f"worker(s) {', '.join(blind)} cannot see the output folder {out_dir}: every "
                "worker needs the sources and the output folder at the same absolute paths "
                "as this machine (shared storage, e.g. an NFS mount)"
            )
        self._checked.add(out_dir)

    def submit(self, job: CutJob, outputs: tuple[OutputJob, ...], out_dir: Path) -> None:
        folder = str(out_dir.resolve())
        self._check_shared(folder)
        self._todo.append((job, outputs, folder))
        self._swept.append((outputs, folder))

    def as_completed(self, on_event: OnEvent | None = None) -> Finished:
        def handler(event: tuple[float, Any]) -> None:  # on the client's event loop
            token, kind, name, secs, where = event[1]
            if token == self.token:
                self._events.put(Event(kind, name, secs, where))

        self.client.subscribe_topic(TOPIC, handler)
        todo, self._todo = self._todo, []
        for job, outs, out_dir in todo:
            fut = self.client.submit(
                _dask_render,
                job,
                outs,
                out_dir,
                self.token,
                self.threads,
                key=f"render-{job.name}-{self.token[:8]}",
                pure=False,
            )
            self._futures[fut] = (job, outs)
        pending = set(self._futures)
        alone_since: float | None = None
        checked_at = time.monotonic()
        try:
            while pending:
                self._drain(on_event, timeout=0.2)
                for fut in [f for f in pending if f.done()]:
                    pending.discard(fut)
                    job, outs = self._futures[fut]
                    self._running.discard(job.name)
                    yield job, self._outcome(fut, outs)
                if time.monotonic() - checked_at > 2:  # a cluster that lost every worker
                    checked_at = time.monotonic()
                    if self.client.nthreads():
                        alone_since = None
                    elif alone_since is None:
                        alone_since = checked_at
                    elif checked_at - alone_since > NO_WORKERS_GRACE_S:
                        for fut in list(pending):
                            pending.discard(fut)
                            job, outs = self._futures[fut]
                            yield (
                                job,
                                _failed(
                                    outs,
                                    f"no workers connected to {self.address} for "
                                    f"{NO_WORKERS_GRACE_S:g} s",
                                ),
                            )
            self._drain(on_event, timeout=0)
        finally:
            with contextlib.suppress(Exception):
                self.client.unsubscribe_topic(TOPIC)

    def _drain(self, on_event: OnEvent | None, timeout: float) -> None:
        with contextlib.suppress(queue_mod.Empty):
            event = self._events.get(timeout=timeout) if timeout else self._events.get_nowait()
            while True:
                if event.kind == RUNNING:
                    self._running.add(event.name)
                if on_event:
                    on_event(event)
                event = self._events.get_nowait()

    def _outcome(self, fut: Any, outs: tuple[OutputJob, ...]) -> list[OutputResult]:
        """A finished task's results, or FAILED ones saying why it has none."""
        from distributed.client import FutureCancelledError

        try:
            done = fut.result()
        except FutureCancelledError:
            return _failed(outs, f"lost: the Dask scheduler at {self.address} dropped the job")
        except Exception as exc:
            # KilledWorker: the workers running it died (out of memory, machine lost); or the
            # job or its results could not cross to the worker and back
            text = " ".join(str(exc).split())
            return _failed(outs, f"dask: {type(exc).__name__}: {text}")
        if done is None:
            return _failed(outs, "cancelled")
        return list(done)

    def cancel(self) -> None:
        """Tell running jobs to stop (they stop FFmpeg and remove their temporaries), drop
        the queued ones, and wait for the running ones to finish stopping."""
        from distributed import Event as DaskEvent

        with contextlib.suppress(Exception):
            DaskEvent(f"pipeline-cancel-{self.token}", client=self.client).set()
        waiting = [f for f in self._futures if not f.done()]
        with contextlib.suppress(Exception):
            self.client.cancel(
                [f for f, (job, _) in self._futures.items() if job.name not in self._running]
            )
        deadline = time.monotonic() + CANCEL_WAIT_S
        for f in waiting:
            while not f.done() and time.monotonic() < deadline:
                time.sleep(0.1)

    def close(self) -> None:
        self._sweep()
        client = getattr(self, "client", None)
        if client is not None:
            from distributed import Event as DaskEvent

            with contextlib.suppress(Exception):  # the scheduler forgets a cleared event
                DaskEvent(f"pipeline-cancel-{self.token}", client=client).clear()
            with contextlib.suppress(Exception):
                client.close()
            self.client = None

    def _sweep(self) -> None:
        """Remove temporaries that no task of this render will finish: a lost worker's
        (its FFmpeg may outlive it) and those of tasks still stopping when ``cancel`` gave up."""
        for outs, out_dir in self._swept:
            for out in outs:
                final = Path(out_dir) / out.path
                for tmp in final.parent.glob(f".{glob.escape(final.name)}.*.partial"):
                    with contextlib.suppress(OSError):
                        tmp.unlink()
        self._swept.clear()


def _probe(address: str, timeout: float) -> None:
    """Fail fast, naming the address, when nothing listens there (Dask itself retries
    until its timeout and then says only that it timed out)."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or not parts.port:
        if parts.scheme in ("tcp", "tls"):
            raise ExecutorError(
                f"Dask scheduler address {address!r} is not of the form tcp://HOST:PORT"
            )
        return
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            pass
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        raise ExecutorError(
            f"cannot reach the Dask scheduler at {address}: {why} (is `dask scheduler` "
            "running there, and the port open to this machine?)"
        ) from None


def make_executor(
    kind: str, *, workers: int | None = None, scheduler: str | None = None
) -> Executor:
    """The executor the CLI's ``--executor``/``-j``/``--scheduler`` ask for."""
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "dask":
        address = scheduler or os.environ.get(SCHEDULER_ENV, "")
        if not address:
            raise ExecutorError(
                f"--executor dask needs --scheduler tcp://HOST:8786 (or {SCHEDULER_ENV})"
            )
        return DaskExecutor(address)
    raise ExecutorError(f"unknown executor {kind!r}: local or dask")


__all__ = [
    "PROGRESS",
    "RUNNING",
    "DaskExecutor",
    "Event",
    "Executor",
    "ExecutorError",
    "LocalExecutor",
    "available_cpus",
    "default_workers",
    "make_executor",
    "threads_per_job",
]
