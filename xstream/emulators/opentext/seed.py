"""Seed data of the OpenText emulator, as plain data so later flows can add workspace types.

Node ids come from one global counter in seeding order (Enterprise volume = 2000, as in a real
Content Server). Workspace type ids are small integers of their own (real systems use ids like 16),
deliberately outside the node id range so a client that mixes them up gets a clear error.
Nodes created at run time start at :data:`FIRST_DYNAMIC_NODE_ID`, so adding seed types does not
move the ids of workspaces in tests or demo output.
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


@dataclass(frozen=True)
class WorkspaceTypeSeed:
    type_id: int
    name: str
    folder: str
    """Folder under the Enterprise volume: the type's fixed creation location."""
    template: str
    category: str
    attributes: tuple[AttributeSeed, ...]


def _attrs(*titles: str) -> tuple[AttributeSeed, ...]:
    return tuple(AttributeSeed(title) for title in titles)


SEED_TYPES: tuple[WorkspaceTypeSeed, ...] = (
    WorkspaceTypeSeed(
        1, "Customer", "Customers", "Customer Template", "Customer",
        _attrs("Account Number", "Customer Name", "Owner", "Region", "Status"),
    ),
    WorkspaceTypeSeed(
        2, "Supplier", "Suppliers", "Supplier Template", "Supplier",
        _attrs("Supplier Number", "Supplier Name", "Owner", "Region", "Status"),
    ),
    WorkspaceTypeSeed(
        3, "Project", "Projects", "Project Template", "Project",
        _attrs("Project ID", "Project Name", "Owner", "Region", "Status"),
    ),
    WorkspaceTypeSeed(
        4, "Case", "Cases", "Case Template", "Case",
        _attrs("Case Number", "Case Type", "Owner", "Region", "Status"),
    ),
)
