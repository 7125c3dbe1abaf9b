"""The one settings tree, read from the environment (``XSTREAM_*``, nested with ``__``) or a .env file.

This is the only module that reads the environment. Everything is validated at start, so a
bad value stops the worker with a message that names the variable, not at the first record.

Broker-dependent client settings live in :class:`ClientProfile`, derived once from
``kafka.flavour``: the embedded Tansu broker needs short sessions (its group join waits
session/2), no idempotent producer (InitProducerId v0 fails) and linger 0 (multi-record
batches break log-end offsets and so table recovery). Apache Kafka gets production values.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)
PREFIX = "XSTREAM_"
DOTENV = ".env"
"""The .env file pydantic-settings reads, in the working directory."""


class BrokerFlavour(StrEnum):
    KAFKA = "kafka"
    TANSU = "tansu"


class ClientProfile(BaseModel):
    """Client settings that differ between Apache Kafka and the embedded broker, chosen once."""

    model_config = ConfigDict(frozen=True)

    session_timeout_ms: int
    heartbeat_interval_ms: int
    rebalance_timeout_ms: int
    enable_idempotence: bool
    producer_linger_ms: int
    acks: Literal["all", 1]
    fetch_max_wait_ms: int
    """How long a fetch waits for data: Apache Kafka answers as soon as data arrives, Tansu at the end
    of the wait, so a long wait there is latency on every hop."""
    revoke_budget_s: float
    """How long calls in flight may finish on a rebalance: inside the window in which the group waits
    for members to rejoin (Apache Kafka: the rebalance timeout; Tansu: half the session timeout, its
    join wait), or the member misses the new generation and the group rebalances once more."""
    gap_recheck_s: float
    """How long a missing offset is fetched again before it is believed (see ``streams/gaps.py``):
    Tansu can show offset N+1 before N at the tail; on Apache Kafka a gap is real (compaction,
    transaction markers) and is believed at once."""

    @classmethod
    def for_flavour(cls, flavour: BrokerFlavour) -> ClientProfile:
        if flavour is BrokerFlavour.TANSU:
            return cls(
                session_timeout_ms=3000,
                heartbeat_interval_ms=1000,
                rebalance_timeout_ms=3000,
                enable_idempotence=False,
                producer_linger_ms=0,
                acks=1,
                fetch_max_wait_ms=50,
                revoke_budget_s=1.0,
                gap_recheck_s=5.0,
            )
        return cls(
            session_timeout_ms=30000,
            heartbeat_interval_ms=3000,
            rebalance_timeout_ms=60000,
            enable_idempotence=True,
            producer_linger_ms=5,
            acks="all",
            fetch_max_wait_ms=500,
            revoke_budget_s=10.0,
            gap_recheck_s=0.0,
        )


class KafkaSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    bootstrap: str = "127.0.0.1:9092"
    flavour: BrokerFlavour = BrokerFlavour.KAFKA
    client_id: str = "xstream"
    topic_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]*$")] = ""
    """Prepended to every topic name (catalog and rules), e.g. "staging." to share a cluster."""
    topic_partitions: Annotated[int, Field(ge=1)] = 4
    replication_factor: Annotated[int, Field(ge=1)] = 1
    connect_timeout_s: Annotated[float, Field(gt=0, le=300)] = 5.0
    """How long the worker tries to reach the brokers at start (a TCP connection, then the producer's
    first metadata answer, each bounded by this) before it stops with one line naming them: a broker
    that is down, misspelt or firewalled is reported in seconds, not after aiokafka's 40 s request
    timeout with a traceback."""

    @property
    def profile(self) -> ClientProfile:
        return ClientProfile.for_flavour(self.flavour)


class BreakerSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    failure_threshold: Annotated[int, Field(ge=1)] = 5
    """Consecutive failed attempts (transient errors) that open the circuit..."""
    failure_window_s: Annotated[float, Field(ge=0)] = 1.0
    """...provided no attempt succeeded for at least this long: a target that answers most calls (say
    three in four) is alive, even when five failures in a row happen among hundreds of calls."""
    reset_after_s: Annotated[float, Field(gt=0)] = 30.0
    """How long the circuit stays open before one trial batch is let through (half-open)."""


class OpenTextSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    base_url: HttpUrl = HttpUrl("http://127.0.0.1:8181/otcs/cs")
    """Content Server CGI URL, e.g. https://ecm.example.com/otcs/cs (the part before /api)."""
    public_url: HttpUrl | None = None
    """Where people open workspaces (SmartUI); defaults to base_url."""
    username: str = "Admin"
    password: SecretStr = SecretStr("livelink")
    otds_url: HttpUrl | None = None
    """OTDS base URL (e.g. https://otds.example.com); with otds_client_id: OAuth2 client credentials
    at {otds_url}/otdsws/oauth2/token, sent as ``Authorization: Bearer`` instead of a ticket login."""
    otds_client_id: str | None = None
    otds_client_secret: SecretStr | None = None
    connect_timeout_s: Annotated[float, Field(gt=0)] = 5.0
    request_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    max_connections: Annotated[int, Field(ge=1)] = 16
    concurrency: Annotated[int, Field(ge=1)] = 8
    """Commands applied to OpenText at once per worker (different business objects only)."""
    breaker: BreakerSettings = BreakerSettings()

    @model_validator(mode="after")
    def _otds_complete(self) -> OpenTextSettings:
        given = [self.otds_url is not None, self.otds_client_id is not None, self.otds_client_secret is not None]
        if any(given) and not all(given):
            raise ValueError("otds_url, otds_client_id and otds_client_secret go together")
        return self

    @property
    def uses_otds(self) -> bool:
        return self.otds_client_id is not None

    def workspace_url(self, node_id: int) -> str:
        base = str(self.public_url or self.base_url).rstrip("/")
        return f"{base}/app/nodes/{node_id}"


class TargetAuth(BaseModel):
    """How xstream authenticates to a downstream system; secrets are SecretStr and never logged."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["none", "bearer", "basic", "oauth2"] = "none"
    token: SecretStr | None = None
    """bearer: the static token."""
    username: str | None = None
    password: SecretStr | None = None
    """basic: user and password."""
    token_url: HttpUrl | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    scope: str | None = None
    """oauth2: client-credentials grant at token_url."""

    @model_validator(mode="after")
    def _complete(self) -> TargetAuth:
        needed = {"none": (), "bearer": ("token",), "basic": ("username", "password"),
                  "oauth2": ("token_url", "client_id", "client_secret")}[self.kind]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"auth kind {self.kind} needs {', '.join(missing)}")
        return self


class TargetSettings(BaseModel):
    """One downstream system reached over HTTP: a records API (ERP, CRM, procurement, partner portal)
    or, with ``kind: notify``, a chat tool's incoming webhooks (Slack, Teams) by channel."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["records", "notify"] = "records"
    base_url: HttpUrl | None = None
    """records: the API root, records at {base_url}/{entity}/{id}; required."""
    auth: TargetAuth = TargetAuth()
    approvals_path: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9._~/-]+$")] = "approvals"
    """records: where approvals are started (POST {base_url}/{approvals_path}) and read."""
    format: Literal["slack", "teams"] = "slack"
    delivery: Literal["at_least_once", "at_most_once"] = "at_least_once"
    """notify: what to do when a message was sent and its answer lost (connection reset, timeout after
    sending). Incoming webhooks neither de-duplicate nor can be asked what they received, so one of
    the two must give: resend (a message may appear twice) or not (a message may be missing)."""
    """notify: the message format of the incoming webhooks (Slack blocks, or a Teams Adaptive Card)."""
    channels: dict[str, SecretStr] = Field(default_factory=dict)
    """notify: channel name -> incoming-webhook URL. The URL holds the credential: a secret, never logged."""
    concurrency: Annotated[int, Field(ge=1)] = 8
    connect_timeout_s: Annotated[float, Field(gt=0)] = 5.0
    request_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    breaker: BreakerSettings = BreakerSettings()
    attachments_url: HttpUrl | None = None
    """records: the root of the system's attachment API (documents, flow F2): the SAP host before
    ``/sap/opu/odata``, or the Salesforce instance URL. Default: base_url's scheme, host and port."""

    @property
    def attachments_root(self) -> str:
        """Where the attachment API lives (``attachments_url``, else base_url's origin)."""
        if self.attachments_url is not None:
            return str(self.attachments_url).rstrip("/")
        assert self.base_url is not None, "a records target has a base_url"
        port = f":{self.base_url.port}" if self.base_url.port is not None else ""
        return f"{self.base_url.scheme}://{self.base_url.host}{port}"

    @model_validator(mode="after")
    def _complete(self) -> TargetSettings:
        if self.kind == "records" and self.base_url is None:
            raise ValueError("a records target needs base_url")
        if self.kind == "notify" and not self.channels:
            raise ValueError("a notify target needs channels (name -> incoming-webhook URL)")
        return self

    @field_validator("channels")
    @classmethod
    def _channel_urls(cls, channels: dict[str, SecretStr]) -> dict[str, SecretStr]:
        """Names compare ignoring case (environment variables make them lower case); URLs are checked
        here, at start, and named by channel only: the URL is the credential."""
        named: dict[str, SecretStr] = {}
        for name, url in channels.items():
            try:
                parsed = _HTTP_URL.validate_python(url.get_secret_value())
            except ValidationError:
                raise ValueError(f"channel {name}: not a valid http(s) incoming-webhook URL") from None
            if parsed.scheme not in ("http", "https"):
                raise ValueError(f"channel {name}: not a valid http(s) incoming-webhook URL")
            if name.casefold() in named:
                raise ValueError(f"channel {name} is given twice (names compare ignoring case)")
            named[name.casefold()] = url
        return named


class DocumentSettings(BaseModel):
    """The document sink (flow F2): bodies streamed between the source systems and OpenText."""

    model_config = ConfigDict(frozen=True)

    concurrency: Annotated[int, Field(ge=1, le=64)] = 4
    """Documents transferred at once per worker (each holds one stream from a source to OpenText)."""
    workspace_wait_s: Annotated[float, Field(ge=0)] = 300.0
    """How long a document waits for its business object's workspace (created by flow F1, maybe
    still on its way) before it is dead-lettered as ``unknown_business_object`` (re-drivable)."""
    breaker: BreakerSettings = BreakerSettings()


class RetrySettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    attempts: Annotated[int, Field(ge=1)] = 6
    base_delay_s: Annotated[float, Field(gt=0)] = 0.2
    max_delay_s: Annotated[float, Field(gt=0)] = 10.0
    deadline_s: Annotated[float, Field(gt=0)] = 60.0
    pause_s: Annotated[float, Field(gt=0)] = 5.0
    """After the retries of a batch run out, its partition is paused this long and re-read."""


class ObservabilitySettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str = "0.0.0.0"  # noqa: S104 - probes and Prometheus reach the pod on its IP
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    stall_after_s: Annotated[float, Field(gt=0)] = 120.0
    """A partition with lag and no progress for this long fails /readyz."""


class WorkerSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    app_id: str = "xstream"
    """The deployment's name: the stem of its consumer group ids and of its flow state keys (one per deployment)."""
    rules_file: Path | None = None
    """Mapping rules: one YAML file or a directory of them; the shipped sample rules when unset."""
    status_rules_file: Path | None = None
    """Status rules (OpenText changes -> approvals, record updates, notifications): a YAML file or a
    directory of them; the shipped samples when unset."""
    document_rules_file: Path | None = None
    """Document rules (flow F2: attachments into workspaces, workspace documents to source records,
    approvals to document status): a YAML file or a directory of them; the shipped samples when unset."""
    max_record_bytes: Annotated[int, Field(ge=1024, le=1_048_576)] = 1_048_576
    """Larger records are dead-lettered as oversize, and so are outputs (commands) that would be
    larger: a record must fit the producer's request limit (1 MiB)."""
    max_in_flight: Annotated[int, Field(ge=1)] = 1000
    """Unfinished records per partition before the partition is paused (resumed at half)."""
    commit_interval_s: Annotated[float, Field(gt=0, le=60)] = 0.2
    revoke_budget_s: Annotated[float, Field(gt=0, le=120)] | None = None
    """On a rebalance or a stop, how long calls in flight may take to finish before they are abandoned
    (and re-read by the next owner, whose idempotency keys make the repeat harmless); queued records
    are left to the next owner at once. Default from the broker flavour (Tansu 1 s, Kafka 10 s)."""

    @field_validator("rules_file", "status_rules_file", "document_rules_file")
    @classmethod
    def _exists(cls, path: Path | None) -> Path | None:
        """Checked on the field (not in a check of the whole tree) so that the error names its variable,
        XSTREAM_WORKER__RULES_FILE, XSTREAM_WORKER__STATUS_RULES_FILE or XSTREAM_WORKER__DOCUMENT_RULES_FILE."""
        if path is not None and not path.exists():
            raise ValueError(f"{path} does not exist (give a rules YAML file or a directory of them)")
        return path


class WebhookSettings(BaseModel):
    """The webhook ingress: server-side OpenText hooks POST change notifications here, signed."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = False
    host: str = "0.0.0.0"  # noqa: S104 - the hook calls the pod on its IP
    port: Annotated[int, Field(ge=0, le=65535)] = 8090
    path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9._~/-]*$")] = "/hooks/opentext"
    secret: SecretStr | None = None
    """Shared secret of the HMAC-SHA256 signature (X-Xstream-Signature over timestamp and body)."""
    previous_secret: SecretStr | None = None
    """Also accepted while a new secret is rolled out to the hooks."""
    tolerance_s: Annotated[float, Field(gt=0, le=3600)] = 300.0
    """A request whose timestamp is further than this from now is stale (refused with 401)."""
    max_body_bytes: Annotated[int, Field(ge=256, le=10_485_760)] = 65_536

    @model_validator(mode="after")
    def _secret(self) -> WebhookSettings:
        if self.enabled and self.secret is None:
            raise ValueError("the webhook needs a secret (XSTREAM_WEBHOOK__SECRET) to verify signatures")
        for name in ("secret", "previous_secret"):
            value = getattr(self, name)
            if value is not None and len(value.get_secret_value()) < 16:
                raise ValueError(f"webhook {name}: use at least 16 characters")
        return self


class PollerSettings(BaseModel):
    """The OpenText poller: watched workspace types and folders, a high-water mark kept in Kafka."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = False
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]+$")] = "opentext"
    """Names the checkpoint (high-water mark) on the checkpoints topic: one per watched scope."""
    workspace_types: list[str] | None = None
    """Watched workspace types by name; default: the types the status rules name."""
    folder_ids: list[int] = Field(default_factory=list)
    """Watched folders (and their subfolders), in addition to the workspace types."""
    interval_s: Annotated[float, Field(ge=1)] = 15.0
    """At least a second: an observation is confirmed by the next cycle's (modify dates have whole seconds)."""
    overlap_s: Annotated[float, Field(ge=0)] = 120.0
    """Each cycle looks back this far before the high-water mark (late commits, clock skew)."""
    start_from: Literal["latest", "earliest"] | datetime = "latest"
    """With no checkpoint yet: ``latest`` records the current state without running rules,
    ``earliest`` treats every document as new, a date treats documents modified since then as new."""
    workflows: bool = True
    """Also report finished workflows (GET /v2/workflows/status)."""

    @field_validator("start_from")
    @classmethod
    def _utc(cls, value: Literal["latest", "earliest"] | datetime) -> Literal["latest", "earliest"] | datetime:
        """A date without a zone is UTC (OpenText's dates are compared as UTC)."""
        return value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value
    workflow_retention_days: Annotated[int, Field(ge=1, le=365)] = 7
    max_depth: Annotated[int, Field(ge=0, le=32)] = 8
    """Folder levels below a workspace or watched folder that are searched."""
    page_limit: Annotated[int, Field(ge=1, le=500)] = 100
    concurrency: Annotated[int, Field(ge=1, le=64)] = 4
    """Listing calls in flight at once while a cycle walks the containers (within opentext.max_connections)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_nested_delimiter="__",
        env_file=DOTENV,
        extra="ignore",  # .env may hold other tools' variables; unknown XSTREAM_* ones: unknown_variables
        frozen=True,
    )

    kafka: KafkaSettings = KafkaSettings()
    opentext: OpenTextSettings = OpenTextSettings()
    targets: dict[str, TargetSettings] = Field(default_factory=dict)
    """Downstream systems by name, e.g. XSTREAM_TARGETS__ERP__BASE_URL=https://erp.example.com/api."""
    retry: RetrySettings = RetrySettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    worker: WorkerSettings = WorkerSettings()
    webhook: WebhookSettings = WebhookSettings()
    poller: PollerSettings = PollerSettings()
    documents: DocumentSettings = DocumentSettings()

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        if self.retry.deadline_s > 240:
            raise ValueError("XSTREAM_RETRY__DEADLINE_S must stay under 240 s: a batch may not hold the consumer "
                             "past its 300 s poll interval")
        budget, profile = self.worker.revoke_budget_s, self.kafka.profile
        window = (profile.session_timeout_ms / 2 if self.kafka.flavour is BrokerFlavour.TANSU
                  else profile.rebalance_timeout_ms) / 1000
        if budget is not None and budget >= window:
            raise ValueError(f"XSTREAM_WORKER__REVOKE_BUDGET_S {budget} must stay under {window:g} s, the time "
                             f"the group waits for members to rejoin a rebalance ({self.kafka.flavour.value})")
        if self.retry.base_delay_s > self.retry.max_delay_s:
            raise ValueError("XSTREAM_RETRY__BASE_DELAY_S must not exceed XSTREAM_RETRY__MAX_DELAY_S")
        return self


def revoke_budget(settings: Settings) -> float:
    """The revoke budget in force: as set, else the broker flavour's."""
    return settings.worker.revoke_budget_s or settings.kafka.profile.revoke_budget_s


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings; a failure becomes a ConfigError that names each bad variable.

    Variables under the prefix that no setting reads are refused first (:func:`unknown_variables`).
    """
    from xstream.errors import ConfigError

    unknown = unknown_variables(os.environ) + unknown_variables(_dotenv(), where=f" in {DOTENV}")
    if unknown:
        raise ConfigError("; ".join(unknown))
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = dict.fromkeys(f"  {_problem(e['loc'], e['msg'])}" for e in exc.errors())
        raise ConfigError("invalid settings:\n" + "\n".join(lines)) from exc


def _problem(loc: tuple[int | str, ...], msg: str) -> str:
    """``VARIABLE: message``; a check of the whole tree names its variables in the message itself."""
    variable, msg = variable_of(loc), msg.removeprefix("Value error, ")
    return f"{variable}: {msg}" if variable != PREFIX else msg


def variable_of(loc: tuple[int | str, ...]) -> str:
    """The environment variable of an error location: the settings fields (and dict keys) along it,
    without the tags pydantic adds for the members of a union (``literal[...]``, ``datetime``)."""
    parts: list[str] = []
    node: Any = Settings
    for part in loc:
        if get_origin(node) is dict:  # a name chosen by the operator, e.g. a target
            parts.append(str(part))
            node = node.__args__[1]
        elif isinstance(node, type) and issubclass(node, BaseModel) and part in node.model_fields:
            parts.append(str(part))
            node = node.model_fields[str(part)].annotation
        else:
            break
    return PREFIX + "__".join(parts).upper()


NOT_SETTINGS = re.compile(r"^XSTREAM_(TEST_|CHAOS_|FUZZ_SCALE$|UPDATE_GOLDEN$|OPENAPI_DIR$"
                          r"|SERVICE_HOST$|SERVICE_PORT($|_)|PORT($|_))", re.IGNORECASE)
"""``XSTREAM_*`` variables that are not settings and never reach them: the test harness's and tools'
own (``XSTREAM_TEST_BOOTSTRAP``, ``_FLAVOUR``, ``_KAFKA``; ``XSTREAM_CHAOS_*``, ``XSTREAM_FUZZ_SCALE``,
``XSTREAM_UPDATE_GOLDEN``, ``XSTREAM_OPENAPI_DIR``), which worker processes started by the tests and the
demo inherit, and the service links Kubernetes injects for a Service named ``xstream``
(``XSTREAM_SERVICE_HOST``, ``XSTREAM_SERVICE_PORT*``, ``XSTREAM_PORT*``)."""


def unknown_variables(environ: Mapping[str, str | None], *, where: str = "") -> list[str]:
    """Every ``XSTREAM_*`` variable no setting reads, each with the likely intended name where one is close.

    Refused, not warned about: a mistyped name is silently ignored by pydantic, so the setting keeps its
    default (a broker on 127.0.0.1, no webhook secret, the sample rules) and a production worker would
    run with a configuration nobody wrote. A warning scrolls past; a worker that stops names the typo.
    Free parts are free: target names (``XSTREAM_TARGETS__<NAME>__...``) and channel names
    (``..._CHANNELS__<CHANNEL>``); the fields below a target are not. :data:`NOT_SETTINGS` are left alone.
    """
    found = []
    for name in sorted(environ):
        if not name.upper().startswith(PREFIX) or NOT_SETTINGS.match(name):
            continue
        parts = name[len(PREFIX):].lower().split("__")
        if not _reads(parts):
            close = difflib.get_close_matches(name.upper(), _variables(parts), n=1, cutoff=0.85)
            found.append(f"unknown setting {name}{where}" + (f" (did you mean {close[0]}?)" if close else ""))
    return found


def _reads(parts: list[str]) -> bool:
    """Whether a setting reads the variable of these parts (the name after the prefix, split at ``__``):
    each part a field of the model it is in, or any name of a dict (targets, channels)."""
    node: Any = Settings
    for part in parts:
        node = _optional_of(node)
        if get_origin(node) is dict and part:
            node = get_args(node)[1]
        elif isinstance(node, type) and issubclass(node, BaseModel) and part in node.model_fields:
            node = node.model_fields[part].annotation
        else:
            return False
    return True


def _variables(given: list[str], node: Any = Settings, depth: int = 0, field: str = "") -> list[str]:
    """Every field's variable, the free names (targets, channels) taken from ``given`` where it has a
    part at that depth: the candidates a mistyped name is compared with."""
    node = _optional_of(node)
    if get_origin(node) is dict:
        free = given[depth] if depth < len(given) and given[depth] else "<channel>" if field == "channels" else "<name>"
        names = [(free, get_args(node)[1])]
    elif isinstance(node, type) and issubclass(node, BaseModel):
        names = [(name, info.annotation) for name, info in node.model_fields.items()]
    else:
        return []
    found = []
    for name, inner in names:
        variable = f"{PREFIX if depth == 0 else ''}{name.upper()}"
        below = [f"{variable}__{rest}" for rest in _variables(given, inner, depth + 1, name)]
        found += below or [variable]  # what one sets: the fields, not the sections (JSON) they are in
    return found


def _optional_of(node: Any) -> Any:
    """``X | None`` -> ``X``, so that an optional section or dict is walked like a required one."""
    if get_origin(node) in (Union, UnionType):
        members = [a for a in get_args(node) if a is not type(None)]
        return members[0] if len(members) == 1 else node
    return node


def _dotenv() -> dict[str, str | None]:
    """The variables of the ``.env`` file, if there is one."""
    return dotenv_values(DOTENV) if Path(DOTENV).is_file() else {}


class _LogFormatOnly(BaseSettings):
    """Only the observability settings, read leniently: how to report a failure of the whole tree."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, env_nested_delimiter="__", env_file=DOTENV, extra="ignore")

    observability: ObservabilitySettings = ObservabilitySettings()


def observability_at_start() -> ObservabilitySettings:
    """The log settings when the settings as a whole are invalid: a start-up failure is logged in the
    worker's format (one JSON line by default), so a log pipeline reads it like every other line."""
    try:
        return _LogFormatOnly().observability
    except ValidationError:
        return ObservabilitySettings()
