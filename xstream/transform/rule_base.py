"""One strict base for the YAML files operators write: models, line numbers, ``file:line: field: message``.

Mapping rules (:mod:`.rules`), status rules (:mod:`.status_rules`) and the dry-run catalog
(:mod:`.catalog`) are written by people, and the partner-exchange policies will be too. A mistake
must stop the worker at start and say where it is, so the operator fixes the YAML instead of
reading a stack trace; and every language must be strict the same way: an unknown key is a typo,
never silently ignored, and a parsed rule never changes afterwards. So each language defines its
models on :class:`StrictModel`, reads its files with :func:`validate_sources` (one YAML parse that
keeps the line of every node) and reports its own checks across files (unique names, ...) with
:meth:`SourceFile.where` and :func:`invalid`. Pure: the caller reads the files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from xstream.errors import ConfigError


class StrictModel(BaseModel):
    """The base of every model of a rule file: unknown keys are mistakes, parsed values are frozen."""

    model_config = ConfigDict(frozen=True, extra="forbid")


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class SourceFile:
    """One file as read: its name and its YAML node tree, to say on which line a field stands."""

    name: str
    root: yaml.Node | None

    def where(self, path: Sequence[Any]) -> str:
        """``file:line`` of the field at ``path`` (e.g. ``["rules", 0, "name"]``), or of its nearest parent."""
        return f"{self.name}:{line_of(self.root, path)}"


def read_yaml(text: str, source_name: str) -> tuple[Any, yaml.Node | None]:
    """The data and the node tree of one YAML text, parsed once; invalid YAML is a ConfigError naming the file."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        return (loader.construct_document(root) if root is not None else None), root
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source_name}: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()


def validate_sources(sources: Sequence[tuple[str, str]],
                     model: type[M]) -> tuple[list[tuple[SourceFile, M]], list[str]]:
    """Each (name, YAML text) validated as ``model``; the mistakes as ``file:line: field: message``.

    Invalid YAML stops at once (ConfigError); schema mistakes are collected over all files, so one
    start reports all of them.
    """
    problems: list[str] = []
    parsed: list[tuple[SourceFile, M]] = []
    for source_name, text in sources:
        data, root = read_yaml(text, source_name)
        source = SourceFile(source_name, root)
        try:
            parsed.append((source, model.model_validate(data)))
        except ValidationError as exc:
            for err in exc.errors():
                loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
                path = ".".join(str(p) for p in loc) or "(top level)"
                problems.append(f"{source.where(loc)}: {path}: {err['msg']}")
    return parsed, problems


def invalid(what: str, problems: Sequence[str]) -> ConfigError:
    """The one error a language raises for its mistakes: ``invalid <what>:`` and one ``file:line`` line each."""
    return ConfigError(f"invalid {what}:\n  " + "\n  ".join(problems))


def line_of(node: yaml.Node | None, loc: Sequence[Any]) -> int:
    """1-based line of the deepest YAML node on the error's path (the parent when the key is missing).

    A mapping entry is located by its *key*: the value of ``extra:`` may start on the next line (a
    block mapping or list), and an unknown or wrong field is fixed where its name is written.
    """
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        at: yaml.Node | None = None  # where the entry is written: a mapping's key, a list's item
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            at, child = next(((k, v) for k, v in node.value if k.value == str(part)), (None, None))
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            at = child = node.value[part]
        if at is None or child is None:
            break
        node, line = child, at.start_mark.line + 1
    return line
