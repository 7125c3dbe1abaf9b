"""Document rules (flow F2): which source attachments become governed workspace documents, which
workspace documents reach their source record, and how an approval decided in a source shows in
OpenText. YAML the operator owns, validated at start (``file:line: field: message``). Pure.

    version: 1
    inbound:                                   # source attachments -> the business object's workspace
      - name: erp-supplier-documents
        source: {target: erp, format: sap, topic: erp.cdc.attachments}
        when: {bo_types: [LFA1], document_types: [Purchase Order, Invoice], media_types: [application/pdf],
               max_size_mb: 1024}
        workspace: {ext_system_id: SAP_PRD, bo_type: LFA1, bo_id: "{bo_key}"}
        folder: "{folder}/{year}"
        folders: {Purchase Order: Purchase Orders, Invoice: Invoices}    # document type -> {folder}
        status: Received                       # the Status a new governed copy gets
        on_delete: mark                        # mark (default: keep the copy, Status = deleted_status) | ignore
    outbound:                                  # workspace documents -> the source record
      - name: supplier-contracts-to-erp
        when: {workspace_types: [Supplier], document_types: [Contract]}
        to: {target: erp, format: sap, as: link}          # link: copy link -> URL attachment; copy: the bytes
        record: {bo_type: LFA1, bo_key: "{bo_id}"}
    approvals:                                 # an approval decided in a source -> the document's Status
      - name: erp-approval-decisions
        source: {topic: erp.cdc.approvals}
        statuses: {approved: Approved, rejected: Rejected}
        business_object: {ext_system_id: SAP_PRD, bo_type: LFA1, bo_id: "{record_id}"}

Where status, type and the source identity live is ``document_attributes`` (defaults: category
``Document``; ``Status``, ``Document Type``, ``Source Document Id``, ``Source Version``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from xstream.model.documents import SourceFormat
from xstream.transform.rule_base import SourceFile, StrictModel, invalid, validate_sources
from xstream.transform.templates import Vocabulary

MIB = 1024 * 1024
INBOUND = Vocabulary(names=("bo_type", "bo_key", "record_id", "file_name", "document_type", "year", "folder",
                            "attachment_id", "version", "mime_type"))
"""What an inbound rule's templates may name: the attachment notice's fields (see ``documents.py``)."""
OUTBOUND = Vocabulary(names=("bo_id", "bo_type", "ext_system_id", "document_name", "document_type",
                             "workspace_name"), qualifiers=("workspace", "document"))
APPROVAL = Vocabulary(names=("record_id", "record_entity", "approval_id"))
Name = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9._ -]+$")]
InboundTemplate = Annotated[str, AfterValidator(INBOUND.check)]
OutboundTemplate = Annotated[str, AfterValidator(OUTBOUND.check)]
ApprovalTemplate = Annotated[str, AfterValidator(APPROVAL.check)]


class DocumentAttributes(StrictModel):
    category: str = "Document"
    status: str = "Status"
    type: str = "Document Type"
    source_id: str = "Source Document Id"
    source_version: str = "Source Version"


class Source(StrictModel):
    target: Name
    """The target in the settings whose attachment API holds the bodies."""
    format: SourceFormat
    topic: str = Field(min_length=1)
    """The CDC topic of its attachment rows (without the environment prefix)."""
    echo_users: list[str] = Field(default_factory=list)
    """The technical users xstream writes into this system as (SAP ``changed_by``, Salesforce
    ``CreatedById``): a row they wrote is xstream's own echo, on systems whose rows carry no origin."""


class InboundWhen(StrictModel):
    bo_types: list[str] | None = None
    """SAP business object types (``LFA1``, ``BUS2012``); None: any (Salesforce: any record)."""
    document_types: list[str] | None = None
    media_types: list[str] | None = None
    max_size_mb: Annotated[float, Field(gt=0)] = 2048.0


class WorkspaceRef(StrictModel):
    ext_system_id: str = Field(min_length=1)
    bo_type: str = Field(min_length=1)
    bo_id: InboundTemplate = Field(min_length=1)


class ApprovalWorkspaceRef(StrictModel):
    ext_system_id: str = Field(min_length=1)
    bo_type: str = Field(min_length=1)
    bo_id: ApprovalTemplate = Field(min_length=1)


class InboundRule(StrictModel):
    name: Name
    source: Source
    when: InboundWhen = InboundWhen()
    workspace: WorkspaceRef
    folder: InboundTemplate = ""
    folders: dict[str, str] = Field(default_factory=dict)
    """Document type -> the folder name ``{folder}`` stands for (types not listed: ``Documents``)."""
    document_name: InboundTemplate = "{file_name}"
    status: str = "Received"
    on_delete: Literal["mark", "ignore"] = "mark"
    deleted_status: str = "Deleted in source"


class OutboundWhen(StrictModel):
    workspace_types: list[str] | None = None
    document_types: list[str] | None = None


class OutboundTo(StrictModel):
    target: Name
    format: SourceFormat
    as_: Literal["copy", "link"] = Field(default="link", alias="as")


class RecordTemplate(StrictModel):
    bo_type: str | None = None
    bo_key: OutboundTemplate = Field(min_length=1)


class OutboundRule(StrictModel):
    name: Name
    when: OutboundWhen = OutboundWhen()
    to: OutboundTo
    record: RecordTemplate


class ApprovalSource(StrictModel):
    topic: str = Field(min_length=1)


class ApprovalRule(StrictModel):
    name: Name
    source: ApprovalSource
    statuses: dict[str, str] = Field(min_length=1)
    """The approval's status in the source -> the document's Status in OpenText (others: nothing)."""
    business_object: ApprovalWorkspaceRef


class DocumentRuleFile(StrictModel):
    version: Literal[1] = 1
    document_attributes: DocumentAttributes = DocumentAttributes()
    inbound: list[InboundRule] = Field(default_factory=list)
    outbound: list[OutboundRule] = Field(default_factory=list)
    approvals: list[ApprovalRule] = Field(default_factory=list)


class DocumentRuleSet(StrictModel):
    attributes: DocumentAttributes = DocumentAttributes()
    inbound: list[InboundRule] = Field(default_factory=list)
    outbound: list[OutboundRule] = Field(default_factory=list)
    approvals: list[ApprovalRule] = Field(default_factory=list)

    @property
    def topics(self) -> list[str]:
        """Every CDC topic the document flows read (attachment rows, approval decisions)."""
        return sorted({r.source.topic for r in self.inbound} | {r.source.topic for r in self.approvals})

    def inbound_for(self, topic: str) -> InboundRule | None:
        return next((r for r in self.inbound if r.source.topic == topic), None)

    def approvals_for(self, topic: str) -> ApprovalRule | None:
        return next((r for r in self.approvals if r.source.topic == topic), None)

    def targets(self) -> set[str]:
        return {target for target, _ in self.sources()}

    def sources(self) -> set[tuple[str, SourceFormat]]:
        """Every (target, attachment API) the rules read bodies from or write documents to."""
        return ({(r.source.target, r.source.format) for r in self.inbound}
                | {(r.to.target, r.to.format) for r in self.outbound})


def parse_document_rule_sources(sources: Sequence[tuple[str, str]]) -> DocumentRuleSet:
    """Every file validated (mistakes as ``file:line: field: message``), then checked together: names
    unique, one inbound rule per topic, one document-attribute convention."""
    parsed, problems = validate_sources(sources, DocumentRuleFile)
    names: Counter[str] = Counter()
    topics: Counter[str] = Counter()
    for source, rules in parsed:
        sections: tuple[tuple[str, Sequence[InboundRule | OutboundRule | ApprovalRule]], ...] = (
            ("inbound", rules.inbound), ("outbound", rules.outbound), ("approvals", rules.approvals))
        for kind, section in sections:
            for index, rule in enumerate(section):
                names[rule.name] += 1
                if names[rule.name] > 1:
                    problems.append(f"{_where(source, kind, index)}: {kind}.{index}.name: rule {rule.name!r} "
                                    "is given twice")
        for index, inbound_rule in enumerate(rules.inbound):
            topics[inbound_rule.source.topic] += 1
            if topics[inbound_rule.source.topic] > 1:
                problems.append(f"{_where(source, 'inbound', index)}: inbound.{index}.source.topic: a second "
                                f"inbound rule for {inbound_rule.source.topic}")
    conventions = {rules.document_attributes for _, rules in parsed}
    if len(conventions) > 1:
        problems.append("document_attributes differ between the files: give them once")
    if problems:
        raise invalid("document rules", problems)
    return DocumentRuleSet(
        attributes=next(iter(conventions), DocumentAttributes()),
        inbound=[r for _, rules in parsed for r in rules.inbound],
        outbound=[r for _, rules in parsed for r in rules.outbound],
        approvals=[r for _, rules in parsed for r in rules.approvals])


def _where(source: SourceFile, kind: str, index: int) -> str:
    return source.where([kind, index, "name"])


def size_limit(rule: InboundRule) -> int:
    return int(rule.when.max_size_mb * MIB)
