"""Turn pydantic's validation errors into ``Problem`` lines a person can act on: the field
path, the bad value, the allowed values, and a "did you mean" for misspelt keys."""

from __future__ import annotations

import difflib
import types
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from pipeline.errors import Problem
from pipeline.manifest import PATTERN_RULES, FieldProblems
from pipeline.manifest_yaml import Loc, field_path, line_of


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


def describe_error(err: ErrorDetails, model: type[BaseModel], loc: Loc) -> str:
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


def validate_model(
    model: type[BaseModel], data: Any, path: Path, lines: dict[Loc, int], problems: list[Problem]
) -> Any:
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
                        Problem(str(path), line_of(lines, full), field_path(full), message)
                    )
                continue
            problems.append(
                Problem(
                    str(path), line_of(lines, loc), field_path(loc), describe_error(err, model, loc)
                )
            )
        return None
