"""Load and validate manifests, collecting every problem in every file before failing.

Reading YAML with line numbers is ``manifest_yaml``'s job, wording pydantic's errors is
``manifest_problems``'s. Checks that need the file system (paths inside
the project root, caption files present) and checks across files (duplicate ids) are here.
A missing *source* is deliberately not a manifest error: it fails that case study at render
time so the rest of the batch still renders (``validate`` reports it and exits 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline.errors import ManifestError, Problem
from pipeline.manifest import Campaign, CaseStudy
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
        return {k: (self.file.parent / v).resolve() for k, v in self.study.captions.items()}


@dataclass(frozen=True)
class LoadedCampaign(Located):
    campaign: Campaign = field(default=None)  # type: ignore[assignment]


@dataclass(frozen=True)
class Manifests:
    """Everything ``plan`` needs from the manifests folder."""

    root: Path
    campaign: LoadedCampaign
    case_studies: tuple[LoadedCaseStudy, ...]

    @property
    def output_dir(self) -> Path:
        return (self.root / self.campaign.campaign.output_dir).resolve()


def _inside(root: Path, target: Path) -> bool:
    try:
        target.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _rel(path: Path, root: Path) -> str:
    """``path`` relative to the project root: messages must not leak machine paths."""
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.name


def _check_paths(loaded: LoadedCaseStudy, root: Path, problems: list[Problem]) -> None:
    study = loaded.study
    file = str(loaded.file)
    if not _inside(root, loaded.source_path):
        problems.append(
            Problem(
                file,
                loaded.line("source"),
                "source",
                f"{study.source!r} is outside the project root; keep footage "
                "inside the project (e.g. media/)",
            )
        )
    for lang, rel in study.captions.items():
        _check_file(
            loaded,
            root,
            ("captions", lang),
            rel,
            problems,
            outside="; keep caption files inside the project",
            missing=f"caption file {rel!r}",
            relative_to="this manifest",
        )


def _check_file(
    loaded: Located,
    root: Path,
    loc: tuple[str, str],
    rel: str,
    problems: list[Problem],
    *,
    outside: str,
    missing: str,
    relative_to: str,
) -> None:
    """A file a manifest names must be inside the project root and exist."""
    target = (loaded.file.parent / rel).resolve()
    where = (str(loaded.file), loaded.line(*loc), ".".join(loc))
    if not _inside(root, target):
        problems.append(Problem(*where, f"{rel!r} is outside the project root{outside}"))
    elif not target.is_file():
        problems.append(
            Problem(
                *where,
                f"{missing} does not exist (looked for {_rel(target, root)}; "
                f"paths are relative to {relative_to})",
            )
        )


def _check_campaign_paths(loaded: LoadedCampaign, root: Path, problems: list[Problem]) -> None:
    camp = loaded.campaign
    file = str(loaded.file)
    if not _inside(root, root / camp.output_dir):
        problems.append(
            Problem(
                file,
                loaded.line("output_dir"),
                "output_dir",
                f"{camp.output_dir!r} is outside the project root; outputs must be "
                "written inside the project (e.g. out)",
            )
        )
    for key in ("font", "logo"):
        rel = getattr(camp.brand, key)
        if rel is not None:
            _check_file(
                loaded,
                root,
                ("brand", key),
                rel,
                problems,
                outside="",
                missing=f"{key} file {rel!r}",
                relative_to=CAMPAIGN_FILE,
            )


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
    else:
        read = read_yaml(campaign_path, problems)
        if read:
            model = validate_model(Campaign, read[0], campaign_path, read[1], problems)
            if model is not None:
                campaign = LoadedCampaign(campaign_path, read[1], model)
                _check_campaign_paths(campaign, root, problems)

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
        read = read_yaml(path, problems)
        if not read:
            continue
        study = validate_model(CaseStudy, read[0], path, read[1], problems)
        if study is None:
            continue
        loaded = LoadedCaseStudy(path, read[1], study)
        _check_paths(loaded, root, problems)
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
    return Manifests(root=root, campaign=campaign, case_studies=tuple(studies))


def _by_file_and_line(problems: list[Problem]) -> list[Problem]:
    """Files in the order they were read; within a file, top to bottom."""
    order: dict[str, int] = {}
    for p in problems:
        order.setdefault(p.file, len(order))
    return sorted(problems, key=lambda p: (order[p.file], p.line or 0))


def _relative(problems: list[Problem], root: Path) -> list[Problem]:
    """File names relative to the project root: messages must not leak machine paths."""
    return [replace(p, file=_rel(Path(p.file), root)) for p in problems]
