"""Load and validate manifests, collecting every problem in every file before failing.

YAML is composed into nodes first so each value keeps its line number; pydantic's error
locations are then mapped back to lines. Checks that need the file system (paths inside
the project root, caption files present) and checks across files (duplicate ids) are here.
A missing *source* is deliberately not a manifest error: it fails that case study at render
time so the rest of the batch still renders (``validate`` reports it and exits 2).
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Union, cast, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from pipeline.errors import ManifestError, Problem
from pipeline.manifest import PATTERN_RULES, Campaign, CaseStudy, FieldProblems

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


class _Loader(yaml.SafeLoader):
    """Plain scalars resolved as in YAML 1.2, not 1.1.

    YAML 1.1 reads ``16:9`` as the base-60 integer 969 and ``1:30`` as 90, ``no`` (Norwegian)
    as false and ``2024-05-01`` as a date. Here those stay strings, which is what a person
    writing an aspect ratio, a timestamp or a language code means. Only ``true``/``false``,
    ``null``/``~``, decimal integers and decimal floats (with ``.inf``/``.nan``) are typed.
    """


_BOOL, _INT, _FLOAT = (f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "float"))
_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in (_BOOL, _INT, _FLOAT, "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(_INT, re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_Loader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(?:\.[0-9]*)?[eE][-+]?[0-9]+)"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
# Decimal only: YAML 1.1 would read 010 as octal 8.
_Loader.add_constructor(
    _INT, lambda loader, node: int(loader.construct_scalar(cast(yaml.ScalarNode, node)))
)


def _compose(path: Path, text: str, problems: list[Problem]) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        if mark is not None:
            what += f" at column {mark.column + 1}"
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None:
            what += f" ({context} from line {context_mark.line + 1})"
        problems.append(Problem(str(path), line, "", f"YAML syntax error: {what}"))
        return None


def _index_lines(
    node: yaml.Node, loc: Loc, out: dict[Loc, int], path: Path, problems: list[Problem]
) -> None:
    out[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "<complex key>"
            line = key_node.start_mark.line + 1
            if key in first:
                problems.append(
                    Problem(
                        str(path),
                        line,
                        _field_path((*loc, key)),
                        f"key {key!r} appears twice (first at line {first[key]}); "
                        "YAML would silently keep only this one, so delete one of them",
                    )
                )
            else:
                first[key] = line
            # Index the last occurrence: it is the value that gets validated.
            _index_lines(value_node, (*loc, key), out, path, problems)
            out[(*loc, key)] = line
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


def _show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _unwrap(tp: Any) -> Any:
    """The model or container inside ``Annotated[...]`` and ``X | None``."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            options = [a for a in get_args(tp) if a is not type(None)]
            models = [a for a in options if isinstance(a, type) and issubclass(a, BaseModel)]
            tp = (models or options)[0]
        else:
            return tp


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The schema model that validates the mapping at ``loc``, if there is one."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if not isinstance(part, str) or part not in tp.model_fields:
                return None
            tp = tp.model_fields[part].annotation
        elif get_origin(tp) in (list, tuple):
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _suggestion(model: type[BaseModel], loc: Loc) -> tuple[list[str], str | None]:
    """Keys allowed next to the unknown key at ``loc``, and the one it is probably a typo of."""
    parent = _model_at(model, loc[:-1])
    allowed = list(parent.model_fields) if parent is not None else []
    hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    return allowed, hint[0] if hint else None


def _unknown_key(model: type[BaseModel], loc: Loc) -> str:
    key = str(loc[-1])
    allowed, hint = _suggestion(model, loc)
    if not allowed:  # pragma: no cover - every strict mapping in the schema is a model
        return f"unknown key {key!r}"
    msg = f"unknown key {key!r} (allowed: {', '.join(allowed)})"
    return msg + (f"; did you mean {hint!r}?" if hint else "")


def _describe(err: ErrorDetails, model: type[BaseModel], loc: Loc) -> str:
    kind = err["type"]
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if kind == "extra_forbidden":
        return _unknown_key(model, loc)
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error":
        return f"{_show(err['input'])} is not allowed (allowed: {err['ctx']['expected']})"
    if kind == "string_pattern_mismatch":
        pattern = err["ctx"]["pattern"]
        rule = PATTERN_RULES.get(pattern, f"it must match the pattern {pattern}")
        return f"{_show(err['input'])} is not allowed: {rule}"
    if kind in ("value_error", "assertion_error"):
        return msg
    return f"{msg} (got {_show(err['input'])})"


def _validate(
    model: type[BaseModel], data: Any, path: Path, lines: dict[Loc, int], problems: list[Problem]
) -> Any:
    where = Located(path, lines)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            (tuple(p for p in err["loc"] if p not in ("function-before", "function-after")), err)
            for err in exc.errors()
        ]
        # A misspelt required key is one mistake, not two: its "unknown key ...; did you mean"
        # says it all, so the "required field is missing" it causes is not repeated.
        typos = {
            (*loc[:-1], hint)
            for loc, err in errors
            if err["type"] == "extra_forbidden" and (hint := _suggestion(model, loc)[1])
        }
        for loc, err in errors:
            if err["type"] == "missing" and loc in typos:
                continue
            cause = (err.get("ctx") or {}).get("error")
            if isinstance(cause, FieldProblems):
                for sub, message in cause.problems:
                    full = (*loc, *sub)
                    problems.append(
                        Problem(str(path), where.line(*full), _field_path(full), message)
                    )
                continue
            problems.append(
                Problem(str(path), where.line(*loc), _field_path(loc), _describe(err, model, loc))
            )
        return None


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
        target = loaded.caption_paths()[lang]
        if not _inside(root, target):
            problems.append(
                Problem(
                    file,
                    loaded.line("captions", lang),
                    f"captions.{lang}",
                    f"{rel!r} is outside the project root; keep caption files inside the project",
                )
            )
        elif not target.is_file():
            problems.append(
                Problem(
                    file,
                    loaded.line("captions", lang),
                    f"captions.{lang}",
                    f"caption file {rel!r} does not exist (looked for "
                    f"{_rel(target, root)}; paths are relative to this manifest)",
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
        if rel is None:
            continue
        target = (loaded.file.parent / rel).resolve()
        if not _inside(root, target):
            problems.append(
                Problem(
                    file,
                    loaded.line("brand", key),
                    f"brand.{key}",
                    f"{rel!r} is outside the project root",
                )
            )
        elif not target.is_file():
            problems.append(
                Problem(
                    file,
                    loaded.line("brand", key),
                    f"brand.{key}",
                    f"{key} file {rel!r} does not exist (looked for "
                    f"{_rel(target, root)}; paths are relative to {CAMPAIGN_FILE})",
                )
            )


def _read(path: Path, problems: list[Problem]) -> tuple[Any, dict[Loc, int]] | None:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.append(
            Problem(
                str(path),
                line,
                "",
                f"not UTF-8 text ({exc.reason}: byte {raw[exc.start]:#04x}); "
                "save the file as UTF-8",
            )
        )
        return None
    if not text.strip():
        problems.append(
            Problem(str(path), None, "", "file is empty; a manifest is a mapping of keys to values")
        )
        return None
    before = len(problems)
    node = _compose(path, text, problems)
    if node is None:
        if len(problems) == before:  # no syntax error: the document itself is empty
            problems.append(
                Problem(
                    str(path),
                    None,
                    "",
                    "file has only comments; a manifest is a mapping of keys to values",
                )
            )
        return None
    if not isinstance(node, yaml.MappingNode):
        kind = (
            "a list" if isinstance(node, yaml.SequenceNode) else f"the single value {node.value!r}"
        )
        problems.append(
            Problem(
                str(path),
                node.start_mark.line + 1,
                "",
                f"a manifest must be a mapping of keys to values, not {kind}",
            )
        )
        return None
    lines: dict[Loc, int] = {}
    _index_lines(node, (), lines, path, problems)
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:  # composed fine but cannot be built, e.g. an unknown !tag
        mark = getattr(exc, "problem_mark", None)
        what = getattr(exc, "problem", None) or str(exc)
        problems.append(
            Problem(str(path), mark.line + 1 if mark else None, "", f"YAML error: {what}")
        )
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
        read = _read(campaign_path, problems)
        if read:
            model = _validate(Campaign, read[0], campaign_path, read[1], problems)
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
