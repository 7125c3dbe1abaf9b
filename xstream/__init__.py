"""xstream: keeps ERP/CRM systems and OpenText Extended ECM Business Workspaces in step over Kafka."""

__version__ = "0.1.0"
__all__ = ["__version__"]
