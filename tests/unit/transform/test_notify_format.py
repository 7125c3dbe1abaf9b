"""Notifications in the chat tools' incoming-webhook formats: Slack Block Kit and a Teams Adaptive Card."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from xstream.model.business import BusinessObject
from xstream.model.commands import Causation, Notify
from xstream.transform.notify_format import render, slack_message, teams_message

LINK = "https://ecm.example.com/otcs/cs/app/nodes/100123"


def notify(**overrides: Any) -> Notify:
    fields: dict[str, Any] = {
        "idempotency_key": "n" * 40, "target": "chat", "channel": "legal",
        "business_object": BusinessObject(ext_system_id="SAP_PRD", bo_type="LFA1", bo_id="0000300001"),
        "causation": Causation(source_system="opentext", entity="documents", op="u", source_position="audit:4711",
                               topic="xstream.opentext.events", partition=0, offset=3),
        "title": "Contract signed: Supply agreement",
        "text": "The ERP supplier record 0000300001 was updated.",
        "facts": {"Supplier": "Acme GmbH", "Status": "signed"},
        "link_title": "Open in OpenText", "link_url": LINK,
    }
    return Notify(**(fields | overrides))


def blocks_of(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [b for b in message["blocks"] if b["type"] == kind]


def fields_of(message: dict[str, Any]) -> list[str]:
    return [f["text"] for b in message["blocks"] if "fields" in b for f in b["fields"]]


def card_of(message: dict[str, Any]) -> dict[str, Any]:
    (attachment,) = message["attachments"]
    return attachment["content"]


# --- Slack --------------------------------------------------------------------------------------------

def test_a_slack_message_has_header_text_fields_and_a_button() -> None:
    message = slack_message(notify())
    header, text, facts, actions = message["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": "Contract signed: Supply agreement",
                                                 "emoji": False}}
    assert text["type"] == "section" and text["text"] == {"type": "mrkdwn",
                                                          "text": "The ERP supplier record 0000300001 was updated."}
    assert facts["type"] == "section"
    assert facts["fields"] == [{"type": "mrkdwn", "text": "*Supplier*\nAcme GmbH"},
                               {"type": "mrkdwn", "text": "*Status*\nsigned"}]
    assert actions["type"] == "actions"
    (button,) = actions["elements"]
    assert button["type"] == "button" and button["url"] == LINK
    assert button["text"] == {"type": "plain_text", "text": "Open in OpenText"}


def test_the_slack_fallback_text_carries_title_and_text() -> None:
    assert slack_message(notify())["text"] == "Contract signed: Supply agreement: " \
                                              "The ERP supplier record 0000300001 was updated."
    assert slack_message(notify(text=""))["text"] == "Contract signed: Supply agreement"


def test_an_empty_text_gives_no_text_section() -> None:
    message = slack_message(notify(text=""))
    assert [b["type"] for b in message["blocks"]] == ["header", "section", "actions"]
    assert "fields" in message["blocks"][1]


def test_empty_facts_are_left_out() -> None:
    message = slack_message(notify(facts={"Supplier": "Acme GmbH", "Due": "", "Status": "signed"}))
    assert fields_of(message) == ["*Supplier*\nAcme GmbH", "*Status*\nsigned"]


def test_no_facts_give_no_fields_section() -> None:
    for facts in ({}, {"Due": "", "Owner": ""}):
        message = slack_message(notify(facts=facts))
        assert fields_of(message) == []
        assert [b["type"] for b in message["blocks"]] == ["header", "section", "actions"]


def test_at_most_ten_fields_the_first_ten_in_order() -> None:
    facts = {f"Fact {n:02d}": f"value {n}" for n in range(14)}
    assert fields_of(slack_message(notify(facts=facts))) == [f"*Fact {n:02d}*\nvalue {n}" for n in range(10)]


def test_without_a_link_there_is_no_actions_block() -> None:
    message = slack_message(notify(link_url=None, link_title=None))
    assert blocks_of(message, "actions") == []


def test_a_link_without_a_title_still_has_a_labelled_button() -> None:
    (actions,) = blocks_of(slack_message(notify(link_title=None)), "actions")
    (button,) = actions["elements"]
    assert button["url"] == LINK and button["text"]["text"].strip()


def test_a_long_title_is_cut_to_the_header_limit() -> None:
    title = "Contract signed: " + "x" * 283  # 300 characters, the longest a Notify allows
    header = blocks_of(slack_message(notify(title=title)), "header")[0]["text"]["text"]
    assert len(header) <= 150
    assert header.startswith(title[:140])


def test_a_long_text_is_cut_to_the_section_limit() -> None:
    text = "word " * 800  # 4000 characters
    message = slack_message(notify(text=text))
    section = message["blocks"][1]["text"]["text"]
    assert len(section) <= 3000 and section.startswith(text[:2900])
    assert len(message["text"]) <= 3000


@given(title=st.text(min_size=1, max_size=300), text=st.text(max_size=4000),
       facts=st.dictionaries(st.text(min_size=1, max_size=50), st.text(max_size=2500), max_size=15))
def test_every_slack_message_keeps_the_block_kit_limits(title: str, text: str, facts: dict[str, str]) -> None:
    message = slack_message(notify(title=title, text=text, facts=facts))
    (header,) = blocks_of(message, "header")
    assert 1 <= len(header["text"]["text"]) <= 150
    for section in blocks_of(message, "section"):
        if "text" in section:
            assert 1 <= len(section["text"]["text"]) <= 3000
        if "fields" in section:
            assert 1 <= len(section["fields"]) <= 10
            assert all(len(f["text"]) <= 2000 for f in section["fields"])
    assert len(fields_of(message)) == min(10, sum(1 for v in facts.values() if v))
    assert message["text"]
    orjson.dumps(message)


def test_slack_mrkdwn_escapes_the_control_characters() -> None:
    message = slack_message(notify(text="R&D filed <https://evil.example|Open me>",
                                   facts={"Document": "a < b > c"}))
    assert message["blocks"][1]["text"]["text"] == "R&amp;D filed &lt;https://evil.example|Open me&gt;"
    assert fields_of(message) == ["*Document*\na &lt; b &gt; c"]


# --- Teams --------------------------------------------------------------------------------------------

def test_a_teams_message_is_one_adaptive_card_attachment() -> None:
    message = teams_message(notify())
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"


def test_the_card_has_title_text_facts_and_an_open_url_action() -> None:
    card = card_of(teams_message(notify()))
    title, text, facts = card["body"]
    assert title["type"] == "TextBlock" and title["text"] == "Contract signed: Supply agreement"
    assert text["type"] == "TextBlock" and text["text"] == "The ERP supplier record 0000300001 was updated."
    assert facts == {"type": "FactSet", "facts": [{"title": "Supplier", "value": "Acme GmbH"},
                                                  {"title": "Status", "value": "signed"}]}
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open in OpenText", "url": LINK}]


def test_the_card_leaves_out_empty_text_empty_facts_and_a_missing_link() -> None:
    card = card_of(teams_message(notify(text="", facts={"Due": ""}, link_url=None, link_title=None)))
    assert [block["type"] for block in card["body"]] == ["TextBlock"]
    assert card["body"][0]["text"] == "Contract signed: Supply agreement"
    assert not card.get("actions")


def test_the_card_keeps_the_non_empty_facts_in_order() -> None:
    card = card_of(teams_message(notify(facts={"B": "2", "Empty": "", "A": "1"})))
    (fact_set,) = [block for block in card["body"] if block["type"] == "FactSet"]
    assert fact_set["facts"] == [{"title": "B", "value": "2"}, {"title": "A", "value": "1"}]


def test_render_picks_the_format() -> None:
    assert "blocks" in render(notify(), "slack") and "attachments" not in render(notify(), "slack")
    teams = render(notify(), "teams")
    assert teams["type"] == "message" and card_of(teams)["type"] == "AdaptiveCard"
    orjson.dumps(teams)
