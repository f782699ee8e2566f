"""`localcloud start | stop | status`: the local cloud's command line.

`start` runs in the foreground until Ctrl-C or SIGTERM, or with `--detach`
starts itself in the background, writing its log to `<state>/localcloud.log`.
Either way it writes `<state>/localcloud.pid` (JSON: pid, endpoint) so that
`stop` and `status` find it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from localcloud import __version__
from localcloud.config import CloudConfig
from localcloud.errors import LocalCloudError

PID_FILE = "localcloud.pid"
LOG_FILE = "localcloud.log"
EXIT_NOT_RUNNING = 3  # what LSB init scripts return for "not running"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="localcloud",
        description=(
            "A Docker-free local AWS cloud: moto answers the AWS APIs on one edge "
            "port, and Lambda functions, API Gateway, S3 websites, IoT rules, SQS "
            "triggers and RDS PostgreSQL really run. Every option can also be set "
            "with a LOCALCLOUD_<OPTION> environment variable (e.g. LOCALCLOUD_PORT)."
        ),
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    start = commands.add_parser(
        "start", help="start the local cloud", description="Start the local cloud."
    )
    _add_state_dir(start)
    start.add_argument(
        "--host", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)"
    )
    start.add_argument(
        "--port", type=int, help="edge port for every AWS API and route (default 4566)"
    )
    start.add_argument("--region", help="default AWS region (default us-east-1)")
    start.add_argument(
        "--detach",
        action="store_true",
        help="run in the background; the log goes to <state-dir>/localcloud.log",
    )
    start.add_argument(
        "--max-concurrency",
        type=int,
        help="cap on concurrent Lambda executions across functions (default 50)",
    )
    start.add_argument(
        "--idle-worker-timeout",
        type=float,
        help="seconds an idle Lambda worker stays warm before it is stopped "
        "(default 300)",
    )
    start.add_argument("--mqtt-host", help="MQTT broker for IoT rules (127.0.0.1)")
    start.add_argument("--mqtt-port", type=int, help="MQTT broker port (1883)")
    start.add_argument("--mqtt-username", help="MQTT user name (none by default)")
    start.add_argument(
        "--mqtt-password", help="MQTT password (prefer LOCALCLOUD_MQTT_PASSWORD)"
    )
    start.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level (default INFO: one line per request)",
    )
    start.add_argument(
        "--disable",
        dest="disabled_features",
        help="comma-separated features not to start: apigateway, s3website, "
        "cloudformation, iot, sqs, rds (default: none)",
    )
    start.add_argument(
        "--wait",
        type=float,
        default=60.0,
        help="with --detach, seconds to wait until healthy (default 60)",
    )

    stop = commands.add_parser(
        "stop",
        help="stop a running local cloud",
        description="Stop the local cloud whose pid file is in the state folder: "
        "SIGTERM, then SIGKILL after --timeout seconds.",
    )
    _add_state_dir(stop)
    stop.add_argument(
        "--timeout",
        type=float,
        default=15.0,
        help="seconds to wait for a graceful stop before killing (default 15)",
    )

    status = commands.add_parser(
        "status",
        help="report whether the local cloud runs, and its health",
        description="Report the local cloud's health. Exits 0 when it is running "
        "and healthy, 3 when it is not running.",
    )
    _add_state_dir(status)
    return parser


def _add_state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="folder for state, logs and the pid file "
        "(default .state/localcloud, or LOCALCLOUD_STATE_DIR)",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "start":
            return _start(args)
        config = CloudConfig.from_env(state_dir=args.state_dir)
        if args.command == "stop":
            return _stop(config.state_dir, args.timeout)
        return _status(config.state_dir)
    except LocalCloudError as error:
        print(f"localcloud: {error}", file=sys.stderr)
        return 2


def _config(args: argparse.Namespace) -> CloudConfig:
    return CloudConfig.from_env(
        host=args.host,
        port=args.port,
        state_dir=args.state_dir,
        region=args.region,
        max_concurrency=args.max_concurrency,
        idle_worker_timeout=args.idle_worker_timeout,
        mqtt_host=args.mqtt_host,
        mqtt_port=args.mqtt_port,
        mqtt_username=args.mqtt_username,
        mqtt_password=args.mqtt_password,
        log_level=args.log_level,
        disabled_features=args.disabled_features,
    )


def _start(args: argparse.Namespace) -> int:
    config = _config(args)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    running = _read_pid_file(config.state_dir)
    if running and _alive(int(running["pid"])):
        print(
            f"localcloud: already running (pid {running['pid']}, "
            f"{running['endpoint_url']}); stop it first or use another --state-dir",
            file=sys.stderr,
        )
        return 1
    if args.detach:
        return _start_detached(args, config)
    return _serve(config)


def _serve(config: CloudConfig) -> int:
    from localcloud.cloud import LocalCloud

    logging.basicConfig(
        level=config.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    cloud = LocalCloud(config)
    stopping = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    pid_file = config.state_dir / PID_FILE
    cloud.start()
    pid_file.write_text(
        json.dumps({"pid": os.getpid(), "endpoint_url": cloud.endpoint_url})
    )
    try:
        while not stopping.wait(1.0):
            pass
    finally:
        cloud.stop()
        pid_file.unlink(missing_ok=True)
    return 0


def _start_detached(args: argparse.Namespace, config: CloudConfig) -> int:
    command = [sys.executable, "-m", "localcloud", "start"]
    command += ["--state-dir", str(config.state_dir.resolve())]
    command += ["--host", config.host, "--port", str(config.port)]
    command += ["--region", config.region, "--log-level", config.log_level]
    command += ["--max-concurrency", str(config.max_concurrency)]
    command += ["--idle-worker-timeout", str(config.idle_worker_timeout)]
    command += ["--mqtt-host", config.mqtt_host, "--mqtt-port", str(config.mqtt_port)]
    if config.disabled_features:
        command += ["--disable", config.disabled_features]
    if config.mqtt_username:
        command += ["--mqtt-username", config.mqtt_username]
    env = dict(os.environ)
    if config.mqtt_password:  # kept off the command line, where ps shows it
        env["LOCALCLOUD_MQTT_PASSWORD"] = config.mqtt_password
    log_path = config.state_dir / LOG_FILE
    (config.state_dir / PID_FILE).unlink(missing_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            print(
                f"localcloud: exited with status {process.returncode} while "
                f"starting; see {log_path}",
                file=sys.stderr,
            )
            return 1
        info = _read_pid_file(config.state_dir)
        if info and _health(str(info["endpoint_url"])) is not None:
            print(f"localcloud running at {info['endpoint_url']} (pid {process.pid})")
            print(f"log: {log_path}")
            return 0
        time.sleep(0.1)
    print(
        f"localcloud: not healthy after {args.wait:.0f} s; see {log_path}",
        file=sys.stderr,
    )
    return 1


def _stop(state_dir: Path, timeout: float) -> int:
    info = _read_pid_file(state_dir)
    if not info or not _alive(int(info["pid"])):
        print(f"localcloud is not running (no live pid file in {state_dir})")
        (state_dir / PID_FILE).unlink(missing_ok=True)
        return 0
    pid = int(info["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            print(f"localcloud stopped (pid {pid})")
            return 0
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    (state_dir / PID_FILE).unlink(missing_ok=True)
    print(f"localcloud killed (pid {pid}) after {timeout:.0f} s without stopping")
    return 0


def _status(state_dir: Path) -> int:
    info = _read_pid_file(state_dir)
    if not info or not _alive(int(info["pid"])):
        print(f"localcloud is not running (no live pid file in {state_dir})")
        return EXIT_NOT_RUNNING
    health = _health(str(info["endpoint_url"]))
    if health is None:
        print(
            f"localcloud pid {info['pid']} runs but does not answer at "
            f"{info['endpoint_url']}"
        )
        return 1
    print(
        f"localcloud {health.get('version')} running at {info['endpoint_url']} "
        f"(pid {info['pid']})"
    )
    services = health.get("services", {})
    active = {name: state for name, state in services.items() if state != "available"}
    for name, state in sorted(active.items()):
        print(f"  {name}: {state}")
    others = len(services) - len(active)
    print(f"  ({others} more services answered by moto: available)")
    return 0


def _read_pid_file(state_dir: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((state_dir / PID_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if "pid" in data and "endpoint_url" in data else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (our own detached child not yet reaped) is not alive
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _health(endpoint_url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(  # noqa: S310 - our own http endpoint
            f"{endpoint_url}/_localstack/health", timeout=2
        ) as response:
            document: dict[str, Any] = json.loads(response.read())
            return document
    except (urllib.error.URLError, OSError, ValueError):
        return None


if __name__ == "__main__":
    sys.exit(main())
