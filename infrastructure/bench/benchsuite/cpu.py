"""Where the CPU goes during a run: per component of the stack, and py-spy
profiles of the Python processes.

On a 2-core machine every component competes for the same two cores, so the
CPU time each one spends per reading is what bounds the throughput: 2 cores /
(CPU seconds per reading) is the ceiling whatever the tuning.
"""

from __future__ import annotations

import collections
import logging
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

logger = logging.getLogger(__name__)


def _component(process: psutil.Process, roots: dict[int, str]) -> str:
    """The component a process belongs to, by its ancestry and command line."""
    try:
        cmdline = " ".join(process.cmdline())
        name = process.name()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "other"
    if name.startswith("postgres") or "/postgres " in cmdline + " ":
        return "PostgreSQL"
    if "bootstrap.py" in cmdline or "awslambdaric" in cmdline:
        return "Lambda workers"
    return roots.get(process.pid, "other")


@dataclass
class CpuSample:
    """CPU seconds (user + system) per component between start and stop."""

    seconds: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0
    machine_busy: float = 0.0  # all processes on the machine, CPU seconds

    def per_reading_us(self, readings: int) -> dict[str, float]:
        if not readings:
            return {}
        return {k: v / readings * 1e6 for k, v in self.seconds.items()}


class CpuMeter:
    """Samples the stack's processes: `roots` maps a pid to a component name
    (its descendants belong to it too, unless recognised as PostgreSQL or a
    Lambda worker). Children of this process that exit meanwhile (the
    simulator) are counted under `children`, from the kernel's rusage."""

    def __init__(self, roots: dict[int, str], children: str = "simulator") -> None:
        self._roots = roots
        self._children = children
        self._start: dict[int, tuple[str, float]] = {}
        self._started = 0.0
        self._machine = 0.0
        self._reaped = 0.0

    @staticmethod
    def _reaped_children() -> float:
        """CPU of this process's children that have exited (the simulator)."""
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def _snapshot(self) -> dict[int, tuple[str, float]]:
        found: dict[int, tuple[str, float]] = {}
        for pid, label in self._roots.items():
            try:
                root = psutil.Process(pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            owners = {p.pid: label for p in tree}
            for process in tree:
                try:
                    times = process.cpu_times()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                found[process.pid] = (
                    _component(process, owners),
                    times.user + times.system,
                )
        return found

    def start(self) -> None:
        self._start = self._snapshot()
        self._started = time.monotonic()
        busy = psutil.cpu_times()
        self._machine = busy.user + busy.system + busy.nice
        self._reaped = self._reaped_children()

    def stop(self) -> CpuSample:
        end = self._snapshot()
        sample = CpuSample(wall=time.monotonic() - self._started)
        totals: dict[str, float] = collections.defaultdict(float)
        for pid, (label, seconds) in end.items():
            before = self._start.get(pid, (label, 0.0))[1]
            totals[label] += max(0.0, seconds - before)
        reaped = self._reaped_children() - self._reaped
        if reaped > 0:
            totals[self._children] += reaped
        sample.seconds = dict(totals)
        busy = psutil.cpu_times()
        sample.machine_busy = busy.user + busy.system + busy.nice - self._machine
        return sample


@dataclass
class Profile:
    """py-spy's samples, summarised: where the sampled processes spent time."""

    samples: int = 0
    idle: int = 0  # samples of threads waiting (select, Condition.wait, ...)
    by_process: dict[str, int] = field(default_factory=dict)
    top_functions: list[tuple[str, int]] = field(default_factory=list)
    raw_path: Path | None = None
    error: str = ""


def py_spy_available() -> str | None:
    return shutil.which("py-spy", path=str(Path(sys.executable).parent)) or (
        shutil.which("py-spy")
    )


def start_py_spy(
    pid: int, duration: int, output: Path
) -> subprocess.Popen[bytes] | None:
    """py-spy record of one process, raw (collapsed) stacks, 100 Hz, without
    pausing the target."""
    binary = py_spy_available()
    if binary is None:
        return None
    return subprocess.Popen(
        [
            binary,
            "record",
            "--pid",
            str(pid),
            "--nonblocking",
            "--rate",
            "100",
            "--duration",
            str(duration),
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def summarise_profile(path: Path, top: int = 15) -> Profile:
    """Collapsed stacks -> samples per process and the hottest leaf functions."""
    profile = Profile(raw_path=path)
    if not path.exists():
        profile.error = "py-spy wrote no profile"
        return profile
    by_process: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        profile.samples += count
        by_process[_process_label(frames[0])] += count
        leaf = _short_frame(frames[-1])
        if is_idle(leaf):
            profile.idle += count
        else:
            leaves[leaf] += count
    profile.by_process = dict(by_process.most_common())
    profile.top_functions = leaves.most_common(top)
    return profile


_IDLE = {
    "select",
    "wait",
    "poll",
    "accept",
    "sleep",
    "readinto",
    "recv_into",
    "_wait_for_tstate_lock",
}


def is_idle(leaf: str) -> bool:
    return leaf.split(" ")[0].rsplit(".", 1)[-1] in _IDLE


def _process_label(frame: str) -> str:
    """The `process <label>` frame the benchmark puts first when merging."""
    return frame.removeprefix("process ") if frame.startswith("process ") else "?"


def _short_frame(frame: str) -> str:
    """`send (paho/mqtt/client.py:123)` -> `send (paho/mqtt/client.py)`."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path, _, _line = where.rpartition(":")
    parts = Path(path or where).parts
    short = "/".join(parts[-3:]) if parts else where
    return f"{name} ({short})"
