"""Load and validate manifests, collecting every problem in every file before failing.

Reading YAML with line numbers is ``manifest_yaml``'s job, wording pydantic's errors is
``manifest_problems``'s. Checks that need the file system (paths inside
the project root, caption files present) and checks across files (duplicate ids) are here.
A missing *source* is deliberately not a manifest error: it fails that case study at render
time so the rest of the batch still renders (``validate`` reports it and exits 2).

Manifests are untrusted: every file one names must resolve, symlinks followed, inside the
project root (sources: or inside one of the campaign's ``media_roots``). ``..`` and absolute
paths are judged by where they end up, and a symlink anywhere on the way that leads out is
named in the message. Messages show paths as written or relative to the project root,
never the machine's absolute paths.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline.errors import ManifestError, Problem
from pipeline.manifest import AUTO, Campaign, CaseStudy
from pipeline.manifest_problems import validate_model
from pipeline.manifest_yaml import Loc, line_of, read_yaml

CAMPAIGN_FILE = "campaign.yaml"


@dataclass(frozen=True)
class Located:
    """A validated manifest with where it came from, so later stages can cite file and line."""

    file: Path
    lines: dict[Loc, int] = field(repr=False, compare=False)

    def line(self, *loc: str | int) -> int | None:
        return line_of(self.lines, loc)


@dataclass(frozen=True)
class LoadedCaseStudy(Located):
    study: CaseStudy = field(default=None)  # type: ignore[assignment]

    @property
    def source_path(self) -> Path:
        return (self.file.parent / self.study.source).resolve()

    def caption_paths(self) -> dict[str, Path]:
        """Caption files and transcripts by language (not the `auto` ones)."""
        return {
            k: (self.file.parent / v).resolve() for k, v in self.study.captions.items() if v != AUTO
        }

    def auto_captions(self) -> list[str]:
        """Languages whose captions are drafted by speech recognition (`auto`)."""
        return [k for k, v in self.study.captions.items() if v == AUTO]

    def draft_path(self, lang: str) -> Path:
        """Where the draft of ``lang`` goes: next to the manifest, for review."""
        return self.file.parent / f"{self.study.id}.{lang}.draft.vtt"


@dataclass(frozen=True)
class LoadedCampaign(Located):
    campaign: Campaign = field(default=None)  # type: ignore[assignment]


@dataclass(frozen=True)
class Manifests:
    """Everything ``plan`` needs from the manifests folder."""

    root: Path
    campaign: LoadedCampaign
    case_studies: tuple[LoadedCaseStudy, ...]
    # The campaign's media_roots: each as written and resolved.
    media_roots: tuple[tuple[str, Path], ...] = ()

    @property
    def output_dir(self) -> Path:
        return (self.root / self.campaign.campaign.output_dir).resolve()

    def label(self, path: Path) -> str:
        """``path`` for messages and logs: relative to the project root, or to the media
        root it is in (that root as the campaign writes it); never an absolute machine path
        the manifests do not already show."""
        real = _resolve(path) or path
        if real.is_relative_to(self.root):
            return real.relative_to(self.root).as_posix()
        for written, folder in self.media_roots:
            if real.is_relative_to(folder):
                return Path(written, real.relative_to(folder)).as_posix()
        return path.name


def _resolve(path: Path) -> Path | None:
    """``path`` with every symlink followed; None when that cannot be done (a symlink loop,
    a name too long for the file system)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # e.g. a name too long; "does not exist" is the useful answer
        return False


def _rel(path: Path, root: Path) -> str:
    """``path`` relative to the project root: messages must not leak machine paths. Where
    it is, else (a symlink leading out) where it is spelt."""
    for candidate in (_resolve(path), Path(os.path.normpath(path))):
        if candidate is not None and candidate.is_relative_to(root):
            return candidate.relative_to(root).as_posix()
    return path.name


@dataclass(frozen=True)
class _Area:
    """Folders files may be in (resolved), and the project root and media roots as they
    are spelt before symlinks are followed, to tell a path that says it goes out (``..``,
    absolute) from one that goes out through a symlink."""

    root: Path
    media: tuple[tuple[str, Path], ...] = ()

    @property
    def folders(self) -> list[Path]:
        return [self.root, *(real for _, real in self.media)]

    def spelt(self) -> list[tuple[str, Path]]:
        return [("", self.root)] + [
            (written, Path(os.path.normpath(self.root / written))) for written, _ in self.media
        ]

    def contains(self, real: Path) -> bool:
        return any(real.is_relative_to(f) for f in self.folders)

    def show(self, path: Path) -> str:
        """A path as the manifests would spell it: relative to the root or a media root."""
        for written, folder in self.spelt():
            if path.is_relative_to(folder):
                rest = path.relative_to(folder).as_posix()
                return Path(written, rest).as_posix() if written else rest
        return path.name

    def why_outside(self, target: Path) -> str | None:
        """None when ``target`` (joined, not resolved) ends up inside; else why not, in
        words after "... is": outside, through which symlink, or a loop."""
        real = _resolve(target)
        where = "the project root"
        if self.media:
            where += f" and the media roots ({', '.join(w for w, _ in self.media)})"
        if real is None:
            return "not a path that can be followed (a symlink loop, or a name too long)"
        if self.contains(real):
            return None
        lexical = Path(os.path.normpath(target))
        if not any(lexical.is_relative_to(folder) for _, folder in self.spelt()):
            return f"outside {where}"
        link = self._link_out(target)
        how = f" (resolves outside {'them' if self.media else 'it'}"
        how += f" through a symlink at {self.show(link)})" if link else ")"
        return f"outside {where}{how}"

    def _link_out(self, target: Path) -> Path | None:
        """The first symlink on the way to ``target`` that leads outside, spelt lexically."""
        prefix = Path(target.parts[0])
        for part in target.parts[1:]:
            prefix /= part
            if part == "..":
                continue
            try:
                is_link = prefix.is_symlink()
            except OSError:
                return None
            real = _resolve(prefix)
            if is_link and (real is None or not self.contains(real)):
                return Path(os.path.normpath(prefix))
        return None


def _check_paths(
    loaded: LoadedCaseStudy, area: _Area, media: _Area, problems: list[Problem]
) -> None:
    study = loaded.study
    file = str(loaded.file)
    why = media.why_outside(loaded.file.parent / study.source)
    if why is not None:
        keep = "one of them" if media.media else "the project (e.g. media/)"
        problems.append(
            Problem(
                file,
                loaded.line("source"),
                "source",
                f"{study.source!r} is {why}; keep footage inside {keep}",
            )
        )
    for lang, rel in study.captions.items():
        if rel == AUTO:
            continue
        _check_file(
            loaded,
            area,
            ("captions", lang),
            rel,
            problems,
            outside="; keep caption files inside the project",
            missing=f"caption file {rel!r}",
            relative_to="this manifest",
        )


def _check_file(
    loaded: Located,
    area: _Area,
    loc: tuple[str, str],
    rel: str,
    problems: list[Problem],
    *,
    outside: str,
    missing: str,
    relative_to: str,
) -> None:
    """A file a manifest names must be inside the project root and exist."""
    target = loaded.file.parent / rel
    where = (str(loaded.file), loaded.line(*loc), ".".join(loc))
    why = area.why_outside(target)
    if why is not None:
        problems.append(Problem(*where, f"{rel!r} is {why}{outside}"))
    elif not _is_file(target):
        problems.append(
            Problem(
                *where,
                f"{missing} does not exist (looked for {_rel(target, area.root)}; "
                f"paths are relative to {relative_to})",
            )
        )


def _media_roots(
    loaded: LoadedCampaign, root: Path, problems: list[Problem]
) -> tuple[tuple[str, Path], ...]:
    """The campaign's media roots, resolved. One that does not exist is allowed (a drive
    not mounted): sources in it fail as missing, at render time, like any missing source."""
    roots: list[tuple[str, Path]] = []
    for i, written in enumerate(loaded.campaign.media_roots):
        folder = root / written
        real = _resolve(folder)
        where = (str(loaded.file), loaded.line("media_roots", i), f"media_roots[{i}]")
        if real is None:
            problems.append(
                Problem(
                    *where, f"{written!r} cannot be followed (a symlink loop, or a name too long)"
                )
            )
        elif real.exists() and not real.is_dir():
            problems.append(Problem(*where, f"{written!r} is not a folder"))
        else:
            roots.append((written, real))
    return tuple(roots)


def _check_campaign_paths(loaded: LoadedCampaign, area: _Area, problems: list[Problem]) -> None:
    camp = loaded.campaign
    file = str(loaded.file)
    why = area.why_outside(area.root / camp.output_dir)
    if why is not None:
        problems.append(
            Problem(
                file,
                loaded.line("output_dir"),
                "output_dir",
                f"{camp.output_dir!r} is {why}; outputs must be "
                "written inside the project (e.g. out)",
            )
        )
    for key in ("font", "logo"):
        rel = getattr(camp.brand, key)
        if rel is not None:
            _check_file(
                loaded,
                area,
                ("brand", key),
                rel,
                problems,
                outside="",
                missing=f"{key} file {rel!r}",
                relative_to=CAMPAIGN_FILE,
            )


def _manifest_file_ok(path: Path, folders: Sequence[Path], problems: list[Problem]) -> bool:
    """A manifest that is a symlink must point inside the project (or the manifests folder,
    when that was given apart from the root): it is read as the project's own."""
    real = _resolve(path)
    if real is not None and any(real.is_relative_to(f) for f in folders):
        return True
    problems.append(
        Problem(
            str(path),
            None,
            "",
            "is a symlink to a file outside the project root; copy the manifest into "
            "the manifests folder instead",
        )
    )
    return False


def load_manifests(manifest_dir: Path, root: Path | None = None) -> Manifests:
    """Load ``campaign.yaml`` and every other ``*.yaml``/``*.yml`` case study in ``manifest_dir``.

    ``root`` is the project root that source paths must stay inside (default: the parent of
    ``manifest_dir``). Raises ``ManifestError`` listing every problem in every file.
    """
    manifest_dir = manifest_dir.resolve()
    root = (root or manifest_dir.parent).resolve()
    problems: list[Problem] = []
    if not manifest_dir.is_dir():
        raise ManifestError(
            _relative(
                [Problem(str(manifest_dir), None, "", "manifest folder does not exist")], root
            )
        )

    campaign_path = manifest_dir / CAMPAIGN_FILE
    campaign: LoadedCampaign | None = None
    media_roots: tuple[tuple[str, Path], ...] = ()
    if not campaign_path.is_file():
        near = sorted(
            p.name for p in manifest_dir.glob("campaign.*") if p.suffix in (".yml", ".YAML")
        )
        if near:
            hint = f" (found {near[0]}: rename it to {CAMPAIGN_FILE})"
        else:
            hint = (
                f"; every manifests folder needs a {CAMPAIGN_FILE} with at least name and hashtag"
            )
        problems.append(Problem(str(campaign_path), None, "", f"campaign file is missing{hint}"))
    elif _manifest_file_ok(campaign_path, (root, manifest_dir), problems):
        read = read_yaml(campaign_path, problems)
        if read:
            model = validate_model(Campaign, read[0], campaign_path, read[1], problems)
            if model is not None:
                campaign = LoadedCampaign(campaign_path, read[1], model)
                media_roots = _media_roots(campaign, root, problems)
    area, media = _Area(root), _Area(root, media_roots)
    if campaign is not None:
        _check_campaign_paths(campaign, area, problems)

    studies: list[LoadedCaseStudy] = []
    seen_ids: dict[str, LoadedCaseStudy] = {}
    files = sorted(
        p
        for p in manifest_dir.iterdir()
        if p.suffix in (".yaml", ".yml") and p.stem != "campaign" and p.is_file()
    )
    if not files:
        problems.append(
            Problem(str(manifest_dir), None, "", "no case-study manifests (*.yaml) found")
        )
    for path in files:
        if not _manifest_file_ok(path, (root, manifest_dir), problems):
            continue
        read = read_yaml(path, problems)
        if not read:
            continue
        study = validate_model(CaseStudy, read[0], path, read[1], problems)
        if study is None:
            continue
        loaded = LoadedCaseStudy(path, read[1], study)
        _check_paths(loaded, area, media, problems)
        if study.id in seen_ids:
            first = seen_ids[study.id]
            problems.append(
                Problem(
                    str(path),
                    loaded.line("id"),
                    "id",
                    f"id {study.id!r} is already used by {_rel(first.file, root)}:"
                    f"{first.line('id')}; ids must be unique across the campaign",
                )
            )
        else:
            seen_ids[study.id] = loaded
        if not study.outputs and campaign is not None and not campaign.campaign.default_platforms:
            problems.append(
                Problem(
                    str(path),
                    loaded.line(),
                    "outputs",
                    "no outputs listed and the campaign has no default_platforms; "
                    "add outputs here or default_platforms to the campaign",
                )
            )
        studies.append(loaded)

    if problems:
        raise ManifestError(_relative(_by_file_and_line(problems), root))
    assert campaign is not None
    return Manifests(
        root=root, campaign=campaign, case_studies=tuple(studies), media_roots=media_roots
    )


def _by_file_and_line(problems: list[Problem]) -> list[Problem]:
    """Files in the order they were read; within a file, top to bottom."""
    order: dict[str, int] = {}
    for p in problems:
        order.setdefault(p.file, len(order))
    return sorted(problems, key=lambda p: (order[p.file], p.line or 0))


def _relative(problems: list[Problem], root: Path) -> list[Problem]:
    """File names relative to the project root: messages must not leak machine paths."""
    return [replace(p, file=_rel(Path(p.file), root)) for p in problems]
