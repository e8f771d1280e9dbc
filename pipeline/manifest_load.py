"""Load and validate manifests, collecting every problem in every file before failing.

YAML is composed into nodes first so each value keeps its line number; pydantic's error
locations are then mapped back to lines. Checks that need the file system (paths inside
the project root, caption files present) and checks across files (duplicate ids) are here.
A missing *source* is deliberately not a manifest error: it fails that case study at render
time so the rest of the batch still renders (``validate`` reports it as a warning).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipeline.errors import ManifestError, Problem
from pipeline.manifest import Campaign, CaseStudy

CAMPAIGN_FILE = "campaign.yaml"

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Located:
    """A validated manifest with where it came from, so later stages can cite file and line."""

    file: Path
    lines: dict[Loc, int] = field(repr=False, compare=False)

    def line(self, *loc: str | int) -> int | None:
        """Line of the deepest known node on ``loc``."""
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get(())


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


class _UniqueKeyLoader(yaml.SafeLoader):
    pass


def _compose(path: Path, text: str, problems: list[Problem]) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        problems.append(Problem(str(path), line, "", f"YAML syntax error: {what}"))
        return None


def _index_lines(node: yaml.Node, loc: Loc, out: dict[Loc, int], path: Path, problems: list[Problem]) -> None:
    out[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(
                    Problem(str(path), key_node.start_mark.line + 1, ".".join(map(str, (*loc, key))),
                            f"key {key!r} appears twice")
                )
            seen.add(key)
            _index_lines(value_node, (*loc, key), out, path, problems)
            out[(*loc, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*loc, i), out, path, problems)
            # A segment [in, out] is validated as {start, end}: map those names too.
            if i < 2:
                out[(*loc, ("start", "end")[i])] = item.start_mark.line + 1


def _field_path(loc: Iterable[str | int]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _describe(err: dict[str, Any]) -> str:
    kind = err["type"]
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if kind == "extra_forbidden":
        return f"unknown key (value {err['input']!r}); check the spelling against the schema"
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error":
        return f"{err['input']!r} is not allowed (allowed: {err['ctx']['expected']})"
    if kind == "string_pattern_mismatch":
        return f"{err['input']!r} does not match the pattern {err['ctx']['pattern']}"
    if kind in ("value_error", "assertion_error"):
        return msg
    return f"{msg} (got {err['input']!r})"


def _validate(model: type, data: Any, path: Path, lines: dict[Loc, int], problems: list[Problem]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if p not in ("function-before", "function-after"))
            line = Located(path, lines).line(*loc)
            problems.append(Problem(str(path), line, _field_path(loc), _describe(err)))
        return None


def _inside(root: Path, target: Path) -> bool:
    try:
        target.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _check_paths(loaded: LoadedCaseStudy, root: Path, problems: list[Problem]) -> None:
    study = loaded.study
    file = str(loaded.file)
    if not _inside(root, loaded.source_path):
        problems.append(Problem(file, loaded.line("source"), "source",
                                f"{study.source!r} is outside the project root; keep footage "
                                "inside the project (e.g. media/)"))
    for lang, rel in study.captions.items():
        target = loaded.caption_paths()[lang]
        if not _inside(root, target):
            problems.append(Problem(file, loaded.line("captions", lang), f"captions.{lang}",
                                    f"{rel!r} is outside the project root"))
        elif not target.is_file():
            problems.append(Problem(file, loaded.line("captions", lang), f"captions.{lang}",
                                    f"caption file {rel!r} does not exist"))


def _read(path: Path, problems: list[Problem]) -> tuple[Any, dict[Loc, int]] | None:
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(Problem(str(path), None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})"))
        return None
    node = _compose(path, text, problems)
    if node is None:
        if not text.strip():
            problems.append(Problem(str(path), None, "", "file is empty"))
        return None
    lines: dict[Loc, int] = {}
    _index_lines(node, (), lines, path, problems)
    data = yaml.load(text, Loader=yaml.SafeLoader)
    if not isinstance(data, dict):
        problems.append(Problem(str(path), 1, "", "a manifest must be a mapping of keys to values"))
        return None
    return data, lines


def load_manifests(manifest_dir: Path, root: Path | None = None) -> Manifests:
    """Load ``campaign.yaml`` and every other ``*.yaml``/``*.yml`` case study in ``manifest_dir``.

    ``root`` is the project root that source paths must stay inside (default: the parent of
    ``manifest_dir``). Raises ``ManifestError`` listing every problem in every file.
    """
    manifest_dir = manifest_dir.resolve()
    root = (root or manifest_dir.parent).resolve()
    problems: list[Problem] = []
    if not manifest_dir.is_dir():
        raise ManifestError([Problem(str(manifest_dir), None, "", "manifest folder does not exist")])

    campaign_path = manifest_dir / CAMPAIGN_FILE
    campaign: LoadedCampaign | None = None
    if not campaign_path.is_file():
        problems.append(Problem(str(campaign_path), None, "", "campaign file is missing"))
    else:
        read = _read(campaign_path, problems)
        if read:
            model = _validate(Campaign, read[0], campaign_path, read[1], problems)
            if model is not None:
                campaign = LoadedCampaign(campaign_path, read[1], model)

    studies: list[LoadedCaseStudy] = []
    seen_ids: dict[str, LoadedCaseStudy] = {}
    files = sorted(p for p in manifest_dir.iterdir() if p.suffix in (".yaml", ".yml") and p.name != CAMPAIGN_FILE)
    if not files:
        problems.append(Problem(str(manifest_dir), None, "", "no case-study manifests (*.yaml) found"))
    for path in files:
        read = _read(path, problems)
        if not read:
            continue
        study = _validate(CaseStudy, read[0], path, read[1], problems)
        if study is None:
            continue
        loaded = LoadedCaseStudy(path, read[1], study)
        _check_paths(loaded, root, problems)
        if study.id in seen_ids:
            first = seen_ids[study.id]
            problems.append(Problem(str(path), loaded.line("id"), "id",
                                    f"id {study.id!r} is already used by {first.file.name}; ids must be unique"))
        else:
            seen_ids[study.id] = loaded
        if not study.outputs and campaign is not None and not campaign.campaign.default_platforms:
            problems.append(Problem(str(path), None, "outputs",
                                    "no outputs listed and the campaign has no default_platforms"))
        studies.append(loaded)

    if problems:
        raise ManifestError(_relative(problems, root))
    assert campaign is not None
    return Manifests(root=root, campaign=campaign, case_studies=tuple(studies))


def _relative(problems: list[Problem], root: Path) -> list[Problem]:
    """File names relative to the project root: messages must not leak machine paths."""
    out = []
    for p in problems:
        try:
            rel = str(Path(p.file).relative_to(root))
        except ValueError:
            rel = p.file
        out.append(Problem(rel, p.line, p.field, p.message))
    return out
