"""Background services of the local cloud (rules engine, SQS pollers, RDS
instances, ...): started with the edge, stopped with it, reported by health."""

from __future__ import annotations

from typing import Protocol


class BackgroundService(Protocol):
    name: str  # as shown in /_localstack/health, e.g. "iot", "rds"

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def health(self) -> str:
        """LocalStack's words: "running", "available", "disabled" or "error"."""
        ...
