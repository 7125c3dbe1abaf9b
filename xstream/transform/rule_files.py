"""Where rules files live (mapping rules, status rules, document rules) and how several are read into one rule set.

The worker reads every ``*.yaml`` of a directory (the shipped samples in :data:`RULES_DIR`, or the
operator's) except the OpenText catalog used by dry-run; names and (topic, entity) pairs must be
unique across the files. Reading files is the only I/O here, done once at start.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from xstream.errors import ConfigError
from xstream.transform.case_rules import CaseRuleSet, parse_case_rule_sources
from xstream.transform.document_rules import DocumentRuleSet, parse_document_rule_sources
from xstream.transform.rules import RuleSet, parse_rule_sources
from xstream.transform.status_rules import StatusRuleSet, parse_status_rule_sources

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
"""The sample rules shipped with xstream (ERP customers and suppliers, CRM accounts, projects)."""
SAMPLE_RULES = RULES_DIR / "erp_customers.yaml"
CATALOG_FILE_NAME = "opentext_catalog.yaml"
CATALOG_FILE = RULES_DIR / CATALOG_FILE_NAME
STATUS_RULES_DIR = RULES_DIR / "status"
"""The sample status rules shipped with xstream (contracts: legal review -> approval, signed, rejected)."""
DOCUMENT_RULES_DIR = RULES_DIR / "documents"
"""The sample document rules shipped with xstream (supplier documents between the ERP and OpenText)."""


def rule_file_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given; a directory stands for its ``*.yaml``/``*.yml`` files (sorted, catalog excluded)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir()
                            if p.suffix in (".yaml", ".yml") and p.name != CATALOG_FILE_NAME and p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise ConfigError(f"{path}: no such rules file or directory")
    if not found:
        raise ConfigError(f"no rules files (*.yaml) in {', '.join(str(p) for p in paths)}")
    return found


def load_rule_files(paths: Iterable[Path]) -> RuleSet:
    """Parse and validate all rules files into one rule set; ConfigError names file, line and field."""
    files = rule_file_paths(list(paths))
    return parse_rule_sources([(str(p), p.read_text(encoding="utf-8")) for p in files])


def load_status_rule_files(paths: Iterable[Path]) -> StatusRuleSet:
    """Parse and validate all status-rule files into one set; ConfigError names file, line and field."""
    files = rule_file_paths(list(paths))
    return parse_status_rule_sources([(str(p), p.read_text(encoding="utf-8")) for p in files])


def load_document_rule_files(paths: Iterable[Path]) -> DocumentRuleSet:
    """Parse and validate all document-rule files into one set; ConfigError names file, line and field."""
    files = rule_file_paths(list(paths))
    return parse_document_rule_sources([(str(p), p.read_text(encoding="utf-8")) for p in files])


CASE_RULES_DIR = RULES_DIR / "cases"
"""The sample case rules shipped with xstream (insurance claims assembled from five sources)."""


def load_case_rule_files(paths: Iterable[Path]) -> CaseRuleSet:
    """Parse and validate all case-rule files into one set; ConfigError names file, line and field."""
    files = rule_file_paths(list(paths))
    return parse_case_rule_sources([(str(p), p.read_text(encoding="utf-8")) for p in files])
