"""The API's settings, read once from the environment at cold start.

* `CORS_ALLOW_ORIGIN`: the dashboard's origin (`http://dash.example:8080`),
  sent as Access-Control-Allow-Origin on every route. Unset or empty: no CORS
  headers at all, so browsers refuse cross-origin calls (secure by default;
  the template sets it to the dashboard bucket's website URL). `*` is accepted
  only when written explicitly. A value that is not an origin is ignored with a
  warning rather than failing every request.
* `ORCHESTRALINK_STALE_AFTER_SECONDS`: a machine silent for longer is marked
  `stale` (default 60).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from chalice.app import CORSConfig

logger = logging.getLogger(__name__)

DEFAULT_STALE_AFTER_SECONDS = 60
CORS_MAX_AGE_SECONDS = 600
_ORIGIN_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Settings:
    cors_allow_origin: str | None = None
    stale_after: timedelta = timedelta(seconds=DEFAULT_STALE_AFTER_SECONDS)
    clock: Callable[[], datetime] = field(default=utc_now, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        return cls(
            cors_allow_origin=_cors_origin(environ.get("CORS_ALLOW_ORIGIN", "")),
            stale_after=timedelta(seconds=_stale_after(environ)),
        )

    def cors_config(self) -> CORSConfig | None:
        if self.cors_allow_origin is None:
            return None
        return CORSConfig(
            allow_origin=self.cors_allow_origin, max_age=CORS_MAX_AGE_SECONDS
        )

    def cors_headers(self) -> dict[str, str]:
        config = self.cors_config()
        return {} if config is None else dict(config.get_access_control_headers())


def _cors_origin(value: str) -> str | None:
    value = value.strip().rstrip("/")
    if not value:
        return None
    if value == "*" or _ORIGIN_RE.match(value):
        return value
    logger.warning(
        "CORS_ALLOW_ORIGIN %r is not an origin; CORS is off. Set it to the "
        "dashboard's scheme://host[:port], such as http://localhost:5173",
        value,
    )
    return None


def _stale_after(environ: Mapping[str, str]) -> int:
    raw = environ.get("ORCHESTRALINK_STALE_AFTER_SECONDS", "").strip()
    if not raw:
        return DEFAULT_STALE_AFTER_SECONDS
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    logger.warning(
        "ORCHESTRALINK_STALE_AFTER_SECONDS %r is not a positive integer; using %d",
        raw,
        DEFAULT_STALE_AFTER_SECONDS,
    )
    return DEFAULT_STALE_AFTER_SECONDS
