"""The machine and software a report was measured on."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
from typing import Any

import psutil

from benchsuite.stack import REPO_DIR


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _command_output(command: list[str]) -> str:
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (result.stdout + result.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def _mosquitto_version() -> str:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    text = _command_output([binary, "-h"])
    return text.replace("mosquitto version ", "")


def _package(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def describe(postgres_version: str = "") -> dict[str, Any]:
    memory = psutil.virtual_memory()
    load = os.getloadavg()
    return {
        "CPU model": _cpu_model(),
        "cores (logical)": os.cpu_count(),
        "memory": f"{memory.total / 2**30:.1f} GiB ({memory.available / 2**30:.1f} "
        "GiB available at start)",
        "load average at start (1/5/15 min)": " / ".join(f"{x:.2f}" for x in load),
        "OS": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "Python": platform.python_version(),
        "PostgreSQL": postgres_version or "unknown",
        "Mosquitto": _mosquitto_version(),
        "moto": _package("moto"),
        "boto3": _package("boto3"),
        "paho-mqtt": _package("paho-mqtt"),
        "psycopg": _package("psycopg"),
        "awslambdaric": _package("awslambdaric"),
        "git commit": _command_output(
            ["git", "-C", str(REPO_DIR), "describe", "--always", "--dirty"]
        ),
    }
