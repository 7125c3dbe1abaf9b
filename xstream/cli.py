"""``xstream``: demo, worker, topics, emulators, mapping, status-rule and document-rule dry-runs.

Exit codes: 0 success, 1 the command ran and found a problem (stale schema, failed demo check; a
worker that reaches no Kafka broker or whose component failed), 2 bad usage or invalid configuration
(the message names what to fix).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from xstream.errors import ConfigError

T = TypeVar("T")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xstream", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"xstream {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo", help="run broker, emulators and a worker locally and show flows F1, F4, F3 and F6 end to end",
        description="The local end-to-end demo: an embedded broker, the OpenText, ERP/CRM and chat emulators and "
                    "a real worker. Flows F1 + F4 (source records -> workspaces, links written back), then F3 + F6 "
                    "(contract status changes and a finished workflow in OpenText -> approvals, record updates, "
                    "chat messages). Exits 0 only when every check holds.")
    demo.add_argument("--keep-running", action="store_true", help="leave everything up and print the URLs")
    demo.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for processing")

    sub.add_parser("worker", help="run a worker (settings from XSTREAM_* environment variables / .env)")

    topics = sub.add_parser("topics", help="topic specs in topics/*.yaml")
    tsub = topics.add_subparsers(dest="topics_command", required=True)
    apply = tsub.add_parser("apply", help="create the declared topics that do not exist yet")
    apply.add_argument("--bootstrap", required=True, help="HOST:PORT of a broker")
    apply.add_argument("--replication-factor", type=int, default=None)
    apply.add_argument("--prefix", default="", help="prepended to every topic name")
    apply.add_argument("--target", action="append", default=None, metavar="NAME",
                       help="a downstream target whose command topic to create (repeatable); default: the "
                            "targets in the XSTREAM_TARGETS__* settings")
    tsub.add_parser("check", help="exit 1 when a committed JSON Schema differs from its model")
    tsub.add_parser("schemas", help="(re)write the JSON Schemas from the models")
    tsub.add_parser("list", help="print the declared topics")

    emulate = sub.add_parser("emulate", help="run an emulator of a target system")
    esub = emulate.add_subparsers(dest="system", required=True)
    ot = esub.add_parser(
        "opentext", help="OpenText Content Server REST API emulator",
        description="OpenText Content Server REST API emulator (business workspaces, nodes, documents, versions, "
                    "categories, workflows, audit; OTDS tokens). Default user: Admin / livelink; default OTDS "
                    "client: xstream / xstream-secret. State and call counts: GET /admin/state, /admin/calls.")
    ot.add_argument("--host", default="127.0.0.1")
    ot.add_argument("--port", type=int, default=8181)
    ot.add_argument("--base-path", default="/otcs/cs", help="CGI path, e.g. /otcs/cs, /cs/cs, /OTCS/cs.exe")
    ot.add_argument("--user", action="append", default=[], metavar="NAME:PASSWORD",
                    help="a user that may log in (repeatable); default Admin:livelink")
    ot.add_argument("--ticket-lifetime", type=float, default=1800.0, metavar="SECONDS")
    ot.add_argument("--db", type=Path, default=None, help="SQLite file: keep content across restarts")
    ot.add_argument("--content-dir", type=Path, default=None, help="where document content is stored")
    ot.add_argument("--faults", default="", metavar="SPEC",
                    help="e.g. latency_ms=5-50,error_rate=0.1,error_kind=500|html500|503,retry_after_s=2,"
                         "hang_rate=0.01,operations=nodes.create|versions.add")
    ot.add_argument("--hook", action="append", default=[], metavar="URL",
                    help="a server-side hook: POST signed change notifications (document added, new version, "
                         "attributes changed, workflow finished) to URL, e.g. xstream's webhook (repeatable)")
    ot.add_argument("--hook-secret", default=None, metavar="SECRET",
                    help="the shared secret the hooks sign with (HMAC-SHA256); required with --hook")
    ot.add_argument("--large-files", default="", metavar="SPEC",
                    help="Large File Upload (/v2/multipart), e.g. min_size=1MiB,part_size=256KiB,max_size=2GiB,"
                         "session_lifetime_s=3600,max_retries=3,enabled=false (default: on from 16 MiB, 8 MiB parts)")
    ot.add_argument("--public-url", default=None, metavar="URL",
                    help="scheme and host of the links copylink gives (default: the address each request came to)")

    erp = esub.add_parser(
        "erp", help="generic ERP/CRM REST API emulator (records, attachments, Idempotency-Key, change log for CDC)",
        description="ERP/CRM REST API emulator: records per entity (customers, suppliers, projects, accounts, "
                    "contracts) under --base-path, PATCH with Idempotency-Key semantics, SAP attachments "
                    "(/sap/opu/odata/sap/API_CV_ATTACHMENT_SRV) and Salesforce Files (/services/data/v60.0), a "
                    "Debezium-shaped change log at /admin/changes. Auth defaults: bearer erp-token; basic "
                    "xstream/erp-secret; oauth2 client xstream/erp-secret at /oauth/token.")
    erp.add_argument("--host", default="127.0.0.1")
    erp.add_argument("--port", type=int, default=8282)
    erp.add_argument("--base-path", default="/api")
    erp.add_argument("--auth", choices=["none", "bearer", "basic", "oauth2"], default="none")
    erp.add_argument("--content-dir", type=Path, default=None,
                     help="where attachment bodies are stored (default: a temporary directory)")
    erp.add_argument("--faults", default="", metavar="SPEC",
                     help="e.g. latency_ms=5-50,error_rate=0.1,error_kind=500|503|429,retry_after_s=2,hang_rate=0.01")

    notify = esub.add_parser(
        "notify", help="chat incoming-webhook emulator (Slack and Teams formats)",
        description="Slack and Microsoft Teams (Workflows) incoming webhooks: POST /slack/{channel}/{token}, "
                    "POST /teams/{channel}/{token}. Like the real services it does not de-duplicate. Received "
                    "messages: GET /admin/messages.")
    notify.add_argument("--host", default="127.0.0.1")
    notify.add_argument("--port", type=int, default=8383)
    notify.add_argument("--channel", action="append", default=[], metavar="NAME:TOKEN",
                        help="a channel and its token (repeatable); default commercial, legal, procurement, finance "
                             "with token <name>-token")
    notify.add_argument("--faults", default="", metavar="SPEC",
                        help="e.g. latency_ms=5-50,error_rate=0.1,error_kind=500|503|429,retry_after_s=2")

    intake = esub.add_parser(
        "intake", help="inbound e-mail (raw MIME) and web form emulator for case assembly (F5)",
        description="Mail connector and web forms portal: POST /admin/mail and /admin/forms queue an e-mail "
                    "(multipart MIME; attachments above --inline-limit by reference, RFC 2017, served at "
                    "/blobs/{id}) or a form submission (JSON); GET /admin/outbox?since=<seq> is what a connector "
                    "produces to Kafka.")
    intake.add_argument("--host", default="127.0.0.1")
    intake.add_argument("--port", type=int, default=8484)
    intake.add_argument("--public-url", default=None, metavar="URL",
                        help="scheme and host of blob URLs in messages (default: the address each request came to)")
    intake.add_argument("--inline-limit", type=int, default=None, metavar="BYTES",
                        help="larger attachments are delivered by reference (default 512 KiB)")
    intake.add_argument("--blob-token", default=None, metavar="TOKEN",
                        help="GET /blobs/{id} then needs Authorization: Bearer TOKEN")

    rules = sub.add_parser("rules", help="status rules (OpenText changes -> approvals, record updates, notifications)")
    rsub = rules.add_subparsers(dest="rules_command", required=True)
    rdry = rsub.add_parser("dry-run", help="what an OpenText event would trigger, and why each rule fires or not "
                                           "(no I/O)")
    rdry.add_argument("--rules", type=Path, default=None,
                      help="status rules YAML file or directory (default: shipped samples)")
    rdry.add_argument("--event", type=Path, required=True, help="file holding an OpenText event (the topic's JSON)")
    known = rdry.add_mutually_exclusive_group()
    known.add_argument("--previous", type=Path, default=None,
                       help="an earlier event of the same document: what was known before")
    known.add_argument("--previous-status", default=None, help="or only the status the document had before")
    rdry.add_argument("--format", choices=["slack", "teams"], default="slack", help="message format of notifications")

    mapping = sub.add_parser("mapping", help="mapping rules")
    msub = mapping.add_subparsers(dest="mapping_command", required=True)
    dry = msub.add_parser("dry-run", help="print the command and the exact OpenText requests an event produces (no I/O)")
    dry.add_argument("--rules", type=Path, default=None, help="rules YAML file or directory (default: shipped samples)")
    dry.add_argument("--event", type=Path, required=True,
                     help="file holding the record value (Debezium JSON); an empty file is a null value (tombstone)")
    dry.add_argument("--key", type=Path, default=None, help="file holding the record key (JSON)")
    dry.add_argument("--topic", default=None, help="source topic (default: the rules' only topic)")
    dry.add_argument("--catalog", type=Path, default=None,
                     help="OpenText ids (YAML) for the requests; default: the emulator's seed catalog")

    documents = sub.add_parser("documents", help="document rules (flow F2: attachments, versions, approvals)")
    dsub = documents.add_subparsers(dest="documents_command", required=True)
    ddry = dsub.add_parser("dry-run", help="the rule, command, folder, category values and exact requests of an "
                                           "attachment row, approval decision or OpenText document event (no I/O)")
    ddry.add_argument("--rules", type=Path, default=None,
                      help="document rules YAML file or directory (default: shipped samples)")
    given = ddry.add_mutually_exclusive_group(required=True)
    given.add_argument("--event", type=Path, default=None,
                       help="file holding a record value of an attachment or approval topic (Debezium JSON); "
                            "an empty file is a null value (tombstone)")
    given.add_argument("--opentext-event", type=Path, default=None,
                       help="or a file holding an OpenText event (the topic's JSON): what the outbound rules publish")
    ddry.add_argument("--key", type=Path, default=None, help="file holding the record key (JSON)")
    ddry.add_argument("--topic", default=None, help="source topic (default: the rules' only topic)")
    ddry.add_argument("--catalog", type=Path, default=None,
                      help="OpenText ids (YAML) for the requests; default: the emulator's seed catalog")
    return parser


def _version() -> str:
    """The installed distribution's version (pyproject.toml), the one place it is written."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("xstream")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"xstream: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _need_emulators(command: str) -> None:
    """The demo and the emulators come with ``xstream[demo]``; a production install has neither."""
    import importlib.util

    if importlib.util.find_spec("xstream_emulators") is None:
        raise ConfigError(f"`xstream {command}` needs the emulators and the embedded broker, which a production "
                          "install does not carry: pip install 'xstream[demo]' (or use ./dev)")


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        _need_emulators("demo")
        from xstream.demo.run import run_demo

        _sigterm_as_interrupt()

        return asyncio.run(run_demo(keep_running=args.keep_running, timeout_s=args.timeout))
    if args.command == "worker":
        return _worker()
    if args.command == "topics":
        return _topics(args)
    if args.command == "emulate":
        return _emulate(args)
    if args.command == "mapping":
        return _dry_run(args)
    if args.command == "rules":
        return _status_dry_run(args)
    if args.command == "documents":
        return _documents_dry_run(args)
    raise AssertionError(args.command)


def _worker() -> int:
    """Invalid settings are reported like every other fatal error at start: in the worker's log format
    (read on its own, leniently), exit code 2."""
    from xstream.app import run_worker, start_failed
    from xstream.observability import configure_logging
    from xstream.settings import load_settings, observability_at_start

    try:
        settings = load_settings()
    except ConfigError as exc:
        observability = observability_at_start()
        configure_logging(observability)
        return start_failed(exc, observability, code=2)
    return run_worker(settings)


def _sigterm_as_interrupt() -> None:
    """SIGTERM ends the demo like Ctrl-C: through the finally blocks that stop broker, emulator and worker."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)  # also when started with SIGINT ignored (background jobs)


def _topics(args: argparse.Namespace) -> int:
    from xstream.topics import load_catalog

    if args.topics_command == "check":
        stale = load_catalog().stale_schemas()
        for line in stale:
            print(f"stale schema: {line} (run `xstream topics schemas` and commit the result)", file=sys.stderr)
        print("schemas up to date" if not stale else f"{len(stale)} stale schema(s)")
        return 1 if stale else 0
    if args.topics_command == "schemas":
        for path in load_catalog().write_schemas():
            print(f"wrote {path}")
        return 0
    if args.topics_command == "list":
        for spec in load_catalog().specs:
            print(f"{spec.name:32} {spec.role.value:12} partitions={spec.partitions} cleanup={spec.cleanup_policy}")
        return 0
    from xstream.kafka import apply_topics
    from xstream.settings import KafkaSettings

    kafka = KafkaSettings(bootstrap=args.bootstrap, replication_factor=args.replication_factor or 1)
    targets = args.target if args.target is not None else _configured_targets()
    result = asyncio.run(apply_topics(kafka, load_catalog(prefix=args.prefix, targets=targets).specs))
    for name in result.created:
        print(f"created  {name}")
    for name in result.existing:
        print(f"exists   {name}")
    return 0


def _configured_targets() -> list[str]:
    from xstream.settings import load_settings

    try:
        return sorted(load_settings().targets)
    except ConfigError:
        return []


def _emulate(args: argparse.Namespace) -> int:
    _need_emulators("emulate")
    if args.system == "erp":
        return _emulate_erp(args)
    if args.system == "notify":
        return _emulate_notify(args)
    if args.system == "intake":
        return _emulate_intake(args)
    from xstream_emulators.opentext import (
        HookTarget,
        OpenTextEmulatorConfig,
        parse_fault_flags,
        parse_large_file_flags,
        start_opentext_emulator,
    )

    faults = _fault_flags(parse_fault_flags, args.faults)
    users = dict(u.split(":", 1) for u in args.user if ":" in u) or {"Admin": "livelink"}
    if len(users) != len(args.user) and args.user:
        raise ConfigError("--user takes NAME:PASSWORD")
    if args.hook and not args.hook_secret:
        raise ConfigError("--hook needs --hook-secret (the secret xstream's webhook verifies signatures with)")
    try:
        hooks = tuple(HookTarget(url=url, secret=args.hook_secret) for url in args.hook)
    except ValueError as exc:
        raise ConfigError(f"--hook: {exc}") from exc
    try:
        large_files = parse_large_file_flags(args.large_files)
    except ValueError as exc:
        raise ConfigError(f"--large-files: {exc}") from exc
    config = OpenTextEmulatorConfig(host=args.host, port=args.port, base_path=args.base_path, users=users,
                                    ticket_lifetime_s=args.ticket_lifetime, db_path=args.db,
                                    content_dir=args.content_dir, faults=faults, hooks=hooks,
                                    large_files=large_files, public_url=args.public_url)

    async def start() -> Any:
        emulator = await start_opentext_emulator(config)
        print(f"OpenText emulator on {emulator.url} (admin {emulator.admin_url}; OTDS {emulator.otds_url}); "
              f"users: {', '.join(users)}" + (f"; hooks: {', '.join(args.hook)}" if args.hook else ""), flush=True)
        return emulator

    return _serve_until_stopped(start)


def _emulate_erp(args: argparse.Namespace) -> int:
    from xstream_emulators.erp import ErpEmulatorConfig, parse_fault_flags, start_erp_emulator

    faults = _fault_flags(parse_fault_flags, args.faults)
    config = ErpEmulatorConfig(host=args.host, port=args.port, base_path=args.base_path, auth=args.auth, faults=faults,
                               content_dir=args.content_dir)

    async def start() -> Any:
        emulator = await start_erp_emulator(config)
        print(f"ERP emulator on {emulator.url} (admin {emulator.admin_url}; auth {args.auth})", flush=True)
        return emulator

    return _serve_until_stopped(start)


def _dry_run(args: argparse.Namespace) -> int:
    from xstream.dryrun.mapping import explain, value_of_file
    from xstream.transform.catalog import load_catalog
    from xstream.transform.rule_files import RULES_DIR, load_rule_files

    rules = load_rule_files([args.rules or RULES_DIR])
    if args.topic is not None and args.topic not in rules.topics:  # an attachment or approval topic
        from xstream.transform.rule_files import DOCUMENT_RULES_DIR, load_document_rule_files

        if args.topic in load_document_rule_files([DOCUMENT_RULES_DIR]).topics:
            args.rules, args.opentext_event = None, None  # --rules named mapping rules: the shipped document rules
            return _documents_dry_run(args)
    topic = args.topic or (rules.topics[0] if len(rules.topics) == 1 else None)
    if topic is None:
        raise ConfigError(f"several topics in the rules ({', '.join(rules.topics)}): pass --topic")
    key = args.key.read_bytes() if args.key else None
    value = value_of_file(args.event.read_bytes())
    result = explain(rules, topic, key, value, load_catalog(args.catalog) if args.catalog else None)
    print(result.text, end="")
    return 0 if result.ok else 1


def _emulate_notify(args: argparse.Namespace) -> int:
    from xstream_emulators.notify import (
        DEFAULT_CHANNELS,
        NotifyEmulatorConfig,
        parse_fault_flags,
        start_notify_emulator,
    )

    faults = _fault_flags(parse_fault_flags, args.faults)
    if any(":" not in c for c in args.channel):
        raise ConfigError("--channel takes NAME:TOKEN")
    channels = dict(c.split(":", 1) for c in args.channel) or dict(DEFAULT_CHANNELS)
    config = NotifyEmulatorConfig(host=args.host, port=args.port, channels=channels, faults=faults)

    async def start() -> Any:
        emulator = await start_notify_emulator(config)
        print(f"Notification emulator on {emulator.origin} (admin {emulator.admin_url}); channels:", flush=True)
        for name in channels:
            print(f"  {name:12} slack {emulator.channel_url(name, 'slack')}  teams {emulator.channel_url(name, 'teams')}",
                  flush=True)
        return emulator

    return _serve_until_stopped(start)


def _emulate_intake(args: argparse.Namespace) -> int:
    from xstream_emulators.intake import IntakeEmulatorConfig, start_intake_emulator

    try:
        config = IntakeEmulatorConfig(host=args.host, port=args.port, public_url=args.public_url,
                                      blob_token=args.blob_token,
                                      **({"inline_limit": args.inline_limit} if args.inline_limit is not None else {}))
    except ValueError as exc:
        raise ConfigError(f"intake emulator: {exc}") from exc

    async def start() -> Any:
        emulator = await start_intake_emulator(config)
        print(f"Intake emulator on {emulator.url} (admin {emulator.admin_url}; outbox {emulator.admin_url}/outbox)",
              flush=True)
        return emulator

    return _serve_until_stopped(start)


def _fault_flags(parse: Callable[[str], T], text: str) -> T:
    """An emulator's --faults, or a ConfigError naming the flag (its FaultSpecError is a ValueError)."""
    try:
        return parse(text)
    except ValueError as exc:
        raise ConfigError(f"--faults: {exc}") from exc


def _serve_until_stopped(start: Callable[[], Awaitable[Any]]) -> int:
    """Run an emulator (``start`` returns it, started) until Ctrl-C or SIGTERM, then stop it."""

    async def serve() -> None:
        emulator = await start()
        try:
            await asyncio.Event().wait()
        finally:
            await emulator.stop()

    asyncio.run(serve())
    return 0


def _status_dry_run(args: argparse.Namespace) -> int:
    from xstream.dryrun.status import explain
    from xstream.transform.rule_files import STATUS_RULES_DIR, load_status_rule_files

    rules = load_status_rule_files([args.rules or STATUS_RULES_DIR])
    result = explain(rules, args.event.read_bytes(), previous=args.previous.read_bytes() if args.previous else None,
                     previous_status=args.previous_status, fmt=args.format)
    print(result.text, end="")
    return 0 if result.ok else 1


def _documents_dry_run(args: argparse.Namespace) -> int:
    from xstream.dryrun.documents import explain, explain_opentext
    from xstream.dryrun.mapping import value_of_file
    from xstream.transform.catalog import load_catalog
    from xstream.transform.rule_files import DOCUMENT_RULES_DIR, load_document_rule_files

    rules = load_document_rule_files([args.rules or DOCUMENT_RULES_DIR])
    catalog = load_catalog(args.catalog) if args.catalog else None
    if args.opentext_event is not None:
        result = explain_opentext(rules, args.opentext_event.read_bytes(), catalog)
    else:
        topic = args.topic or (rules.topics[0] if len(rules.topics) == 1 else None)
        if topic is None:
            raise ConfigError(f"several topics in the document rules ({', '.join(rules.topics)}): pass --topic")
        if topic not in rules.topics:
            raise ConfigError(f"no document rule reads topic {topic!r}; they read {', '.join(rules.topics)}")
        key = args.key.read_bytes() if args.key else None
        result = explain(rules, topic, key, value_of_file(args.event.read_bytes()), catalog)
    print(result.text, end="")
    return 0 if result.ok else 1
