"""The real server: ``retour serve`` in a subprocess on a free localhost port."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from bench.http import Connection


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """``retour serve --workers N --no-worker`` reading ``RETOUR_DATABASE_URL``; waits for /healthz."""

    def __init__(self, database_url: str, *, workers: int, log_path: Path, log_level: str = "warning") -> None:
        self.database_url = database_url
        self.workers = workers
        self.log_path = log_path
        self.log_level = log_level
        self.host = "127.0.0.1"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        env = {
            **os.environ,
            "RETOUR_DATABASE_URL": self.database_url,
            "RETOUR_IN_PROCESS_WORKER": "false",
            "RETOUR_LOG_LEVEL": self.log_level,
            "RETOUR_ENVIRONMENT": "development",
        }
        command = [
            sys.executable,
            "-c",
            "from retour.cli import app; app()",
            "serve",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--no-worker",
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        # A new session, so that stopping it stops uvicorn's worker processes too (and nothing else).
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_healthy()
        return self

    def _wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout

        async def probe() -> int:
            connection = Connection(self.host, self.port)
            try:
                status, _ = await connection.request("GET", "/healthz")
                return status
            finally:
                await connection.close()

        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}); see {self.log_path}")
            try:
                if asyncio.run(probe()) == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer /healthz within {timeout:.0f}s; see {self.log_path}")

    def pids(self) -> list[int]:
        """The server process and uvicorn's worker processes (its children), for CPU accounting."""
        assert self.process is not None
        found = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [self.process.pid, *(int(pid) for pid in found.stdout.split())]

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (to point a profiler at)."""
        pids = self.pids()
        return pids[1:] if self.workers > 1 else pids[:1]

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
