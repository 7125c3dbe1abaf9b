"""Settings are validated at start with messages that name the environment variable to fix."""

from __future__ import annotations

from pathlib import Path

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


def test_missing_rules_files_are_refused_at_start_with_their_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSTREAM_WORKER__RULES_FILE", "/nonexistent/rules.yaml")
    monkeypatch.setenv("XSTREAM_WORKER__STATUS_RULES_FILE", "/nonexistent/status")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    lines = str(caught.value).splitlines()[1:]
    assert lines == ["  XSTREAM_WORKER__RULES_FILE: /nonexistent/rules.yaml does not exist (give a rules YAML file "
                     "or a directory of them)",
                     "  XSTREAM_WORKER__STATUS_RULES_FILE: /nonexistent/status does not exist (give a rules YAML "
                     "file or a directory of them)"]


def test_checks_across_groups_name_their_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSTREAM_RETRY__BASE_DELAY_S", "20")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == ("invalid settings:\n  XSTREAM_RETRY__BASE_DELAY_S must not exceed "
                                 "XSTREAM_RETRY__MAX_DELAY_S")


@pytest.mark.parametrize(("variable", "message"), [
    ("XSTREAM_KAFKA__BOOTSRAP", "unknown setting XSTREAM_KAFKA__BOOTSRAP (did you mean XSTREAM_KAFKA__BOOTSTRAP?)"),
    ("XSTREAM_KAFKA_BOOTSTRAP", "unknown setting XSTREAM_KAFKA_BOOTSTRAP (did you mean XSTREAM_KAFKA__BOOTSTRAP?)"),
    ("XSTREAM_TARGETS__ERP__BASEURL",
     "unknown setting XSTREAM_TARGETS__ERP__BASEURL (did you mean XSTREAM_TARGETS__ERP__BASE_URL?)"),
    ("XSTREAM_TARGETS__CHAT__CHANNEL__LEGAL",
     "unknown setting XSTREAM_TARGETS__CHAT__CHANNEL__LEGAL (did you mean XSTREAM_TARGETS__CHAT__CHANNELS__LEGAL?)"),
    ("XSTREAM_TARGETS__ERP__AUTH__TOKEN__X", "unknown setting XSTREAM_TARGETS__ERP__AUTH__TOKEN__X (did you mean "
                                             "XSTREAM_TARGETS__ERP__AUTH__TOKEN?)"),
    ("XSTREAM_SOMETHING", "unknown setting XSTREAM_SOMETHING"),
])
def test_an_unknown_variable_is_refused_with_the_likely_name(monkeypatch: pytest.MonkeyPatch, variable: str,
                                                             message: str) -> None:
    monkeypatch.setenv(variable, "x")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == message


def test_free_names_and_other_tools_variables_are_not_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    from xstream.settings import unknown_variables

    known = ["XSTREAM_TARGETS__PROJECT_TOOL__BASE_URL", "XSTREAM_TARGETS__CHAT__CHANNELS__ANY_TEAM",
             "XSTREAM_TARGETS__ERP__AUTH__CLIENT_SECRET", "XSTREAM_TARGETS__ERP__BREAKER__RESET_AFTER_S",
             "XSTREAM_TARGETS", "XSTREAM_KAFKA", "XSTREAM_OPENTEXT__BREAKER__FAILURE_WINDOW_S",
             "XSTREAM_WORKER__REVOKE_BUDGET_S", "XSTREAM_POLLER__START_FROM", "xstream_kafka__bootstrap",
             "XSTREAM_TEST_BOOTSTRAP", "XSTREAM_TEST_FLAVOUR", "XSTREAM_CHAOS_SEED", "XSTREAM_UPDATE_GOLDEN",
             "XSTREAM_FUZZ_SCALE", "XSTREAM_OPENAPI_DIR", "XSTREAM_SERVICE_HOST", "XSTREAM_SERVICE_PORT_HTTP_METRICS",
             "XSTREAM_PORT", "XSTREAM_PORT_8080_TCP_ADDR", "PATH"]
    assert unknown_variables(dict.fromkeys(known, "x")) == []
    assert unknown_variables({"XSTREAM_TARGETS____BASE_URL": "x", "XSTREAM_KAFKA__": "x"}) == [
        "unknown setting XSTREAM_KAFKA__", "unknown setting XSTREAM_TARGETS____BASE_URL (did you mean "
        "XSTREAM_TARGETS__<NAME>__BASE_URL?)"]


def test_an_unknown_variable_in_the_dotenv_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("OTHER_TOOL=1\nXSTREAM_KAFKA__BOOTSTRAP=kafka:9092\nXSTREAM_WEBHOOK__SECRETS=x\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == "unknown setting XSTREAM_WEBHOOK__SECRETS in .env (did you mean XSTREAM_WEBHOOK__SECRET?)"
    (tmp_path / ".env").write_text("OTHER_TOOL=1\nXSTREAM_KAFKA__BOOTSTRAP=kafka:9092\n")
    assert load_settings().kafka.bootstrap == "kafka:9092"


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
    with pytest.raises(ConfigError, match="XSTREAM_WORKER__REVOKE_BUDGET_S 3.0 must stay under 1.5 s"):
        load_settings()
    monkeypatch.setenv("XSTREAM_KAFKA__FLAVOUR", "kafka")
    assert revoke_budget(load_settings()) == 3
