"""Versioned schema migrations, applied by the same code locally and on AWS.

Migrations are the files `migrations/NNNN_description.sql` beside this module,
applied in order, each in its own transaction, and recorded in
`schema_migrations`. A PostgreSQL advisory lock serialises concurrent runners
(two deploys, or a deploy racing a test). After the schema, the machine
catalog is copied into the `parameters` table so SQL can join thresholds.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from orchestralink.catalog import Catalog, load_catalog
from orchestralink.errors import OrchestraLinkError

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Any fixed number: it only has to differ from other advisory locks in the db.
_ADVISORY_LOCK_KEY = 0x0C4E57  # "orchestra"


class MigrationError(OrchestraLinkError):
    """A migration file is misnamed or failed to apply."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def available_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(
                f"migration file {path.name} is misnamed: use NNNN_description.sql "
                "(four digits, lower-case words joined by underscores)"
            )
        migrations.append(Migration(int(match.group(1)), path.stem, path))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version in {directory}")
    return migrations


def current_version(conn: psycopg.Connection[Any]) -> int:
    """The newest applied version, 0 for an empty database."""
    exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
    if exists is None or exists[0] is None:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
    value = row.fetchone()
    return int(value[0]) if value else 0


def apply_migrations(
    conn: psycopg.Connection[Any],
    catalog: Catalog | None = None,
    directory: Path = MIGRATIONS_DIR,
) -> list[int]:
    """Apply pending migrations, then sync the catalog; returns applied versions."""
    applied: list[int] = []
    conn.commit()  # start from a clean transaction state
    conn.execute("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK_KEY,))
    try:
        with conn.transaction():
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY,"
                " name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
        done = current_version(conn)
        for migration in available_migrations(directory):
            if migration.version <= done:
                continue
            _apply_one(conn, migration)
            applied.append(migration.version)
        with conn.transaction():
            sync_catalog(conn, catalog or load_catalog())
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK_KEY,))
        conn.commit()
    return applied


def _apply_one(conn: psycopg.Connection[Any], migration: Migration) -> None:
    logger.info("applying migration %s", migration.name)
    sql = migration.path.read_text()
    try:
        with conn.transaction():
            conn.execute(sql.encode())
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
    except psycopg.Error as error:
        raise MigrationError(
            f"migration {migration.name} failed and was rolled back: {error}"
        ) from error


def sync_catalog(conn: psycopg.Connection[Any], catalog: Catalog) -> None:
    """Make `parameters` equal to the catalog (upsert, then delete the rest)."""
    rows = [
        (
            machine_type.name,
            parameter.name,
            parameter.unit,
            parameter.normal_min,
            parameter.normal_max,
            parameter.warning_low,
            parameter.warning_high,
            parameter.critical_low,
            parameter.critical_high,
        )
        for machine_type in catalog.machine_types.values()
        for parameter in machine_type.parameters.values()
    ]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO parameters (machine_type, name, unit, normal_min, normal_max,"
            " warning_low, warning_high, critical_low, critical_high)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (machine_type, name) DO UPDATE SET"
            " unit = EXCLUDED.unit, normal_min = EXCLUDED.normal_min,"
            " normal_max = EXCLUDED.normal_max, warning_low = EXCLUDED.warning_low,"
            " warning_high = EXCLUDED.warning_high,"
            " critical_low = EXCLUDED.critical_low,"
            " critical_high = EXCLUDED.critical_high",
            rows,
        )
        keys = [(row[0], row[1]) for row in rows]
        cur.execute(
            "DELETE FROM parameters WHERE (machine_type, name) NOT IN"
            " (SELECT * FROM unnest(%s::text[], %s::text[]))",
            ([k[0] for k in keys], [k[1] for k in keys]),
        )
