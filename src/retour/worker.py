"""The outbox worker: ``retour worker`` runs it alone; ``retour serve`` runs one in a thread."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.orm import Session, sessionmaker

from retour import tasks  # noqa: F401  (registers every outbox handler)
from retour.outbox import service as outbox_service
from retour.shipment import tracking

log = logging.getLogger("retour.worker")


def run_periodic_jobs(factory: sessionmaker[Session]) -> dict[str, int]:
    """The jobs that run on a clock rather than on a message: labels past their expiry, carriers
    asked where their parcels are. Each is safe to run from several workers at once."""
    return {
        "labels_expired": tracking.expire_all(factory),
        "parcels_polled": tracking.poll_all(factory),
    }


class Worker:
    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        poll_seconds: float = 1.0,
        max_attempts: int = 8,
        periodic_seconds: float = 300.0,
    ) -> None:
        self.factory = factory
        self.poll_seconds = poll_seconds
        self.max_attempts = max_attempts
        self.periodic_seconds = periodic_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_periodic = 0.0

    def run_forever(self) -> None:
        log.info("worker started (topics: %s)", ", ".join(outbox_service.registered_topics()))
        while not self._stop.is_set():
            self._periodic()
            try:
                worked = outbox_service.process_one(self.factory, max_attempts=self.max_attempts)
            except Exception:
                log.exception("worker loop error")
                worked = False
            if not worked:
                self._stop.wait(self.poll_seconds)

    def _periodic(self) -> None:
        now = time.monotonic()
        if now < self._next_periodic:
            return
        self._next_periodic = now + self.periodic_seconds
        try:
            done = run_periodic_jobs(self.factory)
        except Exception:
            log.exception("periodic jobs failed")
            return
        if any(done.values()):
            log.info("periodic jobs: %s", ", ".join(f"{key}={value}" for key, value in done.items()))

    def start_in_thread(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="retour-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
