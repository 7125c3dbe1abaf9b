"""Seed data of the OpenText emulator, as plain data so later flows can add workspace types.

Node ids come from one global counter in seeding order (Enterprise volume = 2000, as in a real
Content Server). Workspace type ids are small integers of their own (real systems use ids like 16),
deliberately outside the node id range so a client that mixes them up gets a clear error.
Nodes created at run time start at :data:`FIRST_DYNAMIC_NODE_ID`, so adding seed types does not
move the ids of workspaces in tests or demo output. Seed nodes added later (the document category,
the workflow maps) come after the original ones so existing ids stay put.

Attribute ids follow Content Server: the category itself is attribute 1, attributes count from 2
in order, a set takes one id and its row attributes the following ones (Customer: Contacts = 7,
Name = 8, Email = 9, so row values are ``{cat}_7_{row}_8``).
"""

from __future__ import annotations

from dataclasses import dataclass

ENTERPRISE_VOLUME_ID = 2000
FIRST_DYNAMIC_NODE_ID = 100_000


@dataclass(frozen=True)
class AttributeSeed:
    title: str
    type: str = "string"
    """JSON-schema type shown in the create form; OpenText's category metadata calls it type_name."""
    attributes: tuple[AttributeSeed, ...] = ()
    """Row attributes when this is a multi-row set."""
    max_rows: int = 5


@dataclass(frozen=True)
class WorkspaceTypeSeed:
    type_id: int
    name: str
    folder: str
    """Folder under the Enterprise volume: the type's fixed creation location."""
    template: str
    category: str
    attributes: tuple[AttributeSeed, ...]
    roles: tuple[str, ...] = ("Account Manager", "Legal")
    """Workspace roles every workspace of the type gets; the first one is the team leader."""


def _attrs(*titles: str) -> tuple[AttributeSeed, ...]:
    return tuple(AttributeSeed(title) for title in titles)


CONTACTS = AttributeSeed("Contacts", "array", _attrs("Name", "Email"), max_rows=5)

SEED_TYPES: tuple[WorkspaceTypeSeed, ...] = (
    WorkspaceTypeSeed(
        1, "Customer", "Customers", "Customer Template", "Customer",
        (*_attrs("Account Number", "Customer Name", "Owner", "Region", "Status"), CONTACTS),
    ),
    WorkspaceTypeSeed(
        2, "Supplier", "Suppliers", "Supplier Template", "Supplier",
        _attrs("Supplier Number", "Supplier Name", "Owner", "Region", "Status"),
        roles=("Purchaser", "Legal"),
    ),
    WorkspaceTypeSeed(
        3, "Project", "Projects", "Project Template", "Project",
        _attrs("Project ID", "Project Name", "Owner", "Region", "Status"),
        roles=("Project Manager", "Team Member"),
    ),
    WorkspaceTypeSeed(
        4, "Case", "Cases", "Case Template", "Case",
        _attrs("Case Number", "Case Type", "Owner", "Region", "Status"),
        roles=("Case Owner", "Legal"),
    ),
)

DOCUMENT_CATEGORY = ("Document", (AttributeSeed("Document Type"), AttributeSeed("Status"),
                                  AttributeSeed("Document Date", "date"), AttributeSeed("Source Document Id"),
                                  AttributeSeed("Source Version")))
"""A category for documents (not tied to a workspace type), applied with ``roles.categories``."""


@dataclass(frozen=True)
class WorkflowMapSeed:
    name: str
    start_step_enabled: bool
    steps: tuple[str, ...]


SEED_WORKFLOWS: tuple[WorkflowMapSeed, ...] = (
    WorkflowMapSeed("Contract Approval", True, ("Review", "Approve")),
    WorkflowMapSeed("Invoice Approval", False, ("Approve",)),
)
"""Contract Approval starts through a draft process (its start step is enabled, so ``startwf``
refuses it); Invoice Approval has no start step and can be started directly with ``startwf``."""
