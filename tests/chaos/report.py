"""The crash suite's report, as text."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.chaos.suite import Report


def _s(value: float | None) -> str:
    return "none" if value is None else f"{value:.1f}s"


def render(report: Report) -> str:
    from tests.chaos.suite import percentile

    o, c, k = report.options, report.customers, report.contracts
    lines = [
        "=" * 100,
        f"xstream crash suite: {'PASS' if report.ok else 'FAIL'}   seed {o.seed}"
        + ("" if report.suite_ok else "   (SELF-CHECK FAILED: the counts cannot be trusted)"),
        f"events: {len(c.records)} CDC records ({', '.join(f'{n} {label}' for label, n in c.labels.most_common())}) "
        f"for {len(c.erp_rows)} customers ({len(c.linked)} with a workspace, {len(c.without_workspace)} one-time); "
        f"{len(c.command_keys)} workspace commands",
        f"        {len(k.documents)} supplier contracts, {len(k.steps)} status/workflow steps -> "
        f"{report.expected.commands} downstream commands",
        f"workers: {o.workers}   kills: {len(report.kills)} (asked {o.kills})   faults: {o.faults or 'none'}   "
        f"lost answers: {o.lost_answers:g} ({o.lost_answer_kind})   stream over {o.stream_duration:.0f}s"
        + (f"   workers from {o.worker_source}" if o.worker_source else ""),
        f"wall time: {report.wall_s:.1f}s from the first record to settled (stream {report.stream_s:.1f}s, "
        f"settle {report.settle_s:.1f}s); set-up {report.setup_s:.1f}s",
        f"settled: {report.settled}",
    ]
    if report.faults_injected:
        lines.append("faults injected: " + ", ".join(f"{name} {n}" for name, n in report.faults_injected.items()))
    lines.append("")
    lines.append("kills (takeover = kill -> every partition with workspace commands pending has a new OpenText status event):")
    for kill in report.kills:
        lines.append(f"  #{kill.number} worker {kill.slot} pid {kill.pid} at {kill.progress:.0%} (threshold "
                     f"{kill.threshold:.0%}){'' if kill.stream_running else ' (all records produced)'}; pending "
                     f"partitions {kill.pending_partitions}; takeover {_s(kill.takeover_s)}; replacement ready "
                     f"after {_s(kill.ready_after_s)}")
    right, total = report.partition_check
    if total and right != total:
        lines.append(f"  (takeover figures unreliable: only {right} of {total} OpenText status events are on the "
                     f"partition their key predicts)")
    takeovers = report.takeovers
    lines.append(f"takeover p50 {_s(percentile(takeovers, 50))}  p99 {_s(percentile(takeovers, 99))}  "
                 f"max {_s(max(takeovers) if takeovers else None)}  ({len(takeovers)} of {len(report.kills)} measured)")
    lines.append("")
    counts = report.counts
    if counts is None:
        lines.append("no counts (the run did not finish)")
    else:
        header = f"{'effect':<18}{'expected':>9}{'found':>8}{'lost':>7}{'duplicated':>12}{'unexpected':>12}"
        lines += [header, "-" * len(header)]
        for row in counts.rows:
            flag = "" if row.ok else "   <-- FAIL"
            lines.append(f"{row.kind:<18}{row.expected:>9}{row.found:>8}{row.lost:>7}{row.duplicated:>12}"
                         f"{row.unexpected:>12}{flag}")
        lines.append("")
        lines.append(f"status topic: {counts.status_events} events; {counts.status_keys_repeated} idempotency keys "
                     f"with more than one status event (allowed); outcomes "
                     + ", ".join(f"{name} {n}" for name, n in sorted(counts.status_outcomes.items())))
        if counts.dead_letters_repeated:
            lines.append(f"dead letters repeated for the same source record: {counts.dead_letters_repeated}")
        changing = {op: n for op, n in counts.opentext_calls.items()
                    if any(w in op for w in ("create", "update", "apply"))}
        lines.append("OpenText mutating calls: " + ", ".join(f"{op} {n}" for op, n in sorted(changing.items())))
        lines.append("ERP calls: " + ", ".join(f"{op} {n}" for op, n in sorted(counts.erp_calls.items())))
        for row in counts.rows:
            if row.examples:
                lines.append(f"{row.kind}: {row.note}" if row.note else f"{row.kind}:")
                lines += [f"    {e}" for e in row.examples]
    if report.self_checks:
        seen = sum(c.ok for c in report.self_checks)
        lines.append(f"self-check: {seen} of {len(report.self_checks)} injected anomalies seen by the count"
                     + ("" if report.suite_ok else "  <-- THE SUITE IS BLIND HERE:"))
        for check in report.self_checks:
            if not check.ok:
                lines.append(f"    {check.what}: {check.row}/{check.column} moved by {check.got}, expected "
                             f"{check.expected}")
    for note in report.driver_notes:
        lines.append(f"driver: {note}")
    if report.exits:
        lines.append(f"UNEXPECTED EXITS: {report.exits} worker process(es) exited without being killed (each was "
                     f"restarted); the first {len(report.unexpected_exits)}:")
    for exit_ in report.unexpected_exits:
        lines.append("  " + exit_.replace("\n", "\n    "))
    if report.log_dir:
        lines.append(f"worker logs: {report.log_dir}")
    lines.append("=" * 100)
    return "\n".join(lines)
