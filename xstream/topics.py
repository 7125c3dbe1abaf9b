"""Topic specs, declared as data in ``topics/*.yaml``; code refers to topics by role, never by literal name.

Each spec names its key and value model; the value's JSON Schema is generated from the pydantic
model and committed next to the spec, so a change that would break a consuming team shows up as
a diff in review and as a failing ``xstream topics check`` in CI.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from xstream.errors import ConfigError


class Role(StrEnum):
    CDC = "cdc"
    COMMANDS = "commands"
    DOWNSTREAM_COMMANDS = "downstream_commands"
    STATUS = "status"
    DEAD_LETTER = "dead_letter"
    LEDGER = "ledger"
    OPENTEXT_EVENTS = "opentext_events"
    EFFECTS = "effects"
    CHECKPOINTS = "checkpoints"
    STATE = "state"
    DOCUMENT_COMMANDS = "document_commands"
    DOCUMENT_STATE = "document_state"


class KeySpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    format: Literal["json", "string", "bytes"]
    description: str = ""


class ValueSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    format: Literal["json"]
    model: str | None = None
    """"module:Name" of the pydantic model (our topics)."""
    external: str | None = None
    """The name of a format xstream reads but does not own (e.g. debezium-change-event)."""
    schema_file: str | None = Field(default=None, alias="schema")
    description: str = ""


class TopicSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._{}-]+$")
    role: Role
    per: Literal["target"] | None = None
    """A template: one topic per downstream target, ``{target}`` in the name replaced by its name."""
    description: str
    partitions: int = Field(ge=1)
    cleanup_policy: Literal["delete", "compact", "compact,delete"]
    retention_ms: int = Field(ge=-1)
    key: KeySpec
    value: ValueSpec

    def config(self) -> dict[str, str]:
        return {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}

    def json_schema(self) -> dict[str, Any] | None:
        if self.value.model is None:
            return None
        module, _, name = self.value.model.partition(":")
        model = getattr(importlib.import_module(module), name)
        schema = TypeAdapter(model).json_schema(mode="serialization")
        schema["$id"] = f"urn:xstream:topic:{self.name.replace('{target}', 'target')}:value"
        schema.setdefault("description", self.description)
        return schema


TARGET_NAME = r"^[A-Za-z0-9_-]+$"


class TopicCatalog:
    """The declared topics: fixed ones, and per-target ones expanded for the targets named."""

    def __init__(self, root: Path, specs: list[TopicSpec], templates: list[TopicSpec] | None = None,
                 prefix: str = "") -> None:
        self.root = root
        self.specs = specs
        """Every topic to create: the fixed ones and one of each template per target given."""
        self.templates = templates or []
        self.prefix = prefix

    def by_role(self, role: Role) -> list[TopicSpec]:
        return [s for s in self.specs if s.role is role and s.per is None]

    def one(self, role: Role) -> TopicSpec:
        found = self.by_role(role)
        if len(found) != 1:
            raise ConfigError(f"expected exactly one topic with role {role.value}, found {len(found)}")
        return found[0]

    def for_target(self, role: Role, target: str) -> TopicSpec:
        """The topic of ``role`` for one downstream target (e.g. ``xstream.commands.erp``)."""
        template = next((t for t in self.templates if t.role is role), None)
        if template is None:
            raise ConfigError(f"no per-target topic with role {role.value}")
        return expand(template, target, self.prefix)

    def _schema_specs(self) -> list[TopicSpec]:
        return [s for s in self.specs if s.per is None] + self.templates

    def stale_schemas(self) -> list[str]:
        """Committed schemas that differ from what the models generate now (empty = in step)."""
        stale = []
        for spec, path, schema in self._schemas():
            if not path.is_file() or orjson.loads(path.read_bytes()) != schema:
                stale.append(f"{path.relative_to(self.root)} (topic {spec.name})")
        return stale

    def write_schemas(self) -> list[Path]:
        written = []
        for _, path, schema in self._schemas():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
            written.append(path)
        return written

    def _schemas(self) -> list[tuple[TopicSpec, Path, dict[str, Any]]]:
        out = []
        for spec in self._schema_specs():
            schema = spec.json_schema()
            if schema is None:
                continue
            if spec.value.schema_file is None:
                raise ConfigError(f"topic {spec.name}: value.model set but value.schema missing")
            out.append((spec, self.root / spec.value.schema_file, schema))
        return out


def default_topics_dir() -> Path:
    """The repo's topics/ (editable install) or the copy packed into the wheel."""
    packaged = Path(__file__).parent / "_topics"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[1] / "topics"


def expand(template: TopicSpec, target: str, prefix: str = "") -> TopicSpec:
    """One target's topic from a per-target template (the prefix was applied to the template already)."""
    if not re.match(TARGET_NAME, target):
        raise ConfigError(f"target name {target!r} cannot be part of a topic name (letters, digits, _ and -)")
    return template.model_copy(update={"name": template.name.replace("{target}", target.lower()), "per": None})


def load_catalog(root: Path | None = None, prefix: str = "", targets: Iterable[str] = ()) -> TopicCatalog:
    """Load every spec; ``prefix`` (settings kafka.topic_prefix) is prepended to each topic name, and
    per-target templates are expanded for ``targets`` (the downstream targets in the settings)."""
    root = root or default_topics_dir()
    specs, templates = [], []
    for path in sorted(root.glob("*.yaml")):
        try:
            spec = TopicSpec.model_validate(yaml.safe_load(path.read_text()))
        except (yaml.YAMLError, ValidationError) as exc:
            raise ConfigError(f"{path}: invalid topic spec: {exc}") from exc
        spec = spec.model_copy(update={"name": prefix + spec.name}) if prefix else spec
        if spec.per is not None:
            if "{target}" not in spec.name:
                raise ConfigError(f"{path}: a per-target topic's name needs {{target}}")
            templates.append(spec)
        elif "{" in spec.name:
            raise ConfigError(f"{path}: only a per-target topic's name may hold a placeholder")
        else:
            specs.append(spec)
    if not specs:
        raise ConfigError(f"no topic specs (*.yaml) in {root}")
    expanded = [expand(t, name, prefix) for t in templates for name in sorted(set(targets))]
    return TopicCatalog(root, specs + expanded, templates, prefix)
