"""Port checks made before anything starts, so a taken port is reported with
the process that holds it instead of a half-started stack."""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

import psutil

from deploy.errors import DeployError


@dataclass(frozen=True)
class PortHolder:
    pid: int | None
    name: str
    command: str


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option the servers use, so a port in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def who_listens(port: int) -> PortHolder | None:
    """The process listening on a TCP port, when the OS lets us see it."""
    try:
        connections = psutil.net_connections(kind="inet")
    except psutil.AccessDenied:
        return None
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            if conn.pid is None:
                return PortHolder(None, "unknown process", "")
            try:
                process = psutil.Process(conn.pid)
                return PortHolder(conn.pid, process.name(), " ".join(process.cmdline()))
            except psutil.Error:
                return PortHolder(conn.pid, "unknown process", "")
    return None


def check_ports_free(host: str, ports: dict[str, int]) -> None:
    """Raise one DeployError listing every taken port and who holds it.

    `ports` maps the setting's environment variable (EDGE_PORT, ...) to its port.
    """
    problems = []
    for name, port in ports.items():
        if port_is_free(host, port):
            continue
        holder = who_listens(port)
        held_by = (
            f"held by {holder.name} (pid {holder.pid}: {holder.command[:120]})"
            if holder and holder.pid
            else "held by another process"
        )
        problems.append(f"  {name}={port} on {host} is {held_by}")
    if problems:
        env_names = " ".join(f"{name}=<port>" for name in ports)
        raise DeployError(
            "ports already in use, nothing was started:\n"
            + "\n".join(problems)
            + f"\nStop that process (or `make down` if it is an earlier stack), "
            f"or choose other ports: make deploy-local {env_names}"
        )
