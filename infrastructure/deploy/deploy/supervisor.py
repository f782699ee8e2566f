"""The stack's processes under supervisord: Mosquitto, the local cloud and
the simulator, each restarted when it dies, each logging into logs/.

supervisord is a well-kept process manager that needs no root and no system
service; one instance per state folder, controlled over a Unix socket, so
several stacks (a developer's and the tests') can run side by side.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.config import StackConfig
from deploy.errors import DeployError


@dataclass(frozen=True)
class Program:
    name: str
    command: str
    autostart: bool = True
    environment: dict[str, str] | None = None
    stopwaitsecs: int = 15


def render_config(config: StackConfig, programs: list[Program]) -> str:
    logs = config.logs_dir
    sections = [
        f"""[unix_http_server]
file={config.supervisor_socket}
chmod=0600

[supervisord]
logfile={logs}/supervisord.log
pidfile={config.state_dir}/supervisord.pid
directory={config.repo_dir}
nodaemon=false
silent=true
identifier=orchestralink-{config.stack_name}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{config.supervisor_socket}
"""
    ]
    for program in programs:
        env = ""
        if program.environment:
            pairs = ",".join(
                f'{key}="{value}"' for key, value in sorted(program.environment.items())
            )
            env = f"environment={pairs}\n"
        sections.append(
            f"""[program:{program.name}]
command={program.command}
autostart={"true" if program.autostart else "false"}
autorestart=true
startsecs=2
startretries=5
stopsignal=TERM
stopwaitsecs={program.stopwaitsecs}
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile={logs}/{program.name}.log
stdout_logfile_maxbytes=20MB
stdout_logfile_backups=2
{env}"""
        )
    return "\n".join(sections)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(self._path)
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        return _UnixHTTPConnection(self._path)


class Supervisor:
    """Start, query and stop the stack's supervisord."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config

    @property
    def _rpc(self) -> Any:
        proxy = xmlrpc.client.ServerProxy(
            "http://localhost",
            transport=_UnixTransport(str(self.config.supervisor_socket)),
        )
        return proxy.supervisor

    def running(self) -> bool:
        if not self.config.supervisor_socket.exists():
            return False
        try:
            return bool(self._rpc.getState()["statename"] == "RUNNING")
        except (OSError, xmlrpc.client.Error):
            return False

    def start(self, programs: list[Program]) -> None:
        """Write the configuration and start supervisord (or reload it)."""
        self.config.logs_dir.mkdir(parents=True, exist_ok=True)
        self.config.supervisor_config.write_text(render_config(self.config, programs))
        if self.running():
            added, changed, removed = self._rpc.reloadConfig()[0]
            for name in removed:
                self._rpc.stopProcessGroup(name)
                self._rpc.removeProcessGroup(name)
            for name in changed:
                self._rpc.stopProcessGroup(name)
                self._rpc.removeProcessGroup(name)
                self._rpc.addProcessGroup(name)
            for name in added:
                self._rpc.addProcessGroup(name)
            return
        supervisord = Path(self.config.venv_bin) / "supervisord"
        subprocess.run(
            [str(supervisord), "-c", str(self.config.supervisor_config)], check=True
        )
        deadline = time.monotonic() + 15
        while not self.running():
            if time.monotonic() > deadline:
                raise DeployError(
                    "supervisord did not start: see "
                    f"{self.config.logs_dir / 'supervisord.log'}"
                )
            time.sleep(0.1)

    def state_of(self, name: str) -> str:
        """supervisord's state name of a program (RUNNING, BACKOFF, FATAL, ...)."""
        try:
            return str(self._rpc.getProcessInfo(name)["statename"])
        except (OSError, xmlrpc.client.Error):
            return "UNKNOWN"

    def start_program(self, name: str) -> None:
        info = self._rpc.getProcessInfo(name)
        if info["statename"] not in ("RUNNING", "STARTING"):
            self._rpc.startProcess(name, True)

    def stop_program(self, name: str) -> None:
        info = self._rpc.getProcessInfo(name)
        if info["statename"] in ("RUNNING", "STARTING", "BACKOFF"):
            self._rpc.stopProcess(name, True)

    def restart_program(self, name: str) -> None:
        self.stop_program(name)
        self._rpc.startProcess(name, True)

    def programs(self) -> list[dict[str, Any]]:
        if not self.running():
            return []
        return list(self._rpc.getAllProcessInfo())

    def shutdown(self) -> None:
        """Stop every program, then supervisord itself; waits until it is gone."""
        if not self.running():
            return
        try:
            self._rpc.stopAllProcesses(True)
            self._rpc.shutdown()
        except (OSError, xmlrpc.client.Error):
            pass
        deadline = time.monotonic() + 30
        while self.config.supervisor_socket.exists() and self.running():
            if time.monotonic() > deadline:
                raise DeployError("supervisord did not stop within 30 s")
            time.sleep(0.1)
