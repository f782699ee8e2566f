"""What runs after the deploy: status, logs and hot reload of functions."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deploy import services
from deploy.build import Builder, load_template
from deploy.config import StackConfig
from deploy.errors import DeployError
from deploy.supervisor import Supervisor

COMMANDS = [
    ("make status", "each component's health and the reading count"),
    ("make logs [C=name]", "follow all logs, one component, or a function"),
    ("make watch", "redeploy changes under functions/ within 2 s"),
    ("make down", "stop everything, keep the data"),
    ("make clean", "stop everything and delete the state folder"),
]
_COMPONENTS = ("mosquitto", "localcloud", "simulator")
_FUNCTION_OUTPUTS = {
    "ingest": "IngestFunctionName",
    "api": "ApiFunctionName",
    "migrate": "MigrateFunctionName",
}


def _outputs(config: StackConfig) -> dict[str, str]:
    from deploy.local import aws_client
    from deploy.stack import stack_outputs

    try:
        return stack_outputs(aws_client(config, "cloudformation"), config.stack_name)
    except Exception:
        return {}


def reading_count(config: StackConfig, outputs: dict[str, str]) -> str:
    secret_arn = outputs.get("DatabaseSecretArn")
    if not secret_arn:
        return "unknown (stack not deployed)"
    import psycopg

    from deploy.local import aws_client
    from orchestralink.db import DatabaseSettings

    try:
        secret = aws_client(config, "secretsmanager").get_secret_value(
            SecretId=secret_arn
        )
        settings = DatabaseSettings.from_secret_json(json.loads(secret["SecretString"]))
        with psycopg.connect(settings.conninfo(), connect_timeout=3) as conn:
            row = conn.execute("SELECT count(*) FROM readings").fetchone()
        return f"{row[0]:,}" if row else "0"
    except Exception as error:
        return f"unavailable ({str(error).splitlines()[0][:80]})"


def status(config: StackConfig) -> tuple[list[tuple[str, str]], bool]:
    supervisor = Supervisor(config)
    if not supervisor.running():
        return [("stack", "not running (make deploy-local starts it)")], False
    rows = []
    healthy = True
    for info in supervisor.programs():
        state = info["statename"]
        if state != "RUNNING":
            healthy = False
        rows.append((info["name"], f"{state.lower()} {info.get('description', '')}"))
    health = services.localcloud_health(config)
    if health is None:
        healthy = False
        rows.append(("local cloud services", "not answering"))
    else:
        running = [name for name, state in health.get("services", {}).items()
                   if state in ("running", "available")]  # fmt: skip
        rows.append(("local cloud services", ", ".join(sorted(running))))
    outputs = _outputs(config)
    rows.append(("readings stored", reading_count(config, outputs)))
    return rows, healthy


def logs(config: StackConfig, component: str | None, follow: bool) -> int:
    if component is None or component in _COMPONENTS:
        names = [component] if component else list(_COMPONENTS)
        files = [config.logs_dir / f"{name}.log" for name in names]
        files = [f for f in files if f.exists()]
        if not files:
            raise DeployError(
                f"no logs yet in {config.logs_dir}: is the stack deployed?"
            )
        command = ["tail", "-n", "50", *(["-F"] if follow else []), *map(str, files)]
        return subprocess.call(command)
    function = _function_name(config, component)
    return _tail_function(config, function, follow)


def _function_name(config: StackConfig, component: str) -> str:
    key = _FUNCTION_OUTPUTS.get(component)
    if key is None:
        return component
    name = _outputs(config).get(key)
    if not name:
        raise DeployError(f"no {key} in the stack outputs: is the stack deployed?")
    return name


def _tail_function(config: StackConfig, function: str, follow: bool) -> int:
    from deploy.local import aws_client

    client = aws_client(config, "logs")
    group = f"/aws/lambda/{function}"
    start = int((time.time() - 600) * 1000)
    seen: set[str] = set()
    while True:
        try:
            events = client.filter_log_events(logGroupName=group, startTime=start)
        except client.exceptions.ResourceNotFoundException:
            raise DeployError(
                f"no log group {group}: name a component ({', '.join(_COMPONENTS)}) "
                f"or a function ({', '.join(_FUNCTION_OUTPUTS)})"
            ) from None
        for event in events.get("events", []):
            if event["eventId"] in seen:
                continue
            seen.add(event["eventId"])
            print(event["message"].rstrip("\n"), flush=True)
            start = max(start, int(event["timestamp"]))
        if not follow:
            return 0
        time.sleep(1)


def watch(config: StackConfig, log: Callable[[str], None]) -> int:
    """Push code changes under functions/ straight into the running functions.

    Like LocalStack's hot reload, it skips CloudFormation: the changed
    function's zip is rebuilt and sent with UpdateFunctionCode (a layer change
    publishes a new layer version and points its functions at it).
    """
    from watchfiles import watch as watch_files

    from deploy.local import aws_client

    template = load_template(config.template_path)
    builder = Builder(config.template_path.parent, config.build_dir)
    outputs = _outputs(config)
    if not outputs:
        raise DeployError("the stack is not deployed: run make deploy-local first")
    client = aws_client(config, "lambda")
    functions = _stack_resources(config, "AWS::Lambda::Function")
    layers = _stack_resources(config, "AWS::Lambda::LayerVersion")

    def push_changes() -> None:
        started = time.monotonic()
        for artifact in builder.build(template):
            if not artifact.rebuilt:
                continue
            if artifact.kind == "function":
                name = functions.get(artifact.logical_id)
                if name is None:
                    continue
                client.update_function_code(
                    FunctionName=name, ZipFile=artifact.zip_path.read_bytes()
                )
                log(f"{name} updated in {time.monotonic() - started:.2f} s")
            elif layer_arn := _layer_arn(layers, artifact.logical_id):
                _update_layer(client, layer_arn, artifact.zip_path)
                log(f"layer {artifact.logical_id} updated in "
                    f"{time.monotonic() - started:.2f} s")  # fmt: skip

    watched = config.template_path.parent / "functions"
    watching = False
    # The first (possibly empty) yield comes once the file watcher is running:
    # only then is "watching" true, and edits made before it (since the last
    # deploy, or while the watcher started) are pushed right away.
    for changes in watch_files(
        watched, debounce=100, step=50, rust_timeout=200, yield_on_timeout=True
    ):
        if not watching:
            watching = True
            push_changes()
            log(f"watching {watched} (Ctrl-C to stop)")
        elif changes:
            push_changes()
    return 0


def _stack_resources(config: StackConfig, resource_type: str) -> dict[str, str]:
    """Logical id -> physical id of the deployed stack's resources of a type."""
    from deploy.local import aws_client

    cfn = aws_client(config, "cloudformation")
    resources = cfn.describe_stack_resources(StackName=config.stack_name)
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in resources["StackResources"]
        if r.get("ResourceType") == resource_type
    }


def _layer_arn(layers: dict[str, str], logical_id: str) -> str | None:
    """The deployed version of a template layer: SAM names the layer version
    resource after the layer plus a content hash (SharedLayerb33eabf437)."""
    for deployed_id, arn in layers.items():
        if deployed_id == logical_id or (
            deployed_id.startswith(logical_id)
            and len(deployed_id) == len(logical_id) + 10
        ):
            return arn
    return None


def _update_layer(client: Any, layer_arn: str, zip_path: Path) -> None:
    """Publish the rebuilt layer and move every function using it to it."""
    # A layer version ARN ends in :layer:NAME:VERSION; the layer's name is
    # what stays the same across versions.
    layer_name = layer_arn.split(":layer:")[1].split(":")[0]
    published = client.publish_layer_version(
        LayerName=layer_name, Content={"ZipFile": zip_path.read_bytes()}
    )
    paginator = client.get_paginator("list_functions")
    for page in paginator.paginate():
        for function in page["Functions"]:
            layers = [layer["Arn"] for layer in function.get("Layers", [])]
            if not any(f":layer:{layer_name}:" in arn for arn in layers):
                continue
            client.update_function_configuration(
                FunctionName=function["FunctionName"],
                Layers=[
                    published["LayerVersionArn"]
                    if f":layer:{layer_name}:" in arn
                    else arn
                    for arn in layers
                ],
            )
