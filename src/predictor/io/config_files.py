"""Load the ``Config`` from YAML files and ``key.sub=value`` overrides.

Problems raise ``ConfigError`` naming each setting by its key path (unknown keys get a
"did you mean" hint).
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from predictor.config import Config
from predictor.errors import PredictorError


class ConfigError(PredictorError, ValueError):
    """The configuration is invalid; the message names each offending setting by key path.

    Attributes:
        problems: ``(key, message)`` pairs, e.g. ``("churn.horizon_days", "Input should be
            greater than or equal to 7 (got 3)")``; the key is ``""`` for file-level problems.

    """

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        lines = [f"{key}: {msg}" if key else msg for key, msg in self.problems]
        super().__init__(lines[0] if len(lines) == 1 else "\n".join(lines))

    @property
    def key(self) -> str:
        """The key path of the first problem."""
        return self.problems[0][0] if self.problems else ""


def load_config(
    paths: Sequence[str | Path] | str | Path | None = None, overrides: Iterable[str] = ()
) -> Config:
    """Build the ``Config`` from YAML files and ``key.sub=value`` overrides.

    Later files override earlier ones (mappings are merged key by key; lists and values are
    replaced). Each override's value is parsed as YAML (``60``, ``true``, ``[a, b]``,
    ``2024-06-30``); an empty value means null. Unknown keys, in a file or an override, are
    errors that name the key, and so is a key given twice in one mapping of a file.

    Raises:
        ConfigError: a file is missing or not YAML, a file repeats a key, an override is
            malformed or names an unknown setting, or a value is invalid or empty; the message
            names each key path.

    """
    merged: dict[str, Any] = {}
    for path in _as_paths(paths):
        merged = _deep_merge(merged, _read_yaml(path))
    for item in overrides:
        key, value = _parse_override(item)
        _set_key(merged, key, value)
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_pydantic_problems(exc)) from None


def _as_paths(paths: Sequence[str | Path] | str | Path | None) -> list[Path]:
    if paths is None:
        return []
    if isinstance(paths, str | Path):
        return [Path(paths)]
    return [Path(p) for p in paths]


def _read_yaml(path: Path) -> dict[str, Any]:
    """Read one YAML config file; it must hold a mapping (an empty file is an empty one)."""
    if not path.is_file():
        raise ConfigError([("", f"config file {path} does not exist")])
    try:
        loaded = _parse_yaml(path.read_text(encoding="utf-8"), path)
    except yaml.YAMLError as exc:
        raise ConfigError([("", f"{path}: not valid YAML: {' '.join(str(exc).split())}")]) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError([("", f"{path}: expected a mapping of settings at the top level")])
    return loaded


def _parse_yaml(text: str, path: Path) -> Any:
    """Parse YAML text like ``yaml.safe_load``, but refuse a key given twice in one mapping.

    Plain YAML keeps the last of two equal keys, so a second ``churn:`` section would silently
    replace the first; here it is a ``ConfigError`` naming the key, the file and both lines.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _refuse_duplicate_keys(node, path, (), set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _refuse_duplicate_keys(
    node: yaml.Node, path: Path, keys: tuple[str, ...], seen: set[int]
) -> None:
    """Raise ``ConfigError`` for the first mapping key in ``node``'s tree given twice."""
    if id(node) in seen:
        return  # an alias of a node already checked (a recursive alias ends here too)
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        children = _mapping_children(node, path, keys)
    elif isinstance(node, yaml.SequenceNode):
        children = [(str(i), item) for i, item in enumerate(node.value)]
    else:
        children = []
    for name, child in children:
        _refuse_duplicate_keys(child, path, (*keys, name), seen)


def _mapping_children(
    node: yaml.MappingNode, path: Path, keys: tuple[str, ...]
) -> list[tuple[str, yaml.Node]]:
    """``(key, value node)`` of a mapping; a scalar key seen before raises ``ConfigError``."""
    first_line: dict[tuple[str, str], int] = {}
    children = []
    for key_node, value_node in node.value:
        name = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
        line = key_node.start_mark.line + 1
        ident = (key_node.tag, name)
        if isinstance(key_node, yaml.ScalarNode) and ident in first_line:
            where = f"{path} line {line}: key given twice (first on line {first_line[ident]})"
            raise ConfigError([(".".join([*keys, name]), f"{where}; remove one")])
        first_line.setdefault(ident, line)
        children.append((name, value_node))
    return children


def _deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``update`` into a copy of ``base``; nested mappings merge, anything else replaces."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _parse_override(item: str) -> tuple[str, Any]:
    """Split ``"churn.horizon_days=60"`` into the key path and the YAML-parsed value."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError([("", f"override {item!r}: expected key.sub=value")])
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    _check_key(key)
    return key, value


def _check_key(key: str) -> None:
    """Raise ``ConfigError`` unless ``key`` names a setting (or a key inside a mapping one)."""
    model: type[BaseModel] | None = Config
    parts = key.split(".")
    for depth, part in enumerate(parts):
        if model is None:
            return
        fields = model.model_fields
        if part not in fields:
            raise ConfigError([(".".join(parts[: depth + 1]), _unknown(part, list(fields)))])
        annotation = fields[part].annotation
        if _is_model(annotation):
            model = annotation
        elif typing.get_origin(annotation) in (dict, Mapping):
            return
        elif depth < len(parts) - 1:
            prefix = ".".join(parts[: depth + 1])
            raise ConfigError([(key, f"{prefix} is a single setting, not a section")])
        else:
            model = None


def _set_key(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``key = "a.b.c"``, creating sections as needed."""
    *sections, last = key.split(".")
    node = data
    for part in sections:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[last] = value


def _pydantic_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """Turn pydantic's errors into ``(key path, readable message)`` pairs."""
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        key = ".".join(loc)
        if err["type"] == "extra_forbidden":
            problems.append((key, _unknown(loc[-1], _known_keys(loc[:-1]))))
            continue
        msg = err["msg"].removeprefix("Value error, ")
        if not loc:
            key, msg = _split_leading_key(msg)
        value = err.get("input")
        if loc and _is_empty(value) and err["type"] != "value_error":  # not our own message
            expected = msg.replace("Input should be ", "expected ", 1)
            msg = f"the value is empty; {expected[:1].lower()}{expected[1:]}"
        elif loc and not isinstance(value, dict | list) and value is not None:
            msg = f"{msg} (got {value!r})"
        problems.append((key, msg))
    return problems


def _is_empty(value: Any) -> bool:
    """True for what an empty ``--set key=`` or a bare ``key:`` gives: null or blank text."""
    return value is None or (isinstance(value, str) and not value.strip())


def _split_leading_key(msg: str) -> tuple[str, str]:
    """Split ``"segments.x must ..."`` (a model-level message) into its key and the rest."""
    head, _, rest = msg.partition(" ")
    try:
        _check_key(head)
    except ConfigError:
        return "", msg
    return (head, rest) if "." in head and rest else ("", msg)


def _known_keys(loc: Sequence[str]) -> list[str]:
    """List the setting names of the config section at ``loc`` (empty when not a section)."""
    model: Any = Config
    for part in loc:
        if not _is_model(model) or part not in model.model_fields:
            return []
        model = model.model_fields[part].annotation
    return list(model.model_fields) if _is_model(model) else []


def _unknown(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(known)}"
    return f"unknown setting ({hint})" if known else "unknown setting"


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
