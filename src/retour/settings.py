"""The one typed settings object. Read from the environment (prefix ``RETOUR_``) and ``.env``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "change-me-in-production-this-is-not-a-secret"  # noqa: S105


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RETOUR_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(default="sqlite:///./retour.db", description="SQLAlchemy URL")
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = ""
    secret_key: str = DEFAULT_SECRET
    storage_dir: Path = Path("./var/storage")
    in_process_worker: bool = True
    worker_poll_seconds: float = 1.0
    worker_max_attempts: int = 8
    # Label expiry and carrier polling run this often (seconds).
    worker_periodic_seconds: float = 300.0
    db_pool_size: int = 10
    session_max_age_seconds: int = 8 * 3600
    default_language: Literal["fr", "en"] = "fr"
    # The reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated
    # addresses or networks, ``*`` for any): the client address the portal's rate limit counts.
    forwarded_allow_ips: str = "127.0.0.1"
    log_level: str = "info"

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEFAULT_SECRET:
            raise ValueError("RETOUR_SECRET_KEY must be set to a real secret in production")
        if self.environment == "production" and len(self.secret_key) < 32:
            raise ValueError("RETOUR_SECRET_KEY must be at least 32 characters long in production")
        return self

    @property
    def public_url(self) -> str:
        return self.base_url.rstrip("/") or f"http://{self.host}:{self.port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
