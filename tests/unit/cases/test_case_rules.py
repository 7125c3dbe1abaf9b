"""Case rules (flow F5): the sample loads, mistakes are `file:line: field: message` at start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from xstream.errors import ConfigError
from xstream.model.cases import CasePart
from xstream.transform.case_rules import parse_case_rule_sources
from xstream.transform.rule_files import CASE_RULES_DIR, load_case_rule_files

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
GOOD = """\
version: 1
cases:
  - name: claim
    match: {field: case_type, equals: claim}
    parts:
      - {name: claim-form, kind: form, where: {form_types: [claim_form]}}
      - {name: photos, kind: attachment, min: 2, where: {media_types: [image/*]}}
    deadline: {after: first_part, duration: 90}
    workspace: {type: Case, name: "{case_id} {header.customer_name}", ext_system_id: CLAIMS, bo_type: CLAIM,
                bo_id: "{case_id}"}
    attributes: {Case: {Region: "{metadata.region}", Amount: "{form.amount}"}}
"""


def part(kind: str, **kw: object) -> CasePart:
    return CasePart.model_validate({"part_id": f"{kind}:1", "kind": kind, "source": "test", "received_at": T0,
                                    **kw})


def problems(text: str, *more: tuple[str, str]) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_case_rule_sources([("c.yaml", text), *more])
    return str(exc.value)


def test_the_shipped_claims_sample_loads_and_names_its_requirements() -> None:
    rules = load_case_rule_files([CASE_RULES_DIR])
    claim = rules.get("claim")
    assert claim is not None and claim.workspace.type == "Case" and claim.late == "flag"
    assert [r.name for r in claim.parts] == ["claim-record", "claim-form", "correspondence", "damage-photos",
                                             "policy-record"]
    assert claim.deadline.after == "header" and claim.deadline.duration == timedelta(hours=2)
    assert rules.for_header(part("header", fields={"case_type": "claim"})) is claim
    assert rules.for_header(part("header", fields={"case_type": "complaint"})) is None
    assert rules.for_header(part("email", fields={"case_type": "claim"})) is None  # only headers name a type


def test_durations_are_iso_8601_or_seconds_and_defaults_apply() -> None:
    claim = parse_case_rule_sources([("c.yaml", GOOD)]).cases[0]
    assert claim.deadline.duration == timedelta(seconds=90) and claim.late == "flag"
    assert claim.folders["email"] == "Emails" and claim.folders["metadata"] == ""
    assert claim.uncorrelated_wait == timedelta(hours=24) and claim.max_parts == 200


def test_requirements_match_kind_media_type_and_form_type() -> None:
    claim = parse_case_rule_sources([("c.yaml", GOOD)]).cases[0]
    assert claim.satisfied_by(part("attachment", media_type="image/JPEG")) == ("photos",)
    assert claim.satisfied_by(part("attachment", media_type="application/pdf")) == ()
    assert claim.satisfied_by(part("form", fields={"form_type": "claim_form"})) == ("claim-form",)
    assert claim.satisfied_by(part("form", fields={"form_type": "feedback"})) == ()
    assert claim.satisfied_by(part("email", media_type="image/png")) == ()


def test_an_extracted_attachment_is_filed_beside_its_email_and_the_header_is_not_filed() -> None:
    claim = parse_case_rule_sources([("c.yaml", GOOD)]).cases[0]
    assert claim.folder_for(part("attachment", parent_part_id="mail:1")) == "Emails"
    assert claim.folder_for(part("attachment")) == "Attachments"
    assert claim.folder_for(part("header")) is None


def test_the_fields_kept_in_the_case_state_are_the_ones_the_rules_read() -> None:
    rules = parse_case_rule_sources([("c.yaml", GOOD)])
    assert rules.kept_fields == {"case_type", "customer_name", "region", "amount", "form_type"}


def test_an_unknown_kind_is_named_at_its_line() -> None:
    text = GOOD.replace("kind: form", "kind: fax")
    assert "c.yaml:6: cases.0.parts.0.kind: Input should be 'header', 'email', 'form'" in problems(text)


def test_a_workspace_name_may_name_only_the_header_and_unknown_placeholders_are_refused() -> None:
    text = GOOD.replace("{header.customer_name}", "{form.customer_name}")
    assert "c.yaml:9: cases.0.workspace.name: Value error, unknown placeholder {form.customer_name}" \
        in problems(text)
    text = GOOD.replace("{metadata.region}", "{region}")
    assert "c.yaml:11: cases.0.attributes.Case.Region: Value error, unknown placeholder {region}" in problems(text)


def test_an_unparsable_or_non_positive_duration_is_refused() -> None:
    assert "c.yaml:8: cases.0.deadline.duration: Input should be a valid timedelta" in problems(
        GOOD.replace("duration: 90", "duration: two hours"))
    assert "a duration must be positive" in problems(GOOD.replace("duration: 90", "duration: PT0S"))


def test_duplicate_case_types_across_files_and_duplicate_requirements_are_refused() -> None:
    message = problems(GOOD, ("d.yaml", GOOD))
    assert "d.yaml:3: cases.0.name: case type 'claim' is given twice" in message
    twice = GOOD.replace("name: photos", "name: claim-form")
    assert "c.yaml:5: cases.0.parts: Value error, requirement 'claim-form' is given twice" in problems(twice)


def test_other_mistakes_are_refused_with_their_line() -> None:
    assert "c.yaml:7: cases.0.parts.1.where.media_types.0" in problems(GOOD.replace("image/*", "images"))
    assert "c.yaml:4: cases.0.match.feild: Extra inputs are not permitted" in problems(
        GOOD.replace("{field: case_type", "{feild: case_type"))
    assert "cases.0.late: Input should be 'accept', 'flag' or 'reject'" in problems(
        GOOD.replace("    deadline:", "    late: drop\n    deadline:"))
    assert "cases.0.folders.header" in problems(GOOD.replace("    attributes:", "    folders: {header: X}\n"
                                                                                  "    attributes:"))
