"""docs/benchmarks.md: the figures of the last run, the machine, the date, and how to read them."""

from __future__ import annotations

import os
import platform
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, text

from retour.kit.db import normalize_url

if TYPE_CHECKING:
    from bench.run import BackendRun, Config

TARGET_CREATES = 250
TARGET_P95_MS = 20


def machine(config: Config) -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    postgres = "not measured"
    if "postgres" in config.backends:
        engine = create_engine(normalize_url(config.postgres_url))
        with engine.connect() as connection:
            postgres = str(connection.execute(text("SHOW server_version")).scalar())
            settings = {
                name: str(connection.execute(text(f"SHOW {name}")).scalar())
                for name in ("synchronous_commit", "shared_buffers", "max_connections")
            }
        engine.dispose()
        postgres += " (" + ", ".join(f"{key}={value}" for key, value in settings.items()) + ")"
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "RAM": ram,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "PostgreSQL": postgres,
        "SQLite": sqlite3.sqlite_version,
    }


def _value(run: BackendRun | None, name: str, unit: str = "") -> str:
    if run is None or name not in run.figures:
        return "–"
    return f"{run.figures[name]}{unit}"


def write(path: Path, *, config: Config, runs: list[BackendRun], figures: dict[str, Any]) -> None:
    by_name = {run.name: run for run in runs}
    sqlite_run, pg_run = by_name.get("sqlite"), by_name.get("postgres")
    rows = [
        ("Return creations per second (HTTP, 201 only)", "create_return_per_s", ""),
        ("Return creation errors (non-201)", "create_errors", ""),
        ("Return creation latency p50 / p95 under load", None, ""),
        ("`returnable` latency p50", "returnable_p50_ms", " ms"),
        ("`returnable` latency p95", "returnable_p95_ms", " ms"),
        ("`returnable` latency p99", "returnable_p99_ms", " ms"),
        ("Raw driver baseline, returns per second", "raw_db_create_per_s", ""),
        ("Ratio app / raw", "ratio_to_raw", ""),
        ("SQL statements per return creation (incl. COMMIT)", "sql_per_create", ""),
        ("SQL statements per `returnable` call", "sql_per_returnable", ""),
        ("Server CPU per return creation", "server_cpu_ms_per_create", " ms"),
        ("PostgreSQL CPU per return creation", "db_cpu_ms_per_create", " ms"),
        ("Load generator CPU per return creation", "client_cpu_ms_per_create", " ms"),
        ("Machine CPU taken by unrelated processes during the run", "other_cpu_share", ""),
        ("Dataset generation", "dataset_seconds", " s"),
    ]
    table = ["| | SQLite (1 process) | PostgreSQL (2 processes) |", "|---|---:|---:|"]
    for label, key, unit in rows:
        if key is None:
            cells = [
                f"{_value(run, 'create_p50_ms')} / {_value(run, 'create_p95_ms')} ms" if run else "–"
                for run in (sqlite_run, pg_run)
            ]
        else:
            cells = [_value(sqlite_run, key, unit), _value(pg_run, key, unit)]
        table.append(f"| {label} | {cells[0]} | {cells[1]} |")

    info = machine(config)
    notes = runs[0].notes if runs else {}
    verdict = []
    if pg_run:
        creates = pg_run.figures.get("create_return_per_s", 0)
        p95 = pg_run.figures.get("returnable_p95_ms", 0)
        verdict.append(
            f"- Return creations on PostgreSQL: **{creates}/s** "
            f"(target ≥ {TARGET_CREATES}/s: {'met' if creates >= TARGET_CREATES else 'not met'})."
        )
        verdict.append(
            f"- `returnable` p95 on PostgreSQL: **{p95} ms** "
            f"(target < {TARGET_P95_MS} ms: {'met' if p95 < TARGET_P95_MS else 'not met'})."
        )
    statements = (
        "\n".join(f"{n}. `{s}…`" for n, s in enumerate(pg_run.notes.get("create_statements", []), 1)) if pg_run else ""
    )

    text_out = TEMPLATE.format(
        date=time.strftime("%Y-%m-%d %H:%M %Z"),
        machine="\n".join(f"| {key} | {value} |" for key, value in info.items()),
        load=figures.get("load_average_at_start", "?"),
        total=figures.get("total_seconds", "?"),
        orders=notes.get("orders", "?"),
        lines=notes.get("order_lines", "?"),
        customers=notes.get("customers", "?"),
        earlier=notes.get("earlier_returns", "?"),
        clients=config.clients,
        seconds=f"{config.seconds:.0f}",
        latency_requests=config.latency_requests,
        latency_clients=config.latency_clients,
        table="\n".join(table),
        verdict="\n".join(verdict),
        statements=statements or "(PostgreSQL not measured)",
        output="\n".join(f"{name}={value}" for name, value in figures.items()),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text_out)


TEMPLATE = """# Benchmarks

Written by `make bench` (`python -m bench.run`, code in `bench/`). Last run: **{date}**, total
wall time {total} s.

## Figures

{table}

{verdict}

The machine was shared while this ran: load average {load} at the start, and the "unrelated
processes" line above is the share of the two cores that neither the server, PostgreSQL nor the
load generator used. Throughput figures move by ±30% from one run to the next on this box; compare
runs made on a quiet machine.

## Machine

| | |
|---|---|
{machine}

## How to run

```sh
make bench                      # both backends, about 3 minutes
RETOUR_BENCH_BACKENDS=postgres make bench
RETOUR_BENCH_DATABASE_URL=postgresql://user@host/retour_bench_x make bench
```

Knobs (environment): `RETOUR_BENCH_ORDERS` (100000), `RETOUR_BENCH_CLIENTS` (16),
`RETOUR_BENCH_SECONDS` (15), `RETOUR_BENCH_LATENCY_REQUESTS` (2000), `RETOUR_BENCH_LATENCY_CLIENTS` (4),
`RETOUR_BENCH_NO_DOCS=1` to leave this file alone. The PostgreSQL database is dropped and created,
so its name must start with `retour_bench`; SQLite uses `bench/results/bench.db` (ignored by git),
where the server logs go too. The run ends with one `name=value` per line (last run below).

## What is measured

- **Dataset** (per backend, fresh database, real migrations): one shop and its API key created
  through the services (`create_merchant`, `create_api_key`: default policy and reason codes), then
  {orders} orders of {customers} customers with {lines} lines (1–3 per order, 20% with a
  discount, 3% final sale), a card tender each, 480 catalogue variants, all delivered 1–25 days ago
  (inside the 30-day window), and {earlier} earlier returns in every state with their audit events
  and outbox rows. Written in bulk: PostgreSQL `COPY`, SQLite one driver `executemany` per table of
  the Core `insert()` statement (foreign-key checks off while loading, then `ANALYZE`).
- **Server**: the real `retour serve --no-worker` in a subprocess on a free localhost port
  (uvicorn with httptools and uvloop, as installed by `uvicorn[standard]`): 2 worker processes on
  PostgreSQL (`--workers 2`, the factory app reading `RETOUR_DATABASE_URL`), 1 on SQLite (one
  writer at a time anyway), log level `warning`.
- **Return creations**: {clients} concurrent clients, each on its own keep-alive connection,
  `POST /api/v1/returns` for distinct orders (1 or 2 lines, 1–2 units, random reason, refund /
  store credit / exchange; the default policy approves them at once) for {seconds} s after a 3 s
  warm-up. Only 201 answers count; anything else is reported as an error. Latency is per request,
  as the client saw it.
- **`returnable`**: {latency_requests} `GET /api/v1/orders/{{id}}/returnable` on random orders with
  {latency_clients} concurrent clients, after 100 warm-up calls.
- **Raw baseline** (`bench/raw.py`): what a return creation writes, issued with the driver alone
  (psycopg / sqlite3), {clients} threads, one transaction per return: the shop counter
  `UPDATE merchant ... RETURNING` (locks the shop row until commit, like the app), the
  `return_request` row, its `return_line`, the two `audit_event` and two `outbox_message` rows of an
  auto-approved return, `COMMIT`. No reads, no policy, no HTTP. `ratio_to_raw` = app / raw.
- **The load generator is light on purpose**: the server and the clients share the same two
  cores, so the clients are a ~100-line HTTP/1.1 keep-alive client on asyncio streams
  (`bench/http.py`, no httpx): its CPU cost per request is in the table.

## Where the time goes

Statements of one return creation on PostgreSQL (counted with an SQLAlchemy `before_cursor_execute`
listener; the pool's pre-ping `SELECT 1` on checkout is not an event and comes on top):

{statements}

WHERE_THE_TIME_GOES

## Last output

```
{output}
```
"""
