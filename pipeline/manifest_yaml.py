"""Read a manifest's YAML keeping the line number of every value.

YAML is composed into nodes first so each key and value keeps its line; pydantic's error
locations are later mapped back to these lines by ``line_of``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import yaml

from pipeline.errors import Problem

Loc = tuple[str | int, ...]


def line_of(lines: dict[Loc, int], loc: Loc) -> int | None:
    """Line of the deepest known node on ``loc`` (a missing key points at its parent)."""
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get(())


def field_path(loc: Iterable[str | int]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


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
                        field_path((*loc, key)),
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


def read_yaml(path: Path, problems: list[Problem]) -> tuple[Any, dict[Loc, int]] | None:
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
