"""Warm workers per function version and configuration, and concurrency limits.

- Workers are grouped by the function spec's fingerprint (version, code hash,
  runtime, handler, settings). After UpdateFunctionCode or
  UpdateFunctionConfiguration the next invocation has a new fingerprint and
  gets new workers; invocations in flight finish on the old ones, which are
  then stopped. No invocation fails because of the swap.
- Concurrency: an invocation holds one worker for its whole run. Reserved
  concurrency of a function (including 0) and the overall cap
  (`max_concurrency`) are enforced; beyond them `ThrottledError`, which the
  Invoke API turns into AWS's 429 TooManyRequestsException.
- Idle workers are stopped after `idle_worker_timeout` seconds; workers of
  superseded fingerprints as soon as they are idle.
- Timeouts kill the worker; a crashed worker is dropped and replaced by the
  next invocation.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from localcloud.awslambda.code import CodeStore
from localcloud.awslambda.functions import FunctionSpec
from localcloud.awslambda.runtime_api import Invocation
from localcloud.awslambda.runtimes import RuntimeResolver
from localcloud.awslambda.worker import Worker
from localcloud.errors import LocalCloudError

logger = logging.getLogger(__name__)

# AWS gives on-demand init 10 s; beyond that the init is retried inside the
# invocation, under the function's timeout. Locally: 10 s plus the timeout.
INIT_TIMEOUT = 10.0


class ThrottledError(LocalCloudError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


Finished = Callable[[Worker, FunctionSpec, Invocation, bool], None]


class WorkerPool:
    def __init__(
        self,
        *,
        code: CodeStore,
        runtimes: RuntimeResolver,
        endpoint_url: str,
        max_concurrency: int,
        idle_timeout: float,
    ) -> None:
        self._code = code
        self._runtimes = runtimes
        self._endpoint_url = endpoint_url
        self._max_concurrency = max_concurrency
        self._idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._idle: dict[tuple[object, ...], list[Worker]] = {}
        self._busy: set[Worker] = set()
        # (function ARN, version) -> the fingerprint new invocations get
        self._current: dict[tuple[str, str], tuple[object, ...]] = {}
        self._inflight: dict[str, int] = {}  # function ARN -> running invocations
        self._total = 0
        self._stopping = threading.Event()
        self._reaper: threading.Thread | None = None

    # --- invoking -------------------------------------------------------------

    def run(
        self, spec: FunctionSpec, invocation: Invocation, on_finished: Finished
    ) -> None:
        """Runs one invocation to its end (result, error, timeout or crash).

        `on_finished(worker, spec, invocation, cold)` runs before the worker is
        released (the Lambda service writes the invocation's logs there).
        Raises `ThrottledError` when a concurrency limit is reached.
        """
        self._admit(spec)
        worker: Worker | None = None
        cold = False
        try:
            worker = self._take_idle(spec)
            if worker is None:
                cold = True
                worker = self._start_worker(spec)
                with self._lock:
                    self._busy.add(worker)
            worker.submit(invocation)
            if not invocation.picked.wait(INIT_TIMEOUT + spec.timeout):
                worker.kill_for_timeout(invocation)
            remaining = spec.timeout - (time.monotonic() - invocation.started)
            if not invocation.done.wait(max(remaining, 0.0)):
                worker.kill_for_timeout(invocation)
            invocation.done.wait()
            on_finished(worker, spec, invocation, cold)
        finally:
            self._release(spec, worker)

    def _admit(self, spec: FunctionSpec) -> None:
        with self._lock:
            running = self._inflight.get(spec.arn, 0)
            reserved = spec.reserved_concurrency
            if reserved is not None and running >= reserved:
                raise ThrottledError(
                    "ReservedFunctionConcurrentInvocationLimitExceeded",
                    f"{spec.name} has {running} invocations running and a reserved "
                    f"concurrency of {reserved}",
                )
            if self._total >= self._max_concurrency:
                raise ThrottledError(
                    "ConcurrentInvocationLimitExceeded",
                    f"{self._total} invocations are running, the local cloud's "
                    f"max_concurrency ({self._max_concurrency}; "
                    "LOCALCLOUD_MAX_CONCURRENCY)",
                )
            self._inflight[spec.arn] = running + 1
            self._total += 1
            previous = self._current.get((spec.arn, spec.version))
            self._current[(spec.arn, spec.version)] = spec.fingerprint
        if previous is not None and previous != spec.fingerprint:
            self._retire_fingerprint(previous)

    def _take_idle(self, spec: FunctionSpec) -> Worker | None:
        with self._lock:
            workers = self._idle.get(spec.fingerprint)
            while workers:
                worker = workers.pop()
                if worker.alive:
                    self._busy.add(worker)
                    return worker
        return None

    def _start_worker(self, spec: FunctionSpec) -> Worker:
        interpreter = self._runtimes.interpreter(spec.runtime)
        task_root = self._code.function_code(spec.code_sha_256, spec.code_bytes)
        layers = [
            self._code.layer(layer.code_sha_256, layer.code_bytes)
            for layer in spec.layers
        ]
        worker = Worker(spec, interpreter, task_root, layers, self._endpoint_url)
        worker.start()
        return worker

    def _release(self, spec: FunctionSpec, worker: Worker | None) -> None:
        with self._lock:
            self._inflight[spec.arn] = max(self._inflight.get(spec.arn, 1) - 1, 0)
            self._total = max(self._total - 1, 0)
            if worker is None:
                return
            self._busy.discard(worker)
            current = self._current.get((spec.arn, spec.version)) == spec.fingerprint
            keep = worker.alive and not worker.retired and current
            if keep:
                worker.last_used = time.monotonic()
                self._idle.setdefault(spec.fingerprint, []).append(worker)
        if not keep:
            worker.stop()

    # --- housekeeping ---------------------------------------------------------

    def retire_function(self, function_arn: str) -> None:
        """Stops idle workers of a function (after an update or a delete)."""
        with self._lock:
            for key in [key for key in self._current if key[0] == function_arn]:
                del self._current[key]
            doomed = []
            for fingerprint in list(self._idle):
                if fingerprint and fingerprint[0] == function_arn:
                    doomed += self._idle.pop(fingerprint)
            for worker in self._busy:
                if worker.spec.arn == function_arn:
                    worker.retired = True
        for worker in doomed:
            worker.stop()

    def _retire_fingerprint(self, fingerprint: tuple[object, ...]) -> None:
        with self._lock:
            doomed = self._idle.pop(fingerprint, [])
        if doomed:
            logger.info(
                "configuration or code of %s changed: stopping %d idle workers",
                fingerprint[0],
                len(doomed),
            )
        for worker in doomed:
            worker.stop()

    def reap_idle(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        with self._lock:
            doomed = []
            for fingerprint, workers in list(self._idle.items()):
                keep = [
                    w
                    for w in workers
                    if w.alive and now - w.last_used < self._idle_timeout
                ]
                doomed += [w for w in workers if w not in keep]
                if keep:
                    self._idle[fingerprint] = keep
                else:
                    del self._idle[fingerprint]
        for worker in doomed:
            worker.stop()
        if doomed:
            logger.info("stopped %d idle workers", len(doomed))
        return len(doomed)

    def worker_count(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._idle.values()) + len(self._busy)

    def start(self) -> None:
        self._stopping.clear()
        self._reaper = threading.Thread(
            target=self._reap_loop, name="lambda-reaper", daemon=True
        )
        self._reaper.start()

    def _reap_loop(self) -> None:
        interval = max(min(self._idle_timeout / 4, 10.0), 0.05)
        while not self._stopping.wait(interval):
            try:
                self.reap_idle()
            except Exception:
                logger.exception("reaping idle workers failed")

    def stop_all(self) -> None:
        """Stops every worker, idle or busy (shutdown, reset)."""
        with self._lock:
            doomed = [w for workers in self._idle.values() for w in workers]
            doomed += list(self._busy)
            self._idle.clear()
            self._current.clear()
        for worker in doomed:
            worker.stop()

    def stop(self) -> None:
        self._stopping.set()
        self.stop_all()
