"""Status rules: the operator's YAML that says what an OpenText change starts downstream (flows F3, F6).

A rule reacts either to a document's *status* (a category attribute, by default ``Document`` /
``Status``) reaching a value, optionally only when it moves from given values, or to a workflow on a
document finishing. It can be narrowed to workspace types, document types (by default the
``Document`` / ``Document Type`` attribute) and event kinds. Its ``then`` lists actions:
``start_approval`` in a target system, ``update_record`` (the source record's status), ``notify``
(a team's chat channel) and ``lock_version`` (the governed copy: the version is locked in OpenText
and, with ``link_to``, its link written to the source record's attachments). Text values are templates (:mod:`.templates`) over :data:`PLACEHOLDERS` and
``{document.<Attribute>}`` / ``{workspace.<Attribute>}``; the values come from the event. Parsed and
validated once at start on the strict base of every rule file (:mod:`.rule_base`); mistakes are
reported as ``file:line: field: message``. Declarative on purpose: no expressions.

    version: 1
    status_rules:
      - name: contract-legal-review-done
        when:
          workspace_types: [Customer, Supplier]
          document_types: Contract
          status: {to: Legal Review Done}
        then:
          - start_approval: {target: erp, process: commercial_approval, subject: "Approve {document_name}"}
          - notify: {target: chat, channel: commercial, title: "Approval started: {document_name}"}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from xstream.errors import ConfigError
from xstream.model.opentext import DOCUMENT_KINDS, EventKind
from xstream.transform.rule_base import StrictModel, invalid, validate_sources
from xstream.transform.templates import Vocabulary, placeholders

PLACEHOLDERS = (
    "document_id", "document_name", "document_url", "document_type", "version", "status", "previous_status",
    "workspace_id", "workspace_name", "workspace_url", "workspace_type", "ext_system_id", "bo_type", "bo_id",
    "workflow_name", "workflow_outcome", "rule", "event",
)
"""What a template may name; ``{document.<Attribute>}`` and ``{workspace.<Attribute>}`` read category values."""
TEMPLATES = Vocabulary(names=PLACEHOLDERS, qualifiers=("document", "workspace"), lists=True)
"""The placeholders of status rules; a multi-value attribute shows as its values joined with ", "."""


def _one_or_more(raw: Any) -> Any:
    return [raw] if isinstance(raw, str) else raw


Template = Annotated[str, Field(min_length=1), AfterValidator(TEMPLATES.check)]
Templates = AfterValidator(TEMPLATES.check_values)
OneOrMore = Annotated[list[str], BeforeValidator(_one_or_more), Field(min_length=1)]


class AttributeRef(StrictModel):
    category: str = Field(default="Document", min_length=1)
    attribute: str = Field(min_length=1)


class DocumentAttributes(StrictModel):
    """Where a document's status and type live: category attributes, by name."""

    status: AttributeRef = AttributeRef(attribute="Status")
    type: AttributeRef = AttributeRef(attribute="Document Type")


class StatusChange(StrictModel):
    """``to``: the status reached; ``from``: only when moving from one of these (previous status known)."""

    to: OneOrMore
    from_: OneOrMore | None = Field(default=None, alias="from")

    @model_validator(mode="after")
    def _moves(self) -> StatusChange:
        if self.from_ is not None and set(self.from_) & set(self.to):
            raise ValueError("a status in both 'from' and 'to' is no change")
        return self


class WorkflowMatch(StrictModel):
    name: OneOrMore | None = None
    """The workflow's name (its title; by default the workflow map's name); any when absent."""
    outcome: Annotated[list[Literal["completed", "stopped"]], BeforeValidator(_one_or_more),
                       Field(min_length=1)] = ["completed"]


class When(StrictModel):
    events: list[EventKind] | None = Field(default=None, min_length=1)
    """Only these document event kinds (default: any that can change a status)."""
    workspace_types: OneOrMore | None = None
    document_types: OneOrMore | None = None
    status: StatusChange | None = None
    workflow: WorkflowMatch | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> When:
        if (self.status is None) == (self.workflow is None):
            raise ValueError("a rule reacts to either 'status' (a status reached) or 'workflow' (a workflow finished)")
        if self.events is not None and (self.workflow is not None
                                        or any(kind not in DOCUMENT_KINDS for kind in self.events)):
            raise ValueError("'events' narrows status rules to document events: "
                             + ", ".join(k.value for k in DOCUMENT_KINDS))
        return self


class RecordSpec(StrictModel):
    entity: str = Field(min_length=1)
    id: Template = "{bo_id}"


class StartApprovalSpec(StrictModel):
    target: str = Field(min_length=1)
    process: str = Field(min_length=1)
    subject: Template
    record: RecordSpec | None = None
    fields: Annotated[dict[str, Any], Templates] = Field(default_factory=dict)
    """Extra values for the approval; text values are templates."""


class UpdateRecordSpec(StrictModel):
    target: str = Field(min_length=1)
    entity: str = Field(min_length=1)
    record_id: Template = "{bo_id}"
    fields: Annotated[dict[str, Any], Templates] = Field(min_length=1)


DEFAULT_FACTS = {"Document": "{document_name}", "Status": "{status}", "Workspace": "{workspace_name}"}


class NotifySpec(StrictModel):
    target: str = Field(min_length=1)
    channel: Template
    """A channel of the target; a template may route by the workspace, e.g. ``"{workspace.Region}"``."""
    title: Template
    text: Annotated[str, AfterValidator(TEMPLATES.check)] = ""
    facts: Annotated[dict[str, str], Templates] = Field(default_factory=lambda: dict(DEFAULT_FACTS))
    link: bool = True
    """Add a link to the document in OpenText."""


class LinkToSpec(StrictModel):
    """Where the locked version's link goes: a source record's attachments (SAP or Salesforce)."""

    target: str = Field(min_length=1)
    format: Literal["sap", "salesforce"]
    bo_type: str | None = None
    """SAP business object type of the record (``LFA1``); Salesforce: not used."""
    bo_key: Template = "{bo_id}"
    document_type: Template | None = None


class LockVersionSpec(StrictModel):
    """Lock the document's current version (the governed copy), optionally linking it back."""

    link_to: LinkToSpec | None = None

    @property
    def target(self) -> str:
        return self.link_to.target if self.link_to is not None else "opentext"


ActionKind = Literal["start_approval", "update_record", "notify", "lock_version"]
ACTION_KINDS: tuple[ActionKind, ...] = ("start_approval", "update_record", "notify", "lock_version")


class Action(StrictModel):
    """One of ``start_approval``, ``update_record``, ``notify``, ``lock_version``."""

    start_approval: StartApprovalSpec | None = None
    update_record: UpdateRecordSpec | None = None
    notify: NotifySpec | None = None
    lock_version: LockVersionSpec | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Action:
        given = [name for name in ACTION_KINDS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"an action is exactly one of {', '.join(ACTION_KINDS)} (got "
                             f"{', '.join(given) or 'none'})")
        return self

    @property
    def kind(self) -> ActionKind:
        return next(name for name in ACTION_KINDS if getattr(self, name) is not None)

    @property
    def spec(self) -> StartApprovalSpec | UpdateRecordSpec | NotifySpec | LockVersionSpec:
        found = self.start_approval or self.update_record or self.notify or self.lock_version
        assert found is not None
        return found


class StatusRule(StrictModel):
    name: str = Field(min_length=1)
    description: str = ""
    document_attributes: DocumentAttributes | None = None
    """Where status and type live for this rule; default: the file's ``document_attributes``."""
    when: When
    then: list[Action] = Field(min_length=1)

    @property
    def attributes(self) -> DocumentAttributes:
        return self.document_attributes or DocumentAttributes()


class StatusRuleFile(StrictModel):
    version: Literal[1] = 1
    document_attributes: DocumentAttributes = DocumentAttributes()
    status_rules: list[StatusRule] = Field(min_length=1)


class StatusRuleSet(StrictModel):
    rules: list[StatusRule]

    def targets(self) -> dict[str, set[ActionKind]]:
        """Target name -> the action kinds rules send it (for the start-up check against settings)."""
        found: dict[str, set[ActionKind]] = {}
        for rule in self.rules:
            for action in rule.then:
                if action.lock_version is not None and action.lock_version.link_to is None:
                    continue  # OpenText only: no target to configure
                found.setdefault(action.spec.target, set()).add(action.kind)
        return found

    def fixed_channels(self) -> dict[str, set[str]]:
        """Target -> the channels rules name literally (templated ones are checked per event)."""
        found: dict[str, set[str]] = {}
        for rule in self.rules:
            for action in rule.then:
                if action.notify is not None and not placeholders(action.notify.channel):
                    found.setdefault(action.notify.target, set()).add(action.notify.channel)
        return found

    def workspace_types(self) -> list[str] | None:
        """The workspace types the rules look at; None when a rule looks at every type."""
        types: set[str] = set()
        for rule in self.rules:
            if rule.when.workspace_types is None:
                return None
            types |= set(rule.when.workspace_types)
        return sorted(types)


def parse_status_rule_sources(sources: Sequence[tuple[str, str]]) -> StatusRuleSet:
    """Several status-rule files (name, text) as one set; rule names unique across them."""
    if not sources:
        raise ConfigError("no status rules: no rules file given")
    parsed, problems = validate_sources(sources, StatusRuleFile)
    rules: list[StatusRule] = []
    where: dict[str, str] = {}
    for source, rule_file in parsed:
        for i, rule in enumerate(rule_file.status_rules):
            here = source.where(["status_rules", i, "name"])
            if rule.name in where:
                problems.append(f"{here}: status_rules.{i}: rule names must be unique: {rule.name} is also "
                                f"defined at {where[rule.name]}")
                continue
            where[rule.name] = here
            rules.append(rule if rule.document_attributes is not None
                         else rule.model_copy(update={"document_attributes": rule_file.document_attributes}))
    if problems:
        raise invalid("status rules", problems)
    return StatusRuleSet(rules=rules)
