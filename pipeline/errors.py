"""Typed errors shared by every stage.

Every error must survive pickling, because jobs run in worker processes and their
failures travel back to the parent. Exceptions with extra constructor arguments do
not pickle by default (``BaseException.__reduce__`` replays only ``args``), so each
class here stores what it needs in ``args`` or defines ``__reduce__``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one manifest: where, which field, what, and what is allowed."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class _ProblemsError(PipelineError):
    """Carries every problem found, not just the first, one per line when printed."""

    exit_code = 2
    heading = "problems"

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]):
        self.problems = tuple(problems)
        super().__init__(self.problems)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.problems,))

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} {self.heading}:"
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


class ManifestError(_ProblemsError):
    """One or more manifests are invalid."""

    heading = "in the manifests"


class PlanError(_ProblemsError):
    """The manifests are well formed but cannot be turned into jobs (e.g. a cut too long)."""

    heading = "planning the outputs"


class SourceError(PipelineError):
    """A source file is missing, unreadable, or not the media it claims to be."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(path, reason)

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class FFmpegError(PipelineError):
    """FFmpeg exited non-zero; carries the last meaningful stderr lines and the full log's path."""

    def __init__(self, what: str, returncode: int, tail: str, log_path: str | None = None):
        self.what = what
        self.returncode = returncode
        self.tail = tail
        self.log_path = log_path
        super().__init__(what, returncode, tail, log_path)

    def __str__(self) -> str:
        msg = f"FFmpeg failed ({self.what}, exit code {self.returncode}): {self.tail}"
        if self.log_path:
            msg += f" (full log: {self.log_path})"
        return msg


class VerifyError(PipelineError):
    """A rendered file breaks one of its platform's rules."""

    def __init__(self, path: str, failures: tuple[str, ...]):
        self.path = path
        self.failures = tuple(failures)
        super().__init__(path, self.failures)

    def __str__(self) -> str:
        return f"{self.path}: " + "; ".join(self.failures)


class StorageError(PipelineError):
    """Publishing to a storage backend failed."""


class StorageConfigError(StorageError):
    """The storage settings (campaign file or environment) are incomplete or invalid;
    nothing was sent anywhere."""

    exit_code = 2


class PublishError(StorageError):
    """A publish, rollback or history request failed. Raised before ``index.json`` is
    replaced, so the live index and every URL in it still stand; the message names the bucket,
    key and S3 error code, never credentials."""


class CaptionError(PipelineError):
    """A caption file cannot be read: names the file, the line (when known) and what is wrong."""

    def __init__(self, label: str, line: int | None, reason: str):
        self.label = label
        self.line = line
        self.reason = reason
        super().__init__(label, line, reason)

    def __str__(self) -> str:
        where = self.label if self.line is None else f"{self.label}:{self.line}"
        return f"{where}: {self.reason}"


class ReviewError(PipelineError):
    """The review pages cannot be written or served: names the file or address."""

    exit_code = 2


class SpeechError(PipelineError):
    """Speech cannot be aligned or recognised: no audio, an engine or model missing, a
    language the engine does not know. Names the file, engine or model path."""

    exit_code = 2
