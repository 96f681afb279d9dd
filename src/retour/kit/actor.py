"""Who is acting: recorded on every audit event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ActorType = Literal["staff", "api_key", "customer", "system"]


@dataclass(frozen=True)
class Actor:
    type: ActorType
    id: str | None
    label: str

    @classmethod
    def system(cls, label: str = "Retour") -> Actor:
        return cls("system", None, label)
