"""``make bench`` (``python -m bench.run``): on SQLite and on PostgreSQL, a fresh database with a
large order history, the real server (``retour serve``) in a subprocess, then

1. return creations per second through ``POST /api/v1/returns`` with concurrent clients,
2. ``GET /api/v1/orders/{id}/returnable`` latency (p50/p95/p99),
3. the raw database baseline (the same writes with the driver alone, same concurrency),

and one ``name=value`` per line at the end. ``docs/benchmarks.md`` is rewritten with the figures.

Settings (environment): ``RETOUR_BENCH_DATABASE_URL`` (PostgreSQL; the database is dropped and
created, so its name must start with ``retour_bench``), ``RETOUR_BENCH_BACKENDS`` (``sqlite,postgres``),
``RETOUR_BENCH_ORDERS`` (100000), ``RETOUR_BENCH_CLIENTS`` (16), ``RETOUR_BENCH_SECONDS`` (15),
``RETOUR_BENCH_LATENCY_REQUESTS`` (2000), ``RETOUR_BENCH_LATENCY_CLIENTS`` (4),
``RETOUR_BENCH_NO_DOCS`` (set it to leave docs/benchmarks.md alone)."""

from __future__ import annotations

import contextlib
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import dataset, load, pgwait, raw, report, sqlcount
from bench.cpu import CpuMeter
from bench.server import Server
from retour import migrate
from retour.kit.db import make_engine, normalize_url

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/retour_bench"


@dataclass(frozen=True)
class Config:
    backends: tuple[str, ...]
    orders: int
    clients: int
    seconds: float
    latency_requests: int
    latency_clients: int
    postgres_url: str
    write_docs: bool

    @classmethod
    def from_env(cls) -> Config:
        env = os.environ.get
        return cls(
            backends=tuple(b.strip() for b in env("RETOUR_BENCH_BACKENDS", "sqlite,postgres").split(",") if b.strip()),
            orders=int(env("RETOUR_BENCH_ORDERS", "100000")),
            clients=int(env("RETOUR_BENCH_CLIENTS", "16")),
            seconds=float(env("RETOUR_BENCH_SECONDS", "15")),
            latency_requests=int(env("RETOUR_BENCH_LATENCY_REQUESTS", "2000")),
            latency_clients=int(env("RETOUR_BENCH_LATENCY_CLIENTS", "4")),
            postgres_url=env("RETOUR_BENCH_DATABASE_URL", DEFAULT_PG),
            write_docs=not env("RETOUR_BENCH_NO_DOCS"),
        )


@dataclass
class BackendRun:
    name: str
    figures: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def fresh_database(backend: str, config: Config) -> str:
    if backend == "sqlite":
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    url = make_url(normalize_url(config.postgres_url))
    name = url.database or ""
    if not name.startswith("retour_bench"):
        raise SystemExit(
            f"refusing to drop database {name!r}: the benchmark database name must start with retour_bench"
        )
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.render_as_string(hide_password=False)


def run_backend(backend: str, config: Config) -> BackendRun:
    run = BackendRun(backend)
    url = fresh_database(backend, config)
    say(f"{backend}: migrating {url.split('@')[-1]}")
    migrate.upgrade(url)
    engine = make_engine(url)
    merchant_id, token = dataset.create_shop(engine)
    say(f"{backend}: generating {config.orders} orders")
    started = time.perf_counter()
    data = dataset.generate(engine, merchant_id, token, orders=config.orders)
    run.figures["dataset_seconds"] = round(time.perf_counter() - started, 1)
    run.notes.update(
        orders=data.orders, order_lines=data.order_lines, customers=data.customers, earlier_returns=data.earlier_returns
    )
    say(f"{backend}: {data.orders} orders, {data.order_lines} lines in {run.figures['dataset_seconds']} s")

    fresh = iter(data.fresh_orders)
    counts = sqlcount.count(engine, url, token, [next(fresh) for _ in range(25)], data.all_orders[::997][:6])
    engine.dispose()
    run.figures["sql_per_create"] = round(counts.create_statements, 1)
    run.figures["sql_per_returnable"] = round(counts.returnable_statements, 1)
    run.figures["shop_lock_held_ms_serial"] = round(counts.shop_lock_ms, 1)
    run.notes["create_statements"] = counts.create_statements_list

    rng = random.Random(11)
    bodies = (load.return_body(order, rng) for order in fresh)
    workers = 2 if backend == "postgres" else 1
    say(f"{backend}: starting retour serve ({workers} worker process{'es' if workers > 1 else ''})")
    with Server(url, workers=workers, log_path=RESULTS / f"server-{backend}.log") as server:
        say(f"{backend}: warm-up, then {config.clients} clients creating returns for {config.seconds:.0f} s")
        load.create_returns(server.host, server.port, token, bodies, clients=config.clients, seconds=3)
        meter = CpuMeter(server.pids())
        meter.start()
        with contextlib.ExitStack() as stack:
            sampler = stack.enter_context(pgwait.Sampler(url)) if backend == "postgres" else None
            created = load.create_returns(
                server.host, server.port, token, bodies, clients=config.clients, seconds=config.seconds
            )
        cpu = meter.stop()
        if sampler is not None:
            waits = sampler.result()
            run.figures["backends_waiting_for_row_lock"] = round(waits.lock_waiting, 1)
            run.figures["backends_in_transaction"] = round(waits.in_transaction, 1)
        busy = sorted((seconds for seconds in meter.per_server.values() if seconds > 0.05), reverse=True)
        split = "/".join(f"{100 * seconds / sum(busy):.0f}" for seconds in busy) if busy else "-"
        say(f"{backend}: {created.created} returns created ({created.per_second:.0f}/s), errors {dict(created.errors)}")
        if created.first_error:
            say(f"{backend}: first error: {created.first_error}")
        sample = random.Random(5).sample(data.all_orders, min(config.latency_requests, len(data.all_orders)))
        order_ids = [order.id for order in sample]
        load.returnable_latency(server.host, server.port, token, order_ids[:100], clients=config.latency_clients)
        say(f"{backend}: {len(order_ids)} returnable calls, {config.latency_clients} clients")
        latency = load.returnable_latency(server.host, server.port, token, order_ids, clients=config.latency_clients)
        if latency.first_error:
            say(f"{backend}: first error: {latency.first_error}")
        serial_ids = order_ids[: max(1, len(order_ids) // 2)]
        say(f"{backend}: {len(serial_ids)} returnable calls, one at a time")
        serial = load.returnable_latency(server.host, server.port, token, serial_ids, clients=1)

    n = max(created.created, 1)
    run.figures.update(
        create_return_per_s=round(created.per_second, 1),
        create_errors=sum(created.errors.values()),
        create_p50_ms=round(load.percentile(created.latencies_ms, 50), 1),
        create_p95_ms=round(load.percentile(created.latencies_ms, 95), 1),
        returnable_p50_ms=round(load.percentile(latency.latencies_ms, 50), 2),
        returnable_p95_ms=round(load.percentile(latency.latencies_ms, 95), 2),
        returnable_p99_ms=round(load.percentile(latency.latencies_ms, 99), 2),
        returnable_errors=sum(latency.errors.values()) + sum(serial.errors.values()),
        returnable_serial_p50_ms=round(load.percentile(serial.latencies_ms, 50), 2),
        returnable_serial_p95_ms=round(load.percentile(serial.latencies_ms, 95), 2),
        server_cpu_ms_per_create=round(cpu["server"] * 1000 / n, 2),
        server_cpu_split_percent=split,
        client_cpu_ms_per_create=round(cpu["client"] * 1000 / n, 2),
        other_cpu_share=round(
            max(0.0, cpu["machine"] - cpu["server"] - cpu["client"] - cpu["postgres"]) / (2 * created.seconds), 2
        ),
    )
    if backend == "postgres":
        run.figures["db_cpu_ms_per_create"] = round(cpu["postgres"] * 1000 / n, 2)

    leftover = list(fresh)
    say(f"{backend}: raw driver baseline, {config.clients} threads for {config.seconds:.0f} s")
    if backend == "postgres":
        baseline = raw.postgres(url, merchant_id, leftover, clients=config.clients, seconds=config.seconds)
    else:
        baseline = _raw_sqlite(url, merchant_id, leftover, clients=config.clients, seconds=config.seconds)
    # The same with one thread: the shop-row lock makes the writes one transaction at a time anyway.
    single = (raw.postgres if backend == "postgres" else _raw_sqlite)(
        url, merchant_id, leftover, clients=1, seconds=min(config.seconds, 5)
    )
    run.figures["raw_db_create_per_s_1_thread"] = round(single.per_second, 1)
    if backend == "postgres":
        run.figures["serial_commits_per_s"] = round(raw.postgres_serial_commits(url, merchant_id), 1)
    if baseline.first_error:
        say(f"{backend}: raw baseline error: {baseline.first_error}")
    run.figures.update(
        raw_db_create_per_s=round(baseline.per_second, 1),
        raw_db_errors=baseline.errors,
        ratio_to_raw=round(created.per_second / baseline.per_second, 3) if baseline.per_second else 0.0,
    )
    say(f"{backend}: raw {baseline.per_second:.0f}/s, app/raw {run.figures['ratio_to_raw']}")
    return run


def _raw_sqlite(url: str, merchant_id: int, orders: list[Any], *, clients: int, seconds: float) -> raw.RawResult:
    return raw.sqlite(url.removeprefix("sqlite:///"), merchant_id, orders, clients=clients, seconds=seconds)


def main() -> int:
    config = Config.from_env()
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    runs = [run_backend(backend, config) for backend in config.backends]
    total = time.perf_counter() - started
    lines: dict[str, Any] = {}
    for run in runs:
        for name, value in run.figures.items():
            lines[f"{name}_{run.name}"] = value
    lines["orders_in_dataset"] = runs[0].notes["orders"] if runs else 0
    lines["clients"] = config.clients
    lines["load_average_at_start"] = round(load_before, 2)
    lines["total_seconds"] = round(total, 1)
    if config.write_docs:
        report.write(ROOT / "docs" / "benchmarks.md", config=config, runs=runs, figures=lines)
    for name, value in lines.items():
        print(f"{name}={value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
