"""Read a manifest's YAML keeping the line number of every value.

YAML is composed into nodes first so each key and value keeps its line; pydantic's error
locations are later mapped back to these lines by ``line_of``.

A manifest is untrusted input, so the node tree is checked before anything is built from
it: plain tags only (strings, numbers, true/false, null, lists, mappings, ``<<`` merges); at
most ``MAX_DEPTH`` levels and ``MAX_VALUES`` values counted with every alias expanded (an
alias names an anchor that may hold other aliases: nine levels of nine make a billion values
from a few lines); at most ``MAX_BYTES`` of file. Breaking a rule is a ``Problem``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import yaml
from yaml.constructor import ConstructorError
from yaml.scanner import ScannerError

from pipeline.errors import Problem

Loc = tuple[str | int, ...]

# Far above any real manifest (the samples are about 2 KB, 150 values, 5 levels deep), far
# below what costs noticeable time or memory to check and validate.
MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_VALUES = 100_000


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


_T = "tag:yaml.org,2002:"
_BOOL, _INT, _FLOAT, _NULL, _STR, _MAP, _SEQ, _MERGE = (
    _T + t for t in ("bool", "int", "float", "null", "str", "map", "seq", "merge")
)
_BOOL_RX = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT_RX = re.compile(r"^[-+]?[0-9]+$")
_FLOAT_RX = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(?:\.[0-9]*)?[eE][-+]?[0-9]+)"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_NULL_RX = re.compile(r"^(?:~|null|Null|NULL|)$")


class _Loader(yaml.SafeLoader):
    """Plain scalars resolved as in YAML 1.2, not 1.1.

    YAML 1.1 reads ``16:9`` as the base-60 integer 969 and ``1:30`` as 90, ``no`` (Norwegian)
    as false and ``2024-05-01`` as a date. Here those stay strings, which is what a person
    writing an aspect ratio, a timestamp or a language code means. Only ``true``/``false``,
    ``null``/``~``, decimal integers and decimal floats (with ``.inf``/``.nan``) are typed.

    Nesting is limited while scanning: PyYAML's scanner takes time quadratic in the depth of
    ``[[[...`` and its composer recurses once per level, so a page of brackets would take
    minutes, then exhaust the stack, before any later check could see the tree.
    """

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        super().fetch_flow_collection_start(TokenClass)
        self._limit_depth(self.flow_level + len(self.indents))

    def add_indent(self, column: int) -> bool:
        added = bool(super().add_indent(column))
        self._limit_depth(self.flow_level + len(self.indents))
        return added

    def _limit_depth(self, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise ScannerError(
                None, None, f"nested more than {MAX_DEPTH} levels deep", self.get_mark()
            )


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        # "value" would make a bare "=" a tag nothing can construct: it stays a string.
        if tag not in (_BOOL, _INT, _FLOAT, _T + "timestamp", _T + "value")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL, _BOOL_RX, list("tTfF"))
_Loader.add_implicit_resolver(_INT, _INT_RX, list("-+0123456789"))
_Loader.add_implicit_resolver(_FLOAT, _FLOAT_RX, list("-+0123456789."))


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    # Decimal only: YAML 1.1 would read 010 as octal 8.
    text = loader.construct_scalar(cast(yaml.ScalarNode, node))
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (4300)
        raise ConstructorError(
            None, None, f"an integer of {len(text)} digits is too long", node.start_mark
        ) from None


_Loader.add_constructor(_INT, _construct_int)

# Per plain tag: the node kind it must be, and for typed scalars the text they must match,
# so an explicit "!!int abc" or "!!map [1]" is reported rather than crashing a constructor.
_PLAIN: dict[str, tuple[type[yaml.Node], re.Pattern[str] | None]] = {
    _STR: (yaml.ScalarNode, None),
    _MERGE: (yaml.ScalarNode, None),
    _NULL: (yaml.ScalarNode, _NULL_RX),
    _BOOL: (yaml.ScalarNode, _BOOL_RX),
    _INT: (yaml.ScalarNode, _INT_RX),
    _FLOAT: (yaml.ScalarNode, _FLOAT_RX),
    _MAP: (yaml.MappingNode, None),
    _SEQ: (yaml.SequenceNode, None),
}
_KINDS = {
    yaml.ScalarNode: "a single value",
    yaml.MappingNode: "a mapping",
    yaml.SequenceNode: "a list",
}


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_T) :] if tag.startswith(_T) else tag


def _yaml_problem(path: Path, exc: yaml.YAMLError, kind: str) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    what = getattr(exc, "problem", None) or str(exc)
    if kind == "syntax error" and mark is not None:
        what += f" at column {mark.column + 1}"
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if kind == "syntax error" and context and context_mark is not None:
        what += f" ({context} from line {context_mark.line + 1})"
    return Problem(str(path), line, "", f"YAML {kind}: {what}")


def _compose(path: Path, text: str, problems: list[Problem]) -> yaml.Node | None:
    try:
        loader = _Loader(text)  # the reader refuses unprintable characters right here
    except yaml.YAMLError as exc:
        problems.append(_yaml_problem(path, exc, "syntax error"))
        return None
    try:
        return loader.get_single_node()
    except yaml.YAMLError as exc:
        problems.append(_yaml_problem(path, exc, "syntax error"))
        return None
    except RecursionError:  # PyYAML composes recursively: a few hundred levels exhaust it
        problems.append(Problem(str(path), None, "", f"nested more than {MAX_DEPTH} levels deep"))
        return None
    finally:
        loader.dispose()


def _checked(root: yaml.Node, path: Path, problems: list[Problem]) -> bool:
    """Whether the tree under ``root`` is small, shallow and plain enough to build (see the
    module docstring). Every alias is walked again where it is used, as building would."""
    count = 0
    ok = True
    # (node, depth, location, line of the top-level key it is under: where a bomb is set off)
    stack: list[tuple[yaml.Node, int, Loc, int]] = [(root, 0, (), root.start_mark.line + 1)]
    while stack:
        node, depth, loc, top = stack.pop()
        count += 1
        # No field: a YAML-level problem is about the text, reported like a syntax error.
        where = (str(path), node.start_mark.line + 1, "")
        if count > MAX_VALUES:
            problems.append(
                Problem(
                    str(path),
                    top,
                    "",
                    f"YAML error: holds more than {MAX_VALUES} values once its aliases (*name) "
                    "are expanded; a manifest needs far fewer",
                )
            )
            return False
        if depth > MAX_DEPTH:  # an alias inside its own anchor
            problems.append(
                Problem(str(path), top, "", f"YAML error: nested more than {MAX_DEPTH} levels deep")
            )
            return False
        rule = _PLAIN.get(node.tag)
        if rule is None:
            if node.tag in _Loader.yaml_constructors:
                why = (
                    f"the tag {_short_tag(node.tag)!r} is not allowed: a manifest holds only "
                    "strings, numbers, true/false, null, lists and mappings"
                )
            else:  # worded as PyYAML words it, which is what a search engine knows
                why = f"could not determine a constructor for the tag {node.tag!r}"
            problems.append(Problem(*where, f"YAML error: {why}"))
            ok = False
            continue
        kind, pattern = rule
        if not isinstance(node, kind):
            problems.append(
                Problem(
                    *where,
                    f"YAML error: the tag {_short_tag(node.tag)!r} is for "
                    f"{_KINDS[kind]}, not {_KINDS[type(node)]}",
                )
            )
            ok = False
            continue
        if pattern is not None and not pattern.match(cast(str, node.value)):
            problems.append(
                Problem(
                    *where,
                    f"YAML error: {node.value[:40]!r} is not a valid {_short_tag(node.tag)}",
                )
            )
            ok = False
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else "<complex key>"
                under = key.start_mark.line + 1 if depth == 0 else top
                stack.append((value, depth + 1, (*loc, name), under))
                stack.append((key, depth + 1, loc, under))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1, (*loc, i), top) for i, item in enumerate(node.value))
    return ok


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


def _read(path: Path, problems: list[Problem]) -> bytes | None:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        problems.append(Problem(str(path), None, "", f"cannot be read ({exc.strerror})"))
        return None
    if len(raw) > MAX_BYTES:
        problems.append(
            Problem(
                str(path),
                None,
                "",
                f"file is larger than {MAX_BYTES // 1024} KiB; a manifest is a few KiB of text",
            )
        )
        return None
    return raw


def read_yaml(path: Path, problems: list[Problem]) -> tuple[Any, dict[Loc, int]] | None:
    raw = _read(path, problems)
    if raw is None:
        return None
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
    if not _checked(node, path, problems):
        return None
    lines: dict[Loc, int] = {}
    _index_lines(node, (), lines, path, problems)
    # Built from the checked nodes, not parsed again: what was checked is what is built.
    builder = _Loader("")
    try:
        data = builder.construct_document(node)
    except yaml.YAMLError as exc:  # e.g. a merge of a list, an unhashable key
        problems.append(_yaml_problem(path, exc, "error"))
        return None
    finally:
        builder.dispose()
    return data, lines
