"""The conformance harness catches wrong answers and tolerates only the documented spec defects."""

from __future__ import annotations

from tests.contract import openapi


def test_a_wrong_type_is_reported() -> None:
    op = openapi.find("POST", "/v1/auth")
    assert op is not None
    assert openapi.validate(op, 200, {"ticket": "abc"}) == []
    assert openapi.validate(op, 200, {"ticket": 5}) == ["ticket: 5 is not of type 'string'"]


def test_specific_templates_win_over_placeholders() -> None:
    op = openapi.find("GET", "/v2/businessworkspaces/42")
    assert op is not None and op.template == "/v2/businessworkspaces/{bw_id}"
    op = openapi.find("GET", "/v2/nodes/42/categories")
    assert op is not None and op.template == "/v2/nodes/{id}/categories"


def test_defect_tolerance_is_narrow() -> None:
    node = openapi.find("GET", "/v2/nodes/7")
    assert node is not None
    assert openapi.validate(node, 200, {"results": {"data": {}}, "links": {}}) == []
    workspaces = openapi.find("GET", "/v2/businessworkspaces")
    assert workspaces is not None
    assert openapi.validate(workspaces, 200, {"results": {"not": "a list"}}) != []


def test_field_fixes_widen_only_their_fields() -> None:
    op = openapi.find("GET", "/v2/workflows/status")
    assert op is not None
    column = {"key": "status_key", "type": -1, "valid_values": [], "valid_values_name": []}
    assert openapi.validate(op, 200, {"results": [{"definitions": {"wfstatus": {"status_key": column}}}]}) == []
    wrong = column | {"valid_values": 5}
    assert openapi.validate(op, 200, {"results": [{"definitions": {"wfstatus": {"status_key": wrong}}}]}) != []
