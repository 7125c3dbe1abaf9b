"""Case rules (flow F5): per case type, which parts make a case complete, when it is assembled without
them, what a late part means, and the workspace the parts are filed into. YAML the operator owns,
validated at start (``file:line: field: message``). Pure.

    version: 1
    cases:
      - name: claim                                  # the case type; {case_type} in templates
        match: {field: case_type, equals: claim}     # which headers (case system CDC rows) are this type
        parts:                                       # what completeness requires (the header always is)
          - {name: claim-form, kind: form, where: {form_types: [claim_form]}}
          - {name: correspondence, kind: email, min: 1}
          - {name: photos, kind: attachment, min: 1, where: {media_types: [image/*]}}
          - {name: policy-record, kind: metadata}
        deadline: {after: header, duration: PT2H}    # or after: first_part; duration ISO 8601 or seconds
        late: flag                                   # a part after the deadline: accept | flag | reject
        uncorrelated_wait: PT24H                     # a part of no known case waits this long for it
        max_parts: 200
        workspace: {type: Case, template: Case Template, name: "{case_id} {header.customer_name}",
                    ext_system_id: CLAIMS, bo_type: CLAIM, bo_id: "{case_id}"}
        folders: {email: Emails, form: Forms, attachment: Attachments, history: History, metadata: ""}
        attributes: {Case: {Case Number: "{case_id}", Region: "{metadata.region}"}}

Templates name ``{case_id}``, ``{case_type}``, ``{customer_id}`` and the fields of the case's parts:
``{header.<field>}``, ``{form.<field>}``, ``{metadata.<field>}`` (the latest part of that kind). The
workspace name, ``bo_id`` and folders name the header only: they are filled when the header arrives.
A form's type is its field :data:`FORM_TYPE_FIELD`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from xstream.model.cases import CasePart, PartKind
from xstream.transform.rule_base import StrictModel, invalid, validate_sources
from xstream.transform.templates import Vocabulary, placeholders

FORM_TYPE_FIELD = "form_type"
"""The field of a form part that ``where.form_types`` reads."""
DEFAULT_MAX_PARTS = 200
DEFAULT_UNCORRELATED_WAIT = timedelta(hours=24)
SCALARS = ("case_id", "case_type", "customer_id")
CASE = Vocabulary(names=SCALARS, qualifiers=("header", "form", "metadata"))
"""Attribute templates: filled when their values are there (an attribute waits for its form)."""
HEADER = Vocabulary(names=SCALARS, qualifiers=("header",))
"""Workspace name, bo_id and folders: filled when the header arrives, so they name only the header."""
MEDIA_PATTERN = re.compile(r"[A-Za-z0-9.+-]+/([A-Za-z0-9.+-]+|\*)|\*/\*")
Name = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._-]+$")]
CaseTemplate = Annotated[str, AfterValidator(CASE.check)]
HeaderTemplate = Annotated[str, AfterValidator(HEADER.check)]
FiledKind = Literal["email", "form", "attachment", "history", "metadata"]
LatePolicy = Literal["accept", "flag", "reject"]
"""A part after the deadline: ``accept`` (added, case_updated), ``flag`` (added, marked late, case_updated),
``reject`` (not added: part_refused, reason late, for the review topic)."""


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("a duration must be positive, e.g. PT2H or 7200")
    return value


Duration = Annotated[timedelta, AfterValidator(_positive)]


def _media_type(pattern: str) -> str:
    if not MEDIA_PATTERN.fullmatch(pattern):
        raise ValueError(f"{pattern!r} is not a media type pattern (type/subtype, type/* or */*)")
    return pattern.lower()


class Where(StrictModel):
    """What a part must be to count for a requirement; every given condition must hold."""

    media_types: list[Annotated[str, AfterValidator(_media_type)]] | None = None
    form_types: list[str] | None = None
    sources: list[str] | None = None
    fields: dict[str, str | int | bool] | None = None
    """Field -> the value it must have."""

    def matches(self, part: CasePart) -> bool:
        media = (part.media_type or "").lower()
        return ((self.media_types is None or any(_media_matches(p, media) for p in self.media_types))
                and (self.form_types is None or part.fields.get(FORM_TYPE_FIELD) in self.form_types)
                and (self.sources is None or part.source in self.sources)
                and (self.fields is None or all(part.fields.get(k) == v for k, v in self.fields.items())))


class Requirement(StrictModel):
    name: Name
    kind: PartKind
    min: int = Field(default=1, ge=1, le=1000)
    where: Where = Where()

    def matches(self, part: CasePart) -> bool:
        return part.kind == self.kind and self.where.matches(part)


class Match(StrictModel):
    field: str = Field(min_length=1)
    equals: str | int | bool


class Deadline(StrictModel):
    after: Literal["first_part", "header"] = "header"
    """From when xstream first saw a part of the case, or saw its header (wall clock, not source time)."""
    duration: Duration


class Workspace(StrictModel):
    type: str = Field(min_length=1)
    template: str | None = None
    name: HeaderTemplate = Field(min_length=1)
    ext_system_id: str = Field(min_length=1)
    bo_type: str = Field(min_length=1)
    bo_id: HeaderTemplate = Field(min_length=1)


DEFAULT_FOLDERS: dict[FiledKind, str] = {"email": "Emails", "form": "Forms", "attachment": "Attachments",
                                         "history": "History", "metadata": ""}


class CaseRule(StrictModel):
    name: Name
    match: Match
    parts: list[Requirement] = Field(default_factory=list)
    deadline: Deadline
    late: LatePolicy = "flag"
    uncorrelated_wait: Duration = DEFAULT_UNCORRELATED_WAIT
    max_parts: int = Field(default=DEFAULT_MAX_PARTS, ge=1, le=10_000)
    """A case keeps at most this many parts; more are refused (part_refused, reason case_full)."""
    workspace: Workspace
    folders: dict[FiledKind, HeaderTemplate] = Field(default_factory=lambda: dict(DEFAULT_FOLDERS))
    """Part kind -> folder path below the workspace ("" its top); a kind not listed is not filed. An
    attachment extracted from an e-mail goes to the e-mail's folder."""
    attributes: dict[str, dict[str, CaseTemplate]] = Field(default_factory=dict)
    """Category -> attribute -> template."""

    @field_validator("parts")
    @classmethod
    def _unique(cls, parts: list[Requirement]) -> list[Requirement]:
        twice = [name for name, n in Counter(r.name for r in parts).items() if n > 1]
        if twice:
            raise ValueError(f"requirement {twice[0]!r} is given twice")
        return parts

    def matches(self, header: CasePart) -> bool:
        return header.fields.get(self.match.field) == self.match.equals

    def satisfied_by(self, part: CasePart) -> tuple[str, ...]:
        return tuple(r.name for r in self.parts if r.matches(part))

    def folder_for(self, part: CasePart) -> str | None:
        kind = part.kind
        if kind == "header":
            return None
        if kind == "attachment" and part.parent_part_id and "email" in self.folders:
            return self.folders["email"]
        return self.folders.get(kind)

    def fields_read(self) -> set[str]:
        """The part fields this rule reads: what the case state keeps of a part."""
        templates = [self.workspace.name, self.workspace.bo_id, *self.folders.values(),
                     *(t for attrs in self.attributes.values() for t in attrs.values())]
        read = {p.attribute for t in templates for p in placeholders(t) if p.attribute is not None}
        for r in self.parts:
            read |= set(r.where.fields or ())
        return read | {self.match.field, FORM_TYPE_FIELD}


class CaseRuleFile(StrictModel):
    version: Literal[1] = 1
    cases: list[CaseRule] = Field(default_factory=list)


class CaseRuleSet(StrictModel):
    cases: list[CaseRule] = Field(default_factory=list)

    def for_header(self, part: CasePart) -> CaseRule | None:
        """The first case type (in file order) whose ``match`` the header fulfils."""
        return next((r for r in self.cases if r.matches(part)), None) if part.kind == "header" else None

    def get(self, name: str | None) -> CaseRule | None:
        return next((r for r in self.cases if r.name == name), None)

    @cached_property
    def kept_fields(self) -> frozenset[str]:
        return frozenset(f for r in self.cases for f in r.fields_read())

    @property
    def max_parts(self) -> int:
        """The bound of a case whose type is not known yet (no header): the largest of all types."""
        return max((r.max_parts for r in self.cases), default=DEFAULT_MAX_PARTS)

    @property
    def header_wait(self) -> timedelta:
        """How long parts of a case wait for its header before they go to review (reason no_header)."""
        return max((r.uncorrelated_wait for r in self.cases), default=DEFAULT_UNCORRELATED_WAIT)


def parse_case_rule_sources(sources: Sequence[tuple[str, str]]) -> CaseRuleSet:
    """Every file validated (mistakes as ``file:line: field: message``), then case type names unique."""
    parsed, problems = validate_sources(sources, CaseRuleFile)
    names: Counter[str] = Counter()
    for source, rules in parsed:
        for index, rule in enumerate(rules.cases):
            names[rule.name] += 1
            if names[rule.name] > 1:
                problems.append(f"{source.where(['cases', index, 'name'])}: cases.{index}.name: case type "
                                f"{rule.name!r} is given twice")
    if problems:
        raise invalid("case rules", problems)
    return CaseRuleSet(cases=[r for _, rules in parsed for r in rules.cases])


def _media_matches(pattern: str, media_type: str) -> bool:
    if pattern == "*/*":
        return bool(media_type)
    return media_type.startswith(pattern[:-1]) if pattern.endswith("/*") else media_type == pattern

