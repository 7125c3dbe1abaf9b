"""Settings of the downstream targets, the webhook ingress and the poller: validated at start."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from xstream.errors import ConfigError
from xstream.settings import load_settings

SLACK_URL = "https://hooks.slack.com/services/T0000/B0000/sekrit-token-4711"
SECRET = "0123456789abcdef"  # 16 characters: the shortest allowed


def config_error(**overrides: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(**overrides)
    return str(caught.value)


# --- targets ------------------------------------------------------------------------------------------

def test_a_records_target_needs_a_base_url() -> None:
    message = config_error(targets={"erp": {"kind": "records"}})
    assert "XSTREAM_TARGETS__ERP" in message and "base_url" in message
    assert "base_url" in config_error(targets={"erp": {}})  # records is the default kind


def test_a_records_target_with_a_base_url_loads() -> None:
    erp = load_settings(targets={"erp": {"base_url": "https://erp.example.com/api"}}).targets["erp"]
    assert erp.kind == "records" and str(erp.base_url) == "https://erp.example.com/api"


def test_a_notify_target_needs_channels() -> None:
    message = config_error(targets={"chat": {"kind": "notify"}})
    assert "XSTREAM_TARGETS__CHAT" in message and "channels" in message


def test_a_notify_target_needs_no_base_url() -> None:
    chat = load_settings(targets={"chat": {"kind": "notify", "channels": {"legal": SLACK_URL}}}).targets["chat"]
    assert chat.base_url is None and chat.channels["legal"].get_secret_value() == SLACK_URL


@pytest.mark.parametrize("url", ["ftp://hooks.example.com/sekrit-token-4711", "hooks.slack.com/sekrit-token-4711",
                                 "sekrit-token-4711"])
def test_a_channel_url_must_be_http_and_the_error_does_not_show_it(url: str) -> None:
    message = config_error(targets={"chat": {"kind": "notify", "channels": {"legal": url}}})
    assert "XSTREAM_TARGETS__CHAT" in message and "legal" in message and "http" in message
    assert "sekrit" not in message


@pytest.mark.parametrize("url", ["http://127.0.0.1:8383/hooks/legal", SLACK_URL])
def test_http_and_https_channel_urls_are_accepted(url: str) -> None:
    chat = load_settings(targets={"chat": {"kind": "notify", "channels": {"legal": url}}}).targets["chat"]
    assert chat.channels["legal"].get_secret_value() == url


def test_a_channel_url_is_a_secret_never_shown_with_the_settings() -> None:
    settings = load_settings(targets={"chat": {"kind": "notify", "channels": {"legal": SLACK_URL}}})
    for shown in (repr(settings), str(settings), repr(settings.targets), str(settings.targets["chat"]),
                  settings.model_dump_json()):
        assert "sekrit" not in shown
    assert settings.targets["chat"].channels["legal"].get_secret_value() == SLACK_URL


def test_a_notify_target_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSTREAM_TARGETS__CHAT__KIND", "notify")
    monkeypatch.setenv("XSTREAM_TARGETS__CHAT__FORMAT", "teams")
    monkeypatch.setenv("XSTREAM_TARGETS__CHAT__CHANNELS__LEGAL", "http://127.0.0.1:8383/hooks/legal")
    monkeypatch.setenv("XSTREAM_TARGETS__CHAT__CHANNELS__SALES", SLACK_URL)
    chat = load_settings().targets["chat"]
    assert (chat.kind, chat.format) == ("notify", "teams")
    assert {name: url.get_secret_value() for name, url in chat.channels.items()} == {
        "legal": "http://127.0.0.1:8383/hooks/legal", "sales": SLACK_URL}


def test_a_bad_notify_target_in_the_environment_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSTREAM_TARGETS__CHAT__KIND", "notify")
    monkeypatch.setenv("XSTREAM_TARGETS__CHAT__CHANNELS__LEGAL", "mailto:legal@example.com")
    with pytest.raises(ConfigError, match="XSTREAM_TARGETS__CHAT"):
        load_settings()


def test_an_unknown_target_format_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSTREAM_TARGETS__CHAT__KIND", "notify")
    monkeypatch.setenv("XSTREAM_TARGETS__CHAT__CHANNELS__LEGAL", SLACK_URL)
    monkeypatch.setenv("XSTREAM_TARGETS__CHAT__FORMAT", "discord")
    assert "XSTREAM_TARGETS__CHAT__FORMAT" in config_error()


# --- webhook ------------------------------------------------------------------------------------------

def test_an_enabled_webhook_needs_a_secret() -> None:
    assert "XSTREAM_WEBHOOK__SECRET" in config_error(webhook={"enabled": True})


def test_a_disabled_webhook_needs_no_secret() -> None:
    assert load_settings().webhook.secret is None


@pytest.mark.parametrize("secret", ["short", SECRET[:-1]], ids=["5 characters", "15 characters"])
def test_a_webhook_secret_under_16_characters_is_refused(secret: str) -> None:
    message = config_error(webhook={"enabled": True, "secret": secret})
    assert "XSTREAM_WEBHOOK" in message and "16" in message
    assert secret not in message


def test_a_webhook_secret_of_16_characters_is_enough_and_stays_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSTREAM_WEBHOOK__ENABLED", "true")
    monkeypatch.setenv("XSTREAM_WEBHOOK__SECRET", SECRET)
    settings = load_settings()
    assert settings.webhook.enabled and settings.webhook.secret is not None
    assert settings.webhook.secret.get_secret_value() == SECRET
    assert SECRET not in repr(settings) and SECRET not in settings.model_dump_json()


# --- poller -------------------------------------------------------------------------------------------

def test_watched_workspace_types_are_read_as_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSTREAM_POLLER__WORKSPACE_TYPES", '["Supplier"]')
    assert load_settings().poller.workspace_types == ["Supplier"]
    monkeypatch.setenv("XSTREAM_POLLER__WORKSPACE_TYPES", '["Supplier", "Customer Contract"]')
    assert load_settings().poller.workspace_types == ["Supplier", "Customer Contract"]


def test_without_workspace_types_the_status_rules_decide() -> None:
    assert load_settings().poller.workspace_types is None


@pytest.mark.parametrize("value", ["latest", "earliest"])
def test_start_from_takes_latest_or_earliest(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("XSTREAM_POLLER__START_FROM", value)
    assert load_settings().poller.start_from == value


@pytest.mark.parametrize("value", ["2026-12-01T00:00:00Z", "2026-12-01T01:00:00+01:00"])
def test_start_from_takes_an_iso_date_time(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("XSTREAM_POLLER__START_FROM", value)
    assert load_settings().poller.start_from == datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize("value", ["2026-12-01", "2026-12-01T00:00:00"])
def test_start_from_without_a_zone_is_read_as_utc(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("XSTREAM_POLLER__START_FROM", value)
    start_from = load_settings().poller.start_from
    assert isinstance(start_from, datetime)
    assert start_from == datetime(2026, 12, 1, tzinfo=UTC)  # a naive datetime never equals an aware one


def test_a_bad_start_from_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSTREAM_POLLER__START_FROM", "yesterday")
    assert "XSTREAM_POLLER__START_FROM" in config_error()


def test_a_bad_start_from_names_only_variables_that_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSTREAM_POLLER__START_FROM", "yesterday")
    named = set(re.findall(r"XSTREAM_[A-Z0-9_\[\]',]+", config_error()))
    assert named == {"XSTREAM_POLLER__START_FROM"}


def test_a_bad_poller_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSTREAM_POLLER__WORKSPACE_TYPES", "Supplier")  # not a JSON list
    with pytest.raises(ConfigError, match="XSTREAM_POLLER__WORKSPACE_TYPES"):
        load_settings()
