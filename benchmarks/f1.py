"""Benchmark of flow F1; prints figures, asserts nothing.

    .venv/bin/python -m benchmarks.f1 [--customers 2000]

1. the pure path (decode + map) in one process, records/s;
2. end to end on the embedded broker: a real worker, the OpenText emulator; records/s from the
   first record produced to the last status event, OpenText calls per workspace, worker peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
from xstream_emulators.embedded import EmbeddedBroker
from xstream_emulators.erp import ErpEmulatorConfig, start_erp_emulator
from xstream_emulators.notify import DEFAULT_CHANNELS, NotifyEmulatorConfig, start_notify_emulator
from xstream_emulators.opentext import OpenTextEmulatorConfig, start_opentext_emulator

from xstream.demo import scenario as sc
from xstream.demo.harness import HARNESS_TARGETS, Collector, WorkerProcess, produce, wait_ready, worker_env
from xstream.kafka import apply_topics
from xstream.model.record import RecordRef
from xstream.pipeline import process_cdc
from xstream.settings import BrokerFlavour, KafkaSettings
from xstream.topics import Role, load_catalog
from xstream.transform.rule_files import SAMPLE_RULES
from xstream.transform.rules import parse_rules


def bench_pure(scenario: sc.Scenario, rounds: int = 5) -> float:
    rules = parse_rules(SAMPLE_RULES.read_text(), "sample")
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        for offset, record in enumerate(scenario.records):
            process_cdc(record.key, record.value, RecordRef(topic=sc.TOPIC, partition=0, offset=offset), rules,
                        max_bytes=1_048_576)
        best = max(best, len(scenario.records) / (time.perf_counter() - started))
    return best


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def bench_end_to_end(scenario: sc.Scenario) -> dict[str, float]:
    with EmbeddedBroker() as broker:
        async with await start_opentext_emulator(OpenTextEmulatorConfig()) as emulator, \
                await start_erp_emulator(ErpEmulatorConfig()) as erp, \
                await start_notify_emulator(NotifyEmulatorConfig()) as chat:
            async with aiohttp.ClientSession() as http:  # the customers exist in the ERP: links go back to them
                for bo_id, row in scenario.customers.items():
                    async with http.post(f"{erp.admin_url}/records/customers", json={**row, "id": bo_id}) as resp:
                        resp.raise_for_status()
            catalog = load_catalog(targets=HARNESS_TARGETS)
            await apply_topics(KafkaSettings(bootstrap=broker.bootstrap, flavour=BrokerFlavour.TANSU), catalog.specs)
            status = catalog.one(Role.STATUS).name
            collector = await Collector(broker.bootstrap, status).start()
            targets = dict.fromkeys(("erp", "crm", "project_tool"), erp.url)  # only customers flow here
            chat_channels = {c: chat.channel_url(c, "slack") for c in DEFAULT_CHANNELS}  # status rules' target
            worker = WorkerProcess(worker_env(bootstrap=broker.bootstrap, flavour="tansu", opentext_url=emulator.url,
                                              targets=targets, chat=chat_channels),
                                   Path(tempfile.mkdtemp()) / "worker.log").start()
            try:
                assert await wait_ready(worker, 120), worker.log_tail()
                started = time.perf_counter()
                await produce(broker.bootstrap, sc.TOPIC, scenario.records)
                total = scenario.expected_commands + scenario.expected_link_backs
                await collector.wait_for(lambda: len(collector.records[status]) >= total, 600)
                elapsed = time.perf_counter() - started
                rss = peak_rss_mib(worker.pid) if worker.pid else float("nan")
                async with aiohttp.ClientSession() as http, http.get(f"{emulator.admin_url}/calls") as resp:
                    calls = await resp.json()
            finally:
                worker.stop()
                await collector.stop()
    workspaces = len(scenario.customers)
    return {"records": len(scenario.records), "seconds": elapsed, "link_backs": scenario.expected_link_backs, "records_per_s": len(scenario.records) / elapsed,
            "opentext_calls": sum(calls.values()), "calls_per_workspace": sum(calls.values()) / workspaces,
            "creates": calls.get("workspaces.create", 0), "worker_peak_rss_mib": rss}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2000)
    args = parser.parse_args()
    n = args.customers
    scenario = sc.build(customers=n, snapshot_reads=n // 5, updates=n // 2, replays=n // 5)
    print(f"scenario: {len(scenario.records)} records, {n} customers")
    print(f"pure decode+map: {bench_pure(scenario):,.0f} records/s (best of 5, one core)")
    figures = asyncio.run(bench_end_to_end(scenario))
    print(f"end to end: {figures['records']} records in {figures['seconds']:.1f}s = "
          f"{figures['records_per_s']:,.0f} records/s; OpenText calls {figures['opentext_calls']} "
          f"({figures['calls_per_workspace']:.2f} per workspace, {figures['creates']} creates); "
          f"worker peak RSS {figures['worker_peak_rss_mib']:.0f} MiB; "
          f"plus {figures['link_backs']} links written back to the ERP")


if __name__ == "__main__":
    main()
