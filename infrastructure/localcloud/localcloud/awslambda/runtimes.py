"""Chooses the Python interpreter that runs a function's `Runtime`.

A worker runs `awslambdaric`, so its interpreter must be able to import it:
- the runtime's version is the host's: the host interpreter (the local cloud's
  own environment, which has awslambdaric and boto3);
- another installed Python (on PATH as `python3.12`, or under pyenv): a venv of
  that Python in the cache folder, with the host's pinned awslambdaric and
  boto3 installed by pip once (a few seconds, logged), like AWS's runtime image
  which ships boto3;
- not installed, or the venv cannot be built (offline, no wheel): the host's
  interpreter, with one warning naming the mismatch.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from localcloud.errors import LocalCloudError

logger = logging.getLogger(__name__)

HOST_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
READY_MARKER = ".localcloud-ready"


class UnsupportedRuntimeError(LocalCloudError):
    """The function's runtime is not a Python runtime."""


@dataclass(frozen=True)
class Interpreter:
    executable: str
    version: str  # "3.12"
    matches: bool  # the runtime's own version


class RuntimeResolver:
    def __init__(self, cache_dir: Path, host_executable: str = sys.executable) -> None:
        self._cache_dir = cache_dir
        self._host = Interpreter(host_executable, HOST_VERSION, True)
        self._lock = threading.Lock()
        self._runtime_locks: dict[str, threading.Lock] = {}
        self._resolved: dict[str, Interpreter] = {}
        self._warned: set[str] = set()

    def interpreter(self, runtime: str) -> Interpreter:
        """The interpreter for `runtime`, building its venv first if needed."""
        resolved = self._resolved.get(runtime)
        if resolved is not None:
            return resolved
        version = python_version(runtime)
        if version == HOST_VERSION:
            return self._remember(runtime, self._host)
        with self._lock:
            lock = self._runtime_locks.setdefault(runtime, threading.Lock())
        with lock:
            resolved = self._resolved.get(runtime)
            if resolved is not None:
                return resolved
            return self._remember(runtime, self._build(runtime, version))

    def prepare_in_background(self, runtime: str) -> None:
        """Starts building a runtime's venv (after CreateFunction), so the first
        invocation does not wait for pip."""
        if runtime in self._resolved or not runtime.startswith("python"):
            return
        threading.Thread(
            target=self._prepare_quietly, args=(runtime,), daemon=True
        ).start()

    def _prepare_quietly(self, runtime: str) -> None:
        try:
            self.interpreter(runtime)
        except Exception:
            logger.exception("preparing runtime %s failed", runtime)

    def _remember(self, runtime: str, interpreter: Interpreter) -> Interpreter:
        self._resolved[runtime] = interpreter
        return interpreter

    def _fallback(self, runtime: str, reason: str) -> Interpreter:
        if runtime not in self._warned:
            self._warned.add(runtime)
            logger.warning(
                "function runtime %s: %s; running it with the host's Python %s (%s) "
                "instead. Install Python %s (for example `pyenv install %s`) to "
                "match AWS.",
                runtime,
                reason,
                HOST_VERSION,
                self._host.executable,
                runtime[len("python") :],
                runtime[len("python") :],
            )
        return Interpreter(self._host.executable, HOST_VERSION, False)

    def _build(self, runtime: str, version: str) -> Interpreter:
        base = find_python(version)
        if base is None:
            return self._fallback(runtime, f"Python {version} is not installed")
        venv = self._cache_dir / "runtimes" / f"{runtime}-{_pins_tag()}"
        python = venv / "bin" / "python"
        if (venv / READY_MARKER).exists() and python.exists():
            return Interpreter(str(python), version, True)
        started = time.monotonic()
        logger.info(
            "preparing runtime %s: a venv of %s with %s in %s (once; takes seconds)",
            runtime,
            base,
            " ".join(_pins()),
            venv,
        )
        shutil.rmtree(venv, ignore_errors=True)
        try:
            _run([base, "-m", "venv", str(venv)])
            _run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--only-binary=:all:",
                    *_pins(),
                ]
            )
        except (OSError, subprocess.SubprocessError) as error:
            shutil.rmtree(venv, ignore_errors=True)
            return self._fallback(runtime, f"its venv could not be built ({error})")
        (venv / READY_MARKER).write_text(" ".join(_pins()) + "\n")
        logger.info("runtime %s ready in %.1f s", runtime, time.monotonic() - started)
        return Interpreter(str(python), version, True)


def python_version(runtime: str) -> str:
    if not runtime.startswith("python3."):
        raise UnsupportedRuntimeError(
            f"runtime {runtime!r} is not supported: the local cloud runs Python "
            "runtimes (python3.x) only"
        )
    return runtime[len("python") :]


def find_python(version: str) -> str | None:
    """An installed `python<version>`: the newest pyenv build, else one on PATH.

    pyenv's shims are skipped: they fail unless that version is selected.
    """
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates = sorted(
        glob.glob(f"{root}/versions/{version}.*/bin/python{version}"),
        key=lambda path: [
            int(p) for p in path.split("/")[-3].split(".") if p.isdigit()
        ],
    )
    if candidates:
        return candidates[-1]
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder or "shims" in Path(folder).parts:
            continue
        found = shutil.which(f"python{version}", path=folder)
        if found:
            return found
    return None


def _pins() -> list[str]:
    return [f"{name}=={metadata.version(name)}" for name in ("awslambdaric", "boto3")]


def _pins_tag() -> str:
    return "-".join(pin.replace("==", "") for pin in _pins())


def _run(command: list[str]) -> None:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        raise subprocess.SubprocessError(
            f"{' '.join(command[:4])} ... failed: {result.stderr.strip()[-800:]}"
        )
