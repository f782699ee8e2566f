"""The stack's command line; the Makefile's lifecycle targets call it.

python -m deploy up       build, start and deploy (make deploy-local)
python -m deploy status   each component's health and the reading count
python -m deploy logs     follow the logs (all, a component or a function)
python -m deploy watch    redeploy functions/ changes to the running stack
python -m deploy down     stop everything, keep the data
python -m deploy clean    stop everything and delete the state folder
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from collections.abc import Sequence

from deploy.config import StackConfig
from deploy.errors import DeployError


def _log(message: str) -> None:
    print(f"==> {message}" if not message.startswith("  ") else message, flush=True)


def print_table(rows: Sequence[tuple[str, str]], title: str = "") -> None:
    width = max(len(name) for name, _ in rows)
    if title:
        print(f"\n{title}")
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy",
        description="Run OrchestraLink's stack on this machine. Settings come from "
        "environment variables (which `make VAR=value` sets): ORCHESTRALINK_STATE "
        "(state folder, default .state), EDGE_PORT (4566), MQTT_PORT (1883), "
        "MQTT_WS_PORT (9001), MACHINES (10), TARGET (local), DASHBOARD (1; 0 deploys "
        "the backend alone).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("up", help="build, start and deploy the whole stack")
    commands.add_parser("status", help="each component's health and the reading count")
    logs = commands.add_parser(
        "logs", help="follow logs: all, a component or a function"
    )
    logs.add_argument(
        "component",
        nargs="?",
        help="mosquitto, localcloud, simulator, or a function (ingest, api, migrate, "
        "or its full name); all components when omitted",
    )
    logs.add_argument("--no-follow", action="store_true", help="print and exit")
    commands.add_parser("watch", help="redeploy changes under functions/ within 2 s")
    commands.add_parser("down", help="stop everything; data is kept")
    commands.add_parser("clean", help="stop everything and delete the state folder")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(message)s", stream=sys.stdout, force=True
    )
    for noisy in ("botocore", "boto3", "urllib3", "watchfiles"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        config = StackConfig()
        return _run(args, config)
    except DeployError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace, config: StackConfig) -> int:
    from deploy import lifecycle, local
    from deploy.supervisor import Supervisor

    if args.command == "up":
        if config.target == "aws":
            raise DeployError(
                "TARGET=aws is deployed differently: see README.md "
                "(sam build && sam deploy --guided)"
            )
        if config.target == "localstack":
            from deploy import localstack

            endpoints = localstack.deploy(config, _log)
        else:
            endpoints = local.deploy(config, _log)
        print_table(endpoints.rows(), "OrchestraLink is running:")
        print_table(lifecycle.COMMANDS, "Commands:")
        return 0
    if args.command == "status":
        rows, healthy = lifecycle.status(config)
        print_table(rows, f"OrchestraLink ({config.state_dir}):")
        return 0 if healthy else 3
    if args.command == "logs":
        return lifecycle.logs(config, args.component, follow=not args.no_follow)
    if args.command == "watch":
        return lifecycle.watch(config, _log)
    if args.command in ("down", "clean"):
        _log("stopping the stack")
        Supervisor(config).shutdown()
        if args.command == "clean" and config.state_dir.exists():
            _log(f"deleting {config.state_dir}")
            shutil.rmtree(config.state_dir)
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
