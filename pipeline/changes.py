"""Which case studies changed in git since a ref: ``render --changed-since REF``.

Git lists the files that differ between REF and the working tree (committed since, staged or
not, deleted) and the untracked files it does not ignore. A case study is selected when its
manifest, its source or one of its caption files is among them; every case study is, when
the campaign file, the platform profiles (``pipeline/profiles.py``) or a brand file (the
end card's logo, the brand font) is. Paths are resolved the way the manifest loader resolves
them, so ``../media/x.mp4`` in a manifest and ``media/x.mp4`` from git are the same file.

Git only sees what it tracks: a source in an ignored folder (``media/`` here) or outside the
repository never shows as changed. ``Selection.untracked`` names those case studies; a
plain ``render`` still catches a change to them, by the source's content hash.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.manifest_load import Manifests


class ChangesError(PipelineError):
    """``--changed-since`` cannot be answered: no git, not a repository, an unknown ref."""

    exit_code = 2


@dataclass(frozen=True)
class Changed:
    """Files that differ between ``ref`` and the working tree, resolved."""

    ref: str
    top: Path  # the repository's top folder
    files: frozenset[Path]


@dataclass(frozen=True)
class Selection:
    ref: str
    # why every case study is selected (a shared file changed); empty when not
    everything: tuple[str, ...]
    # the selected case studies, each with why
    reasons: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # every case study's id, in manifest order
    all_ids: tuple[str, ...] = ()
    # case studies whose source git does not track: a change to it is not seen here
    untracked: tuple[str, ...] = ()

    @property
    def case_ids(self) -> frozenset[str] | None:
        """The case studies to render; None for all of them."""
        return None if self.everything else frozenset(self.reasons)

    @property
    def selected(self) -> tuple[str, ...]:
        return (
            self.all_ids if self.everything else tuple(i for i in self.all_ids if i in self.reasons)
        )


def _git(top: Path, args: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", "-C", str(top), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise ChangesError("--changed-since needs git, and git is not installed") from None


def _paths(top: Path, output: bytes) -> set[Path]:
    return {_real(top / p) for p in output.decode("utf-8", "surrogateescape").split("\0") if p}


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def changed_files(where: Path, ref: str) -> Changed:
    """The files that changed since ``ref`` in the git repository holding ``where`` (a file
    or folder). ``ChangesError`` names what is wrong: no git, no repository, unknown ref."""
    folder = where if where.is_dir() else where.parent
    if not folder.is_dir():
        raise ChangesError(f"--changed-since: {where} does not exist")
    found = _git(folder, ["rev-parse", "--show-toplevel"])
    if found.returncode != 0:
        said = found.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        raise ChangesError(
            f"--changed-since needs a git repository, and {where} is not in one"
            " (run `git init` and commit, or render without --changed-since)"
            + (f"; git: {said[0]}" if said and "not a git repository" not in said[0] else "")
        )
    top = Path(found.stdout.decode().strip())
    if not ref or ref.startswith("-"):
        raise ChangesError(f"--changed-since: {ref!r} is not a git ref")
    commit = _git(
        top, ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"]
    )
    if commit.returncode != 0:
        raise ChangesError(
            f"--changed-since: unknown git ref {ref!r} in {top.name} "
            "(a branch, tag or commit, e.g. HEAD, HEAD~3, main, origin/main)"
        )
    sha = commit.stdout.decode().strip()
    diff = _git(top, ["diff", "--name-only", "--no-renames", "-z", sha, "--"])
    new = _git(top, ["ls-files", "--others", "--exclude-standard", "-z"])
    for proc, what in ((diff, "git diff"), (new, "git ls-files")):
        if proc.returncode != 0:
            tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
            raise ChangesError(f"--changed-since: {what} failed: {' '.join(tail)}")
    files = _paths(top, diff.stdout) | _paths(top, new.stdout)
    return Changed(ref, top, frozenset(files))


def _tracked(top: Path, paths: Iterable[Path]) -> set[Path]:
    """Which of ``paths`` git tracks."""
    inside = [p for p in paths if p.is_relative_to(_real(top))]
    if not inside:
        return set()
    listed = _git(top, ["ls-files", "-z", "--", *(str(p) for p in inside)])
    return _paths(top, listed.stdout) if listed.returncode == 0 else set()


def shared_files(manifests: Manifests) -> dict[Path, str]:
    """Files every case study depends on, each with how to name it in messages."""
    from pipeline import profiles

    campaign = manifests.campaign
    brand = campaign.campaign.brand
    shared = {
        _real(campaign.file): "campaign file",
        _real(Path(profiles.__file__)): "platform profiles",
    }
    for rel, what in ((brand.logo, "brand logo"), (brand.font, "brand font")):
        if rel:
            shared[_real(campaign.file.parent / rel)] = what
    return shared


def select(manifests: Manifests, changed: Changed) -> Selection:
    """The case studies to render for ``changed``, and why each is selected."""
    label = manifests.label
    everything = tuple(
        f"{what} {label(path)} changed"
        for path, what in shared_files(manifests).items()
        if path in changed.files
    )
    reasons: dict[str, tuple[str, ...]] = {}
    untracked: list[str] = []
    tracked = _tracked(changed.top, [_real(c.source_path) for c in manifests.case_studies])
    for loaded in manifests.case_studies:
        why = []
        if _real(loaded.file) in changed.files:
            why.append(f"manifest {label(loaded.file)} changed")
        source = _real(loaded.source_path)
        if source in changed.files:
            why.append(f"source {label(source)} changed")
        elif source not in tracked:
            untracked.append(loaded.study.id)
        for lang, path in loaded.caption_paths().items():
            if _real(path) in changed.files:
                why.append(f"{lang} captions {label(path)} changed")
        if why:
            reasons[loaded.study.id] = tuple(why)
    return Selection(
        changed.ref,
        everything,
        reasons,
        tuple(c.study.id for c in manifests.case_studies),
        tuple(untracked),
    )


def changed_case_studies(manifests: Manifests, ref: str) -> Selection:
    """``changed_files`` and ``select`` in one: what ``render --changed-since REF`` renders."""
    return select(manifests, changed_files(manifests.campaign.file, ref))
