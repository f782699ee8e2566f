"""One Lambda worker: a process running awslambdaric for one function version.

The worker owns its Runtime API listener, its process and the capture of the
process's output. It runs one invocation at a time, like an AWS execution
environment. Output is attributed to the invocation in progress: the runtime
client writes (unbuffered) to the pipe before it posts the result, so draining
the pipe when the result arrives catches every line; output between
invocations (module-level prints during init) goes to the next invocation's log.

Where it stops: no memory limit, no /tmp of its own, no network isolation,
no VPC; the process sees the host's file system (documented differences).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import select
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from localcloud.awslambda.functions import FunctionSpec
from localcloud.awslambda.runtime_api import Invocation, RuntimeApi
from localcloud.awslambda.runtimes import Interpreter
from localcloud.edge.server import EdgeServerThread

logger = logging.getLogger(__name__)

BOOTSTRAP = str(Path(__file__).with_name("bootstrap.py"))
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_SESSION_TOKEN": "test",
}


class Worker:
    def __init__(
        self,
        spec: FunctionSpec,
        interpreter: Interpreter,
        task_root: Path,
        layer_dirs: list[Path],
        endpoint_url: str,
    ) -> None:
        self.spec = spec
        self.interpreter = interpreter
        self.task_root = task_root
        self.layer_dirs = layer_dirs
        self.endpoint_url = endpoint_url
        self.id = uuid.uuid4().hex
        today = datetime.now(UTC)
        self.stream_name = f"{today:%Y/%m/%d}/[{spec.version}]{self.id}"
        self.alive = False
        self.retired = False
        self.last_used = time.monotonic()
        self.invocations = 0
        self.init_started = 0.0
        self.init_duration_ms: float | None = None
        self.init_reported = False
        self.exit_description = ""
        self._inbox: queue.SimpleQueue[Invocation | None] = queue.SimpleQueue()
        self._current: Invocation | None = None
        self._queued: Invocation | None = None
        self._init_error: tuple[bytes, str] | None = None
        self._pending_output: list[tuple[int, str]] = []
        self._partial = b""
        self._lock = threading.Lock()
        self._server = EdgeServerThread("127.0.0.1", 0, RuntimeApi(self).handle)
        self._process: subprocess.Popen[bytes] | None = None
        self._memory_mb = 0
        self._memory_read_at = 0.0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    # --- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        self._server.start()
        self.init_started = time.monotonic()
        self._process = subprocess.Popen(
            [self.interpreter.executable, BOOTSTRAP, self.spec.handler],
            cwd=self.task_root,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert self._process.stdout is not None
        os.set_blocking(self._process.stdout.fileno(), False)
        self.alive = True
        name = f"lambda-{self.spec.name}-{self._process.pid}"
        threading.Thread(
            target=self._read_output, name=f"{name}-out", daemon=True
        ).start()
        threading.Thread(target=self._monitor, name=f"{name}-exit", daemon=True).start()
        logger.debug(
            "worker %s started for %s", self._process.pid, self.spec.qualified_arn
        )

    def stop(self) -> None:
        """Kills the process; the monitor fails whatever was in progress."""
        self.retired = True
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
        if self._process is None:
            self._server.stop()

    def environment(self) -> dict[str, str]:
        spec = self.spec
        version = self.interpreter.version
        python_paths = [str(self.task_root)]
        library_paths = []
        for layer in reversed(self.layer_dirs):  # later layers override earlier
            python_paths += [
                str(layer / "python"),
                str(layer / "python" / "lib" / f"python{version}" / "site-packages"),
            ]
            library_paths.append(str(layer / "lib"))
        interpreter_dir = str(Path(self.interpreter.executable).parent)
        env = {"AWS_ENDPOINT_URL": self.endpoint_url}
        env.update(spec.environment)
        env.update(
            {
                "PATH": f"{interpreter_dir}:/usr/local/bin:/usr/bin:/bin",
                "LANG": "en_US.UTF-8",
                "TZ": ":UTC",
                "PYTHONPATH": os.pathsep.join(python_paths),
                "LD_LIBRARY_PATH": os.pathsep.join(library_paths),
                "LAMBDA_TASK_ROOT": str(self.task_root),
                "LAMBDA_RUNTIME_DIR": str(Path(BOOTSTRAP).parent),
                "_HANDLER": spec.handler,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
                "AWS_LAMBDA_LOG_STREAM_NAME": self.stream_name,
                "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self._server.port}",
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "_LOCALCLOUD_PARENT_PID": str(os.getpid()),
                **DUMMY_CREDENTIALS,
            }
        )
        if spec.log_format == "JSON":
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        return env

    # --- the caller's side ----------------------------------------------------

    def submit(self, invocation: Invocation) -> None:
        """Hands an invocation to this (idle) worker."""
        with self._lock:
            if not self.alive:
                self._fail(invocation)
                return
            self._queued = invocation
            self.invocations += 1
        self._inbox.put(invocation)

    def kill_for_timeout(self, invocation: Invocation) -> None:
        with self._lock:
            self._drain_locked(invocation)
            self._flush_partial(invocation)
        message = (
            f"RequestId: {invocation.request_id} Error: Task timed out after "
            f"{invocation.timeout:.2f} seconds"
        )
        body = json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message})
        if invocation.complete("timeout", body.encode(), "Sandbox.Timedout"):
            self.exit_description = "timeout"
        self.stop()

    def max_memory_mb(self) -> int:
        """Peak resident memory (VmHWM), read at most once a second: reading
        /proc/<pid>/status costs more than a warm invocation."""
        now = time.monotonic()
        if now - self._memory_read_at < 1.0:
            return self._memory_mb
        self._memory_read_at = now
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return self._memory_mb
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                self._memory_mb = int(line.split()[1]) // 1024
        return self._memory_mb

    # --- the Runtime API's side (WorkerSide) -----------------------------------

    def next_invocation(self) -> Invocation | None:
        if self.init_duration_ms is None:
            self.init_duration_ms = (time.monotonic() - self.init_started) * 1000
        invocation = self._inbox.get()
        if invocation is None:
            return None
        with self._lock:
            self._queued = None
            self._current = invocation
            invocation.started = time.monotonic()
            invocation.output[:0] = self._pending_output
            self._pending_output = []
        invocation.picked.set()
        return invocation

    def invocation_finished(
        self, request_id: str, outcome: str, body: bytes, error_type: str | None
    ) -> bool:
        with self._lock:
            invocation = self._current
            if invocation is None or invocation.request_id != request_id:
                return False
            self._drain_locked(invocation)
            self._flush_partial(invocation)
            self._current = None
        invocation.complete(outcome, body, error_type)
        return True

    def init_failed(self, body: bytes, error_type: str | None) -> None:
        self._init_error = (body, error_type or "Runtime.Unknown")

    # --- threads --------------------------------------------------------------

    def _read_output(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        stream = self._process.stdout
        try:
            while True:
                select.select([stream], [], [])
                with self._lock:
                    if self._drain_locked(self._current):
                        return
        except (OSError, ValueError):
            return
        finally:
            stream.close()

    def _drain_locked(self, target: Invocation | None) -> bool:
        """Reads what the pipe holds; True at end of file."""
        assert self._process is not None
        assert self._process.stdout is not None
        try:
            fd = self._process.stdout.fileno()
        except ValueError:
            return True
        eof = False
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                eof = True
                break
            if not chunk:
                eof = True
                break
            self._partial += chunk
        if b"\n" in self._partial:
            *lines, self._partial = self._partial.split(b"\n")
            stamp = time.time_ns() // 1_000_000
            sink = target.output if target is not None else self._pending_output
            sink.extend((stamp, line.decode("utf-8", "replace")) for line in lines)
        return eof

    def _flush_partial(self, target: Invocation) -> None:
        if self._partial:
            stamp = time.time_ns() // 1_000_000
            target.output.append((stamp, self._partial.decode("utf-8", "replace")))
            self._partial = b""

    def _monitor(self) -> None:
        assert self._process is not None
        code = self._process.wait()
        with self._lock:
            self.alive = False
            victims = [inv for inv in (self._current, self._queued) if inv is not None]
            for invocation in victims:
                self._drain_locked(invocation)
                self._flush_partial(invocation)
            self._current = self._queued = None
        if not self.exit_description:
            self.exit_description = (
                f"signal: {_signal_name(-code)}" if code < 0 else f"exit status {code}"
            )
        for invocation in victims:
            self._fail(invocation)
        self._inbox.put(None)
        self._server.stop()
        if not self.retired:
            logger.warning(
                "worker %s of %s exited (%s)",
                self.pid,
                self.spec.qualified_arn,
                self.exit_description,
            )

    def _fail(self, invocation: Invocation) -> None:
        """Reports an init error or a crash to an invocation, like AWS does."""
        if self._init_error is not None:
            body, error_type = self._init_error
            invocation.complete("init_error", body, error_type)
            return
        message = (
            f"RequestId: {invocation.request_id} Error: Runtime exited with error: "
            f"{self.exit_description or 'exit status 1'}"
        )
        body_text = json.dumps(
            {"errorType": "Runtime.ExitError", "errorMessage": message}
        )
        invocation.complete("crash", body_text.encode(), "Runtime.ExitError")


def _signal_name(number: int) -> str:
    import signal

    try:
        return {
            "SIGKILL": "killed",
            "SIGTERM": "terminated",
            "SIGSEGV": "segmentation fault",
        }.get(signal.Signals(number).name, signal.Signals(number).name.lower())
    except ValueError:
        return str(number)
