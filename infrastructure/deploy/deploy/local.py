"""`make deploy-local`: from a fresh clone to the running stack.

Services start under supervisord, the template is built and deployed into
the local cloud through CloudFormation, the database is migrated, the
dashboard uploaded and the simulator started; the command returns once the
first readings can be queried through the API, and prints where things are.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from deploy import credentials, frontend, services
from deploy.build import Builder, load_template
from deploy.config import StackConfig
from deploy.errors import DeployError
from deploy.ports import check_ports_free
from deploy.stack import (
    deploy_stack,
    point_at_artifacts,
    stack_outputs,
    upload_artifacts,
)
from deploy.supervisor import Supervisor

Log = Callable[[str], None]


def aws_client(config: StackConfig, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 (the local cloud takes any key)
        config=Config(retries={"max_attempts": 2}, read_timeout=120),
    )


def path_style(url: str, endpoint_url: str) -> str:
    """The same API as a URL on the edge itself, for clients that cannot resolve
    `{api}.execute-api.localhost` (browsers and curl do; Python's resolver does
    not), using LocalStack's `/_aws/execute-api/{api}/{stage}/` form."""
    parsed = urllib.parse.urlparse(url)
    host = parsed.hostname or ""
    if not host.endswith(".execute-api.localhost"):
        return url
    api_id = host.split(".", 1)[0]
    return f"{endpoint_url}/_aws/execute-api/{api_id}{parsed.path}"


@dataclass
class Endpoints:
    dashboard_url: str
    api_url: str
    api_url_path_style: str
    mqtt_url: str
    mqtt_ws_url: str
    database: str
    endpoint_url: str

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("Dashboard", self.dashboard_url),
            ("API", self.api_url),
            ("API (any HTTP client)", self.api_url_path_style),
            ("OpenAPI", self.api_url.rstrip("/") + "/openapi.json"),
            ("MQTT (TCP)", self.mqtt_url),
            ("MQTT (WebSockets)", self.mqtt_ws_url),
            ("Database", self.database),
            ("AWS endpoint", self.endpoint_url),
        ]


def start_services(config: StackConfig, log: Log) -> dict[str, str]:
    """Mosquitto and the local cloud under supervisord; returns broker passwords."""
    supervisor = Supervisor(config)
    already = supervisor.running()
    if not already:
        check_ports_free(
            config.bind,
            {
                "EDGE_PORT": config.edge_port,
                "MQTT_PORT": config.mqtt_port,
                "MQTT_WS_PORT": config.mqtt_ws_port,
            },
        )
    passwords = credentials.load_or_create(config.credentials_path)
    services.prepare_mosquitto(config, passwords)
    log("starting Mosquitto and the local cloud (supervisord)")
    supervisor.start(services.programs(config, passwords))
    services.wait_for_program(
        supervisor,
        config,
        "mosquitto",
        lambda: services.port_open(config.bind, config.mqtt_port),
    )
    services.wait_for_program(
        supervisor,
        config,
        "localcloud",
        lambda: services.localcloud_health(config) is not None,
    )
    return passwords


def deploy(config: StackConfig, log: Log) -> Endpoints:
    started = time.monotonic()
    config.state_dir.mkdir(parents=True, exist_ok=True)
    template = load_template(config.template_path)
    frontend_dir = config.repo_dir / "frontend"
    with_dashboard = config.dashboard and (frontend_dir / "package.json").exists()
    if with_dashboard:
        frontend.find_npm()  # fail fast on a missing Node before anything starts

    passwords = start_services(config, log)

    log("building functions and layer")
    artifacts = Builder(config.template_path.parent, config.build_dir).build(template)
    for artifact in artifacts:
        state = "built" if artifact.rebuilt else "unchanged"
        log(f"  {artifact.logical_id}: {state}")
    dist = (
        frontend.build_dashboard(frontend_dir, config.build_dir, log)
        if with_dashboard
        else None
    )

    log("deploying template.yaml (CloudFormation)")
    s3 = aws_client(config, "s3")
    cfn = aws_client(config, "cloudformation")
    locations = upload_artifacts(
        s3, f"{config.stack_name}-artifacts", artifacts, config.region
    )
    packaged = point_at_artifacts(template, locations)
    website_origin = (
        f"http://{config.stack_name}-dashboard.s3-website.localhost:{config.edge_port}"
    )
    deploy_stack(
        cfn,
        config.stack_name,
        packaged,
        _parameters(config, template, website_origin),
        progress=lambda line: log(f"  {line}"),
    )
    outputs = stack_outputs(cfn, config.stack_name)

    log("migrating the database")
    _migrate(config, outputs)

    endpoints = _endpoints(config, outputs)
    if dist is not None:
        bucket = outputs["DashboardBucketName"]
        count = frontend.upload_dashboard(
            s3, bucket, dist, _dashboard_config(config, endpoints, passwords)
        )
        log(f"uploaded the dashboard ({count} files) to s3://{bucket}")

    (config.state_dir / "endpoints.json").write_text(
        json.dumps(dataclasses.asdict(endpoints), indent=2)
    )

    log(f"starting the simulator ({config.machines} machines)")
    Supervisor(config).start_program("simulator")
    _wait_for_readings(endpoints.api_url_path_style, log)
    log(f"ready in {time.monotonic() - started:.1f} s")
    return endpoints


def _parameters(
    config: StackConfig, template: dict[str, Any], origin: str
) -> dict[str, str]:
    wanted = {
        "Stage": "dev",
        "DashboardOrigin": origin,
        "DashboardBucketName": f"{config.stack_name}-dashboard",
        # Locally, a failed record is retried after seconds, not minutes.
        "TelemetryVisibilityTimeout": "30",
        # No X-Ray here; PassThrough also turns the Powertools Tracer off.
        "Tracing": "PassThrough",
    }
    declared = template.get("Parameters", {})
    chosen = {key: value for key, value in wanted.items() if key in declared}
    chosen.update(_parameter_overrides(declared))
    return chosen


def _parameter_overrides(declared: dict[str, Any]) -> dict[str, str]:
    """STACK_PARAMETERS="Key=Value,Key=Value": template parameters to set, for
    tuning runs such as the benchmarks (IngestBatchSize=500, ...)."""
    raw = os.environ.get("STACK_PARAMETERS", "")
    overrides = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key not in declared:
            raise DeployError(
                f"STACK_PARAMETERS item {item!r} is not Key=Value with a parameter "
                f"of the template ({', '.join(sorted(declared))})"
            )
        overrides[key] = value
    return overrides


def _migrate(config: StackConfig, outputs: dict[str, str]) -> None:
    name = outputs.get("MigrateFunctionName")
    if not name:
        raise DeployError("the stack has no MigrateFunctionName output")
    client = aws_client(config, "lambda")
    deadline = time.monotonic() + 120
    while True:
        response = client.invoke(FunctionName=name, LogType="Tail")
        payload = response["Payload"].read().decode()
        if not response.get("FunctionError"):
            return
        # The DB instance may still be starting right after the stack is up.
        if time.monotonic() > deadline:
            raise DeployError(
                f"the database migration failed: {payload[:2000]}\n"
                f"See `make logs C={name}`."
            )
        time.sleep(2)


def _endpoints(config: StackConfig, outputs: dict[str, str]) -> Endpoints:
    host = config.bind
    db = outputs.get("DatabaseEndpoint", "")
    port = outputs.get("DatabasePort", "")
    return Endpoints(
        dashboard_url=outputs.get("DashboardUrl", ""),
        api_url=outputs.get("ApiUrl", ""),
        api_url_path_style=path_style(outputs.get("ApiUrl", ""), config.endpoint_url),
        mqtt_url=f"mqtt://{host}:{config.mqtt_port}",
        mqtt_ws_url=f"ws://{host}:{config.mqtt_ws_port}",
        database=f"postgresql://{db}:{port}" if db else "",
        endpoint_url=config.endpoint_url,
    )


def _dashboard_config(
    config: StackConfig, endpoints: Endpoints, passwords: dict[str, str]
) -> dict[str, Any]:
    return {
        "apiUrl": endpoints.api_url,
        "mqttUrl": endpoints.mqtt_ws_url,
        "mqttUsername": "dashboard",
        "mqttPassword": passwords["dashboard"],
        "target": config.target,
    }


def _wait_for_readings(api_url: str, log: Log, timeout: float = 90) -> None:
    log("waiting for the first readings to be queryable through the API")
    deadline = time.monotonic() + timeout
    url = api_url.rstrip("/") + "/machines"
    last_error = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
                body = json.loads(response.read())
            machines = body.get("machines", body) if isinstance(body, dict) else body
            if machines:
                log(f"  {len(machines)} machines reporting")
                return
        except (OSError, urllib.error.URLError, ValueError) as error:
            last_error = str(error)
        time.sleep(1)
    raise DeployError(
        f"no readings reached the API within {timeout:.0f} s ({last_error}); "
        "check `make logs C=simulator` and `make logs C=localcloud`"
    )
