"""CPU time of processes, from /proc (Linux): how the two cores were spent during a run."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[str, float]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    # utime, stime are fields 14 and 15 of the full line (11 and 12 after "pid (comm) ").
    return name, (int(fields[11]) + int(fields[12])) / _TICK


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            total += _stat(pid)[1]
    return total


def pids_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if _stat(int(entry.name))[0] == name:
                    found.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass
    return found


def machine_busy_seconds() -> float:
    """CPU seconds spent by everything on the machine (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(value) for value in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / _TICK


class CpuMeter:
    """CPU seconds used between start() and stop() by: the server processes, PostgreSQL's
    processes (all of them: other databases' users count too), this process, and the machine."""

    def __init__(self, server_pids: list[int]) -> None:
        self.server_pids = server_pids
        self.per_server: dict[int, float] = {}

    def start(self) -> None:
        self._postgres = {pid: cpu_seconds([pid]) for pid in pids_named("postgres")}
        self._server = cpu_seconds(self.server_pids)
        self._per_server = {pid: cpu_seconds([pid]) for pid in self.server_pids}
        times = os.times()
        self._client = times.user + times.system
        self._machine = machine_busy_seconds()

    def stop(self) -> dict[str, float]:
        # PostgreSQL: per process, so that a backend that exits in between does not count negative;
        # one that starts in between counts in full.
        postgres = 0.0
        for pid in pids_named("postgres"):
            postgres += max(0.0, cpu_seconds([pid]) - self._postgres.get(pid, 0.0))
        times = os.times()
        self.per_server = {pid: cpu_seconds([pid]) - start for pid, start in self._per_server.items()}
        return {
            "server": cpu_seconds(self.server_pids) - self._server,
            "postgres": postgres,
            "client": times.user + times.system - self._client,
            "machine": machine_busy_seconds() - self._machine,
        }
