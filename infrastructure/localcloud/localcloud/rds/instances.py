"""The RDS data plane: a real PostgreSQL server behind each `postgres` DB instance.

moto keeps the DB instances (CreateDBInstance from the API or CloudFormation,
DescribeDBInstances, tags, ...); `RdsService` is told of every change by the
patched backend (`localcloud.rds.moto_patch`) and makes the server follow,
each instance's operations in order on a worker thread of its own, while the
status moto reports moves like RDS's:

    creating -> available -> stopping -> stopped -> starting -> available
    available -> rebooting -> available;  any -> deleting (then gone)
    creating -> failed  (the server could not start; the log says why)

The endpoint is 127.0.0.1 and the instance's port: the requested `Port` when
it is free, else the port this instance used last time, else a free one.
Engines other than `postgres` keep moto's record-only behaviour, with a
warning: nothing listens at their endpoint.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localcloud.rds.errors import RdsError
from localcloud.rds.postgres import (
    MasterCredentials,
    PostgresServer,
    free_port,
    port_is_free,
    resolve_bin_dir,
)

logger = logging.getLogger(__name__)

ENDPOINT_HOST = "127.0.0.1"
SUPPORTED_ENGINES = ("postgres",)


def runs_a_server(database: Any) -> bool:
    """Whether the local cloud runs a server for this moto DB instance."""
    return (
        str(database.engine).lower() in SUPPORTED_ENGINES
        and getattr(database, "db_cluster_identifier", None) is None
    )


def credentials_of(database: Any) -> MasterCredentials:
    # moto's property refuses to return it; the attribute behind it has it.
    password = getattr(database, "_master_user_password", None)
    if database.manage_master_user_password:
        password = _generate_managed_password(database)
    return MasterCredentials(
        username=str(database.master_username),
        password=str(password),
        dbname=database.db_name,
    )


def _generate_managed_password(database: Any) -> str:
    """RDS generates a random password into the instance's managed secret; moto
    stores a fixed one under the user name "admin". Put a random password and
    the real master user name in the secret, as RDS would."""
    managed = database.master_user_secret
    password = secrets.token_urlsafe(24)
    value = {"username": str(database.master_username), "password": password}
    managed.secretsmanager.put_secret_value(
        managed.secret.arn, json.dumps(value), None, str(uuid.uuid4()), ["AWSCURRENT"]
    )
    return password


@dataclass
class InstanceRuntime:
    """What the data plane holds for one DB instance."""

    identifier: str
    server: PostgresServer
    database: Any  # moto's DBInstance
    worker: ThreadPoolExecutor  # one per identifier: create waits for a delete
    ready: Future[None] | None = None
    available_after: float | None = None  # seconds from CreateDBInstance

    def submit(self, job: Any, *args: Any) -> Future[None]:
        return self.worker.submit(job, *args)


class RdsService:
    """Starts, stops and removes the PostgreSQL servers of DB instances."""

    name = "rds"

    def __init__(self, state_dir: Path, pg_bin: str | None = None) -> None:
        self._root = Path(state_dir) / "rds"
        self._pg_bin = pg_bin
        self._runtimes: dict[str, InstanceRuntime] = {}
        self._workers: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()
        self._started = False
        self._bin_dir: Path | None = None

    # -- BackgroundService -----------------------------------------------------

    def start(self) -> None:
        self._started = True

    def stop(self) -> None:
        """Stops every server; their data stays for the next start."""
        with self._lock:
            runtimes = list(self._runtimes.values())
            workers = list(self._workers.values())
            self._runtimes.clear()
            self._workers.clear()
        for runtime in runtimes:
            runtime.submit(runtime.server.stop)
        for worker in workers:
            worker.shutdown(wait=True)
        self._started = False

    def health(self) -> str:
        return "running" if self._started else "available"

    def reset(self) -> None:
        """The reset endpoint clears all state: servers stop, their data goes."""
        with self._lock:
            runtimes = list(self._runtimes.values())
            self._runtimes.clear()
        done = [runtime.submit(runtime.server.destroy) for runtime in runtimes]
        for future in done:
            future.result(60)

    # -- called by the patched moto backend --------------------------------------

    def check_create(self, db_kwargs: dict[str, Any]) -> None:
        """Refuses, before moto stores anything, what RDS itself would refuse."""
        from moto.rds.exceptions import InvalidParameterValue

        if str(db_kwargs.get("engine", "")).lower() not in SUPPORTED_ENGINES:
            return
        if db_kwargs.get("db_cluster_identifier"):
            return
        if not db_kwargs.get("master_username"):
            raise InvalidParameterValue(
                "The parameter MasterUsername must be provided and must not be blank."
            )
        if not db_kwargs.get("master_user_password") and not db_kwargs.get(
            "manage_master_user_password"
        ):
            raise InvalidParameterValue(
                "The parameter MasterUserPassword must be provided and must not be "
                "blank."
            )

    def created(self, database: Any, requested_port: int | None) -> None:
        identifier = str(database.db_instance_identifier)
        if not runs_a_server(database):
            self._warn_engine(database)
            return
        runtime = self._runtime_for(database)
        port = self._choose_port(runtime.server, requested_port, identifier)
        database.port = port
        database.status = "creating"
        database._localcloud_address = ENDPOINT_HOST
        runtime.ready = runtime.submit(
            self._bring_up, runtime, credentials_of(database), port, time.monotonic()
        )

    def stopped(self, database: Any) -> None:
        runtime = self._known(database)
        if runtime is not None:
            database.status = "stopping"
            runtime.submit(self._transition, runtime, runtime.server.stop, "stopped")

    def started(self, database: Any) -> None:
        runtime = self._known(database)
        if runtime is not None:
            database.status = "starting"
            runtime.submit(self._restart_server, runtime, database.port)

    def rebooted(self, database: Any) -> None:
        runtime = self._known(database)
        if runtime is not None:
            database.status = "rebooting"
            runtime.submit(
                self._transition, runtime, self._reboot(runtime), "available"
            )

    def deleted(self, database: Any) -> None:
        runtime = self._known(database)
        if runtime is None:
            return
        with self._lock:
            if self._runtimes.get(runtime.identifier) is runtime:
                del self._runtimes[runtime.identifier]
        runtime.submit(runtime.server.destroy)
        logger.info("DB instance %s deleted with its data", runtime.identifier)

    def modified(self, database: Any, db_kwargs: dict[str, Any]) -> None:
        runtime = self._known(database)
        if runtime is None:
            return
        password = db_kwargs.get("master_user_password")
        if password:
            runtime.submit(
                runtime.server.set_password,
                str(database.master_username),
                str(password),
            )
        if db_kwargs.get("db_port_number") or db_kwargs.get(
            "new_db_instance_identifier"
        ):
            logger.warning(
                "DB instance %s: a new port or identifier is recorded by moto but the "
                "local server keeps %s:%d and its data folder; delete and create the "
                "instance to change them",
                runtime.identifier,
                ENDPOINT_HOST,
                runtime.server.port,
            )

    def wait_available(self, database: Any, timeout: float = 60.0) -> None:
        """Blocks until the server accepts connections (CloudFormation waits so
        on AWS too before it reports the instance created)."""
        runtime = self._known(database)
        if runtime is None or runtime.ready is None:
            return
        runtime.ready.result(timeout)
        if database.status == "failed":
            raise RdsError(
                f"DB instance {runtime.identifier} failed to start; see "
                f"{runtime.server.log_path}"
            )

    def runtime(self, identifier: str) -> InstanceRuntime | None:
        with self._lock:
            return self._runtimes.get(identifier)

    # -- the work, on each instance's worker thread ----------------------------------

    def _bring_up(
        self,
        runtime: InstanceRuntime,
        credentials: MasterCredentials,
        port: int,
        asked_at: float,
    ) -> None:
        database, server = runtime.database, runtime.server
        try:
            reused = server.exists
            if not reused:
                server.initialize(credentials)
            if not server.running:
                port = server.start_anywhere(port)
            database.port = server.port
            server.ensure_master(credentials)
        except Exception as error:
            database.status = "failed"
            logger.error(
                "DB instance %s failed to start: %s", runtime.identifier, error
            )
            return
        runtime.available_after = time.monotonic() - asked_at
        database.status = "available"
        logger.info(
            "DB instance %s available at %s:%d after %.1f s (%s data in %s)",
            runtime.identifier,
            ENDPOINT_HOST,
            port,
            runtime.available_after,
            "existing" if reused else "new",
            server.root,
        )

    def _transition(self, runtime: InstanceRuntime, action: Any, status: str) -> None:
        try:
            action()
        except Exception as error:
            runtime.database.status = "failed"
            logger.error("DB instance %s: %s", runtime.identifier, error)
            return
        runtime.database.status = status

    def _restart_server(self, runtime: InstanceRuntime, port: int) -> None:
        def start() -> None:
            runtime.database.port = runtime.server.start_anywhere(port)

        self._transition(runtime, start, "available")

    # -- helpers -------------------------------------------------------------------

    @staticmethod
    def _reboot(runtime: InstanceRuntime) -> Any:
        def reboot() -> None:
            runtime.server.restart()
            runtime.database.port = runtime.server.port

        return reboot

    def _bin(self) -> Path:
        if self._bin_dir is None:
            self._bin_dir = resolve_bin_dir(self._pg_bin)
        return self._bin_dir

    def _runtime_for(self, database: Any) -> InstanceRuntime:
        identifier = str(database.db_instance_identifier)
        with self._lock:
            runtime = self._runtimes.get(identifier)
            if runtime is None:
                server = PostgresServer(self._root / identifier, self._bin())
                worker = self._workers.get(identifier)
                if worker is None:
                    worker = ThreadPoolExecutor(
                        max_workers=1, thread_name_prefix=f"rds-{identifier}"
                    )
                    self._workers[identifier] = worker
                runtime = InstanceRuntime(identifier, server, database, worker)
                self._runtimes[identifier] = runtime
            runtime.database = database
            return runtime

    def _known(self, database: Any) -> InstanceRuntime | None:
        with self._lock:
            runtime = self._runtimes.get(str(database.db_instance_identifier))
        if runtime is None or runtime.database is not database:
            return None
        return runtime

    def _choose_port(
        self, server: PostgresServer, requested: int | None, identifier: str
    ) -> int:
        if server.running:
            return server.port
        if requested:
            if port_is_free(requested):
                return requested
            logger.warning(
                "DB instance %s asked for port %d, which is in use here; it listens "
                "on another port (DescribeDBInstances reports it)",
                identifier,
                requested,
            )
        last = server.remembered().get("port")
        if isinstance(last, int):
            if port_is_free(last):
                return last
            port = free_port()
            logger.warning(
                "DB instance %s listened on port %d before, which another process "
                "holds now; it listens on %d (DescribeDBInstances reports it)",
                identifier,
                last,
                port,
            )
            return port
        return free_port()

    def _warn_engine(self, database: Any) -> None:
        engine = str(database.engine)
        logger.warning(
            "DB instance %s: engine %s is recorded by moto only; no server runs at "
            "its endpoint (the local cloud runs engine postgres)",
            database.db_instance_identifier,
            engine,
        )
