"""Deploy times: cold and warm `python -m deploy up` (what `make deploy-local`
runs), and how long a changed function takes to be live under
`python -m deploy watch`.

Cold is a fresh, empty state folder: services started, every function and the
layer built (pip's wheel cache and the local cloud's runtime cache in ~/.cache
are kept, as on a developer's machine after the first run), the stack created,
migrations run, the simulator started and the first readings queryable. Warm
is the same command again with nothing changed.

The watch figure: a file is written under functions/api/ (a probe with a fresh
nonce, removed afterwards); the clock runs until GetFunction reports the API
function's new CodeSha256 and an HTTP request through API Gateway has been
answered by it (the first answer after an update comes from a new worker, so
its cold start is included).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from benchsuite.functions import HttpClient
from benchsuite.stack import REPO_DIR, BenchError, Stack

PROBE_DIR = REPO_DIR / "functions" / "api"


@dataclass
class WatchTiming:
    code_updated: float  # file written -> new CodeSha256 reported
    live: float  # file written -> first answer through API Gateway after that


def watch_redeploy(stack: Stack, timeout: float = 60) -> WatchTiming:
    lam = stack.client("lambda")
    name = stack.outputs["ApiFunctionName"]
    watcher = subprocess.Popen(
        [sys.executable, "-m", "deploy", "watch"],
        cwd=REPO_DIR,
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    watching = threading.Event()

    def read() -> None:
        assert watcher.stdout is not None
        for line in watcher.stdout:
            lines.append(line)
            if "watching" in line:
                watching.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    probe = PROBE_DIR / f"bench_probe_{os.getpid()}.txt"
    try:
        if not watching.wait(60):
            raise BenchError(f"deploy watch did not start: {''.join(lines)[-2000:]}")
        time.sleep(1)  # let watchfiles take its first snapshot
        before = lam.get_function(FunctionName=name)["Configuration"]["CodeSha256"]
        timing = _change_and_wait(stack, lam, name, probe, before, timeout)
        changed = timing_sha(lam, name)
        probe.unlink()
        _wait_code_change(lam, name, changed, timeout)  # the original code is back
        return timing
    finally:
        probe.unlink(missing_ok=True)
        watcher.terminate()
        try:
            watcher.wait(timeout=15)
        except subprocess.TimeoutExpired:
            watcher.kill()


def timing_sha(lam: object, name: str) -> str:
    config = lam.get_function(FunctionName=name)["Configuration"]  # type: ignore[attr-defined]
    return str(config["CodeSha256"])


def _change_and_wait(
    stack: Stack, lam: object, name: str, probe: Path, before: str, timeout: float
) -> WatchTiming:
    started = time.perf_counter()
    probe.write_text(f"benchmark probe {uuid.uuid4()}: safe to delete\n")
    _wait_code_change(lam, name, before, timeout)
    updated = time.perf_counter() - started
    client = HttpClient(stack.api_url)
    try:
        while True:
            status, _body = client.get("/health")
            if status == 200:
                break
            if time.perf_counter() - started > timeout:
                raise BenchError(f"the API answers {status} after the code change")
            time.sleep(0.02)
    finally:
        client.close()
    return WatchTiming(updated, time.perf_counter() - started)


def _wait_code_change(lam: object, name: str, before: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while timing_sha(lam, name) == before:
        if time.monotonic() > deadline:
            raise BenchError(f"{name} kept CodeSha256 {before} for {timeout:.0f} s")
        time.sleep(0.02)
