"""What PostgreSQL's backends of the benchmark database are doing, sampled during a run: how many
run or wait for the app (in a transaction), and how many wait for a row lock held by another."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import psycopg

_QUERY = """
SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'),
       count(*) FILTER (WHERE state <> 'idle')
FROM pg_stat_activity
WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
"""


@dataclass
class Waits:
    lock_waiting: float
    in_transaction: float


class Sampler:
    def __init__(self, url: str, every: float = 0.25) -> None:
        self.url = url.replace("postgresql+psycopg://", "postgresql://")
        self.every = every
        self._stop = threading.Event()
        self._samples: list[tuple[int, int]] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as connection:
            while not self._stop.wait(self.every):
                row = connection.execute(_QUERY).fetchone()
                if row is not None:
                    self._samples.append((int(row[0]), int(row[1])))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def result(self) -> Waits:
        if not self._samples:
            return Waits(0.0, 0.0)
        n = len(self._samples)
        return Waits(sum(s[0] for s in self._samples) / n, sum(s[1] for s in self._samples) / n)
