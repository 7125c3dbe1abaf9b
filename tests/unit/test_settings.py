"""Settings are validated at start with messages that name the environment variable to fix."""

from __future__ import annotations

import pytest

from xstream.errors import ConfigError
from xstream.settings import BrokerFlavour, ClientProfile, load_settings


def test_environment_is_read_with_nested_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSTREAM_KAFKA__BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("XSTREAM_OPENTEXT__PASSWORD", "s3cret")
    settings = load_settings()
    assert settings.kafka.bootstrap == "kafka-1:9092,kafka-2:9092"
    assert "s3cret" not in repr(settings)
    assert settings.opentext.password.get_secret_value() == "s3cret"


def test_invalid_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSTREAM_OPENTEXT__CONCURRENCY", "0")
    monkeypatch.setenv("XSTREAM_KAFKA__FLAVOUR", "pulsar")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "XSTREAM_OPENTEXT__CONCURRENCY" in str(caught.value)
    assert "XSTREAM_KAFKA__FLAVOUR" in str(caught.value)


def test_missing_rules_file_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSTREAM_WORKER__RULES_FILE", "/nonexistent/rules.yaml")
    with pytest.raises(ConfigError, match="rules_file"):
        load_settings()


def test_broker_profiles_differ_where_tansu_needs_it() -> None:
    tansu, kafka = ClientProfile.for_flavour(BrokerFlavour.TANSU), ClientProfile.for_flavour(BrokerFlavour.KAFKA)
    assert not tansu.enable_idempotence and kafka.enable_idempotence
    assert tansu.producer_linger_ms == 0
    assert tansu.session_timeout_ms <= 4000 < kafka.session_timeout_ms


def test_workspace_url_uses_the_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSTREAM_OPENTEXT__PUBLIC_URL", "https://ecm.example.com/otcs/cs/")
    assert load_settings().opentext.workspace_url(42) == "https://ecm.example.com/otcs/cs/app/nodes/42"


def test_the_revoke_budget_comes_from_the_broker_and_must_fit_its_rejoin_window(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from xstream.settings import revoke_budget

    monkeypatch.setenv("XSTREAM_KAFKA__FLAVOUR", "tansu")
    assert revoke_budget(load_settings()) == 1.0
    monkeypatch.setenv("XSTREAM_WORKER__REVOKE_BUDGET_S", "3")
    with pytest.raises(ConfigError, match="must stay under 1.5 s"):
        load_settings()
    monkeypatch.setenv("XSTREAM_KAFKA__FLAVOUR", "kafka")
    assert revoke_budget(load_settings()) == 3
