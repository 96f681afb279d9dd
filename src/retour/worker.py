"""The outbox worker: ``retour worker`` runs it alone; ``retour serve`` runs one in a thread."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from retour import tasks  # noqa: F401  (registers every outbox handler)
from retour.outbox import service as outbox_service

log = logging.getLogger("retour.worker")


class Worker:
    def __init__(self, factory: sessionmaker[Session], *, poll_seconds: float = 1.0, max_attempts: int = 8) -> None:
        self.factory = factory
        self.poll_seconds = poll_seconds
        self.max_attempts = max_attempts
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_forever(self) -> None:
        log.info("worker started (topics: %s)", ", ".join(outbox_service.registered_topics()))
        while not self._stop.is_set():
            try:
                worked = outbox_service.process_one(self.factory, max_attempts=self.max_attempts)
            except Exception:
                log.exception("worker loop error")
                worked = False
            if not worked:
                self._stop.wait(self.poll_seconds)

    def start_in_thread(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="retour-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
